"""``npnet course grade``: score a student's submission item by item, with feedback.

For each submission the grader

1. builds a temporary tree: the assignment's release (its blocks, its shortcuts and every later
   assignment's blocks are stubs) with the student's copies of the assignment's files laid over it. Only those files are taken from a
   submission, so a student cannot replace the grader, gradcheck or numpy. A missing file, or one that
   does not compile, keeps its stub and costs only the items that use it;
2. imports the student's modules in a subprocess; a module whose import raises or hangs is replaced by
   its stub (the items using it score 0, with the error and its file:line) and the import is retried;
3. runs every item in its own subprocess (``isolation="item"``; ``"submission"`` runs them all in one
   and falls back to one subprocess per item if that one dies or hangs), with a time limit (the
   process group is killed), an address-space limit, and a minimal environment (working directory,
   HOME and TMPDIR inside the temporary tree); see :mod:`npnet.course.child` for its guard;
4. compares each output part with the reference outputs in this process, and explains a wrong part
   with :mod:`npnet.course.diagnose`.

The reference outputs never meet student code: they are computed before any submission is graded, by
the instructor's code in a subprocess of their own (or read from the root-only file a Gradescope
bundle carries), from the inputs drawn with the public seed 0 and a grading seed (random unless the
instructor gives one); a student child gets only its inputs. Student code cannot import the
solutions: its process starts without the installation's ``.pth`` hooks (an editable install's
finder), and its guard refuses to read the instructor's packages and repository, anything else outside
its tree and the Python installation, and native calls through ctypes. When the grader runs as root
(Gradescope, CI) each child also drops to an unprivileged user (``npnet-grader`` if it exists, else
``nobody``) before it imports student code, so files only root may read stay unread whatever the code
does.
"""
import json
import os
import re
import secrets
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
from .release import build_release

PUBLIC_SEED = 0
MAX_FILE_BYTES = 2 * 2 ** 20
MAX_ZIP_BYTES = 50 * 2 ** 20
CHILD = Path(__file__).with_name("child.py")
# Compiles npnet's Numba kernels once into the grading tree's __pycache__, which every submission's copy
# inherits (copied with its timestamps, so Numba accepts the cache): ~1-2 s saved per submission. A
# kernel that is a stub in this tree (an assignment's shortcut) is skipped.
WARM_KERNELS = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from npnet import kernels
dt = np.float64  # every graded input is float64
x, cols = np.zeros((1, 1, 3, 3), dt), np.zeros(16, dt)
out, arg = np.zeros((1, 2, 2), dt), np.zeros((1, 2, 2), np.uint8)
for call in (lambda: kernels.im2col_images(x, cols, 16, 4, 2, 2, 1, 0, 2, 2, 0, 1),
             lambda: kernels.col2im_images(cols, x, 16, 4, 2, 2, 1, 0, 2, 2, 0, 1),
             lambda: kernels.max_pool_rows(x[0], out, 2, 2, 1, 0, 0, 1),
             lambda: kernels.max_pool_argmax_rows(x[0], out, arg, np.zeros(1, np.uint8), 2, 2, 1, 0, 0, 1),
             lambda: kernels.max_pool_backward_rows(out, arg, out, -1, x[0], 2, 2, 1, 0, 0, 1),
             lambda: kernels.bias_relu_rows(out.reshape(-1), 4, 2, np.zeros(2, dt), True, out.reshape(1, 2, 2), 0, 2),
             lambda: kernels.all_finite(cols),
             lambda: kernels.channel_moments(out, cols[:2], cols[2:4], 0, 1),
             lambda: kernels.channel_normalize(out, cols[:2], cols[:2], cols[:2], out, 0, 1),
             lambda: kernels.channel_gradient_sums(out, out, cols[:2], cols[:4].reshape(2, 2), 0, 1),
             lambda: kernels.channel_combine(out, out, cols[:2], cols[:2], cols[:2], cols[:2], out, 0, 1)):
    try:
        call()
    except NotImplementedError:
        pass
"""


ITEM_PROCESSES = min(2, os.cpu_count() or 1)  # item subprocesses of one submission run at once


def _private_dir(path):
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def grader_user():
    """``(uid, gid)`` a root grader's children run as: ``npnet-grader`` (Gradescope's ``setup.sh`` makes
    it) or ``nobody``; None when the grader is not root (its children then run as its own user)."""
    if os.geteuid() != 0:
        return None
    import pwd
    for name in ("npnet-grader", "nobody"):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            continue
    raise NpnetValueError("npnet course grade: running as root, but there is no unprivileged user "
                          "('npnet-grader' or 'nobody') for the children that run student code")


def instructor_folders():
    """The folders a student child may never read: the running npnet's and gradcheck's packages and,
    for a source checkout, every other entry of the repository except one holding the Python
    installation (a virtual environment inside the checkout)."""
    import gradcheck
    import npnet
    package = Path(npnet.__file__).resolve().parent
    found = {package, Path(gradcheck.__file__).resolve().parent}
    repo = package.parent
    if (repo / "setup.py").is_file() and (repo / "exercises").is_dir():
        python = [Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)]
        found.update(e for e in repo.iterdir() if not any(p == e or e in p.parents for p in python))
    return sorted(str(f) for f in found)


def python_folders(denied):
    """The Python installation: ``sys.path`` entries and prefixes a student child may read and import from."""
    import site
    out = []
    for p in list(sys.path) + site.getsitepackages() + [sys.prefix, sys.base_prefix, sys.exec_prefix]:
        if p and os.path.isdir(p):
            p = os.path.realpath(p)
            if p not in out and not any(p == d or p.startswith(d + os.sep) for d in denied):
                out.append(p)
    return out


def child_env(home):
    """A child's whole environment: nothing of the grader's (tokens, paths) is passed on."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home / ".home"),
           "TMPDIR": str(home / ".tmp"), "MPLCONFIGDIR": str(home / ".home"), "MPLBACKEND": "Agg",
           "LANG": "C.UTF-8", "NPNET_OFFLINE": "1"}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = "1"
    return env


def draw_inputs(a, seeds):
    """``{(item, seed label): inputs}`` for every item and each of ``seeds`` ``{label: seed}``."""
    out = {}
    for k, item in enumerate(a.items):
        for label, seed in seeds.items():
            out[item.name, label] = item.inputs(np.random.default_rng([seed, k]))
    return out


def compute_references(a, inputs, workdir, timeout=600):
    """The instructor's outputs for ``inputs``, computed in a subprocess of their own by the running
    (instructor's) npnet before any student code runs. Returns ``(references, modules)``: references as
    :func:`draw_inputs` keys them, and the modules that process loaded (a student child imports them
    before it drops root). ``workdir`` must be private: the inputs and outputs pass through it."""
    import npnet
    work = _private_dir(workdir)
    (work / ".home").mkdir(exist_ok=True)
    (work / ".tmp").mkdir(exist_ok=True)
    jobs = []
    for n, ((name, label), values) in enumerate(inputs.items()):
        np.savez(work / f"{n}.in.npz", **{k: np.asarray(v) for k, v in values.items()})
        jobs.append({"id": f"{name}.{label}", "item": name, "inputs": str(work / f"{n}.in.npz"),
                     "outputs": str(work / f"{n}.out.npz")})
    spec = {"assignment": a.name, "mode": "reference", "timeout": timeout, "log": str(work / "log"), "jobs": jobs,
            "sys_path": python_folders([])}
    (work / "spec.json").write_text(json.dumps(spec))
    root = str(Path(npnet.__file__).resolve().parents[1])
    run = subprocess.run([sys.executable, "-I", "-S", str(CHILD), root, str(work / "spec.json")], cwd=work,
                         env=child_env(work), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=timeout + 60)
    if run.returncode != 0:
        if "NotImplementedError" in run.stderr:
            raise NpnetValueError(f"npnet course grade: the reference solution of {a.name} is not implemented "
                                  f"({run.stderr.strip().splitlines()[-1]}); grade with the instructor's repository, "
                                  f"not a release")
        raise NpnetValueError(f"npnet course grade: computing the reference outputs of {a.name} failed: "
                              f"{run.stderr.strip()[-1500:]}")
    records = [json.loads(line) for line in (work / "log").read_text().splitlines()]
    references = {}
    for job, (key, _) in zip(jobs, inputs.items()):
        references[key] = read_npz(job["outputs"])
    modules = next((r["names"] for r in records if r["event"] == "modules"), [])
    return references, modules


def write_references(path, inputs, references, modules):
    """Save what a Gradescope bundle grades with: every item's inputs and reference outputs, and the
    modules to preload, in one ``.npz`` (readable by root only, see ``setup.sh``)."""
    arrays = {"modules": np.array(json.dumps(modules))}
    for (name, label), values in inputs.items():
        for k, v in values.items():
            arrays[f"in/{name}/{label}/{k}"] = np.asarray(v)
        for k, v in references[name, label].items():
            arrays[f"ref/{name}/{label}/{k}"] = np.asarray(v)
    np.savez(path, **arrays)


def read_references(path, a):
    """``(inputs, references, modules)`` from a :func:`write_references` file, checked against ``a``."""
    data = read_npz(path)
    inputs, references = {}, {}
    for key, value in data.items():
        if key == "modules":
            continue
        kind, name, label, part = key.split("/", 3)
        (inputs if kind == "in" else references).setdefault((name, label), {})[part] = value
    missing = [i.name for i in a.items if not any(k[0] == i.name for k in inputs)]
    if missing:
        raise NpnetValueError(f"npnet course grade: {path} holds no reference values for item(s) "
                              f"{', '.join(missing)} of {a.name}; build the bundle again")
    return inputs, references, json.loads(str(data["modules"]))


@dataclass
class ItemResult:
    name: str
    score: float
    max_score: float
    lines: list = field(default_factory=list)
    visibility: str = "visible"

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

    def gradescope(self, visibility=None):
        """Gradescope's results.json content as a dict. ``visibility``: ``{item: value}`` overriding the
        items' own (``"*"`` for all of them)."""
        visibility = visibility or {}
        tests = [{"name": i.name, "score": i.score, "max_score": i.max_score, "output": i.output,
                  "status": "passed" if i.score >= i.max_score else "failed",
                  "visibility": visibility.get(i.name, visibility.get("*", i.visibility))} for i in self.items]
        return {"score": self.score, "max_score": self.max_score, "output": "\n".join(self.notes),
                "execution_time": round(self.seconds, 1), "visibility": "visible",
                "stdout_visibility": "hidden", "tests": tests}


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


def match_files(names, wanted):
    """``{path: name}``: for each path a student hands in, the entry of ``names`` (relative paths with
    '/') that holds it, found by name anywhere: at its repository path, under any folders, or flat (what
    a drag-and-drop upload gives); the longest common tail of folders wins. Unmatched paths are left out."""
    found = {}
    for path in wanted:
        parts = path.split("/")
        best, score = None, 0
        for name in names:
            got = name.split("/")
            if got[-1] != parts[-1]:
                continue
            tail = 0
            while tail < min(len(got), len(parts)) and got[-1 - tail] == parts[-1 - tail]:
                tail += 1
            if tail > score or (tail == score and best is not None and len(name) < len(best)):
                best, score = name, tail
        if best is not None:
            found[path] = best
    return found


def read_submission(a, submission):
    """``{path: bytes or None}`` for each file ``a`` takes from ``submission``: a folder, a zip, or a
    folder holding one zip (a Gradescope upload of a zip). Files are found by name anywhere inside
    (:func:`match_files`)."""
    submission = Path(submission)
    label = submission.name
    if submission.is_dir():
        files = {p.relative_to(submission).as_posix(): p for p in sorted(submission.rglob("*"))
                 if p.is_file() and not p.is_symlink()}
        zips = [p for n, p in files.items() if n.endswith(".zip")]
        if not any(n.endswith(".py") for n in files) and len(zips) == 1:
            return read_submission(a, zips[0])
        found = match_files(files, a.submit)
        return {path: files[found[path]].read_bytes()[:MAX_FILE_BYTES + 1] if path in found else None
                for path in a.submit}
    if not submission.is_file():
        raise SubmissionError(f"{label}: no such file or folder: {submission}")
    try:
        zf = zipfile.ZipFile(submission)
    except (zipfile.BadZipFile, OSError) as err:
        raise SubmissionError(f"{label}: not a folder or a readable zip file ({err})") from None
    with zf:
        members = {m.filename: m for m in _safe_members(zf, label)}
        found = match_files(members, a.submit)
        out = {}
        for path in a.submit:
            try:
                out[path] = zf.read(members[found[path]])[:MAX_FILE_BYTES + 1] if path in found else None
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as err:  # bad CRC, encrypted...
                raise SubmissionError(f"{label}: cannot read {found[path]} from the zip ({err})") from None
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

    def __init__(self, a, seed=None, timeout=60, memory_mb=4096, no_print=False, isolation="item",
                 references=None, ship=(), strip=()):
        fn = "Grader"
        self.a = a
        seed = secrets.randbelow(2 ** 31) if seed is None else _check.nonnegative_int(fn, "seed", seed)
        self.seeds = {"public": PUBLIC_SEED, "grading": seed}
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise NpnetValueError(f"{fn}: timeout must be a positive number of seconds; got {timeout!r}")
        self.timeout = float(timeout)
        self.memory_mb = _check.positive_int(fn, "memory_mb", memory_mb)
        self.no_print = bool(no_print)
        if isolation not in ("item", "submission"):
            raise NpnetValueError(f"{fn}: isolation must be 'item' or 'submission'; got {isolation!r}")
        self.isolation = isolation
        self.ship, self.strip = tuple(ship), tuple(strip)
        self.user = grader_user()
        self.deny = instructor_folders()
        self.readable = python_folders(self.deny)
        self._tmp = Path(tempfile.mkdtemp(prefix=f"npnet-grade-{a.name}-"))
        if self.user:
            os.chmod(self._tmp, 0o711)  # the children's user may pass through, not list
        try:
            self._prepare(references)
        except BaseException:
            self.close()
            raise

    def _prepare(self, references):
        """The tree every submission is laid over (with a warm Numba cache), the inputs and the reference
        outputs: computed by the instructor's code, or read from a Gradescope bundle's file."""
        import npnet
        a = self.a
        self.base = self._tmp / "release"
        installed = Path(npnet.__file__).resolve().parents[1]
        if references:
            # Gradescope: the installed npnet is the bundle's release; no solution is on this machine.
            for package in ("npnet", "gradcheck"):
                shutil.copytree(installed / package, self.base / package,
                                ignore=shutil.ignore_patterns("*.pyc", "*.pyo"))
            self.inputs, self.reference, self.modules = read_references(references, a)
            self.seeds = {label: None for _, label in self.inputs}
        else:
            build_release(a, self.base, ship=self.ship, strip=self.strip)
            cache = installed / "npnet" / "__pycache__"
            for f in cache.glob("kernels.*.nb[ic]") if cache.is_dir() else ():
                (self.base / "npnet" / "__pycache__").mkdir(exist_ok=True)
                shutil.copy2(f, self.base / "npnet" / "__pycache__" / f.name)
            self.inputs = draw_inputs(a, self.seeds)
            self.reference, self.modules = compute_references(a, self.inputs, self._tmp / "private")
        subprocess.run([sys.executable, "-I", "-c", WARM_KERNELS, str(self.base)], env=child_env(self._tmp),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=600, check=False)

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
            if not any(files.values()):
                raise SubmissionError(f"{label}: none of the files to hand in was found (expected, anywhere in the "
                                      f"upload, flat or in folders or a zip: "
                                      f"{', '.join(sorted({p.split('/')[-1] for p in self.a.submit}))})")
        except SubmissionError as err:
            items = [ItemResult(i.name, 0.0, i.max_score, [str(err)], i.visibility) for i in self.a.items]
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
        if self.user:  # the children run as this user: their tree is theirs, the rest is not
            os.chmod(work, 0o711)
            for path in [tree] + list(tree.rglob("*")):
                os.chown(path, *self.user, follow_symlinks=False)
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
        logs = self._run_items(tree, broken)
        notes += [m for p, m in broken.items() if m not in notes]
        items = [self._score(item, logs, broken) for item in self.a.items]
        return SubmissionResult(self.a.name, label, items, notes, time.perf_counter() - start)

    def _child(self, tree, jobs, tag):
        """Run the child on ``jobs``; returns (log records, its stderr, whether it ran out of time)."""
        io_dir = tree / ".grader"
        log = io_dir / f"{tag}.log"
        limit = self.timeout * max(1, len({j["item"] for j in jobs}))  # a batch gets each item's time
        log.unlink(missing_ok=True)  # a child run again (after the import check) starts a fresh log
        spec = {"assignment": self.a.name, "timeout": limit, "import_timeout": self.timeout,
                "memory_mb": self.memory_mb,
                "log": str(log), "jobs": jobs, "modules": [p[:-3].replace("/", ".") for p in self.a.submit],
                "sys_path": self.readable, "readable": self.readable, "deny": self.deny, "user": self.user,
                "preload": self.modules if self.user else []}
        spec_path = io_dir / f"{tag}.json"
        spec_path.write_text(json.dumps(spec))
        if self.user:
            os.chown(spec_path, *self.user)
        proc = subprocess.Popen([sys.executable, "-I", "-S", str(CHILD), str(tree), str(spec_path)], cwd=tree,
                                env=child_env(tree), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
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
                    if self.user:
                        os.chown(inputs, *self.user)
                jobs.append({"id": jid, "item": item.name, "inputs": str(inputs),
                             "outputs": str(tree / ".grader" / f"{jid}.out.npz")})
        return jobs

    def _run_items(self, tree, broken):
        """``{job id: record}`` for every job, a record with 'error' for those that never finished.

        The first child doubles as the import check: only when it does not get through importing the
        submission does :meth:`_import_check` find the modules at fault (stubbing them, noted in
        ``broken``) before that child runs again (one process fewer per submission that imports)."""
        done = {}
        pending = list(self.a.items)
        first = [True]

        def child(jobs, tag):
            records, err, hung = self._child(tree, jobs, tag)
            if first[0] and not any(r["event"] == "imported" for r in records):
                self._import_check(tree, broken)
                records, err, hung = self._child(tree, jobs, tag)
            first[0] = False
            return records, err, hung

        if self.isolation == "submission":
            records, _, _ = child(self._jobs(tree, pending), "all")
            done.update({r["id"]: r for r in records if r["event"] == "done"})
            pending = [i for i in pending if any(f"{i.name}.{s}" not in done for s in self.seeds)]

        def one(item):
            return item, child(self._jobs(tree, [item]), f"item-{item.name}")

        # the first alone (it may run the import check), the others two at a time (each its own process)
        ran = [one(item) for item in pending[:1]]
        with ThreadPoolExecutor(ITEM_PROCESSES) as pool:
            ran += list(pool.map(one, pending[1:]))
        for item, (records, err, hung) in ran:
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
        return ItemResult(item.name, score, item.max_score, lines, item.visibility)

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
