"""Activation-based views of a CNN (the "Visualizing and Understanding" lecture of CS231n).

* ``filter_grid`` / ``activation_grid``: the learned filters and the activation maps of any layer, tiled.
* ``receptive_field``: the exact input window of a unit, from the kernels, strides and paddings.
* ``max_activating_patches``: the image patches that excite one channel most (Girshick et al. 2014,
  "Rich feature hierarchies for accurate object detection and semantic segmentation"; Zeiler & Fergus 2014).
* ``pooled_features`` / ``nearest_neighbours``: neighbours in feature space vs in pixel space
  (Krizhevsky et al. 2012, figure 4).
* ``pca`` / ``tsne``: 2-D embeddings of features (t-SNE: van der Maaten & Hinton 2008, through
  scikit-learn, an optional extra: ``pip install npnet[tsne]``).

``model`` is a network with a ``features`` Sequential (SqueezeNet), or a ``Sequential`` itself. A layer
is an index into ``model.features`` or its name ``"features.K"``; its output is the activation.
Images are normalised float (N, 3, H, W) arrays (``npnet.image.preprocess``).
"""
import numbers
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import _check
from ..errors import NpnetTypeError, NpnetValueError
from ..nn import AvgPool2d, BatchNorm2d, Conv2d, Dropout, LeakyReLU, MaxPool2d, ReLU, Sequential, Sigmoid, Tanh

# Layers that act on each value (or each channel, batch norm in eval mode) on its own: no window, and
# channel c of the output is channel c of the input.
POINTWISE = (ReLU, LeakyReLU, Tanh, Sigmoid, Dropout, BatchNorm2d)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def feature_layers(fn, model):
    """The ``Sequential`` whose outputs are the taps: ``model.features``, or ``model`` itself."""
    if isinstance(model, Sequential):
        return model
    features = getattr(model, "features", None)
    if not isinstance(features, Sequential):
        raise NpnetTypeError(f"{fn}: model must have a 'features' Sequential (like SqueezeNet) or be a "
                                    f"Sequential; got {type(model).__name__}")
    return features


def layer_index(fn, model, layer):
    """``layer`` (an int, or a name ``"features.K"``) as an index into the feature layers, or raise."""
    features = feature_layers(fn, model)
    n = len(features)
    if isinstance(layer, str):
        names = [f"features.{i}" for i in range(n)]
        if layer not in names:
            raise NpnetValueError(f"{fn}: no layer named {layer!r}; the layers are 'features.0' .. "
                                  f"'features.{n - 1}' (or their indices 0..{n - 1})")
        return names.index(layer)
    return _check.feature_index(fn, "layer", layer, n)


def _channel(fn, channel, num_channels, layer):
    if isinstance(channel, bool) or not isinstance(channel, numbers.Integral) or not 0 <= channel < num_channels:
        raise NpnetValueError(f"{fn}: channel must be an integer in 0..{num_channels - 1} (features.{layer} has "
                              f"{num_channels} channels); got {channel!r}")
    return int(channel)


def _check_images(fn, model, X):
    check = getattr(model, "check_input", None)
    X = check(fn, X) if check is not None else _check.float_array(fn, "X", X, ndim=4, layout="(N, 3, H, W)")
    _check.finite(fn, "X", X)
    return X.astype(getattr(model, "dtype", X.dtype), copy=False)


def layer_activations(model, X, layer, batch_size=16):
    """The output of ``features[layer]`` for a batch of images, (N, C, h, w), ``batch_size`` at a time."""
    fn = "layer_activations"
    layer = layer_index(fn, model, layer)
    X = _check_images(fn, model, X)
    batch_size = _check.positive_int(fn, "batch_size", batch_size)
    return _activations(feature_layers(fn, model), X, layer, batch_size)


def _activations(features, X, layer, batch_size):
    return np.concatenate([features.forward(X[i:i + batch_size], 0, layer + 1) for i in range(0, len(X), batch_size)])


# -- grids ---------------------------------------------------------------------------------------------

def _unit_range(a, axes):
    """Stretch ``a``'s min..max over ``axes`` to 0..1 (a constant block becomes 0.5)."""
    lo, hi = a.min(axis=axes, keepdims=True), a.max(axis=axes, keepdims=True)
    span = hi - lo
    return np.where(span > 0, (a - lo) / np.where(span > 0, span, 1), 0.5)


def tile(tiles, columns=None, pad=1, background=1.0):
    """Lay out equally sized tiles (n, h, w) or (n, h, w, 3) in a grid, ``pad`` pixels apart.

    ``columns`` defaults to ceil(sqrt(n)); unused cells and the gaps are ``background``.
    Returns (rows*(h+pad)-pad, columns*(w+pad)-pad[, 3]).
    """
    fn = "tile"
    tiles = np.asarray(tiles, dtype=np.float64)
    if tiles.ndim not in (3, 4) or len(tiles) == 0:
        raise NpnetValueError(f"{fn}: tiles must be a non-empty (n, h, w) or (n, h, w, 3) array; "
                              f"got shape {tiles.shape}")
    n, h, w = tiles.shape[:3]
    columns = int(np.ceil(np.sqrt(n))) if columns is None else _check.positive_int(fn, "columns", columns)
    pad = _check.nonnegative_int(fn, "pad", pad)
    rows = -(-n // columns)
    grid = np.full((rows * (h + pad) - pad, columns * (w + pad) - pad) + tiles.shape[3:], background)
    for k in range(n):
        r, c = divmod(k, columns)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = tiles[k]
    return grid


def filter_grid(w, upsample=8, per_channel=False, pad=1, columns=None):
    """Filters as a picture (Krizhevsky et al. 2012, figure 3; CS231n ``visualize_grid``).

    Args:
        w: conv weights (F, C, k, k), e.g. SqueezeNet's first layer ``features.0.weight`` (64, 3, 3, 3).
        upsample: each tap becomes an upsample x upsample block (nearest neighbour), so 3x3 kernels are visible.
        per_channel: False: one RGB tile per filter (needs C == 3), each filter's min..max stretched to 0..1;
            True: a grey tile per (filter, input channel), one row per filter, each filter stretched over
            all its channels together (so weak channels look flat) -- any layer.
        pad: pixels between tiles; columns: tiles per row (RGB mode; default ceil(sqrt(F))).
    Returns:
        (H, W, 3) RGB or (H, W) grey array in [0, 1] (gaps are 1, white).
    """
    fn = "filter_grid"
    w = _check.float_array(fn, "w", w, ndim=4, layout="(F, C, k, k)")
    up = _check.positive_int(fn, "upsample", upsample)
    big = np.repeat(np.repeat(w.astype(np.float64), up, axis=2), up, axis=3)
    if per_channel:
        scaled = _unit_range(big, (1, 2, 3))
        F, C = w.shape[:2]
        return tile(scaled.reshape(F * C, *big.shape[2:]), columns=C, pad=pad)
    if w.shape[1] != 3:
        raise NpnetValueError(f"{fn}: an RGB grid needs 3 input channels; got w of shape {w.shape} "
                              f"(use per_channel=True for a layer with {w.shape[1]} input channels)")
    return tile(_unit_range(big, (1, 2, 3)).transpose(0, 2, 3, 1), columns=columns, pad=pad)


def activation_grid(A, upsample=1, pad=1, columns=None):
    """One image's activation maps (C, h, w) as a grey grid, all on one scale: 0 is black, the largest
    activation of the layer white, so a dead channel stays black (after a ReLU all values are >= 0;
    otherwise min..max of the whole layer is used).

    Returns:
        (H, W) in [0, 1], one tile per channel, ``columns`` per row (default ceil(sqrt(C))).
    """
    fn = "activation_grid"
    A = _check.float_array(fn, "A", A, ndim=3, layout="(C, h, w)").astype(np.float64)
    up = _check.positive_int(fn, "upsample", upsample)
    lo = min(A.min(), 0.0)
    span = A.max() - lo
    scaled = (A - lo) / span if span > 0 else np.zeros_like(A)
    return tile(np.repeat(np.repeat(scaled, up, axis=1), up, axis=2), columns=columns, pad=pad)


# -- receptive fields ----------------------------------------------------------------------------------

class ReceptiveField(NamedTuple):
    """Unit (i, j) of a layer sees input rows ``start + i*jump .. start + i*jump + size - 1`` (likewise
    columns); rows outside the image are padding."""
    size: int
    jump: int
    start: int

    def box(self, i, j, image_hw):
        """(top, left, bottom, right) of unit (i, j)'s window clipped to an (H, W) image, bottom/right exclusive."""
        H, W = image_hw
        top, left = self.start + i * self.jump, self.start + j * self.jump
        return max(top, 0), max(left, 0), min(top + self.size, H), min(left + self.size, W)


def _window(module, channel):
    """(k, s, p) of one feature layer, or raise for a module whose geometry is unknown.

    A module with branches (SqueezeNet's Fire) is a chain: squeeze then the expand branch that produced
    ``channel``; for ``channel=None`` (any channel, as seen by the next layer) the union of the branches.
    """
    if isinstance(module, Conv2d):
        return [(module.params["weight"].shape[-1], module.conv_param["stride"], module.conv_param["pad"])]
    if isinstance(module, (MaxPool2d, AvgPool2d)):
        p = module.pool_param
        return [(p["pool_height"], p["stride"], p["pad"])]
    if isinstance(module, POINTWISE):
        return []
    squeeze, e1, e3 = (getattr(module, a, None) for a in ("squeeze", "expand1x1", "expand3x3"))
    if all(isinstance(m, Conv2d) for m in (squeeze, e1, e3)):
        branches = [_window(e1, None)[0], _window(e3, None)[0]]
        if channel is None:
            # union of the windows [-p, -p + k - 1] of the two stride-1 branches
            first = min(-p for _, _, p in branches)
            last = max(-p + k - 1 for k, _, p in branches)
            expand = (last - first + 1, 1, -first)
        else:
            expand = branches[0] if channel < e1.params["weight"].shape[0] else branches[1]
        return _window(squeeze, None) + [expand]
    known = ", ".join(t.__name__ for t in (Conv2d, MaxPool2d, AvgPool2d) + POINTWISE)
    raise NpnetValueError(f"receptive_field: cannot work out the window of a {type(module).__name__} layer "
                          f"(known: {known}, Fire)")


def receptive_field(model, layer, channel=None):
    """The exact receptive field of the units of ``features[layer]`` (Araujo et al. 2019, "Computing
    Receptive Fields of Convolutional Neural Networks").

    Composing windows (k_l, s_l, p_l) from the input up: ``size = 1 + sum_l (k_l - 1) * jump_{l-1}``,
    ``jump = prod_l s_l``, ``start = -sum_l p_l * jump_{l-1}`` (jump_0 = 1). In a Fire module the
    channels of the 1x1 branch see less than those of the 3x3 branch: pass ``channel`` for the exact
    window of that channel (None: the largest, any channel).

    Returns:
        ``ReceptiveField(size, jump, start)``.
    """
    fn = "receptive_field"
    layer = layer_index(fn, model, layer)
    features = feature_layers(fn, model)
    if channel is not None:
        _check.nonnegative_int(fn, "channel", channel)
    windows = []
    for i in reversed(range(layer + 1)):
        windows = _window(features[i], channel) + windows
        if not isinstance(features[i], POINTWISE + (MaxPool2d, AvgPool2d)):
            channel = None  # below a layer that mixes channels, every channel counts
    # BEGIN SOLUTION
    size, jump, start = 1, 1, 0
    for k, s, p in windows:
        size += (k - 1) * jump
        start -= p * jump
        jump *= s
    # END SOLUTION
    return ReceptiveField(size, jump, start)


# -- maximally activating patches ------------------------------------------------------------------------

def load_image_folder(folder, size=224):
    """Every image in ``folder`` (sorted by name), shorter side resized to ``size * 8 / 7`` and centre-cropped
    to size x size (torchvision's evaluation transform), normalised: (X (N, 3, size, size), paths)."""
    return _load_folder("load_image_folder", folder, size)


def _load_folder(fn, folder, size):
    from ..image import center_crop, load_image, preprocess

    if not isinstance(folder, (str, Path)):
        raise NpnetTypeError(f"{fn}: folder must be a path; got {type(folder).__name__}")
    folder = Path(folder)
    if not folder.is_dir():
        raise NpnetValueError(f"{fn}: {folder} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise NpnetValueError(f"{fn}: no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    size = _check.positive_int(fn, "size", size)
    X = np.concatenate([preprocess(center_crop(load_image(p, size=round(size * 8 / 7)), size), None) for p in paths])
    return X, paths


class Patches(NamedTuple):
    """The top-k units of one channel: ``values`` (k,), ``images`` (k,) image indices, ``positions``
    (k, 2) unit (i, j), ``boxes`` (k, 4) clipped windows (top, left, bottom, right), ``patches``
    (k, 3, size, size) normalised crops (0, the mean colour, where the window leaves the image),
    ``field`` the ReceptiveField."""
    values: np.ndarray
    images: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    patches: np.ndarray
    field: ReceptiveField


def max_activating_patches(model, X, layer, channel, k=9, per_image=False, batch_size=16):
    """The k image patches that activate one channel of one layer most (Girshick et al. 2014 figure 4;
    Zeiler & Fergus 2014), each cut out with the unit's exact receptive field.

    Args:
        model: the network (see the module docstring).
        X: normalised images (N, 3, H, W), or a folder of image files (``load_image_folder``).
        layer: index or name of the layer; channel: its channel.
        k: how many patches; at most the number of candidate units.
        per_image: at most one patch (the best unit) per image.
        batch_size: images per forward pass.
    Returns:
        ``Patches`` sorted by decreasing activation (ties: lower image, row, column first).
    """
    fn = "max_activating_patches"
    if isinstance(X, (str, Path)):
        X, _ = _load_folder(fn, X, 224)
    layer = layer_index(fn, model, layer)
    X = _check_images(fn, model, X)
    k = _check.positive_int(fn, "k", k)
    batch_size = _check.positive_int(fn, "batch_size", batch_size)
    features = feature_layers(fn, model)
    maps = []
    for i in range(0, len(X), batch_size):
        A = _activations(features, X[i:i + batch_size], layer, batch_size)
        channel = _channel(fn, channel, A.shape[1], layer)
        maps.append(A[:, channel])
    maps = np.concatenate(maps)  # (N, h, w)
    n, h, w = maps.shape
    available = n if per_image else n * h * w
    if k > available:
        raise NpnetValueError(f"{fn}: k = {k} is larger than the number of candidate units ({available}: "
                              f"{n} image(s) x {'1 best unit' if per_image else f'{h}x{w} positions'})")
    flat = maps.reshape(n, h * w)
    # BEGIN SOLUTION
    if per_image:
        best = flat.argmax(axis=1)  # first maximum: lowest row, then column
        candidates = best + np.arange(n) * h * w
    else:
        candidates = np.arange(n * h * w)
    values = flat.ravel()[candidates]
    order = np.lexsort((candidates, -values))[:k]  # by value descending, then index ascending
    top = candidates[order]
    img, pos = np.divmod(top, h * w)
    rows, cols = np.divmod(pos, w)
    # END SOLUTION
    field = receptive_field(model, layer, channel)
    patches = np.zeros((k, 3, field.size, field.size), dtype=X.dtype)
    boxes = np.zeros((k, 4), dtype=int)
    for m, (a, i, j) in enumerate(zip(img, rows, cols)):
        top_, left, bottom, right = boxes[m] = field.box(i, j, X.shape[2:])
        oi, oj = top_ - (field.start + i * field.jump), left - (field.start + j * field.jump)
        patches[m, :, oi:oi + bottom - top_, oj:oj + right - left] = X[a, :, top_:bottom, left:right]
    return Patches(flat.ravel()[top], img, np.stack([rows, cols], axis=1), boxes, patches, field)


# -- feature space -------------------------------------------------------------------------------------

def pooled_features(model, X, layer=-1, batch_size=16):
    """One vector per image: the output of ``features[layer]`` (default the last) averaged over positions,
    (N, C) float64 -- SqueezeNet's 512-d code just before its classifier."""
    fn = "pooled_features"
    features = feature_layers(fn, model)
    if isinstance(layer, numbers.Integral) and not isinstance(layer, bool) and layer < 0:
        layer += len(features)
    layer = layer_index(fn, model, layer)
    X = _check_images(fn, model, X)
    return _activations(features, X, layer, _check.positive_int(fn, "batch_size", batch_size)).mean(
        axis=(2, 3), dtype=np.float64)


METRICS = ("l2", "cosine")


def nearest_neighbours(queries, database, k=5, metric="l2", exclude_self=False):
    """The k nearest rows of ``database`` to each query.

    Args:
        queries: (Q, D); database: (M, D) (e.g. ``pooled_features`` or flattened pixels).
        k: neighbours per query.
        metric: ``'l2'`` (Euclidean distance) or ``'cosine'`` (1 - cosine similarity).
        exclude_self: queries ARE the database (Q == M): never return query i as its own neighbour.
    Returns:
        (indices (Q, k), distances (Q, k)), nearest first (ties: lower index first).
    """
    fn = "nearest_neighbours"
    q = _check.float_array(fn, "queries", queries, ndim=2, layout="(Q, D)").astype(np.float64)
    d = _check.float_array(fn, "database", database, ndim=2, layout="(M, D)").astype(np.float64)
    _check.shape(fn, "database", d, (None, q.shape[1]))
    if metric not in METRICS:
        raise NpnetValueError(f"{fn}: metric must be one of {METRICS}; got {metric!r}")
    k = _check.positive_int(fn, "k", k)
    available = len(d) - (1 if exclude_self else 0)
    if exclude_self and len(q) != len(d):
        raise NpnetValueError(f"{fn}: exclude_self needs the queries to be the database; got {len(q)} queries "
                              f"and {len(d)} database rows")
    if k > available:
        raise NpnetValueError(f"{fn}: k = {k} is larger than the {available} database rows available")
    # BEGIN SOLUTION
    if metric == "l2":
        sq = (q ** 2).sum(1)[:, None] - 2 * q @ d.T + (d ** 2).sum(1)[None, :]
        dist = np.sqrt(np.maximum(sq, 0))
    else:
        qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), np.finfo(float).tiny)
        dn = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), np.finfo(float).tiny)
        dist = 1 - qn @ dn.T
    if exclude_self:
        np.fill_diagonal(dist, np.inf)
    idx = np.argsort(dist, axis=1, kind="stable")[:, :k]
    # END SOLUTION
    return idx, np.take_along_axis(dist, idx, axis=1)


def pca(F, n_components=2):
    """Principal component analysis by an SVD of the centred data (Pearson 1901; Hotelling 1933).

    Args:
        F: data (N, D), e.g. features; n_components: at most min(N, D).
    Returns:
        (Z (N, n) the projections, components (n, D) unit vectors, explained_variance (n,)), largest first;
        each component's sign makes its largest-magnitude entry positive (SVD signs are arbitrary).
    """
    fn = "pca"
    F = _check.float_array(fn, "F", F, ndim=2, layout="(N, D)").astype(np.float64)
    _check.finite(fn, "F", F)
    n = _check.positive_int(fn, "n_components", n_components)
    if n > min(F.shape):
        raise NpnetValueError(f"{fn}: n_components must be at most min(N, D) = {min(F.shape)}; got {n}")
    # BEGIN SOLUTION
    centred = F - F.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:n]
    components *= np.sign(components[np.arange(n), np.abs(components).argmax(axis=1)])[:, None]
    variance = s[:n] ** 2 / max(len(F) - 1, 1)
    # END SOLUTION
    return centred @ components.T, components, variance


def tsne(F, n_components=2, perplexity=None, seed=0):
    """t-SNE embedding (van der Maaten & Hinton 2008) through scikit-learn (``pip install npnet[tsne]``).

    Args:
        F: data (N, D), N >= 3; n_components: 2 or 3.
        perplexity: effective number of neighbours, < N (default min(30, (N - 1) / 3)).
        seed: random state of the optimisation (PCA initialisation).
    Returns:
        (N, n_components) float64.
    """
    fn = "tsne"
    F = _check.float_array(fn, "F", F, ndim=2, layout="(N, D)").astype(np.float64)
    _check.finite(fn, "F", F)
    if len(F) < 3:
        raise NpnetValueError(f"{fn}: t-SNE needs at least 3 points; got {len(F)}")
    n = _check.number(fn, "n_components", n_components, low=1, high=3, integer=True)
    perplexity = min(30.0, (len(F) - 1) / 3) if perplexity is None else _check.number(
        fn, "perplexity", perplexity, low=0, high=len(F), low_open=True, high_open=True)
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise ImportError(f"{fn}: t-SNE needs scikit-learn, an optional extra: pip install 'npnet[tsne]' "
                          f"(PCA, npnet.vis.activations.pca, needs nothing)") from None
    return TSNE(n_components=n, perplexity=perplexity, init="pca", random_state=seed).fit_transform(F)
