"""No shipped function computes a graded output for the student.

For every item of every assignment, and every function the item grades, the assignment's release with
the student's blocks filled in (an honest student) is loaded in a subprocess, and the function is
replaced by each shipped function of npnet's computing modules whose signature takes the same
positional arguments (a fast or naive twin, a ``*_from_output`` variant, a kernel wrapper, anything
that fits; not the student's own other functions): what a submission that delegates to it would hand
in. The item is scored as the grader scores it (every part must match the reference on both seeds);
the delegation must earn none of the parts that depend on the function (those that go wrong when its
result is nudged).
"""
import dataclasses
import faulthandler
import json
import os
import resource
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from npnet.course import manifest
from npnet.course import markers
from npnet.course.diagnose import rel_error
from npnet.course.grade import Grader, child_env
from npnet.course.release import source_root
from npnet.layers.pool import max_pool_forward, max_pool_forward_naive

ROOT = source_root()


# Scoring in forked children, also tested on its own below.
ISOLATION = r'''
import json, os


def scored_in_children(tasks):
    """The result of each of ``tasks`` (calls returning a set of part names), in order. A forked child
    runs them one after another and sends each result as a JSON line, so what a candidate compiles or
    warms (Numba specialisations) serves the next ones. A candidate that kills the child (native code
    called with another function's arguments) is run again first in a fresh child, as the damage may be
    an earlier one's; if it kills that child too it earns nothing, and a new child goes on from the next."""
    results = []
    while len(results) < len(tasks):
        start = len(results)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                with os.fdopen(w, "w") as stream:
                    for fn in tasks[start:]:
                        try:
                            parts = sorted(fn())
                        except BaseException:
                            parts = []
                        stream.write(json.dumps(parts) + "\n")
                        stream.flush()
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r) as stream:
            results += [set(json.loads(line)) for line in stream if line.endswith("\n")]
        os.waitpid(pid, 0)
        if len(results) == start < len(tasks):
            results.append(set())
    return results
'''

# Modules whose functions compute things; data loading, files, figures and the CLI cannot stand in.
HARNESS = ISOLATION + r'''
import functools, importlib, inspect, json, pkgutil, resource, signal, sys
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
sys.path.insert(0, sys.argv[1])
import numpy as np
import npnet
from npnet._io import read_npz
from npnet.course import manifest
from npnet.course.diagnose import rel_error

SKIP = ("npnet.course", "npnet.data", "npnet.cli", "npnet.weights", "npnet._io", "npnet.solver", "npnet.parallel",
        "npnet.display")
spec = json.load(open(sys.argv[2]))
a = manifest.load(spec["assignment"])
modules = []
for info in pkgutil.walk_packages(npnet.__path__, "npnet."):
    if info.name.startswith(SKIP) or info.name.endswith(("commands", "figures", "__main__")):
        continue
    try:
        modules.append(importlib.import_module(info.name))
    except Exception:
        pass
modules.append(npnet)
candidates = {}
for m in modules:
    for name, obj in vars(m).items():
        f = getattr(obj, "py_func", obj)
        if inspect.isfunction(f) and f.__module__ == m.__name__:
            candidates[f"{m.__name__}.{name}"] = obj


class Slow(Exception):
    pass


def alarm(*_):
    raise Slow()


signal.signal(signal.SIGALRM, alarm)


def perturbed(f):
    """``f`` with every float of its result (tuples and caches included) scaled by 1.37, which keeps
    signs and zeros (a ReLU's gate): the parts that stay right with it do not depend on ``f``'s values."""
    def nudge(v):
        if isinstance(v, (np.ndarray, float, np.floating)) and np.asarray(v).dtype.kind == "f":
            return v * 1.37
        if isinstance(v, (tuple, list)):
            return type(v)(nudge(e) for e in v)
        return v
    return lambda *args, **kwargs: nudge(f(*args, **kwargs))


def score(item, job, holders, fname, g):
    """The parts of ``item`` that match the reference on every seed with ``fname`` replaced by ``g``."""
    original = getattr(holders[0], fname)
    for m in holders:
        setattr(m, fname, g)
    matched = None
    try:
        for label in job["labels"]:
            if matched is not None and not matched:
                break  # nothing right on the first seed: nothing can be right on both
            out = {}
            signal.alarm(2)
            try:
                item.run(read_npz(job["inputs"][label]), out)
            except BaseException:
                pass
            finally:
                signal.alarm(0)
            ref = read_npz(job["refs"][label])
            ok = set()
            for part in item.points:
                try:
                    if part in out and rel_error(np.asarray(out[part], dtype=np.float64), ref[part]) <= item.rtol:
                        ok.add(part)
                except Exception:
                    pass
            matched = ok if matched is None else matched & ok
    finally:
        for m in holders:
            setattr(m, fname, original)
    return matched


own = {f for fs in a.strip.values() for f in fs}
delegations, tasks = [], []
for job in spec["jobs"]:
    item = a.item(job["item"])
    for fname in item.functions:
        if "." in fname:
            continue  # a method: nothing module-level stands in for it
        module = importlib.import_module(a.file_of(fname)[:-3].replace("/", "."))
        original = getattr(module, fname)
        required = [p for p in inspect.signature(original).parameters.values()
                    if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        holders = [m for m in modules if getattr(m, fname, None) is original]
        depends = score(item, job, holders, fname, original) - score(item, job, holders, fname, perturbed(original))
        for cname, g in candidates.items():
            if g is original or cname.rsplit(".", 1)[-1] in own or not depends:
                continue  # the function itself (an alias), or the student's own: those may call each other
            try:
                inspect.signature(getattr(g, "py_func", g)).bind(*range(len(required)))
            except (TypeError, ValueError):
                continue
            delegations.append((item.name, fname, cname, depends))
            tasks.append(functools.partial(score, item, job, holders, fname, g))
found = [[item, fname, cname, sorted(gained & depends)]
         for (item, fname, cname, depends), gained in zip(delegations, scored_in_children(tasks)) if gained & depends]
tried = len(tasks)
print(json.dumps({"found": found, "tried": tried}))
'''


def delegations_that_score(name, tmp_path):
    a = manifest.load(name)
    with Grader(a, isolation="submission") as g:
        tree = tmp_path / "tree"
        shutil.copytree(g.base, tree)
        for path in a.submit:  # the honest student: every block of the assignment written
            (tree / path).write_text(markers.fill_stubs((tree / path).read_text(), (ROOT / path).read_text(), path,
                                                    {f for fs in a.strip.values() for f in fs}))
        jobs = []
        for item in a.items:
            job = {"item": item.name, "labels": sorted(g.seeds), "inputs": {}, "refs": {}}
            for label in g.seeds:
                for kind, values in (("inputs", g.inputs[item.name, label]), ("refs", g.reference[item.name, label])):
                    path = tmp_path / f"{item.name}.{label}.{kind}.npz"
                    np.savez(path, **{k: np.asarray(v) for k, v in values.items()})
                    job[kind][label] = str(path)
            jobs.append(job)
        (tmp_path / "spec.json").write_text(json.dumps({"assignment": name, "jobs": jobs}))
        for d in (".home", ".tmp"):
            (tmp_path / d).mkdir(exist_ok=True)
        # A compiled kernel called with another function's arguments must raise, not write out of bounds
        # (that corrupted the heap and killed the search): Numba's bounds checks on, in a cache of its own.
        env = dict(child_env(tmp_path), NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / ".numba"))
        run = subprocess.run([sys.executable, "-I", "-c", HARNESS, str(tree), str(tmp_path / "spec.json")],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", manifest.names())
def test_no_shipped_function_stands_in_for_a_graded_one(name, tmp_path):
    result = delegations_that_score(name, tmp_path)
    assert result["tried"] > 0
    assert result["found"] == [], "\n".join(f"{item}: {f} <- {g} scores {parts}" for item, f, g, parts in result["found"])


def test_the_search_finds_a_shortcut_when_one_is_shipped(tmp_path, monkeypatch):
    """With no shortcut stubbed (as at ed53f3c), the search finds what that grader gave full marks for:
    max_pool_forward standing in for the naive pooling, relu_backward_from_output for relu_backward."""
    monkeypatch.setattr(manifest, "load", lambda n, fn="": dataclasses.replace(_load(n), shortcuts={}))
    result = delegations_that_score("layers", tmp_path)
    pairs = {(f, g.rsplit(".", 1)[-1]) for _, f, g, _ in result["found"]}
    assert ("max_pool_forward_naive", "max_pool_forward") in pairs
    assert ("relu_backward", "relu_backward_from_output") in pairs


_load = manifest.load


def _scored_in_children():
    namespace = {}
    exec(ISOLATION, namespace)
    return namespace["scored_in_children"]


def _crashing(how):
    """A candidate that kills the process it runs in the way native code does, leaving no core file."""
    def candidate(*_):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        faulthandler.disable()  # pytest's traceback dump on the signal: noise here
        how()
    return candidate


def test_a_candidate_that_kills_its_child_earns_nothing_and_the_search_goes_on():
    """A search for what stands in for max_pool_forward_naive: a candidate that aborts and one that
    segfaults are each scored as earning nothing, and the real twin tried after them is still found."""
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    reference = max_pool_forward_naive(x, pool_param)[0]

    def task(g):
        return lambda: {"out"} if rel_error(g(x, pool_param)[0], reference) < 1e-12 else set()

    candidates = [_crashing(os.abort), lambda x, p: (-x, None), _crashing(lambda: os.kill(os.getpid(), signal.SIGSEGV)),
                  max_pool_forward]
    assert _scored_in_children()([task(g) for g in candidates]) == [set(), set(), set(), {"out"}]


def test_candidates_share_a_child_until_one_kills_it():
    """Many candidates are scored in one child (what they compile carries over); the one after a crash
    gets a fresh child."""
    def pid():
        return {str(os.getpid())}

    results = _scored_in_children()([pid, pid, _crashing(os.abort), pid, pid])
    assert results[0] == results[1] != results[3] == results[4]
    assert results[2] == set() and str(os.getpid()) not in results[0] | results[3]


def test_a_candidate_killed_by_an_earlier_ones_damage_is_scored_again_in_a_fresh_child():
    """A candidate that left the child broken (as a write out of bounds can) must not cost the next
    one its score: the one the child died on is run again first in a fresh child."""
    damaged = []

    def corrupts():
        damaged.append(True)
        return set()

    def sound():
        if damaged:
            _crashing(os.abort)()
        return {"dx"}

    assert _scored_in_children()([corrupts, sound]) == [set(), {"dx"}]
