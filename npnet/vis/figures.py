"""PNG figures of the visualisation techniques (matplotlib, Agg; no display needed).

Each function takes arrays that the techniques return, lays them out like the course's sample
outputs and writes ``path`` atomically; it returns the Path as a ``npnet.display.FigurePath``, which a
notebook shows as the picture (``path=None`` writes nothing and returns the picture alone). Images are
normalised (N, 3, H, W) arrays (``deprocess`` makes them pixels again).
"""

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from .. import _check
from ..display import figure_output
from ..image import deprocess
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


MAX_COLUMNS = 5  # images per row of an attribution figure; more images wrap to another block of rows


def attribution_figure(path, X, rows, titles=None):
    """Grid with the images on top and one row per technique (the course's "example outputs").

    Up to five images side by side; more wrap into further blocks of (1 + len(rows)) rows of five. A
    single image is drawn as one row instead: the image, then each technique's map, labelled on top.

    Args:
        path: PNG to write (None: none, only the returned picture).
        X: normalised images, (N, 3, H, W).
        rows: list of ``(label, maps, style)``; maps (N, H, W) or (N, 3, H, W); style one of
            ``ROW_STYLES`` or None (then 'rgb' for 3-channel maps, 'heat' otherwise).
        titles: N column titles (e.g. class names) or None.
    """
    fn = "attribution_figure"
    if path is not None:
        _check.output_path(fn, "path", path)  # before any drawing
    X = _check.float_array(fn, "X", X, ndim=4, layout="(N, 3, H, W)")
    n = X.shape[0]
    if titles is not None and len(titles) != n:
        raise NpnetValueError(f"{fn}: titles must have one entry per image ({n}); got {len(titles)}")
    images = [deprocess(X[i]) for i in range(n)]
    panels = []  # per image: [(picture, label)] for the image and each row
    checked = []
    for label, maps, style in rows:
        maps = np.asarray(maps)
        if maps.shape[0] != n or maps.shape[-2:] != X.shape[-2:]:
            raise NpnetValueError(f"{fn}: row {label!r} must hold one map per image shaped like the images "
                                  f"({n}, ..., {X.shape[2]}, {X.shape[3]}); got {maps.shape}")
        style = style or ("rgb" if maps.ndim == 4 else "heat")
        if style not in ROW_STYLES:
            raise NpnetValueError(f"{fn}: style of row {label!r} must be one of {ROW_STYLES}; got {style!r}")
        checked.append((label, maps, style))
    for i in range(n):
        title = "" if titles is None else str(titles[i])
        panels.append([(images[i], title)] + [(render_map(images[i], maps[i], style), label)
                                               for label, maps, style in checked])
    if n == 1:
        fig = Figure(figsize=(2.4 * len(panels[0]), 2.7), dpi=100)
        axes = fig.subplots(1, len(panels[0]), squeeze=False)
        for ax, (picture, label) in zip(axes[0], panels[0]):
            ax.imshow(picture)
            ax.set_title(label, fontsize=9)
    else:
        columns, per_block = min(n, MAX_COLUMNS), len(rows) + 1
        blocks = -(-n // columns)
        fig = Figure(figsize=(2.2 * columns, 2.2 * per_block * blocks), dpi=100)
        axes = fig.subplots(per_block * blocks, columns, squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for i in range(n):
            block, col = divmod(i, columns)
            for r, (picture, label) in enumerate(panels[i]):
                ax = axes[block * per_block + r, col]
                ax.axis("on")
                ax.imshow(picture)
                if r == 0 and label:
                    ax.set_title(label, fontsize=8)
                if r > 0 and col == 0:
                    ax.set_ylabel(label, fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return figure_output(fig, path)


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
    return figure_output(fig, path)


def class_visualization_figure(path, images, titles, columns=3, rescale=False):
    """Synthesised images in a grid with their class names as titles.

    images: list of normalised (1, 3, H, W) arrays; titles: one string each; rescale: stretch each
    image's min..max to the full range (for faint images grown from a zero start).
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
        ax.imshow(deprocess(img, should_rescale=rescale))
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return figure_output(fig, path)


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
    return figure_output(fig, path)


# -- activation-based methods (npnet.vis.activations / neurons) ----------------------------------------------

def grid_figure(path, grid, title=None, cmap="gray", width=8.0):
    """One picture from ``filter_grid`` / ``activation_grid`` ((H, W) grey or (H, W, 3) RGB in [0, 1])."""
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim not in (2, 3):
        raise NpnetValueError(f"grid_figure: grid must be an (H, W) or (H, W, 3) picture; got shape {grid.shape}")
    height = width * grid.shape[0] / grid.shape[1] + (0.4 if title else 0.1)
    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.subplots()
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return figure_output(fig, path)


def activation_figure(path, X, grid, title=None):
    """An image (normalised (1, 3, H, W)) beside the ``activation_grid`` of one of its layers."""
    X = _check.float_array("activation_figure", "X", X, ndim=4, layout="(1, 3, H, W)")
    grid = _check.float_array("activation_figure", "grid", grid, ndim=(2, 3), layout="(H, W) or (H, W, 3)")
    fig = Figure(figsize=(12, 5.5), dpi=100)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2]})
    left.imshow(deprocess(X))
    right.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    for ax in (left, right):
        ax.axis("off")
    if title:
        right.set_title(title, fontsize=10)
    fig.tight_layout()
    return figure_output(fig, path)


def patches_figure(path, rows):
    """Maximally activating patches: one row per ``(label, Patches)`` (``max_activating_patches``),
    the patches left to right in decreasing activation, each titled with its value."""
    if not rows:
        raise NpnetValueError("patches_figure: need at least one (label, Patches) row")
    k = max(len(p.values) for _, p in rows)
    fig = Figure(figsize=(1.3 * k + 1.2, 1.5 * len(rows)), dpi=100)
    axes = fig.subplots(len(rows), k, squeeze=False)
    for r, (label, found) in enumerate(rows):
        for c in range(k):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(found.values):
                ax.axis("off")
                continue
            ax.imshow(deprocess(found.patches[c]))
            ax.set_title(f"{found.values[c]:.3g}", fontsize=7)
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.tight_layout()
    return figure_output(fig, path)


def neighbours_figure(path, X, queries, blocks):
    """Nearest-neighbour rows (Krizhevsky et al. 2012, figure 4): for each block ``(label, indices)``
    with indices (Q, k) from ``nearest_neighbours``, one row per query: the query image, then its k
    neighbours. X: the normalised database images (N, 3, H, W); queries: the Q query indices into X."""
    if not blocks:
        raise NpnetValueError("neighbours_figure: need at least one (label, indices) block")
    k = blocks[0][1].shape[1]
    n_rows = len(queries) * len(blocks)
    fig = Figure(figsize=(1.5 * (k + 1), 1.55 * n_rows + 0.3 * len(blocks)), dpi=100)
    axes = fig.subplots(n_rows, k + 1, squeeze=False)
    for b, (label, indices) in enumerate(blocks):
        for q, query in enumerate(queries):
            row = axes[b * len(queries) + q]
            for c, idx in enumerate([query, *indices[q]]):
                row[c].imshow(deprocess(X[idx]))
                row[c].set_xticks([])
                row[c].set_yticks([])
            row[0].set_ylabel(label if q == 0 else "", fontsize=8)
            if q == 0:
                row[0].set_title("query", fontsize=8)
                for c in range(1, k + 1):
                    row[c].set_title(f"#{c}", fontsize=8)
    fig.tight_layout()
    return figure_output(fig, path)


def embedding_figure(path, Z, X, title=None, zoom=0.25, labels=None):
    """2-D embedding (``pca`` / ``tsne``) with each point drawn as its image thumbnail.

    Z: (N, 2); X: the N normalised images; labels: optional N strings written under the thumbnails.
    """
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    X = _check.float_array("embedding_figure", "X", X, ndim=4, layout="(N, 3, H, W)")
    Z = _check.float_array("embedding_figure", "Z", Z, ndim=2, layout="(N, 2)").astype(np.float64)
    if Z.ndim != 2 or Z.shape[1] != 2 or len(Z) != len(X):
        raise NpnetValueError(f"embedding_figure: Z must be (N, 2) with N = {len(X)} images; got shape {Z.shape}")
    fig = Figure(figsize=(9, 9), dpi=100)
    ax = fig.subplots()
    ax.scatter(Z[:, 0], Z[:, 1], s=2, color="grey")
    for i, (x, y) in enumerate(Z):
        ax.add_artist(AnnotationBbox(OffsetImage(deprocess(X[i]), zoom=zoom), (x, y), frameon=False))
        if labels is not None:
            ax.annotate(str(labels[i]), (x, y), xytext=(0, -32), textcoords="offset points", ha="center", fontsize=6)
    pad = 0.08 * (Z.max(axis=0) - Z.min(axis=0) + 1e-12)
    ax.set_xlim(Z[:, 0].min() - pad[0], Z[:, 0].max() + pad[0])
    ax.set_ylim(Z[:, 1].min() - pad[1], Z[:, 1].max() + pad[1])
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return figure_output(fig, path)


def captions_figure(path, images, captions, available=None, columns=3, width=40):
    """Images with their captions written underneath (the captioning notebook's sample outputs).

    Args:
        images: list of uint8 (H, W, 3) pictures (e.g. from ``npnet.data.coco.image_from_url``).
        captions: one string per image, or a list of lines (e.g. truth / greedy / beam search).
        available: optional list of bools; False marks a placeholder, labelled "image not available offline".
        columns: images per row; width: characters per caption line before wrapping.
    """
    import textwrap

    fn = "captions_figure"
    if not isinstance(images, (list, tuple)) or not isinstance(captions, (list, tuple)):
        raise NpnetTypeError(f"{fn}: images and captions must be lists; got {type(images).__name__} and "
                             f"{type(captions).__name__}")
    if not images or len(images) != len(captions):
        raise NpnetValueError(f"{fn}: need one caption per image (at least one image); got {len(images)} images "
                         f"and {len(captions)} captions")
    columns = min(_check.positive_int(fn, "columns", columns), len(images))
    texts = ["\n".join(textwrap.fill(line, width) for line in ([c] if isinstance(c, str) else c)) for c in captions]
    lines = max(t.count("\n") + 1 for t in texts)
    rows = -(-len(images) // columns)
    fig = Figure(figsize=(3.6 * columns, (3.4 + 0.22 * lines) * rows), dpi=100)
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (img, text) in enumerate(zip(images, texts)):
        ax = axes[k // columns, k % columns]
        ax.axis("on")
        ax.imshow(np.asarray(img))
        if available is not None and not available[k]:
            ax.text(0.5, 0.5, "image not available offline", transform=ax.transAxes, ha="center", fontsize=9)
        # an x label, so that tight_layout makes room for the caption under the image
        ax.set_xlabel(text, fontsize=8, loc="left")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    fig.tight_layout()
    return figure_output(fig, path)
