"""The few Numba kernels behind the fast convolution and max-pooling layers.

Everything else in npnet is NumPy; these loops exist because NumPy has no fast way to gather the
overlapping windows of a convolution (im2col), scatter them back (col2im), or take a windowed argmax.
Each kernel is compiled once per dtype (float32 and float64) and cached on disk.

The kernels are deliberately serial. They are memory-bound copies that run between BLAS calls, and
OpenBLAS keeps its worker threads spinning for a while after each matrix product: a Numba thread pool
started in that window fights them for the same cores. Measured on 2 cores (SqueezeNet 1.1 forward,
N=1, 224x224, float32, with an earlier version of these kernels), ``parallel=True`` made the network
2x to 15x slower (median time), while the matrix products, which hold nearly all the arithmetic, are
threaded by BLAS anyway.

Shared geometry: an image of size (H, W) is zero-padded by ``pad`` on every side and visited by a
(HH, WW) window moving ``stride`` pixels at a time, giving Ho x Wo window positions. Window position
(oh, ow) and kernel offset (i, j) read input pixel (oh*stride - pad + i, ow*stride - pad + j).

Arrays must be C-contiguous: the kernels work on flat views with explicit offsets, and index them
through ``_u`` (an unsigned cast). A signed index makes Numba test for negative, wrap-around indices
on every access, which blocks vectorization; avoiding it made the loops 3-7x faster, and 1.4-2x
faster than the NumPy-only path (strided copies of a sliding-window view).
"""
import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _u(i):
    return np.uintp(i)


@njit(cache=True, inline="always")
def _valid_range(offset, stride, pad, size, n_out):
    """Window positions ``o`` in [0, n_out) with ``0 <= o*stride - pad + offset < size``, as [lo, hi)."""
    first = pad - offset
    lo = 0 if first <= 0 else (first + stride - 1) // stride
    last = size - 1 + pad - offset
    hi = 0 if last < 0 else min(n_out, last // stride + 1)
    return lo, max(lo, hi)


@njit(cache=True)
def im2col(x, HH, WW, stride, pad, Ho, Wo):
    """Windows of ``x`` (N, C, H, W) as columns: (N, C*HH*WW, Ho*Wo), zeros where the window overhangs.

    Row ``(c*HH + i)*WW + j`` holds kernel tap (c, i, j) for every window position, so a convolution
    becomes ``w.reshape(F, C*HH*WW) @ cols[n]``, already in (F, Ho*Wo) = NCHW order. Padding is read
    as zeros without building a padded copy. Filling one row at a time keeps writes contiguous.
    """
    N, C, H, W = x.shape
    K, P = C * HH * WW, Ho * Wo
    src = x.reshape(-1)
    cols = np.empty(N * K * P, dtype=x.dtype)
    for r in range(N * K):
        n, k = r // K, r % K
        c, ij = k // (HH * WW), k % (HH * WW)
        i, j = ij // WW, ij % WW
        lo, hi = _valid_range(j, stride, pad, W, Wo)
        for oh in range(Ho):
            dst = r * P + oh * Wo
            h = oh * stride - pad + i
            if h < 0 or h >= H:
                lo_h, hi_h = Wo, Wo
            else:
                lo_h, hi_h = lo, hi
            for ow in range(lo_h):
                cols[_u(dst + ow)] = 0
            at = ((n * C + c) * H + h) * W + j - pad
            for ow in range(lo_h, hi_h):
                cols[_u(dst + ow)] = src[_u(at + ow * stride)]
            for ow in range(hi_h, Wo):
                cols[_u(dst + ow)] = 0
    return cols.reshape(N, K, P)


@njit(cache=True)
def col2im(cols, C, H, W, HH, WW, stride, pad, Ho, Wo):
    """Adjoint of :func:`im2col`: sum columns (N, C*HH*WW, Ho*Wo) back into an image (N, C, H, W).

    Overlapping windows add up in the same pixel. The loop runs over image rows (n, c, h) and gathers
    every (window, tap) pair that lands in the row, so each output row stays in cache while it is
    summed (and rows could be split between threads without write conflicts).
    """
    N = cols.shape[0]
    K, P = C * HH * WW, Ho * Wo
    src = cols.reshape(-1)
    dx = np.zeros(N * C * H * W, dtype=cols.dtype)
    for r in range(N * C * H):
        n, c, h = r // (C * H), (r // H) % C, r % H
        for i in range(HH):
            t = h + pad - i
            if t < 0 or t % stride != 0 or t // stride >= Ho:
                continue
            for j in range(WW):
                lo, hi = _valid_range(j, stride, pad, W, Wo)
                at = (n * K + (c * HH + i) * WW + j) * P + (t // stride) * Wo
                dst = r * W + j - pad
                for ow in range(lo, hi):
                    dx[_u(dst + ow * stride)] += src[_u(at + ow)]
    return dx.reshape(N, C, H, W)


@njit(cache=True)
def max_pool_forward(x, kh, kw, stride, pad, Ho, Wo):
    """Windowed max of ``x`` (P, H, W) -> (out (P, Ho, Wo), argmax (P, Ho, Wo) as flat h*W + w).

    Windows are clipped to the image (padding acts as -inf). Ties keep the first maximum in row-major
    window order, the element PyTorch routes the gradient to. NaNs are not propagated: handling
    them made the kernel 2.7x slower, and a NaN activation is a bug to fix upstream anyway.
    """
    P, H, W = x.shape
    src = x.reshape(-1)
    out = np.empty(P * Ho * Wo, dtype=x.dtype)
    arg = np.empty(P * Ho * Wo, dtype=np.int64)
    for p in range(P):
        plane = p * H * W
        for oh in range(Ho):
            h0, h1 = max(oh * stride - pad, 0), min(oh * stride - pad + kh, H)
            for ow in range(Wo):
                w0, w1 = max(ow * stride - pad, 0), min(ow * stride - pad + kw, W)
                where = h0 * W + w0
                best = src[_u(plane + where)]
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        v = src[_u(plane + h * W + w)]
                        if v > best:
                            best, where = v, h * W + w
                o = (p * Ho + oh) * Wo + ow
                out[_u(o)] = best
                arg[_u(o)] = where
    return out.reshape(P, Ho, Wo), arg.reshape(P, Ho, Wo)


@njit(cache=True)
def max_pool_backward(dout, arg, H, W):
    """Route ``dout`` (P, Ho, Wo) to the recorded ``arg`` positions of an image (P, H, W).

    Windows overlap when stride < kernel, so gradients add.
    """
    P = dout.shape[0]
    M = dout.size // P
    grad, where = dout.reshape(-1), arg.reshape(-1)
    dx = np.zeros(P * H * W, dtype=dout.dtype)
    for p in range(P):
        for o in range(p * M, (p + 1) * M):
            dx[_u(p * H * W + where[_u(o)])] += grad[_u(o)]
    return dx.reshape(P, H, W)


# Kernels of the fused SqueezeNet path

RELU_MODE_CODES = {"standard": 0, "guided": 1, "deconvnet": 2}


@njit(cache=True, nogil=True)
def relu_backward_rows(dout, out, dx, mode, lo, hi):
    """ReLU backward from the layer's output for the elements [lo, hi) of the flat arrays ``dout``,
    ``out`` and ``dx``: ``dx = dout`` where the gate is open, else ``dout * 0``.

    The gate is ``out > 0`` (mode 0, standard), ``out > 0 and dout > 0`` (1, guided) or ``dout > 0``
    (2, deconvnet); ``out > 0`` exactly where the ReLU's input was. A closed gate multiplies by zero
    rather than writing 0, so NaN and Inf upstream stay visible, bit for bit as ``dout * gate`` in NumPy.
    NumPy's version needs a boolean mask array and a second pass; this one is 2x faster.
    """
    for i in range(lo, hi):
        v = dout[_u(i)]
        if mode == 0:
            gate = out[_u(i)] > 0
        elif mode == 1:
            gate = out[_u(i)] > 0 and v > 0
        else:
            gate = v > 0
        dx[_u(i)] = v if gate else v * 0
