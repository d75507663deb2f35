"""Neuron-level gradients: what one unit or channel of any layer responds to.

* ``unit_gradient``: d(unit) / d(image) for one unit of ``features[layer]``, optionally with guided
  backpropagation (Springenberg et al. 2015), the per-neuron images of Zeiler & Fergus 2014 and of the
  lecture.
* ``unit_visualization``: gradient ascent on the input to excite one unit or a whole channel, with the
  regularisers of Yosinski et al. 2015 ("Understanding Neural Networks Through Deep Visualization",
  section 3): L2 decay, Gaussian blur, clipping of pixels with a small norm and of pixels with a small
  contribution, from a zero (mean-colour) start.

``model`` and layers as in ``npnet.vis.activations``; images are normalised (N, 3, H, W) arrays.
"""
import numbers
import warnings

import numpy as np
from tqdm.auto import tqdm

from .. import _check
from ..errors import NpnetTypeError, NpnetValueError
from ..image import blur_image
from ..layers import relu_mode
from .activations import _channel, _check_images, feature_layers, layer_index
from .synthesis import _per_image_norm, _pixel_range


def _model_dtype(model):
    """The dtype the network computes in: ``model.dtype``, else that of its first parameter."""
    if hasattr(model, "dtype"):
        return np.dtype(model.dtype)
    return next((np.dtype(v.dtype) for _, v in model.named_parameters()), np.dtype(np.float32))


def _position(fn, position, hw):
    h, w = hw
    if (not isinstance(position, (tuple, list)) or len(position) != 2
            or not all(isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in position)
            or not (0 <= position[0] < h and 0 <= position[1] < w)):
        raise NpnetValueError(f"{fn}: position must be a pair (i, j) of integers with 0 <= i < {h} and "
                              f"0 <= j < {w} (the layer's map is {h}x{w}); got {position!r}")
    return int(position[0]), int(position[1])


def unit_gradient(X, model, layer, channel, position=None, guided=False):
    """Gradient of one unit of ``features[layer]`` with respect to each input image.

    Args:
        X: normalised images (N, 3, H, W).
        model: the network; layer: index or name; channel: channel of that layer.
        position: (i, j) of the unit in the layer's map, or None for each image's most active unit of the
            channel (the first maximum: lowest row, then column).
        guided: use guided backpropagation through every ReLU (Springenberg et al. 2015).
    Returns:
        (grad (N, 3, H, W) in X's dtype, positions (N, 2) of the units used).
    """
    fn = "unit_gradient"
    dtype = np.asarray(X).dtype
    layer = layer_index(fn, model, layer)
    X = _check_images(fn, model, X)
    if not isinstance(guided, (bool, np.bool_)):
        raise NpnetTypeError(f"{fn}: guided must be True or False; got {guided!r}")
    features = feature_layers(fn, model)
    A = features.forward(X, 0, layer + 1)
    channel = _channel(fn, channel, A.shape[1], layer)
    n, _, h, w = A.shape
    if position is None:
        rows, cols = np.divmod(A[:, channel].reshape(n, -1).argmax(axis=1), w)
    else:
        i, j = _position(fn, position, (h, w))
        rows, cols = np.full(n, i), np.full(n, j)
    # BEGIN SOLUTION
    dA = np.zeros_like(A)
    dA[np.arange(n), channel, rows, cols] = 1
    with relu_mode("guided" if guided else "standard"):
        grad = features.backward(dA, 0, layer + 1)
    # END SOLUTION
    return grad.astype(dtype, copy=False), np.stack([rows, cols], axis=1)


def clip_small_norm(x, percentile):
    """Yosinski et al.'s third regulariser: zero every pixel whose norm over the colour channels is
    below the ``percentile``-th percentile of those norms (0 keeps everything).

    x: (N, C, H, W), modified copy returned; the percentile is taken per image.
    """
    fn = "clip_small_norm"
    x = _check.float_array(fn, "x", x, ndim=4, layout="(N, C, H, W)")
    p = _check.number(fn, "percentile", percentile, low=0, high=100)
    # BEGIN SOLUTION
    norm = np.sqrt((x.astype(np.float64) ** 2).sum(axis=1))  # (N, H, W)
    cut = np.percentile(norm.reshape(len(x), -1), p, axis=1)[:, None, None]
    return x * (norm >= cut)[:, None].astype(x.dtype) if p > 0 else x.copy()
    # END SOLUTION


def clip_small_contribution(x, grad, percentile):
    """Yosinski et al.'s fourth regulariser: zero every pixel whose contribution ``|sum_c x * grad|``
    (the first-order change of the objective if the pixel were set to 0) is below the ``percentile``-th
    percentile of the contributions of its image.

    x, grad: (N, C, H, W); returns a modified copy of x.
    """
    fn = "clip_small_contribution"
    x = _check.float_array(fn, "x", x, ndim=4, layout="(N, C, H, W)")
    grad = _check.float_array(fn, "grad", grad)
    _check.same_shape(fn, "grad", grad, x.shape, "x")
    p = _check.number(fn, "percentile", percentile, low=0, high=100)
    # BEGIN SOLUTION
    contribution = np.abs((x.astype(np.float64) * grad).sum(axis=1))
    cut = np.percentile(contribution.reshape(len(x), -1), p, axis=1)[:, None, None]
    return x * (contribution >= cut)[:, None].astype(x.dtype) if p > 0 else x.copy()
    # END SOLUTION


def unit_objective_gradient(img, model, layer, channel, position):
    """(objective, d objective / d img) for one image (1, 3, H, W): the unit at ``position`` of the
    channel, or the channel's mean over positions when ``position`` is None. ``img`` must be checked."""
    features = feature_layers("unit_objective_gradient", model)
    A = features.forward(img, 0, layer + 1)
    dA = np.zeros_like(A)
    # BEGIN SOLUTION
    if position is None:
        value = A[0, channel].mean()
        dA[0, channel] = 1.0 / (A.shape[2] * A.shape[3])
    else:
        value = A[0, channel][position]
        dA[0, channel][position] = 1
    # END SOLUTION
    return float(value), features.backward(dA, 0, layer + 1)


def unit_visualization(model, layer, channel, position=None, image_size=224, num_iterations=100,
                       learning_rate=10.0, l2_decay=0.01, blur_every=4, blur_sigma=0.5, norm_percentile=0,
                       contribution_percentile=0, init="zero", seed=None, callback=None, progress=False):
    """An image that excites one unit, or one whole channel, of ``features[layer]`` (Erhan et al. 2009;
    Yosinski et al. 2015).

    From ``init`` (``'zero'``: the mean colour, Yosinski et al.'s start; ``'noise'``: small Gaussian
    noise), each iteration t = 0, 1, ... takes a normalised gradient step on the objective,
    ``img += learning_rate * g / ||g||_2``, and then applies the regulariser r of Yosinski et al.:

    1. L2 decay: ``img *= 1 - l2_decay``;
    2. Gaussian blur with sigma ``blur_sigma`` when ``t % blur_every == 0`` (``blur_every=0``: never);
    3. ``clip_small_norm(img, norm_percentile)``;
    4. ``clip_small_contribution(img, g, contribution_percentile)``;

    and finally clips every channel to the range of real pixels. A unit that is off (after its ReLU) for
    the start image has zero gradient and never moves: a ``RuntimeWarning`` says so.

    Args:
        model: the network; layer: index or name; channel: channel of that layer.
        position: (i, j) unit of the layer's map, or None for the channel's mean activation.
        image_size: side S of the square image; num_iterations: gradient steps.
        learning_rate: > 0; l2_decay: in [0, 1); blur_every: >= 0; blur_sigma: > 0;
        norm_percentile, contribution_percentile: in [0, 100] (0 turns the clipping off).
        init: ``'zero'`` or ``'noise'``; seed: seed of the noise.
        callback: ``callback(t, img)`` after every iteration (do not modify img).
        progress: show a tqdm progress bar.
    Returns:
        (img (1, 3, S, S) normalised, in the model's dtype; objective (num_iterations + 1,) float64, the
        objective before each step and after the last).
    """
    fn = "unit_visualization"
    layer = layer_index(fn, model, layer)
    S = _check.positive_int(fn, "image_size", image_size)
    T = _check.nonnegative_int(fn, "num_iterations", num_iterations)
    lr = _check.number(fn, "learning_rate", learning_rate, low=0, low_open=True)
    decay = _check.number(fn, "l2_decay", l2_decay, low=0, high=1, high_open=True)
    blur_every = _check.nonnegative_int(fn, "blur_every", blur_every)
    sigma = _check.number(fn, "blur_sigma", blur_sigma, low=0, low_open=True)
    norm_pct = _check.number(fn, "norm_percentile", norm_percentile, low=0, high=100)
    contrib_pct = _check.number(fn, "contribution_percentile", contribution_percentile, low=0, high=100)
    if init not in ("zero", "noise"):
        raise NpnetValueError(f"{fn}: init must be 'zero' or 'noise'; got {init!r}")
    if callback is not None and not callable(callback):
        raise NpnetTypeError(f"{fn}: callback must be callable as callback(t, img); got {type(callback).__name__}")
    dtype = _model_dtype(model)
    rng = _check.rng(fn, "seed", seed)
    img = np.zeros((1, 3, S, S), dtype=dtype)
    if init == "noise":
        img += (0.1 * rng.standard_normal(img.shape)).astype(dtype)
    img = _check_images(fn, model, img)
    A = feature_layers(fn, model).forward(img, 0, layer + 1)
    channel = _channel(fn, channel, A.shape[1], layer)
    if position is not None:
        position = _position(fn, position, A.shape[2:])
    lo, hi = _pixel_range(dtype)
    objective = np.zeros(T + 1)
    for t in tqdm(range(T), desc=f"{fn} features.{layer}[{channel}]", disable=not progress, leave=False):
        objective[t], g = unit_objective_gradient(img, model, layer, channel, position)
        if t == 0 and not np.any(g):
            warnings.warn(f"{fn}: features.{layer} channel {channel} is inactive for the start image (zero "
                          f"gradient), so gradient ascent cannot move; try init='noise' or another unit",
                          RuntimeWarning, stacklevel=2)
        # BEGIN SOLUTION
        img = img + (lr * g / _per_image_norm(g)).astype(dtype)
        img = img * dtype.type(1 - decay)
        if blur_every and t % blur_every == 0:
            img = blur_image(img, sigma=sigma)
        img = clip_small_norm(img, norm_pct)
        img = clip_small_contribution(img, g, contrib_pct)
        img = np.clip(img, lo, hi).astype(dtype, copy=False)
        # END SOLUTION
        if callback is not None:
            callback(t, img)
    objective[T], _ = unit_objective_gradient(img, model, layer, channel, position)
    return img, objective
