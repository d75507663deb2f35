"""CLI verb ``npnet gan train | sample``: train one of the course's MNIST GANs, or draw digits from one.

``train`` writes into ``--out``: ``gan_<model>.npz`` (both networks' state_dicts and the model name),
the sample grids ``iter_XXXXX.png`` of :func:`npnet.models.gan.run_a_gan` and ``losses.png``.
``sample`` reads such a checkpoint and writes a grid of new samples; ``--score`` adds the judge's
verdict (fraction of samples an MNIST classifier labels with confidence >= 0.9, label histogram).
"""
from pathlib import Path

import numpy as np

from .. import _check
from .._io import read_npz
from ..data.lookup import atomic_output
from ..errors import FileFormatError, NpnetValueError
from . import gan as gm


def gan_args(p):
    p.add_argument("action", choices=["train", "sample"], help="train a GAN, or sample digits from a trained one")
    p.add_argument("--model", choices=list(gm.MODELS), default="dc",
                   help="train: vanilla GAN, least-squares GAN or DCGAN (default dc)")
    p.add_argument("--iters", type=int, default=1000, help="train: generator/discriminator steps (default 1000)")
    p.add_argument("--batch-size", type=int, default=128, help="train: real images per step (default 128)")
    p.add_argument("--lr", type=float, default=1e-3, help="train: Adam learning rate (default 1e-3, beta1 0.5)")
    p.add_argument("--show-every", type=int, default=250, help="train: steps between sample grids (default 250)")
    p.add_argument("--checkpoint", help="sample: checkpoint written by train (default OUT/gan_MODEL.npz)")
    p.add_argument("--num", type=int, default=16, help="sample: how many samples (default 16; the grid shows 16)")
    p.add_argument("--score", action="store_true",
                   help="sample: score the samples with an MNIST judge trained on the spot (about a minute)")
    p.add_argument("-o", "--out", default="npnet-gan",
                   help="folder for checkpoint, grids and plots (default ./npnet-gan)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _checkpoint_path(args):
    return Path(args.checkpoint) if args.checkpoint else Path(args.out) / f"gan_{args.model}.npz"


def save_gan(path, model, D, G):
    """Write both networks and the model name to ``path`` (.npz, atomically); returns the Path."""
    arrays = {f"D.{k}": v for k, v in D.state_dict().items()}
    arrays.update({f"G.{k}": v for k, v in G.state_dict().items()})
    with atomic_output(path) as tmp:
        np.savez(tmp, model=np.array(model), **arrays)
    return Path(path)


def load_gan(path):
    """-> (model name, D, G) from a checkpoint of :func:`save_gan`; a wrong file raises ``FileFormatError``."""
    fn = "load_gan"
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{fn}: no checkpoint at {path} (write one with `npnet gan train`)")
    try:
        arrays = read_npz(path)
    except (OSError, ValueError) as err:
        raise FileFormatError(f"{fn}: {path} is not an npnet GAN checkpoint ({err})") from None
    model = str(arrays.pop("model", ""))
    if model not in gm.MODELS:
        raise FileFormatError(f"{fn}: {path} names no GAN model (expected one of {', '.join(gm.MODELS)})")
    make_d, make_g, _, _ = gm.MODELS[model]
    noise_dim = arrays.get("G.0.weight", np.zeros((0, 0))).shape[1]
    if noise_dim < 1:
        raise FileFormatError(f"{fn}: {path} has no generator weights (G.0.weight)")
    D, G = make_d(), make_g(noise_dim)
    try:
        D.load_state_dict({k[2:]: v for k, v in arrays.items() if k.startswith("D.")}, source=str(path))
        G.load_state_dict({k[2:]: v for k, v in arrays.items() if k.startswith("G.")}, source=str(path))
    except ValueError as err:
        raise FileFormatError(str(err)) from None
    return model, D.eval(), G.eval()


def loss_figure(history, path, title):
    """Plot the two loss curves of a ``run_a_gan`` history to a PNG; returns the Path."""
    from matplotlib.figure import Figure

    from ..image import save_figure

    fig = Figure(figsize=(6, 3.5), dpi=100)
    ax = fig.add_subplot()
    ax.plot(history["d_loss"], label="discriminator", lw=0.8)
    ax.plot(history["g_loss"], label="generator", lw=0.8)
    ax.set(xlabel="iteration", ylabel="loss", title=title)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def gan(args):
    """Train a vanilla / least-squares / DC GAN on the MNIST sample, or sample digits from a trained one."""
    fn = "npnet gan"
    _check.nonnegative_int(fn, "--seed", args.seed)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NpnetValueError(f"{fn}: --out {out} is a file; give a folder")
    if args.action == "train":
        iters = _check.positive_int(fn, "--iters", args.iters)
        batch = _check.positive_int(fn, "--batch-size", args.batch_size)
        show_every = _check.positive_int(fn, "--show-every", args.show_every)
        if not np.isfinite(args.lr) or args.lr <= 0:
            raise NpnetValueError(f"{fn}: --lr must be a positive number; got {args.lr}")
        make_d, make_g, d_loss, g_loss = gm.MODELS[args.model]
        D, G = make_d(seed=args.seed), make_g(seed=args.seed + 1)
        images = gm.load_gan_images()
        history = gm.run_a_gan(D, G, gm.get_solver(D, args.lr), gm.get_solver(G, args.lr), d_loss, g_loss,
                                show_every=show_every, batch_size=batch, num_epochs=10 ** 6, seed=args.seed,
                                images=images, num_iters=iters, out_dir=out, progress=not args.quiet)
        print("checkpoint:", save_gan(_checkpoint_path(args), args.model, D, G))
        print("loss plot:", loss_figure(history, out / "losses.png", f"{args.model} GAN, {iters} iterations"))
        print(f"sample grids: {out}/iter_*.png ({len(history['samples'])})")
        return 0
    num = _check.positive_int(fn, "--num", args.num)
    model, _, G = load_gan(_checkpoint_path(args))
    samples = gm.generate(G, gm.sample_noise(num, G[0].params["weight"].shape[1], seed=args.seed))
    print("samples:", gm.save_sample_grid(samples, out / f"samples_{model}.png", title=f"{model} GAN samples"))
    if args.score:
        s = gm.score_samples(samples, gm.outlier_exposed_judge(progress=not args.quiet))
        print(f"judge: {s['confident']:.1%} of {num} samples labelled with confidence >= 0.9; "
              f"labels 0-9: {s['histogram'].tolist()}")
    return 0
