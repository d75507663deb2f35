"""PNG figures of the style-transfer family (matplotlib, Agg backend, written atomically).

Every function takes normalised (1, 3, H, W) images (as the optimisers return them), draws them
side by side with titles and returns the path written as a ``npnet.display.FigurePath``, which a
notebook shows as the picture (``path=None``: nothing written, the picture alone).

Figures are built on ``matplotlib.figure.Figure`` (no pyplot), so importing this module leaves the
user's matplotlib backend alone (a notebook keeps its inline plots).
"""
from matplotlib.figure import Figure

from .. import _check
from ..errors import NpnetTypeError, NpnetValueError
from ..display import figure_output
from ..image import deprocess

__all__ = ["image_row", "image_grid", "transfer_figure", "evolution_figure", "dream_figure"]


def image_row(path, images, titles, suptitle=None, rescale=None, height=3.0):
    """Draw normalised images in one row with a title each and save the PNG atomically.

    Args:
        path: output file (.png), or None for the returned picture only.
        images: list of (1, 3, H, W) normalised arrays.
        titles: one string per image.
        rescale: list of bools, per image: stretch its min..max to the full range (for images grown
            from noise); default none.
        height: height of the figure in inches.
    Returns:
        the path (a ``FigurePath``; a ``Picture`` when path is None).
    """
    return _row("image_row", path, images, titles, suptitle, rescale, height)


def _row(fn, path, images, titles, suptitle=None, rescale=None, height=3.0):
    """image_row, with errors naming the public function ``fn`` that was called."""
    path = None if path is None else _check.path(fn, "path", path)
    if not isinstance(images, (list, tuple)) or not isinstance(titles, (list, tuple)):
        raise NpnetTypeError(f"{fn}: images and titles must be lists; got {type(images).__name__} and "
                             f"{type(titles).__name__}")
    if len(images) != len(titles):
        raise NpnetValueError(f"{fn}: need one title per image; got {len(titles)} titles for {len(images)} images")
    images = [_check.float_array(fn, f"image {i}", img, ndim=4, layout="(1, 3, H, W)") for i, img in enumerate(images)]
    rescale = rescale or [False] * len(images)
    widths = [img.shape[3] / img.shape[2] for img in images]
    fig = Figure(figsize=(height * sum(widths) + 0.2 * len(images), height + 0.5), dpi=100)
    axes = fig.subplots(1, len(images), gridspec_kw={"width_ratios": widths}, squeeze=False)
    for ax, img, title, stretch in zip(axes[0], images, titles, rescale):
        ax.imshow(deprocess(img, should_rescale=stretch))
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    return figure_output(fig, path)


def image_grid(path, images, row_labels, col_labels, suptitle=None, height=2.5, rescale=False):
    """A grid of normalised images (rows of equally sized (1, 3, H, W) arrays) with a label for every
    row and column: the content/style weight trade-off, the style-image-size effect.

    The figure is ``height * (W / H) * columns + 0.6`` by ``height * rows + 0.6`` inches (the margin
    holds the labels). ``rescale`` stretches each image's min..max (for images grown from noise).
    """
    fn = "image_grid"
    if not images or any(len(row) != len(images[0]) or not row for row in images):
        raise NpnetValueError(f"{fn}: images must be a non-empty list of equally long, non-empty rows")
    rows, cols = len(images), len(images[0])
    if len(row_labels) != rows or len(col_labels) != cols:
        raise NpnetValueError(f"{fn}: need {rows} row labels and {cols} column labels; got {len(row_labels)} and "
                         f"{len(col_labels)}")
    aspect = images[0][0].shape[3] / images[0][0].shape[2]
    fig = Figure(figsize=(height * aspect * cols + 0.6, height * rows + 0.6), dpi=100)
    axes = fig.subplots(rows, cols, squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(deprocess(images[r][c], should_rescale=rescale))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(col_labels[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    return figure_output(fig, path)


def transfer_figure(path, content, styles, result, title=None):
    """content | style(s) | result. ``styles`` is one image or a list (blended styles)."""
    styles = styles if isinstance(styles, (list, tuple)) else [styles]
    names = ["style"] if len(styles) == 1 else [f"style {i + 1}" for i in range(len(styles))]
    return _row("transfer_figure", path, [content, *styles, result], ["content", *names, "result"], suptitle=title)


def evolution_figure(path, snapshots, reference=None, reference_title="target", title=None):
    """The image at a few iterations (``StyleResult.snapshots``), optionally after a reference image
    (the content image for inversion, the style image for texture synthesis)."""
    if not isinstance(snapshots, (list, tuple)) or not all(isinstance(s, tuple) and len(s) == 2 for s in snapshots):
        raise NpnetTypeError("evolution_figure: snapshots must be a list of (iteration, image) pairs "
                             "(StyleResult.snapshots)")
    images = [img for _, img in snapshots]
    titles = [f"iteration {t}" for t, _ in snapshots]
    if reference is not None:
        images, titles = [reference, *images], [reference_title, *titles]
    return _row("evolution_figure", path, images, titles, suptitle=title)


def dream_figure(path, original, octaves, layer):
    """original | the result after each octave (smallest first, shown at its own size)."""
    fn = "dream_figure"
    if not isinstance(octaves, (list, tuple)):
        raise NpnetTypeError(f"{fn}: octaves must be a list of (1, 3, h, w) images; got {type(octaves).__name__}")
    octaves = [_check.float_array(fn, f"octaves[{i}]", o, ndim=4, layout="(1, 3, h, w)") for i, o in enumerate(octaves)]
    titles = ["original"] + [f"octave {i + 1} ({o.shape[2]}x{o.shape[3]})" for i, o in enumerate(octaves)]
    return _row(fn, path, [original, *octaves], titles, suptitle=f"DeepDream, SqueezeNet features[{layer}]")
