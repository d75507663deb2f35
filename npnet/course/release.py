"""``npnet course release``: a student's tree of one assignment, from the instructor's repository.

The release is a self-contained copy of the repository (the ``npnet`` and ``gradcheck`` packages,
``setup.py``, the assignment's exercise scripts with a notebook of each, its public tests) in which the
solution blocks of the assignment's functions are stubs, and so are those of every assignment of the
course that it does not build on (``Assignment.requires``: those ship filled in, as a course publishes
solutions after their due date). Only source files are copied (no ``__pycache__``, no git metadata),
and the finished tree is scanned: a release in which any line of any stubbed block appears anywhere is
refused.

Each stub's TODO line says what to do: for the assignment's own functions, the gradient check (or the
public test, or the exercise) that really runs the function; for another assignment's, which one.
"""
import functools
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import npnet
from ..errors import FileFormatError, NpnetValueError
from . import manifest, markers

# What a release copies from the repository, besides the assignment's exercises and public tests.
PACKAGES = ("npnet", "gradcheck")
PACKAGE_FILES = ("*.py", "*.json", "embedded/*/*.npz", "embedded/*/PROVENANCE.md")
TOP_FILES = ("setup.py", "pyproject.toml", ".gitignore")
INFO_FILE = "course.json"
COURSE_DIR = "_course"
# A stripped line shorter than this (spaces removed) says too little to leak an answer: "else:", "dx = 0".
MIN_LEAK_CHARS = 10


def course_file(root, rel):
    """A course file (``exercises/...``, ``tests/...``, ``setup.py``) of the installation at ``root``: beside
    the packages in a checkout, in ``npnet/_course/`` in a wheel (which ``setup.py`` builds it into)."""
    inside = Path(root) / "npnet" / COURSE_DIR
    return (inside if inside.is_dir() else Path(root)) / rel


def source_root(fn="npnet course"):
    """The folder holding the instructor's ``npnet`` and ``gradcheck`` packages and the course files:
    a checkout (an editable install), or site-packages for a wheel install."""
    root = Path(npnet.__file__).resolve().parents[1]
    if not course_file(root, "setup.py").is_file() or not course_file(root, "exercises").is_dir():
        raise NpnetValueError(f"{fn}: needs npnet's course files (setup.py and exercises/ beside the npnet package "
                              f"in a checkout, or in npnet/{COURSE_DIR}/ of an installed wheel); found none at {root}")
    return root


def package_files(root):
    """The source files of the packages a release copies, relative to ``root``."""
    for package in PACKAGES:
        for pattern in PACKAGE_FILES:
            for path in sorted((root / package).rglob(pattern)):
                rel = path.relative_to(root)
                if "__pycache__" not in rel.parts and rel.parts[:2] != ("npnet", COURSE_DIR):
                    yield rel


def _normal(line):
    return " ".join(line.split())


def notebook_from_script(text, name):
    """A notebook (nbformat v4, no outputs) from a percent-format script: ``# %%`` starts a code cell,
    ``# %% [markdown]`` a markdown cell whose lines lose their leading ``"# "``."""
    import nbformat
    cells, kind, lines = [], None, []

    def flush():
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif kind == "code" and body.strip():
            cells.append(nbformat.v4.new_code_cell(body))

    for line in text.split("\n"):
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind == "markdown":
            lines.append(re.sub(r"^# ?", "", line))
        elif kind is not None:
            lines.append(line)
    flush()
    if not cells:
        raise FileFormatError(f"notebook_from_script: {name} has no '# %%' cells")
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name.replace('_', '-')}-{i}"
    nbformat.validate(nb)
    return nbformat.writes(nb)


def _student_readme(a):
    todo = "\n".join(f"- `{path}`: " + ", ".join(f"`{f}`" for f in funcs) for path, funcs in a.strip.items())
    exercises = ", ".join(f"`exercises/{e}.py` / `exercises/{e}.ipynb`" for e in a.exercises) or "none"
    shipped = ", ".join(f"`{n}`" for n in sorted(manifest.prerequisites(a))) or "none"
    shortcuts = ", ".join(f"`{f}`" for fs in a.shortcuts.values() for f in fs)
    graded = (f"\nThese library functions are stubs too, because they would compute a graded output for you; "
              f"they ship with the next assignments, and the public tests that need them are skipped: "
              f"{shortcuts}.\n") if shortcuts else ""
    return f"""# {a.title}

Fill in every block marked `# TODO` (between `# BEGIN SOLUTION` and `# END SOLUTION`) in:

{todo}

Each stub raises `NotImplementedError` until you replace it; keep the function signatures. Each TODO
line names the check that runs that function. Blocks of later assignments are stubs too (their TODO
says which assignment); the solutions of the assignments this one builds on ship filled in: {shipped}.
{graded}
    python -m pip install -e .          # once, in a virtual environment
    python -m gradcheck                 # this assignment's gradient checks ('todo' until implemented; --all: every check)
    python -m pytest -q                 # the public tests

Exercises: {exercises} (run the script, or open the notebook).

To hand in: `npnet course collect` writes `submission.zip` with exactly the files above and warns
about any block still unimplemented.
"""


def _code_key(code):
    return code.co_filename, getattr(code, "co_qualname", code.co_name)


@functools.lru_cache(maxsize=None)
def _checks_calling(name):
    """``{(file, qualified function name): [check names]}``: which of assignment ``name``'s gradient checks
    call which of the instructor's functions (traced on a run of each check)."""
    from gradcheck.registry import run_check, select
    calls = {}
    for check in select(manifest.load(name).gradcheck):
        seen = set()

        def profile(frame, event, arg):
            if event == "call":
                seen.add(_code_key(frame.f_code))
        sys.setprofile(profile)
        try:
            run_check(check)
        except Exception:  # a stub (releasing from a release): what ran before it still counts
            pass
        finally:
            sys.setprofile(None)
        for key in seen:
            calls.setdefault(key, []).append(check.name)
    return calls


def check_for(a, root, path, function):
    """The command that really runs ``function`` of ``path`` for a student of ``a``: the shortest-named
    gradient check that calls it, else ``python -m pytest`` on the public tests that name it, else the
    exercise; None if nothing does."""
    where = str((Path(root) / path).resolve())
    checks = [c for (f, q), names in _checks_calling(a.name).items() if q == function and
              str(Path(f).resolve()) == where for c in names]
    if checks:
        return f"python -m gradcheck {min(checks, key=lambda c: (len(c), c))}"
    word = re.compile(r"\b(%s)\(" % "|".join(map(re.escape, _callers(Path(root) / path, function))))
    tests = [t for t in a.public_tests if word.search(course_file(root, f"tests/{t}").read_text(encoding="utf-8"))]
    if tests:
        return "python -m pytest -q " + " ".join(f"tests/{t}" for t in tests)
    exercises = [e for e in a.exercises if word.search(course_file(root, f"exercises/{e}.py").read_text(
        encoding="utf-8"))]
    return f"python exercises/{exercises[0]}.py" if exercises else None


def _callers(path, function):
    """``function``'s own name and the names of the functions of ``path`` that call it (a private helper
    such as ``_guided`` is tested through ``guided_backprop``)."""
    import ast
    name = function.split(".")[-1]
    found = {name}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name != name and any(
                isinstance(c, ast.Call) and getattr(c.func, "id", getattr(c.func, "attr", None)) == name
                for c in ast.walk(node)):
            found.add(node.name)
    return sorted(found)


def stub_hints(a, root, stubs):
    """``{(path, function): the sentence after its stub's TODO}`` for the blocks ``stubs`` of ``a``'s tree."""
    hints = {}
    for path, functions in stubs.items():
        for function in functions:
            if function in a.strip.get(path, ()):
                check = check_for(a, root, path, function)
                hints[path, function] = ("write this block (see the docstring), then check it with "
                                         f"{check}." if check else "write this block (see the docstring).")
            elif manifest.owner(path, function):
                hints[path, function] = (f"part of the assignment {manifest.owner(path, function)!r}, "
                                         f"handed out with it.")
            else:
                hints[path, function] = ("library code that would compute a graded output of this or a later "
                                         "assignment; it ships with the assignments after it.")
    return hints


def strip_tree(a, root, dest, ship=(), strip=()):
    """Copy the repository's packages from ``root`` into ``dest`` with the blocks of
    :func:`~.manifest.stubbed` ``(a, ship, strip)`` stubbed.

    Every file's markers are validated. Returns ``[(block, body lines)]`` of the stubbed blocks.
    """
    wanted = manifest.stubbed(a, ship, strip)
    hints = stub_hints(a, root, wanted)
    stripped = []
    for rel in package_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.suffix == ".npz":  # the embedded offline data
            shutil.copy2(root / rel, target)
            continue
        text = (root / rel).read_text(encoding="utf-8")
        key = rel.as_posix()
        if rel.suffix == ".py" and rel.parts[:2] != ("npnet", "course"):
            if key in wanted:
                text, done = markers.strip(text, key, wanted[key], {f: h for (k, f), h in hints.items() if k == key})
                stripped += done
                missing = wanted[key] - {b.function for b, _ in done}
                if missing:
                    raise NpnetValueError(f"release {a.name}: {key} has no solution block in "
                                          f"{', '.join(sorted(missing))} (check the manifests)")
            else:
                markers.find_blocks(text, key)
        if text == (root / rel).read_text(encoding="utf-8"):
            shutil.copy2(root / rel, target)  # keeps the timestamp: Numba's cache of kernels.py stays valid
        else:
            target.write_text(text, encoding="utf-8")
    absent = sorted(set(wanted) - {p.as_posix() for p in package_files(root)})
    if absent:
        raise NpnetValueError(f"release {a.name}: the manifests strip {', '.join(absent)}, which do not exist")
    return stripped


def public_lines(root, a):
    """Lines a release may contain whatever was stripped: those outside every solution block."""
    seen = set()
    for rel in package_files(root):
        if rel.suffix == ".npz":
            continue
        lines = (root / rel).read_text(encoding="utf-8").split("\n")
        inside = set()
        if rel.suffix == ".py" and rel.parts[:2] != ("npnet", "course"):
            for b in markers.find_blocks("\n".join(lines), rel):
                inside.update(range(b.begin, b.end + 1))
        seen.update(_normal(line) for i, line in enumerate(lines) if i not in inside)
    return seen


def secret_lines(stripped, public):
    """The normalised lines of the stripped blocks that would give something away."""
    secrets = set()
    for _, body in stripped:
        if any(markers.STUB_SIGNATURE in line for line in body):
            continue  # already a stub (a release of a release): nothing to give away
        for line in body:
            n = _normal(line)
            # A compound statement's header ("for n in range(N):", "else:") gives nothing away.
            if len(n.replace(" ", "")) >= MIN_LEAK_CHARS and not n.endswith(":"):
                secrets.add(n)
    # Text the public code already contains (a call spelled like a signature) gives nothing away either.
    return {s for s in secrets if s not in public and not any(s in p for p in public)}


def _text_of(path):
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return "\n".join("".join(c.get("source", "")) for c in nb.get("cells", []))
    return path.read_bytes().decode("utf-8", errors="replace")


def find_leaks(tree, secrets):
    """``[(file, line number, secret)]`` for every secret line found in any file of ``tree``."""
    found = []
    # An .npz (the embedded data) is compressed arrays: no line of source can sit in it.
    for path in sorted(p for p in Path(tree).rglob("*") if p.is_file() and p.suffix != ".npz"):
        for i, line in enumerate(_text_of(path).split("\n"), 1):
            n = _normal(line)
            for s in secrets:
                if s in n:
                    found.append((path.relative_to(tree).as_posix(), i, s))
    return found


def build_release(a, dest, root=None, ship=(), strip=()):
    """Write ``a``'s student tree into the new folder ``dest``; returns the stripped blocks. ``ship`` /
    ``strip``: see :func:`~.manifest.stubbed`."""
    root = Path(root) if root else source_root()
    dest = Path(dest)
    stripped = strip_tree(a, root, dest, ship, strip)
    for name in TOP_FILES:
        if course_file(root, name).is_file():
            shutil.copyfile(course_file(root, name), dest / name)
    (dest / "exercises").mkdir(exist_ok=True)
    for ex in a.exercises:
        script = course_file(root, f"exercises/{ex}.py")
        if not script.is_file():
            raise NpnetValueError(f"release {a.name}: exercise script {script} does not exist")
        # the student gets each inline question with an empty answer cell (markers.strip_answers)
        text = markers.strip_answers(script.read_text(encoding="utf-8"), f"exercises/{script.name}")
        (dest / "exercises" / script.name).write_text(text, encoding="utf-8")
        (dest / "exercises" / f"{ex}.ipynb").write_text(notebook_from_script(text, ex), encoding="utf-8")
    tests = dest / "tests"
    tests.mkdir(exist_ok=True)
    for name in ("conftest.py",) + tuple(a.public_tests):
        if not course_file(root, f"tests/{name}").is_file():
            raise NpnetValueError(f"release {a.name}: public test {course_file(root, 'tests/' + name)} does not exist")
        shutil.copyfile(course_file(root, f"tests/{name}"), tests / name)
    (dest / "README.md").write_text(_student_readme(a), encoding="utf-8")
    own = {f for fs in a.strip.values() for f in fs}
    info = {"assignment": a.name, "title": a.title, "submit": list(a.submit), "gradcheck": list(a.gradcheck),
            "requires": sorted(manifest.prerequisites(a)),
            "later": sorted({b.function for b, _ in stripped} - own)}
    (dest / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    leaks = find_leaks(dest, secret_lines(stripped, public_lines(root, a)))
    if leaks:
        shown = "; ".join(f"{f}:{n}: {s!r}" for f, n, s in leaks[:5])
        raise NpnetValueError(f"release {a.name}: {len(leaks)} line(s) of stripped solutions would ship: {shown}")
    return stripped


def release(a, out, root=None, ship=(), strip=()):
    """Write the release of assignment ``a`` to ``out`` (which must not exist, or be an empty folder).

    The tree is built in a temporary folder beside ``out`` and moved into place only when complete,
    so a failed release leaves nothing behind. Returns the number of stripped blocks.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NpnetValueError(f"npnet course release: --out {out} exists and is not an empty folder; "
                              f"a release never overwrites files")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        stripped = build_release(a, tmp, root, ship, strip)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return len(stripped)
