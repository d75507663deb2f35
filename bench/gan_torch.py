"""PyTorch port of npnet's three MNIST GANs (npnet/models/gan.py), for reference numbers only.

Runs in a separate venv with torch (never imported by npnet or its tests)::

    /work/torchvenv/bin/python bench/gan_torch.py train --model dc --iters 1000 --images X.npz --out S.npz

Same architectures, losses (BCE with logits / least squares), Adam(lr 1e-3, betas (0.5, 0.999)),
batch 128 and alternating updates as the course's ``run_a_gan``. ``train`` reads the real images
(N, 784) in [-1, 1] from ``--images`` (written by bench/gan_results.py so both frameworks see the same
data), visits them in the same seeded order as npnet, and writes 1,000 samples at every
``--score-every`` iterations plus the losses and the wall time to ``--out``. bench/bench_gan.py imports
:func:`build` to time one iteration beside npnet's in the same process.
"""
import argparse
import os
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

NOISE_DIM = 96


def discriminator():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.LeakyReLU(0.01), nn.Linear(256, 256),
                         nn.LeakyReLU(0.01), nn.Linear(256, 1))


def generator(noise_dim=NOISE_DIM):
    return nn.Sequential(nn.Linear(noise_dim, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                         nn.Linear(1024, 784), nn.Tanh())


def dc_discriminator():
    return nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 5), nn.LeakyReLU(0.01), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 5), nn.LeakyReLU(0.01), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(1024, 1024), nn.LeakyReLU(0.01), nn.Linear(1024, 1))


def dc_generator(noise_dim=NOISE_DIM):
    return nn.Sequential(nn.Linear(noise_dim, 1024), nn.ReLU(), nn.BatchNorm1d(1024),
                         nn.Linear(1024, 7 * 7 * 128), nn.ReLU(), nn.BatchNorm1d(7 * 7 * 128),
                         nn.Unflatten(1, (128, 7, 7)), nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1), nn.ReLU(),
                         nn.BatchNorm2d(64), nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1), nn.Tanh(),
                         nn.Flatten())


def bce_d(real, fake):
    return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))


def bce_g(fake):
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def ls_d(real, fake):
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean()


def ls_g(fake):
    return 0.5 * ((fake - 1) ** 2).mean()


MODELS = {"vanilla": (discriminator, generator, bce_d, bce_g), "ls": (discriminator, generator, ls_d, ls_g),
          "dc": (dc_discriminator, dc_generator, bce_d, bce_g)}


def noise(n):
    return torch.rand(n, NOISE_DIM) * 2 - 1


def build(model):
    make_d, make_g, d_loss_fn, g_loss_fn = MODELS[model]
    D, G = make_d(), make_g()
    D_opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    G_opt = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))

    def step(real):
        n = real.shape[0]
        D_opt.zero_grad()
        fake = G(noise(n)).detach()
        d_loss = d_loss_fn(D(real), D(fake))
        d_loss.backward()
        D_opt.step()
        G_opt.zero_grad()
        g_loss = g_loss_fn(D(G(noise(n))))
        g_loss.backward()
        G_opt.step()
        return d_loss.item(), g_loss.item()

    return D, G, step


def samples(G, n=1000):
    G.eval()
    with torch.no_grad():
        out = G(noise(n)).numpy()
    G.train()
    return out


def cmd_train(args):
    with np.load(args.images) as f:
        images = torch.from_numpy(f["images"].astype(np.float32))
    D, G, step = build(args.model)
    rng = np.random.default_rng(args.seed)
    per_epoch = len(images) // args.batch_size
    result, d_hist, g_hist = {}, [], []
    start = time.perf_counter()
    it = 0
    while it < args.iters:
        order = rng.permutation(len(images))
        for b in range(per_epoch):
            if it == args.iters:
                break
            d, g = step(images[order[b * args.batch_size:(b + 1) * args.batch_size]])
            d_hist.append(d)
            g_hist.append(g)
            it += 1
            if it % args.score_every == 0 or it == args.iters:
                result[f"samples_{it}"] = samples(G)
                result[f"seconds_{it}"] = np.array(time.perf_counter() - start)
                save(args.out, d_loss=np.array(d_hist), g_loss=np.array(g_hist), **result)


def save(path, **arrays):
    """np.savez to ``path`` through a temporary file, so a reader never sees half a file."""
    tmp = f"{path}.partial.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["train"])
    p.add_argument("--model", choices=list(MODELS), default="dc")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--iters", type=int, default=1000)
    p.add_argument("--score-every", type=int, default=250)
    p.add_argument("--images")
    p.add_argument("--out")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    torch.manual_seed(args.seed)
    cmd_train(args)


if __name__ == "__main__":
    main()
