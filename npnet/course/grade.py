"""``npnet course grade``: score a student's submission item by item, with feedback.

For each submission the grader

1. builds a temporary tree: a fresh release of the assignment (stubs in the assignment's files, every
   other block filled) with the student's copies of the assignment's files laid over it. Only those
   files are taken from a submission, so a student cannot replace the grader, gradcheck or numpy. A
   missing file, or one that does not compile, keeps its stub and costs only the items that use it;
2. imports the student's modules in a subprocess; a module whose import raises or hangs is replaced by
   its stub (the items using it score 0, with the error and its file:line) and the import is retried;
3. runs every item in its own subprocess (``isolation="item"``; ``"submission"`` runs them all in one
   and falls back to one subprocess per item if that one dies or hangs), with a time limit (the
   process group is killed), an address-space limit, and a minimal environment: the working
   directory, HOME and TMPDIR are inside the temporary tree and an audit hook refuses writes outside
   it, new processes and sockets (:mod:`npnet.course.child`);
4. compares each output part with the instructor's reference, computed here in the grader's own
   process from the same seeded inputs (the public seed 0 and a grading seed), and explains a wrong
   part with :mod:`npnet.course.diagnose`.

What this does NOT prevent: the student's code can read any file the grader's user can read (the
instructor's solutions included), use CPU and memory up to the limits, and escape the audit hook
through native code (ctypes, a compiled extension). On shared machines run the grader as a user
that cannot write the grader's files (Gradescope runs each submission on its own machine).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import _check
from .._io import read_npz
from ..errors import NpnetValueError
from . import markers
from .diagnose import describe, rel_error
from .release import build_release, source_root

PUBLIC_SEED = 0
MAX_FILE_BYTES = 2 * 2 ** 20
MAX_ZIP_BYTES = 50 * 2 ** 20
CHILD = Path(__file__).with_name("child.py")
# Compiles npnet's Numba kernels once into the release's __pycache__, which every submission's copy
# inherits (copied with its timestamps, so Numba accepts the cache): ~1-2 s saved per submission.
WARM_KERNELS = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from npnet import kernels
for dt in (np.float64,):  # every graded input is float64
    x, cols = np.zeros((1, 1, 3, 3), dt), np.zeros(16, dt)
    kernels.im2col_images(x, cols, 16, 4, 2, 2, 1, 0, 2, 2, 0, 1)
    kernels.col2im_images(cols, x, 16, 4, 2, 2, 1, 0, 2, 2, 0, 1)
    out, arg = np.zeros((1, 2, 2), dt), np.zeros((1, 2, 2), np.uint8)
    kernels.max_pool_rows(x[0], out, 2, 2, 1, 0, 0, 1)
    kernels.max_pool_argmax_rows(x[0], out, arg, np.zeros(1, np.uint8), 2, 2, 1, 0, 0, 1)
    kernels.max_pool_backward_rows(out, arg, out, -1, x[0], 2, 2, 1, 0, 0, 1)
    kernels.bias_relu_rows(out.reshape(-1), 4, 2, np.zeros(2, dt), True, out.reshape(1, 2, 2), 0, 2)
"""


@dataclass
class ItemResult:
    name: str
    score: float
    max_score: float
    lines: list = field(default_factory=list)

    @property
    def output(self):
        return "\n".join(self.lines)


@dataclass
class SubmissionResult:
    assignment: str
    submission: str
    items: list
    notes: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self):
        return sum(i.score for i in self.items)

    @property
    def max_score(self):
        return sum(i.max_score for i in self.items)

    def table(self):
        """The points table printed on stdout."""
        width = max(len(i.name) for i in self.items)
        rows = [f"{self.assignment}: {self.submission}"] + [f"  note: {n}" for n in self.notes]
        for item in self.items:
            rows.append(f"  {item.name:<{width}}  {_pts(item.score):>5} / {_pts(item.max_score):<5}")
            rows += [f"      {line}" for line in item.lines if not line.endswith(": ok")]
        rows.append(f"  {'total':<{width}}  {_pts(self.score):>5} / {_pts(self.max_score):<5}")
        return "\n".join(rows)

    def gradescope(self):
        """Gradescope's results.json content as a dict."""
        tests = [{"name": i.name, "score": i.score, "max_score": i.max_score, "output": i.output,
                  "visibility": "visible"} for i in self.items]
        return {"score": self.score, "max_score": self.max_score, "output": "\n".join(self.notes),
                "execution_time": round(self.seconds, 1), "visibility": "visible", "tests": tests}


def _pts(v):
    return f"{v:g}"


class SubmissionError(NpnetValueError):
    """A submission the grader refuses to open (an unsafe or oversized zip); it scores 0."""


def _safe_members(zf, label):
    """The zip's file members, after refusing absolute paths, '..' and oversized contents."""
    total = 0
    for info in zf.infolist():
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
            raise SubmissionError(f"{label}: refused: the zip holds an unsafe path {name!r} (absolute or with '..')")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise SubmissionError(f"{label}: refused: the zip holds a symbolic link {name!r}")
        total += info.file_size
    if total > MAX_ZIP_BYTES:
        raise SubmissionError(f"{label}: refused: the zip expands to {total} bytes (limit {MAX_ZIP_BYTES})")
    return [i for i in zf.infolist() if not i.is_dir()]


def read_submission(a, submission):
    """``{path: bytes or None}`` for each file ``a`` takes from ``submission`` (a folder or a zip).

    A file may sit at its repository path or under one top folder (``mytree/npnet/...``).
    """
    submission = Path(submission)
    label = submission.name
    if submission.is_dir():
        if not any((submission / p).is_file() for p in a.submit):
            # an upload unpacked into one folder (Gradescope does this with a zip of the tree)
            inner = [d for d in submission.iterdir() if d.is_dir() and any((d / p).is_file() for p in a.submit)]
            submission = inner[0] if len(inner) == 1 else submission
        out = {}
        for path in a.submit:
            f = submission / path
            out[path] = f.read_bytes()[:MAX_FILE_BYTES + 1] if f.is_file() and not f.is_symlink() else None
        return out
    if not submission.is_file():
        raise SubmissionError(f"{label}: no such file or folder: {submission}")
    try:
        zf = zipfile.ZipFile(submission)
    except (zipfile.BadZipFile, OSError) as err:
        raise SubmissionError(f"{label}: not a folder or a readable zip file ({err})") from None
    with zf:
        members = _safe_members(zf, label)
        out = {}
        for path in a.submit:
            hits = sorted((m for m in members if m.filename == path or m.filename.endswith("/" + path)),
                          key=lambda m: len(m.filename))
            try:
                out[path] = zf.read(hits[0])[:MAX_FILE_BYTES + 1] if hits else None
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as err:  # bad CRC, encrypted...
                raise SubmissionError(f"{label}: cannot read {hits[0].filename} from the zip ({err})") from None
        return out


def _stub_text(base, path):
    return (base / path).read_text(encoding="utf-8")


class Grader:
    """Grades submissions of one assignment; reuses one release and the reference outputs across them.

    Args:
        a: the :class:`~npnet.course.manifest.Assignment`.
        seed: the grading seed (inputs the student never saw), besides the public seed 0.
        timeout: seconds allowed to one subprocess (one item, or the import check).
        memory_mb: address-space limit of a subprocess, in MiB.
        no_print: an item whose code prints anything scores 0.
        isolation: ``"item"`` (one subprocess per item) or ``"submission"`` (one per submission,
            falling back to one per item when it fails).
    """

    def __init__(self, a, seed=1, timeout=60, memory_mb=4096, no_print=False, isolation="item"):
        fn = "Grader"
        self.a = a
        self.seeds = {"public": PUBLIC_SEED, "grading": _check.nonnegative_int(fn, "seed", seed)}
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise NpnetValueError(f"{fn}: timeout must be a positive number of seconds; got {timeout!r}")
        self.timeout = float(timeout)
        self.memory_mb = _check.positive_int(fn, "memory_mb", memory_mb)
        self.no_print = bool(no_print)
        if isolation not in ("item", "submission"):
            raise NpnetValueError(f"{fn}: isolation must be 'item' or 'submission'; got {isolation!r}")
        self.isolation = isolation
        self._tmp = Path(tempfile.mkdtemp(prefix=f"npnet-grade-{a.name}-"))
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    def _prepare(self):
        """The release every submission is laid over, its Numba cache, the inputs and the reference outputs."""
        a = self.a
        self.base = self._tmp / "release"
        build_release(a, self.base)
        cache = source_root() / "npnet" / "__pycache__"
        for f in cache.glob("kernels.*.nb[ic]") if cache.is_dir() else ():
            (self.base / "npnet" / "__pycache__").mkdir(exist_ok=True)
            shutil.copy2(f, self.base / "npnet" / "__pycache__" / f.name)
        subprocess.run([sys.executable, "-I", "-c", WARM_KERNELS, str(self.base)], env=self._env(self._tmp),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=600, check=False)
        self.inputs = {}
        for k, item in enumerate(a.items):
            for label, seed in self.seeds.items():
                self.inputs[item.name, label] = item.inputs(np.random.default_rng([seed, k]))
        self.reference = {key: self._reference(*key) for key in self.inputs}

    def _reference(self, name, label):
        out = {}
        inputs = {k: np.copy(v) for k, v in self.inputs[name, label].items()}  # the students get them unchanged
        try:
            self.a.item(name).run(inputs, out)
        except NotImplementedError as err:
            raise NpnetValueError(f"npnet course grade: the reference solution of item {name} is not implemented "
                                  f"({err}); grade with the instructor's repository, not a release") from None
        return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}

    def close(self):
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ one submission

    def grade(self, submission):
        """Grade one submission (folder or zip); never raises for a bad submission."""
        start = time.perf_counter()
        work = Path(tempfile.mkdtemp(prefix="s", dir=self._tmp))
        label = Path(submission).name
        try:
            files = read_submission(self.a, submission)
        except SubmissionError as err:
            items = [ItemResult(i.name, 0.0, i.max_score, [str(err)]) for i in self.a.items]
            return SubmissionResult(self.a.name, label, items, [str(err)], time.perf_counter() - start)
        try:
            return self._grade_files(files, work, label, start)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _grade_files(self, files, work, label, start):
        tree = work / "tree"
        shutil.copytree(self.base, tree)
        for d in (".home", ".tmp", ".grader"):
            (tree / d).mkdir()
        broken = {}  # file -> why its stub is graded instead
        for path, data in files.items():
            if data is None:
                broken[path] = f"{path} is missing from the submission: its stubs were graded"
                continue
            problem = _source_problem(path, data)
            if problem:
                broken[path] = problem
                continue
            (tree / path).write_bytes(data)
        notes = list(broken.values())
        self._import_check(tree, broken)
        notes += [m for p, m in broken.items() if m not in notes]
        logs = self._run_items(tree)
        items = [self._score(item, logs, broken) for item in self.a.items]
        return SubmissionResult(self.a.name, label, items, notes, time.perf_counter() - start)

    @staticmethod
    def _env(tree):
        """The child's whole environment: nothing of the grader's (tokens, paths) is passed on."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tree / ".home"),
               "TMPDIR": str(tree / ".tmp"), "MPLCONFIGDIR": str(tree / ".home"), "MPLBACKEND": "Agg",
               "LANG": "C.UTF-8", "NPNET_OFFLINE": "1"}
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            env[var] = "1"
        return env

    def _child(self, tree, jobs, tag):
        """Run the child on ``jobs``; returns (log records, its stderr, whether it ran out of time)."""
        io_dir = tree / ".grader"
        log = io_dir / f"{tag}.log"
        limit = self.timeout * max(1, len({j["item"] for j in jobs}))  # a batch gets each item's time
        spec = {"assignment": self.a.name, "timeout": limit, "memory_mb": self.memory_mb,
                "log": str(log), "jobs": jobs,
                "modules": [p[:-3].replace("/", ".") for p in self.a.submit]}
        spec_path = io_dir / f"{tag}.json"
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.Popen([sys.executable, "-I", str(CHILD), str(tree), str(spec_path)], cwd=tree,
                                env=self._env(tree), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        timed_out = False
        try:
            _, err = proc.communicate(timeout=limit + 30)  # the child stops itself at `limit`
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            _, err = proc.communicate()
        _kill_group(proc)  # anything the student's code left running
        records = []
        if log.is_file():
            for line in log.read_text(errors="replace").splitlines():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return records, err.decode(errors="replace"), timed_out or b"Timeout (" in err

    def _import_check(self, tree, broken):
        """Import the student's modules; replace each that fails to import by its stub, note why."""
        for attempt in range(len(self.a.submit) + 1):
            records, err, _ = self._child(tree, [], f"import{attempt}")
            events = {r["event"]: r for r in records}
            if "imported" in events:
                return
            if "import_error" in events:
                where, why = events["import_error"]["where"], events["import_error"]["error"]
            else:
                where, why = _hang_location(err, tree), f"did not finish importing within {self.timeout:g} s"
            culprit = where.split(":")[0]
            if culprit not in self.a.submit or culprit in broken:
                for path in self.a.submit:
                    broken.setdefault(path, f"importing the submission failed ({where or 'unknown place'}: {why})")
                return
            broken[culprit] = f"{where}: importing {culprit} failed: {why}; its stubs were graded"
            (tree / culprit).write_text(_stub_text(self.base, culprit), encoding="utf-8")

    def _jobs(self, tree, items):
        jobs = []
        for item in items:
            for label in self.seeds:
                jid = f"{item.name}.{label}"
                inputs = tree / ".grader" / f"{jid}.in.npz"
                if not inputs.exists():
                    np.savez(inputs, **{k: np.asarray(v) for k, v in self.inputs[item.name, label].items()})
                jobs.append({"id": jid, "item": item.name, "inputs": str(inputs),
                             "outputs": str(tree / ".grader" / f"{jid}.out.npz")})
        return jobs

    def _run_items(self, tree):
        """``{job id: record}`` for every job, a record with 'error' for those that never finished."""
        done = {}
        pending = list(self.a.items)
        if self.isolation == "submission":
            records, _, _ = self._child(tree, self._jobs(tree, pending), "all")
            done.update({r["id"]: r for r in records if r["event"] == "done"})
            pending = [i for i in pending if any(f"{i.name}.{s}" not in done for s in self.seeds)]
        for item in pending:
            records, err, hung = self._child(tree, self._jobs(tree, [item]), f"item-{item.name}")
            done.update({r["id"]: r for r in records if r["event"] == "done"})
            for label in self.seeds:
                jid = f"{item.name}.{label}"
                if jid not in done:
                    if hung:
                        why = f"did not finish within {self.timeout:g} s (an infinite loop?)"
                        where = _hang_location(err, tree)
                    else:
                        why, where = _crash_reason(err), ""
                    done[jid] = {"id": jid, "error": {"error": why, "where": where}, "bad": {}, "printed_chars": 0,
                                 "lost": True}
        for jid, record in done.items():
            out = tree / ".grader" / f"{jid}.out.npz"
            record["outputs"] = {}
            if not record.get("lost") and out.is_file():
                try:
                    record["outputs"] = read_npz(out)
                except (OSError, ValueError):
                    pass
        return done

    def _score(self, item, logs, broken):
        lines = [m for p, m in broken.items() if any(self.a.file_of(f) == p for f in item.functions)]
        score = 0.0
        printed = [logs[f"{item.name}.{s}"] for s in self.seeds if logs[f"{item.name}.{s}"].get("printed_chars")]
        for part, points in item.points.items():
            verdict = None
            for label in self.seeds:
                record, inputs = logs[f"{item.name}.{label}"], self.inputs[item.name, label]
                verdict = self._part_verdict(item, part, record, self.reference[item.name, label], inputs)
                if verdict:
                    break
            if verdict is None:
                score += points
                lines.append(f"{part}: ok")
            else:
                lines.append(f"{part} (0/{_pts(points)}): {verdict}")
        if printed:
            text = printed[0].get("printed", "")
            if self.no_print:
                score = 0.0
                lines.append(f"printed output, not allowed (--no-print): {text[:80]!r}")
            else:
                lines.append(f"note: the code printed {text[:80]!r}")
        return ItemResult(item.name, score, item.max_score, lines)

    def _part_verdict(self, item, part, record, reference, inputs):
        """None if ``part`` is right in this run, else why not."""
        if part in record.get("bad", {}):
            return record["bad"][part]
        if part not in record["outputs"]:
            err = record.get("error")
            if not err:
                return "not computed"
            text = err["error"]
            if markers.STUB_SIGNATURE in text:
                return f"not implemented yet ({text.split(':')[1].strip()} raised NotImplementedError)"
            return f"{text}" + (f" (at {err['where']})" if err.get("where") else "")
        got, want = record["outputs"][part], reference[part]
        if rel_error(got, want) <= item.rtol:
            return None
        n = np.shape(inputs[item.batch])[0] if item.batch else None
        upstream = inputs.get(item.upstream[part]) if part in item.upstream else None
        factors = item.factors(inputs) if item.factors else None
        return describe(got, want, item.rtol, n=n, upstream=upstream, factors=factors)


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _source_problem(path, data):
    """Why a submitted file cannot be used (too large, not UTF-8, a syntax error), or None."""
    if len(data) > MAX_FILE_BYTES:
        return f"{path} is larger than {MAX_FILE_BYTES} bytes: its stubs were graded"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"{path} is not UTF-8 text: its stubs were graded"
    try:
        compile(text, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as err:
        line = getattr(err, "lineno", None)
        return f"{path}:{line}: {type(err).__name__}: {getattr(err, 'msg', err)}; its stubs were graded"
    return None


def _hang_location(stderr, tree):
    """'file:line' of the student's innermost frame in a faulthandler dump (most recent call first)."""
    root = os.path.realpath(tree)
    for m in re.finditer(r'File "([^"]+)", line (\d+)', stderr):
        path = os.path.realpath(m.group(1))
        if path.startswith(root + os.sep) and os.sep + "course" + os.sep not in path:
            return f"{os.path.relpath(path, root)}:{m.group(2)}"
    return ""


def _crash_reason(stderr):
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    if any("MemoryError" in line for line in lines):
        return "ran out of memory (the grader's memory limit)"
    return "the process ended without a result" + (f" ({lines[-1][:200]})" if lines else "")


def grade_many(a, submissions, jobs=1, **options):
    """Grade several submissions, ``jobs`` at a time; returns their results in order."""
    jobs = _check.positive_int("grade_many", "jobs", jobs)
    with Grader(a, **options) as grader, ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(grader.grade, submissions))
