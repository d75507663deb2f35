"""Figures of a classifier's training: loss and accuracy curves, and the first layer's weights as images.

Each returns the file written as a ``npnet.display.FigurePath`` (a Path a notebook shows as the picture);
``path=None`` writes nothing and returns the picture alone."""
import numpy as np

from ..errors import NpnetValueError
from ..display import figure_output

__all__ = ["training_curves_figure", "first_layer_figure"]


def training_curves_figure(loss_history, train_acc_history, val_acc_history, path, title=""):
    """Save a PNG with the loss per iteration (left) and the train/validation accuracy per measurement (right)."""
    from matplotlib.figure import Figure

    if len(loss_history) == 0 or len(train_acc_history) == 0:
        raise NpnetValueError("training_curves_figure: the histories are empty; train first")
    fig = Figure(figsize=(10, 4), dpi=100)
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(np.arange(1, len(loss_history) + 1), loss_history, lw=0.8)
    ax_loss.set_xlabel("Iteration")
    ax_loss.set_ylabel("Loss")
    ax_loss.set_title("Training loss")
    ax_acc.plot(train_acc_history, "o-", label="train")
    ax_acc.plot(val_acc_history, "o-", label="held-out")
    ax_acc.set_xlabel("Epoch (0 = after the first iteration)")
    ax_acc.set_ylabel("Accuracy")
    ax_acc.set_title("Accuracy")
    ax_acc.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return figure_output(fig, path)


def first_layer_figure(weights, path, title="First-layer weights", max_tiles=64):
    """Save a PNG of first-layer weights as a grid of images, each scaled to its own range.

    Args:
        weights: conv filters (F, C, k, k) (C = 1 shown in grey, C = 3 in colour), or a fully connected
            layer's (D, H) matrix with D = 784, each column shown as a 28x28 image.
    """
    from matplotlib.figure import Figure

    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 2 and w.shape[0] == 784:
        tiles = w.T.reshape(-1, 28, 28)
    elif w.ndim == 4 and w.shape[1] in (1, 3):
        tiles = w[:, 0] if w.shape[1] == 1 else w.transpose(0, 2, 3, 1)
    else:
        raise NpnetValueError(f"first_layer_figure: weights must be (784, H) or (F, 1|3, k, k); got {w.shape}")
    tiles = tiles[:max_tiles]
    cols = int(np.ceil(np.sqrt(len(tiles))))
    rows = int(np.ceil(len(tiles) / cols))
    fig = Figure(figsize=(cols * 0.8, rows * 0.8 + 0.4), dpi=100)
    for i, tile in enumerate(tiles):
        ax = fig.add_subplot(rows, cols, i + 1)
        low, high = tile.min(), tile.max()
        ax.imshow((tile - low) / (high - low + 1e-12), cmap="gray" if tile.ndim == 2 else None)
        ax.axis("off")
    fig.suptitle(title)
    return figure_output(fig, path)
