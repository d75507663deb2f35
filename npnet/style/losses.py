"""The losses of neural style transfer (Gatys, Ecker & Bethge 2016, "Image Style Transfer Using
Convolutional Neural Networks"), each returning its value and its gradient.

Every loss here is a plain function of feature maps (or of the image, for TV): it returns
``(loss, gradient)`` where ``loss`` is a Python float and the gradient has the shape and dtype of the
array it is taken with respect to. Backpropagating those gradients through the network to the pixels
is the job of ``npnet.style.transfer``.

Conventions follow the CS231n style-transfer assignment, whose reference numbers the tests reproduce:

* content loss ``w_c * sum((F - P)**2)`` (no 1/2, no normalisation);
* Gram matrix ``G = F F^T`` over the flattened spatial positions, divided by ``C * H * W`` when
  normalised;
* style loss ``sum_l w_l * sum((G_l - A_l)**2)``;
* total variation ``w_t * (sum of squared vertical + horizontal neighbour differences)``.
"""
import numbers

import numpy as np

from .. import _check
from ..errors import NpnetTypeError, NpnetValueError

__all__ = ["content_loss", "gram_matrix", "gram_matrix_naive", "gram_matrix_backward", "style_loss",
           "tv_loss", "tv_loss_naive"]


def _weight(fn, name, w):
    """Return a loss weight as a float, or raise: it must be a finite real number >= 0."""
    return _check.number(fn, name, w, low=0)


def _features(fn, name, x):
    # Like npnet.layers.losses, a loss refuses NaN/Inf rather than return a NaN loss to chase later.
    x = _check.float_array(fn, name, x, ndim=4, layout="(N, C, H, W)")
    _check.finite(fn, name, x)
    return x


def content_loss(content_weight, content_current, content_original):
    """Content loss: how far the current features are from the content image's features.

    ``loss = content_weight * sum((F - P)**2)`` with F the current and P the original features.

    Returns ``(loss, gradient)``, not a loss alone as in the course: npnet has no autograd, so the
    gradient the optimiser needs comes back with the loss. A course cell ``loss = content_loss(...)``
    becomes ``loss, _ = content_loss(...)`` (or ``content_loss(...)[0]``).

    Args:
        content_weight: w_c, a float >= 0.
        content_current: F, (N, C, H, W) features of the image being optimised.
        content_original: P, (N, C, H, W) features of the content image (a constant target).
    Returns:
        loss: float.
        dcurrent: (N, C, H, W), dloss/dF = 2 w_c (F - P), in F's dtype.
    """
    fn = "content_loss"
    w = _weight(fn, "content_weight", content_weight)
    F = _features(fn, "content_current", content_current)
    P = _features(fn, "content_original", content_original)
    _check.same_shape(fn, "content_original", P, F.shape, "content_current")
    P = P.astype(F.dtype, copy=False)
    # BEGIN SOLUTION
    diff = F - P
    loss = w * np.sum(diff * diff, dtype=np.float64)
    dF = (2 * w) * diff
    # END SOLUTION
    return float(loss), dF.astype(F.dtype, copy=False)


def _gram_scale(fn, features, normalize):
    if not isinstance(normalize, (bool, np.bool_)):
        raise NpnetTypeError(f"{fn}: normalize must be True or False; got {normalize!r}")
    _, C, H, W = features.shape
    return 1.0 / (C * H * W) if normalize else 1.0


def gram_matrix(features, normalize=True):
    """Gram matrix of each feature map: the channel-by-channel inner products over all positions.

    ``G[n, i, j] = sum_{h, w} F[n, i, h, w] F[n, j, h, w]``, divided by ``C * H * W`` when
    ``normalize`` (so that it does not grow with the image size). This is the "style" statistic of
    Gatys et al.

    Args:
        features: F, (N, C, H, W).
        normalize: divide by C * H * W (default True, as in the course).
    Returns:
        gram: (N, C, C), symmetric, in F's dtype.
    """
    fn = "gram_matrix"
    F = _features(fn, "features", features)
    scale = _gram_scale(fn, F, normalize)
    N, C = F.shape[:2]
    # BEGIN SOLUTION
    flat = F.reshape(N, C, -1)
    gram = np.matmul(flat, flat.transpose(0, 2, 1)) * F.dtype.type(scale)
    # END SOLUTION
    return gram


def gram_matrix_naive(features, normalize=True):
    """The Gram matrix with explicit loops over samples and channel pairs (reference for
    ``gram_matrix``; same arguments and result). Slow: for understanding and tests only."""
    fn = "gram_matrix_naive"
    F = _features(fn, "features", features)
    scale = _gram_scale(fn, F, normalize)
    N, C = F.shape[:2]
    gram = np.zeros((N, C, C), dtype=F.dtype)
    # BEGIN SOLUTION
    for n in range(N):
        for i in range(C):
            for j in range(i, C):
                # each entry is one dot product over the H x W positions; G is symmetric
                gram[n, i, j] = gram[n, j, i] = np.sum(F[n, i] * F[n, j]) * scale
    # END SOLUTION
    return gram


def gram_matrix_backward(dgram, features, normalize=True):
    """Backward pass of ``gram_matrix``: the gradient with respect to the features.

    With ``flat = F.reshape(N, C, H*W)`` and ``G = s * flat flat^T``,
    ``dF = s * (dG + dG^T) flat`` (both factors of the product depend on F).

    Args:
        dgram: (N, C, C), upstream gradient dloss/dG.
        features: F, (N, C, H, W), the input of the forward pass.
        normalize: as in the forward pass.
    Returns:
        dfeatures: (N, C, H, W), in F's dtype.
    """
    fn = "gram_matrix_backward"
    F = _features(fn, "features", features)
    scale = _gram_scale(fn, F, normalize)
    N, C = F.shape[:2]
    dG = _check.dout(fn, dgram, (N, C, C), F.dtype)
    # BEGIN SOLUTION
    flat = F.reshape(N, C, -1)
    # the scale goes on the small (C, C) factor: one pass less over the (C, H*W) result
    dflat = np.matmul((dG + dG.transpose(0, 2, 1)) * F.dtype.type(scale), flat)
    # END SOLUTION
    return dflat.reshape(F.shape)


def _style_arguments(fn, feats, style_layers, style_targets, style_weights):
    """Validate style_loss's arguments; return (layers, weights) as lists of ints and floats."""
    if not isinstance(feats, (list, tuple)):
        raise NpnetTypeError(f"{fn}: feats must be a list of feature maps (one per network layer); "
                             f"got {type(feats).__name__}")
    layers, targets, weights = (_check.sequence(fn, name, v, "one entry per style layer") for name, v in (
        ("style_layers", style_layers), ("style_targets", style_targets), ("style_weights", style_weights)))
    if not len(layers) == len(targets) == len(weights):
        raise NpnetValueError(f"{fn}: style_layers, style_targets and style_weights must have the same length "
                              f"(one entry per style layer); got {len(layers)}, {len(targets)} and {len(weights)}")
    for i, layer in enumerate(layers):
        if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
            raise NpnetTypeError(f"{fn}: style_layers[{i}] must be an integer layer index; got {layer!r}")
        if not 0 <= layer < len(feats):
            raise NpnetValueError(f"{fn}: style_layers[{i}] = {layer} is out of range for {len(feats)} feature "
                                  f"maps (valid indices 0..{len(feats) - 1})")
    weights = [_weight(fn, f"style_weights[{i}]", w) for i, w in enumerate(weights)]
    return [int(layer) for layer in layers], targets, weights


def style_loss(feats, style_layers, style_targets, style_weights):
    """Style loss: how far the Gram matrices of the current features are from the style targets.

    ``loss = sum_l w_l * sum((G_l - A_l)**2)`` over the layers l in ``style_layers``, where
    ``G_l = gram_matrix(feats[l])`` (normalised) and ``A_l`` the style image's Gram matrix.

    Returns ``(loss, gradient)``, not a loss alone as in the course: npnet has no autograd, so the
    gradient the optimiser needs comes back with the loss. A course cell ``loss = style_loss(...)``
    becomes ``loss, _ = style_loss(...)`` (or ``style_loss(...)[0]``).

    Args:
        feats: list of feature maps, ``feats[i]`` (N, C_i, H_i, W_i) the output of network layer i
            (e.g. ``extract_features``); only the layers in ``style_layers`` are read.
        style_layers: list of L layer indices into ``feats``.
        style_targets: list of L arrays (N, C_l, C_l), the target Gram matrices A_l.
        style_weights: list of L floats >= 0, w_l.
    Returns:
        loss: float.
        dfeats: list of L arrays, ``dfeats[k]`` = dloss/d feats[style_layers[k]], shaped and typed
            like that feature map.
    """
    fn = "style_loss"
    layers, targets, weights = _style_arguments(fn, feats, style_layers, style_targets, style_weights)
    loss, grads = 0.0, []
    for k, (layer, target, w) in enumerate(zip(layers, targets, weights)):
        F = _features(fn, f"feats[{layer}]", feats[layer])
        A = _check.float_array(fn, f"style_targets[{k}]", target, ndim=3, layout="(N, C, C)")
        _check.shape(fn, f"style_targets[{k}] (the Gram matrix of layer {layer})", A,
                     (F.shape[0], F.shape[1], F.shape[1]))
        _check.finite(fn, f"style_targets[{k}]", A)
        A = A.astype(F.dtype, copy=False)
        # BEGIN SOLUTION
        diff = gram_matrix(F) - A
        loss += w * np.sum(diff * diff, dtype=np.float64)
        grads.append(gram_matrix_backward((2 * w) * diff, F))
        # END SOLUTION
    return float(loss), grads


def tv_loss(img, tv_weight):
    """Total variation loss: squared differences between vertical and horizontal neighbours.

    ``loss = w_t * (sum (x[:, :, i+1, j] - x[:, :, i, j])**2 + sum (x[:, :, i, j+1] - x[:, :, i, j])**2)``,
    summed over all channels; it penalises high-frequency noise. Vectorised, no Python loops.

    Returns ``(loss, gradient)``, not a loss alone as in the course: npnet has no autograd, so the
    gradient the optimiser needs comes back with the loss. A course cell ``loss = tv_loss(...)``
    becomes ``loss, _ = tv_loss(...)`` (or ``tv_loss(...)[0]``).

    Args:
        img: (N, C, H, W) image (normalised network input).
        tv_weight: w_t, a float >= 0.
    Returns:
        loss: float.
        dimg: (N, C, H, W), in img's dtype.
    """
    fn = "tv_loss"
    w = _weight(fn, "tv_weight", tv_weight)
    x = _features(fn, "img", img)
    # BEGIN SOLUTION
    dv = x[:, :, 1:, :] - x[:, :, :-1, :]
    dh = x[:, :, :, 1:] - x[:, :, :, :-1]
    loss = w * (np.sum(dv * dv, dtype=np.float64) + np.sum(dh * dh, dtype=np.float64))
    # each difference appears with + for the later pixel and - for the earlier one
    dx = np.zeros_like(x)
    dx[:, :, 1:, :] += (2 * w) * dv
    dx[:, :, :-1, :] -= (2 * w) * dv
    dx[:, :, :, 1:] += (2 * w) * dh
    dx[:, :, :, :-1] -= (2 * w) * dh
    # END SOLUTION
    return float(loss), dx


def tv_loss_naive(img, tv_weight):
    """Total variation loss with explicit loops over pixels (reference for ``tv_loss``; same
    arguments and result). Slow: for understanding and tests only."""
    fn = "tv_loss_naive"
    w = _weight(fn, "tv_weight", tv_weight)
    x = _features(fn, "img", img)
    H, W = x.shape[2:]
    loss = 0.0
    dx = np.zeros_like(x)
    # BEGIN SOLUTION
    for i in range(H):
        for j in range(W):
            if i + 1 < H:
                d = x[:, :, i + 1, j] - x[:, :, i, j]
                loss += w * np.sum(d * d)
                dx[:, :, i + 1, j] += 2 * w * d
                dx[:, :, i, j] -= 2 * w * d
            if j + 1 < W:
                d = x[:, :, i, j + 1] - x[:, :, i, j]
                loss += w * np.sum(d * d)
                dx[:, :, i, j + 1] += 2 * w * d
                dx[:, :, i, j] -= 2 * w * d
    # END SOLUTION
    return float(loss), dx
