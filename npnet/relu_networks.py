"""What ReLU networks compute: threshold units, XOR, local linear pieces and counting linear regions.

The seed problem set's questions 1.3-4, as functions a student can run:

* a threshold unit ``1[w.x + b >= 0]`` computes AND and OR but not XOR, which is not linearly separable
  (``linearly_separable`` decides that with a linear program); two layers solve it;
* a ReLU network is piecewise affine: at each input x it computes ``w.x + b`` for the (w, b) of the
  piece x lies in (``local_linear``); the pieces are the sets of inputs with one on/off pattern of the
  ReLUs (``activation_pattern``);
* depth multiplies pieces: folding [0, 1] with ``|2x - 1|`` doubles them, so L folds of each of d
  coordinates give 2^(L*d) regions (Montufar et al. 2014, "On the Number of Linear Regions of Deep
  Neural Networks"); ``count_regions_line`` and ``count_regions_grid`` count them.

Networks are ``npnet.nn`` modules (``forward`` on an (N, D) batch, ``backward`` returning the input
gradient); the small constructors here build them in float64 with the weights written out.
"""
import numbers

import numpy as np
from scipy.optimize import linprog

from . import _check
from .errors import NpnetTypeError, NpnetValueError
from .nn import Linear, Module, ReLU, Sequential

__all__ = ["BOOLEAN_INPUTS", "AND_UNIT", "OR_UNIT", "threshold_unit", "linearly_separable", "xor_threshold_network",
           "xor_relu_network", "local_linear", "PROBLEM_SET_WEIGHTS", "problem_set_network", "activation_pattern",
           "count_regions_line", "count_regions_grid", "fold_network", "zigzag_network"]

BOOLEAN_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])  # the rows of a truth table
AND_UNIT = (np.array([1.0, 1.0]), -1.5)  # (w, b): on only when both inputs are 1
OR_UNIT = (np.array([1.0, 1.0]), -0.5)  # on when at least one input is 1

# Offset of the sample points inside each grid cell: irrational, so no sample lands exactly on the
# rational kinks of the networks below (a point on a kink has a pattern of its own, both units off).
_CELL_OFFSET = (3 - np.sqrt(5)) / 2

# The problem set's network (question 3), as the handout writes its weights.
PROBLEM_SET_WEIGHTS = {"W1": [[0.5], [0.5]], "b1": [0.0, 1.0], "W2": [[1.0, 1.0], [1.0, 1.0]], "b2": [0.0, 0.0],
                       "W3": [[1.0, 1.0]], "b3": [1.0]}


def threshold_unit(X, w, b):
    """A threshold unit (McCulloch & Pitts 1943; Rosenblatt's perceptron): ``1 if w.x + b >= 0 else 0``.

    Args:
        X: inputs (N, D); w: weights (D,); b: bias (a number).
    Returns:
        (N,) int array of 0/1.
    """
    fn = "threshold_unit"
    X = _check.float_array(fn, "X", X, 2, "(N, D)")
    w = _check.float_array(fn, "w", w, 1, "(D,)")
    _check.shape(fn, "w", w, (X.shape[1],))
    b = _check.number(fn, "b", b)
    # BEGIN SOLUTION
    return (X @ w + b >= 0).astype(int)
    # END SOLUTION


def linearly_separable(X, labels):
    """Decide whether one threshold unit can produce ``labels`` on ``X``, by a linear program.

    The labels are separable iff some (w, b) has ``w.x_i + b >= 1`` where label 1 and ``<= -1`` where
    label 0 (any strict separator can be scaled to this margin), a feasibility problem for
    ``scipy.optimize.linprog``.

    Args:
        X: inputs (N, D); labels: (N,) of 0/1.
    Returns:
        ``(True, w, b)`` with a separating unit (``threshold_unit(X, w, b) == labels``), or
        ``(False, None, None)``.
    """
    fn = "linearly_separable"
    X = _check.float_array(fn, "X", X, 2, "(N, D)")
    labels = _check.labels(fn, "labels", labels, X.shape[0], 2)
    sign = np.where(labels == 1, 1.0, -1.0)
    # BEGIN SOLUTION
    # variables (w, b); constraint -sign_i * (w.x_i + b) <= -1
    A = -sign[:, None] * np.hstack([X, np.ones((len(X), 1))])
    res = linprog(np.zeros(X.shape[1] + 1), A_ub=A, b_ub=-np.ones(len(X)), bounds=(None, None), method="highs")
    # END SOLUTION
    if res.status != 0:
        return False, None, None
    return True, res.x[:-1], float(res.x[-1])


def xor_threshold_network(X):
    """XOR with two layers of threshold units: ``1[OR(x) - AND(x) - 0.5 >= 0]``.

    Args:
        X: (N, 2) inputs in {0, 1}.
    Returns:
        (N,) int array of 0/1.
    """
    X = _check.float_array("xor_threshold_network", "X", X, 2, "(N, 2)")
    _check.shape("xor_threshold_network", "X", X, (None, 2))
    # BEGIN SOLUTION
    hidden = np.stack([threshold_unit(X, *OR_UNIT), threshold_unit(X, *AND_UNIT)], axis=1).astype(float)
    return threshold_unit(hidden, np.array([1.0, -1.0]), -0.5)
    # END SOLUTION


def _linear(w, b):
    w = np.asarray(w, dtype=np.float64)
    layer = Linear(w.shape[1], w.shape[0], dtype=np.float64)
    layer.params["weight"] = np.array(w, dtype=np.float64)
    layer.params["bias"] = np.array(b, dtype=np.float64)
    return layer


def xor_relu_network():
    """XOR as a ReLU network: ``relu(x1 + x2) - 2 relu(x1 + x2 - 1)`` (Goodfellow et al., "Deep
    Learning", section 6.1). Returns a float64 ``Sequential`` mapping (N, 2) to (N, 1)."""
    return Sequential(_linear([[1.0, 1.0], [1.0, 1.0]], [0.0, -1.0]), ReLU(), _linear([[1.0, -2.0]], [0.0]))


def problem_set_network():
    """The problem set's two-hidden-layer ReLU network, built from the handout's own weights:

    ``h(x) = W3 relu(W2 relu(W1 x + b1) + b2) + b3`` with ``W1 = [[0.5], [0.5]]``, ``b1 = [0, 1]``,
    ``W2 = [[1, 1], [1, 1]]``, ``b2 = [0, 0]``, ``W3 = [[1, 1]]``, ``b3 = 1``.

    Three affine pieces: ``1`` for x < -2 (every unit off: h(-3) = 1), ``x + 3`` for -2 < x < 0 (only the
    second first-layer unit on: h(-1) = 2, h(-0.5) = 2.5, both w = 1, b = 3) and ``2x + 3`` for x > 0
    (h(1) = 5, w = 2, b = 3). A float64 ``Sequential`` mapping (N, 1) to (N, 1).
    """
    return Sequential(_linear(PROBLEM_SET_WEIGHTS["W1"], PROBLEM_SET_WEIGHTS["b1"]), ReLU(),
                      _linear(PROBLEM_SET_WEIGHTS["W2"], PROBLEM_SET_WEIGHTS["b2"]), ReLU(),
                      _linear(PROBLEM_SET_WEIGHTS["W3"], PROBLEM_SET_WEIGHTS["b3"]))


def _check_model(fn, model):
    if not (isinstance(model, Module) and callable(getattr(model, "backward", None))):
        raise NpnetTypeError(f"{fn}: model must be an npnet.nn Module with forward and backward; "
                        f"got {type(model).__name__}")


def local_linear(model, x):
    """The affine piece ``f(z) = w.z + b`` a ReLU network computes around the input ``x``.

    Between kinks every ReLU is fixed on or off, so the network is an affine map there; its matrix is
    the Jacobian at x (one backward pass per output) and ``b = f(x) - w.x``.

    Args:
        model: a piecewise-linear network (Linear / Conv2d / ReLU / max pool...) mapping a batch
            (1, *x.shape) to (1, M) (or (1, M, 1, 1)).
        x: one input, without the batch axis, e.g. (D,).
    Returns:
        (w, b): for M = 1, w shaped like x and b a float; otherwise w (M, *x.shape) and b (M,).
    """
    fn = "local_linear"
    _check_model(fn, model)
    x = _check.float_array(fn, "x", x)
    if x.ndim == 0:
        x = x.reshape(1)
    _check.finite(fn, "x", x)
    out = model.forward(x[None])
    m = out[0].size
    # BEGIN SOLUTION
    rows = []
    for k in range(m):
        onehot = np.zeros_like(out).reshape(1, m)
        onehot[0, k] = 1
        rows.append(model.backward(onehot.reshape(out.shape))[0])
    w = np.stack(rows)
    b = out.reshape(m) - w.reshape(m, -1) @ x.ravel()
    # END SOLUTION
    return (w[0], float(b[0])) if m == 1 else (w, b)


def activation_pattern(model, X):
    """The on/off pattern of every ReLU of ``model`` for each input: which pre-activations are > 0.

    Args:
        model: an npnet.nn Module containing ReLU modules (at any depth).
        X: a batch of inputs (N, ...).
    Returns:
        (N, U) bool, U the number of ReLU units, in the modules' order.
    """
    fn = "activation_pattern"
    _check_model(fn, model)
    X = _check.float_array(fn, "X", X)
    relus = [m for _, m in model.named_modules() if isinstance(m, ReLU)]
    if not relus:
        raise NpnetValueError(f"{fn}: model {type(model).__name__} contains no ReLU module, so it has no pattern")
    model.forward(X)
    # a ReLU's cache is its forward input, the pre-activation
    return np.concatenate([r.cache.reshape(len(X), -1) > 0 for r in relus], axis=1)


def _point(fn, name, p, dim=None):
    if isinstance(p, (list, tuple, numbers.Real, np.ndarray)) and not isinstance(p, bool):
        p = np.asarray(p)
        if np.issubdtype(p.dtype, np.integer):  # a point such as [0, 1] is fine as integers
            p = p.astype(np.float64)
    p = np.atleast_1d(_check.float_array(fn, name, p)).astype(np.float64)
    if p.ndim != 1 or (dim is not None and p.shape != (dim,)):
        raise NpnetValueError(f"{fn}: {name} must be a point {('(' + str(dim) + ',)') if dim else '(D,)'}; "
                         f"got shape {p.shape}")
    _check.finite(fn, name, p)
    return p


def _count_changes(patterns):
    return int(np.any(patterns[1:] != patterns[:-1], axis=1).sum())


def count_regions_line(model, start, end, num=10001):
    """Number of linear regions (activation patterns) the segment from ``start`` to ``end`` crosses.

    The segment is sampled at ``num`` points, one inside each of ``num`` equal cells; the count is
    1 + the number of pattern changes between consecutive samples. It is exact when every region
    the segment crosses is longer than one cell; smaller regions can be missed (never invented).

    Args:
        model: ReLU network on (N, D) batches; start, end: (D,) points (a number when D = 1).
        num: samples, >= 2.
    Returns:
        int.
    """
    fn = "count_regions_line"
    start = _point(fn, "start", start)
    end = _point(fn, "end", end, len(start))
    num = _check.positive_int(fn, "num", num)
    if num < 2:
        raise NpnetValueError(f"{fn}: num must be at least 2 samples; got {num}")
    t = (np.arange(num) + _CELL_OFFSET) / num
    X = start + t[:, None] * (end - start)
    # BEGIN SOLUTION
    return 1 + _count_changes(activation_pattern(model, X))
    # END SOLUTION


def count_regions_grid(model, origin, u, v, num=101, return_labels=False):
    """Number of linear regions met by the square ``origin + s u + t v``, s, t in [0, 1].

    For a fixed activation pattern every pre-activation is affine in the input, so the inputs with that
    pattern are a convex polytope: one region per distinct pattern. The square is sampled at
    num x num points (one inside each cell); regions smaller than a cell can be missed.

    Args:
        model: ReLU network on (N, D) batches; origin, u, v: (D,) points/directions.
        num: samples per side, >= 2.
        return_labels: also return a (num, num) int map of region labels (rows: t, columns: s).
    Returns:
        int (and the label map).
    """
    fn = "count_regions_grid"
    origin = _point(fn, "origin", origin)
    u, v = _point(fn, "u", u, len(origin)), _point(fn, "v", v, len(origin))
    num = _check.positive_int(fn, "num", num)
    if num < 2:
        raise NpnetValueError(f"{fn}: num must be at least 2 samples per side; got {num}")
    s = (np.arange(num) + _CELL_OFFSET) / num
    S, T = np.meshgrid(s, s)
    X = origin + S.reshape(-1, 1) * u + T.reshape(-1, 1) * v
    # BEGIN SOLUTION
    _, labels = np.unique(activation_pattern(model, X), axis=0, return_inverse=True)
    # END SOLUTION
    labels = labels.reshape(num, num)
    count = int(labels.max()) + 1
    return (count, labels) if return_labels else count


def _fold(dim):
    """One layer mapping [0, 1]^dim onto itself with x_i -> |2 x_i - 1| = relu(2x_i - 1) + relu(1 - 2x_i)."""
    eye = np.eye(dim)
    w1 = np.concatenate([2 * eye, -2 * eye])
    return [_linear(w1, np.concatenate([-np.ones(dim), np.ones(dim)])), ReLU(),
            _linear(np.hstack([eye, eye]), np.zeros(dim))]


def fold_network(dim, depth):
    """``depth`` layers, each folding every coordinate of [0, 1]^dim with ``x -> |2x - 1|``.

    One fold splits [0, 1] into 2 pieces, each mapped onto all of [0, 1], so the next fold splits each
    piece again: 2^depth pieces per coordinate and 2^(depth * dim) regions of [0, 1]^dim
    (Montufar et al. 2014). A float64 ``Sequential`` mapping (N, dim) to (N, dim).
    """
    fn = "fold_network"
    dim = _check.positive_int(fn, "dim", dim)
    depth = _check.positive_int(fn, "depth", depth)
    return Sequential(*[layer for _ in range(depth) for layer in _fold(dim)])


def _zigzag(n):
    """One hidden layer of n ReLUs whose output zig-zags n times across [0, 1] on [0, 1]:
    ``n relu(x) + 2n sum_{k=1}^{n-1} (-1)^k relu(x - k/n)`` (slope +n, -n, +n, ...)."""
    k = np.arange(n)
    out = np.where(k == 0, n, 2.0 * n * (-1.0) ** k)
    return [_linear(np.ones((n, 1)), -k / n), ReLU(), _linear(out[None, :], [0.0])]


def zigzag_network(pieces):
    """Composition of one-input zig-zag layers; layer l has ``pieces[l]`` linear pieces, each mapped
    onto [0, 1]. Composing f after g multiplies the counts (n_f * n_g), so the network has
    ``prod(pieces)`` pieces on [0, 1]. A float64 ``Sequential`` mapping (N, 1) to (N, 1).
    """
    fn = "zigzag_network"
    if isinstance(pieces, numbers.Integral):
        pieces = [pieces]
    if not isinstance(pieces, (list, tuple)) or not pieces:
        raise NpnetValueError(f"{fn}: pieces must be a non-empty list of positive integers; got {pieces!r}")
    return Sequential(*[layer for n in pieces for layer in _zigzag(_check.positive_int(fn, "pieces", n))])
