"""GAN training-iteration timings (batch 128): npnet beside the PyTorch port, for the three models.

    PYTHONPATH=. /work/torchvenv/bin/python bench/bench_gan.py                # 2 threads, 15 repeats
    PYTHONPATH=. /work/torchvenv/bin/python bench/bench_gan.py --threads 1 --models dc
    python bench/bench_gan.py --profile dc                                   # npnet's per-op breakdown

Prints, does not assert. One iteration is one discriminator step and one generator step
(:func:`npnet.models.gan.gan_step`; the same in bench/gan_torch.py, imported here), on the same batch
of real images. The two frameworks run in one process, interleaved repeat by repeat
(``timing.compare``), so both see the same load; the table gives medians, quartiles and the ratio of
the medians, under the load average and thread settings. Thread pools are sized when the libraries
load, so the script restarts itself with every thread variable set to ``--threads``. PyTorch is used
when importable (never required). ``--profile MODEL`` runs cProfile over npnet iterations and prints
the functions that take the most time of their own.

Target of issue 11: the DCGAN iteration within 1.5x of PyTorch on 2 cores.
"""
import argparse
import cProfile
import os
import pstats
import sys

import numpy as np
from timing import compare, conditions, optional_torch, ratio, thread_env  # bench/timing.py

BATCH = 128


def npnet_step(model, real):
    """A function running one npnet training iteration of ``model`` on ``real`` (N, 784)."""
    from npnet.models import gan

    make_d, make_g, d_loss, g_loss = gan.MODELS[model]
    D, G = make_d(seed=0).train(), make_g(seed=1).train()
    d_opt, g_opt = gan.get_solver(D), gan.get_solver(G)
    rng = np.random.default_rng(1)
    return lambda: gan.gan_step(D, G, d_opt, g_opt, real, d_loss, g_loss, rng)


def torch_step(torch, model, real):
    """The same iteration in the PyTorch port (bench/gan_torch.py)."""
    import gan_torch

    torch.manual_seed(0)
    _, _, step = gan_torch.build(model)
    real = torch.from_numpy(real)
    return lambda: step(real)


def profile(model, real, iterations, top):
    step = npnet_step(model, real)
    step()  # compilation and first-call allocations are not what we look at
    prof = cProfile.Profile()
    prof.runcall(lambda: [step() for _ in range(iterations)])
    print(f"npnet {model}: {iterations} iterations, functions by their own time (cProfile)")
    pstats.Stats(prof, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(top)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--models", nargs="+", choices=["vanilla", "ls", "dc"], default=["vanilla", "ls", "dc"])
    p.add_argument("--profile", choices=["vanilla", "ls", "dc"], help="profile npnet on this model instead")
    p.add_argument("--iterations", type=int, default=5, help="iterations to profile (with --profile)")
    p.add_argument("--top", type=int, default=25, help="functions to list (with --profile)")
    args = p.parse_args()
    if os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads) \
            or os.environ.get("NUMBA_NUM_THREADS") != str(args.threads):
        os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], thread_env(args.threads))

    real = np.random.default_rng(0).uniform(-1, 1, (BATCH, 28 * 28)).astype(np.float32)
    print(conditions())
    if args.profile:
        profile(args.profile, real, args.iterations, args.top)
        return 0
    torch = optional_torch(args.threads)
    print(f"ms per iteration (D step + G step), batch {BATCH}, {args.threads} thread(s): median (quartiles) "
          f"of {args.repeats} interleaved repeats" + ("" if torch else "; PyTorch is not importable here"))
    print(f"{'model':7s} | {'npnet':>20s} | {'PyTorch':>20s} | npnet / PyTorch")
    for model in args.models:
        sides = {"npnet": npnet_step(model, real)}
        if torch is not None:
            sides["torch"] = torch_step(torch, model, real)
        t = compare(sides, args.repeats, warmup=2)
        row = f"{model:7s} | {str(t['npnet']):>20s} |"
        if torch is not None:
            row += f" {str(t['torch']):>20s} | {ratio(t['npnet'], t['torch'])}"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
