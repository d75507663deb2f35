"""Argument checks shared by every layer, model and technique.

Each check raises an error that names the calling function, what it expected and what it got, so a
student sees ``conv_forward: x must have 4 dims (N, C, H, W); got shape (3, 32, 32)`` instead of a
traceback from deep inside NumPy.

Every check raises :class:`npnet.errors.NpnetValueError` or :class:`npnet.errors.NpnetTypeError` (also
``ValueError`` / ``TypeError``). Numeric hyper-parameters (learning rates, decays, weights, counts,
sizes...) all go through :func:`number` (or :func:`hyper` for a dict of them), booleans through
:func:`boolean`, so every public function refuses ``'bad'``, ``True``, NaN, Inf and out-of-range values
with the same wording.
"""
import functools
import math
import os
import numbers
import tempfile

import numpy as np

from .errors import NpnetTypeError, NpnetValueError


def _shape_str(shape):
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def float_array(fn, name, x, ndim=None, layout=None, allow_empty=False):
    """Return ``x`` as a floating NumPy array, or raise.

    Integer, boolean and object arrays raise ``TypeError`` (a layer would silently truncate them);
    a wrong number of dimensions raises ``ValueError``; so does an array with no elements (an N = 0
    batch would pass a forward pass and fail later, far from the cause) unless ``allow_empty``.
    ``layout`` (e.g. "(N, C, H, W)") is only used in the message.
    """
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple, numbers.Number)):
            x = np.asarray(x)
        else:
            raise NpnetTypeError(f"{fn}: {name} must be a NumPy array; got {type(x).__name__}")
    if x.dtype.kind != "f":  # the same test as np.issubdtype(x.dtype, np.floating), 10x cheaper
        raise NpnetTypeError(f"{fn}: {name} must be a floating-point array (float32 or float64); got dtype {x.dtype}")
    if ndim is not None and x.ndim != ndim:  # the common case, an int ndim that fits, in one test
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            what = f"{ndim} dims" if isinstance(ndim, int) else f"{' or '.join(map(str, allowed))} dims"
            lay = f" {layout}" if layout else ""
            raise NpnetValueError(f"{fn}: {name} must have {what}{lay}; got shape {x.shape}")
    if x.size == 0 and not allow_empty:
        lay = f" {layout}" if layout else ""
        raise NpnetValueError(f"{fn}: {name} is empty (shape {x.shape}{lay}); every dimension must be at least 1")
    return x


def in_place(fn, name, x):
    """Return ``x`` if it is a NumPy array the caller's own data can be changed through, else raise.

    For arguments a function updates in place (a gradient check perturbs its point, a class
    visualisation step moves its image): a list would be copied, so the caller's data would silently
    stay as it was, and a read-only array would fail deep inside NumPy.
    """
    if not isinstance(x, np.ndarray):
        raise NpnetTypeError(f"{fn}: {name} must be a NumPy array (it is updated in place); got {type(x).__name__}; "
                             f"pass np.array({name}, dtype=np.float64)")
    if not x.flags.writeable:
        raise NpnetValueError(f"{fn}: {name} must be a writable array (it is updated in place); got a read-only "
                              f"array of shape {x.shape}; pass {name}.copy()")
    return x


def shape(fn, name, x, expected):
    """Raise ``ValueError`` unless ``x.shape`` matches ``expected`` (``None`` matches any size)."""
    got = x.shape if isinstance(x, np.ndarray) else np.shape(x)
    if got == expected:
        return
    if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got)):
        raise NpnetValueError(f"{fn}: {name} must have shape {_shape_str(expected)}; got {tuple(got)}")


def same_shape(fn, name, x, ref_shape, ref_name="the forward output"):
    """Raise ``ValueError`` unless ``x`` has the shape ``ref_shape`` of ``ref_name`` (dout checks)."""
    if np.shape(x) != tuple(ref_shape):
        raise NpnetValueError(f"{fn}: {name} must have the shape of {ref_name} {tuple(ref_shape)}; got {np.shape(x)}")


def positive_int(fn, name, v):
    """Return ``v`` as an int if it is a whole number >= 1, else raise ``ValueError``."""
    if type(v) is int and v >= 1:  # layers call this on every pass: skip number()'s general tests
        return v
    return number(fn, name, v, low=1, integer=True)


def nonnegative_int(fn, name, v):
    """Return ``v`` as an int if it is a whole number >= 0, else raise ``ValueError``."""
    if type(v) is int and v >= 0:
        return v
    return number(fn, name, v, low=0, integer=True)


def _bound(v):
    return f"{v:g}" if isinstance(v, float) else str(v)


def _describe(integer, low, high, low_open, high_open):
    """'a positive integer', 'a finite number in [0, 1)', ... for the ranges :func:`number` checks."""
    kind = "integer" if integer else "finite number"
    if high is None:
        if low is None:
            return f"a {kind}" if integer else "a finite number"
        if low == 0 and low_open or integer and low == 1 and not low_open:
            return "a positive integer" if integer else "a positive finite number"
        if low == 0 and not low_open and integer:
            return "a non-negative integer"
        return f"{'an' if integer else 'a'} {kind} {'>' if low_open else '>='} {_bound(low)}"
    if low is None:
        return f"{'an' if integer else 'a'} {kind} {'<' if high_open else '<='} {_bound(high)}"
    return (f"{'an' if integer else 'a'} {kind} in {'(' if low_open else '['}{_bound(low)}, {_bound(high)}"
            f"{')' if high_open else ']'}")


def number(fn, name, v, low=None, high=None, low_open=False, high_open=False, integer=False, allow_none=False):
    """Return the numeric hyper-parameter ``v`` as a float (an int with ``integer``), or raise.

    ``v`` must be a real number (a Python or NumPy scalar, or a 0-d array; not a bool, a string or
    None unless ``allow_none``), finite, whole when ``integer``, and within ``[low, high]`` (each end
    excluded with ``low_open`` / ``high_open``; ``None`` means unbounded). Every failure raises
    ``NpnetValueError`` with one wording, e.g.
    ``adam: config['beta1'] must be a finite number in [0, 1); got 1.0``.
    """
    if v is None and allow_none:
        return None
    if type(v) is int:  # the common case, without the slower abstract-class tests below
        ok = True
    else:
        if isinstance(v, np.ndarray) and v.ndim == 0:
            v = v[()]
        ok = not isinstance(v, (bool, np.bool_)) and isinstance(v, numbers.Integral if integer else numbers.Real)
    if ok and not integer:
        try:
            v = float(v)
        except OverflowError:  # an int beyond float range is not a finite number
            ok = False
    ok = (ok and (integer or math.isfinite(v))
          and (low is None or (v > low if low_open else v >= low))
          and (high is None or (v < high if high_open else v <= high)))
    if not ok:
        desc = _describe(integer, low, high, low_open, high_open)  # only for the message: layers call this often
        shown = repr(v) if isinstance(v, (numbers.Number, str, type(None))) else f"a {type(v).__name__}"
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise NpnetValueError(f"{fn}: {name} must be {desc}{' or None' if allow_none else ''}; got {shown}")
    return int(v) if integer else float(v)


def hyper(fn, values, specs, prefix=""):
    """Check several hyper-parameters at once: ``{key: number(fn, prefix-key, values[key], **specs[key])}``.

    ``specs`` maps each key of the dict ``values`` to the keyword arguments of :func:`number`; the
    error names ``f"{prefix}[{key!r}]"`` when a ``prefix`` (e.g. ``"config"``) is given, else ``key``.
    Keys absent from ``values`` are skipped.
    """
    return {key: number(fn, f"{prefix}[{key!r}]" if prefix else key, values[key], **spec)
            for key, spec in specs.items() if key in values}


def boolean(fn, name, v):
    """Return ``v`` if it is a real bool (``True``/``False``, or a NumPy bool), else raise ``TypeError``.

    A string such as ``'False'`` is truthy; accepting it would silently mean the opposite.
    """
    if v is True or v is False:
        return v
    if not isinstance(v, np.bool_):
        raise NpnetTypeError(f"{fn}: {name} must be True or False; got {v!r}")
    return bool(v)


def rng(fn, name, value, none=None):
    """Return a NumPy random generator for the ``rng`` / ``seed`` argument ``value``, or raise.

    Accepted is what ``np.random.default_rng`` takes: an int >= 0 (or a sequence of them, or a
    ``SeedSequence``) seeds a new ``Generator``; a ``Generator`` (or a legacy ``RandomState``, which the
    CS231n code passes) is returned as is, so successive calls draw on. ``None`` gives ``none`` if
    given (e.g. the ``np.random`` module, whose global seed CS231n notebooks set), else fresh entropy.
    Anything else (a string, a float, a negative int, a bool) is refused in one line.
    """
    if isinstance(value, (np.random.Generator, np.random.RandomState)):
        return value
    if value is None:
        return np.random.default_rng() if none is None else none
    if isinstance(value, np.random.SeedSequence):
        return np.random.default_rng(value)
    seeds = value if isinstance(value, (list, tuple)) and value else (value,)
    integral = all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in seeds)
    if integral and min(seeds) >= 0:
        return np.random.default_rng(value)
    raise (NpnetValueError if integral else NpnetTypeError)(
        f"{fn}: {name} must be an int >= 0 (a seed), None or a np.random.Generator; got {value!r:.60}")


# Sizes below this many values are never checked against the machine's memory (one integer compare
# for the layers that call :func:`allocation` on every pass).
SMALL_ALLOCATION = 1 << 26


@functools.lru_cache(maxsize=1)
def physical_memory():
    """Bytes of RAM of this machine (2**50 where the system cannot say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 1 << 50


def _bytes(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "bytes" else f"{n} bytes"
        n /= 1024


def allocation(fn, what, elements, dtype=np.float64):
    """Raise ``NpnetValueError`` if an array of ``elements`` values of ``dtype`` needs more bytes than the
    machine has, before NumPy tries: NumPy would raise a bare ``MemoryError`` naming a shape the caller
    never wrote, or the operating system would kill the process. ``what`` names the argument(s) that
    asked for the size, e.g. ``"conv_param['pad']=1048576 with x (1, 2, 5, 5)"``."""
    needed = int(elements) * np.dtype(dtype).itemsize
    if needed > physical_memory():
        raise NpnetValueError(f"{fn}: {what} would need an array of {int(elements):,} {np.dtype(dtype)} values "
                              f"({_bytes(needed)}), more than this machine's memory ({_bytes(physical_memory())})")


# From this many values on, a contiguous float array is scanned by npnet.kernels.all_finite (Numba, 2.5-3.5x
# faster than np.sum on a style-transfer feature map of 0.4-0.8 M float32 values: 28-37 us against
# 67-123 us; those checks took 5% of a style-transfer iteration). Smaller arrays skip the kernel call.
KERNEL_SCAN = 1 << 16


def all_finite(x):
    """Whether the array ``x`` holds no NaN or Inf."""
    if (isinstance(x, np.ndarray) and x.size >= KERNEL_SCAN and x.dtype in (np.float32, np.float64)
            and x.flags.c_contiguous):
        from . import kernels  # Numba loads with the first big array, not with npnet

        return bool(kernels.all_finite(x.reshape(-1)))
    # One reduction instead of a boolean array the size of x: a NaN or Inf anywhere makes the sum NaN or
    # Inf, so a finite sum proves every value finite. A non-finite sum (also reached when finite values
    # overflow) gets the exact elementwise test.
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(x)
    return bool(np.isfinite(total)) or bool(np.isfinite(x).all())


def finite(fn, name, x):
    """Raise ``ValueError`` if ``x`` holds NaN or Inf (counting them, so the message says how bad)."""
    if not all_finite(x):
        bad = ~np.isfinite(x)
        raise NpnetValueError(f"{fn}: {name} contains {int(bad.sum())} NaN/Inf value(s) of {x.size}")


def labels(fn, name, y, n, num_classes):
    """Return integer class labels ``y`` of shape (n,), each in [0, num_classes), or raise."""
    y = np.asarray(y)
    if y.ndim == 0:
        y = y.reshape(1)
    if not np.issubdtype(y.dtype, np.integer):
        raise NpnetTypeError(f"{fn}: {name} must hold integer class labels; got dtype {y.dtype}")
    if y.shape != (n,):
        raise NpnetValueError(f"{fn}: {name} must have shape ({n},), one label per sample; got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise NpnetValueError(f"{fn}: {name} must lie in [0, {num_classes}); got values from {y.min()} to {y.max()}")
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
    # Set operations on the key views run in C: layers call this on every pass.
    if type(given) is dict and not required and given.keys() <= defaults.keys():
        return {**defaults, **given}
    if not isinstance(given, dict):
        raise NpnetTypeError(f"{fn}: {name} must be a dict; got {type(given).__name__}")
    known = defaults.keys() | set(required) if required else defaults.keys()
    if not given.keys() <= known:
        unknown = sorted(given.keys() - known, key=str)
        raise NpnetValueError(f"{fn}: unknown {name} key(s) {unknown}; expected keys among "
                              f"{list(required) + list(defaults)}")
    if required and not given.keys() >= set(required):
        missing = [k for k in required if k not in given]
        raise NpnetValueError(f"{fn}: {name} is missing key(s) {missing}")
    return {**defaults, **given}


def sequence(fn, name, value, what):
    """Return ``value`` (a list, tuple or 1-D array) as a list, else raise ``TypeError``; ``what`` says
    what it lists, e.g. ``"one entry per style layer"`` (a bare ``iter()`` would fail on None with
    "'NoneType' object is not iterable", naming neither the function nor the argument)."""
    if isinstance(value, (list, tuple)) or isinstance(value, np.ndarray) and value.ndim >= 1:
        return list(value)
    raise NpnetTypeError(f"{fn}: {name} must be a list ({what}); got {value!r:.60}")


def feature_index(fn, name, layer, num_layers):
    """Return ``layer`` as an int index into ``model.features`` (``num_layers`` long), or raise ``ValueError``."""
    if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, numbers.Integral) or not 0 <= layer < num_layers:
        raise NpnetValueError(f"{fn}: {name} must be an index of model.features, an integer in 0..{num_layers - 1}; "
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


def vocabulary(fn, word_to_idx, name="word_to_idx", special=("<NULL>", "<START>", "<END>")):
    """Return ``word_to_idx`` (a dict word -> index of V words) if its indices are distinct
    non-negative ints, it contains ``'<NULL>'``, and every ``special`` word present has an index < V;
    else raise. A duplicate gives two words one embedding row; a negative index wraps around.

    An ordinary word may have an index >= V, because the course's own unit test builds a model from
    ``{'<NULL>': 0, 'cat': 2, 'dog': 3}``: such a word can never be fed or predicted (caption indices
    are checked against V), so it cannot give a wrong answer silently.
    """
    if not isinstance(word_to_idx, dict) or not word_to_idx:
        raise NpnetTypeError(f"{fn}: {name} must be a non-empty dict mapping words to indices; "
                             f"got {type(word_to_idx).__name__}")
    bad = [w for w, i in word_to_idx.items() if not isinstance(w, str) or isinstance(i, (bool, np.bool_))
           or not isinstance(i, numbers.Integral)]
    if bad:
        raise NpnetTypeError(f"{fn}: {name} must map str words to int indices; got {bad[0]!r}: "
                             f"{word_to_idx[bad[0]]!r}")
    v = len(word_to_idx)
    indices = [int(i) for i in word_to_idx.values()]
    if min(indices) < 0:
        raise NpnetValueError(f"{fn}: {name} indices must be >= 0; got {min(indices)}")
    if len(set(indices)) != v:
        dup = sorted({i for i in indices if indices.count(i) > 1})[:5]
        raise NpnetValueError(f"{fn}: {name} must give each word its own index; duplicated {dup}")
    if "<NULL>" not in word_to_idx:
        raise NpnetValueError(f"{fn}: {name} must contain the padding word '<NULL>'")
    for word in special:
        if word in word_to_idx and word_to_idx[word] >= v:
            raise NpnetValueError(f"{fn}: {name}[{word!r}] must be < V = {v} (the number of words); "
                                  f"got {word_to_idx[word]}")
    return word_to_idx


def model(fn, net, needs=("forward", "backward")):
    """Raise ``TypeError`` unless ``net`` has every attribute in ``needs`` (e.g. ``model=None``)."""
    missing = [a for a in needs if not hasattr(net, a)]
    if missing:
        raise NpnetTypeError(f"{fn}: model must be a network such as npnet.models.squeezenet1_1(); got "
                             f"{type(net).__name__} (it has no {', '.join(missing)})")
    return net


def cache(fn, value, length=None):
    """Raise ``TypeError`` unless ``value`` looks like the cache of the matching forward pass: a tuple
    of ``length`` items, or an array when ``length`` is None (ReLU, sigmoid and tanh cache one array)."""
    ok = isinstance(value, np.ndarray) if length is None else isinstance(value, tuple) and len(value) == length
    if not ok:
        what = "an array" if length is None else f"a tuple of {length}"
        got = type(value).__name__ + (f" of {len(value)}" if isinstance(value, tuple) else "")
        raise NpnetTypeError(f"{fn}: cache must be what the matching forward pass returned ({what}); got {got}")
    return value


def path(fn, name, value):
    """Return ``value`` as a ``Path`` if it is a str or path-like object, else raise ``TypeError``."""
    from pathlib import Path

    if isinstance(value, (str, os.PathLike)) and str(value):
        return Path(value)
    raise NpnetTypeError(f"{fn}: {name} must be a file or folder path (str or pathlib.Path); got {value!r:.60}")


def writable_folder_above(fn, name, path):
    """Raise unless the nearest existing folder above the output ``path`` is a folder (not a regular
    file) this process can create files in; folders below it that do not exist yet can be created.

    Permission bits cannot tell (root may write anywhere by them, yet not in /sys or on a read-only
    mount), so an anonymous temporary file is made there and dropped at once: Linux's O_TMPFILE
    leaves no name behind, elsewhere Python names and removes it.
    """
    for parent in (path.parent, *path.parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise NpnetValueError(f"{fn}: cannot write {name} {path}: {parent} is a file, not a folder")
            try:
                with tempfile.TemporaryFile(dir=parent):
                    pass
            except OSError as err:
                raise NpnetValueError(f"{fn}: cannot write {name} {path}: the folder {parent} is not writable "
                                      f"({err.strerror or type(err).__name__})") from None
            return


def output_path(fn, name, value):
    """Return ``value`` as a ``Path`` a file can be written to, or raise one line naming ``fn`` and ``name``.

    Refused before any work or write: a value that is not a path, a folder (also ``''`` and ``'.'``),
    a path under a regular file, and a path whose nearest existing folder is not writable (read-only,
    another user's, a read-only file system, /sys). Missing folders are fine:
    :func:`npnet._io.atomic_output` creates them. Public functions that compute before they write
    (figures, conversions) call this first; ``atomic_output`` calls it too.
    """
    from pathlib import Path

    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise NpnetTypeError(f"{fn}: {name} must be a file name (str or pathlib.Path); got {value!r:.60}")
    path = Path(value)
    if path.name in ("", ".", "..") or path.is_dir():
        raise NpnetValueError(f"{fn}: cannot write {name} {path}: it is a folder; give a file name inside it")
    writable_folder_above(fn, name, path)
    return path


def function(fn, name, f):
    """Raise ``TypeError`` unless ``f`` is callable (a forward, backward or loss function...)."""
    if not callable(f):
        raise NpnetTypeError(f"{fn}: {name} must be a function; got {f!r:.60}")
    return f


def in_range(fn, name, x, lo, hi, hint=""):
    """Raise ``ValueError`` unless every value of ``x`` lies in [lo, hi] (the message gives the range found)."""
    if x.size and (x.min() < lo or x.max() > hi):
        raise NpnetValueError(f"{fn}: {name} must lie in [{lo:g}, {hi:g}]; got values from {x.min():.4g} to "
                              f"{x.max():.4g}" + (f" ({hint})" if hint else ""))
