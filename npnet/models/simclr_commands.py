"""CLI verb ``npnet simclr train | probe``: SimCLR pre-training of a small conv encoder on the MNIST sample
(no labels), and the linear-probe evaluation of its frozen features.

``train`` writes into ``--out``: ``simclr_encoder.npz`` (the encoder's state_dict and its feature size)
and ``simclr_loss.png``. ``probe`` reads it and prints the test accuracy of a linear classifier on the
frozen features, beside the same probe on a randomly initialised encoder (and, with ``--supervised``,
the same encoder trained end to end on the same labels).
"""
import time
from pathlib import Path

import numpy as np

from .. import cli_args
from .._io import read_npz
from ..data.lookup import atomic_output
from ..errors import FileFormatError
from . import simclr as S


def simclr_args(p):
    p.add_argument("action", choices=["train", "probe"],
                   help="pre-train an encoder on unlabelled MNIST, or evaluate one with a linear probe")
    p.add_argument("--epochs", type=int, default=5, help="train: passes over the 4,000 training images (default 5)")
    p.add_argument("--batch-size", type=int, default=128, help="train: images per batch, 2 views each (default 128)")
    p.add_argument("--tau", type=float, default=0.5, help="train: temperature of the loss (default 0.5)")
    p.add_argument("--lr", type=float, default=1e-3, help="train: Adam learning rate (default 1e-3)")
    p.add_argument("--checkpoint", help="probe: encoder written by train (default OUT/simclr_encoder.npz)")
    p.add_argument("--labels", type=float, default=1.0,
                   help="probe: fraction of the training labels the probe sees (default 1.0)")
    p.add_argument("--supervised", action="store_true",
                   help="probe: also train the encoder end to end on the same labels, for comparison")
    cli_args.add_common(p, "npnet-simclr", "folder for the encoder and the loss plot (default ./npnet-simclr/)")


def save_encoder(path, encoder, feature_dim):
    """Write the encoder's state_dict and feature size to ``path`` (.npz, atomically)."""
    with atomic_output(path) as tmp:
        np.savez(tmp, feature_dim=np.array(feature_dim), **encoder.state_dict())
    return Path(path)


def load_encoder(path):
    """The encoder of a :func:`save_encoder` file (``FileFormatError`` for anything else)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_encoder: no encoder at {path} (write one with `npnet simclr train`)")
    try:
        arrays = read_npz(path)
        feature_dim = int(arrays.pop("feature_dim"))
        encoder = S.make_encoder(feature_dim)
        encoder.load_state_dict(arrays, source=str(path))
    except (OSError, KeyError, ValueError) as err:
        raise FileFormatError(f"load_encoder: {path} is not an npnet SimCLR encoder ({err})") from None
    return encoder.eval()


def simclr(args):
    """Self-supervised learning (SimCLR) on the MNIST sample: `train` an encoder without labels, `probe` it."""
    from threadpoolctl import threadpool_limits

    from ..data.mnist import load_mnist

    X, y = load_mnist("train", seed=args.seed)
    X_test, y_test = load_mnist("test", seed=args.seed)
    out = Path(args.out)
    # small matrix products: one BLAS thread is much faster than two fighting over busy cores
    with threadpool_limits(1):
        return _train(args, X, out) if args.action == "train" else _probe(args, X, y, X_test, y_test, out)


def _train(args, X, out):
    from ..solver import plot_loss_history

    for name, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size)):
        cli_args.in_range(name, value, 2 if name == "--batch-size" else 1)
    cli_args.positive("--tau", args.tau)
    cli_args.positive("--lr", args.lr)
    out = cli_args.output_path(out, folder=True)
    out.mkdir(parents=True, exist_ok=True)
    model = S.SimCLR(tau=args.tau, rng=args.seed)
    start = time.perf_counter()
    history = model.fit(X, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                        verbose=not args.quiet)
    print(f"pre-training: {len(history)} steps in {time.perf_counter() - start:.0f} s, "
          f"loss {np.mean(history[:5]):.3f} -> {np.mean(history[-5:]):.3f}")
    print("encoder:", save_encoder(out / "simclr_encoder.npz", model.encoder, model.encoder.feature_dim))
    print("loss plot:", plot_loss_history(history, out / "simclr_loss.png"))
    return 0


def _probe(args, X, y, X_test, y_test, out):
    cli_args.positive("--labels", args.labels)
    cli_args.in_range("--labels", args.labels, high=1)
    encoder = load_encoder(Path(args.checkpoint) if args.checkpoint else out / "simclr_encoder.npz")
    rng = np.random.default_rng(args.seed)
    keep = rng.choice(len(X), max(int(round(args.labels * len(X))), 10), replace=False)
    feature_dim = encoder.feature_dim
    for name, enc in (("SimCLR encoder", encoder), ("random encoder", S.make_encoder(feature_dim, rng=args.seed))):
        features, features_test = S.extract_features(enc, X[keep]), S.extract_features(enc, X_test)
        acc = S.train_linear_probe(features, y[keep], features_test, y_test, rng=args.seed)
        print(f"linear probe on the {name} ({len(keep)} labels): test accuracy {acc:.3f}")
    if args.supervised:
        acc = S.train_supervised(X[keep], y[keep], X_test, y_test, feature_dim=feature_dim, rng=args.seed)
        print(f"supervised encoder + linear layer ({len(keep)} labels): test accuracy {acc:.3f}")
    return 0
