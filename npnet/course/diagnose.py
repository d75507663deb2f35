"""Gradient-aware feedback: what is wrong with a student's output, in one line.

Given the student's array and the reference, :func:`diagnose` tries the transforms that undo the
common mistakes and names the first that makes the student's answer right: a gradient that is
exactly zero, a flipped sign, a missing or extra 1/N (or another constant factor the item names,
such as dropout's 1/p), transposed axes, a missing sum over the batch, a forward mask that was not
applied (right where the true gradient is nonzero, nonzero where it is zero) or one too strict.
:func:`describe` adds the relative error and the worst element.
"""
import itertools

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
            return p
    return None


def diagnose(student, reference, rtol=1e-6, n=None, upstream=None, factors=None):
    """One line naming the likely mistake in ``student`` (vs ``reference``), or None if none fits.

    Args:
        student, reference: arrays (any shapes).
        rtol: the item's tolerance on ``rel_error``.
        n: the batch size, for the 1/N diagnoses.
        upstream: the upstream gradient this output was computed from (for "mask not applied").
        factors: ``{value: words}``: other constant factors the item knows of.
    """
    s, r = np.asarray(student, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    named = factors or {}
    if s.size and not np.isfinite(s).all():
        return (f"{int(np.sum(~np.isfinite(s)))} NaN/Inf value(s): an overflow, a log/division of 0, or an "
                f"uninitialised array")
    if s.shape != r.shape:
        perm = _transposes(s, r, rtol)
        if perm is not None:
            return (f"transposed: right values with the axes in the wrong order (shape {s.shape} instead of "
                    f"{r.shape}; axes {perm} give the answer)")
        if s.ndim == r.ndim + 1 and s.shape[1:] == r.shape:
            total = s.sum(axis=0)
            if _close(total, r, rtol):
                return (f"a missing sum over the batch: shape {s.shape} instead of {r.shape} (summing axis 0 gives "
                        f"the answer)")
            if s.shape[0] > 1 and _close(total / s.shape[0], r, rtol):
                return (f"per-sample values: shape {s.shape} instead of {r.shape} (their mean over the batch gives "
                        f"the answer)")
        return f"wrong shape {s.shape}, expected {r.shape}"
    if not s.any() and r.any():
        return "exactly zero everywhere: the result is never written (an unfilled np.zeros?)"
    passed_through = upstream is not None and np.shape(upstream) == s.shape and _close(s, upstream, rtol)
    if passed_through and not _close(r, upstream, rtol):
        return "equals the upstream gradient unchanged: the forward's mask/local gradient was not applied"
    rr = float(np.vdot(r, r))
    if rr > 0:
        k = float(np.vdot(s, r)) / rr
        if k != 0 and not np.isclose(k, 1) and _close(s, k * r, rtol):
            words = _factor_name(k, n, named)
            return words or f"{k:.4g} times the right value everywhere: a constant factor is off"
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
