"""Losses: each ``loss, dx = name(x, y)`` returns the scalar loss (a Python float) and its gradient
with respect to the scores/predictions ``x`` (same shape and dtype as ``x``).

NaN/Inf policy: a loss never silently propagates non-finite values. If ``x`` (or a float target ``y``)
holds NaN or Inf, the loss raises ``ValueError`` naming itself and counting the bad entries, since a
NaN loss otherwise shows up epochs later as a flat NaN curve with no hint of where it started.
"""
import numpy as np

from .. import _check
from .activations import sigmoid
from ..errors import NpnetValueError

__all__ = ["softmax_loss", "softmax_loss_naive", "svm_loss", "svm_loss_naive", "bce_with_logits", "mse"]


def _scores_and_labels(fn, x, y):
    x = _check.float_array(fn, "x", x, ndim=2, layout="(N, C)")
    _check.finite(fn, "x", x)
    y = _check.labels(fn, "y", y, x.shape[0], x.shape[1])
    return x, y


def _predictions_and_targets(fn, x, y):
    x = _check.float_array(fn, "x", x)
    y = _check.float_array(fn, "y", y)
    _check.same_shape(fn, "y", y, x.shape, "x")
    _check.finite(fn, "x", x)
    _check.finite(fn, "y", y)
    return x, y.astype(x.dtype, copy=False)


def softmax_loss(x, y):
    """Softmax cross-entropy, averaged over the batch.

    ``loss = -mean_i log(exp(x[i, y_i]) / sum_j exp(x[i, j]))``, computed with the log-sum-exp shift
    (subtracting each row's maximum) so that no exponential overflows.

    Args:
        x: (N, C) class scores (logits), N >= 1.
        y: (N,) integer labels in [0, C).
    Returns:
        loss: float.
        dx: (N, C), ``(softmax(x) - onehot(y)) / N``.
    Raises:
        ValueError: if ``x`` holds NaN or Inf (counted in the message), or labels are out of range.
        TypeError: for integer ``x`` or non-integer ``y``.
    """
    x, y = _scores_and_labels("softmax_loss", x, y)
    n = x.shape[0]
    rows = np.arange(n)
    # BEGIN SOLUTION
    # Scores far below a row's maximum underflow to probability 0, which is the correct limit.
    with np.errstate(under="ignore"):
        shifted = x - x.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[rows, y].mean()
        dx = np.exp(log_probs)
        dx[rows, y] -= 1
        dx /= n
    # END SOLUTION
    return float(loss), dx



def softmax_loss_naive(x, y):
    """:func:`softmax_loss` with explicit loops over the samples and classes (CS231n assignment 1's
    naive version, to be checked equal to the vectorised one).

    Args:
        x: (N, C) class scores; y: (N,) integer labels in [0, C).
    Returns:
        loss: float. dx: (N, C).
    """
    x, y = _scores_and_labels("softmax_loss_naive", x, y)
    n, c = x.shape
    loss, dx = 0.0, np.zeros_like(x)
    # BEGIN SOLUTION
    for i in range(n):
        shift = max(x[i, j] for j in range(c))  # keeps every exponential <= 1
        with np.errstate(under="ignore"):  # a probability underflowing to 0 is the right limit
            exps = [np.exp(x[i, j] - shift) for j in range(c)]
        total = sum(exps)
        loss -= x[i, y[i]] - shift - np.log(total)  # log of the probability, without forming it
        for j in range(c):
            dx[i, j] = (exps[j] / total - (j == y[i])) / n
    loss /= n
    # END SOLUTION
    return float(loss), dx

def svm_loss(x, y):
    """Multiclass SVM (Weston-Watkins / CS231n) hinge loss with margin 1, averaged over the batch.

    ``loss = mean_i sum_{j != y_i} max(0, x[i, j] - x[i, y_i] + 1)``. At a kink (a margin exactly 0)
    the subgradient 0 is used.

    Args:
        x: (N, C) class scores, N >= 1.
        y: (N,) integer labels in [0, C).
    Returns:
        loss: float.
        dx: (N, C).
    Raises:
        ValueError: if ``x`` holds NaN or Inf (counted in the message), or labels are out of range.
        TypeError: for integer ``x`` or non-integer ``y``.
    """
    x, y = _scores_and_labels("svm_loss", x, y)
    n = x.shape[0]
    rows = np.arange(n)
    # BEGIN SOLUTION
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / n
    active = (margins > 0).astype(x.dtype)
    active[rows, y] = -active.sum(axis=1)
    dx = active / n
    # END SOLUTION
    return float(loss), dx



def svm_loss_naive(x, y):
    """:func:`svm_loss` with explicit loops over the samples and classes (CS231n assignment 1's naive
    version, to be checked equal to the vectorised one).

    Args:
        x: (N, C) class scores; y: (N,) integer labels in [0, C).
    Returns:
        loss: float. dx: (N, C).
    """
    x, y = _scores_and_labels("svm_loss_naive", x, y)
    n, c = x.shape
    loss, dx = 0.0, np.zeros_like(x)
    # BEGIN SOLUTION
    for i in range(n):
        for j in range(c):
            if j == y[i]:
                continue
            margin = x[i, j] - x[i, y[i]] + 1
            if margin > 0:
                loss += margin / n
                dx[i, j] += 1 / n
                dx[i, y[i]] -= 1 / n
    # END SOLUTION
    return float(loss), dx

def bce_with_logits(x, y):
    """Binary cross-entropy on logits, averaged over all elements (PyTorch ``BCEWithLogitsLoss``).

    Per element ``l = -(y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))``, rewritten as
    ``max(x, 0) - x*y + log(1 + exp(-|x|))``, which never overflows and is exact for large ``|x|``
    (e.g. ``x = 1e4, y = 0`` gives exactly 1e4).

    Args:
        x: floating array of logits, any shape, at least one element.
        y: floating targets (probabilities) in [0, 1], same shape as ``x``.
    Returns:
        loss: float.
        dx: shaped like ``x``, ``(sigmoid(x) - y) / x.size``.
    Raises:
        ValueError: if ``x`` or ``y`` holds NaN or Inf (counted in the message), ``y`` leaves [0, 1] or
        the shapes differ.
        TypeError: for integer ``x`` or ``y`` (convert 0/1 labels with ``y.astype(x.dtype)``).
    """
    fn = "bce_with_logits"
    x, y = _predictions_and_targets(fn, x, y)
    if y.min() < 0 or y.max() > 1:
        raise NpnetValueError(f"{fn}: y must lie in [0, 1]; got values from {y.min()} to {y.max()}")
    # BEGIN SOLUTION
    # exp(-|x|) underflowing to 0 for large |x| is the exact limit.
    with np.errstate(under="ignore"):
        per_element = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
        loss = per_element.mean()
        dx = (sigmoid(x) - y) / x.size
    # END SOLUTION
    return float(loss), dx


def mse(x, y):
    """Mean squared error over all elements (PyTorch ``MSELoss`` with ``reduction='mean'``).

    ``loss = mean((x - y)**2)``.

    Args:
        x: floating predictions, any shape, at least one element.
        y: floating targets, same shape as ``x``.
    Returns:
        loss: float.
        dx: shaped like ``x``, ``2 (x - y) / x.size``.
    Raises:
        ValueError: if ``x`` or ``y`` holds NaN or Inf (counted in the message), if the squares
        overflow the dtype, or if the shapes differ.
        TypeError: for integer ``x`` or ``y``.
    """
    fn = "mse"
    x, y = _predictions_and_targets(fn, x, y)
    # BEGIN SOLUTION
    with np.errstate(over="ignore"):
        diff = x - y
        loss = np.mean(diff * diff)
    dx = 2 * diff / x.size
    # END SOLUTION
    if not np.isfinite(loss):
        raise NpnetValueError(f"{fn}: the squared differences overflow {x.dtype} (largest |x - y| is "
                              f"{np.abs(diff).max():.3g}); rescale the data or use float64")
    return float(loss), dx
