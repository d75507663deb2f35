"""Argument checks shared by every layer, model and technique.

Each check raises an error that names the calling function, what it expected and what it got, so a
student sees ``conv_forward: x must have 4 dims (N, C, H, W); got shape (3, 32, 32)`` instead of a
traceback from deep inside NumPy.
"""
import numbers

import numpy as np

from .errors import NpnetTypeError


def _shape_str(shape):
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def float_array(fn, name, x, ndim=None, layout=None):
    """Return ``x`` as a floating NumPy array, or raise.

    Integer, boolean and object arrays raise ``TypeError`` (a layer would silently truncate them);
    a wrong number of dimensions raises ``ValueError``. ``layout`` (e.g. "(N, C, H, W)") is only used
    in the message.
    """
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple, numbers.Number)):
            x = np.asarray(x)
        else:
            raise TypeError(f"{fn}: {name} must be a NumPy array; got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{fn}: {name} must be a floating-point array (float32 or float64); got dtype {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            what = f"{ndim} dims" if isinstance(ndim, int) else f"{' or '.join(map(str, allowed))} dims"
            lay = f" {layout}" if layout else ""
            raise ValueError(f"{fn}: {name} must have {what}{lay}; got shape {x.shape}")
    return x


def shape(fn, name, x, expected):
    """Raise ``ValueError`` unless ``x.shape`` matches ``expected`` (``None`` matches any size)."""
    got = np.shape(x)
    if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got)):
        raise ValueError(f"{fn}: {name} must have shape {_shape_str(expected)}; got {tuple(got)}")


def same_shape(fn, name, x, ref_shape, ref_name="the forward output"):
    """Raise ``ValueError`` unless ``x`` has the shape ``ref_shape`` of ``ref_name`` (dout checks)."""
    if np.shape(x) != tuple(ref_shape):
        raise ValueError(f"{fn}: {name} must have the shape of {ref_name} {tuple(ref_shape)}; got {np.shape(x)}")


def positive_int(fn, name, v):
    """Return ``v`` as an int if it is a whole number >= 1, else raise ``ValueError``."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{fn}: {name} must be a positive integer; got {v!r}")
    return int(v)


def nonnegative_int(fn, name, v):
    """Return ``v`` as an int if it is a whole number >= 0, else raise ``ValueError``."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
        raise ValueError(f"{fn}: {name} must be a non-negative integer; got {v!r}")
    return int(v)


def positive_number(fn, name, v):
    """Return ``v`` as a float if it is a finite real number > 0, else raise ``ValueError``."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) or v <= 0:
        raise ValueError(f"{fn}: {name} must be a finite number > 0; got {v!r}")
    return float(v)


def finite(fn, name, x):
    """Raise ``ValueError`` if ``x`` holds NaN or Inf (counting them, so the message says how bad)."""
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(f"{fn}: {name} contains {int(bad.sum())} NaN/Inf value(s) of {x.size}")


def labels(fn, name, y, n, num_classes):
    """Return integer class labels ``y`` of shape (n,), each in [0, num_classes), or raise."""
    y = np.asarray(y)
    if y.ndim == 0:
        y = y.reshape(1)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{fn}: {name} must hold integer class labels; got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"{fn}: {name} must have shape ({n},), one label per sample; got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{fn}: {name} must lie in [0, {num_classes}); got values from {y.min()} to {y.max()}")
    return y


def dout(fn, d, shape, dtype, name="dout"):
    """Return upstream gradient ``d`` as a floating array of the forward output's ``shape`` in ``dtype``."""
    d = float_array(fn, name, d)
    same_shape(fn, name, d, shape)
    return d.astype(dtype, copy=False)


def params(fn, name, given, required=(), defaults=None):
    """Return the parameter dict ``given`` merged over ``defaults``, after checking it is a dict with
    every ``required`` key and no unknown key (so a typo such as ``'padding'`` is not ignored)."""
    defaults = defaults or {}
    if not isinstance(given, dict):
        raise TypeError(f"{fn}: {name} must be a dict; got {type(given).__name__}")
    known = tuple(required) + tuple(defaults)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"{fn}: unknown {name} key(s) {unknown}; expected keys among {list(known)}")
    missing = [k for k in required if k not in given]
    if missing:
        raise ValueError(f"{fn}: {name} is missing key(s) {missing}")
    return {**defaults, **given}


def feature_index(fn, name, layer, num_layers):
    """Return ``layer`` as an int index into ``model.features`` (``num_layers`` long), or raise ``ValueError``."""
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 0 <= layer < num_layers:
        raise ValueError(f"{fn}: {name} must be an index of model.features, an integer in 0..{num_layers - 1}; "
                         f"got {layer!r}")
    return int(layer)


def real_array(fn, name, x, dtype):
    """Return ``x`` (a floating or integer array, or a list of numbers) cast to ``dtype``, or raise.

    For parameters such as a scale ``gamma`` where ``np.asarray([3, 4, 5])`` is a fair thing to pass:
    whole numbers are exact in any float type. Booleans, strings and objects still raise ``TypeError``.
    """
    if isinstance(x, (list, tuple, numbers.Number)):
        x = np.asarray(x)
    if not isinstance(x, np.ndarray):
        raise NpnetTypeError(f"{fn}: {name} must be a NumPy array; got {type(x).__name__}")
    if x.dtype == np.bool_ or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise NpnetTypeError(f"{fn}: {name} must be a real-valued (float or integer) array; got dtype {x.dtype}")
    return x.astype(dtype, copy=False)


def float_dtype(fn, dtype, name="dtype"):
    """Return ``dtype`` as ``np.dtype`` if it is float32 or float64, else raise ``NpnetTypeError``.

    An integer network would silently compute nonsense (its weights truncated to zero), and float16
    is too coarse for gradient checks.
    """
    try:
        got = None if dtype is None else np.dtype(dtype)  # np.dtype(None) would be float64
    except (TypeError, ValueError):
        got = None
    if got is None or got.type not in (np.float32, np.float64):
        raise NpnetTypeError(f"{fn}: {name} must be float32 or float64; got {dtype!r}")
    return got


def weight_problems(arrays, dtypes=None):
    """What makes ``{name: array}`` unusable as network weights: ``{name: problem}`` ({} if none).

    Refused: values that are not arrays of real numbers (complex, strings, objects, ragged lists),
    NaN/Inf, and finite values that become Inf when cast to ``dtypes[name]`` (e.g. 1e39 in float32).
    Integer and boolean arrays (batch-norm counters, masks) are fine; float values for an integer
    ``dtypes[name]`` are not (they would be truncated).
    """
    dtypes = dtypes or {}
    problems = {}
    for name, value in arrays.items():
        try:
            a = np.asarray(value)
        except (ValueError, TypeError) as exc:  # ragged nested lists and the like
            problems[name] = f"not an array of numbers ({type(value).__name__}: {exc})"
            continue
        if a.dtype.kind not in "biuf":
            problems[name] = f"dtype {a.dtype} is not real numbers (expected float or integer)"
            continue
        target = np.dtype(dtypes.get(name, a.dtype))
        if a.dtype.kind != "f":
            continue
        if target.kind != "f":
            problems[name] = f"float values for an integer ({target}) parameter"
            continue
        bad = int(np.count_nonzero(~np.isfinite(a)))
        if bad:
            problems[name] = f"{bad} NaN/Inf value(s) of {a.size}"
        elif a.size and np.abs(a).max() > np.finfo(target).max:
            problems[name] = (f"values up to {np.abs(a).max():.3g} overflow {target} "
                              f"(largest {np.finfo(target).max:.3g})")
    return problems


def in_range(fn, name, x, lo, hi, hint=""):
    """Raise ``ValueError`` unless every value of ``x`` lies in [lo, hi] (the message gives the range found)."""
    from .errors import NpnetValueError

    if x.size and (x.min() < lo or x.max() > hi):
        raise NpnetValueError(f"{fn}: {name} must lie in [{lo:g}, {hi:g}]; got values from {x.min():.4g} to "
                              f"{x.max():.4g}" + (f" ({hint})" if hint else ""))
