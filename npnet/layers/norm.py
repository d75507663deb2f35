"""Normalisation layers: batch normalisation (vector and spatial) and instance normalisation.

Both normalise groups of values to zero mean and unit variance, ``xhat = (x - mean) / sqrt(var + eps)``
(biased variance), then scale and shift per feature/channel, ``out = gamma * xhat + beta``. They differ
only in the axes a group spans, so they share one forward rule and one backward rule.

Backward in closed form. Within a group of ``m`` values with ``dxhat = dout * gamma``, the chain rule
through the mean and the variance collapses to

    dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))

with both means over the group: one line, no intermediate gradients of ``mu`` and ``var``. The two
subtracted terms project out the directions the normalisation removes (a constant shift and a scaling).
"""

import numpy as np

from .. import _check
from ..errors import NpnetValueError

__all__ = ["batchnorm_forward", "batchnorm_backward", "spatial_batchnorm_forward",
           "spatial_batchnorm_backward", "instance_norm_forward", "instance_norm_backward"]


def _scale_shift(fn, gamma, beta, c, dtype):
    gamma = _check.float_array(fn, "gamma", gamma)
    _check.shape(fn, "gamma", gamma, (c,))
    beta = _check.float_array(fn, "beta", beta)
    _check.shape(fn, "beta", beta, (c,))
    return gamma.astype(dtype, copy=False), beta.astype(dtype, copy=False)


def _normalize(x, axis, eps):
    """``(xhat, mean, var, inv_std)`` of ``x`` over ``axis`` (statistics keep their dims)."""
    # BEGIN SOLUTION
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
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
    """Gradient through ``xhat = (x - mean) * inv_std`` with batch statistics over ``axis``."""
    # BEGIN SOLUTION
    return inv_std * (dxhat - dxhat.mean(axis=axis, keepdims=True)
                      - xhat * (dxhat * xhat).mean(axis=axis, keepdims=True))
    # END SOLUTION


def _batchnorm_forward(fn, x, gamma, beta, bn_param):
    """Batchnorm of a validated (M, D) array; ``fn`` names the public caller in errors."""
    m, d = x.shape
    gamma, beta = _scale_shift(fn, gamma, beta, d, x.dtype)
    param = _check.params(fn, "bn_param", bn_param, required=("mode",),
                          defaults={"eps": 1e-5, "momentum": 0.9, "running_mean": None, "running_var": None})
    mode = param["mode"]
    if mode not in ("train", "test"):
        raise NpnetValueError(f"{fn}: bn_param['mode'] must be 'train' or 'test'; got {mode!r}")
    eps = _check.number(fn, "bn_param['eps']", param["eps"], low=0, low_open=True)
    momentum = _check.number(fn, "bn_param['momentum']", param["momentum"], low=0, high=1)
    running = {}
    for key, init in (("running_mean", np.zeros), ("running_var", np.ones)):
        if bn_param.get(key) is None:
            running[key] = init(d, dtype=x.dtype)
        else:
            running[key] = _check.float_array(fn, f"bn_param['{key}']", bn_param[key])
            _check.shape(fn, f"bn_param['{key}']", running[key], (d,))
            running[key] = running[key].astype(x.dtype, copy=False)
    if mode == "train" and m < 2:
        raise NpnetValueError(f"{fn}: train mode needs more than 1 value per feature to estimate a variance; "
                              f"got {m}")
    # BEGIN SOLUTION
    if mode == "train":
        xhat, mean, var, inv_std = _normalize(x, 0, eps)
        _finite_variance(fn, var, x.dtype)
        running["running_mean"] = momentum * running["running_mean"] + (1 - momentum) * mean[0]
        running["running_var"] = momentum * running["running_var"] + (1 - momentum) * var[0]
    else:
        _finite_variance(fn, running["running_var"], x.dtype)
        inv_std = 1 / np.sqrt(running["running_var"] + eps)
        xhat = (x - running["running_mean"]) * inv_std
    out = gamma * xhat + beta
    # END SOLUTION
    bn_param.update(running)
    return out, (mode, xhat, inv_std, gamma)


def _batchnorm_backward(dout, cache):
    """Batchnorm backward of an (M, D) upstream gradient already checked against the cache."""
    mode, xhat, inv_std, gamma = cache
    # BEGIN SOLUTION
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    # At test time the statistics are constants, so only the scaling remains.
    dx = _normalize_backward(dxhat, xhat, inv_std, 0) if mode == "train" else dxhat * inv_std
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
            ``'running_mean'``, ``'running_var'``: (D,) arrays, created on the first call as zeros and
            ones (PyTorch's initial values, so test mode before any training is a plain scale/shift;
            CS231n starts the variance at zeros) and replaced in the dict by each call.
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
    _check.cache("batchnorm_backward", cache, 4)
    xhat = cache[1]
    dout = _check.dout("batchnorm_backward", dout, xhat.shape, xhat.dtype)
    return _batchnorm_backward(dout, cache)


def _channels_last(x):
    n, c, h, w = x.shape
    return x.transpose(0, 2, 3, 1).reshape(n * h * w, c)


def _channels_first(x2, shape):
    n, c, h, w = shape
    return x2.reshape(n, h, w, c).transpose(0, 3, 1, 2)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Spatial batch normalisation of (N, C, H, W) images: batchnorm per channel over N, H and W.

    Implemented as :func:`batchnorm_forward` on the (N*H*W, C) matrix of pixels.

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
    out, cache = _batchnorm_forward(fn, _channels_last(x), gamma, beta, bn_param)
    return _channels_first(out, x.shape), (cache, x.shape)


def spatial_batchnorm_backward(dout, cache):
    """Spatial batch normalisation backward pass.

    Args:
        dout: (N, C, H, W) upstream gradient.
        cache: from :func:`spatial_batchnorm_forward`.
    Returns:
        dx: (N, C, H, W); dgamma: (C,); dbeta: (C,).
    """
    _check.cache("spatial_batchnorm_backward", cache, 2)
    bn_cache, shape = cache
    dout = _check.dout("spatial_batchnorm_backward", dout, shape, bn_cache[1].dtype)
    dx, dgamma, dbeta = _batchnorm_backward(_channels_last(dout), bn_cache)
    return _channels_first(dx, shape), dgamma, dbeta


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
    _finite_variance(fn, var, x.dtype)
    out = gamma[:, None, None] * xhat + beta[:, None, None]
    # END SOLUTION
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
