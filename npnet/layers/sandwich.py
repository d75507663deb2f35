"""Sandwich layers: common chains of layers as one forward/backward pair (CS231n's ``layer_utils``).

Each forward calls the layers in order and keeps their caches in a tuple; each backward calls the
matching backward functions in reverse order. Nothing new is computed here.
"""
from .. import _check
from .activations import relu_backward, relu_forward
from .affine import affine_backward, affine_forward
from .conv import conv_backward, conv_forward
from .pool import max_pool_backward, max_pool_forward

__all__ = ["affine_relu_forward", "affine_relu_backward", "conv_relu_forward", "conv_relu_backward",
           "conv_relu_pool_forward", "conv_relu_pool_backward"]


def affine_relu_forward(x, w, b):
    """Affine layer followed by a ReLU.

    Args:
        x: (N, d_1, ..., d_k) input; w: (D, M) weights; b: (M,) biases.
    Returns:
        out: (N, M); cache: for :func:`affine_relu_backward`.
    """
    # BEGIN SOLUTION
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    # END SOLUTION
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward pass of :func:`affine_relu_forward`: dout (N, M) -> dx (shape of x), dw (D, M), db (M,)."""
    _check.cache("affine_relu_backward", cache, 2)
    fc_cache, relu_cache = cache
    # BEGIN SOLUTION
    da = relu_backward(dout, relu_cache, mode="standard")
    dx, dw, db = affine_backward(da, fc_cache)
    # END SOLUTION
    return dx, dw, db


def conv_relu_forward(x, w, b, conv_param):
    """Convolution followed by a ReLU.

    Args:
        x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param: as for :func:`conv_forward`.
    Returns:
        out: (N, F, H', W'); cache: for :func:`conv_relu_backward`.
    """
    # BEGIN SOLUTION
    a, conv_cache = conv_forward(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    # END SOLUTION
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    """Backward pass of :func:`conv_relu_forward`: dout (N, F, H', W') -> dx, dw, db."""
    _check.cache("conv_relu_backward", cache, 2)
    conv_cache, relu_cache = cache
    # BEGIN SOLUTION
    da = relu_backward(dout, relu_cache, mode="standard")
    dx, dw, db = conv_backward(da, conv_cache)
    # END SOLUTION
    return dx, dw, db


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """Convolution, ReLU, then max pooling.

    Args:
        x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param: as for :func:`conv_forward`;
        pool_param: as for :func:`max_pool_forward`.
    Returns:
        out: (N, F, H'', W''); cache: for :func:`conv_relu_pool_backward`.
    """
    # BEGIN SOLUTION
    a, conv_cache = conv_forward(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward(s, pool_param)
    # END SOLUTION
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """Backward pass of :func:`conv_relu_pool_forward`: dout (N, F, H'', W'') -> dx, dw, db."""
    _check.cache("conv_relu_pool_backward", cache, 3)
    conv_cache, relu_cache, pool_cache = cache
    # BEGIN SOLUTION
    ds = max_pool_backward(dout, pool_cache)
    da = relu_backward(ds, relu_cache, mode="standard")
    dx, dw, db = conv_backward(da, conv_cache)
    # END SOLUTION
    return dx, dw, db
