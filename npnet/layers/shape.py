"""Layers that only move values: concatenation and pixel (un)shuffle. Their backward passes route
each gradient back to the position its value came from, so they are exact permutations/splits."""

import numpy as np

from .. import _check
from ..errors import NpnetValueError

__all__ = ["concat_forward", "concat_backward", "pixel_shuffle_forward", "pixel_shuffle_backward",
           "pixel_unshuffle_forward", "pixel_unshuffle_backward"]


def concat_forward(xs, axis=1):
    """Concatenate arrays along ``axis`` (channels by default, as in DenseNet/U-Net skip connections).

    Args:
        xs: non-empty list or tuple of floating arrays with the same number of dims and equal sizes
            except along ``axis``; all are cast to the dtype of ``xs[0]``.
        axis: int, negative values count from the end.
    Returns:
        out: shape of ``xs[0]`` with ``sum(x.shape[axis] for x in xs)`` along ``axis``.
        cache: ``(sizes, axis, out.shape, out.dtype)`` for :func:`concat_backward`.
    """
    fn = "concat_forward"
    if not isinstance(xs, (list, tuple)) or not xs:
        raise NpnetValueError(f"{fn}: xs must be a non-empty list or tuple of arrays; got {xs!r:.80}")
    xs = [_check.float_array(fn, f"xs[{i}]", x) for i, x in enumerate(xs)]
    ndim = xs[0].ndim
    axis = _check.number(fn, f"axis (for {ndim}-dim inputs)", axis, low=-ndim, high=ndim, high_open=True,
                         integer=True) % ndim
    expected = tuple(None if k == axis else s for k, s in enumerate(xs[0].shape))
    for i, x in enumerate(xs[1:], start=1):
        _check.shape(fn, f"xs[{i}] (sizes must match xs[0] except along axis {axis})", x, expected)
    xs = [x.astype(xs[0].dtype, copy=False) for x in xs]
    sizes = [x.shape[axis] for x in xs]
    # BEGIN SOLUTION
    out = np.concatenate(xs, axis=axis)
    # END SOLUTION
    return out, (sizes, axis, out.shape, out.dtype)


def concat_backward(dout, cache):
    """Concatenation backward pass: split ``dout`` back into the pieces.

    Args:
        dout: upstream gradient, shaped like the concatenation.
        cache: from :func:`concat_forward`.
    Returns:
        List of gradients, one per input, each shaped like that input.
    """
    _check.cache("concat_backward", cache, 4)
    sizes, axis, shape, dtype = cache
    dout = _check.dout("concat_backward", dout, shape, dtype)
    # BEGIN SOLUTION
    dxs = np.split(dout, np.cumsum(sizes)[:-1], axis=axis)
    # END SOLUTION
    return dxs


def _shuffle(x, r):
    """Depth to space: (N, C*r*r, H, W) -> (N, C, H*r, W*r)."""
    n, crr, h, w = x.shape
    c = crr // (r * r)
    # BEGIN SOLUTION
    # Channel c*r*r + i*r + j becomes the (i, j) offset inside each r x r output block.
    return x.reshape(n, c, r, r, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(n, c, h * r, w * r)
    # END SOLUTION


def _unshuffle(x, r):
    """Space to depth: (N, C, H*r, W*r) -> (N, C*r*r, H, W), the inverse of :func:`_shuffle`."""
    n, c, hr, wr = x.shape
    h, w = hr // r, wr // r
    # BEGIN SOLUTION
    return x.reshape(n, c, h, r, w, r).transpose(0, 1, 3, 5, 2, 4).reshape(n, c * r * r, h, w)
    # END SOLUTION


def pixel_shuffle_forward(x, upscale_factor):
    """Pixel shuffle, depth to space (Shi et al. 2016, "Real-Time Single Image and Video
    Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural Network"), PyTorch ordering.

    Input channel ``c*r*r + i*r + j`` at pixel ``(h, w)`` goes to output channel ``c`` at pixel
    ``(h*r + i, w*r + j)``, with ``r = upscale_factor``.

    Args:
        x: (N, C*r*r, H, W) floating array.
        upscale_factor: positive int r.
    Returns:
        out: (N, C, H*r, W*r).
        cache: ``(r, out.shape, x.dtype)``.
    """
    fn = "pixel_shuffle_forward"
    x = _check.float_array(fn, "x", x, ndim=4, layout="(N, C*r*r, H, W)")
    r = _check.positive_int(fn, "upscale_factor", upscale_factor)
    if x.shape[1] % (r * r):
        raise NpnetValueError(f"{fn}: the channel count must be divisible by upscale_factor**2 = {r * r}; "
                              f"got x of shape {x.shape}")
    out = _shuffle(x, r)
    return out, (r, out.shape, x.dtype)


def pixel_shuffle_backward(dout, cache):
    """Pixel shuffle backward pass: the inverse permutation, a pixel unshuffle of ``dout``.

    Args:
        dout: (N, C, H*r, W*r) upstream gradient.
        cache: from :func:`pixel_shuffle_forward`.
    Returns:
        dx: (N, C*r*r, H, W).
    """
    _check.cache("pixel_shuffle_backward", cache, 3)
    r, shape, dtype = cache
    dout = _check.dout("pixel_shuffle_backward", dout, shape, dtype)
    return _unshuffle(dout, r)


def pixel_unshuffle_forward(x, downscale_factor):
    """Pixel unshuffle, space to depth: the inverse of :func:`pixel_shuffle_forward` (PyTorch ordering).

    Input channel ``c`` at pixel ``(h*r + i, w*r + j)`` goes to output channel ``c*r*r + i*r + j`` at
    pixel ``(h, w)``, with ``r = downscale_factor``.

    Args:
        x: (N, C, H*r, W*r) floating array.
        downscale_factor: positive int r dividing both spatial sizes.
    Returns:
        out: (N, C*r*r, H, W).
        cache: ``(r, out.shape, x.dtype)``.
    """
    fn = "pixel_unshuffle_forward"
    x = _check.float_array(fn, "x", x, ndim=4, layout="(N, C, H*r, W*r)")
    r = _check.positive_int(fn, "downscale_factor", downscale_factor)
    if x.shape[2] % r or x.shape[3] % r:
        raise NpnetValueError(f"{fn}: height and width must be divisible by downscale_factor = {r}; "
                              f"got x of shape {x.shape}")
    out = _unshuffle(x, r)
    return out, (r, out.shape, x.dtype)


def pixel_unshuffle_backward(dout, cache):
    """Pixel unshuffle backward pass: a pixel shuffle of ``dout``.

    Args:
        dout: (N, C*r*r, H, W) upstream gradient.
        cache: from :func:`pixel_unshuffle_forward`.
    Returns:
        dx: (N, C, H*r, W*r).
    """
    _check.cache("pixel_unshuffle_backward", cache, 3)
    r, shape, dtype = cache
    dout = _check.dout("pixel_unshuffle_backward", dout, shape, dtype)
    return _shuffle(dout, r)
