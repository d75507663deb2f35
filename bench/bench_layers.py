"""Time the convolution and pooling layers at SqueezeNet 1.1 shapes (N=1, float32). Prints, never asserts.

    python bench/bench_layers.py [--repeats 30]

First the one-off cost of the Numba kernels: compiling them into an empty cache, then loading them
from that cache, each measured in a fresh subprocess. Then the steady state (median and minimum of
``--repeats`` calls after one warm-up call) of forward, backward for dx only (frozen weights) and full
backward, for the Numba and NumPy-only im2col paths.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

from npnet.layers import conv_backward, conv_forward, max_pool_backward, max_pool_forward
from timing import median_min_ms  # bench/timing.py; the script folder is on sys.path

# name, (C, H), (F, K), stride, pad
CONVS = [
    ("conv1 3->64 3x3 s2 @224", (3, 224), (64, 3), 2, 0),
    ("fire2 squeeze 64->16 1x1 @55", (64, 55), (16, 1), 1, 0),
    ("fire2 expand 16->64 3x3 @55", (16, 55), (64, 3), 1, 1),
    ("fire4 expand 32->128 3x3 @27", (32, 27), (128, 3), 1, 1),
    ("fire6 expand 48->192 3x3 @13", (48, 13), (192, 3), 1, 1),
    ("fire8 expand 64->256 3x3 @13", (64, 13), (256, 3), 1, 1),
]

# Compiles (or loads) every kernel for float32, timing each first call; run in a subprocess.
FIRST_CALLS = """
import time
t0 = time.perf_counter()
import numpy as np
from npnet.layers import conv_forward, conv_backward, max_pool_forward, max_pool_backward
t1 = time.perf_counter()
x = np.ones((1, 2, 6, 6), np.float32)
out, cache = conv_forward(x, np.ones((2, 2, 3, 3), np.float32), None, {'stride': 1, 'pad': 1})
t2 = time.perf_counter()
conv_backward(out, cache, weight_grads=False)
t3 = time.perf_counter()
out, cache = max_pool_forward(x, {'pool_height': 3, 'pool_width': 3, 'stride': 2})
t4 = time.perf_counter()
max_pool_backward(out, cache)
t5 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)
"""


def first_call_times():
    """Seconds for import, im2col, col2im, max-pool forward, backward: cold cache, then warm cache."""
    with tempfile.TemporaryDirectory() as cache_dir:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
        runs = []
        for _ in range(2):
            res = subprocess.run([sys.executable, "-c", FIRST_CALLS], env=env, check=True,
                                 capture_output=True, text=True)
            runs.append([float(v) for v in res.stdout.split()])
    return runs



def conv_rows(repeats, rng):
    for name, (C, H), (F, K), stride, pad in CONVS:
        x = rng.standard_normal((1, C, H, H)).astype(np.float32)
        w = (rng.standard_normal((F, C, K, K)) / np.sqrt(C * K * K)).astype(np.float32)
        b = np.zeros(F, np.float32)
        cp = {"stride": stride, "pad": pad}
        for backend in ("numba", "numpy"):
            out, cache = conv_forward(x, w, b, cp, backend=backend)
            dout = rng.standard_normal(out.shape).astype(np.float32)
            yield (name, backend,
                   median_min_ms(lambda: conv_forward(x, w, b, cp, backend=backend), repeats),
                   median_min_ms(lambda: conv_backward(dout, cache, weight_grads=False), repeats),
                   median_min_ms(lambda: conv_backward(dout, cache), repeats))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per figure (default 30)")
    args = parser.parse_args(argv)
    import numba
    print(f"numpy {np.__version__}, numba {numba.__version__}, {os.cpu_count()} CPUs, float32, N=1")
    load = os.getloadavg()[0]
    if load > 0.5 * os.cpu_count():
        # Threaded BLAS waits for workers that other processes keep off the CPU: times jump to
        # multiples of the scheduler's time slice. OPENBLAS_NUM_THREADS=1 gives stable numbers then.
        print(f"warning: load average {load:.1f} on {os.cpu_count()} CPUs; multithreaded timings will be noisy")

    labels = ("import npnet", "im2col", "col2im", "max-pool fwd", "max-pool bwd")
    cold, warm = first_call_times()
    print("\nNumba first calls (s), fresh process each: compile into an empty cache | load from the cache")
    for label, c, h in zip(labels, cold, warm):
        print(f"  {label:<14} {c:8.2f} | {h:6.3f}")

    rng = np.random.default_rng(0)
    print(f"\nSteady state, ms as median / min of {args.repeats}")
    head = f"{'layer':<30} {'path':<6} | {'forward':>13} | {'backward dx':>13} | {'backward all':>13}"
    print(head)
    print("-" * len(head))
    fmt = lambda t: f"{t[0]:6.2f} /{t[1]:6.2f}"  # noqa: E731
    for name, backend, fwd, bdx, ball in conv_rows(args.repeats, rng):
        print(f"{name:<30} {backend:<6} | {fmt(fwd)} | {fmt(bdx)} | {fmt(ball)}")

    x = rng.standard_normal((1, 64, 111, 111)).astype(np.float32)
    pp = {"pool_height": 3, "pool_width": 3, "stride": 2, "ceil_mode": True}
    out, cache = max_pool_forward(x, pp)
    dout = np.ones_like(out)
    fwd = median_min_ms(lambda: max_pool_forward(x, pp), args.repeats)
    bwd = median_min_ms(lambda: max_pool_backward(dout, cache), args.repeats)
    print(f"{'max-pool 3/2 ceil 64ch @111':<30} {'numba':<6} | {fmt(fwd)} | {fmt(bwd)} |")


if __name__ == "__main__":
    main()
