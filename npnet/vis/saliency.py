"""Gradient maps: saliency, SmoothGrad, guided backpropagation, Grad-CAM, guided Grad-CAM, Grad-CAM++.

Every technique here is the same sentence with a different choice: run the network forward, inject a
one-hot gradient on the explained class score ``s_y``, run backward to some layer, and turn what
arrives there into a map. Names and arguments follow the CS231n NetworkVisualization notebook
(``X`` a normalised (N, 3, H, W) batch, ``y`` the (N,) classes to explain, ``model`` the SqueezeNet).

``model`` may be any network with the SqueezeNet interface: ``forward(X) -> (N, num_classes)``,
``backward(dscores) -> dX``, ``check_input(fn, X)``, ``num_classes``, ``dtype``, and for Grad-CAM a
``features`` Sequential followed by a ``classifier`` Sequential. Maps are computed in the model's dtype
(use ``squeezenet1_1(dtype=np.float64)`` for checks) and returned in the dtype of ``X``.
"""

import numpy as np

from .. import _check
from ..layers import relu_mode
from ..errors import NpnetValueError
from ..parallel import batch_threads

# Grad-CAM's default layer: features[12], the last fire module of SqueezeNet 1.1 (13x13 at 224x224).
LAST_FIRE = 12


def check_batch(fn, X, y, model):
    """Validate an image batch and its labels for ``model``; return ``(X in the model's dtype, y)``.

    X must be a finite float (N, 3, H, W) array the model accepts, y (N,) integers in
    [0, model.num_classes) (a plain int is accepted when N == 1).
    """
    _check.model(fn, model, ("forward", "backward", "check_input", "num_classes", "dtype"))
    X = model.check_input(fn, X)
    _check.finite(fn, "X", X)
    y = _check.labels(fn, "y", y, X.shape[0], model.num_classes)
    return X.astype(model.dtype, copy=False), y


# Images per forward/backward pass of the batched techniques (SmoothGrad, integrated gradients, occlusion):
# 8 at 224x224, proportionally more for smaller images (chunk_size). 8 is the batch SqueezeNet's batched
# kernels are measured at (issue 14) and gives each of two cores whole images; 16 holds twice the
# activation memory per pass and was not faster in interleaved runs on a loaded 2-core machine.
CHUNK_PIXELS = 8 * 224 * 224


def chunk_size(shape):
    """Default images per pass for (N, C, H, W) inputs: ``CHUNK_PIXELS // (H * W)``, at least 1."""
    return max(1, CHUNK_PIXELS // (shape[2] * shape[3]))


def class_score_gradient(X, y, model):
    """Forward ``X`` and backpropagate a one-hot gradient on each image's class ``y[i]``.

    Returns ``(scores (N, num_classes), dX (N, 3, H, W))`` with ``dX[i] = d scores[i, y[i]] / d X[i]``.
    The ReLUs follow the current ``relu_mode``. X and y must already be checked (``check_batch``).
    """
    scores = model.forward(X)
    dscores = np.zeros_like(scores)
    dscores[np.arange(len(y)), y] = 1
    return scores, model.backward(dscores)


def compute_saliency_maps(X, y, model):
    """Saliency maps (Simonyan et al. 2014, "Deep Inside Convolutional Networks: Visualising Image
    Classification Models and Saliency Maps").

    Args:
        X: normalised images, float (N, 3, H, W).
        y: classes to explain, int (N,).
        model: the network (see the module docstring).
    Returns:
        saliency: (N, H, W), ``max_c |d s_y / d X[:, c]|``.
    """
    fn = "compute_saliency_maps"
    dtype = np.asarray(X).dtype
    X, y = check_batch(fn, X, y, model)
    _, dX = class_score_gradient(X, y, model)
    # BEGIN SOLUTION
    saliency = np.abs(dX).max(axis=1)
    # END SOLUTION
    return saliency.astype(dtype, copy=False)


def smoothgrad(X, y, model, n_samples=25, noise_level=0.15, seed=None, batch_size=None):
    """SmoothGrad (Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise"): the mean of the
    saliency maps of ``n_samples`` noisy copies of each image.

    The noise is Gaussian with standard deviation ``noise_level * (X[i].max() - X[i].min())`` for
    image i (the paper's "noise level" as a fraction of the input range). Sample ``k`` adds
    ``np.random.default_rng(seed)``'s k-th ``standard_normal(X.shape)`` draw, scaled per image.

    Args:
        X: float (N, 3, H, W); y: int (N,); model: the network.
        n_samples: number of noisy copies (>= 1).
        noise_level: >= 0; 0 gives back ``compute_saliency_maps``.
        seed: seed of the noise (an int >= 0, None, or a ``np.random.Generator``, drawn from).
        batch_size: noisy images per forward/backward pass (whole samples of N images; at least one
            sample per pass); None sizes the passes by the image size (``chunk_size``).
    Returns:
        (N, H, W) mean saliency map.
    """
    fn = "smoothgrad"
    dtype = np.asarray(X).dtype
    X, y = check_batch(fn, X, y, model)
    n_samples = _check.positive_int(fn, "n_samples", n_samples)
    noise_level = _check.number(fn, "noise_level", noise_level, low=0)
    batch_size = chunk_size(X.shape) if batch_size is None else _check.positive_int(fn, "batch_size", batch_size)
    rng = _check.rng(fn, "seed", seed)
    sigma = noise_level * (X.max(axis=(1, 2, 3)) - X.min(axis=(1, 2, 3))).astype(np.float64)
    total = np.zeros((X.shape[0],) + X.shape[2:], dtype=np.float64)
    n = X.shape[0]
    per_pass = max(1, batch_size // n)  # whole samples per pass, so the labels repeat in order
    with batch_threads(model):  # each pass's images split between the cores (npnet.parallel)
        for start in range(0, n_samples, per_pass):
            k = min(per_pass, n_samples - start)
            # k consecutive draws of X.shape in one call: the same numbers as k separate draws
            noise = rng.standard_normal((k,) + X.shape)
            # BEGIN SOLUTION
            noisy = (X + noise * sigma[:, None, None, None]).astype(X.dtype)
            _, dX = class_score_gradient(noisy.reshape((k * n,) + X.shape[1:]), np.tile(y, k), model)
            maps = np.abs(dX).max(axis=1).reshape((k,) + total.shape)
            for m in maps:  # sample by sample, the order of the running sum
                total += m
            # END SOLUTION
    return (total / n_samples).astype(dtype)


def guided_backprop(X, y, model):
    """Guided backpropagation (Springenberg et al. 2015, "Striving for Simplicity: The All
    Convolutional Net"): the input gradient of ``s_y`` with every ReLU's backward replaced by the
    guided rule (pass only where the forward input AND the upstream gradient are positive).

    Args:
        X: float (N, 3, H, W); y: int (N,); model: the network.
    Returns:
        (N, 3, H, W) guided gradient (signed; figures rescale it to 0..1).
    """
    dtype = np.asarray(X).dtype
    X, y = check_batch("guided_backprop", X, y, model)
    return _guided(X, y, model).astype(dtype, copy=False)


def _guided(X, y, model):
    # BEGIN SOLUTION
    with relu_mode("guided"):
        _, dX = class_score_gradient(X, y, model)
    # END SOLUTION
    return dX


def layer_activation_and_gradient(X, y, model, layer):
    """The output ``A`` of ``model.features[layer]`` and ``G = d s_y / d A`` (both (N, K, h, w)).

    One forward pass, then a backward pass from the class scores down to that layer only.
    X and y must already be checked.
    """
    scores = model.forward(X)
    dscores = np.zeros_like(scores)
    dscores[np.arange(len(y)), y] = 1
    top = model.classifier.outputs[-1]
    g = model.classifier.backward(dscores.reshape(top.shape))
    G = model.features.backward(g, layer + 1, len(model.features))
    return model.features.outputs[layer], G


def resize_bilinear(maps, size):
    """Bilinear resize of (N, h, w) maps to (N, H, W), ``size = (H, W)``.

    Same arithmetic as PyTorch's ``F.interpolate(mode="bilinear", align_corners=False)`` and OpenCV's
    ``resize``: output pixel i samples the input at ``(i + 0.5) * h / H - 0.5``, clamped to the edges.
    """
    fn = "resize_bilinear"
    maps = _check.float_array(fn, "maps", maps, ndim=3, layout="(N, h, w)")
    if np.ndim(size) != 1 or len(size) != 2:
        raise NpnetValueError(f"{fn}: size must be a pair (H, W) of positive integers; got {size!r}")
    H, W = (_check.positive_int(fn, "size", s) for s in size)
    rows, cols = _interp_matrix(maps.shape[1], H, maps.dtype), _interp_matrix(maps.shape[2], W, maps.dtype)
    return rows @ maps @ cols.T


def _interp_matrix(n_in, n_out, dtype):
    """(n_out, n_in) matrix of 1-D linear interpolation weights (half-pixel centres, clamped)."""
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0)
    lo = np.minimum(np.floor(src).astype(int), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m.astype(dtype)


def _checked_cam(fn, X, y, model, layer, upsample, plus_plus):
    dtype = np.asarray(X).dtype
    X, y = check_batch(fn, X, y, model)
    layer = _check.feature_index(fn, "layer", layer, len(model.features))
    upsample = _check.boolean(fn, "upsample", upsample)
    return _cam(X, y, model, layer, upsample, plus_plus).astype(dtype, copy=False)


def _cam(X, y, model, layer, upsample, plus_plus):
    A, G = layer_activation_and_gradient(X, y, model, layer)
    # BEGIN SOLUTION
    if plus_plus:
        # alpha_ij = g^2 / (2 g^2 + sum_ab A_ab g^3) (Chattopadhay et al. eq. 19, exp-score form);
        # only positive gradients count, so alpha is needed only where g > 0.
        S = A.sum(axis=(2, 3), keepdims=True)
        den = 2 * G ** 2 + S * G ** 3
        ok = (G > 0) & (den != 0)
        alpha = np.divide(G ** 2, den, out=np.zeros_like(G), where=ok)
        weights = (alpha * np.maximum(G, 0)).sum(axis=(2, 3), keepdims=True)
    else:
        weights = G.mean(axis=(2, 3), keepdims=True)
    cam = np.maximum((weights * A).sum(axis=1), 0)
    # END SOLUTION
    return resize_bilinear(cam, X.shape[2:]) if upsample else cam


def grad_cam(X, y, model, layer=LAST_FIRE, upsample=True):
    """Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via
    Gradient-based Localization").

    With ``A`` (N, K, h, w) the output of ``model.features[layer]`` and ``G = d s_y / d A``:
    weights ``alpha_k = mean_ij G[k, i, j]``, map ``ReLU(sum_k alpha_k A_k)``, bilinearly upsampled.

    Args:
        X: float (N, 3, H, W); y: int (N,); model: the network.
        layer: index into ``model.features`` (default 12, the last fire module of SqueezeNet 1.1).
        upsample: resize the (N, h, w) map to the input's (H, W) (``resize_bilinear``).
    Returns:
        (N, H, W) map (or (N, h, w) when ``upsample`` is False), >= 0, not normalised.
    """
    return _checked_cam("grad_cam", X, y, model, layer, upsample, plus_plus=False)


def grad_cam_plus_plus(X, y, model, layer=LAST_FIRE, upsample=True):
    """Grad-CAM++ (Chattopadhay et al. 2018, "Grad-CAM++: Improved Visual Explanations for Deep
    Convolutional Networks"): like ``grad_cam`` but channel k is weighted by
    ``sum_ij alpha_kij ReLU(G_kij)`` with ``alpha = G^2 / (2 G^2 + sum_ab A_kab G^3)``, the paper's
    closed form for an exponential score (what common implementations use). Same arguments and shapes.
    """
    return _checked_cam("grad_cam_plus_plus", X, y, model, layer, upsample, plus_plus=True)


def guided_grad_cam(X, y, model, layer=LAST_FIRE):
    """Guided Grad-CAM (Selvaraju et al. 2017): ``guided_backprop * grad_cam`` pixel by pixel.

    Args:
        X: float (N, 3, H, W); y: int (N,); model: the network; layer: as in ``grad_cam``.
    Returns:
        (N, 3, H, W).
    """
    fn = "guided_grad_cam"
    dtype = np.asarray(X).dtype
    X, y = check_batch(fn, X, y, model)
    layer = _check.feature_index(fn, "layer", layer, len(model.features))
    # BEGIN SOLUTION
    out = _guided(X, y, model) * _cam(X, y, model, layer, upsample=True, plus_plus=False)[:, None]
    # END SOLUTION
    return out.astype(dtype, copy=False)
