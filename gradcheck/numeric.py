"""Numerical gradients, the way CS231n computes them, and a directional-derivative check.

All functions use centred differences ``(f(x + h) - f(x - h)) / 2h``, whose error is O(h^2); in float64
with h = 1e-5 that leaves a relative error around 1e-9 for smooth functions, which is why every layer
is checked in float64.

A check that cannot fail is worse than none: every error returned here is NaN (never 0) when a
gradient holds NaN, and NaN compares false with any threshold, so ``python -m gradcheck`` reports it.
Step sizes and counts are validated: ``h <= 0`` would divide by zero, and an integer ``x`` would
silently truncate ``x + h`` back to ``x``.
"""
import numbers
import warnings

import numpy as np

from npnet import _check
from npnet.errors import NpnetTypeError, NpnetValueError, PrecisionWarning


def rel_error(x, y):
    """Largest elementwise relative error ``|x - y| / max(1e-8, |x| + |y|)`` (CS231n semantics).

    Shapes that differ only by length-1 axes are compared value by value, as the course's version
    does for a (1,) answer against a 0-d result; any other mismatch is refused rather than broadcast
    (broadcasting a (3, 1) against a (3, 2) would compare 6 pairs and pass by accident).
    """
    for name, v in (("x", x), ("y", y)):
        if v is None or np.asarray(v).dtype.kind not in "iuf":  # complex would lose its imaginary part
            raise NpnetTypeError(f"rel_error: {name} must be a real number or array; got {v!r:.60}")
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape and np.squeeze(x).shape == np.squeeze(y).shape:
        x, y = np.squeeze(x), np.squeeze(y)
    if x.shape != y.shape:
        raise NpnetValueError(f"rel_error: x and y must have the same shape; got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    # NaN or Inf on either side gives NaN: the honest answer, so no warning about it.
    with np.errstate(invalid="ignore"):
        return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _step_and_point(fn, x, h):
    """Validate the step ``h`` (> 0) and the point ``x``, which is perturbed in place and restored.

    ``f`` often reads ``x`` through a closure rather than its argument (``lambda _: model.loss(X, y)[0]``
    with ``x`` a parameter), so ``x`` itself must change: it has to be a writable floating NumPy array
    (a list or a read-only view would leave ``f`` unmoved), with at least one element (an empty check
    checks nothing). A float32 or float16 ``x`` is checked as given, with a warning: a closure cannot
    be moved to float64 from here, and its rounding divided by ``2h`` leaves errors near 1e-2.
    """
    h = _check.number(fn, "h", h, low=0, low_open=True)
    x = _check.float_array(fn, "x", _check.in_place(fn, "x", x))
    if x.dtype.itemsize < 8:
        warnings.warn(f"{fn}: x is {x.dtype}, so the numerical gradient is only good to about 1e-2 with h={h:g} "
                      f"(rounding of {np.finfo(x.dtype).eps:.0e} divided by 2h); check gradients in float64 "
                      f"(x.astype(np.float64) and float64 parameters)", PrecisionWarning, stacklevel=3)
    return x, h


def _scalar(fn, value):
    """``f(x)`` of a scalar function as a float, or a clear error (an array cannot fill one gradient element)."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        return float(value.reshape(()))
    shown = f"an array of shape {value.shape}" if isinstance(value, np.ndarray) else f"{value!r:.60}"
    raise NpnetTypeError(f"{fn}: f must return a scalar (a real number or a size-1 array); got {shown}")


def _output(fn, value, df):
    """``f(x)`` of an array function as a new float64 array shaped like ``df`` (or any shape for a scalar
    ``df``), or a clear error: broadcasting a mismatch would weight the outputs wrongly without a word."""
    try:
        out = np.asarray(value)
    except (TypeError, ValueError):  # a ragged tuple such as (out, cache)
        out = None
    if out is None or out.dtype.kind not in "iuf" or df.ndim and out.shape != df.shape:
        got = (f"a tuple of {len(value)} (if it is (out, cache), take [0])" if isinstance(value, tuple)
               else f"{out.dtype} array of shape {out.shape}" if out is not None else type(value).__name__)
        raise NpnetValueError(f"{fn}: f(x) must be a real array of df's shape {df.shape}; got {got}")
    return np.array(out, dtype=np.float64)  # a copy: f may return a view of a buffer it reuses


def _worst(errors):
    """Largest error, NaN if any is NaN (Python's ``max(0.0, nan)`` is 0.0, which would hide it)."""
    return float(np.max(errors)) if len(errors) else 0.0


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Gradient of a scalar function ``f(x)`` at ``x`` by centred differences, one element at a time.

    ``x`` (a floating array) is perturbed in place and restored; ``h`` > 0. Returns an array shaped
    like ``x``.
    """
    fn = "eval_numerical_gradient"
    x, h = _step_and_point(fn, x, h)
    _check.function(fn, "f", f)
    verbose = _check.boolean(fn, "verbose", verbose)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fxph = _scalar(fn, f(x))
        x[ix] = old - h
        fxmh = _scalar(fn, f(x))
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Gradient of ``sum(f(x) * df)`` w.r.t. ``x``: the vector-Jacobian product a backward pass returns.

    ``f`` maps an array to an array; ``df`` is the upstream gradient, shaped like ``f(x)``; ``x`` is a
    floating array (perturbed in place and restored), ``h`` > 0.
    """
    fn = "eval_numerical_gradient_array"
    x, h = _step_and_point(fn, x, h)
    _check.function(fn, "f", f)
    df = _check.real_array(fn, "df", df, np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = _output(fn, f(x), df)
        x[ix] = old - h
        neg = _output(fn, f(x), df)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None, verbose=True):
    """Compare ``analytic_grad`` with centred differences of scalar ``f`` at ``num_checks`` random elements.

    Prints one line per element (as CS231n does) and returns the list of relative errors (NaN where
    either gradient is NaN).
    """
    fn = "grad_check_sparse"
    x, h = _step_and_point(fn, x, h)
    _check.function(fn, "f", f)
    num_checks = _check.nonnegative_int(fn, "num_checks", num_checks)
    verbose = _check.boolean(fn, "verbose", verbose)
    analytic_grad = _check.float_array(fn, "analytic_grad", analytic_grad)
    _check.same_shape(fn, "analytic_grad", analytic_grad, x.shape, "x")
    rng = _check.rng(fn, "seed", seed)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(m)) for m in x.shape)
        old = x[ix]
        x[ix] = old + h
        fxph = _scalar(fn, f(x))
        x[ix] = old - h
        fxmh = _scalar(fn, f(x))
        x[ix] = old
        numeric = (fxph - fxmh) / (2 * h)
        analytic = analytic_grad[ix]
        err = rel_error(numeric, analytic)
        errors.append(err)
        if verbose:
            print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {err:e}")
    return errors


def check_backward(forward, inputs, dout, grads, h=1e-6, num_directions=3, seed=0):
    """Directional-derivative check of a whole backward pass (the idea of Chainer's ``check_backward``).

    For a random direction ``v`` over all inputs, the scalar ``L(x) = sum(forward(*x) * dout)`` has
    directional derivative ``sum_i <grads[i], v_i>``; centred differences give the same number from two
    forward passes. One check costs 2 forwards regardless of the input size, which makes it practical
    for a whole network where element-wise checks are not.

    Args:
        forward: callable ``forward(*inputs) -> out``.
        inputs: list of float64 arrays (not modified).
        dout: upstream gradient, shaped like ``out``.
        grads: analytic gradients, one per input, same shapes (``None`` entries are skipped).
    Returns:
        The largest relative error ``|numeric - analytic| / max(1e-8, |numeric| + |analytic|)`` over
        ``num_directions`` random directions (>= 1); NaN if either side is NaN.
    """
    fn = "check_backward"
    _check.function(fn, "forward", forward)
    if not isinstance(inputs, (list, tuple)) or not isinstance(grads, (list, tuple)):
        raise NpnetTypeError(f"{fn}: inputs and grads must be lists of arrays; got {type(inputs).__name__} and "
                             f"{type(grads).__name__}")
    h = _check.number(fn, "h", h, low=0, low_open=True)
    num_directions = _check.positive_int(fn, "num_directions", num_directions)
    inputs = [_check.float_array(fn, f"inputs[{i}]", x, allow_empty=True) for i, x in enumerate(inputs)]
    if len(grads) != len(inputs):
        raise NpnetValueError(f"{fn}: grads must hold one gradient (or None) per input; got {len(grads)} for "
                              f"{len(inputs)} inputs")
    for i, (x, g) in enumerate(zip(inputs, grads)):
        if g is not None:
            _check.same_shape(fn, f"grads[{i}]", g, x.shape, f"inputs[{i}]")
    rng = _check.rng(fn, "seed", seed)
    errors = []
    for _ in range(num_directions):
        dirs = [None if g is None else rng.standard_normal(np.shape(x)) for x, g in zip(inputs, grads)]
        plus = [x if d is None else x + h * d for x, d in zip(inputs, dirs)]
        minus = [x if d is None else x - h * d for x, d in zip(inputs, dirs)]
        numeric = (np.sum(forward(*plus) * dout) - np.sum(forward(*minus) * dout)) / (2 * h)
        analytic = sum(float(np.sum(g * d)) for g, d in zip(grads, dirs) if d is not None)
        errors.append(rel_error(numeric, analytic))
    return _worst(errors)
