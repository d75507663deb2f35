"""Fully connected (affine) layer: ``out = x.reshape(N, D) @ w + b``."""
import numpy as np

from .. import _check
from ..errors import NpnetValueError

__all__ = ["affine_forward", "affine_backward"]


def affine_forward(x, w, b):
    """Affine (fully connected) layer forward pass.

    Each sample of ``x`` is flattened to a row of ``D = d_1 * ... * d_k`` values (C order, so an NCHW
    image becomes channel-major), then ``out = x_flat @ w + b``.

    Args:
        x: (N, d_1, ..., d_k) floating array, k >= 1.
        w: (D, M) weights.
        b: (M,) biases.
    Returns:
        out: (N, M), dtype of ``x``.
        cache: ``(x, w, b)`` for :func:`affine_backward`.
    """
    fn = "affine_forward"
    x = _check.float_array(fn, "x", x)
    if x.ndim < 2:
        raise NpnetValueError(f"{fn}: x must have at least 2 dims (N, d_1, ..., d_k); got shape {x.shape}")
    n, d = x.shape[0], int(np.prod(x.shape[1:]))
    w = _check.float_array(fn, "w", w, ndim=2, layout="(D, M)")
    _check.shape(fn, "w", w, (d, None))
    b = _check.float_array(fn, "b", b, ndim=1, layout="(M,)")
    _check.shape(fn, "b", b, (w.shape[1],))
    w, b = w.astype(x.dtype, copy=False), b.astype(x.dtype, copy=False)
    # BEGIN SOLUTION
    out = x.reshape(n, d) @ w
    out += b  # in place: no second (N, M) array
    # END SOLUTION
    return out, (x, w, b)


def affine_backward(dout, cache, weight_grads=True, input_grad=True):
    """Affine layer backward pass.

    Args:
        dout: (N, M) upstream gradient.
        cache: from :func:`affine_forward`.
        weight_grads: if False only dx is computed (frozen weights, e.g. the discriminator during
            a GAN's generator step), and dw, db are returned as None.
        input_grad: if False dx is not computed and returned as None (the input is data).
    Returns:
        dx: (N, d_1, ..., d_k), shaped like ``x``, or None.
        dw: (D, M) or None.
        db: (M,) or None.
    """
    fn = "affine_backward"
    _check.cache("affine_backward", cache, 3)
    x, w, b = cache
    dout = _check.dout(fn, dout, (x.shape[0], w.shape[1]), x.dtype)
    weight_grads = _check.boolean(fn, "weight_grads", weight_grads)
    input_grad = _check.boolean(fn, "input_grad", input_grad)
    # BEGIN SOLUTION
    x_flat = x.reshape(x.shape[0], -1)
    dx = dw = db = None
    if input_grad:
        dx = (dout @ w.T).reshape(x.shape)
    if weight_grads:
        dw = x_flat.T @ dout
        db = dout.sum(axis=0)
    # END SOLUTION
    return dx, dw, db
