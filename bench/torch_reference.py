"""The MNIST classifiers of npnet's recipes, trained in PyTorch: reference accuracies and timings.

    /path/to/torch-venv/bin/python bench/torch_reference.py [--model fc|conv|judge|all] [--seed 0] [--bench]

Needs only torch and numpy (not npnet's other dependencies): the data comes from npnet.data.mnist, the
same seeded 4,000/1,000 split of the MNIST sample (``NPNET_DATA`` must point at the data folder).
The models, initialisation distribution, preprocessing and recipe are those of
``npnet.models.classifiers.MNIST_RECIPES`` (copied here as plain numbers so that this script does not
import the rest of npnet): weights ``weight_scale * N(0, 1)``, zero biases, L2 ``0.5 * reg * sum(W**2)``,
Adam, learning rate x0.9 per epoch, minibatches drawn with replacement by ``RandomState(seed).choice``,
held-out accuracy measured after the first iteration and after every epoch, best one reported (as the
npnet Solver restores its best parameters). ``--bench`` times one epoch per model instead (ms/iteration).
Prints, never asserts; not imported by the tests.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from npnet.data.mnist import get_mnist_data  # noqa: E402  (numpy only)

RECIPES = {  # = npnet.models.classifiers.MNIST_RECIPES
    "fc": dict(weight_scale=5e-2, reg=3e-3, lr=1e-3, decay=0.9, batch=100, epochs=20),
    "conv": dict(weight_scale=1e-2, reg=1e-3, lr=1e-3, decay=0.9, batch=100, epochs=15),
}


class Affine(nn.Module):
    """CS231n's affine layer: w (D, M) ~ weight_scale * N(0, 1), b = 0."""

    def __init__(self, d, m, scale):
        super().__init__()
        self.w = nn.Parameter(scale * torch.randn(d, m))
        self.b = nn.Parameter(torch.zeros(m))

    def forward(self, x):
        return x.reshape(len(x), -1) @ self.w + self.b


def fully_connected(scale):
    return nn.Sequential(Affine(784, 512, scale), nn.ReLU(), Affine(512, 256, scale), nn.ReLU(),
                         Affine(256, 10, scale))


def three_layer_convnet(scale):
    conv = nn.Conv2d(1, 32, 7, padding=3)
    with torch.no_grad():
        conv.weight.copy_(scale * torch.randn(conv.weight.shape))
        conv.bias.zero_()
    return nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), Affine(32 * 14 * 14, 100, scale), nn.ReLU(),
                         Affine(100, 10, scale))


def judge():
    # npnet.models.classifiers.MnistJudge, PyTorch's default initialisation
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def weights(net):
    return [p for n, p in net.named_parameters() if n.endswith("w") or (p.ndim == 4)]


def accuracy(net, X, y):
    net.eval()
    with torch.no_grad():
        hits = sum(int((net(X[i:i + 500]).argmax(1) == y[i:i + 500]).sum()) for i in range(0, len(X), 500))
    net.train()
    return hits / len(X)


def train(name, seed, bench=False):
    r = RECIPES[name]
    data = get_mnist_data(seed=seed, flatten=name == "fc")
    X, y = torch.tensor(data["X_train"]), torch.tensor(data["y_train"])
    Xv, yv = torch.tensor(data["X_val"]), torch.tensor(data["y_val"])
    torch.manual_seed(seed)
    net = fully_connected(r["weight_scale"]) if name == "fc" else three_layer_convnet(r["weight_scale"])
    opt = torch.optim.Adam(net.parameters(), lr=r["lr"])
    sched = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=r["decay"])
    rng = np.random.RandomState(seed)
    per_epoch = len(X) // r["batch"]
    epochs = 1 if bench else r["epochs"]
    history, start = [], time.perf_counter()
    for t in range(epochs * per_epoch):
        idx = torch.from_numpy(rng.choice(len(X), r["batch"]))
        loss = nn.functional.cross_entropy(net(X[idx]), y[idx])
        loss = loss + 0.5 * r["reg"] * sum((w * w).sum() for w in weights(net))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (t + 1) % per_epoch == 0:
            sched.step()
        if not bench and (t == 0 or (t + 1) % per_epoch == 0):
            history.append(accuracy(net, Xv, yv))
    seconds = time.perf_counter() - start
    return history, seconds, epochs * per_epoch


def train_judge(seed, bench=False):
    from npnet.data.mnist import load_mnist

    X, y = (torch.tensor(a) for a in load_mnist("train", seed=seed))
    Xv, yv = (torch.tensor(a) for a in load_mnist("test", seed=seed))
    torch.manual_seed(seed)
    net = judge()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    rng = np.random.default_rng(seed)
    epochs, iters, start = (1 if bench else 8), 0, time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(len(X))
        for i in range(0, len(X) - 99, 100):
            xb = X[order[i:i + 100]]
            # the same +-2 pixel random translation as MnistJudge.fit
            padded = nn.functional.pad(xb, (2, 2, 2, 2))
            dy, dx = rng.integers(0, 5, (2, len(xb)))
            xb = torch.stack([padded[j, :, dy[j]:dy[j] + 28, dx[j]:dx[j] + 28] for j in range(len(xb))])
            loss = nn.functional.cross_entropy(net(xb), y[order[i:i + 100]])
            opt.zero_grad()
            loss.backward()
            opt.step()
            iters += 1
        if epoch % 2 == 1:
            for g in opt.param_groups:
                g["lr"] *= 0.5
    seconds = time.perf_counter() - start
    return ([] if bench else [accuracy(net, Xv, yv)]), seconds, iters


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["fc", "conv", "judge", "all"], default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bench", action="store_true", help="time one epoch (ms/iteration) instead of training")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as npnet's benchmarks)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    for name in (["fc", "conv", "judge"] if args.model == "all" else [args.model]):
        history, seconds, iters = (train_judge if name == "judge" else lambda s, b: train(name, s, b))(args.seed,
                                                                                                       args.bench)
        if args.bench:
            print(f"{name:5s} one epoch: {iters} iterations in {seconds:.2f} s = {1e3 * seconds / iters:.1f} ms/iteration")
        else:
            print(f"{name:5s} held-out accuracy best {max(history):.2%}, final {history[-1]:.2%} "
                  f"({iters} iterations, {seconds:.0f} s; per measurement: {' '.join(f'{a:.3f}' for a in history)})")


if __name__ == "__main__":
    main()
