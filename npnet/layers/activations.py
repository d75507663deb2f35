"""Elementwise activations (ReLU and its visualisation modes, leaky ReLU, sigmoid, tanh) and dropout."""
import contextlib
import contextvars

import numpy as np
from numba import njit

from .. import _check, kernels
from ..errors import NpnetValueError

__all__ = ["RELU_MODES", "relu_mode", "get_relu_mode", "relu_forward", "relu_backward", "relu_backward_from_output",
           "leaky_relu_forward", "leaky_relu_backward", "sigmoid", "sigmoid_forward", "sigmoid_backward",
           "tanh_forward", "tanh_backward", "dropout_forward", "dropout_backward"]

RELU_MODES = ("standard", "guided", "deconvnet")

# A ContextVar (rather than a module global) restores the outer mode on exit even when blocks nest or
# raise, and keeps threads and asyncio tasks from seeing each other's mode.
_relu_mode = contextvars.ContextVar("npnet_relu_mode", default="standard")


def valid_relu_mode(fn, mode):
    """Return ``mode`` if it is one of :data:`RELU_MODES`, else raise ``ValueError`` naming ``fn``."""
    if not isinstance(mode, str) or mode not in RELU_MODES:
        raise NpnetValueError(f"{fn}: mode must be one of {', '.join(map(repr, RELU_MODES))}; got {mode!r}")
    return mode


def get_relu_mode():
    """The ReLU backward mode in effect: ``'standard'`` unless inside a :func:`relu_mode` block."""
    return _relu_mode.get()


@contextlib.contextmanager
def relu_mode(mode):
    """Context manager: every :func:`relu_backward` called without ``mode`` inside uses ``mode``.

    This is how a whole network's backward pass becomes guided backpropagation or a deconvnet without
    touching the layers::

        with relu_mode("guided"):
            dx = model.backward(dscores)

    Blocks nest; the previous mode is restored on exit, also when the block raises.

    Args:
        mode: one of :data:`RELU_MODES`.
    """
    token = _relu_mode.set(valid_relu_mode("relu_mode", mode))
    try:
        yield mode
    finally:
        _relu_mode.reset(token)


def relu_forward(x):
    """Rectified linear unit, ``out = max(x, 0)``.

    Args:
        x: floating array of any shape.
    Returns:
        out: same shape and dtype as ``x``.
        cache: ``x``.
    """
    x = _check.float_array("relu_forward", "x", x)
    # BEGIN SOLUTION
    out = np.maximum(x, 0)
    # END SOLUTION
    return out, x


def relu_backward(dout, cache, mode=None):
    """ReLU backward pass in one of three modes (gradient 0 where the input is exactly 0).

    - ``'standard'``: the true gradient, ``dout`` where ``x > 0``.
    - ``'guided'``: guided backpropagation (Springenberg et al. 2015, "Striving for Simplicity: The All
      Convolutional Net"): ``dout`` only where ``x > 0`` and ``dout > 0``.
    - ``'deconvnet'``: the deconvnet rule (Zeiler & Fergus 2014, "Visualizing and Understanding
      Convolutional Networks"): ``dout`` where ``dout > 0``, ignoring the forward input.

    Only ``'standard'`` is a gradient; the other two are visualisation rules.

    Args:
        dout: upstream gradient, shaped like ``x``.
        cache: from :func:`relu_forward`.
        mode: one of :data:`RELU_MODES`, or ``None`` for the mode set by :func:`relu_mode`.
    Returns:
        dx: shaped like ``x``.
    """
    fn = "relu_backward"
    mode = get_relu_mode() if mode is None else valid_relu_mode(fn, mode)
    _check.cache("relu_backward", cache)
    x = cache
    dout = _check.dout(fn, dout, x.shape, x.dtype)
    # BEGIN SOLUTION
    if mode == "standard":
        passes = x > 0
    elif mode == "guided":
        passes = (x > 0) & (dout > 0)
    else:
        passes = dout > 0
    # A product, not np.where: it is ~20x faster here (np.where costs more than all of SqueezeNet's
    # convolutions' backward passes together). A NaN/Inf upstream gradient therefore stays visible
    # even behind a closed gate, which is what you want while hunting the bug that produced it.
    dx = dout * passes
    # END SOLUTION
    return dx


def relu_backward_from_output(dout, out, mode=None):
    """:func:`relu_backward` computed from the ReLU's OUTPUT, in one compiled pass (the fast path of
    SqueezeNet's frozen Fire module; same values, bit for bit). The ``ReLU`` module does not use it:
    it runs :func:`relu_backward`, the code students write.

    ``out > 0`` exactly where ``x > 0``, so a layer can keep its output, which the next layer holds
    anyway, instead of its input. The three modes are those of :func:`relu_backward`.

    Args:
        dout: upstream gradient, shaped like ``out``.
        out: the ReLU's output ``max(x, 0)``.
        mode: one of :data:`RELU_MODES`, or ``None`` for the mode set by :func:`relu_mode`.
    Returns:
        dx: shaped like ``out``.
    """
    fn = "relu_backward_from_output"
    mode = get_relu_mode() if mode is None else valid_relu_mode(fn, mode)
    out = _check.float_array(fn, "out", out)
    dout = _check.dout(fn, dout, out.shape, out.dtype)
    # BEGIN SOLUTION
    if out.dtype not in (np.float32, np.float64):  # the dtypes the kernel is compiled for
        return relu_backward(dout, out, mode)
    dx = np.empty(out.shape, dtype=out.dtype)
    kernels.split(kernels.relu_backward_rows, dx.size, dx.size, np.ascontiguousarray(dout).reshape(-1),
                  np.ascontiguousarray(out).reshape(-1), dx.reshape(-1), kernels.RELU_MODE_CODES[mode])
    # END SOLUTION
    return dx


def leaky_relu_forward(x, alpha=0.01):
    """Leaky ReLU (Maas et al. 2013), ``out = x`` where ``x > 0`` else ``alpha * x``.

    Args:
        x: floating array of any shape.
        alpha: finite real slope for negative inputs (default 0.01).
    Returns:
        out: same shape and dtype as ``x``.
        cache: ``(x, alpha)``.
    """
    fn = "leaky_relu_forward"
    x = _check.float_array(fn, "x", x)
    # A Python float keeps float32 inputs float32 (a NumPy float64 scalar would promote them).
    alpha = _check.number(fn, "alpha", alpha)
    if _compiled(x):
        return _leaky_relu_compiled(x, alpha), (x, alpha)
    # BEGIN SOLUTION
    out = np.where(x > 0, x, alpha * x)
    # END SOLUTION
    return out, (x, alpha)


def leaky_relu_backward(dout, cache):
    """Leaky ReLU backward pass (slope ``alpha`` at exactly 0).

    Args:
        dout: upstream gradient, shaped like ``x``.
        cache: from :func:`leaky_relu_forward`.
    Returns:
        dx: shaped like ``x``.
    """
    _check.cache("leaky_relu_backward", cache, 2)
    x, alpha = cache
    dout = _check.dout("leaky_relu_backward", dout, x.shape, x.dtype)
    if _compiled(x) and dout.flags.c_contiguous:
        return _leaky_relu_backward_compiled(dout, x, alpha)
    # BEGIN SOLUTION
    dx = np.where(x > 0, dout, alpha * dout)
    # END SOLUTION
    return dx


# Leaky ReLU is the GANs' activation: np.where above makes three passes over memory (the mask, alpha * x,
# the selection) and two temporaries; these loops make one. Same values, NaN included (NaN > 0 is false,
# so NaN * alpha = NaN, as from np.where). Used for C-contiguous float32/float64 arrays (e.g. float16 and
# strided views take the NumPy line); the rounding of alpha to x's dtype is the one NumPy applies to a
# Python float. Each loop fills the flat range [lo, hi) of an output the caller allocated.
def _compiled(x):
    return x.dtype in (np.float32, np.float64) and x.flags.c_contiguous


def _leaky_relu_compiled(x, alpha):
    out = np.empty_like(x)
    _leaky_relu_range(x.reshape(-1), out.reshape(-1), x.dtype.type(alpha), 0, x.size)
    return out


def _leaky_relu_backward_compiled(dout, x, alpha):
    dx = np.empty_like(x)
    _leaky_relu_backward_range(dout.reshape(-1), x.reshape(-1), dx.reshape(-1), x.dtype.type(alpha), 0, x.size)
    return dx


@njit(cache=True, nogil=True)
def _leaky_relu_range(x, out, alpha, lo, hi):
    for k in range(lo, hi):
        i = np.uintp(k)  # unsigned: no negative-index test, so the loop vectorises (npnet.kernels)
        v = x[i]
        out[i] = v if v > 0 else alpha * v


@njit(cache=True, nogil=True)
def _leaky_relu_backward_range(dout, x, dx, alpha, lo, hi):
    for k in range(lo, hi):
        i = np.uintp(k)
        d = dout[i]
        dx[i] = d if x[i] > 0 else alpha * d


def sigmoid(x):
    """Numerically stable logistic function ``1 / (1 + exp(-x))``, elementwise.

    Computed from ``z = exp(-|x|)``, which lies in (0, 1] and so never overflows: ``1 / (1 + z)`` for
    ``x >= 0`` and ``z / (1 + z)`` for ``x < 0``. The second form keeps full relative precision in the
    left tail (e.g. ``sigmoid(-40) = 4.25e-18``, where ``1 - sigmoid(40)`` would round to 0).

    Args:
        x: floating array of any shape.
    Returns:
        Array of the same shape and dtype, values in [0, 1].
    """
    x = _check.float_array("sigmoid", "x", x)
    # BEGIN SOLUTION
    # exp(-|x|) underflowing to 0 for |x| > ~745 is the correct limit, not an error.
    with np.errstate(under="ignore"):
        z = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    # END SOLUTION
    return out


def sigmoid_forward(x):
    """Sigmoid layer forward pass, ``out = sigmoid(x)``.

    Args:
        x: floating array of any shape.
    Returns:
        out: same shape and dtype as ``x``.
        cache: ``out`` (the derivative ``out * (1 - out)`` needs only the output).
    """
    out = sigmoid(_check.float_array("sigmoid_forward", "x", x))
    return out, out


def sigmoid_backward(dout, cache):
    """Sigmoid layer backward pass, ``dx = dout * out * (1 - out)``.

    Args:
        dout: upstream gradient, shaped like ``x``.
        cache: from :func:`sigmoid_forward`.
    Returns:
        dx: shaped like ``x``.
    """
    _check.cache("sigmoid_backward", cache)
    out = cache
    dout = _check.dout("sigmoid_backward", dout, out.shape, out.dtype)
    # BEGIN SOLUTION
    dx = dout * out * (1 - out)
    # END SOLUTION
    return dx


def tanh_forward(x):
    """Hyperbolic tangent layer forward pass, ``out = tanh(x)`` (saturates to ±1 without warnings).

    Args:
        x: floating array of any shape.
    Returns:
        out: same shape and dtype as ``x``.
        cache: ``out``.
    """
    x = _check.float_array("tanh_forward", "x", x)
    # BEGIN SOLUTION
    out = np.tanh(x)
    # END SOLUTION
    return out, out


def tanh_backward(dout, cache):
    """Tanh layer backward pass, ``dx = dout * (1 - out**2)``.

    Args:
        dout: upstream gradient, shaped like ``x``.
        cache: from :func:`tanh_forward`.
    Returns:
        dx: shaped like ``x``.
    """
    _check.cache("tanh_backward", cache)
    out = cache
    dout = _check.dout("tanh_backward", dout, out.shape, out.dtype)
    # BEGIN SOLUTION
    dx = dout * (1 - out * out)
    # END SOLUTION
    return dx


def dropout_forward(x, dropout_param):
    """Inverted dropout (Srivastava et al. 2014), CS231n (2019+) semantics.

    In train mode each unit is kept with probability ``p`` and the kept units are scaled by ``1 / p``,
    so the expected activation equals the input and test mode is the identity.

    Args:
        x: floating array of any shape.
        dropout_param: dict with
            ``'mode'``: ``'train'`` or ``'test'``;
            ``'p'``: probability of KEEPING a unit, in (0, 1];
            ``'seed'`` (optional): non-negative int; the same seed gives the same mask on every call,
            the one CS231n's ``np.random.seed(seed); np.random.rand(*x.shape) < p`` gives.
    Returns:
        out: same shape and dtype as ``x`` (a copy of ``x`` in test mode).
        cache: ``(mask, x.shape, x.dtype)``; ``mask`` holds ``1/p`` for kept units and 0 for dropped
        ones in train mode, and is ``None`` in test mode.
    """
    fn = "dropout_forward"
    x = _check.float_array(fn, "x", x)
    param = _check.params(fn, "dropout_param", dropout_param, required=("mode", "p"), defaults={"seed": None})
    mode = param["mode"]
    if mode not in ("train", "test"):
        raise NpnetValueError(f"{fn}: dropout_param['mode'] must be 'train' or 'test'; got {mode!r}")
    # p is the probability of KEEPING a unit; a seed seeds a NumPy RandomState, so it is below 2**32.
    p = _check.number(fn, "dropout_param['p']", param["p"], low=0, high=1, low_open=True)
    seed = _check.number(fn, "dropout_param['seed']", param["seed"], low=0, high=2**32, high_open=True, integer=True,
                         allow_none=True)
    if mode == "test":
        return x.copy(), (None, x.shape, x.dtype)
    # CS231n's masks exactly: with a seed, the stream of np.random.seed(seed) (a private RandomState,
    # so the caller's global state is left alone); without, the global np.random. The uniforms are
    # float64 whatever x's dtype, so one seed gives one mask.
    uniform = np.random.rand if seed is None else np.random.RandomState(seed).rand
    # BEGIN SOLUTION
    mask = (uniform(*x.shape) < p).astype(x.dtype) / x.dtype.type(p)
    out = x * mask
    # END SOLUTION
    return out, (mask, x.shape, x.dtype)


def dropout_backward(dout, cache):
    """Inverted dropout backward pass: ``dout * mask`` in train mode, ``dout`` in test mode.

    Args:
        dout: upstream gradient, shaped like ``x``.
        cache: from :func:`dropout_forward`.
    Returns:
        dx: shaped like ``x``.
    """
    fn = "dropout_backward"
    _check.cache("dropout_backward", cache, 3)
    mask, shape, dtype = cache
    dout = _check.dout(fn, dout, shape, dtype)
    if mask is None:
        return dout.copy()
    # BEGIN SOLUTION
    dx = dout * mask
    # END SOLUTION
    return dx
