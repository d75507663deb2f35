"""2-D convolution and transposed convolution (NCHW), naive loops beside fast im2col + BLAS versions.

A convolution slides F filters of shape (C, HH, WW) over a zero-padded input with a given stride; the
naive version spells that out with loops. The fast version gathers every window into a column
(im2col), so the whole layer becomes one matrix product per image (the trick of Chellapilla et al.,
"High Performance Convolutional Neural Networks for Document Processing", 2006). The transposed
convolution (Zeiler et al., "Deconvolutional Networks", 2010) is the adjoint of that map, so it reuses
the same two gathers in the opposite order.

``conv_param`` is a dict ``{'stride': int (default 1), 'pad': int (default 0)}`` as in CS231n, plus
``'output_padding'`` for the transposed convolution. Unknown keys raise, so a typo such as
``'padding'`` is not silently ignored.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import _check, kernels
from ..errors import NpnetTypeError, NpnetValueError

__all__ = [
    "conv_forward_naive", "conv_backward_naive", "conv_forward", "conv_backward",
    "conv_transpose_forward", "conv_transpose_backward",
]

BACKENDS = ("numba", "numpy")


def fast_dtype(fn, x):
    """Raise ``TypeError`` unless ``x`` is float32 or float64, the dtypes the Numba kernels are compiled for."""
    if x.dtype.char not in "fd":  # float32, float64 (a one-character test: this runs on every pass)
        raise NpnetTypeError(f"{fn}: x must be float32 or float64 for the compiled kernels; got dtype {x.dtype}")


def _backend(fn, backend):
    if backend not in BACKENDS:
        raise NpnetValueError(f"{fn}: backend must be one of {BACKENDS}; got {backend!r}")


def _bias(fn, b, n, dtype):
    if b is None:
        return None
    b = _check.float_array(fn, "b", b, 1, "(F,)")
    if b.shape != (n,):
        _check.shape(fn, "b", b, (n,))
    return b if b.dtype == dtype else b.astype(dtype)


def conv_output_size(size, k, stride, pad):
    """Output length of a convolution along one axis: ``1 + (size + 2*pad - k) // stride``."""
    return 1 + (size + 2 * pad - k) // stride


_CONV_DEFAULTS = {"stride": 1, "pad": 0}


def _conv_setup(fn, x, w, b, conv_param):
    """Validate a convolution's arguments; returns x, w, b in x's dtype, stride, pad, (Ho, Wo)."""
    x = _check.float_array(fn, "x", x, 4, "(N, C, H, W)")
    w = _check.float_array(fn, "w", w, 4, "(F, C, HH, WW)")
    p = _check.params(fn, "conv_param", conv_param, defaults=_CONV_DEFAULTS)
    stride = _check.positive_int(fn, "conv_param['stride']", p["stride"])
    pad = _check.nonnegative_int(fn, "conv_param['pad']", p["pad"])
    N, C, H, W = x.shape
    F, Cw, HH, WW = w.shape
    if Cw != C:
        raise NpnetValueError(f"{fn}: w must have shape (F, {C}, HH, WW) to match the {C} channels of x "
                              f"{x.shape}; got {w.shape}")
    if HH > H + 2 * pad or WW > W + 2 * pad:
        raise NpnetValueError(f"{fn}: kernel {HH}x{WW} of w {w.shape} is larger than the padded input "
                              f"{H + 2 * pad}x{W + 2 * pad} (x {x.shape}, pad {pad})")
    # conv_output_size, written out: this runs on every pass of every layer
    out_hw = (1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride)
    # The padded input, the columns and the output are the largest arrays of either version; a pad
    # such as 2**20 must be refused here, not reach np.pad or im2col as a MemoryError.
    largest = N * max(C * (H + 2 * pad) * (W + 2 * pad), (C * HH * WW + F) * out_hw[0] * out_hw[1])
    if largest > _check.SMALL_ALLOCATION:
        _check.allocation(fn, f"conv_param {p} with x {x.shape} and w {w.shape}", largest, x.dtype)
    if w.dtype != x.dtype:
        w = w.astype(x.dtype)
    return x, w, _bias(fn, b, F, x.dtype), stride, pad, out_hw


# --------------------------------------------------------------------------------------------------
# Naive loops
# --------------------------------------------------------------------------------------------------

def conv_forward_naive(x, w, b, conv_param):
    """Convolution with explicit loops over images, filters and output pixels.

    Args:
        x: input (N, C, H, W).
        w: filters (F, C, HH, WW).
        b: biases (F,) or None.
        conv_param: {'stride': s, 'pad': p}; the input is zero-padded by p on each side.
    Returns:
        out: (N, F, H', W') with H' = 1 + (H + 2p - HH) // s and W' = 1 + (W + 2p - WW) // s.
        cache: (x, w, b, stride, pad) for :func:`conv_backward_naive`.
    """
    fn = "conv_forward_naive"
    x, w, b, stride, pad, (Ho, Wo) = _conv_setup(fn, x, w, b, conv_param)
    N, F, HH, WW = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    # BEGIN SOLUTION
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for oh in range(Ho):
                for ow in range(Wo):
                    window = xp[n, :, oh * stride:oh * stride + HH, ow * stride:ow * stride + WW]
                    out[n, f, oh, ow] = np.sum(window * w[f])
    if b is not None:
        out += b[:, None, None]
    # END SOLUTION
    return out, (x, w, b, stride, pad)


def conv_backward_naive(dout, cache):
    """Backward pass of :func:`conv_forward_naive`, with the same loops.

    Args:
        dout: upstream gradient (N, F, H', W').
        cache: from :func:`conv_forward_naive`.
    Returns:
        dx (N, C, H, W), dw (F, C, HH, WW), db (F,) or None when the forward had no bias.
    """
    _check.cache("conv_backward_naive", cache, 5)
    x, w, b, stride, pad = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W, WW, stride, pad)
    dout = _check.dout("conv_backward_naive", dout, (N, F, Ho, Wo), x.dtype)
    # BEGIN SOLUTION
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for oh in range(Ho):
                for ow in range(Wo):
                    hs = slice(oh * stride, oh * stride + HH)
                    ws = slice(ow * stride, ow * stride + WW)
                    dxp[n, :, hs, ws] += w[f] * dout[n, f, oh, ow]
                    dw[f] += xp[n, :, hs, ws] * dout[n, f, oh, ow]
    dx = dxp[:, :, pad:pad + H, pad:pad + W]
    db = None if b is None else dout.sum(axis=(0, 2, 3))
    # END SOLUTION
    return dx, dw, db


# --------------------------------------------------------------------------------------------------
# im2col + matrix products
# --------------------------------------------------------------------------------------------------

# Images of at most this many output pixels are multiplied as one matrix (K, N*P) for the whole batch;
# larger ones image by image. Measured at N=8 (SqueezeNet) and N=128 (DCGAN), 1 and 2 threads: one
# product is 3-10% faster for SqueezeNet's 13x13 layers and 1.2-2.4x for DCGAN's 7x7 to 14x14 weight
# gradients, but 5-10% slower (and 2x for DCGAN's 24x24 weight gradient) from 27x27 up, where each
# image is already a big product and laying the batch side by side costs a copy.
BATCH_GEMM_MAX_PIXELS = 256


def _pointwise(HH, WW, stride, pad):
    """A 1x1, stride-1, unpadded kernel: the columns are the image itself, no gather needed."""
    return HH == WW == stride == 1 and pad == 0


def _one_product(N, P):
    """Whether the batch's N images of P pixels are multiplied as one matrix (see BATCH_GEMM_MAX_PIXELS)."""
    return N == 1 or P <= BATCH_GEMM_MAX_PIXELS


def _matmul(w2, a):
    """``w2 @ a[:, n]`` for every image n of ``a`` (K, N, P): (F, N, P), or a (F, N, P) view of (N, F, P)."""
    K, N, P = a.shape
    if _one_product(N, P):
        return (w2 @ a.reshape(K, N * P)).reshape(-1, N, P)
    return np.matmul(w2, a.transpose(1, 0, 2)).transpose(1, 0, 2)


def _sum_outer(a, b):
    """``sum_n a[:, n] @ b[:, n].T`` for a (I, N, P) and b (J, N, P): the weight gradient of a matrix
    product applied image by image. With the batch side by side it is one product."""
    I, N, P = a.shape
    if _one_product(N, P):
        a, b = a.reshape(I, N * P), b.reshape(-1, N * P)
        # OpenBLAS is faster with the longer side of the (small) result as its rows: the DCGAN's 5x5
        # 32 -> 64 convolution at N=128 (64 x 800 from 8192 pixels) 13.8 -> 10.2 ms on 1 thread, the
        # MnistJudge's second one (32 x 144) 3.3 -> 2.7 ms; the other order was up to 1.5x slower
        # where the result is wider than tall (32 x 25) on 2 threads.
        return a @ b.T if I >= b.shape[0] else (b @ a.T).T
    return np.matmul(a.transpose(1, 0, 2), b.transpose(1, 2, 0)).sum(axis=0)


def _flat_columns(cols):
    """A column matrix (K, N, P) stored as (K, N, P) or as (N, K, P): its flat data and the offsets
    ``sn, sk`` of image n and tap k in it (see :mod:`npnet.kernels`)."""
    K, N, P = cols.shape
    if not cols.flags.c_contiguous and cols.transpose(1, 0, 2).flags.c_contiguous:
        return cols.transpose(1, 0, 2).reshape(-1), K * P, P
    return np.ascontiguousarray(cols).reshape(-1), P, N * P


def _im2col(x, HH, WW, stride, pad, Ho, Wo, backend):
    """Windows of x (N, C, H, W) as columns (C*HH*WW, N, Ho*Wo), row order (c, i, j)."""
    N, C, H, W = x.shape
    K, P = C * HH * WW, Ho * Wo
    if _pointwise(HH, WW, stride, pad):
        return x.reshape(N, C, H * W).transpose(1, 0, 2)
    if backend == "numba":
        cols = np.empty((K, N, P), dtype=x.dtype)
        kernels.split(kernels.im2col_images, N, cols.size,
                      np.ascontiguousarray(x), cols.reshape(-1), P, N * P, HH, WW, stride, pad, Ho, Wo)
        return cols
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :Ho, :Wo]
    return win.transpose(1, 4, 5, 0, 2, 3).reshape(K, N, P)


# Columns that are not kept for a backward pass are made for chunks of images of at most this many
# bytes: products summed straight back into images (a convolution's input gradient, a transposed
# convolution's forward pass), and the forward pass of a convolution whose weight gradient is not
# wanted (frozen or inside no_grad). A chunk is used while it is still in cache, and no array bigger
# than glibc's 32 MiB mmap threshold is made, whose pages would be faulted in and zeroed on every
# call. Measured on 2 threads, float32: DCGAN's discriminator (5x5, 32 -> 64 channels at 12x12),
# N=256, input gradient 23.2 -> 11.6 ms and frozen forward 17.4 -> 11.1 ms; its generator's transposed
# convolution (7x7 -> 14x14) 13.4 -> 10.7 ms; SqueezeNet at N=8, frozen forward of the first layer
# 6.2 -> 3.9 ms, the others unchanged to 17% faster. 1 MiB was as good, 4-16 MiB slower.
COLUMN_CHUNK_BYTES = 2 << 20


def _chunk_images(N, bytes_per_image):
    """Image ranges [lo, hi) of at most COLUMN_CHUNK_BYTES of columns each (at least one image)."""
    step = max(1, COLUMN_CHUNK_BYTES // bytes_per_image)
    return [(lo, min(lo + step, N)) for lo in range(0, N, step)]


def _conv_without_columns(x, w2, b, relu, HH, WW, stride, pad, Ho, Wo, backend="numba", out=None):
    """The forward pass of a convolution whose columns are not kept for a weight gradient (frozen
    weights, or inside ``no_grad``), on arguments already checked: :func:`conv_forward` after its
    checks, and SqueezeNet's Fire module after checking its own three convolutions at once.

    ``x`` (N, C, H, W), ``w2`` the filters as a (F, C*HH*WW) matrix, ``b`` (F,) or None, all of one
    dtype; the rest as in :func:`conv_forward`. Returns ``_bias_relu(_matmul(w2, _im2col(x)))`` as
    (N, F, Ho*Wo), written into ``out`` if given. A pointwise kernel reads the image as its column
    matrix in one product; any other makes its columns image chunk by image chunk (COLUMN_CHUNK_BYTES).
    """
    if _pointwise(HH, WW, stride, pad):
        cols = _im2col(x, HH, WW, stride, pad, Ho, Wo, backend)
        return _bias_relu(_matmul(w2, cols).transpose(1, 0, 2), b, relu, backend, out)
    out = np.empty((x.shape[0], w2.shape[0], Ho * Wo), dtype=x.dtype) if out is None else out
    for lo, hi in _chunk_images(x.shape[0], w2.shape[1] * Ho * Wo * x.itemsize):
        cols = _im2col(x[lo:hi], HH, WW, stride, pad, Ho, Wo, backend)
        _bias_relu(_matmul(w2, cols).transpose(1, 0, 2), b, relu, backend, out[lo:hi])
    return out


def _col2im_of_product(w2, a, C, H, W, HH, WW, stride, pad, Ho, Wo, backend):
    """``_col2im(_matmul(w2, a), ...)`` for ``a`` (F, N, P), made in chunks of images (COLUMN_CHUNK_BYTES)."""
    chunks = _chunk_images(a.shape[1], w2.shape[0] * a.shape[2] * a.itemsize)
    if len(chunks) == 1 or backend != "numba" or _pointwise(HH, WW, stride, pad):
        return _col2im(_matmul(w2, a), C, H, W, HH, WW, stride, pad, Ho, Wo, backend)
    out = np.empty((a.shape[1], C, H, W), dtype=a.dtype)
    for lo, hi in chunks:
        _col2im(_matmul(w2, a[:, lo:hi]), C, H, W, HH, WW, stride, pad, Ho, Wo, backend, out=out[lo:hi])
    return out


def _col2im(cols, C, H, W, HH, WW, stride, pad, Ho, Wo, backend, out=None):
    """Adjoint of :func:`_im2col`: columns (C*HH*WW, N, Ho*Wo) summed into an image (N, C, H, W),
    written into ``out`` (a C-contiguous (N, C, H, W) array) if given (numba backend only)."""
    N = cols.shape[1]
    if _pointwise(HH, WW, stride, pad):
        return np.ascontiguousarray(cols.transpose(1, 0, 2)).reshape(N, C, H, W)
    if backend == "numba":
        dx = np.empty((N, C, H, W), dtype=cols.dtype) if out is None else out
        flat, sn, sk = _flat_columns(cols)
        kernels.split(kernels.col2im_images, N, dx.size, flat, dx, sn, sk, HH, WW, stride, pad, Ho, Wo)
        return dx
    cols = cols.reshape(C, HH, WW, N, Ho, Wo)
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for i in range(HH):
        for j in range(WW):
            xp[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride] += cols[:, i, j].transpose(1, 0, 2, 3)
    return xp[:, :, pad:pad + H, pad:pad + W]


def _bias_relu(a, b, relu, backend, out=None):
    """``a`` (N, F, P) plus the bias b (F,) or None, through a ReLU if ``relu``, written into ``out``
    (N, F, P) if given (rows contiguous, any other strides), else into a C-contiguous array: ``a``
    itself, updated in place, when ``a`` is C-contiguous."""
    if out is None:
        if b is None and not relu:
            return np.ascontiguousarray(a)
        out = a if a.flags.c_contiguous else np.empty(a.shape, dtype=a.dtype)
    if backend == "numba":
        N, F, P = a.shape
        b = np.zeros(F, dtype=a.dtype) if b is None else b
        src, sn, sf = _flat_columns(a.transpose(1, 0, 2))
        kernels.split(kernels.bias_relu_rows, N * F, out.size, src, sn, sf, b, relu, out)
        return out
    out[...] = a
    if b is not None:
        out += b[:, None]
    if relu:
        np.maximum(out, 0, out=out)
    return out


def _output(fn, out, shape, dtype):
    """Check a caller's ``out`` array: ``shape`` (N, F, H', W'), ``dtype``, writeable, each (H', W')
    plane contiguous (a channel range of a bigger NCHW array is fine). Returns it as (N, F, H'*W')."""
    if not isinstance(out, np.ndarray):
        raise NpnetTypeError(f"{fn}: out must be a NumPy array or None; got {type(out).__name__}")
    if out.shape != shape:
        _check.same_shape(fn, "out", out, shape, "the output")
    if out.dtype != dtype:
        raise NpnetTypeError(f"{fn}: out must have the dtype of x ({dtype}); got {out.dtype}")
    if not out.flags.writeable or out.strides[3] != out.itemsize or out.strides[2] != shape[3] * out.itemsize:
        raise NpnetValueError(f"{fn}: out must be writeable with contiguous (H', W') planes, e.g. "
                              f"big[:, c0:c1] of a C-contiguous array; got strides {out.strides}")
    return out.reshape(shape[0], shape[1], -1)


def conv_forward(x, w, b, conv_param, backend="numba", relu=False, weight_grads=True, out=None):
    """Fast convolution: im2col, then BLAS matrix products written straight into NCHW.

    Same arguments, shapes and results as :func:`conv_forward_naive` (to rounding). 1x1 stride-1
    unpadded convolutions skip im2col: the image ``(C, H*W)`` already is the column matrix. The columns
    of the whole batch form one matrix ``(C*HH*WW, N*H'*W')``; small images are multiplied in one product
    (see ``BATCH_GEMM_MAX_PIXELS``), larger ones image by image.

    Args:
        x: input (N, C, H, W), float32 or float64.
        w: filters (F, C, HH, WW).
        b: biases (F,) or None.
        conv_param: {'stride': s, 'pad': p}.
        backend: "numba" (compiled gathers, see :mod:`npnet.kernels`) or "numpy" (sliding_window_view,
            for comparison).
        relu: if True, return ``max(conv + b, 0)``, the bias and the ReLU applied in one pass over the
            output; :func:`conv_backward` then gives the gradients of that fused layer (and ``out > 0``
            is the mask a separate ReLU backward would use). The cache then holds ``out`` itself as
            that mask: do not modify ``out`` in place before the backward pass.
        weight_grads: if False, the columns are not kept in the cache (frozen weights need only dx,
            and the columns are the biggest array of the layer); :func:`conv_backward` must then be
            called with ``weight_grads=False``.
        out: None, or an array (N, F, H', W') of x's dtype to write the result into, with contiguous
            (H', W') planes: e.g. ``big[:, 64:128]`` of a preallocated (N, 128, H', W') array, so two
            convolutions fill one output without a concatenation.
    Returns:
        out: (N, F, H', W') with H' = 1 + (H + 2p - HH) // s, W' = 1 + (W + 2p - WW) // s (the
            ``out`` argument when given).
        cache: for :func:`conv_backward`.
    """
    fn = "conv_forward"
    x, w, b, stride, pad, (Ho, Wo) = _conv_setup(fn, x, w, b, conv_param)
    fast_dtype(fn, x)
    _backend(fn, backend)
    relu = _check.boolean(fn, "relu", relu)
    keep_cols = _check.boolean(fn, "weight_grads", weight_grads)
    N, F, HH, WW = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    dest = None if out is None else _output(fn, out, (N, F, Ho, Wo), x.dtype)
    # BEGIN SOLUTION
    if keep_cols:
        cols = _im2col(x, HH, WW, stride, pad, Ho, Wo, backend)  # (C*HH*WW, N, Ho*Wo)
        res = _matmul(w.reshape(F, -1), cols)  # (F, N, Ho*Wo)
        res = _bias_relu(res.transpose(1, 0, 2), b, relu, backend, dest).reshape(N, F, Ho, Wo)
    else:  # frozen weights: no columns to keep (they are made and used chunk by chunk, while in cache)
        cols = None
        res = _conv_without_columns(x, w.reshape(F, -1), b, relu, HH, WW, stride, pad, Ho, Wo, backend, dest)
        res = res.reshape(N, F, Ho, Wo)
    # END SOLUTION
    res = res if out is None else out
    return res, (x.shape, w, b, cols, stride, pad, backend, res if relu else None)


def conv_backward(dout, cache, weight_grads=True, input_grad=True):
    """Backward pass of :func:`conv_forward`.

    dx is ``w^T @ dout`` per image scattered back by col2im; dw is ``sum_n dout[n] @ cols[n]^T``,
    one product over the batch's columns side by side. After a forward with ``relu=True``, dout is
    first masked by the ReLU (``out > 0``).

    Args:
        dout: upstream gradient (N, F, H', W').
        cache: from :func:`conv_forward`.
        weight_grads: if False only dx is computed (frozen weights, e.g. saliency maps of a
            pretrained net), and dw, db are returned as None.
        input_grad: if False dx is not computed and returned as None (the input is data, e.g. the
            first layer of a discriminator during its own training step).
    Returns:
        dx (N, C, H, W) or None, dw (F, C, HH, WW) or None, db (F,) or None.
    """
    fn = "conv_backward"
    _check.cache(fn, cache, 8)
    x_shape, w, b, cols, stride, pad, backend, relu_out = cache
    N, C, H, W = x_shape
    F, _, HH, WW = w.shape
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W, WW, stride, pad)
    dout = _check.dout(fn, dout, (N, F, Ho, Wo), w.dtype)
    weight_grads = _check.boolean(fn, "weight_grads", weight_grads)
    input_grad = _check.boolean(fn, "input_grad", input_grad)
    if weight_grads and cols is None:
        raise NpnetValueError(f"{fn}: the forward pass ran with weight_grads=False and kept no columns; "
                              f"call conv_backward with weight_grads=False (dx only) or redo the forward")
    if relu_out is not None:
        dout = np.where(relu_out > 0, dout, 0).astype(dout.dtype, copy=False)
    # BEGIN SOLUTION
    d = dout.reshape(N, F, Ho * Wo).transpose(1, 0, 2)  # (F, N, Ho*Wo), laid out as the columns
    dx = dw = db = None
    if input_grad:
        dx = _col2im_of_product(w.reshape(F, -1).T, d, C, H, W, HH, WW, stride, pad, Ho, Wo, backend)
    if weight_grads:
        dw = _sum_outer(d, cols).reshape(w.shape)
        db = None if b is None else d.sum(axis=(1, 2))
    # END SOLUTION
    return dx, dw, db


# --------------------------------------------------------------------------------------------------
# Transposed convolution
# --------------------------------------------------------------------------------------------------

def conv_transpose_forward(x, w, b, conv_param, backend="numba"):
    """Transposed convolution (PyTorch ``ConvTranspose2d``): the adjoint of :func:`conv_forward`.

    Each input pixel stamps its channel vector times the kernel into the output, ``stride`` pixels
    apart; ``pad`` then crops that many pixels from each border and ``output_padding`` adds rows and
    columns at the bottom/right, so that a stride-s convolution's input size can be recovered.
    ``<conv(z), x> == <z, conv_transpose(x)>`` for w shared between the two (w's first axis is the
    convolution's output channels).

    Args:
        x: input (N, C_in, H, W), float32 or float64.
        w: filters (C_in, C_out, HH, WW).
        b: biases (C_out,) or None.
        conv_param: {'stride': s (default 1), 'pad': p (default 0), 'output_padding': op (default 0)},
            with op < s.
        backend: "numba" or "numpy", as for :func:`conv_forward`.
    Returns:
        out: (N, C_out, H', W') with H' = (H - 1)*s - 2p + HH + op, W' likewise.
        cache: for :func:`conv_transpose_backward`.
    """
    fn = "conv_transpose_forward"
    x = _check.float_array(fn, "x", x, 4, "(N, C_in, H, W)")
    w = _check.float_array(fn, "w", w, 4, "(C_in, C_out, HH, WW)")
    fast_dtype(fn, x)
    _backend(fn, backend)
    p = _check.params(fn, "conv_param", conv_param, defaults={"stride": 1, "pad": 0, "output_padding": 0})
    stride = _check.positive_int(fn, "conv_param['stride']", p["stride"])
    pad = _check.nonnegative_int(fn, "conv_param['pad']", p["pad"])
    op = _check.nonnegative_int(fn, "conv_param['output_padding']", p["output_padding"])
    if op >= stride:
        raise NpnetValueError(f"{fn}: conv_param['output_padding'] must be smaller than the stride {stride}; got {op}")
    N, C_in, H, W = x.shape
    Cw, C_out, HH, WW = w.shape
    if Cw != C_in:
        raise NpnetValueError(f"{fn}: w must have shape ({C_in}, C_out, HH, WW) to match the {C_in} channels of x "
                              f"{x.shape}; got {w.shape}")
    Ho, Wo = (H - 1) * stride - 2 * pad + HH + op, (W - 1) * stride - 2 * pad + WW + op
    if Ho < 1 or Wo < 1:
        raise NpnetValueError(f"{fn}: pad {pad} crops the whole output of x {x.shape} with w {w.shape} "
                              f"(would be {Ho}x{Wo})")
    if N * C_out * Ho * Wo > _check.SMALL_ALLOCATION:
        _check.allocation(fn, f"conv_param {p} with x {x.shape} and w {w.shape}", N * C_out * Ho * Wo, x.dtype)
    w = w.astype(x.dtype, copy=False)
    b = _bias(fn, b, C_out, x.dtype)
    # BEGIN SOLUTION
    out = _col2im_of_product(w.reshape(C_in, -1).T, x.reshape(N, C_in, H * W).transpose(1, 0, 2),
                             C_out, Ho, Wo, HH, WW, stride, pad, H, W, backend)
    # END SOLUTION
    if b is not None:  # the bias is added as in conv_forward: not the point of this exercise
        out = _bias_relu(out.reshape(N, C_out, Ho * Wo), b, False, backend).reshape(N, C_out, Ho, Wo)
    return out, (x, w, b, stride, pad, (Ho, Wo), backend)


def conv_transpose_backward(dout, cache):
    """Backward pass of :func:`conv_transpose_forward`.

    dx is the ordinary convolution of dout with w; dw pairs x with dout's windows.

    Args:
        dout: upstream gradient (N, C_out, H', W').
        cache: from :func:`conv_transpose_forward`.
    Returns:
        dx (N, C_in, H, W), dw (C_in, C_out, HH, WW), db (C_out,) or None when the forward had no bias.
    """
    _check.cache("conv_transpose_backward", cache, 7)
    x, w, b, stride, pad, (Ho, Wo), backend = cache
    N, C_in, H, W = x.shape
    _, C_out, HH, WW = w.shape
    dout = _check.dout("conv_transpose_backward", dout, (N, C_out, Ho, Wo), x.dtype)
    # BEGIN SOLUTION
    dcols = _im2col(dout, HH, WW, stride, pad, H, W, backend)  # (C_out*HH*WW, N, H*W)
    dx = np.ascontiguousarray(_matmul(w.reshape(C_in, -1), dcols).transpose(1, 0, 2)).reshape(x.shape)
    dw = _sum_outer(x.reshape(N, C_in, H * W).transpose(1, 0, 2), dcols).reshape(w.shape)
    # END SOLUTION
    db = None if b is None else dout.sum(axis=(0, 2, 3))
    return dx, dw, db
