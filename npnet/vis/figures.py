"""PNG figures of the visualisation techniques (matplotlib, Agg; no display needed).

Each function takes arrays that the techniques return, lays them out like the course's sample
outputs and writes ``path`` atomically; it returns the Path. Images are normalised (N, 3, H, W) arrays
(``deprocess`` makes them pixels again).
"""

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from .. import _check
from ..image import deprocess, save_figure
from ..errors import NpnetTypeError, NpnetValueError
from .attribution import check_randomization_result

ROW_STYLES = ("heat", "overlay", "rgb")


def _unit(a):
    """Stretch an array's min..max to 0..1 (a constant array becomes 0)."""
    a = np.asarray(a, dtype=np.float64)
    span = a.max() - a.min()
    return (a - a.min()) / span if span > 0 else np.zeros_like(a)


def render_map(image, m, style):
    """One map as an (H, W, 3) float RGB picture in [0, 1].

    ``'heat'``: (H, W) map in the 'hot' colormap scaled to its own max (the course's saliency look);
    ``'overlay'``: (H, W) map in 'jet' blended half-and-half with ``image`` (Grad-CAM's look);
    ``'rgb'``: (3, H, W) signed map as a colour image, 0.5 + 0.1 * (standardised value), clipped to
    [0, 1]: grey where it is 0 (guided backprop's usual look; a min..max stretch would let a few
    extreme pixels wash everything else out to grey).
    """
    fn = "render_map"
    if style not in ROW_STYLES:
        raise NpnetValueError(f"{fn}: style must be one of {ROW_STYLES}; got {style!r}")
    rgb = style == "rgb"
    m = _check.float_array(fn, "m", m, ndim=3 if rgb else 2, layout="(3, H, W)" if rgb else "(H, W)")
    if style == "overlay":
        _check.shape(fn, "image (uint8 pixels)", image, m.shape + (3,))
    if rgb:
        m = m.astype(np.float64).transpose(1, 2, 0)
        std = m.std()
        return np.clip(0.5 + 0.1 * (m - m.mean()) / (std if std > 0 else 1.0), 0, 1)
    colours = colormaps["hot" if style == "heat" else "jet"](_unit(m))[..., :3]
    return colours if style == "heat" else 0.5 * colours + 0.5 * image / 255.0


def attribution_figure(path, X, rows, titles=None):
    """Grid with the images on top and one row per technique (the course's "example outputs").

    Args:
        path: PNG to write.
        X: normalised images, (N, 3, H, W).
        rows: list of ``(label, maps, style)``; maps (N, H, W) or (N, 3, H, W); style one of
            ``ROW_STYLES`` or None (then 'rgb' for 3-channel maps, 'heat' otherwise).
        titles: N column titles (e.g. class names) or None.
    """
    fn = "attribution_figure"
    X = _check.float_array(fn, "X", X, ndim=4, layout="(N, 3, H, W)")
    n = X.shape[0]
    if titles is not None and len(titles) != n:
        raise NpnetValueError(f"{fn}: titles must have one entry per image ({n}); got {len(titles)}")
    images = [deprocess(X[i]) for i in range(n)]
    fig = Figure(figsize=(2.2 * n, 2.2 * (len(rows) + 1)), dpi=100)
    axes = fig.subplots(len(rows) + 1, n, squeeze=False)
    for i in range(n):
        axes[0, i].imshow(images[i])
        if titles is not None:
            axes[0, i].set_title(str(titles[i]), fontsize=8)
    for r, (label, maps, style) in enumerate(rows, start=1):
        maps = np.asarray(maps)
        if maps.shape[0] != n or maps.shape[-2:] != X.shape[-2:]:
            raise NpnetValueError(f"{fn}: row {label!r} must hold one map per image shaped like the images "
                                  f"({n}, ..., {X.shape[2]}, {X.shape[3]}); got {maps.shape}")
        style = style or ("rgb" if maps.ndim == 4 else "heat")
        if style not in ROW_STYLES:
            raise NpnetValueError(f"{fn}: style of row {label!r} must be one of {ROW_STYLES}; got {style!r}")
        for i in range(n):
            axes[r, i].imshow(render_map(images[i], maps[i], style))
        axes[r, 0].set_ylabel(label, fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return save_figure(fig, path)


def fooling_figure(path, X, X_fooling, original_title="original", fooling_title="fooling"):
    """Original, fooling image, their difference and the difference magnified 10x (the course's layout).

    X, X_fooling: normalised (1, 3, H, W). The difference is shown like the notebook does it:
    ``deprocess(X_fooling - X)`` (so zero difference is the mean colour) and ``deprocess(10 * (...))``.
    """
    fn = "fooling_figure"
    X = _check.float_array(fn, "X", X, ndim=4, layout="(1, 3, H, W)")
    X_fooling = _check.float_array(fn, "X_fooling", X_fooling, ndim=4, layout="(1, 3, H, W)")
    _check.shape(fn, "X", X, (1, 3, None, None))
    _check.same_shape(fn, "X_fooling", X_fooling, X.shape, "X")
    diff = X_fooling - X
    panels = [(deprocess(X), original_title), (deprocess(X_fooling), fooling_title),
              (deprocess(diff), "difference"), (deprocess(10 * diff), "magnified difference (10x)")]
    fig = Figure(figsize=(12, 3.4), dpi=100)
    for ax, (img, title) in zip(fig.subplots(1, 4), panels):
        ax.imshow(img)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, path)


def class_visualization_figure(path, images, titles, columns=3):
    """Synthesised images in a grid with their class names as titles.

    images: list of normalised (1, 3, H, W) arrays; titles: one string each.
    """
    fn = "class_visualization_figure"
    if not isinstance(images, (list, tuple)) or not isinstance(titles, (list, tuple)):
        raise NpnetTypeError(f"{fn}: images and titles must be lists; got {type(images).__name__} and "
                             f"{type(titles).__name__}")
    if len(images) != len(titles) or not images:
        raise NpnetValueError(f"{fn}: need as many titles as images (at least one); got {len(images)} images "
                              f"and {len(titles)} titles")
    columns = min(_check.positive_int(fn, "columns", columns), len(images))
    rows = -(-len(images) // columns)
    fig = Figure(figsize=(3.2 * columns, 3.4 * rows), dpi=100)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, img, title in zip(axes, images, titles):
        ax.imshow(deprocess(img))
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def randomization_figure(path, result):
    """Mean rank correlation with the original map vs. how far the cascade has gone (Adebayo et al. Fig. 4).

    result: the dict ``model_randomization_test`` returns.
    """
    check_randomization_result("randomization_figure", result)
    stages = ["original"] + list(result["stages"])
    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.subplots()
    for m in result["methods"]:
        ax.plot(range(len(stages)), np.concatenate([[1.0], np.nanmean(result["correlations"][m], axis=1)]),
                marker="o", label=m)
    ax.set_xticks(range(len(stages)))
    ax.set_xticklabels(stages, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("rank correlation with\nthe original |map| (Spearman)")
    ax.set_xlabel("randomised from the top down to")
    ax.set_ylim(-0.2, 1.05)
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
