"""Assignments as data: what a release strips, what a student gets, and what the grader scores.

Each assignment is one small Python file ``npnet/course/assignments/<name>.py`` defining
``ASSIGNMENT = Assignment(...)``. Adding an assignment (a classifier/training assignment...)
means writing one more such file: name the functions whose solution blocks are stripped, the exercise
scripts and public tests the student gets, and the graded :class:`Item`\\ s with their points.

An item is graded by running ``item.run(inputs, out)`` twice on the same inputs: once in a subprocess
whose ``npnet`` is the student's tree, and once in the grader with the instructor's ``npnet``. ``run``
stores each graded output under its part name in ``out`` as soon as it is computed, so a forward that
works still scores when the backward after it raises. Inputs come from ``item.inputs(rng)``, drawn
with the public seed (the one the student's gradient checks use) and with a grading seed the student
never sees; no answer file ships. Every part must match the reference on every input set.
"""
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

from .. import _check
from ..errors import NpnetValueError

# When Gradescope shows a test's result to the student (its documented values).
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")


@dataclass(frozen=True)
class Item:
    """One graded item.

    Attributes:
        name: short identifier, unique in its assignment.
        points: ``{part: points}``; a part is an output of ``run`` (e.g. ``out``, ``dx``, ``dw``).
        inputs: ``inputs(rng) -> {name: array or number}``, float64 arrays, small.
        run: ``run(inputs, out)``: call the student-facing functions, store outputs in ``out``.
        functions: the stripped functions (qualified names, as in ``Assignment.strip``) it exercises,
            so a file that fails to import costs only the items that touch it.
        rtol: largest relative error (``gradcheck.rel_error``) a correct part may show.
        batch: name of the input whose first axis is the batch size N (for the "1/N" diagnoses).
        upstream: ``{part: input name}`` of the upstream gradient each backward part received (for the
            "mask not applied" diagnosis).
        factors: ``factors(inputs) -> {name: value}``, constants a part may be wrongly scaled by
            (e.g. ``{"1/p": 1 / p}`` for dropout), named in the diagnosis.
        visibility: when Gradescope shows the item's result to the student: ``"visible"``,
            ``"after_due_date"``, ``"after_published"`` or ``"hidden"`` (``npnet course gradescope
            --visibility`` overrides it).
    """
    name: str
    points: dict
    inputs: Callable
    run: Callable
    functions: tuple
    rtol: float = 1e-6
    batch: str = None
    upstream: dict = field(default_factory=dict)
    factors: Callable = None
    visibility: str = "visible"

    @property
    def max_score(self):
        return float(sum(self.points.values()))


@dataclass(frozen=True)
class Assignment:
    """One assignment.

    Attributes:
        name: the name used on the command line (``npnet course release layers``).
        title: one line for READMEs and result files.
        strip: ``{file relative to the repository: (function, ...)}``: the functions whose solution
            blocks the release turns into stubs (``Class.method`` for methods). These files are what a
            student submits.
        exercises: exercise scripts (``exercises/<name>.py``) shipped, each also as a notebook.
        public_tests: test files (``tests/<file>``) shipped to the student.
        gradcheck: the ``python -m gradcheck`` families that cover the assignment.
        items: the graded items.
        requires: the assignments this one builds on (their solutions ship filled in with its release,
            as a course publishes solutions after their due date); every other assignment's blocks are
            stubbed in its release.
        shortcuts: ``{file: (function, ...)}``: library functions (outside ``strip``, students do not
            write them) whose filled-in block would compute one of this assignment's graded outputs: a
            fast twin of a naive function, a ``*_from_output`` variant, a compiled kernel. They are
            stubbed like ``strip`` (in this assignment's release and in those of assignments that do not
            build on it), so a submission can neither call nor copy them; later releases ship them.
    """
    name: str
    title: str
    strip: dict
    exercises: tuple = ()
    public_tests: tuple = ()
    gradcheck: tuple = ()
    items: tuple = ()
    requires: tuple = ()
    shortcuts: dict = field(default_factory=dict)

    @property
    def submit(self):
        """The files a student hands in (those with stripped blocks)."""
        return tuple(sorted(self.strip))

    @property
    def max_score(self):
        return sum(item.max_score for item in self.items)

    def file_of(self, function):
        """The file holding stripped function ``function``."""
        for path, functions in self.strip.items():
            if function in functions:
                return path
        raise NpnetValueError(f"Assignment {self.name}: no stripped function named {function!r}")

    def item(self, name):
        for item in self.items:
            if item.name == name:
                return item
        raise NpnetValueError(f"Assignment {self.name}: no item named {name!r}; items: "
                              f"{', '.join(i.name for i in self.items)}")


def names():
    """The names of every assignment manifest in ``npnet/course/assignments/``, in course order
    (``assignments.COURSE`` first, then any other manifest by name)."""
    from . import assignments
    found = {m.name for m in pkgutil.iter_modules(assignments.__path__) if not m.name.startswith("_")}
    ordered = [n for n in assignments.COURSE if n in found]
    return ordered + sorted(found - set(ordered))


def prerequisites(a):
    """Every assignment ``a`` builds on, directly or through another (``requires``, transitively)."""
    seen, todo = set(), list(a.requires)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += load(name).requires
    return seen


def stubbed(a, ship=(), strip=()):
    """``{file: {function, ...}}``: the blocks stubbed in ``a``'s release (and so in the tree the grader
    runs student code in): ``a``'s own, its shortcuts, and those of every assignment that is not one of
    its prerequisites. ``ship`` / ``strip`` name other assignments to ship filled in / stub whatever the
    prerequisites say (``a``'s own blocks are always stubs)."""
    for name in tuple(ship) + tuple(strip):
        if name == a.name or name not in names():
            raise NpnetValueError(f"npnet course: --ship/--strip take another assignment of the course; got "
                                  f"{name!r} (known: {', '.join(n for n in names() if n != a.name)})")
    keep = (prerequisites(a) | set(ship)) - set(strip)
    out = {}
    for other in [a] + [load(n) for n in names() if n != a.name and n not in keep]:
        for group in (other.strip, other.shortcuts):
            for path, functions in group.items():
                out.setdefault(path, set()).update(functions)
    return out


def owner(path, function):
    """The name of the assignment whose students write ``function`` of ``path``, or None."""
    for name in names():
        if function in load(name).strip.get(path, ()):
            return name
    return None


def load(name, fn="npnet course"):
    """The :class:`Assignment` called ``name``, or an error listing the known ones."""
    known = names()
    if name not in known:
        raise NpnetValueError(f"{fn}: unknown assignment {name!r}; known assignments: {', '.join(known)}")
    assignment = importlib.import_module(f"npnet.course.assignments.{name}").ASSIGNMENT
    _validate(assignment)
    return assignment


def _validate(a):
    seen = set()
    for item in a.items:
        if item.name in seen:
            raise NpnetValueError(f"Assignment {a.name}: two items are named {item.name!r}")
        seen.add(item.name)
        for part, pts in item.points.items():
            if not pts > 0:
                raise NpnetValueError(f"Assignment {a.name}: item {item.name} part {part} must be worth > 0 "
                                      f"points; got {pts!r}")
        for f in item.functions:
            a.file_of(f)
        if item.visibility not in VISIBILITIES:
            raise NpnetValueError(f"Assignment {a.name}: item {item.name} visibility must be one of "
                                  f"{', '.join(VISIBILITIES)}; got {item.visibility!r}")
    _check.positive_int("Assignment", "number of items", len(a.items))
    for name in a.requires:
        if name == a.name or name not in names():
            raise NpnetValueError(f"Assignment {a.name}: requires unknown assignment {name!r}; known: "
                                  f"{', '.join(n for n in names() if n != a.name)}")


def layer_pair(forward, backward, args, grads, upstream="dout"):
    """A ``run`` for a CS231n forward/backward pair.

    ``forward(*[inputs[a] for a in args]) -> (out, cache)`` is stored as part ``out``; then
    ``backward(inputs[upstream], cache)`` returns the parts named ``grads`` (a tuple, or one array when
    ``grads`` has one name). Pass functions that look up the student's code at call time, e.g.
    ``lambda *a: layers.affine_forward(*a)``.
    """
    def run(inputs, out):
        out["out"], cache = forward(*[inputs[a] for a in args])
        result = backward(inputs[upstream], cache)
        result = result if len(grads) > 1 else (result,)
        if not isinstance(result, (tuple, list)) or len(result) != len(grads):
            raise TypeError(f"backward must return {len(grads)} value(s) ({', '.join(grads)}); got "
                            f"{type(result).__name__}")
        out.update(zip(grads, result))
    return run
