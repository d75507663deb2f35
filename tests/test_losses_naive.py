"""The naive (loop) softmax and SVM losses against the vectorised ones and a case worked by hand."""
import numpy as np
import pytest

from npnet.errors import NpnetValueError
from npnet.layers import softmax_loss, softmax_loss_naive, svm_loss, svm_loss_naive


@pytest.mark.parametrize("naive, fast", [(svm_loss_naive, svm_loss), (softmax_loss_naive, softmax_loss)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_naive_equals_vectorised(naive, fast, dtype):
    rng = np.random.default_rng(3)
    x, y = (3 * rng.standard_normal((7, 5))).astype(dtype), rng.integers(0, 5, 7)
    loss_n, dx_n = naive(x, y)
    loss_f, dx_f = fast(x, y)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert abs(loss_n - loss_f) <= tol * max(1, abs(loss_f))
    assert dx_n.dtype == dtype and np.abs(dx_n - dx_f).max() <= tol


def test_by_hand():
    x, y = np.array([[1.0, 2.0, 0.0]]), np.array([0])
    # SVM: margins 2 - 1 + 1 = 2 and 0 - 1 + 1 = 0 (a kink: subgradient 0)
    loss, dx = svm_loss_naive(x, y)
    assert loss == 2.0 and dx.tolist() == [[-1.0, 1.0, 0.0]]
    # softmax: -log(e / (e + e^2 + 1))
    e = np.exp([1.0, 2.0, 0.0])
    loss, dx = softmax_loss_naive(x, y)
    assert loss == pytest.approx(-np.log(e[0] / e.sum()), rel=1e-14)
    assert np.allclose(dx, [e / e.sum() - [1, 0, 0]], rtol=1e-14)


def test_huge_scores_do_not_overflow():
    loss, dx = softmax_loss_naive(np.array([[1e4, 0.0]]), np.array([1]))
    assert loss == 1e4 and np.isfinite(dx).all()


@pytest.mark.parametrize("naive", [svm_loss_naive, softmax_loss_naive])
def test_bad_labels_are_refused(naive):
    with pytest.raises(NpnetValueError, match=naive.__name__):
        naive(np.zeros((2, 3)), np.array([0, 3]))
