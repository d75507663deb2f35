"""Where SqueezeNet 1.1's time goes: a per-op breakdown of the forward pass and the input-gradient
backward pass (pretrained, frozen weights, float32, 224x224), for N=1 and N=8.

    python bench/profile_squeezenet.py                  # 2 threads (a subprocess with the thread variables)
    python bench/profile_squeezenet.py --threads 1 --repeats 30

Every function that does one kind of work is wrapped by a timer while the script runs: the matrix
products (``np.matmul`` as the layer modules see it), im2col/col2im, max pooling, ReLU, concatenation,
the argument checks (those of ``npnet._check``, the layers' own check helpers such as ``_conv_setup``,
and the Fire module's check of its convolutions), and the layer functions themselves, whose own time
(minus the wrapped calls inside them) is the bias add, reshapes and copies. Times are exclusive: a check
inside ``relu_forward`` counts as a check, not as ReLU. "max pool" includes the ReLU gate of a Fire
module below a pooling, which ``relu_max_pool_backward`` applies in the same pass. What no wrapper sees
(module dispatch, ``Sequential``) is the "Python glue" row. The wrappers cost a few microseconds per
call; the uninstrumented time is printed beside the instrumented one. Numbers are medians over the
repeats. Because the wrappers inflate the many small check calls most, the checks' cost is also
measured without them: the outermost check calls of one forward pass, replayed alone.
"""
import argparse
import importlib
import subprocess
import sys
import time
from collections import defaultdict

import numpy as np
from timing import conditions, thread_env  # bench/timing.py; the script folder is on sys.path

# Function name -> category, wrapped wherever one of LAYER_MODULES has an attribute of that name.
CATEGORIES = {
    "matmul": "GEMM", "_matmul": "GEMM", "_sum_outer": "GEMM",
    "_im2col": "im2col", "_col2im": "col2im",
    "max_pool_forward": "max pool", "max_pool_backward": "max pool", "relu_max_pool_backward": "max pool",
    "relu_forward": "ReLU", "relu_backward": "ReLU backward", "relu_backward_from_output": "ReLU backward",
    "_bias_relu": "bias + ReLU",
    "concat_forward": "concat", "concat_backward": "concat",
    "conv_forward": "bias/reshape", "conv_backward": "bias/reshape", "_conv_without_columns": "bias/reshape",
    # the layers' own check helpers (the checks of npnet._check are wrapped as well, see instrument)
    "_conv_setup": "argument checks", "_bias": "argument checks", "_output": "argument checks",
    "fast_dtype": "argument checks", "_backend": "argument checks", "_pool_setup": "argument checks",
    "global_avg_pool_forward": "global avg pool", "global_avg_pool_backward": "global avg pool",
    "dropout_forward": "dropout", "dropout_backward": "dropout",
}
LAYER_MODULES = ("npnet.nn", "npnet.models.squeezenet", "npnet.layers.conv", "npnet.layers.pool",
                 "npnet.layers.activations")
ORDER = ("GEMM", "max pool", "ReLU", "ReLU backward", "bias + ReLU", "bias/reshape", "im2col", "col2im",
         "concat", "argument checks", "global avg pool", "dropout", "Python glue")


class Clock:
    """Exclusive time per category: a call's time minus the time of wrapped calls inside it."""

    def __init__(self):
        self.totals = defaultdict(float)
        self.stack = []

    def wrap(self, fn, category):
        def timed(*args, **kwargs):
            self.stack.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = self.stack.pop()
                self.totals[category] += elapsed - inner
                if self.stack:
                    self.stack[-1] += elapsed
        timed.__wrapped__ = fn
        return timed


class NumpyWith:
    """``numpy`` with a few attributes replaced; stands in for a module's ``np`` name."""

    def __init__(self, **replaced):
        self.__dict__.update(replaced)

    def __getattr__(self, name):
        return getattr(np, name)


def _targets():
    """(owner, name, category) of every function the profile wraps: those of CATEGORIES in the layer
    modules, the Fire module's check of its convolutions, and every public check of npnet._check."""
    for modname in LAYER_MODULES:
        mod = importlib.import_module(modname)
        for name, category in CATEGORIES.items():
            if name != "matmul" and callable(getattr(mod, name, None)):
                yield mod, name, category
    yield importlib.import_module("npnet.models.squeezenet").Fire, "_checked_convs", "argument checks"
    checks = importlib.import_module("npnet._check")
    for name in dir(checks):
        value = getattr(checks, name)
        if not name.startswith("_") and callable(value) and getattr(value, "__module__", "") == checks.__name__:
            yield checks, name, "argument checks"


def _patch(targets, wrapper):
    """Replace each target by ``wrapper(function, category)``; returns the undo list."""
    undo = []
    for owner, name, category in targets:
        value = getattr(owner, name)
        undo.append((owner, name, value))
        setattr(owner, name, wrapper(value, category))
    return undo


def _restore(undo):
    for owner, name, value in reversed(undo):
        setattr(owner, name, value)


def instrument(clock):
    """Wrap every target (see _targets) and ``np.matmul`` as the layer modules see it; returns an undo list."""
    undo = _patch(_targets(), clock.wrap)
    for modname in LAYER_MODULES:
        mod = importlib.import_module(modname)
        if getattr(mod, "np", None) is np:
            undo.append((mod, "np", np))
            mod.np = NumpyWith(matmul=clock.wrap(np.matmul, "GEMM"))
    return undo


def check_cost(model, x, repeats=200):
    """The argument checks of one forward pass without the wrappers' own cost: the outermost check
    calls of one pass are recorded with their arguments, then run again alone with the real functions.
    Returns milliseconds per forward pass (the median of ``repeats`` replays)."""
    calls, depth = [], [0]

    def recorder(fn, category):
        def record(*args, **kwargs):
            if depth[0] == 0:
                calls.append((fn, args, kwargs))
            depth[0] += 1
            try:
                return fn(*args, **kwargs)
            finally:
                depth[0] -= 1
        return record

    undo = _patch(((o, n, c) for o, n, c in _targets() if c == "argument checks"), recorder)
    try:
        model.forward(x)
    finally:
        _restore(undo)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for fn, args, kwargs in calls:
            fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times)), len(calls)


def profile(model, x, dscores, repeats):
    """Median uninstrumented times and per-category medians for the forward and the backward pass."""
    plain = {"forward": [], "backward": []}
    for _ in range(repeats + 1):
        start = time.perf_counter()
        model.forward(x)
        mid = time.perf_counter()
        model.backward(dscores)
        plain["forward"].append(mid - start)
        plain["backward"].append(time.perf_counter() - mid)
    clock = Clock()
    undo = instrument(clock)
    runs = {"forward": [], "backward": []}
    try:
        for r in range(repeats + 1):
            for phase, call in (("forward", lambda: model.forward(x)), ("backward", lambda: model.backward(dscores))):
                clock.totals.clear()
                start = time.perf_counter()
                call()
                total = time.perf_counter() - start
                clock.totals["Python glue"] = total - sum(clock.totals.values())
                clock.totals["total"] = total
                if r:  # the first round warms up
                    runs[phase].append(dict(clock.totals))
    finally:
        _restore(undo)
    result = {}
    for phase, rows in runs.items():
        cats = {c for row in rows for c in row}
        result[phase] = (1e3 * float(np.median(plain[phase][1:])),
                         {c: 1e3 * float(np.median([row.get(c, 0.0) for row in rows])) for c in cats})
    return result


def print_table(n, result):
    for phase, (plain_ms, cats) in result.items():
        total = cats.pop("total")
        print(f"\nN={n} {phase}: {plain_ms:.1f} ms uninstrumented, {total:.1f} ms instrumented")
        print(f"  {'op':<18} {'ms':>7} {'%':>6}")
        for c in sorted(cats, key=lambda c: ORDER.index(c) if c in ORDER else len(ORDER)):
            if cats[c] >= 0.005:
                print(f"  {c:<18} {cats[c]:7.2f} {100 * cats[c] / total:5.1f}%")


def run_here(threads, repeats, sizes):
    from npnet.models import squeezenet1_1

    print(conditions())
    model = squeezenet1_1()
    rng = np.random.default_rng(0)
    for n in sizes:
        x = rng.standard_normal((n, 3, 224, 224)).astype(np.float32)
        dscores = np.zeros((n, 1000), np.float32)
        dscores[:, 0] = 1
        result = profile(model, x, dscores, repeats)
        print_table(n, result)
        ms, calls = check_cost(model, x)
        print(f"  argument checks without the wrappers: {calls} outermost check calls per forward pass "
              f"replayed alone take {ms:.3f} ms, {100 * ms / result['forward'][0]:.2f}% of the forward")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 8], help="batch sizes N")
    parser.add_argument("--here", action="store_true", help="run in this process (thread variables already set)")
    args = parser.parse_args()
    if args.here:
        run_here(args.threads, args.repeats, args.sizes)
        return
    # BLAS and Numba fix their thread counts at start-up, so the profile runs in a fresh process.
    subprocess.run([sys.executable, __file__, "--here", "--threads", str(args.threads), "--repeats",
                    str(args.repeats), "--sizes", *map(str, args.sizes)], env=thread_env(args.threads), check=True)


if __name__ == "__main__":
    main()
