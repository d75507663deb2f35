"""Normalisation layers: batch normalisation (vector and spatial), layer, group and instance normalisation.

All normalise groups of values to zero mean and unit variance, ``xhat = (x - mean) / sqrt(var + eps)``
(biased variance), then scale and shift per feature/channel, ``out = gamma xhat + beta``. They differ
only in the axes a group spans, so they share one forward rule and one backward rule:

==================  ==========================  =====================================
layer               input                       one group (statistics over)
==================  ==========================  =====================================
batchnorm           (N, D)                      a feature over the batch
spatial batchnorm   (N, C, H, W)                a channel over the batch and pixels
layernorm           (N, D)                      a sample over its features
spatial groupnorm   (N, C, H, W)                a sample's C/G channels over pixels
instance norm       (N, C, H, W)                a sample's channel over pixels
conditional IN      (N, C, H, W)                as instance norm; (gamma, beta) per style
==================  ==========================  =====================================

Backward in closed form. Within a group of ``m`` values with ``dxhat = gamma dout``, the chain rule
through the mean and the variance collapses to

    dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))

with both means over the group: one line, no intermediate gradients of ``mu`` and ``var``. The two
subtracted terms project out the directions the normalisation removes (a constant shift and a scaling).
"""
import numbers

import numpy as np

from .. import _check
from ..errors import NpnetTypeError, NpnetValueError

__all__ = ["batchnorm_forward", "batchnorm_backward", "spatial_batchnorm_forward",
           "spatial_batchnorm_backward", "layernorm_forward", "layernorm_backward",
           "spatial_groupnorm_forward", "spatial_groupnorm_backward", "instance_norm_forward",
           "instance_norm_backward", "conditional_instance_norm_forward", "conditional_instance_norm_forward_naive",
           "conditional_instance_norm_backward"]


def _scale_shift(fn, gamma, beta, c, dtype, shape=None):
    """``gamma`` and ``beta`` of ``shape`` (default (c,)) cast to ``dtype``; integer arrays are accepted,
    as CS231n's notebooks pass ``np.asarray([3, 4, 5])``."""
    shape = (c,) if shape is None else shape
    gamma = _check.real_array(fn, "gamma", gamma, dtype)
    _check.shape(fn, "gamma", gamma, shape)
    beta = _check.real_array(fn, "beta", beta, dtype)
    _check.shape(fn, "beta", beta, shape)
    return gamma, beta


def _normalize(x, axis, eps):
    """``(xhat, mean, var, inv_std)`` of ``x`` over ``axis`` (statistics keep their dims)."""
    # BEGIN SOLUTION
    mean = x.mean(axis=axis, keepdims=True)
    xhat = x - mean  # centred once, for the variance and then (scaled in place) for xhat
    var = np.square(xhat).mean(axis=axis, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    xhat *= inv_std
    # END SOLUTION
    return xhat, mean, var, inv_std


def _finite_variance(fn, var, dtype):
    """Refuse a variance that overflowed: ``inv_std`` would be 0 and every output silently ``beta``.

    Finite inputs can overflow ``var`` (|x| above ~1e19 in float32, ~1e154 in float64); NaN or Inf
    inputs give a NaN variance instead, which propagates to the output and is left alone.
    """
    if np.isposinf(var).any():
        raise NpnetValueError(f"{fn}: the variance of x overflows {np.dtype(dtype).name} for "
                              f"{int(np.isposinf(var).sum())} group(s); the values are too large to normalise, "
                              f"scale x down (or use float64)")


def _normalize_backward(dxhat, xhat, inv_std, axis):
    """Gradient through the normalisation ``xhat = (x - mean) / std`` with batch statistics over ``axis``."""
    # BEGIN SOLUTION
    dx = dxhat - dxhat.mean(axis=axis, keepdims=True)
    dx -= xhat * (dxhat * xhat).mean(axis=axis, keepdims=True)
    dx *= inv_std
    # END SOLUTION
    return dx


def _batchnorm_forward(fn, x, gamma, beta, bn_param):
    """Batchnorm of a validated (M, D) or (N, D, H, W) array, per feature D over every other axis
    (reduced in place, no transposed copies); ``fn`` names the public caller in errors."""
    d = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))
    m = x.size // d
    gamma, beta = _scale_shift(fn, gamma, beta, d, x.dtype)
    view = (1, d) + (1,) * (x.ndim - 2)  # broadcasts a per-feature vector against x
    gamma, beta = gamma.reshape(view), beta.reshape(view)
    param = _check.params(fn, "bn_param", bn_param, required=("mode",),
                          defaults={"eps": 1e-5, "momentum": 0.9, "running_mean": None, "running_var": None})
    mode = param["mode"]
    if mode not in ("train", "test"):
        raise NpnetValueError(f"{fn}: bn_param['mode'] must be 'train' or 'test'; got {mode!r}")
    eps = _check.number(fn, "bn_param['eps']", param["eps"], low=0, low_open=True)
    momentum = _check.number(fn, "bn_param['momentum']", param["momentum"], low=0, high=1)
    running = {}
    for key in ("running_mean", "running_var"):
        if bn_param.get(key) is None:
            running[key] = np.zeros(d, dtype=x.dtype)
        else:
            running[key] = _check.float_array(fn, f"bn_param['{key}']", bn_param[key])
            _check.shape(fn, f"bn_param['{key}']", running[key], (d,))
            running[key] = running[key].astype(x.dtype, copy=False)
            # Statistics that no data can give (NaN, Inf, a negative variance) would turn every test-mode
            # output into NaN, and be carried on by every later training update.
            _check.finite(fn, f"bn_param['{key}']", running[key])
    if (running["running_var"] < 0).any():
        raise NpnetValueError(f"{fn}: bn_param['running_var'] must be >= 0 (a variance); got "
                              f"{int((running['running_var'] < 0).sum())} negative value(s), the lowest "
                              f"{running['running_var'].min():.4g}")
    if mode == "train" and m < 2:
        raise NpnetValueError(f"{fn}: train mode needs more than 1 value per feature to estimate a variance; "
                              f"got {m}")
    # BEGIN SOLUTION
    if mode == "train":
        xhat, mean, var, inv_std = _normalize(x, axes, eps)
        _finite_variance(fn, var, x.dtype)
        running["running_mean"] = momentum * running["running_mean"] + (1 - momentum) * mean.reshape(d)
        running["running_var"] = momentum * running["running_var"] + (1 - momentum) * var.reshape(d)
    else:
        _finite_variance(fn, running["running_var"], x.dtype)
        inv_std = 1 / np.sqrt(running["running_var"].reshape(view) + eps)
        xhat = (x - running["running_mean"].reshape(view)) * inv_std
    out = gamma * xhat + beta
    # END SOLUTION
    bn_param.update(running)
    return out, (mode, xhat, inv_std, gamma, axes)


def _batchnorm_backward(dout, cache):
    """Batchnorm backward of an upstream gradient already checked against the cache."""
    mode, xhat, inv_std, gamma, axes = cache
    # BEGIN SOLUTION
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    dxhat = dout * gamma
    # At test time the statistics are constants, so only the scaling remains.
    dx = _normalize_backward(dxhat, xhat, inv_std, axes) if mode == "train" else dxhat * inv_std
    # END SOLUTION
    return dx, dgamma, dbeta


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation (Ioffe & Szegedy 2015) of (N, D) features, CS231n semantics.

    Train mode normalises each feature with the mean and biased variance of the batch and updates the
    running statistics in ``bn_param``:
    ``running = momentum * running + (1 - momentum) * batch_statistic``.
    Test mode normalises with the running statistics.

    Args:
        x: (N, D) floating array (N >= 2 in train mode).
        gamma: (D,) scale.
        beta: (D,) shift.
        bn_param: dict with
            ``'mode'``: ``'train'`` or ``'test'`` (required);
            ``'eps'``: added to the variance (default 1e-5);
            ``'momentum'``: in [0, 1] (default 0.9);
            ``'running_mean'``, ``'running_var'``: (D,) arrays, created on the first call as zeros
            (CS231n's initial values, so the course notebooks print the course's numbers; the
            :class:`npnet.nn.BatchNorm1d` module starts the variance at ones, as PyTorch does) and
            replaced in the dict by each call.
    Returns:
        out: (N, D), dtype of ``x``.
        cache: for :func:`batchnorm_backward`.
    """
    fn = "batchnorm_forward"
    x = _check.float_array(fn, "x", x, ndim=2, layout="(N, D)")
    return _batchnorm_forward(fn, x, gamma, beta, bn_param)


def batchnorm_backward(dout, cache):
    """Batch normalisation backward pass (closed form, see the module docstring).

    In test mode the running statistics are constants and ``dx = dout * gamma / sqrt(running_var + eps)``.

    Args:
        dout: (N, D) upstream gradient.
        cache: from :func:`batchnorm_forward`.
    Returns:
        dx: (N, D); dgamma: (D,); dbeta: (D,).
    """
    _check.cache("batchnorm_backward", cache, 5)
    xhat = cache[1]
    dout = _check.dout("batchnorm_backward", dout, xhat.shape, xhat.dtype)
    return _batchnorm_backward(dout, cache)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Spatial batch normalisation of (N, C, H, W) images: batchnorm per channel over N, H and W.

    The same computation as :func:`batchnorm_forward` on the (N*H*W, C) matrix of pixels, with the
    statistics reduced over axes (0, 2, 3) of x directly.

    Args:
        x: (N, C, H, W) floating array.
        gamma: (C,) scale.
        beta: (C,) shift.
        bn_param: as for :func:`batchnorm_forward`, with (C,) running statistics.
    Returns:
        out: (N, C, H, W), dtype of ``x``.
        cache: for :func:`spatial_batchnorm_backward`.
    """
    fn = "spatial_batchnorm_forward"
    x = _check.float_array(fn, "x", x, ndim=4, layout="(N, C, H, W)")
    return _batchnorm_forward(fn, x, gamma, beta, bn_param)


def spatial_batchnorm_backward(dout, cache):
    """Spatial batch normalisation backward pass.

    Args:
        dout: (N, C, H, W) upstream gradient.
        cache: from :func:`spatial_batchnorm_forward`.
    Returns:
        dx: (N, C, H, W); dgamma: (C,); dbeta: (C,).
    """
    _check.cache("spatial_batchnorm_backward", cache, 5)
    xhat = cache[1]
    dout = _check.dout("spatial_batchnorm_backward", dout, xhat.shape, xhat.dtype)
    return _batchnorm_backward(dout, cache)


def _eps(fn, name, param):
    # CS231n's notebooks and FullyConnectedNet also pass the 'mode' they give batchnorm; a per-sample
    # normalisation behaves the same in both modes, so it is accepted (and checked) but unused.
    param = _check.params(fn, name, param, defaults={"eps": 1e-5, "mode": "train"})
    if param["mode"] not in ("train", "test"):
        raise NpnetValueError(f"{fn}: {name}['mode'] must be 'train' or 'test'; got {param['mode']!r}")
    return _check.number(fn, f"{name}['eps']", param["eps"], low=0, low_open=True)


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer normalisation (Ba, Kiros & Hinton 2016, "Layer Normalization") of (N, D) features.

    Each sample is normalised over its own D features, so train and test behave the same and the
    batch size does not matter. Then per-feature ``gamma`` and ``beta``.

    Args:
        x: (N, D) floating array (D >= 2).
        gamma: (D,) scale (float or integer).
        beta: (D,) shift.
        ln_param: dict, optionally with ``'eps'`` (added to the variance, default 1e-5) and ``'mode'``
            (``'train'`` or ``'test'``, as CS231n passes it; both normalise the same way).
    Returns:
        out: (N, D), dtype of ``x``.
        cache: for :func:`layernorm_backward`.
    """
    fn = "layernorm_forward"
    x = _check.float_array(fn, "x", x, ndim=2, layout="(N, D)")
    gamma, beta = _scale_shift(fn, gamma, beta, x.shape[1], x.dtype)
    eps = _eps(fn, "ln_param", ln_param)
    if x.shape[1] < 2:
        raise NpnetValueError(f"{fn}: needs at least 2 features per sample to estimate a variance; "
                              f"got shape {x.shape}")
    # BEGIN SOLUTION
    xhat, _, var, inv_std = _normalize(x, 1, eps)
    out = gamma * xhat + beta
    # END SOLUTION
    _finite_variance(fn, var, x.dtype)
    return out, (xhat, inv_std, gamma)


def layernorm_backward(dout, cache):
    """Layer normalisation backward pass (the batchnorm closed form with the group along a row).

    Args:
        dout: (N, D) upstream gradient.
        cache: from :func:`layernorm_forward`.
    Returns:
        dx: (N, D); dgamma: (D,); dbeta: (D,).
    """
    _check.cache("layernorm_backward", cache, 3)
    xhat, inv_std, gamma = cache
    dout = _check.dout("layernorm_backward", dout, xhat.shape, xhat.dtype)
    # BEGIN SOLUTION
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = _normalize_backward(dout * gamma, xhat, inv_std, 1)
    # END SOLUTION
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Group normalisation (Wu & He 2018, "Group Normalization") of (N, C, H, W) images.

    The C channels of each sample are split into ``G`` consecutive groups of C/G channels; each group
    is normalised over its channels and pixels, then per-channel ``gamma`` and ``beta``. G = 1 is layer
    normalisation over (C, H, W); G = C is instance normalisation.

    Args:
        x: (N, C, H, W) floating array.
        gamma: (1, C, 1, 1) scale as in CS231n, or (C,).
        beta: shift, the same shape as ``gamma``.
        G: number of groups, a positive divisor of C.
        gn_param: dict, optionally with ``'eps'`` (default 1e-5) and ``'mode'`` (``'train'`` or
            ``'test'``, as CS231n passes it; both normalise the same way).
    Returns:
        out: (N, C, H, W), dtype of ``x``.
        cache: for :func:`spatial_groupnorm_backward`.
    """
    fn = "spatial_groupnorm_forward"
    x = _check.float_array(fn, "x", x, ndim=4, layout="(N, C, H, W)")
    n, c, h, w = x.shape
    shape = (c,) if np.ndim(gamma) == 1 else (1, c, 1, 1)
    gamma, beta = _scale_shift(fn, gamma, beta, c, x.dtype, shape)
    G = _check.positive_int(fn, "G", G)
    if c % G:
        raise NpnetValueError(f"{fn}: G must divide the {c} channels of x; got G={G}")
    eps = _eps(fn, "gn_param", gn_param)
    if (c // G) * h * w < 2:
        raise NpnetValueError(f"{fn}: needs at least 2 values per group; got x {x.shape} with G={G}")
    g4 = gamma.reshape(1, c, 1, 1)
    # BEGIN SOLUTION
    xhat, _, var, inv_std = _normalize(x.reshape(n, G, -1), 2, eps)
    xhat = xhat.reshape(x.shape)
    out = g4 * xhat + beta.reshape(1, c, 1, 1)
    # END SOLUTION
    _finite_variance(fn, var, x.dtype)
    return out, (xhat, inv_std, g4, G, shape)


def spatial_groupnorm_backward(dout, cache):
    """Group normalisation backward pass (the closed form within each group).

    Args:
        dout: (N, C, H, W) upstream gradient.
        cache: from :func:`spatial_groupnorm_forward`.
    Returns:
        dx: (N, C, H, W); dgamma and dbeta shaped like the forward's ``gamma``.
    """
    _check.cache("spatial_groupnorm_backward", cache, 5)
    xhat, inv_std, g4, G, shape = cache
    dout = _check.dout("spatial_groupnorm_backward", dout, xhat.shape, xhat.dtype)
    n = xhat.shape[0]
    # BEGIN SOLUTION
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(shape)
    dgamma = (dout * xhat).sum(axis=(0, 2, 3)).reshape(shape)
    dxhat = (dout * g4).reshape(n, G, -1)
    dx = _normalize_backward(dxhat, xhat.reshape(n, G, -1), inv_std, 2).reshape(xhat.shape)
    # END SOLUTION
    return dx, dgamma, dbeta


def instance_norm_forward(x, gamma, beta, eps=1e-5):
    """Instance normalisation (Ulyanov et al. 2016, "Instance Normalization: The Missing Ingredient for
    Fast Stylization"): each (sample, channel) plane normalised over its H*W pixels, then per-channel
    ``gamma`` and ``beta``. Train and test behave the same (no running statistics).

    Args:
        x: (N, C, H, W) floating array, H * W >= 2.
        gamma: (C,) scale.
        beta: (C,) shift.
        eps: positive number added to the variance.
    Returns:
        out: (N, C, H, W), dtype of ``x``.
        cache: for :func:`instance_norm_backward`.
    """
    fn = "instance_norm_forward"
    x = _check.float_array(fn, "x", x, ndim=4, layout="(N, C, H, W)")
    gamma, beta = _scale_shift(fn, gamma, beta, x.shape[1], x.dtype)
    eps = _check.number(fn, "eps", eps, low=0, low_open=True)
    if x.shape[2] * x.shape[3] < 2:
        raise NpnetValueError(f"{fn}: needs more than 1 pixel per plane (H * W >= 2); got shape {x.shape}")
    # BEGIN SOLUTION
    xhat, _, var, inv_std = _normalize(x, (2, 3), eps)
    out = gamma[:, None, None] * xhat + beta[:, None, None]
    # END SOLUTION
    _finite_variance(fn, var, x.dtype)
    return out, (xhat, inv_std, gamma)


def instance_norm_backward(dout, cache):
    """Instance normalisation backward pass (closed form, see the module docstring).

    Args:
        dout: (N, C, H, W) upstream gradient.
        cache: from :func:`instance_norm_forward`.
    Returns:
        dx: (N, C, H, W); dgamma: (C,); dbeta: (C,).
    """
    _check.cache("instance_norm_backward", cache, 3)
    xhat, inv_std, gamma = cache
    dout = _check.dout("instance_norm_backward", dout, xhat.shape, xhat.dtype)
    # BEGIN SOLUTION
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    dx = _normalize_backward(dout * gamma[:, None, None], xhat, inv_std, (2, 3))
    # END SOLUTION
    return dx, dgamma, dbeta


def _style_mix(fn, style, n, s, dtype):
    """The (N, S) matrix of style weights each sample's (gamma, beta) mixes: ``style`` an int k (every
    sample in style k, a one-hot row), an (S,) vector (every sample the same blend) or (N, S) (one
    row per sample, e.g. one-hot rows of the styles of a training batch)."""
    if isinstance(style, (numbers.Integral, np.integer)) and not isinstance(style, (bool, np.bool_)):
        if not 0 <= style < s:
            raise NpnetValueError(f"{fn}: style must be a style index in 0..{s - 1} (gammas has {s} rows); "
                                  f"got {style}")
        mix = np.zeros((n, s), dtype=dtype)
        mix[:, int(style)] = 1
        return mix
    if not isinstance(style, (np.ndarray, list, tuple)):
        raise NpnetTypeError(f"{fn}: style must be an int (one style), an (S,) blend or (N, S) per-sample weights; "
                             f"got {type(style).__name__}")
    mix = _check.real_array(fn, "style", style, dtype)
    _check.finite(fn, "style", mix)
    if mix.ndim == 1:
        _check.shape(fn, "style (a blend of the styles)", mix, (s,))
        mix = np.broadcast_to(mix, (n, s))
    else:
        _check.shape(fn, "style (per-sample style weights)", mix, (n, s))
    return mix


def _conditional_setup(fn, x, gammas, betas, style, eps):
    x = _check.float_array(fn, "x", x, ndim=4, layout="(N, C, H, W)")
    gammas = _check.real_array(fn, "gammas", gammas, x.dtype)
    styles = gammas.shape[0] if gammas.ndim == 2 else None
    _check.shape(fn, "gammas (S styles by C channels)", gammas, (styles, x.shape[1]))
    betas = _check.real_array(fn, "betas", betas, x.dtype)
    _check.shape(fn, "betas (like gammas)", betas, gammas.shape)
    mix = _style_mix(fn, style, x.shape[0], gammas.shape[0], x.dtype)
    eps = _check.number(fn, "eps", eps, low=0, low_open=True)
    if x.shape[2] * x.shape[3] < 2:
        raise NpnetValueError(f"{fn}: needs more than 1 pixel per plane (H * W >= 2); got shape {x.shape}")
    return x, gammas, betas, mix, eps


def conditional_instance_norm_forward(x, gammas, betas, style, eps=1e-5):
    """Conditional instance normalisation (Dumoulin, Shlens & Kudlur 2017, "A Learned Representation
    for Artistic Style"): instance normalisation whose scale and shift are chosen by the style.

    One network learns S styles by keeping one (gamma, beta) row per style; everything else is
    shared. Sample n is normalised over its H * W pixels per channel, then scaled and shifted by
    ``gamma_n = sum_s mix[n, s] gammas[s]`` and ``beta_n = sum_s mix[n, s] betas[s]``: a one-hot
    ``mix`` row selects one style, a convex combination blends styles (the paper's figure 7).

    Args:
        x: (N, C, H, W) floating array, H * W >= 2.
        gammas: (S, C) scale of each style.
        betas: (S, C) shift of each style.
        style: an int k in 0..S-1 (every sample in style k), an (S,) weight vector (every sample the
            same blend), or an (N, S) array (one weight row per sample).
        eps: positive number added to the variance.
    Returns:
        out: (N, C, H, W), dtype of ``x``.
        cache: for :func:`conditional_instance_norm_backward`.
    """
    fn = "conditional_instance_norm_forward"
    x, gammas, betas, mix, eps = _conditional_setup(fn, x, gammas, betas, style, eps)
    # BEGIN SOLUTION
    xhat, _, var, inv_std = _normalize(x, axis=(2, 3), eps=eps)  # per sample and channel, as instance norm
    gamma, beta = mix @ gammas, mix @ betas  # (N, C): each sample's own scale and shift
    out = gamma[:, :, None, None] * xhat + beta[:, :, None, None]
    # END SOLUTION
    _finite_variance(fn, var, x.dtype)
    return out, (xhat, inv_std, gamma, mix)


def conditional_instance_norm_forward_naive(x, gammas, betas, style, eps=1e-5):
    """:func:`conditional_instance_norm_forward` with explicit loops over samples, channels and styles
    (the reference the vectorised version is tested against). Returns ``out`` only."""
    fn = "conditional_instance_norm_forward_naive"
    x, gammas, betas, mix, eps = _conditional_setup(fn, x, gammas, betas, style, eps)
    n, c = x.shape[:2]
    out = np.empty_like(x)
    # BEGIN SOLUTION
    for i in range(n):
        for j in range(c):
            plane = x[i, j]
            xhat = (plane - plane.mean()) / np.sqrt(plane.var() + eps)
            gamma = beta = 0.0
            for k in range(gammas.shape[0]):
                gamma += mix[i, k] * gammas[k, j]
                beta += mix[i, k] * betas[k, j]
            out[i, j] = gamma * xhat + beta
    # END SOLUTION
    return out


def conditional_instance_norm_backward(dout, cache):
    """Conditional instance normalisation backward pass.

    The normalisation's gradient is instance norm's closed form with each sample's own gamma; a
    style row receives the per-sample gradients of gamma and beta weighted by how much each sample
    used it, ``dgammas = mix^T dgamma``.

    Args:
        dout: (N, C, H, W) upstream gradient.
        cache: from :func:`conditional_instance_norm_forward`.
    Returns:
        dx: (N, C, H, W); dgammas: (S, C); dbetas: (S, C).
    """
    _check.cache("conditional_instance_norm_backward", cache, 4)
    xhat, inv_std, gamma, mix = cache
    dout = _check.dout("conditional_instance_norm_backward", dout, xhat.shape, xhat.dtype)
    # BEGIN SOLUTION
    dgamma = (dout * xhat).sum(axis=(2, 3))  # (N, C), per sample
    dbeta = dout.sum(axis=(2, 3))
    dgammas, dbetas = mix.T @ dgamma, mix.T @ dbeta
    dx = _normalize_backward(dout * gamma[:, :, None, None], xhat, inv_std, (2, 3))
    # END SOLUTION
    return dx, dgammas, dbetas
