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

The same bookkeeping converts between the two ways of upsampling by r: a sub-pixel convolution
(a stride-1 convolution with O*r*r filters followed by a pixel shuffle, Shi et al. 2016) and a
transposed convolution with stride r (``subpixel_to_transposed`` / ``transposed_to_subpixel``).
"""
import numpy as np

from . import _check
from .errors import NpnetValueError

__all__ = ["conv_matrix", "conv_transpose_matrix", "subpixel_to_transposed", "transposed_to_subpixel"]


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
    _check.allocation(fn, f"input_hw {(H, W)} with w {w.shape} (the dense matrix)", F * Ho * Wo * C * H * W, w.dtype)
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
    _check.allocation(fn, f"input_hw {(H, W)} with w {w.shape} and stride {stride} (the dense matrix)",
                      C_out * Ho * Wo * C_in * H * W, w.dtype)
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


def subpixel_to_transposed(w, b, upscale_factor, pad):
    """The transposed convolution that computes a given sub-pixel convolution exactly (Shi et al. 2016,
    "Is the deconvolution layer the same as a convolutional layer?").

    The sub-pixel layer is ``pixel_shuffle(conv(x, w, b, pad), r)``: output pixel (h*r + i, w*r + j) of
    channel o is filter ``o*r*r + i*r + j`` applied at (h, w). A stride-r transposed convolution puts
    input pixel h' at output rows h'*r - q + u, so matching the two gives the kernel of size k*r

        wt[c, o, (k-1-a)*r + i, (k-1-b)*r + j] = w[o*r*r + i*r + j, c, a, b],   crop q = (k-1-pad)*r.

    Args:
        w: sub-pixel filters (O*r*r, C, k, k) (square kernel).
        b: their biases (O*r*r,), or None. A transposed convolution has one bias per output channel, so
            the r*r biases of each o must be equal.
        upscale_factor: r >= 1.
        pad: the sub-pixel convolution's padding, 0 <= pad <= k - 1.
    Returns:
        (wt (C, O, k*r, k*r), bt (O,) or None, conv_param) with conv_param = {'stride': r, 'pad': q,
        'output_padding': 0} for :func:`npnet.layers.conv_transpose_forward`.
    """
    fn = "subpixel_to_transposed"
    w = _check.float_array(fn, "w", w, 4, "(O*r*r, C, k, k)")
    r = _check.positive_int(fn, "upscale_factor", upscale_factor)
    pad = _check.nonnegative_int(fn, "pad", pad)
    F, C, kh, kw = w.shape
    if kh != kw or kh == 0 or F == 0 or F % (r * r):
        raise NpnetValueError(f"{fn}: w must have shape (O*r*r, C, k, k) with a square kernel and r*r = {r * r} "
                         f"dividing the filter count; got {w.shape}")
    k, O = kh, F // (r * r)
    if pad > k - 1:
        raise NpnetValueError(f"{fn}: pad must be at most k - 1 = {k - 1} (a transposed convolution can crop its "
                         f"output but not pad it); got {pad}")
    bt = None
    if b is not None:
        b = _check.float_array(fn, "b", b, 1, "(O*r*r,)")
        _check.shape(fn, "b", b, (F,))
        per_channel = b.reshape(O, r * r)
        if np.any(per_channel != per_channel[:, :1]):
            raise NpnetValueError(f"{fn}: a transposed convolution has one bias per output channel, so the {r * r} "
                             f"biases of each output channel must be equal; got b.reshape({O}, {r * r}) = "
                             f"{per_channel.tolist()!r:.200}")
        bt = per_channel[:, 0].copy()
    # BEGIN SOLUTION
    flipped = w.reshape(O, r, r, C, k, k)[..., ::-1, ::-1]  # [o, i, j, c, k-1-a, k-1-b]
    wt = flipped.transpose(3, 0, 4, 1, 5, 2).reshape(C, O, k * r, k * r)
    q = (k - 1 - pad) * r
    # END SOLUTION
    return np.ascontiguousarray(wt), bt, {"stride": r, "pad": q, "output_padding": 0}


def _phase_taps(kt, r, q):
    """Per output phase i (row Y = h*r + i) of a stride-r transposed convolution with kernel length kt
    and crop q: the tap offset e_i, the input shift m_i, and the number of taps D_i."""
    i = np.arange(r)
    e, m = (i + q) % r, (i + q) // r
    taps = np.where(kt > e, -(-(kt - e) // r), 0)
    return e, m, taps


def _tap_index(kt, r, q, op):
    """(r, k) array: the transposed kernel's tap feeding sub-pixel phase i through conv tap a (kt when
    none), plus the conv's pad p, its kernel size k and how many rows to trim from its output."""
    e, m, taps = _phase_taps(kt, r, q)
    M = int(m.max())
    pad = max(0, int(np.max(taps - 1 - m)), M - 1 + -(-(kt + op - 2 * q) // r))
    k = pad + M + 1
    a = np.arange(k)
    idx = (pad + m[:, None] - a[None, :]) * r + e[:, None]
    idx = np.where((idx >= 0) & (idx < kt), idx, kt)
    trim = (pad - M + 1) * r - kt - op + 2 * q
    return idx, pad, k, trim


def transposed_to_subpixel(wt, bt, stride, pad=0, output_padding=0):
    """The sub-pixel convolution that computes a given stride-r transposed convolution exactly.

    Output row Y = h*r + i of the transposed convolution collects input rows h' with
    ``h'*r - q + u = Y``; writing i + q = m_i*r + e_i, the taps that reach phase i are
    u = e_i, e_i + r, e_i + 2r, ... from input rows h + m_i, h + m_i - 1, ... That is a stride-1
    convolution per phase (filter ``o*r*r + i*r + j``), whose results the pixel shuffle interleaves.
    When the transposed kernel is not k*r long, or the crop is not a multiple of r, some phases have
    fewer taps (zeros in the sub-pixel filters) and the shuffled output can be longer than the
    transposed one: drop its last ``trim`` rows and columns.

    Args:
        wt: transposed-convolution filters (C, O, kt, kt) (square kernel).
        bt: biases (O,) or None.
        stride: r >= 1; pad: the crop q >= 0; output_padding: 0 <= op < r
            (as in :func:`npnet.layers.conv_transpose_forward`).
    Returns:
        (w (O*r*r, C, k, k), b (O*r*r,) or None, conv_param {'stride': 1, 'pad': p}, trim) such that
        ``pixel_shuffle(conv(x, w, b, conv_param), r)[..., :H' , :W']`` equals the transposed convolution,
        H' = that output's size = shuffled size - trim.
    """
    fn = "transposed_to_subpixel"
    wt = _check.float_array(fn, "wt", wt, 4, "(C, O, kt, kt)")
    r = _check.positive_int(fn, "stride", stride)
    q = _check.nonnegative_int(fn, "pad", pad)
    op = _check.nonnegative_int(fn, "output_padding", output_padding)
    C, O, kh, kw = wt.shape
    if kh != kw or 0 in wt.shape:
        raise NpnetValueError(f"{fn}: wt must have shape (C, O, kt, kt) with a square, non-empty kernel; got {wt.shape}")
    if op >= r:
        raise NpnetValueError(f"{fn}: output_padding must be smaller than the stride {r}; got {op}")
    if bt is not None:
        bt = _check.float_array(fn, "bt", bt, 1, "(O,)")
        _check.shape(fn, "bt", bt, (O,))
    # BEGIN SOLUTION
    idx, p, k, trim = _tap_index(kh, r, q, op)
    padded = np.pad(wt, ((0, 0), (0, 0), (0, 1), (0, 1)))  # tap kt reads a zero
    g = padded[:, :, idx[:, :, None, None], idx[None, None, :, :]]  # [c, o, i, a, j, b]
    w = g.transpose(1, 2, 4, 0, 3, 5).reshape(O * r * r, C, k, k)
    b = None if bt is None else np.repeat(bt, r * r)
    # END SOLUTION
    return np.ascontiguousarray(w), b, {"stride": 1, "pad": p}, trim
