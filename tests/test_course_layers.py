"""Layer and group normalisation, and the CS231n-compatibility details of batch norm and dropout."""
import numpy as np
import pytest

from gradcheck import rel_error
from npnet import layers as L


def test_layernorm_normalises_each_sample_and_scales_per_feature():
    rng = np.random.default_rng(0)
    x = 5 + 3 * rng.standard_normal((4, 6))
    gamma, beta = rng.standard_normal(6), rng.standard_normal(6)
    out, _ = L.layernorm_forward(x, gamma, beta, {"eps": 1e-5})
    for i in range(4):  # naive reference, one sample at a time
        row = (x[i] - x[i].mean()) / np.sqrt(x[i].var() + 1e-5)
        assert rel_error(out[i], gamma * row + beta) < 1e-12
    # train and test are the same and the batch does not matter
    assert rel_error(L.layernorm_forward(x[:1], gamma, beta, {})[0], out[:1]) < 1e-14


def test_groupnorm_reference_and_its_limits():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 3, 2))
    gamma, beta = rng.standard_normal((1, 6, 1, 1)), rng.standard_normal((1, 6, 1, 1))
    out, cache = L.spatial_groupnorm_forward(x, gamma, beta, 3, {})
    ref = np.empty_like(x)
    for n in range(2):
        for g in range(3):
            block = x[n, 2 * g:2 * g + 2]
            ref[n, 2 * g:2 * g + 2] = (block - block.mean()) / np.sqrt(block.var() + 1e-5)
    assert rel_error(out, gamma * ref + beta) < 1e-12
    dx, dgamma, dbeta = L.spatial_groupnorm_backward(np.ones_like(x), cache)
    assert dgamma.shape == dbeta.shape == (1, 6, 1, 1)
    # G = C is instance norm; G = 1 is layer norm over (C, H, W)
    g1, b1 = gamma.ravel(), beta.ravel()
    assert rel_error(L.spatial_groupnorm_forward(x, g1, b1, 6, {})[0], L.instance_norm_forward(x, g1, b1)[0]) < 1e-12
    ln = L.layernorm_forward(x.reshape(2, -1), np.ones(36), np.zeros(36), {})[0].reshape(x.shape)
    assert rel_error(L.spatial_groupnorm_forward(x, np.ones(6), np.zeros(6), 1, {})[0], ln) < 1e-12


@pytest.mark.parametrize("call, match", [
    (lambda: L.spatial_groupnorm_forward(np.zeros((2, 6, 2, 2)), np.ones(6), np.zeros(6), 4, {}),
     "spatial_groupnorm_forward: G must divide the 6 channels of x; got G=4"),
    (lambda: L.layernorm_forward(np.zeros((2, 3, 4)), np.ones(3), np.zeros(3), {}),
     r"layernorm_forward: x must have 2 dims \(N, D\)"),
    (lambda: L.layernorm_forward(np.zeros((2, 3)), np.ones(3), np.zeros(3), {"eps": 0}),
     r"layernorm_forward: ln_param\['eps'\] must be a positive finite number"),
    (lambda: L.layernorm_forward(np.zeros((2, 3)), np.ones(3, bool), np.zeros(3), {}),
     "layernorm_forward: gamma must be a real-valued"),
])
def test_norm_argument_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_integer_gamma_beta_are_accepted_as_in_the_batchnorm_notebook():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((200, 3))
    gamma, beta = np.asarray([1, 2, 3]), np.asarray([11, 12, 13])
    out, _ = L.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert out.dtype == np.float64
    # the notebook's check: means ~ beta, stds ~ gamma
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-4)
    out32, _ = L.layernorm_forward(x.astype(np.float32), gamma, beta, {})
    assert out32.dtype == np.float32


def test_functional_batchnorm_starts_running_statistics_at_zeros():
    param = {"mode": "train", "momentum": 0.5}
    L.batchnorm_forward(np.array([[0.0], [2.0]]), np.ones(1), np.zeros(1), param)
    assert param["running_mean"].tolist() == [0.5] and param["running_var"].tolist() == [0.5]


def test_seeded_dropout_mask_is_cs231n_exactly_and_leaves_global_state():
    x = np.random.default_rng(3).standard_normal((50, 40))
    np.random.seed(99)
    before = np.random.get_state()[1].copy()
    out, _ = L.dropout_forward(x, {"mode": "train", "p": 0.3, "seed": 123})
    assert np.array_equal(np.random.get_state()[1], before)
    np.random.seed(123)
    expected = x * ((np.random.rand(*x.shape) < 0.3) / 0.3)
    assert np.array_equal(out, expected)
    # without a seed the mask comes from the global stream, so np.random.seed reproduces it too
    np.random.seed(5)
    a = L.dropout_forward(x, {"mode": "train", "p": 0.3})[0]
    np.random.seed(5)
    assert np.array_equal(a, L.dropout_forward(x, {"mode": "train", "p": 0.3})[0])
    with pytest.raises(ValueError, match=r"dropout_forward: dropout_param\['seed'\] must be an integer in \[0, 4294967296\)"):
        L.dropout_forward(x, {"mode": "train", "p": 0.3, "seed": 2**40})
