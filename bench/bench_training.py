"""Time one training epoch of each MNIST classifier on the sample (4,000 images, batch 100). Prints, never asserts.

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python bench/bench_training.py

For npnet: the FullyConnectedNet and ThreeLayerConvNet recipes through the Solver (40 iterations, no
accuracy checks inside the timed loop) and the MnistJudge through Optimizer steps. The same models in
PyTorch (CPU, one thread) are timed by ``bench/torch_reference.py --bench``: in-process when torch is
importable here, otherwise run it with a PyTorch environment's python and compare the ms/iteration.
"""
import time

import numpy as np

from npnet.data.mnist import get_mnist_data, load_mnist
from npnet.models.classifiers import MnistJudge, mnist_classifier


def solver_epoch(name):
    data = get_mnist_data(flatten=name == "fc")
    model, options = mnist_classifier(name)
    rng = np.random.RandomState(0)
    from npnet.solver import Solver

    solver = Solver(model, {k: v for k, v in data.items() if k != "mean"}, verbose=False, rng=rng,
                    **{**options, "num_epochs": 1})
    iters = data["X_train"].shape[0] // options["batch_size"]
    solver._step(0)  # warm-up: Numba kernels compiled or loaded from their cache
    start = time.perf_counter()
    for t in range(iters):
        solver._step(t + 1)
    return iters, time.perf_counter() - start


def judge_epoch():
    X, y = load_mnist("train")
    judge = MnistJudge()
    judge.fit(X[:100], y[:100], epochs=1)  # warm-up
    start = time.perf_counter()
    judge.fit(X, y, epochs=1)
    return X.shape[0] // 100, time.perf_counter() - start


def main():
    print("npnet, one epoch on the MNIST sample (batch 100):")
    for name, run in (("fc", lambda: solver_epoch("fc")), ("conv", lambda: solver_epoch("conv")),
                      ("judge", judge_epoch)):
        iters, seconds = run()
        print(f"{name:5s} {iters} iterations in {seconds:.2f} s = {1e3 * seconds / iters:.1f} ms/iteration")
    try:
        import torch  # noqa: F401
    except ImportError:
        print("PyTorch is not importable here: run `python bench/torch_reference.py --bench` with a PyTorch "
              "environment for the same models' ms/iteration.")
        return
    import subprocess
    import sys
    from pathlib import Path

    subprocess.run([sys.executable, str(Path(__file__).with_name("torch_reference.py")), "--bench"], check=True)


if __name__ == "__main__":
    main()
