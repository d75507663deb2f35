"""GAN training-iteration timings (batch 128): npnet beside the PyTorch port, for the three models.

    python bench/bench_gan.py                    # 2 threads, 5 repeats
    python bench/bench_gan.py --threads 1 --repeats 10

Prints, does not assert. One iteration is one discriminator step and one generator step
(:func:`npnet.models.gan.gan_step`; the same in bench/gan_torch.py). The thread count is fixed for BLAS,
Numba and PyTorch before either starts, by running each side in a fresh subprocess. PyTorch runs when
``--torch-python`` (default /work/torchvenv/bin/python, or $TORCH_PYTHON) exists; it is never needed.
Target of issue 11: the DCGAN iteration within 1.5x of PyTorch on 2 cores.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from timing import median_min_ms  # bench/timing.py; the script folder is on sys.path

HERE = Path(__file__).resolve().parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def npnet_iteration_ms(model, batch_size, repeats):
    from npnet.models import gan

    make_d, make_g, d_loss, g_loss = gan.MODELS[model]
    D, G = make_d(seed=0).train(), make_g(seed=1).train()
    d_opt, g_opt = gan.get_solver(D), gan.get_solver(G)
    real = np.random.default_rng(0).uniform(-1, 1, (batch_size, gan.IMAGE_DIM)).astype(np.float32)
    rng = np.random.default_rng(1)
    return median_min_ms(lambda: gan.gan_step(D, G, d_opt, g_opt, real, d_loss, g_loss, rng), repeats)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--models", nargs="+", default=["vanilla", "ls", "dc"])
    p.add_argument("--here", action="store_true", help=argparse.SUPPRESS)  # the npnet side, in a subprocess
    p.add_argument("--torch-python", default=os.environ.get("TORCH_PYTHON", "/work/torchvenv/bin/python"))
    args = p.parse_args()
    if args.here:
        for model in args.models:
            print(*npnet_iteration_ms(model, args.batch_size, args.repeats))
        return 0
    env = dict(os.environ, BENCH_THREADS=str(args.threads), **{v: str(args.threads) for v in THREAD_VARS})
    common = ["--repeats", str(args.repeats), "--batch-size", str(args.batch_size)]
    ours = subprocess.run([sys.executable, __file__, "--here", "--models", *args.models, *common], env=env,
                          check=True, capture_output=True, text=True).stdout.split("\n")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {args.threads} thread(s), "
          f"batch {args.batch_size}; ms per iteration (D step + G step), median and min of {args.repeats}")
    print("model   | npnet    (min) | torch    (min) | npnet / torch")
    for model, line in zip(args.models, ours):
        med, low = map(float, line.split())
        row = f"{model:7s} | {med:7.0f} {low:6.0f} |"
        if Path(args.torch_python).exists():
            ref = subprocess.run([args.torch_python, str(HERE / "gan_torch.py"), "time", "--model", model, *common],
                                 env=env, check=True, capture_output=True, text=True).stdout.split()
            t_med, t_low = map(float, ref)
            row += f" {t_med:7.0f} {t_low:6.0f} | {med / t_med:5.2f}x"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
