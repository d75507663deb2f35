"""Max, average and global average pooling (NCHW), with PyTorch's output sizes and window rules.

``pool_param`` is a dict ``{'pool_height': kh, 'pool_width': kw, 'stride': s, 'pad': p (default 0),
'ceil_mode': bool (default False)}``, plus ``'count_include_pad'`` (default True) for average pooling.
The output size along an axis of length L is ``floor((L + 2p - k) / s) + 1`` (``ceil`` with
ceil_mode), except that with ceil_mode a last window starting in the right padding is dropped, so
every window starts inside the input or its left padding. Padding must be at most half the kernel.
"""
import numpy as np

from .. import _check, kernels
from .activations import get_relu_mode, valid_relu_mode
from .conv import fast_dtype
from ..errors import NpnetValueError

__all__ = [
    "max_pool_forward_naive", "max_pool_backward_naive", "max_pool_forward", "max_pool_backward",
    "relu_max_pool_backward",
    "avg_pool_forward", "avg_pool_backward", "global_avg_pool_forward", "global_avg_pool_backward",
]


def pool_output_size(size, k, stride, pad, ceil_mode):
    """Output length of a pooling window sweep along one axis, exactly as PyTorch computes it.

    ``ceil_mode`` rounds up, but the last window must still start inside the input or the left padding.
    """
    span = size + 2 * pad - k
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _pool_setup(fn, x, pool_param, extra_defaults=None):
    """Validate x and pool_param; returns x, (kh, kw), stride, pad, (Ho, Wo) and the merged parameter dict."""
    x = _check.float_array(fn, "x", x, 4, "(N, C, H, W)")
    p = _check.params(fn, "pool_param", pool_param, required=("pool_height", "pool_width", "stride"),
                    defaults={"pad": 0, "ceil_mode": False, **(extra_defaults or {})})
    kh = _check.positive_int(fn, "pool_param['pool_height']", p["pool_height"])
    kw = _check.positive_int(fn, "pool_param['pool_width']", p["pool_width"])
    stride = _check.positive_int(fn, "pool_param['stride']", p["stride"])
    pad = _check.nonnegative_int(fn, "pool_param['pad']", p["pad"])
    ceil_mode = _check.boolean(fn, "pool_param['ceil_mode']", p["ceil_mode"])
    H, W = x.shape[2:]
    if 2 * pad > min(kh, kw):
        raise NpnetValueError(f"{fn}: pool_param['pad'] must be at most half the {kh}x{kw} window; got {pad}")
    out_hw = (pool_output_size(H, kh, stride, pad, ceil_mode), pool_output_size(W, kw, stride, pad, ceil_mode))
    # As in PyTorch, ceil mode lets one window hang over a too-small input; only an empty output is an error.
    if min(out_hw) < 1:
        raise NpnetValueError(f"{fn}: the {kh}x{kw} window is larger than the padded input "
                              f"{H + 2 * pad}x{W + 2 * pad} (x {x.shape}, pad {pad}, ceil_mode {ceil_mode})")
    return x, (kh, kw), stride, pad, out_hw, p


def _span(o, stride, pad, k, size):
    """Rows (or columns) [start, end) of the input under window ``o``, clipped to the image."""
    start = o * stride - pad
    return max(start, 0), min(start + k, size)


# --------------------------------------------------------------------------------------------------
# Max pooling
# --------------------------------------------------------------------------------------------------

def max_pool_forward_naive(x, pool_param):
    """Max pooling with explicit loops; padding never wins (it acts as -inf).

    Args:
        x: input (N, C, H, W).
        pool_param: see the module docstring.
    Returns:
        out: (N, C, H', W') (sizes in the module docstring).
        cache: (x, pool_param) for :func:`max_pool_backward_naive`.
    """
    x, (kh, kw), stride, pad, (Ho, Wo), _ = _pool_setup("max_pool_forward_naive", x, pool_param)
    N, C = x.shape[:2]
    out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
    # BEGIN SOLUTION
    for oh in range(Ho):
        h0, h1 = _span(oh, stride, pad, kh, x.shape[2])
        for ow in range(Wo):
            w0, w1 = _span(ow, stride, pad, kw, x.shape[3])
            out[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].max(axis=(2, 3))
    # END SOLUTION
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    """Backward pass of :func:`max_pool_forward_naive`.

    Each window sends its upstream gradient to the position of its maximum; on ties, to the first
    maximum in row-major order (as PyTorch does). Overlapping windows add.

    Args:
        dout: upstream gradient (N, C, H', W').
        cache: from :func:`max_pool_forward_naive`.
    Returns:
        dx: (N, C, H, W).
    """
    fn = "max_pool_backward_naive"
    _check.cache("max_pool_backward_naive", cache, 2)
    x, pool_param = cache
    x, (kh, kw), stride, pad, (Ho, Wo), _ = _pool_setup(fn, x, pool_param)
    N, C, H, W = x.shape
    dout = _check.dout(fn, dout, (N, C, Ho, Wo), x.dtype)
    dx = np.zeros_like(x)
    # BEGIN SOLUTION
    for n in range(N):
        for c in range(C):
            for oh in range(Ho):
                h0, h1 = _span(oh, stride, pad, kh, H)
                for ow in range(Wo):
                    w0, w1 = _span(ow, stride, pad, kw, W)
                    i, j = divmod(int(np.argmax(x[n, c, h0:h1, w0:w1])), w1 - w0)
                    dx[n, c, h0 + i, w0 + j] += dout[n, c, oh, ow]
    # END SOLUTION
    return dx


def _offset_dtype(kh, kw):
    """The smallest unsigned integer type holding a window offset ``i*kw + j`` < kh*kw: uint8 up to
    16x16 windows (1/8 of the memory of int64 flat indices), uint16 up to 256x256, else uint32."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if kh * kw - 1 <= np.iinfo(dtype).max:
            return dtype
    raise NpnetValueError(f"max_pool_forward: a {kh}x{kw} window is too large for the compiled kernel")


def _refuse_nan(fn, x, a):
    """Raise if ``a`` (x, or a max-pooled x) holds NaN, counting the NaNs of x in the message."""
    # One sum is much cheaper than an isnan pass; only a NaN (or +Inf meeting -Inf) makes it NaN.
    if np.isnan(np.sum(a)) and np.isnan(a).any():
        raise NpnetValueError(f"{fn}: x contains {int(np.isnan(x).sum())} NaN value(s) of {x.size}; the fast "
                              f"kernel cannot propagate NaN (max_pool_forward_naive does)")


def max_pool_forward(x, pool_param, need_argmax=True):
    """Fast max pooling (compiled kernel that also records each window's argmax).

    Same results and tie rule as :func:`max_pool_forward_naive`. The kernel does not propagate NaN
    (handling it made it 2.7x slower), so an ``x`` holding NaN is refused rather than pooled wrongly.

    Args:
        x: input (N, C, H, W), float32 or float64.
        pool_param: see the module docstring.
        need_argmax: if False (inference: no backward pass will follow), only the maxima are
            computed and the cache is None (a separable max-only kernel: 1.5-2x faster for windows
            other than 2x2 and 3x3 of stride 2, which the argmax kernel already does as fast).
    Returns:
        out: (N, C, H', W').
        cache: (x.shape, x.dtype, window geometry, argmax (N*C, H', W') as offsets inside each window
            in the smallest unsigned type that holds them), not x itself; None if not need_argmax.
    """
    fn = "max_pool_forward"
    x, (kh, kw), stride, pad, (Ho, Wo), _ = _pool_setup(fn, x, pool_param)
    fast_dtype(fn, x)
    need_argmax = _check.boolean(fn, "need_argmax", need_argmax)
    N, C, H, W = x.shape
    # BEGIN SOLUTION
    planes = np.ascontiguousarray(x).reshape(N * C, H, W)
    out = np.empty((N * C, Ho, Wo), dtype=x.dtype)
    if not need_argmax:
        kernels.split(kernels.max_pool_rows, N * C, out.size, planes, out, kh, kw, stride, pad)
        _refuse_nan(fn, x, out)  # this kernel lets NaN through: the output is 4x smaller to search
        return out.reshape(N, C, Ho, Wo), None
    arg = np.empty((N * C, Ho, Wo), dtype=_offset_dtype(kh, kw))
    nan = np.empty(N * C, dtype=np.uint8)  # whether each plane holds a NaN
    kernels.split(kernels.max_pool_argmax_rows, N * C, out.size, planes, out, arg, nan, kh, kw, stride, pad)
    if nan.any():
        _refuse_nan(fn, x, x)
    # END SOLUTION
    return out.reshape(N, C, Ho, Wo), (x.shape, x.dtype, (kh, kw, stride, pad), arg)


def max_pool_backward(dout, cache):
    """Backward pass of :func:`max_pool_forward`: dout (N, C, H', W') -> dx (N, C, H, W)."""
    fn = "max_pool_backward"
    (N, C, H, W), dtype, (kh, kw, stride, pad), arg = _argmax_cache(fn, cache)
    dout = _check.dout(fn, dout, (N, C) + arg.shape[1:], dtype)
    # BEGIN SOLUTION
    dx = np.empty((N * C, H, W), dtype=dtype)
    d = np.ascontiguousarray(dout).reshape(arg.shape)
    # mode -1: no ReLU behind the pool (d stands in for the pooled maxima, which are then not read)
    kernels.split(kernels.max_pool_backward_rows, N * C, dx.size, d, arg, d, -1, dx, kh, kw, stride, pad)
    # END SOLUTION
    return dx.reshape(N, C, H, W)


def relu_max_pool_backward(dout, cache, pooled, mode=None):
    """Backward pass of a ReLU followed by max pooling, in one compiled pass over the image.

    Equals ``relu_backward_from_output(max_pool_backward(dout, cache), relu_out, mode)``, without
    reading the ReLU's output: the only pixels with a gradient are the windows' maxima, where the ReLU's
    output is the pooled value. The poolings after SqueezeNet's fused Fire modules use it (through
    ``Sequential``): one pass over the Fire's output instead of two.

    Args:
        dout: upstream gradient (N, C, H', W') of the pooled output.
        cache: from :func:`max_pool_forward` (with ``need_argmax``).
        pooled: that forward's output (N, C, H', W'): the maxima of the ReLU's output.
        mode: one of ``RELU_MODES`` ('standard', 'guided', 'deconvnet'), or None for the mode set by
            ``relu_mode``.
    Returns:
        dx: (N, C, H, W), the gradient w.r.t. the ReLU's input.
    """
    fn = "relu_max_pool_backward"
    mode = get_relu_mode() if mode is None else valid_relu_mode(fn, mode)
    (N, C, H, W), dtype, (kh, kw, stride, pad), arg = _argmax_cache(fn, cache)
    dout = _check.dout(fn, dout, (N, C) + arg.shape[1:], dtype)
    pooled = _check.dout(fn, pooled, (N, C) + arg.shape[1:], dtype, name="pooled")
    dx = np.empty((N * C, H, W), dtype=dtype)
    kernels.split(kernels.max_pool_backward_rows, N * C, dx.size, np.ascontiguousarray(dout).reshape(arg.shape),
                  arg, np.ascontiguousarray(pooled).reshape(arg.shape), kernels.RELU_MODE_CODES[mode], dx,
                  kh, kw, stride, pad)
    return dx.reshape(N, C, H, W)


def _argmax_cache(fn, cache):
    """The cache of :func:`max_pool_forward`, refusing the None of a forward without argmax."""
    if cache is None:
        raise NpnetValueError(f"{fn}: the forward pass ran with need_argmax=False and kept no argmax; "
                              f"run max_pool_forward with need_argmax=True before a backward pass")
    _check.cache(fn, cache, 4)
    return cache


# --------------------------------------------------------------------------------------------------
# Average pooling
# --------------------------------------------------------------------------------------------------

def _divisor(n_out, stride, pad, k, size, count_include_pad):
    """Per-axis window lengths: PyTorch counts padding inside [-pad, size + pad) but never beyond."""
    start = np.arange(n_out) * stride - pad
    if count_include_pad:
        return np.minimum(start + k, size + pad) - start
    return np.minimum(start + k, size) - np.maximum(start, 0)


def _canvas_shape(size, k, stride, pad, n_out):
    # A ceil_mode window may run past the right padding; the canvas must hold it.
    return max(size + 2 * pad, (n_out - 1) * stride + k)


def avg_pool_forward(x, pool_param):
    """Average pooling with PyTorch ``AvgPool2d`` divisors.

    The sum over a window counts padding as zeros. It is divided by the window's area clipped to the
    padded input [-p, L + p) when ``count_include_pad`` is True, or clipped to the input itself when
    False; ceil_mode windows that overhang the padding are clipped the same way.

    Args:
        x: input (N, C, H, W).
        pool_param: see the module docstring, plus 'count_include_pad' (default True).
    Returns:
        out: (N, C, H', W').
        cache: for :func:`avg_pool_backward`.
    """
    fn = "avg_pool_forward"
    x, (kh, kw), stride, pad, (Ho, Wo), p = _pool_setup(fn, x, pool_param, {"count_include_pad": True})
    N, C, H, W = x.shape
    include = _check.boolean(fn, "pool_param['count_include_pad']", p["count_include_pad"])
    # BEGIN SOLUTION
    area = np.outer(_divisor(Ho, stride, pad, kh, H, include), _divisor(Wo, stride, pad, kw, W, include))
    canvas = np.zeros((N, C, _canvas_shape(H, kh, stride, pad, Ho), _canvas_shape(W, kw, stride, pad, Wo)),
                      dtype=x.dtype)
    canvas[:, :, pad:pad + H, pad:pad + W] = x
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += canvas[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride]
    out /= area.astype(x.dtype)
    # END SOLUTION
    return out, (x.shape, x.dtype, (kh, kw), stride, pad, canvas.shape, area)


def avg_pool_backward(dout, cache):
    """Backward pass of :func:`avg_pool_forward`: each input gets dout / area of every window it is in.

    Args:
        dout: upstream gradient (N, C, H', W').
        cache: from :func:`avg_pool_forward`.
    Returns:
        dx: (N, C, H, W).
    """
    _check.cache("avg_pool_backward", cache, 7)
    (N, C, H, W), dtype, (kh, kw), stride, pad, canvas_shape, area = cache
    Ho, Wo = area.shape
    dout = _check.dout("avg_pool_backward", dout, (N, C, Ho, Wo), dtype)
    # BEGIN SOLUTION
    share = dout / area.astype(dtype)
    canvas = np.zeros(canvas_shape, dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            canvas[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride] += share
    dx = canvas[:, :, pad:pad + H, pad:pad + W]
    # END SOLUTION
    return dx


def global_avg_pool_forward(x):
    """Mean over all spatial positions (as in Lin et al., "Network In Network", 2014).

    Args:
        x: input (N, C, H, W).
    Returns:
        out: (N, C, 1, 1).
        cache: (x.shape, x.dtype).
    """
    x = _check.float_array("global_avg_pool_forward", "x", x, 4, "(N, C, H, W)")
    # BEGIN SOLUTION
    out = x.mean(axis=(2, 3), keepdims=True)
    # END SOLUTION
    return out, (x.shape, x.dtype)


def global_avg_pool_backward(dout, cache):
    """Backward pass of :func:`global_avg_pool_forward`: dout (N, C, 1, 1) -> dx (N, C, H, W)."""
    _check.cache("global_avg_pool_backward", cache, 2)
    (N, C, H, W), dtype = cache
    dout = _check.dout("global_avg_pool_backward", dout, (N, C, 1, 1), dtype)
    # BEGIN SOLUTION
    dx = np.broadcast_to(dout / (H * W), (N, C, H, W)).copy()
    # END SOLUTION
    return dx
