"""Mutation testing of an assignment's grader: does it catch wrong code?

Every solution block of the assignment's stripped functions is mutated with AST operators, one change
per mutant (:data:`OPERATORS`): arithmetic operator swaps, sign flips, numeric constants +-1, axis and
keepdims changes, dropped statements, comparison flips, negated conditions, swapped arguments and
operands, index and slice shifts, swapped reductions (sum/mean, max/argmax, maximum/minimum).

Each mutant is classified as

- **killed**: some graded part loses points. Mutants are graded in worker processes that swap the
  mutated function's code in and out of the instructor's npnet (so a mutant's grade is independent of
  the others'); a part is wrong exactly when the grader would say so: an exception, an output that is
  not an array, or ``rel_error > item.rtol`` on the public or the grading seed's inputs. Mutants that
  crash or hang a worker are killed as they would be by the grader's time limit. Every mutant that
  this leaves standing is then graded by the real :class:`~npnet.course.grade.Grader` (a submission =
  the instructor's files with the one mutated block), and ``--verify K`` regrades K killed ones too;
- **killed only by the public tests or gradcheck**: not killed by the grader, but a ``python -m
  gradcheck`` family of the assignment or its public tests fail;
- **equivalent**: caught by none of these, and a differential test against the solution over
  ``--configs`` (200) random input sets of every item using the function finds no output differing by
  more than 1e-9 (relative). The input sets are the items' own generators with other seeds, so a
  branch no item reaches looks equivalent: read the list (``--json``), as the README does;
- **surviving**: nothing catches it.

``--gradcheck`` also runs every gradcheck family of the assignment on every non-equivalent mutant
and counts what each family catches.

    python bench/mutants.py layers [--json FILE] [--jobs 2] [--sample 40 --seed 0] [--gradcheck]
"""
import argparse
import ast
import copy
import difflib
import importlib
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import manifest, markers
from .diagnose import rel_error
from .release import source_root

PUBLIC_SEED = 0
GRADING_SEED = 1
EQUIVALENCE_RTOL = 1e-9
MUTANT_SECONDS = 20  # a worker stuck this long on one mutant is killed: the grader's time limit would be hit
# An item whose solution takes longer than this (classifiers' training) is graded last and only when no
# other item has killed the mutant, and it is left out of the differential test: its output is a verdict
# (accuracy above a bar), not a value to compare, and 200 trainings would take hours.
SLOW_ITEM_SECONDS = 2.0

# ------------------------------------------------------------------ operators

BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
               ast.Pow: ast.Mult, ast.MatMult: ast.Mult, ast.Mod: ast.FloorDiv, ast.BitAnd: ast.BitOr,
               ast.BitOr: ast.BitAnd}
NONCOMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Pow, ast.MatMult)
COMPARE_FLIPS = {ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt, ast.LtE), ast.Lt: (ast.LtE, ast.Gt),
                 ast.LtE: (ast.Lt, ast.GtE), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.Is: (ast.IsNot,),
                 ast.IsNot: (ast.Is,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,)}
REDUCTION_SWAPS = {"sum": "mean", "mean": "sum", "max": "argmax", "argmax": "max", "min": "argmin",
                   "argmin": "min", "maximum": "minimum", "minimum": "maximum", "amax": "argmax"}
OPERATORS = ("operator", "operands", "sign", "constant", "axis", "keepdims", "drop", "compare", "condition",
             "arguments", "index", "reduction", "boolop")


def _plus(node, k):
    return ast.BinOp(node, ast.Add() if k > 0 else ast.Sub(), ast.Constant(abs(k)))


def _set(node, **fields):
    for name, value in fields.items():
        setattr(node, name, value)
    return node


def _mutations(node, parent):
    """``[(operator, words, fn)]``: each ``fn(node) -> replacement`` makes one mutant at ``node``."""
    out = []
    add = out.append
    if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in BINOP_SWAPS:
        new = BINOP_SWAPS[type(node.op)]
        add(("operator", f"{type(node.op).__name__} -> {new.__name__}", lambda n, new=new: _set(n, op=new())))
    if isinstance(node, ast.BinOp) and isinstance(node.op, NONCOMMUTATIVE):
        add(("operands", "operands swapped", lambda n: _set(n, left=n.right, right=n.left)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not, ast.Invert)):
        add(("sign", f"{type(node.op).__name__} removed", lambda n: n.operand))
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.Return)) and isinstance(
            node.value, (ast.BinOp, ast.Call, ast.Name, ast.Subscript, ast.Attribute)):
        add(("sign", "value negated", lambda n: _set(n, value=ast.UnaryOp(ast.USub(), n.value))))
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        for k in (1, -1):
            add(("constant", f"{node.value!r} -> {node.value + k!r}", lambda n, k=k: _set(n, value=n.value + k)))
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        add(("keepdims" if isinstance(parent, ast.keyword) and parent.arg == "keepdims" else "constant",
             f"{node.value} -> {not node.value}", lambda n: _set(n, value=not n.value)))
    if isinstance(node, ast.Call):
        for i, kw in enumerate(node.keywords):
            if kw.arg in ("axis", "keepdims"):
                add(("axis" if kw.arg == "axis" else "keepdims", f"{kw.arg}= removed",
                     lambda n, i=i: _set(n, keywords=n.keywords[:i] + n.keywords[i + 1:])))
            if kw.arg == "axis" and isinstance(kw.value, ast.Tuple) and len(kw.value.elts) > 1:
                for j in range(len(kw.value.elts)):
                    add(("axis", f"axis {j} of the tuple dropped",
                         lambda n, i=i, j=j: _set(n.keywords[i].value, elts=n.keywords[i].value.elts[:j]
                                                  + n.keywords[i].value.elts[j + 1:]) and n))
        args = node.args
        for i in range(len(args) - 1):
            if not isinstance(args[i], ast.Starred) and not isinstance(args[i + 1], ast.Starred):
                add(("arguments", f"arguments {i} and {i + 1} swapped",
                     lambda n, i=i: _set(n, args=n.args[:i] + [n.args[i + 1], n.args[i]] + n.args[i + 2:])))
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in REDUCTION_SWAPS:
            new = REDUCTION_SWAPS[name]
            field_ = "attr" if isinstance(func, ast.Attribute) else "id"
            add(("reduction", f"{name} -> {new}", lambda n, new=new, f=field_: _set(n.func, **{f: new}) and n))
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for new in COMPARE_FLIPS.get(type(op), ()):
                add(("compare", f"{type(op).__name__} -> {new.__name__}",
                     lambda n, i=i, new=new: _set(n, ops=n.ops[:i] + [new()] + n.ops[i + 1:])))
    if isinstance(node, (ast.If, ast.IfExp, ast.While)):
        add(("condition", "condition negated", lambda n: _set(n, test=ast.UnaryOp(ast.Not(), n.test))))
    if isinstance(node, ast.BoolOp):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        add(("boolop", f"{type(node.op).__name__} -> {new.__name__}", lambda n, new=new: _set(n, op=new())))
    if isinstance(node, ast.Subscript):
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        for j, e in enumerate(elts):
            if isinstance(e, ast.Slice):
                for bound in ("lower", "upper"):
                    if getattr(e, bound) is not None:
                        add(("index", f"slice {j} {bound} bound + 1",
                             lambda n, j=j, b=bound: _shift_slice(n, j, b) and n))
            elif not isinstance(e, ast.Constant) and not (isinstance(e, ast.Name) and e.id == "None"):
                add(("index", f"index {j} + 1", lambda n, j=j: _shift_index(n, j) and n))
    if isinstance(node, ast.stmt) and not isinstance(node, ast.Pass):
        add(("drop", "statement dropped", lambda n: ast.Pass()))
    return out


def _elts(n):
    return n.slice.elts if isinstance(n.slice, ast.Tuple) else None


def _shift_slice(n, j, bound):
    e = _elts(n)[j] if _elts(n) is not None else n.slice
    setattr(e, bound, _plus(getattr(e, bound), 1))
    return True


def _shift_index(n, j):
    elts = _elts(n)
    if elts is None:
        n.slice = _plus(n.slice, 1)
    else:
        elts[j] = _plus(elts[j], 1)
    return True


def _walk(node, parent=None):
    """Pre-order (node, parent) pairs, in the order :func:`_rewrite` counts them."""
    yield node, parent
    for _, value in ast.iter_fields(node):
        for child in (value if isinstance(value, list) else [value]):
            if isinstance(child, ast.AST):
                yield from _walk(child, node)


def _rewrite(node, target, fn, counter):
    index = counter[0]
    counter[0] += 1
    if index == target:
        return fn(node)
    for name, value in ast.iter_fields(node):
        if isinstance(value, list):
            setattr(node, name, [_rewrite(v, target, fn, counter) if isinstance(v, ast.AST) else v for v in value])
        elif isinstance(value, ast.AST):
            setattr(node, name, _rewrite(value, target, fn, counter))
    return node


# ------------------------------------------------------------------ blocks and mutants

@dataclass
class Block:
    """One solution block: its file, function and the statements between the markers."""
    path: str
    function: str
    begin: int  # the BEGIN marker's line index (0-based)
    end: int
    indent: str
    statements: list = field(repr=False)


def blocks(a, root=None):
    """The solution blocks of ``a``'s stripped functions, in file order."""
    root = Path(root) if root else source_root()
    found = []
    for path, functions in a.strip.items():
        text = (root / path).read_text(encoding="utf-8")
        tree = ast.parse(text)
        statements = [n for n in ast.walk(tree) if isinstance(n, ast.stmt)]
        for b in markers.find_blocks(text, path):
            if b.function not in functions:
                continue
            inside = [s for s in statements if b.begin + 1 < s.lineno and s.end_lineno <= b.end]
            ids = {id(c) for s in inside for c in ast.walk(s) if c is not s}
            top = sorted((s for s in inside if id(s) not in ids), key=lambda s: s.lineno)
            found.append(Block(path, b.function, b.begin, b.end, b.indent, top))
    return found


@dataclass
class Mutant:
    id: str
    path: str
    function: str
    operator: str
    words: str
    line: int  # 1-based line in the instructor's file
    diff: str = ""
    status: str = ""  # killed / equivalent / caught_elsewhere / surviving / invalid
    lost: list = field(default_factory=list)  # graded parts that lost points (up to 5)
    caught_by: list = field(default_factory=list)  # gradcheck families / public tests that fail
    note: str = ""
    gradcheck: list = None  # the gradcheck families that fail on it (with --gradcheck)


def _block_source(stmts, indent):
    text = "\n".join(ast.unparse(s) for s in stmts)
    return [indent + line if line else line for line in text.split("\n")]


def generate(a, root=None):
    """``[(Mutant, mutated file text)]`` for every mutation of every block of ``a``."""
    root = Path(root) if root else source_root()
    out = []
    for bk in blocks(a, root):
        text = (root / bk.path).read_text(encoding="utf-8")
        lines = text.split("\n")
        module = ast.Module(body=bk.statements, type_ignores=[])
        original = _block_source(bk.statements, bk.indent)
        for index, (node, parent) in enumerate(_walk(module)):
            if node is module:
                continue
            for k, (operator, words, fn) in enumerate(_mutations(node, parent)):
                mutated = _rewrite(copy.deepcopy(module), index, fn, [0])
                ast.fix_missing_locations(mutated)
                try:
                    new = _block_source(mutated.body, bk.indent)
                except Exception:  # noqa: BLE001  an operator that does not apply here (unparse refuses)
                    continue
                if new == original:
                    continue
                diff = "\n".join(d for d in difflib.unified_diff(original, new, lineterm="", n=0)
                                 if not d.startswith(("---", "+++", "@@")))
                mid = f"{bk.function}:{node.lineno if hasattr(node, 'lineno') else 0}:{index}.{k}"
                m = Mutant(mid, bk.path, bk.function, operator, words, getattr(node, "lineno", 0), diff)
                out.append((m, "\n".join(lines[:bk.begin + 1] + new + lines[bk.end:])))
    return out


# ------------------------------------------------------------------ grading in a worker

def _code_of(text, path, qualname):
    """The code object of function ``qualname`` compiled from the file text."""
    todo = [compile(text, path, "exec")]
    while todo:
        code = todo.pop()
        if code.co_qualname == qualname:
            return code
        todo += [c for c in code.co_consts if hasattr(c, "co_qualname")]
    raise LookupError(f"{path}: no function {qualname}")


def _function_object(path, qualname):
    module = importlib.import_module(path[:-3].replace("/", "."))
    obj = module
    for name in qualname.split("."):
        obj = getattr(obj, name)
    while hasattr(obj, "__wrapped__"):
        obj = obj.__wrapped__
    return obj


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout(f"mutant ran longer than {MUTANT_SECONDS} s")


def _outputs(item, inputs):
    """``({part: float64 array}, error or None)`` of one run of ``item``."""
    out = {}
    try:
        item.run({k: np.copy(v) for k, v in inputs.items()}, out)
        error = None
    except Exception as err:  # noqa: BLE001  whatever the mutant does is a result here
        error = f"{type(err).__name__}: {err}"[:200]
    arrays = {}
    for part, value in out.items():
        try:
            arrays[part] = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            pass
    return arrays, error


class Bench:
    """The assignment's items with their seeded inputs and the solution's outputs.

    While a mutant is patched in (:meth:`patch`), the solution's outputs are still computed with the
    solution's code: the patch is lifted around every reference run.
    """

    def __init__(self, a):
        self.a = a
        self.index = {item.name: k for k, item in enumerate(a.items)}
        self._cache = {}
        self.seconds = {}  # item name -> the longest run of the solution on it
        self._patch = None  # (function object, solution code, mutant code)

    def patch(self, func, code):
        self._patch = (func, func.__code__, code)
        func.__code__ = code

    def unpatch(self):
        if self._patch:
            func, original, _ = self._patch
            func.__code__ = original
            self._patch = None

    def inputs(self, item, seed):
        """(inputs, the solution's outputs) of ``item`` drawn with ``seed``."""
        key = (item.name, seed)
        if key not in self._cache:
            inputs = item.inputs(np.random.default_rng([seed, self.index[item.name]]))
            patch = self._patch
            self.unpatch()
            try:
                start = time.perf_counter()
                self._cache[key] = (inputs, _outputs(item, inputs)[0])
                self.seconds[item.name] = max(self.seconds.get(item.name, 0.0), time.perf_counter() - start)
            finally:
                if patch:
                    self.patch(patch[0], patch[2])
        return self._cache[key]

    def items_of(self, function):
        hit = [i for i in self.a.items if function in i.functions]
        return hit or list(self.a.items)

    def slow(self, item):
        return self.seconds.get(item.name, 0.0) > SLOW_ITEM_SECONDS

    def warm(self, functions):
        """Compute the solution's outputs of every item of ``functions`` on both graded seeds (untimed)."""
        for item in {i.name: i for f in functions for i in self.items_of(f)}.values():
            for seed in (PUBLIC_SEED, GRADING_SEED):
                self.inputs(item, seed)

    def time_limit(self, function):
        """Seconds one mutant of ``function`` may take: the slow items get three times the solution's time."""
        return MUTANT_SECONDS + 6 * sum(self.seconds.get(i.name, 0.0) for i in self.items_of(function) if self.slow(i))

    def graded_losses(self, function):
        """The parts that lose points (as the grader decides) with the current code; a slow item runs
        only when the others found nothing."""
        lost = []
        items = self.items_of(function)
        for item in [i for i in items if not self.slow(i)] + [i for i in items if self.slow(i)]:
            if lost and self.slow(item):
                break
            for seed in (PUBLIC_SEED, GRADING_SEED):
                inputs, want = self.inputs(item, seed)
                got, _ = _outputs(item, inputs)
                for part in item.points:
                    if part not in got or part not in want or rel_error(got[part], want[part]) > item.rtol:
                        if f"{item.name}: {part}" not in lost:
                            lost.append(f"{item.name}: {part}")
        return lost

    def differs(self, function, configs):
        """The first of ``configs`` seeds on which an output differs from the solution's, or None."""
        for seed in range(2, 2 + configs):
            for item in self.items_of(function):
                if self.slow(item):
                    continue
                inputs, want = self.inputs(item, seed)
                got, error = _outputs(item, inputs)
                for part, w in want.items():
                    g = got.get(part)
                    if g is None or g.shape != w.shape:
                        return f"seed {seed}: {item.name} {part} " + (error or "shape differs")
                    with np.errstate(invalid="ignore", over="ignore"):
                        gap = np.abs(g - w) > EQUIVALENCE_RTOL * np.maximum(1, np.abs(w))
                    if gap.any() or (np.isnan(g) != np.isnan(w)).any():
                        return f"seed {seed}: {item.name} {part} differs"
        return None


def gradcheck_families(a):
    """The top-level gradcheck families an assignment names (``conv.naive`` -> every ``conv`` check)."""
    return tuple(sorted({name.split(".")[0] for name in a.gradcheck}))


def _gradcheck_failures(families, first_only=False):
    """The names of the checks of ``families`` that fail, give NaN or raise (seed 0); none when the
    assignment names no family (``select([])`` would run every check of every assignment)."""
    if not families:
        return []
    from gradcheck.registry import run_check, select
    failed = []
    for check in select(list(families)):
        try:
            with np.errstate(all="ignore"):
                err = run_check(check, seed=0)
            bad = not err <= check.threshold
        except Exception:  # noqa: BLE001
            bad = True
        if bad:
            failed.append(check.name)
            if first_only:
                break
    return failed


def _public_tests_fail(a, root):
    import pytest
    files = [str(root / "tests" / t) for t in a.public_tests]
    with open(os.devnull, "w") as sink:
        old = sys.stdout
        sys.stdout = sink
        try:
            code = pytest.main(["-q", "-x", "-p", "no:cacheprovider", "-W", "ignore", *files])
        finally:
            sys.stdout = old
    return code not in (0, 5)


def worker(spec_path):
    """Grade the mutants listed in the spec; one JSON line per event in the spec's log."""
    spec = json.loads(Path(spec_path).read_text())
    limit = int(spec.get("memory_mb", 4096)) * 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _alarm)
    root = source_root()
    a = manifest.load(spec["assignment"])
    bench = Bench(a)  # computes the solution's outputs as they are needed, with the solution's code
    log = open(spec["log"], "a", buffering=1)
    with np.errstate(all="ignore"):
        bench.warm({job["function"] for job in spec["jobs"]})
    for job in spec["jobs"]:
        log.write(json.dumps({"event": "start", "id": job["id"]}) + "\n")
        result = {"event": "done", "id": job["id"]}
        try:
            bench.patch(_function_object(job["path"], job["function"]),
                        _code_of(job["text"], str(root / job["path"]), job["function"]))
        except (LookupError, SyntaxError, ValueError) as err:
            result.update(status="invalid", note=str(err)[:200])
            log.write(json.dumps(result) + "\n")
            continue
        try:
            signal.setitimer(signal.ITIMER_REAL, bench.time_limit(job["function"]))
            with np.errstate(all="ignore"):
                lost = bench.graded_losses(job["function"])
            signal.setitimer(signal.ITIMER_REAL, 0)
            result["lost"] = lost[:5]
            signal.setitimer(signal.ITIMER_REAL, 10 * MUTANT_SECONDS)
            if spec.get("gradcheck"):
                result["gradcheck"] = _gradcheck_failures(gradcheck_families(a))
            if not lost:  # what else sees it: gradcheck, the public tests; else is it equivalent?
                caught = result.get("gradcheck") or _gradcheck_failures(gradcheck_families(a), first_only=True)
                if spec.get("public_tests") and not caught and _public_tests_fail(a, root):
                    caught = ["public tests"]
                result["caught_by"] = caught
                signal.setitimer(signal.ITIMER_REAL, 30 * MUTANT_SECONDS)
                with np.errstate(all="ignore"):
                    gap = None if caught else bench.differs(job["function"], spec["configs"])
                result["equivalent"] = not caught and gap is None
                result["note"] = gap or ""
            signal.setitimer(signal.ITIMER_REAL, 0)
        except _Timeout as err:
            result.setdefault("lost", [f"(timed out: {err})"])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            bench.unpatch()
        log.write(json.dumps(result) + "\n")


# ------------------------------------------------------------------ the run

def _run_workers(a, jobs, n_workers, options, tmp):
    """Grade ``jobs`` in ``n_workers`` worker processes; a worker that dies or hangs on a mutant kills
    that mutant (as the grader would score it 0) and is restarted on the rest."""
    pending = [jobs[k::n_workers] for k in range(n_workers)]
    results = {}
    procs = {}
    counter = 0

    def launch(slot, chunk):
        nonlocal counter
        counter += 1
        log = Path(tmp) / f"w{counter}.log"
        spec = Path(tmp) / f"w{counter}.json"
        spec.write_text(json.dumps({"assignment": a.name, "log": str(log), "jobs": chunk, **options}))
        proc = subprocess.Popen([sys.executable, "-m", "npnet.course.mutants", "--worker", str(spec)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        procs[slot] = (proc, log, chunk, time.monotonic(), None)

    for slot, chunk in enumerate(pending):
        if chunk:
            launch(slot, chunk)
    while procs:
        time.sleep(0.2)
        for slot, (proc, log, chunk, since, current) in list(procs.items()):
            records = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
            done = {r["id"]: r for r in records if r["event"] == "done"}
            started = [r["id"] for r in records if r["event"] == "start"]
            now_on = started[-1] if started and started[-1] not in done else None
            if now_on != current:
                since, current = time.monotonic(), now_on
                procs[slot] = (proc, log, chunk, since, current)
            hung = current is not None and time.monotonic() - since > 40 * MUTANT_SECONDS
            if proc.poll() is None and not hung:
                continue
            if hung:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            results.update(done)
            rest = [j for j in chunk if j["id"] not in done]
            del procs[slot]
            if rest and current in {j["id"] for j in rest}:
                why = "hung" if hung else f"the worker died (exit {proc.returncode})"
                results[current] = {"id": current, "lost": [f"({why}: the grader's process would fail)"]}
                rest = [j for j in rest if j["id"] != current]
            elif rest:  # died before starting any: do not loop forever
                err = proc.stderr.read().decode(errors="replace")[-500:]
                raise RuntimeError(f"mutants: a worker failed before grading: {err}")
            if rest:
                launch(slot, rest)
    return results


def _grade_with_grader(a, pairs, root):
    """``{mutant id: lost parts}`` from the real Grader, one submission per mutant."""
    from .grade import Grader
    out = {}
    with Grader(a, isolation="submission", timeout=120) as grader, tempfile.TemporaryDirectory() as tmp:
        for m, text in pairs:
            sub = Path(tmp) / m.id.replace(":", "_")
            for path in a.submit:
                target = sub / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text if path == m.path else (root / path).read_text(encoding="utf-8"))
            result = grader.grade(sub)
            out[m.id] = [f"{i.name}: {line.split(' (0/')[0]}" for i in result.items for line in i.lines
                         if " (0/" in line][:5]
    return out


def run(name, jobs=1, sample=None, seed=0, configs=200, gradcheck=False, public_tests=True, verify=0,
        root=None, progress=None):
    """Mutate, grade and classify; returns the list of :class:`Mutant` s."""
    a = manifest.load(name)
    root = Path(root) if root else source_root()
    pairs = generate(a, root)
    if sample is not None and sample < len(pairs):
        pairs = random.Random(seed).sample(pairs, sample)
    texts = {m.id: text for m, text in pairs}
    job_list = [{"id": m.id, "path": m.path, "function": m.function, "text": texts[m.id]} for m, _ in pairs]
    options = {"configs": configs, "gradcheck": gradcheck, "public_tests": public_tests}
    with tempfile.TemporaryDirectory(prefix="npnet-mutants-") as tmp:
        results = _run_workers(a, job_list, max(1, min(jobs, len(job_list))), options, tmp)
    mutants = [m for m, _ in pairs]
    for m in mutants:
        r = results.get(m.id, {"lost": ["(no result)"]})
        m.lost = r.get("lost", [])
        m.caught_by = r.get("caught_by", [])
        m.note = r.get("note", "")
        m.gradcheck = r.get("gradcheck")
        if r.get("status") == "invalid":
            m.status = "invalid"
        elif m.lost:
            m.status = "killed"
        elif r.get("equivalent"):
            m.status = "equivalent"
        else:
            m.status = "caught_elsewhere" if m.caught_by else "surviving"
    # the real grader has the last word on every mutant the fast grading left standing
    standing = [(m, texts[m.id]) for m in mutants if m.status in ("caught_elsewhere", "surviving")]
    killed = [(m, texts[m.id]) for m in mutants if m.status == "killed"]
    checked = random.Random(seed).sample(killed, min(verify, len(killed)))
    regraded = _grade_with_grader(a, standing + checked, root) if standing or checked else {}
    for m, _ in standing:
        if regraded[m.id]:
            m.status, m.lost, m.note = "killed", regraded[m.id], "killed by the Grader (not by the fast grading)"
    disagree = [m.id for m, _ in checked if not regraded[m.id]]
    for m, _ in checked:
        m.note = "Grader agrees" if regraded[m.id] else "Grader DISAGREES: full marks"
    run.verified = (len(checked), disagree)
    return mutants


run.verified = (0, [])

# ------------------------------------------------------------------ report

STATUSES = ("killed", "equivalent", "caught_elsewhere", "surviving")


def summary(mutants):
    """``{function: {status: count}}`` plus the assignment's total under ``'total'``."""
    table = {}
    for m in mutants + [None]:
        for key in ((m.function, "total") if m else ("total",)):
            row = table.setdefault(key, {s: 0 for s in ("mutants",) + STATUSES + ("invalid",)})
            if m:
                row["mutants"] += 1
                row[m.status] += 1
    total = table.pop("total")
    return {**dict(sorted(table.items())), "total": total}


def kill_rate(row):
    live = row["mutants"] - row["equivalent"] - row["invalid"]
    return row["killed"] / live if live else 1.0


def family_counts(mutants, families):
    """``({family or check: non-equivalent mutants it catches}, mutants scored)`` (with ``--gradcheck``);
    a family catches a mutant when any of its checks fails."""
    scored = [m for m in mutants if m.status not in ("equivalent", "invalid") and m.gradcheck is not None]
    counts = {f: sum(any(c == f or c.startswith(f + ".") for c in m.gradcheck) for m in scored) for f in families}
    for m in scored:
        for c in m.gradcheck:
            if "." in c:
                counts[c] = counts.get(c, 0) + 1
    counts["any"] = sum(bool(m.gradcheck) for m in scored)
    return counts, len(scored)


def report(name, mutants, gradcheck_families=()):
    lines = [f"{name}: {len(mutants)} mutants"]
    table = summary(mutants)
    width = max(len(k) for k in table)
    lines.append(f"  {'function':<{width}}  mutants  equivalent  killed  caught elsewhere  surviving  kill rate")
    for key, row in table.items():
        lines.append(f"  {key:<{width}}  {row['mutants']:7d}  {row['equivalent']:10d}  {row['killed']:6d}  "
                     f"{row['caught_elsewhere']:16d}  {row['surviving']:9d}  {100 * kill_rate(row):8.1f}%")
    count, disagree = run.verified
    if count:
        lines.append(f"  the real Grader regraded {count} killed mutants: {count - len(disagree)} agree"
                     + (f"; disagree: {', '.join(disagree)}" if disagree else ""))
    if gradcheck_families:
        counts, n = family_counts(mutants, gradcheck_families)
        if n:
            lines.append(f"  gradcheck families on {n} non-equivalent mutants: "
                         + ", ".join(f"{f} {c}" for f, c in counts.items()))
    equivalent = [m for m in mutants if m.status == "equivalent"]
    if equivalent:
        lines.append(f"  equivalent ({len(equivalent)}; no output of 200 input sets differs by more than 1e-9):")
        lines += [f"    {m.function}:{m.line} [{m.words}] {' / '.join(d.strip() for d in m.diff.split(chr(10)))}"[:240]
                  for m in equivalent]
    for m in mutants:
        if m.status in ("caught_elsewhere", "surviving"):
            by = f" (caught by {', '.join(m.caught_by)})" if m.caught_by else ""
            lines.append(f"  {m.status}{by}: {m.path}:{m.line} {m.function} [{m.operator}: {m.words}] {m.note}")
            lines += [f"      {d}" for d in m.diff.split("\n")]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/mutants.py", description=__doc__.splitlines()[0])
    parser.add_argument("assignment", nargs="?")
    parser.add_argument("--json", help="write every mutant's classification to this file")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--sample", type=int, help="grade a random sample of this many mutants")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument("--configs", type=int, default=200, help="input sets of the differential test (200)")
    parser.add_argument("--gradcheck", action="store_true", help="run the gradcheck families on every mutant")
    parser.add_argument("--no-public-tests", action="store_true", help="skip the public tests of survivors")
    parser.add_argument("--verify", type=int, default=0, help="regrade this many killed mutants with the Grader")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    if not args.assignment:
        parser.error(f"name an assignment: {', '.join(manifest.names())}")
    start = time.perf_counter()
    mutants = run(args.assignment, jobs=args.jobs, sample=args.sample, seed=args.seed, configs=args.configs,
                  gradcheck=args.gradcheck, public_tests=not args.no_public_tests, verify=args.verify)
    families = gradcheck_families(manifest.load(args.assignment)) if args.gradcheck else ()
    print(report(args.assignment, mutants, families))
    print(f"  ({time.perf_counter() - start:.0f} s, {args.jobs} worker(s))")
    if args.json:
        from .._io import atomic_output
        doc = {"assignment": args.assignment, "summary": summary(mutants),
               "gradcheck": family_counts(mutants, families)[0] if families else None,
               "mutants": [asdict(m) for m in mutants]}
        with atomic_output(args.json, "bench/mutants.py --json") as tmp:
            Path(tmp).write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
