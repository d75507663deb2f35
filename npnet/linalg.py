"""A convolution is a matrix: dense matrices of convolution and transposed convolution.

A convolution is linear in its input, so for fixed filters w it is some matrix A acting on the
flattened image: ``conv(x)[n].ravel() == A @ x[n].ravel()``. Row r of A belongs to one output value
(f, oh, ow) and holds, in the columns of the input pixels (c, h, w) under that window, the filter tap
w[f, c, h - oh*stride + pad, w - ow*stride + pad]; everything else in the row is zero (padding
contributes nothing, so taps that fall on it are simply dropped). A is mostly zeros, and the same
numbers repeat along its diagonals; that structure is what makes convolution cheap.

The transposed convolution is, by definition, the map with matrix A^T: each input pixel spreads its
value over the output through the same taps. Writing both matrices out is slow (their size is the
product of the input and output sizes), which is why the layers never do it, but the matrices are
useful for small experiments (rank, singular values, the adjoint identity) and as a test oracle.
"""
import numpy as np

from . import _check
from .errors import NpnetValueError

__all__ = ["conv_matrix", "conv_transpose_matrix"]


def _as_4d(fn, w, layout):
    w = _check.float_array(fn, "w", w, (2, 4), layout)
    if 0 in w.shape:
        raise NpnetValueError(f"{fn}: w must have non-zero sizes {layout}; got shape {w.shape}")
    return w[None, None] if w.ndim == 2 else w


def _hw(fn, input_hw):
    if not isinstance(input_hw, (tuple, list)) or len(input_hw) != 2:
        raise NpnetValueError(f"{fn}: input_hw must be a pair (H, W); got {input_hw!r}")
    return tuple(_check.positive_int(fn, "input_hw", v) for v in input_hw)


def conv_matrix(w, input_hw, stride=1, pad=0):
    """Dense matrix A of the convolution with filters w (no bias) on images of size input_hw.

    Args:
        w: filters (F, C, HH, WW), or (HH, WW) for one input and one output channel.
        input_hw: (H, W) of the input image.
        stride, pad: as in ``conv_param`` of :func:`npnet.layers.conv_forward`.
    Returns:
        A of shape (F*H'*W', C*H*W) with H' = 1 + (H + 2*pad - HH) // stride (W' likewise), such that
        ``conv_forward(x, w, None, ...)[n].ravel() == A @ x[n].ravel()``.
    """
    fn = "conv_matrix"
    w = _as_4d(fn, w, "(F, C, HH, WW) or (HH, WW)")
    H, W = _hw(fn, input_hw)
    stride = _check.positive_int(fn, "stride", stride)
    pad = _check.nonnegative_int(fn, "pad", pad)
    F, C, HH, WW = w.shape
    if HH > H + 2 * pad or WW > W + 2 * pad:
        raise NpnetValueError(f"{fn}: kernel {HH}x{WW} is larger than the padded input {H + 2 * pad}x{W + 2 * pad}")
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    A = np.zeros((F, Ho, Wo, C, H, W), dtype=w.dtype)
    # BEGIN SOLUTION
    for oh in range(Ho):
        for ow in range(Wo):
            for i in range(HH):
                for j in range(WW):
                    h, x = oh * stride - pad + i, ow * stride - pad + j
                    if 0 <= h < H and 0 <= x < W:
                        A[:, oh, ow, :, h, x] = w[:, :, i, j]
    # END SOLUTION
    return A.reshape(F * Ho * Wo, C * H * W)


def conv_transpose_matrix(w, input_hw, stride=1, pad=0, output_padding=0):
    """Dense matrix A of the transposed convolution with filters w (no bias) on inputs of size input_hw.

    Built directly from the scatter rule (input pixel (c, h, w) adds ``w[c, f, i, j]`` times its value
    to output pixel (f, h*stride - pad + i, w*stride - pad + j)), so that comparing it with
    ``conv_matrix(w, output_hw, stride, pad).T`` is a real check of the adjoint relation.

    Args:
        w: filters (C_in, C_out, HH, WW), or (HH, WW) for one channel in and out.
        input_hw: (H, W) of the transposed convolution's input.
        stride, pad, output_padding: as in ``conv_param`` of :func:`npnet.layers.conv_transpose_forward`.
    Returns:
        A of shape (C_out*H'*W', C_in*H*W) with H' = (H - 1)*stride - 2*pad + HH + output_padding,
        such that ``conv_transpose_forward(y, w, None, ...)[n].ravel() == A @ y[n].ravel()``.
    """
    fn = "conv_transpose_matrix"
    w = _as_4d(fn, w, "(C_in, C_out, HH, WW) or (HH, WW)")
    H, W = _hw(fn, input_hw)
    stride = _check.positive_int(fn, "stride", stride)
    pad = _check.nonnegative_int(fn, "pad", pad)
    output_padding = _check.nonnegative_int(fn, "output_padding", output_padding)
    if output_padding >= stride:
        raise NpnetValueError(f"{fn}: output_padding must be smaller than the stride {stride}; got {output_padding}")
    C_in, C_out, HH, WW = w.shape
    Ho = (H - 1) * stride - 2 * pad + HH + output_padding
    Wo = (W - 1) * stride - 2 * pad + WW + output_padding
    if Ho < 1 or Wo < 1:
        raise NpnetValueError(f"{fn}: pad {pad} crops the whole {Ho}x{Wo} output")
    A = np.zeros((C_out, Ho, Wo, C_in, H, W), dtype=w.dtype)
    # BEGIN SOLUTION
    for h in range(H):
        for x in range(W):
            for i in range(HH):
                for j in range(WW):
                    oh, ow = h * stride - pad + i, x * stride - pad + j
                    if 0 <= oh < Ho and 0 <= ow < Wo:
                        A[:, oh, ow, :, h, x] = w[:, :, i, j].T
    # END SOLUTION
    return A.reshape(C_out * Ho * Wo, C_in * H * W)
