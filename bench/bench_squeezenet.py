"""SqueezeNet 1.1 timings: forward, and forward + input gradient, npnet beside PyTorch CPU.

    python bench/bench_squeezenet.py                 # 1 and 2 threads, N in {1, 8}, 224 and 192 px
    python bench/bench_squeezenet.py --threads 2     # one thread count, in this process

Prints, does not assert. Each thread count runs in a fresh subprocess because BLAS and PyTorch fix
their thread pools at start-up. Times are the median (and minimum) of ``--repeats`` runs after a
warm-up; "peak MB" is the largest amount of NumPy memory alive during one forward + backward
(tracemalloc), and "rss MB" the process's maximum resident set. PyTorch runs when it is importable
(the ../shared/reference model with the same weights); it is never needed.
"""
import argparse
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
from timing import median_min_ms  # bench/timing.py; the script folder is on sys.path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")



def npnet_runs(x, repeats):
    from npnet.models import squeezenet1_1

    model = squeezenet1_1()
    dscores = np.zeros((x.shape[0], 1000), np.float32)
    dscores[:, 0] = 1

    def fwd():
        model.forward(x)

    def fwd_bwd():
        model.forward(x)
        model.backward(dscores)

    tracemalloc.start()
    fwd_bwd()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return median_min_ms(fwd, repeats), median_min_ms(fwd_bwd, repeats), peak


def torch_runs(x, repeats, shared):
    try:
        import torch
    except ImportError:
        return None
    sys.path.insert(0, str(shared / "reference"))
    from torch_squeezenet import load

    model = load(str(shared / "weights" / "squeezenet1_1.npz"))
    xt = torch.from_numpy(x)

    def fwd():
        with torch.no_grad():
            model(xt)

    def fwd_bwd():
        xg = xt.clone().requires_grad_(True)
        model(xg)[:, 0].sum().backward()

    return median_min_ms(fwd, repeats), median_min_ms(fwd_bwd, repeats)


def run_here(threads, repeats, shared):
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    for n in (1, 8):
        for size in (224, 192):
            x = rng.standard_normal((n, 3, size, size)).astype(np.float32)
            (f_med, f_min), (fb_med, fb_min), peak = npnet_runs(x, repeats)
            line = (f"{threads:>7} | {n:>2} | {size:>4} | {f_med:8.1f} {f_min:7.1f} | {fb_med:8.1f} {fb_min:7.1f}"
                    f" | {peak:7.1f}")
            ref = torch_runs(x, repeats, shared)
            if ref is not None:
                (tf, _), (tfb, _) = ref
                line += f" | {tf:7.1f} {tfb:8.1f} | {f_med / tf:5.2f}x {fb_med / tfb:5.2f}x"
            print(line, flush=True)
    import resource
    print(f"        (threads={threads}: rss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="run one thread count in this process")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[1].parent / "shared"))
    args = parser.parse_args()
    if args.threads:
        run_here(args.threads, args.repeats, Path(args.shared))
        return
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; times in ms, median and min")
    print("threads |  N | size | npnet fwd    (min) | fwd+dX     (min) | peak MB | torch fwd fwd+dX | ratio fwd fwd+dX")
    for threads in (1, 2):
        env = dict(os.environ, **{v: str(threads) for v in THREAD_VARS})
        subprocess.run([sys.executable, __file__, "--threads", str(threads), "--repeats", str(args.repeats),
                        "--shared", args.shared], env=env, check=True)


if __name__ == "__main__":
    main()
