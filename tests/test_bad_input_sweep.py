"""Issue 9 §4: every public function, fed malformed input, ends in a clear error naming itself (or an
honest NaN from a pure layer), never an unclear exception, a silent answer or a crash.

The cases live in tests/bad_input_sweep.py, which runs in a subprocess so that a crash of the
interpreter is counted (as the case after the last one it printed) instead of killing the test run.
The totals are printed (``pytest -s`` shows them) for the hardening report.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bad_input_sweep as sweep

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    env = {**os.environ, "NPNET_OFFLINE": "1", "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1",
           "NPNET_CACHE": str(tmp_path_factory.mktemp("cache"))}
    proc = subprocess.run([sys.executable, str(HERE / "bad_input_sweep.py")], capture_output=True, text=True,
                          cwd=tmp_path_factory.mktemp("sweep"), env=env, timeout=300)
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    totals = next((json.loads(r[0][len("TOTALS "):]) for r in rows if r[0].startswith("TOTALS ")), None)
    crashed = None
    if totals is None:  # the interpreter died: the last RUN line names the case
        last = [r for r in rows if r[0] == "RUN"][-1:]
        crashed = f"{last[0][1]}: {last[0][2]} (exit {proc.returncode}) {proc.stderr[-500:]}" if last else proc.stderr
    results = [r for r in rows if r[0] not in ("RUN",) and not r[0].startswith("TOTALS")]
    return results, totals, crashed


def test_sweep_has_no_crash_unclear_or_silent_outcome(outcomes):
    results, totals, crashed = outcomes
    assert crashed is None, f"crash: {crashed}"
    print("\nbad-input sweep: " + ", ".join(f"{k} {totals[k]}" for k in
                                              ("cases", "clear", "propagated", "unclear", "silent", "broken")) + ", crash 0")
    bad = [r for r in results if r[0] in ("unclear", "silent", "broken")]
    assert not bad, f"{len(bad)} bad outcome(s):\n" + "\n".join("\t".join(r) for r in bad[:40])
    # Enough cases to mean something, and every must-fail case accounted for.
    assert totals["cases"] > 2000
    assert totals["cases"] == sum(totals[k] for k in ("clear", "propagated", "valid", "unclear", "silent", "broken"))


def test_every_public_callable_is_swept_or_skipped_with_a_reason():
    specced = set(sweep.specs(sweep.tiny_squeezenet()))
    missing = []
    for module, name, obj in sweep.public_callables():
        if name in sweep.SKIPPED:
            assert sweep.SKIPPED[name], name
        elif name not in specced and not sweep._required(obj):
            missing.append(f"{module}.{name}")
    assert not missing, f"public names with neither a spec, required arguments nor a reason to skip: {missing}"
    assert not set(sweep.SKIPPED) - {n for _, n, _ in sweep.public_callables()}, "stale SKIPPED entries"


def test_the_classifier_itself_tells_outcomes_apart():
    """The sweep's own judge must be able to fail: each outcome class is produced by a known call."""
    from npnet.errors import NpnetValueError

    def clear(x):
        raise NpnetValueError("clear: x must be positive; got -1")

    def unnamed(x):
        raise ValueError("x must be positive")

    def deep(x):
        return [][x]

    assert sweep.classify(clear, {"x": -1}, ("clear",), True, None)[0] == "clear"
    assert sweep.classify(unnamed, {"x": -1}, ("unnamed",), True, None)[0] == "unclear"
    assert sweep.classify(deep, {"x": 3}, ("deep",), True, None)[0] == "unclear"
    assert sweep.classify(lambda x: abs(x), {"x": -1}, ("f",), True, None)[0] == "silent"
    assert sweep.classify(lambda x: x, {"x": float("nan")}, ("f",), True, "nan")[0] == "propagated"
    assert sweep.classify(lambda x: 0.0, {"x": float("nan")}, ("f",), True, "nan")[0] == "silent"
    assert sweep.classify(clear, {"x": 1}, ("clear",), False, None)[0] == "broken"
