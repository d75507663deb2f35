"""Convolution and pooling layers at SqueezeNet 1.1 and DCGAN shapes: each fast path beside the path
it replaces, interleaved in one process. Prints, never asserts.

    python bench/bench_layers.py [--repeats 20] [--quick]

First the one-off cost of the Numba kernels (compiling them into an empty cache, then loading them
from it, each in a fresh subprocess). Then one table per question; every row times a "before" and an
"after" callable with ``timing.compare`` (interleaved repeats; median and quartiles in ms) and prints
after/before (below 1 = faster):

* kernel threads: the same call on one thread vs split between all cores (``kernels.set_num_threads``;
  BLAS keeps its own setting, so the products around are as in a network);
* max pooling: with argmax (training) vs max-only (``need_argmax=False``, inference);
* bias + ReLU: ``conv_forward`` then ``relu_forward`` vs ``conv_forward(..., relu=True)``;
* batch products: one product per image (``BATCH_GEMM_MAX_PIXELS = 0``) vs the default choice;
* argument checks: their cost per call beside the layer's time.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import timeit

import numpy as np

from npnet import kernels
from npnet.layers import conv as conv_module
from npnet.layers import (conv_backward, conv_forward, conv_transpose_backward, conv_transpose_forward,
                          max_pool_backward, max_pool_forward, relu_forward)
from npnet.layers.pool import _pool_setup
from npnet.models.squeezenet import Fire
from timing import compare, conditions  # bench/timing.py; the script folder is on sys.path

# name, N, (C, H), (F, K), stride, pad
SQUEEZE = [
    ("conv1 3->64 3x3 s2 @224", (3, 224), (64, 3), 2, 0),
    ("fire2 squeeze 64->16 1x1 @55", (64, 55), (16, 1), 1, 0),
    ("fire2 expand 16->64 3x3 @55", (16, 55), (64, 3), 1, 1),
    ("fire4 expand 32->128 3x3 @27", (32, 27), (128, 3), 1, 1),
    ("fire8 expand 64->256 3x3 @13", (64, 13), (256, 3), 1, 1),
]
# The DCGAN of the GAN exercise on MNIST, batch 128: discriminator convs, generator transposed convs.
DCGAN = [
    ("D conv 1->32 5x5 @28", (1, 28), (32, 5), 1, 0),
    ("D conv 32->64 5x5 @12", (32, 12), (64, 5), 1, 0),
]
DCGAN_T = [  # name, (C_in, H), (C_out, K), stride, pad
    ("G convT 128->64 4x4/2 @7", (128, 7), (64, 4), 2, 1),
    ("G convT 64->1 4x4/2 @14", (64, 14), (1, 4), 2, 1),
]
POOL = {"pool_height": 3, "pool_width": 3, "stride": 2, "ceil_mode": True}

FIRST_CALLS = """
import time
t0 = time.perf_counter()
import numpy as np
from npnet.layers import conv_forward, conv_backward, max_pool_forward, max_pool_backward
t1 = time.perf_counter()
x = np.ones((1, 2, 6, 6), np.float32)
out, cache = conv_forward(x, np.ones((2, 2, 3, 3), np.float32), np.ones(2, np.float32), {'stride': 1, 'pad': 1})
t2 = time.perf_counter()
conv_backward(out, cache, weight_grads=False)
t3 = time.perf_counter()
out, cache = max_pool_forward(x, {'pool_height': 3, 'pool_width': 3, 'stride': 2})
max_pool_forward(x, {'pool_height': 3, 'pool_width': 3, 'stride': 2}, need_argmax=False)
t4 = time.perf_counter()
max_pool_backward(out, cache)
t5 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)
"""


def first_call_times():
    """Seconds for import, im2col + bias, col2im, max-pool forwards, backward: cold cache, then warm."""
    with tempfile.TemporaryDirectory() as cache_dir:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
        runs = []
        for _ in range(2):
            res = subprocess.run([sys.executable, "-c", FIRST_CALLS], env=env, check=True,
                                 capture_output=True, text=True)
            runs.append([float(v) for v in res.stdout.split()])
    return runs


class Knob:
    """Run a callable with a module attribute set to a value (e.g. one kernel thread)."""

    def __init__(self, fn, set_value, value):
        self.fn, self.set_value, self.value = fn, set_value, value

    def __call__(self):
        old = self.set_value(self.value)
        try:
            return self.fn()
        finally:
            self.set_value(old)


def _threads(n):
    old = kernels.get_num_threads()
    kernels.set_num_threads(n)
    return old


def _per_image(value):
    old = conv_module.BATCH_GEMM_MAX_PIXELS
    conv_module.BATCH_GEMM_MAX_PIXELS = value
    return old


def row(label, before, after, repeats):
    t = compare({"before": before, "after": after}, repeats)
    b, a = t["before"], t["after"]
    print(f"  {label:<44} {str(b):>20} {str(a):>20} {a.median / b.median:6.2f}")


def header(title, before, after):
    print(f"\n{title}\n  {'':<44} {before:>20} {after:>20} {'after/before':>6}")


def conv_inputs(rng, N, C, H, F, K):
    x = rng.standard_normal((N, C, H, H)).astype(np.float32)
    w = (rng.standard_normal((F, C, K, K)) / np.sqrt(C * K * K)).astype(np.float32)
    return x, w, (0.1 * rng.standard_normal(F)).astype(np.float32)


def layer_cases(rng, batches):
    """(label, fwd, bwd) for SqueezeNet layers at each N in batches, DCGAN layers at N=128."""
    cases = []
    for N in batches:
        for name, (C, H), (F, K), stride, pad in SQUEEZE:
            cases.append((f"{name} N={N}", *_conv_case(rng, N, C, H, F, K, stride, pad)))
        x = np.maximum(rng.standard_normal((N, 64, 111, 111)).astype(np.float32), 0)
        out, cache = max_pool_forward(x, POOL)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        cases.append((f"max-pool 3/2 64ch @111 N={N}", lambda x=x: max_pool_forward(x, POOL),
                      lambda d=dout, c=cache: max_pool_backward(d, c)))
    for name, (C, H), (F, K), stride, pad in DCGAN:
        cases.append((f"{name} N=128", *_conv_case(rng, 128, C, H, F, K, stride, pad)))
    for name, (C, H), (F, K), stride, pad in DCGAN_T:
        x = rng.standard_normal((128, C, H, H)).astype(np.float32)
        w = (rng.standard_normal((C, F, K, K)) / np.sqrt(C * K * K)).astype(np.float32)
        cp = {"stride": stride, "pad": pad}
        out, cache = conv_transpose_forward(x, w, None, cp)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        cases.append((f"{name} N=128", lambda x=x, w=w, cp=cp: conv_transpose_forward(x, w, None, cp),
                      lambda d=dout, c=cache: conv_transpose_backward(d, c)))
    return cases


def _conv_case(rng, N, C, H, F, K, stride, pad):
    x, w, b = conv_inputs(rng, N, C, H, F, K)
    cp = {"stride": stride, "pad": pad}
    out, cache = conv_forward(x, w, b, cp)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    return (lambda: conv_forward(x, w, b, cp)), (lambda: conv_backward(dout, cache))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="interleaved repeats per row (default 20)")
    parser.add_argument("--quick", action="store_true", help="N=1 only, no compile timings")
    args = parser.parse_args(argv)
    reps = args.repeats
    import numba
    print(f"numpy {np.__version__}, numba {numba.__version__}, float32, kernel threads "
          f"{kernels.get_num_threads()} (default), split from {kernels.MIN_SPLIT} elements")
    print(conditions())

    if not args.quick:
        labels = ("import npnet", "im2col+bias", "col2im", "max-pool fwds", "max-pool bwd")
        cold, warm = first_call_times()
        print("\nNumba first calls (s), fresh process each: compile into an empty cache | load from the cache")
        for label, c, h in zip(labels, cold, warm):
            print(f"  {label:<14} {c:8.2f} | {h:6.3f}")

    rng = np.random.default_rng(0)
    batches = (1,) if args.quick else (1, 8)
    cases = layer_cases(rng, batches)
    n_threads = os.cpu_count() or 2

    header("Kernel threads: forward, then backward (ms, median (q1-q3))", "1 thread", f"{n_threads} threads")
    for label, fwd, bwd in cases:
        row(label + " fwd", Knob(fwd, _threads, 1), Knob(fwd, _threads, n_threads), reps)
        row(label + " bwd", Knob(bwd, _threads, 1), Knob(bwd, _threads, n_threads), reps)

    header("Max pooling 3/2 ceil, 64 channels @111: forward", "with argmax", "max only")
    for N in batches:
        x = np.maximum(rng.standard_normal((N, 64, 111, 111)).astype(np.float32), 0)
        row(f"N={N}", lambda: max_pool_forward(x, POOL), lambda: max_pool_forward(x, POOL, need_argmax=False), reps)

    header("Bias + ReLU after the convolution", "conv, relu_forward", "conv relu=True")
    for N in batches:
        for name, (C, H), (F, K), stride, pad in SQUEEZE:
            x, w, b = conv_inputs(rng, N, C, H, F, K)
            cp = {"stride": stride, "pad": pad}
            row(f"{name} N={N}", lambda: relu_forward(conv_forward(x, w, b, cp)[0]),
                lambda: conv_forward(x, w, b, cp, relu=True), reps)

    header("Matrix products: forward + backward", "per image", "chosen")
    for label, fwd, bwd in cases:
        if "pool" in label or label.endswith("N=1"):
            continue  # one image: one product either way

        def both(fwd=fwd, bwd=bwd):
            fwd()
            bwd()
        row(label, Knob(both, _per_image, 0), both, reps)

    print("\nArgument checks, microseconds per call (a SqueezeNet 1.1 forward makes 2 convolution calls, "
          "8 fused Fire calls and 3 pooling calls)")
    x, w, b = conv_inputs(rng, 1, 64, 13, 256, 3)
    cp = {"stride": 1, "pad": 1}
    fire = Fire(64, 16, 64, 64).requires_grad_(False)
    fx = np.zeros((1, 64, 13, 13), np.float32)
    for label, fn in (("conv_forward's checks", lambda: conv_module._conv_setup("conv_forward", x, w, b, cp)),
                      ("a fused Fire's checks", lambda: fire._checked_convs("Fire.forward", fx)),
                      ("max_pool_forward's checks", lambda: _pool_setup("max_pool_forward", x, POOL))):
        n = 20000
        print(f"  {label:<28} {1e6 * timeit.timeit(fn, number=n) / n:6.2f}")


if __name__ == "__main__":
    main()
