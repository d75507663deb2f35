"""Gradient-aware feedback: what is wrong with a student's output, in one line.

Given the student's array and the reference, :func:`diagnose` tries the transforms that undo the
common mistakes and names the first that makes the student's answer right: a gradient that is
exactly zero, a flipped sign, a missing or extra 1/N (or another constant factor the item names,
such as dropout's 1/p), transposed axes, a missing sum over the batch, a forward mask that was not
applied (right where the true gradient is nonzero, nonzero where it is zero) or one too strict.
:func:`describe` adds the relative error and the worst element.

Causes that need the item's inputs are passed in ``factors`` beside the constant factors: a
:class:`Missing` term (the answer equals the right one minus a named term, such as the variance path
of a norm's backward) or an :class:`Alternative` answer (what a named mistake computes, such as a
test-mode norm using the batch's statistics). Without them the diagnosis still names an unbiased
variance (the ``sqrt((m-1)/m)`` factor of a normalised output), a result shifted or cropped by one
pixel (padding or stride off by one) and a reduction of the upstream gradient over the wrong axes.
"""
import itertools
from dataclasses import dataclass

import numpy as np

import gradcheck


def rel_error(x, y):
    """``gradcheck.rel_error`` that answers ``inf`` instead of raising for different shapes or NaN."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        return float("inf")
    with np.errstate(invalid="ignore"):
        err = gradcheck.rel_error(x, y)
    return float("inf") if np.isnan(err) else err


def _close(x, y, rtol):
    return rel_error(x, y) <= rtol


# A named cause is recognised up to this relative error (or the item's own rtol, if larger): the
# answer is already known to be wrong, and a cause such as an unbiased variance shows through eps.
CAUSE_RTOL = 1e-3


@dataclass(eq=False, frozen=True)
class Missing:
    """A term the right answer has and a named mistake drops: ``student == reference - term``."""
    words: str
    term: object


@dataclass(eq=False, frozen=True)
class Alternative:
    """What a named mistake computes instead of the right answer: ``student == value``."""
    words: str
    value: object


def _named_terms(s, r, terms, tol):
    """Words for the first :class:`Missing` or :class:`Alternative` that explains ``s``, or None."""
    for t in terms:
        if isinstance(t, Missing):
            term = np.asarray(t.term, dtype=np.float64)
            if term.shape == s.shape and term.any() and _close(s, r - term, tol):
                return f"{t.words} is missing (the difference from the right answer is exactly that term)"
        else:
            value = np.asarray(t.value, dtype=np.float64)
            if value.shape == s.shape and not _close(value, r, tol) and _close(s, value, tol):
                return t.words
    return None


def _unbiased_variance(s, r, tol):
    """A normalised output scaled by ``sqrt((m-1)/m)`` about each feature's mean: a variance divided
    by m - 1 (ddof=1) instead of m. Centring over the batch removes a per-feature shift (beta)."""
    if s.ndim < 2 or s.shape[0] < 2:
        return None
    sc, rc = s - s.mean(axis=0), r - r.mean(axis=0)
    rr = float(np.vdot(rc, rc))
    if rr == 0:
        return None
    k = float(np.vdot(sc, rc)) / rr
    if not 0.2 < k < 0.999 or not _close(sc, k * rc, tol):
        return None
    m = 1 / (1 - k * k)
    groups = {s.shape[0], s.shape[-1], s.size // s.shape[0], s.size // s.shape[1]}  # batch/layer norm sizes
    if abs(m - round(m)) > 0.01 * m or int(round(m)) not in groups:
        return None
    m = int(round(m))
    return (f"{k:.4g} = sqrt((m-1)/m) times the right normalised values with m = {m}: an unbiased variance "
            f"(ddof=1, divided by m - 1) where the biased one (divided by m = {m}) is expected")


def _windows(a, h, w):
    """(offset, a[..., i:i+h, j:j+w]) for every placement of an h x w window on a's last two axes."""
    for i in range(a.shape[-2] - h + 1):
        for j in range(a.shape[-1] - w + 1):
            yield (i, j), a[..., i:i + h, j:j + w]


def _pixel_shift(s, r, tol):
    """Words if ``s`` is ``r`` shifted by one pixel, or ``r`` with a border too many or too few."""
    if s.ndim < 2 or s.ndim != r.ndim or s.shape[:-2] != r.shape[:-2] or min(s.shape[-2:] + r.shape[-2:]) < 2:
        return None
    dh, dw = s.shape[-2] - r.shape[-2], s.shape[-1] - r.shape[-1]
    if (dh, dw) == (0, 0):
        H, W = s.shape[-2:]
        for dy, dx in itertools.product((-1, 0, 1), repeat=2):
            if (dy, dx) == (0, 0):
                continue
            here = (..., slice(max(dy, 0), H + min(dy, 0)), slice(max(dx, 0), W + min(dx, 0)))
            b = r[..., max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
            # (an answer that does not change when shifted, such as a constant, says nothing here)
            if b.any() and _close(s[here], b, tol) and not _close(r[here], b, tol):
                return (f"the right values shifted by one pixel (the answer's [i, j] holds the right [i{-dy:+d}, "
                        f"j{-dx:+d}]): a window starts one pixel off (the padding, or o*stride - pad)")
        return None
    if 0 <= dh <= 2 and 0 <= dw <= 2:
        for (i, j), part in _windows(s, *r.shape[-2:]):
            if _close(part, r, tol):
                return (f"shape {s.shape} instead of {r.shape}, and its [{i}:, {j}:] window is the right answer: "
                        f"a border too many (padded by pad + 1? a stride off?)")
    if -2 <= dh <= 0 and -2 <= dw <= 0:
        for (i, j), part in _windows(r, *s.shape[-2:]):
            if _close(s, part, tol):
                return (f"shape {s.shape} instead of {r.shape}: the right answer without its border (its [{i}:, {j}:] "
                        f"window): padded too little (pad - 1? no padding?)")
    return None


def _axis_sets(ndim):
    for k in range(1, ndim + 1):
        yield from itertools.combinations(range(ndim), k)


def _reduced_over(a, target, tol):
    """``(how, axes)`` with ``a.<how>(axes) == target`` (how: sum or mean), or None."""
    for axes in _axis_sets(a.ndim):
        for how in ("sum", "mean"):
            red = getattr(a, how)(axis=axes)
            if red.shape == target.shape and _close(red, target, tol):
                return how, axes
    return None


def _wrong_axes(s, r, upstream, tol):
    """Words if ``r`` reduces the upstream gradient over some axes and ``s`` over others."""
    if upstream is None or np.ndim(upstream) < 2 or np.ndim(upstream) > 5:
        return None
    u = np.asarray(upstream, dtype=np.float64)
    right, got = _reduced_over(u, r, tol), _reduced_over(u, s, tol)
    if right and got and got != right:
        return (f"the {got[0]} of the upstream gradient over axes {got[1]} instead of its {right[0]} over axes "
                f"{right[1]}: a reduction over the wrong axes")
    return None


def _factor_name(k, n, named):
    """Words for 'the student's value is k times the right one', or None if k is no known factor."""
    for value, words in named.items():
        if np.isclose(k, value, rtol=1e-6):
            return f"{k:.4g} times the right value: {words}"
    if np.isclose(k, -1):
        return "the sign is flipped"
    if n and n > 1 and np.isclose(k, n):
        return f"N = {n} times too large: a missing 1/N (the average over the batch)"
    if n and n > 1 and np.isclose(k, 1 / n):
        return f"N = {n} times too small: an extra 1/N (divided by the batch size once too often)"
    if np.isclose(k, 2) or np.isclose(k, 0.5):
        which = "extra" if k > 1 else "missing"
        return f"{k:g} times the right value: a factor 2 (the derivative of a square?) is {which}"
    if np.isclose(k, -2) or np.isclose(k, -0.5):
        return f"{k:g} times the right value: the sign is flipped and a factor 2 is off"
    return None


def _transposes(s, r, rtol):
    """Axis permutations p (not the identity) with ``s.transpose(p) == r``."""
    if s.ndim < 2 or s.ndim > 5 or s.size != r.size:
        return None
    for p in itertools.permutations(range(s.ndim)):
        if p != tuple(range(s.ndim)) and tuple(s.shape[i] for i in p) == r.shape and _close(s.transpose(p), r, rtol):
            if s.shape == r.shape and _close(r.transpose(p), r, rtol):
                continue  # r itself does not change under p: that says nothing
            return p
    return None


def diagnose(student, reference, rtol=1e-6, n=None, upstream=None, factors=None):
    """One line naming the likely mistake in ``student`` (vs ``reference``), or None if none fits.

    Args:
        student, reference: arrays (any shapes).
        rtol: the item's tolerance on ``rel_error``.
        n: the batch size, for the 1/N diagnoses.
        upstream: the upstream gradient this output was computed from (for "mask not applied").
        factors: ``{value: words}``: other constant factors the item knows of; keys may also be
            :class:`Missing` terms and :class:`Alternative` answers (their words are in the key).
    """
    s, r = np.asarray(student, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    named = {k: v for k, v in (factors or {}).items() if not isinstance(k, (Missing, Alternative))}
    terms = [k for k in (factors or {}) if isinstance(k, (Missing, Alternative))]
    tol = max(rtol, CAUSE_RTOL)
    if s.shape == r.shape and _close(s, r, rtol):
        return None  # a right answer has nothing to diagnose
    if s.size and not np.isfinite(s).all():
        return (f"{int(np.sum(~np.isfinite(s)))} NaN/Inf value(s): an overflow, a log/division of 0, or an "
                f"uninitialised array")
    words = _named_terms(s, r, terms, tol) if r.size else None
    if words:
        return words
    if s.shape != r.shape:
        words = _pixel_shift(s, r, tol) or _wrong_axes(s, r, upstream, tol)
        if words:
            return words
        perm = _transposes(s, r, rtol)
        if perm is not None:
            return (f"transposed: right values with the axes in the wrong order (shape {s.shape} instead of "
                    f"{r.shape}; axes {perm} give the answer)")
        if s.ndim > r.ndim and s.ndim <= 5:
            found = _reduced_over(s, r, rtol)
            if found == ("sum", (0,)):
                return (f"a missing sum over the batch: shape {s.shape} instead of {r.shape} (summing axis 0 gives "
                        f"the answer)")
            if found == ("mean", (0,)) and s.shape[0] > 1:
                return (f"per-sample values: shape {s.shape} instead of {r.shape} (their mean over the batch gives "
                        f"the answer)")
            if found:
                return (f"a missing {found[0]} over axes {found[1]}: shape {s.shape} instead of {r.shape} (the "
                        f"{found[0]} over those axes gives the answer)")
        return f"wrong shape {s.shape}, expected {r.shape}"
    if not s.any() and r.any():
        return "exactly zero everywhere: the result is never written (an unfilled np.zeros?)"
    passed_through = upstream is not None and np.shape(upstream) == s.shape and _close(s, upstream, rtol)
    if passed_through and not _close(r, upstream, rtol):
        return "equals the upstream gradient unchanged: the forward's mask/local gradient was not applied"
    rr = float(np.vdot(r, r))
    k = float(np.vdot(s, r)) / rr if rr > 0 else 0.0
    scaled = k != 0 and not np.isclose(k, 1) and _close(s, k * r, rtol)
    words = _factor_name(k, n, named) if scaled else None
    if words or (scaled and s.size == 1):  # any one wrong number is "some factor" off: say so only of an array
        return words
    words = _unbiased_variance(s, r, tol) or _pixel_shift(s, r, tol) or _wrong_axes(s, r, upstream, tol)
    if words:
        return words
    if scaled:
        return f"{k:.4g} times the right value everywhere: a constant factor is off"
    perm = _transposes(s, r, rtol)
    if perm is not None:
        return f"transposed: right values with the axes in the wrong order (axes {perm} give the answer)"
    zero, nonzero = r == 0, r != 0
    if zero.any() and nonzero.any():
        right_where_live = _close(s[nonzero], r[nonzero], rtol)
        if right_where_live and s[zero].any():
            return (f"right wherever the true value is nonzero, but nonzero at {int(np.count_nonzero(s[zero]))} "
                    f"position(s) where it is exactly 0: a mask / condition (ReLU gate, max-pool argmax and its "
                    f"ties, dropout mask) is not applied or too loose")
        if not s[zero].any() and not right_where_live and _close(s[s != 0], r[s != 0], rtol):
            return (f"zero at {int(np.count_nonzero(nonzero & (s == 0)))} position(s) where the true value is "
                    f"not, right elsewhere: a mask / condition is too strict")
    return None


def describe(student, reference, rtol=1e-6, **context):
    """``'wrong (rel error ..., worst at index ...: got a, expected b)'`` plus the diagnosis if any."""
    s, r = np.asarray(student, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    words = diagnose(s, r, rtol, **context)
    if s.shape == r.shape and s.size:
        with np.errstate(invalid="ignore"):
            err = np.nan_to_num(np.abs(s - r) / np.maximum(1e-8, np.abs(s) + np.abs(r)), nan=np.inf)
        worst = np.unravel_index(int(np.argmax(err)), s.shape)
        where = f"[{', '.join(map(str, worst))}]" if s.ndim else "the value"
        head = (f"wrong (rel error {rel_error(s, r):.1e}; worst at {where}: got {s[worst]:.6g}, "
                f"expected {r[worst]:.6g})")
    else:
        head = "wrong"
    return f"{head}. Diagnosis: {words}." if words else f"{head}."
