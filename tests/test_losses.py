"""softmax_loss, svm_loss, bce_with_logits, mse: hand-computed values, naive references, numerical
gradients, stability and the NaN/Inf policy."""
import math

import numpy as np
import pytest

from gradcheck import eval_numerical_gradient, rel_error
from npnet import layers as L


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _numerical(loss_fn, x, *args):
    return eval_numerical_gradient(lambda v: loss_fn(v, *args)[0], x.copy(), verbose=False)


# ---------------------------------------------------------------- softmax

@pytest.mark.parametrize("c", [2, 10])
def test_softmax_uniform_scores(c):
    y = np.array([0, c - 1, 1])
    loss, dx = L.softmax_loss(np.full((3, c), 7.0), y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(math.log(c), rel=1e-14)
    expected = np.full((3, c), 1 / c)
    expected[np.arange(3), y] -= 1
    np.testing.assert_allclose(dx, expected / 3, rtol=1e-14)


def test_softmax_hand_computed():
    loss, dx = L.softmax_loss(np.array([[1.0, 2.0, 3.0]]), np.array([2]))
    z = math.e + math.e ** 2 + math.e ** 3
    assert loss == pytest.approx(math.log(z) - 3, rel=1e-14)
    np.testing.assert_allclose(dx, [[math.e / z, math.e ** 2 / z, math.e ** 3 / z - 1]], rtol=1e-14)


def test_softmax_numerical_and_naive(rng):
    x, y = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    loss, dx = L.softmax_loss(x, y)
    naive = -sum(math.log(math.exp(x[i, y[i]]) / sum(math.exp(v) for v in x[i])) for i in range(5)) / 5
    assert loss == pytest.approx(naive, rel=1e-13)
    assert rel_error(dx, _numerical(L.softmax_loss, x, y)) < 1e-7


def test_softmax_large_scores_stable():
    with np.errstate(all="raise"):
        loss, dx = L.softmax_loss(np.array([[1000.0, 0.0], [0.0, -1e4]]), np.array([1, 0]))
    assert loss == pytest.approx(500.0, rel=1e-15)
    np.testing.assert_allclose(dx, [[0.5, -0.5], [0.0, 0.0]], atol=1e-300)
    _, dx32 = L.softmax_loss(np.array([[100.0, 0.0]], dtype=np.float32), np.array([0]))
    assert dx32.dtype == np.float32


# ---------------------------------------------------------------- svm

def test_svm_hand_computed():
    loss, dx = L.svm_loss(np.array([[1.0, 2.0, 3.0], [3.0, 0.0, 0.5]]), np.array([0, 0]))
    # Row 0: margins 2 and 3; row 1: both negative.
    assert loss == pytest.approx(2.5, rel=1e-15)
    np.testing.assert_allclose(dx, [[-1.0, 0.5, 0.5], [0.0, 0.0, 0.0]], rtol=1e-15)


def test_svm_naive_and_numerical(rng):
    n, c = 6, 5
    x = 0.25 * rng.integers(-8, 9, (n, c)) + 0.1 * rng.uniform(-0.5, 0.5, (n, c))
    y = rng.integers(0, c, n)
    loss, dx = L.svm_loss(x, y)
    naive_loss, naive_dx = 0.0, np.zeros_like(x)
    for i in range(n):
        for j in range(c):
            if j != y[i] and x[i, j] - x[i, y[i]] + 1 > 0:
                naive_loss += x[i, j] - x[i, y[i]] + 1
                naive_dx[i, j] += 1
                naive_dx[i, y[i]] -= 1
    assert loss == pytest.approx(naive_loss / n, rel=1e-13)
    np.testing.assert_allclose(dx, naive_dx / n, rtol=1e-15)
    assert rel_error(dx, _numerical(L.svm_loss, x, y)) < 1e-8


# ---------------------------------------------------------------- bce

def test_bce_known_logits_and_exact_limits():
    x = np.array([0.0, 1e4, -1e4, 1e4, -1e4])
    y = np.array([0.3, 0.0, 1.0, 1.0, 0.0])
    with np.errstate(all="raise"):
        loss, dx = L.bce_with_logits(x, y)
    # Per element: log 2, 1e4, 1e4, 0, 0 (the exact limits of -y log s - (1-y) log(1-s)).
    assert loss == pytest.approx((math.log(2) + 2e4) / 5, rel=1e-15)
    np.testing.assert_allclose(dx, np.array([0.2, 1.0, -1.0, 0.0, 0.0]) / 5, rtol=1e-15, atol=1e-300)


def test_bce_against_direct_formula_and_numerical(rng):
    x, y = 2 * rng.standard_normal((3, 4)), rng.random((3, 4))
    loss, dx = L.bce_with_logits(x, y)
    s = 1 / (1 + np.exp(-x))
    assert loss == pytest.approx(np.mean(-(y * np.log(s) + (1 - y) * np.log(1 - s))), rel=1e-12)
    np.testing.assert_allclose(dx, (s - y) / 12, rtol=1e-12)
    assert rel_error(dx, _numerical(L.bce_with_logits, x, y)) < 1e-7


def test_bce_float32_large_logits():
    x = np.array([[88.0, -200.0]], dtype=np.float32)
    with np.errstate(all="raise"):
        loss, dx = L.bce_with_logits(x, np.array([[0.0, 0.0]], dtype=np.float32))
    assert dx.dtype == np.float32
    assert loss == pytest.approx(44.0, rel=1e-6)


# ---------------------------------------------------------------- mse

def test_mse_hand_computed(rng):
    loss, dx = L.mse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.0]))
    assert loss == pytest.approx(13 / 3, rel=1e-15)
    np.testing.assert_allclose(dx, [0.0, 4 / 3, 2.0], rtol=1e-15)
    x, y = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2))
    assert rel_error(L.mse(x, y)[1], _numerical(L.mse, x, y)) < 1e-8


def test_mse_overflow_raises():
    big = np.array([3e38], dtype=np.float32)
    with pytest.raises(ValueError, match="mse: the squared differences overflow float32"):
        L.mse(big, -big)


# ---------------------------------------------------------------- NaN/Inf policy and argument checks

LABELLED = [L.softmax_loss, L.svm_loss]
ELEMENTWISE = [L.bce_with_logits, L.mse]


@pytest.mark.parametrize("loss_fn", LABELLED)
def test_labelled_losses_reject_nonfinite(loss_fn):
    x = np.zeros((3, 4))
    x[0, 1], x[1, 2], x[2, 3] = np.nan, np.inf, -np.inf
    with pytest.raises(ValueError, match=f"{loss_fn.__name__}: x contains 3 NaN/Inf value\\(s\\) of 12"):
        loss_fn(x, np.array([0, 1, 2]))


@pytest.mark.parametrize("loss_fn", ELEMENTWISE)
@pytest.mark.parametrize("which", ["x", "y"])
def test_elementwise_losses_reject_nonfinite(loss_fn, which):
    x, y = np.zeros((2, 3)), np.full((2, 3), 0.5)
    (x if which == "x" else y)[0, :2] = np.nan
    with pytest.raises(ValueError, match=f"{loss_fn.__name__}: {which} contains 2 NaN/Inf value\\(s\\) of 6"):
        loss_fn(x, y)


@pytest.mark.parametrize("loss_fn", LABELLED)
def test_label_checks(loss_fn):
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=rf"{loss_fn.__name__}: y must lie in \[0, 3\); got values from 0 to 3"):
        loss_fn(x, np.array([0, 3]))
    with pytest.raises(TypeError, match=f"{loss_fn.__name__}: y must hold integer class labels"):
        loss_fn(x, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=rf"{loss_fn.__name__}: y must have shape \(2,\)"):
        loss_fn(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=rf"{loss_fn.__name__}: x must have 2 dims \(N, C\)"):
        loss_fn(np.zeros(3), np.array([0]))
    with pytest.raises(TypeError, match=f"{loss_fn.__name__}: x must be a floating-point array"):
        loss_fn(np.zeros((2, 3), dtype=int), np.array([0, 1]))
    with pytest.raises(ValueError, match=f"{loss_fn.__name__}: x is empty"):
        loss_fn(np.zeros((0, 3)), np.zeros(0, dtype=int))


@pytest.mark.parametrize("loss_fn", ELEMENTWISE)
def test_elementwise_argument_checks(loss_fn):
    name = loss_fn.__name__
    with pytest.raises(ValueError, match=rf"{name}: y must have the shape of x \(2, 3\); got \(3, 2\)"):
        loss_fn(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(TypeError, match=f"{name}: y must be a floating-point array"):
        loss_fn(np.zeros(2), np.array([0, 1]))
    with pytest.raises(ValueError, match=f"{name}: x is empty"):
        loss_fn(np.zeros(0), np.zeros(0))


def test_bce_target_range():
    with pytest.raises(ValueError, match=r"bce_with_logits: y must lie in \[0, 1\]; got values from -0.5 to 1.0"):
        L.bce_with_logits(np.zeros(2), np.array([-0.5, 1.0]))
