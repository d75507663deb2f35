"""The timing rules the benchmark scripts share.

On a shared 2-core machine the load changes from one second to the next, so timing all of npnet and
then all of PyTorch compares two moments, not two programs (the same code once gave ratios from 0.8
to 48). :func:`compare` interleaves the sides instead: every repeat runs each side once, the order
rotating from repeat to repeat, and each side is reported as the median with its interquartile range.
:func:`conditions` is printed above every table: the load average and the thread and BLAS settings.

    sides = {"npnet": lambda: model.forward(x), "torch": lambda: tmodel(xt)}
    t = compare(sides, repeats=15)
    print(t["npnet"], t["torch"], ratio(t["npnet"], t["torch"]))
"""
import os
import time

# NumPy is imported inside the functions, so that set_threads_from_argv can run before it loads.

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


class Timing:
    """Milliseconds of one side over the repeats: ``median``, ``q1``/``q3`` (quartiles), ``min``."""

    def __init__(self, times_ms):
        import numpy as np

        self.times = np.asarray(times_ms, dtype=float)
        self.median = float(np.median(self.times))
        self.q1, self.q3 = (float(q) for q in np.percentile(self.times, [25, 75]))
        self.min = float(self.times.min())

    def __str__(self):
        return f"{self.median:.1f} ({self.q1:.1f}-{self.q3:.1f})"


def compare(sides, repeats, warmup=1):
    """Time the callables of ``sides`` (name -> fn) interleaved; returns name -> :class:`Timing`.

    Each side is called ``warmup`` times first (compilation, caches, thread pools). Then each of the
    ``repeats`` rounds runs every side in turn, starting at a different side each round so that no
    side always follows the same neighbour: one untimed call, then one timed call.

    The untimed call matters with threads. OpenBLAS, PyTorch's OpenMP and ONNX Runtime keep their
    worker threads spinning for a while after their work ends, and put them to sleep later; a side
    timed right after another library ran on cores that library's threads still held (on 2 threads on
    a quiet machine, npnet's SqueezeNet N=1 forward took 14.8 ms right after PyTorch or ONNX Runtime
    against 6.4 ms after itself), and a side timed after a pause paid for waking its own threads
    (PyTorch's GAN step: 19 or 38 ms). After one call of its own, each side is timed as it runs in a
    loop, which is how these workloads run.
    """
    names = list(sides)
    for name in names:
        for _ in range(warmup):
            sides[name]()
    times = {name: [] for name in names}
    for r in range(repeats):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            sides[name]()
            start = time.perf_counter()
            sides[name]()
            times[name].append(1e3 * (time.perf_counter() - start))
    return {name: Timing(t) for name, t in times.items()}


def median_min_ms(fn, repeats):
    """(median, min) milliseconds of ``fn()`` over ``repeats`` calls after one warm-up call."""
    t = compare({"fn": fn}, repeats)["fn"]
    return t.median, t.min


def ratio(a, b):
    """``a.median / b.median`` as text, e.g. ``0.74x``."""
    return f"{a.median / b.median:.2f}x"


def conditions():
    """One line: load average, cores, and the thread/BLAS variables that change the figures."""
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    env = " ".join(f"{v}={os.environ[v]}" for v in THREAD_VARS + ("OPENBLAS_CORETYPE",) if v in os.environ)
    return f"load average {load} on {os.cpu_count()} cores; {env or 'no thread variables set'}"


def thread_env(threads):
    """``os.environ`` with every thread-count variable set to ``threads`` (for a subprocess)."""
    return dict(os.environ, **{v: str(threads) for v in THREAD_VARS})


def optional_torch(threads=None):
    """PyTorch if it is importable (never needed: only a reference), with ``threads`` threads; else None."""
    try:
        import torch
    except ImportError:
        return None
    if threads is not None:
        torch.set_num_threads(threads)
    return torch


def shared_folder():
    """The shared folder holding reference/ and weights/: the parent of ``NPNET_DATA`` when that is
    set (``NPNET_DATA=/work/shared/data``), else ``../shared`` beside the repository."""
    from pathlib import Path

    data = os.environ.get("NPNET_DATA")
    return Path(data).resolve().parent if data else Path(__file__).resolve().parents[2] / "shared"


def torch_squeezenet(threads=None):
    """``(torch, model)``: the reference PyTorch SqueezeNet 1.1 with npnet's weights (shared/reference), or
    ``(None, None)`` when torch or the reference file is missing."""
    import sys

    torch = optional_torch(threads)
    shared = shared_folder()
    if torch is None or not (shared / "reference" / "torch_squeezenet.py").is_file():
        return None, None
    sys.path.insert(0, str(shared / "reference"))
    from torch_squeezenet import load

    return torch, load(str(shared / "weights" / "squeezenet1_1.npz"))


def set_threads_from_argv(default=2):
    """Set every thread variable to ``--threads N`` of the command line (default ``default``) unless
    already set; must run before NumPy is imported, since the BLAS sizes its pool when it loads."""
    import sys

    threads = str(default)
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            threads = sys.argv[i + 1]
        elif arg.startswith("--threads="):
            threads = arg.split("=", 1)[1]
    for var in THREAD_VARS:
        os.environ.setdefault(var, threads)
    return int(os.environ["OPENBLAS_NUM_THREADS"])
