"""The few Numba kernels behind the fast convolution, max-pooling and batch-norm layers.

Everything else in npnet is NumPy; these loops exist because NumPy has no fast way to gather the
overlapping windows of a convolution (im2col), scatter them back (col2im), take a windowed max and
argmax, or reduce an NCHW array per channel in one pass (batch norm, below). Each kernel is compiled
once per dtype (float32 and float64) and cached on disk.

Every kernel works on a range of independent rows ``[lo, hi)`` (images of a column matrix, image
rows, or image planes) and writes into an output the caller allocated, so :func:`split` can hand parts of
one call to other threads without write conflicts. The kernels are compiled with ``nogil=True``; the
extra threads are plain Python threads of one small pool that sleep on a queue between calls. They
are off by default (:func:`set_num_threads` turns them on), because no measurement on the project's
2-core machine has shown them winning yet. What was measured (float32, SqueezeNet 1.1 and DCGAN shapes,
interleaved repeats, load average 5-7 from other jobs on the 2 cores unless said):

* Numba's own ``parallel=True`` picks the ``omp`` threading layer (GNU OpenMP) when it is available.
  One ``prange`` region then cost 15-25 ms whenever the cores were busy, even with
  ``OPENBLAS_NUM_THREADS=1``, i.e. with no BLAS thread to fight: im2col for four SqueezeNet expand
  layers went from 0.2 ms serial to 63 ms. That, not only OpenBLAS, made the network 2x to 15x slower
  in an earlier ``parallel=True`` version of these kernels. The ``workqueue`` layer or
  ``OMP_WAIT_POLICY=PASSIVE`` cut the cost to 0.1-0.3 ms per region (still slower than serial at
  these sizes), but the threading layer is a process-wide choice npnet should not make for the
  user's other Numba code. Splitting with a Python thread pool needs no second compilation and no
  threading layer.
* OpenBLAS's worker threads keep spinning for a while after each threaded matrix product, on the core
  a second kernel thread would use: a transposed convolution (DCGAN generator, 64->1 at 14x14,
  N=128) went from 1.2 ms to 17.6 ms when its col2im was split right after a 2-thread product, and
  1.6 -> 1.5 ms with ``OPENBLAS_NUM_THREADS=1``.
* The whole SqueezeNet (N=1) with kernels split between 2 threads against 1: forward 1.67x,
  forward + backward 1.40x slower with 2 BLAS threads; 1.14x and 1.05x slower with 1 BLAS thread.
  On the quiet machine (load < 1, 2 BLAS threads) splitting changed nothing: forward + input
  gradient 14.4 vs 14.5 ms at N=1 and 107.6 vs 105.6 ms at N=8; a DCGAN iteration 276 vs 264 ms.
* OpenBLAS's own threads suffer most: SqueezeNet N=8 forward with 2 BLAS threads took 2.7-3.9 s
  (median; 0.07 s on a quiet machine) against 0.20 s with BLAS limited to 1 thread (threadpoolctl)
  in the same process, and 0.21-0.24 s with the batch split in two halves on two Python threads
  (two model instances, BLAS at 1 thread). Using both cores robustly therefore means npnet owning
  the threads with BLAS at 1 (a model-level batch split, :mod:`npnet.parallel`), not a second pool
  beside BLAS's.

* Session of 2026-12-05, quiet machine, 2 BLAS threads, kernels on 1 vs 2 threads alternating call by
  call in one process: SqueezeNet N=1 forward 14.5 vs 14.7 ms, forward + input gradient 24.0 vs 23.8;
  N=8 94.9 vs 97.0 and 174.2 vs 177.5; a DCGAN iteration 309.8 vs 326.7 ms; a vanilla GAN iteration
  (Adam split too) 21.6 vs 21.7 ms. (An earlier "13.0 -> 8.0 ms" for SqueezeNet N=1 with split
  kernels did not reproduce: on this virtual machine the second core's worth changes with the host,
  see ``bench/speed_table.py``'s probe, and that run had compared two host states.)

So splitting pays only where a core is idle and BLAS does not hold it; calls smaller than
:data:`MIN_SPLIT` output elements are never split (the hand-off costs tens of microseconds).

Shared geometry: an image of size (H, W) is zero-padded by ``pad`` on every side and visited by a
(HH, WW) window moving ``stride`` pixels at a time, giving Ho x Wo window positions. Window position
(oh, ow) and kernel offset (i, j) read input pixel (oh*stride - pad + i, ow*stride - pad + j).

Column matrices hold, for image n and kernel tap k = (c*HH + i)*WW + j, the Ho*Wo window positions
of that tap as one contiguous run starting at ``n*sn + k*sk``: ``(sn, sk) = (K*P, P)`` is the layout
(N, K, P) of one matrix per image, ``(P, N*P)`` the layout (K, N, P) = (K, N*P) of one matrix for the
whole batch (one GEMM per layer; the weight gradient is then one product, not N).

Arrays must be C-contiguous: the kernels work on flat views with explicit offsets, and index them
through ``_u`` (an unsigned cast). A signed index makes Numba test for negative, wrap-around indices
on every access, which blocks vectorization; avoiding it made the loops 3-7x faster, and 1.4-2x
faster than the NumPy-only path (strided copies of a sliding-window view).

The max-pooling and ReLU-gate kernels' bodies sit between solution markers although no student writes
them: they would compute a graded output of the ``layers`` and ``network_visualization`` assignments, so
those assignments' releases ship them as stubs (``Assignment.shortcuts``); later releases ship them.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from . import _check

# Calls with fewer output elements than this run on one thread whatever get_num_threads() says:
# a hand-off to another thread costs tens of microseconds, the time to write ~2**17 floats.
MIN_SPLIT = 1 << 17



class LazyPool:
    """A thread pool made at first use, remade when a different size is asked for, and forgotten in a
    forked child, which inherits the pool object but not its threads (work handed to it would wait
    forever). Its threads sleep on a queue between calls."""

    def __init__(self, name):
        self.name = name
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self):
        self._executor, self._size, self._lock = None, 0, threading.Lock()

    def get(self, workers):
        """The pool's executor, with ``workers`` threads."""
        with self._lock:
            if self._executor is None or self._size != workers:
                if self._executor is not None:
                    self._executor.shutdown(wait=True)
                self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self.name)
                self._size = workers
            return self._executor


_threads = 1
_pool = LazyPool("npnet-kernels")
_main = threading.main_thread()


def get_num_threads():
    """Threads the kernels split a big call between (default 1: see the module docstring)."""
    return _threads


def set_num_threads(n):
    """Use ``n`` threads (>= 1) for big kernel calls from now on; 1 runs everything on the caller's thread."""
    global _threads
    _threads = _check.positive_int("set_num_threads", "n", n)  # the pool is resized at its next use


def split(kernel, rows, work, *args):
    """Run ``kernel(*args, lo, hi)`` over rows [0, rows), split between threads when ``work`` (elements
    written) is at least :data:`MIN_SPLIT` and the caller is the main thread (a call from another thread
    is already part of someone's split, e.g. :func:`npnet.parallel.batch_threads`). The caller's thread
    takes the first part itself."""
    parts = min(_threads, rows, max(1, work // MIN_SPLIT))
    if parts == 1 or threading.current_thread() is not _main:
        kernel(*args, 0, rows)
        return
    pool = _pool.get(_threads - 1)
    bounds = [rows * t // parts for t in range(parts + 1)]
    futures = [pool.submit(kernel, *args, bounds[t], bounds[t + 1]) for t in range(1, parts)]
    kernel(*args, bounds[0], bounds[1])
    for f in futures:
        f.result()


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


# Images per block in im2col: the block's rows of one tap are written as one run (in the batch layout
# (K, N, P) they are adjacent). 32 images made im2col 1.5-3x faster than one image at a time for
# SqueezeNet's and DCGAN's layers (e.g. DCGAN's 5x5 conv over 32x12x12, N=256: 10.6 -> 5.1 ms), because
# the writes form a few long streams instead of K short ones.
IM2COL_BLOCK = 32


@njit(cache=True, nogil=True)
def im2col_images(x, cols, sn, sk, HH, WW, stride, pad, Ho, Wo, lo, hi):
    """Windows of images [lo, hi) of ``x`` (N, C, H, W) as columns, written into ``cols`` (flat).

    Row (n, k) of tap k = (c*HH + i)*WW + j starts at ``n*sn + k*sk`` (module docstring) and holds that
    tap for every window position, zeros where the window overhangs, so a convolution becomes
    ``w.reshape(F, C*HH*WW) @ cols``. Padding is read as zeros without building a padded copy. The
    images are taken in blocks of :data:`IM2COL_BLOCK`, tap by tap within a block.
    """
    N, C, H, W = x.shape
    K = C * HH * WW
    src = x.reshape(-1)
    for block in range(lo, hi, IM2COL_BLOCK):
        for k in range(K):
            c, ij = k // (HH * WW), k % (HH * WW)
            i, j = ij // WW, ij % WW
            first, last = _valid_range(j, stride, pad, W, Wo)
            whole_row = stride == 1 and first == 0 and last == Wo  # a plain copy, which vectorizes
            for n in range(block, min(block + IM2COL_BLOCK, hi)):
                for oh in range(Ho):
                    dst = n * sn + k * sk + oh * Wo
                    h = oh * stride - pad + i
                    if h < 0 or h >= H:
                        for ow in range(Wo):
                            cols[_u(dst + ow)] = 0
                        continue
                    at = ((n * C + c) * H + h) * W + j - pad
                    if whole_row:
                        for ow in range(Wo):
                            cols[_u(dst + ow)] = src[_u(at + ow)]
                        continue
                    for ow in range(first):
                        cols[_u(dst + ow)] = 0
                    for ow in range(first, last):
                        cols[_u(dst + ow)] = src[_u(at + ow * stride)]
                    for ow in range(last, Wo):
                        cols[_u(dst + ow)] = 0


@njit(cache=True, nogil=True)
def col2im_images(cols, dx, sn, sk, HH, WW, stride, pad, Ho, Wo, lo, hi):
    """Adjoint of :func:`im2col_images`: sum columns (flat, layout ``sn, sk``) into images [lo, hi) of
    ``dx`` (N, C, H, W), which are overwritten.

    Overlapping windows add up in the same pixel. Like im2col, the images go in blocks of
    :data:`IM2COL_BLOCK`, tap by tap within a block, so the columns are read in long runs while the
    block's images (the sums) stay in cache: 1.1-2.7x faster than gathering each image row's taps.
    """
    N, C, H, W = dx.shape
    K = C * HH * WW
    out = dx.reshape(-1)
    for q in range(lo * C * H * W, hi * C * H * W):
        out[_u(q)] = 0
    for block in range(lo, hi, IM2COL_BLOCK):
        for k in range(K):
            c, ij = k // (HH * WW), k % (HH * WW)
            i, j = ij // WW, ij % WW
            first, last = _valid_range(j, stride, pad, W, Wo)
            for n in range(block, min(block + IM2COL_BLOCK, hi)):
                for oh in range(Ho):
                    h = oh * stride - pad + i
                    if h < 0 or h >= H:
                        continue
                    at = n * sn + k * sk + oh * Wo
                    dst = ((n * C + c) * H + h) * W + j - pad
                    if stride == 1:  # contiguous on both sides: vectorizes
                        for ow in range(first, last):
                            out[_u(dst + ow)] += cols[_u(at + ow)]
                    else:
                        for ow in range(first, last):
                            out[_u(dst + ow * stride)] += cols[_u(at + ow)]


@njit(cache=True, inline="always")
def _nan_max(a, b):
    """``np.maximum(a, b)``: NaN if either is NaN (so a NaN input shows in the max-only output)."""
    return a if a >= b or a != a else b


@njit(cache=True, inline="always")
def _clipped_max(row, start, k):
    """Max of ``row[start:start + k]`` clipped to the row."""
    w0, w1 = max(start, 0), min(start + k, row.size)
    best = row[_u(w0)]
    for w in range(w0 + 1, w1):
        best = _nan_max(best, row[_u(w)])
    return best


@njit(cache=True, nogil=True)
def max_pool_rows(x, out, kh, kw, stride, pad, lo, hi):
    """Windowed max of planes [lo, hi) of ``x`` (P, H, W) into ``out`` (P, Ho, Wo); no argmax.

    For inference. The max is separable: for each output row, first the max over the window's rows
    for every column (contiguous, vectorized), then the max over each window's columns of that row.
    Windows are clipped to the image (padding acts as -inf). A NaN makes its windows NaN, as with
    ``np.maximum``, so the caller can find NaN input in the 4x smaller output.
    """
    # BEGIN SOLUTION
    P, H, W = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    src, dst = x.reshape(-1), out.reshape(-1)
    rows = np.empty(W, dtype=x.dtype)
    # Windows [first, last) lie inside the image; the others are clipped one by one.
    first = (pad + stride - 1) // stride
    last = max(first, min(Wo, (W + pad - kw) // stride + 1))
    for p in range(lo, hi):
        plane = p * H * W
        for oh in range(Ho):
            h0, h1 = max(oh * stride - pad, 0), min(oh * stride - pad + kh, H)
            at = plane + h0 * W
            for w in range(W):
                rows[_u(w)] = src[_u(at + w)]
            for h in range(h0 + 1, h1):
                at = plane + h * W
                for w in range(W):
                    rows[_u(w)] = _nan_max(rows[_u(w)], src[_u(at + w)])
            o = (p * Ho + oh) * Wo
            for ow in range(first, last):
                w0 = ow * stride - pad
                best = rows[_u(w0)]
                for j in range(1, kw):
                    best = _nan_max(best, rows[_u(w0 + j)])
                dst[_u(o + ow)] = best
            for ow in range(min(first, Wo)):
                dst[_u(o + ow)] = _clipped_max(rows, ow * stride - pad, kw)
            for ow in range(last, Wo):
                dst[_u(o + ow)] = _clipped_max(rows, ow * stride - pad, kw)
    # END SOLUTION


@njit(cache=True, nogil=True)
def max_pool_argmax_rows(x, out, arg, nan, kh, kw, stride, pad, lo, hi):
    """Windowed max of planes [lo, hi) of ``x`` (P, H, W) into ``out`` (P, Ho, Wo), and in ``arg``
    (P, Ho, Wo, any unsigned integer type holding kh*kw - 1) where it was: the offset ``i*kw + j``
    inside the window clipped to the image, whose top-left corner is recomputed in the backward pass.

    Ties keep the first maximum in row-major window order, the element PyTorch routes the gradient
    to. NaNs are not propagated: handling them made the kernel 2.7x slower, and a NaN activation is
    a bug to fix upstream anyway. Instead ``nan[p]`` (uint8, one per plane) is set to whether plane p
    holds a NaN, so the caller can refuse the input: tested while the plane is still in cache, which
    costs less than a separate pass over x.

    2x2 and 3x3 windows of stride 2 that all lie inside the image (no padding, no ceil_mode
    overhang: every pooling of SqueezeNet, DCGAN and the CS231n ConvNets) take a path with the window
    and the stride written out, which the compiler vectorizes: 2-10x faster than the loops over a
    window of any size (DCGAN's 2x2 pooling at N=256: 5.8 -> 0.6 ms).
    """
    # BEGIN SOLUTION
    P, H, W = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    inside = pad == 0 and (Ho - 1) * stride + kh <= H and (Wo - 1) * stride + kw <= W
    if inside and stride == 2 and kh == kw == 2:
        _argmax_2x2_stride2(x.reshape(-1), out.reshape(-1), arg.reshape(-1), nan, H, W, Ho, Wo, lo, hi)
    elif inside and stride == 2 and kh == kw == 3:
        _argmax_3x3_stride2(x.reshape(-1), out.reshape(-1), arg.reshape(-1), nan, H, W, Ho, Wo, lo, hi)
    else:
        _argmax_any(x.reshape(-1), out.reshape(-1), arg.reshape(-1), nan, H, W, Ho, Wo, kh, kw, stride, pad,
                    lo, hi)
    # END SOLUTION


@njit(cache=True, inline="always")
def _has_nan(src, start, n):
    """Whether ``src[start:start + n]`` holds a NaN (no early exit: the loop vectorizes)."""
    found = False
    for i in range(start, start + n):
        found |= src[_u(i)] != src[_u(i)]
    return found


@njit(cache=True, nogil=True)
def _argmax_2x2_stride2(src, dst, where, nan, H, W, Ho, Wo, lo, hi):
    # BEGIN SOLUTION
    for p in range(lo, hi):
        for oh in range(Ho):
            r = p * H * W + oh * 2 * W  # the window's top row in the image
            o = (p * Ho + oh) * Wo
            for ow in range(Wo):
                c = r + ow * 2  # a literal stride lets the compiler vectorize the loop
                best, at = src[_u(c)], 0
                # written out, not a helper returning (best, at): that compiled 2.5x slower
                if src[_u(c + 1)] > best:
                    best, at = src[_u(c + 1)], 1
                if src[_u(c + W)] > best:
                    best, at = src[_u(c + W)], 2
                if src[_u(c + W + 1)] > best:
                    best, at = src[_u(c + W + 1)], 3
                dst[_u(o + ow)] = best
                where[_u(o + ow)] = at
        nan[p] = _has_nan(src, p * H * W, H * W)
    # END SOLUTION


@njit(cache=True, nogil=True)
def _argmax_3x3_stride2(src, dst, where, nan, H, W, Ho, Wo, lo, hi):
    # BEGIN SOLUTION
    for p in range(lo, hi):
        for oh in range(Ho):
            r = p * H * W + oh * 2 * W
            o = (p * Ho + oh) * Wo
            for ow in range(Wo):
                c = r + ow * 2  # a literal stride lets the compiler vectorize the loop
                best, at = src[_u(c)], 0
                if src[_u(c + 1)] > best:
                    best, at = src[_u(c + 1)], 1
                if src[_u(c + 2)] > best:
                    best, at = src[_u(c + 2)], 2
                if src[_u(c + W)] > best:
                    best, at = src[_u(c + W)], 3
                if src[_u(c + W + 1)] > best:
                    best, at = src[_u(c + W + 1)], 4
                if src[_u(c + W + 2)] > best:
                    best, at = src[_u(c + W + 2)], 5
                if src[_u(c + 2 * W)] > best:
                    best, at = src[_u(c + 2 * W)], 6
                if src[_u(c + 2 * W + 1)] > best:
                    best, at = src[_u(c + 2 * W + 1)], 7
                if src[_u(c + 2 * W + 2)] > best:
                    best, at = src[_u(c + 2 * W + 2)], 8
                dst[_u(o + ow)] = best
                where[_u(o + ow)] = at
        nan[p] = _has_nan(src, p * H * W, H * W)
    # END SOLUTION


@njit(cache=True, nogil=True)
def _argmax_any(src, dst, where, nan, H, W, Ho, Wo, kh, kw, stride, pad, lo, hi):
    # BEGIN SOLUTION
    for p in range(lo, hi):
        plane = p * H * W
        for oh in range(Ho):
            h0, h1 = max(oh * stride - pad, 0), min(oh * stride - pad + kh, H)
            for ow in range(Wo):
                w0, w1 = max(ow * stride - pad, 0), min(ow * stride - pad + kw, W)
                best = src[_u(plane + h0 * W + w0)]
                at = 0
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        v = src[_u(plane + h * W + w)]
                        if v > best:  # ties keep the earlier offset
                            best, at = v, (h - h0) * kw + w - w0
                o = (p * Ho + oh) * Wo + ow
                dst[_u(o)] = best
                where[_u(o)] = at
        nan[p] = _has_nan(src, p * H * W, H * W)
    # END SOLUTION


RELU_MODE_CODES = {"standard": 0, "guided": 1, "deconvnet": 2}


@njit(cache=True, inline="always")
def _relu_gate(mode, positive, v):
    """Whether a ReLU backward of :data:`RELU_MODE_CODES` ``mode`` lets the upstream gradient ``v``
    through where the ReLU's output is positive or not (``positive``): standard ``positive``, guided
    ``positive and v > 0``, deconvnet ``v > 0``."""
    # BEGIN SOLUTION
    if mode == 0:
        return positive
    if mode == 1:
        return positive and v > 0
    return v > 0
    # END SOLUTION


@njit(cache=True, nogil=True)
def max_pool_backward_rows(dout, arg, pooled, mode, dx, kh, kw, stride, pad, lo, hi):
    """Route ``dout`` (P, Ho, Wo) to the ``arg`` offsets of :func:`max_pool_argmax_rows`, into planes
    [lo, hi) of ``dx`` (P, H, W), which are overwritten. Windows overlap when stride < kernel, so
    gradients add.

    With ``mode`` >= 0 (a :data:`RELU_MODE_CODES` value) the pooled image was a ReLU's output and dx
    goes on through that ReLU as :func:`relu_backward_rows` would take it, given the pooled maxima
    ``pooled`` (P, Ho, Wo): a pixel no window picked has gradient 0 whatever the gate, and a picked
    one holds the maximum of the windows that picked it, so ``out > 0`` there is ``pooled > 0`` of
    any of them. The gate is applied to each plane right after its routing, while it is in cache:
    no pass over the ReLU's output or over dx is left for the ReLU. With ``mode`` -1 ``pooled`` is
    not read.
    """
    # BEGIN SOLUTION
    P, H, W = dx.shape
    Ho, Wo = dout.shape[1], dout.shape[2]
    grad, where, out, best = dout.reshape(-1), arg.reshape(-1), dx.reshape(-1), pooled.reshape(-1)
    # Offset i*kw + j inside a window -> i*W + j inside the image: a table instead of a division.
    step = np.empty(kh * kw, dtype=np.intp)
    for i in range(kh):
        for j in range(kw):
            step[i * kw + j] = i * W + j
    for p in range(lo, hi):
        plane = p * H * W
        for q in range(plane, plane + H * W):
            out[_u(q)] = 0
        for oh in range(Ho):
            row = plane + max(oh * stride - pad, 0) * W
            for ow in range(Wo):
                o = (p * Ho + oh) * Wo + ow
                out[_u(row + max(ow * stride - pad, 0) + step[_u(where[_u(o)])])] += grad[_u(o)]
        if mode < 0:
            continue
        # Every contribution is in: gate each picked pixel once per window that picked it (a closed
        # gate multiplies by 0, which a second visit leaves as it is).
        for oh in range(Ho):
            row = plane + max(oh * stride - pad, 0) * W
            for ow in range(Wo):
                o = (p * Ho + oh) * Wo + ow
                at = row + max(ow * stride - pad, 0) + step[_u(where[_u(o)])]
                v = out[_u(at)]
                if not _relu_gate(mode, best[_u(o)] > 0, v):
                    out[_u(at)] = v * 0
    # END SOLUTION


@njit(cache=True, nogil=True)
def bias_relu_rows(src, sn, sf, b, relu, out, lo, hi):
    """``out[n, f] = src[n, f] + b[f]`` (then ``np.maximum(., 0)`` if ``relu``) for the rows
    r = n*F + f in [lo, hi) of ``out`` (N, F, P), where row (n, f) of ``src`` (flat) starts at
    ``n*sn + f*sf``. One pass over a convolution's output instead of two or three: ``src`` may be
    ``out`` itself (``sn, sf = F*P, P``), or the (F, N, P) result of one product for the whole batch
    (``P, N*P``), which this pass also brings into NCHW order. ``out`` may be a strided view whose
    rows are contiguous, such as a channel range of a bigger array (no concatenation needed)."""
    N, F, P = out.shape
    for r in range(lo, hi):
        at, bias, dst = (r // F) * sn + (r % F) * sf, b[_u(r % F)], out[r // F, r % F]
        if relu:
            for q in range(P):
                v = src[_u(at + q)] + bias
                dst[_u(q)] = 0 if v < 0 else v  # as np.maximum(v, 0): NaN stays NaN
        else:
            for q in range(P):
                dst[_u(q)] = src[_u(at + q)] + bias


# Kernels of the fused SqueezeNet path

@njit(cache=True, nogil=True)
def relu_backward_rows(dout, out, dx, mode, lo, hi):
    """ReLU backward from the layer's output for the elements [lo, hi) of the flat arrays ``dout``,
    ``out`` and ``dx``: ``dx = dout`` where the gate is open, else ``dout * 0``.

    The gate is ``out > 0`` (mode 0, standard), ``out > 0 and dout > 0`` (1, guided) or ``dout > 0``
    (2, deconvnet); ``out > 0`` exactly where the ReLU's input was. A closed gate multiplies by zero
    rather than writing 0, so NaN and Inf upstream stay visible, bit for bit as ``dout * gate`` in NumPy.
    NumPy's version needs a boolean mask array and a second pass; this one is 2x faster.
    """
    # BEGIN SOLUTION
    for i in range(lo, hi):
        v = dout[_u(i)]
        dx[_u(i)] = v if _relu_gate(mode, out[_u(i)] > 0, v) else v * 0
    # END SOLUTION


@njit(cache=True)
def all_finite(a):
    """Whether the 1-D array ``a`` holds no NaN/Inf. ``x - x`` is NaN exactly for those, so the test
    has no branch per value and vectorises; blocks end the scan early at a bad value."""
    n = a.size
    for start in range(0, n, 4096):
        bad = False
        for i in range(start, min(start + 4096, n)):
            bad |= a[_u(i)] - a[_u(i)] != 0
        if bad:
            return False
    return True


# Kernels behind nn.BatchNorm1d/2d in training mode. Together they compute a graded output of the layers
# assignment (the module built on them would stand in for spatial_batchnorm_*), so their bodies sit in
# solution blocks and are that assignment's shortcuts, stubbed in its release; the module then runs the
# student's functional layer instead. NumPy's batch norm makes about a dozen passes over
# the activations (means over (N, H, W), centred copies, squares, products); these make three forward
# (two for the statistics, one writing the output) and three backward (two sums, one writing dx), over
# an array viewed as (N, C, P) with P the pixels of one channel plane. Sums are in float64 whatever
# the input's dtype; ``fastmath={"reassoc"}`` lets LLVM vectorise them (reordering additions only: NaN
# and Inf still propagate). Each works on the channels [lo, hi), so :func:`split` can share them out.

@njit(cache=True, nogil=True, fastmath={"reassoc"})
def channel_moments(x, mean, var, lo, hi):
    """``mean[c]`` and biased ``var[c]`` (float64) of ``x[:, c, :]`` (N, C, P) for c in [lo, hi): two
    passes, the second over ``x - mean`` (no cancellation when the mean is large)."""
    N, C, P = x.shape
    # BEGIN SOLUTION
    count = N * P
    for c in range(lo, hi):
        total = 0.0
        for n in range(N):
            row = x[n, c]
            for p in range(P):
                total += row[_u(p)]
        mu = total / count
        squares = 0.0
        for n in range(N):
            row = x[n, c]
            for p in range(P):
                d = row[_u(p)] - mu
                squares += d * d
        mean[c], var[c] = mu, squares / count
    # END SOLUTION


@njit(cache=True, nogil=True)
def channel_normalize(x, mean, scale, shift, out, lo, hi):
    """``out[:, c] = (x[:, c] - mean[c]) * scale[c] + shift[c]`` for c in [lo, hi); x, out (N, C, P)."""
    N, C, P = x.shape
    # BEGIN SOLUTION
    for c in range(lo, hi):
        mu, s, b = mean[c], scale[c], shift[c]
        for n in range(N):
            src, dst = x[n, c], out[n, c]
            for p in range(P):
                dst[_u(p)] = (src[_u(p)] - mu) * s + b
    # END SOLUTION


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def channel_gradient_sums(dout, x, mean, sums, lo, hi):
    """``sums[c] = (sum of dout[:, c], sum of dout[:, c] * (x[:, c] - mean[c]))`` (float64) for c in
    [lo, hi); dout, x (N, C, P), sums (C, 2)."""
    N, C, P = x.shape
    # BEGIN SOLUTION
    for c in range(lo, hi):
        mu, s0, s1 = mean[c], 0.0, 0.0
        for n in range(N):
            d, src = dout[n, c], x[n, c]
            for p in range(P):
                g = d[_u(p)]
                s0 += g
                s1 += g * (src[_u(p)] - mu)
        sums[c, 0], sums[c, 1] = s0, s1
    # END SOLUTION


@njit(cache=True, nogil=True)
def channel_combine(dout, x, mean, a, b, k, dx, lo, hi):
    """``dx[:, c] = a[c] * dout[:, c] + b[c] * (x[:, c] - mean[c]) + k[c]`` for c in [lo, hi): the form
    of batch norm's input gradient once its per-channel sums are known (npnet.nn._BatchNorm)."""
    N, C, P = x.shape
    # BEGIN SOLUTION
    for c in range(lo, hi):
        mu, ac, bc, kc = mean[c], a[c], b[c], k[c]
        for n in range(N):
            d, src, dst = dout[n, c], x[n, c], dx[n, c]
            for p in range(P):
                dst[_u(p)] = ac * d[_u(p)] + bc * (src[_u(p)] - mu) + kc
    # END SOLUTION
