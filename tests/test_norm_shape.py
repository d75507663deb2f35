"""Batch/spatial batch/instance normalisation, concatenation and pixel (un)shuffle."""
import numpy as np
import pytest

from gradcheck import eval_numerical_gradient_array, rel_error
from npnet import layers as L


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _staged_norm_backward(dout, x, gamma, eps, axis):
    """Reference backward through the computational graph, one node at a time (no closed form).

    ``gamma`` is already broadcastable against ``x``; statistics are taken over ``axis``.
    """
    m = np.prod([x.shape[a] for a in np.atleast_1d(axis)])
    mu = x.mean(axis=axis, keepdims=True)
    xc = x - mu
    var = (xc ** 2).mean(axis=axis, keepdims=True)
    std = np.sqrt(var + eps)
    xhat = xc / std
    dxhat = dout * gamma
    dstd = -(dxhat * xc).sum(axis=axis, keepdims=True) / std ** 2
    dvar = dstd / (2 * std)
    dxc = dxhat / std + 2 * xc * dvar / m
    dmu = -dxc.sum(axis=axis, keepdims=True)
    dx = dxc + dmu / m
    return dx, xhat


# ---------------------------------------------------------------- batchnorm

def test_batchnorm_forward_matches_loop(rng):
    x = 5 + 3 * rng.standard_normal((8, 3))
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    out, _ = L.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for d in range(3):
        col = x[:, d]
        mean = sum(col) / len(col)
        var = sum((v - mean) ** 2 for v in col) / len(col)
        np.testing.assert_allclose(out[:, d], gamma[d] * (col - mean) / np.sqrt(var + 1e-5) + beta[d], rtol=1e-12)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-5)


def test_batchnorm_backward_against_staged_and_numerical(rng):
    x = 2 + rng.standard_normal((6, 4))
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    dout = rng.standard_normal((6, 4))
    dx, dgamma, dbeta = L.batchnorm_backward(dout, L.batchnorm_forward(x, gamma, beta, {"mode": "train"})[1])
    ref_dx, xhat = _staged_norm_backward(dout, x, gamma, 1e-5, 0)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dgamma, (dout * xhat).sum(0), rtol=1e-12)
    np.testing.assert_allclose(dbeta, dout.sum(0), rtol=1e-12)
    f = lambda v: L.batchnorm_forward(v, gamma, beta, {"mode": "train"})[0]  # noqa: E731
    assert rel_error(dx, eval_numerical_gradient_array(f, x, dout)) < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spatial_batchnorm_equals_the_mean_var_formula_bit_for_bit(rng, dtype):
    """x centred once (variance from the centred values, then scaled in place) is exactly NumPy's
    ``x.mean``/``x.var`` formula, forward and backward (the gradient expression evaluated in order)."""
    x = (3 + 2 * rng.standard_normal((5, 4, 3, 7))).astype(dtype)
    gamma, beta, dout = (rng.standard_normal(4).astype(dtype), rng.standard_normal(4).astype(dtype),
                         rng.standard_normal(x.shape).astype(dtype))
    axes, eps = (0, 2, 3), 1e-5
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    param = {"mode": "train"}
    out, cache = L.spatial_batchnorm_forward(x, gamma, beta, param)
    np.testing.assert_array_equal(out, gamma[:, None, None] * xhat + beta[:, None, None])
    np.testing.assert_array_equal(param["running_var"], 0.9 * np.zeros(4, dtype) + (1 - 0.9) * var.reshape(4))
    dxhat = dout * gamma[:, None, None]
    expected = inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                          - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
    np.testing.assert_array_equal(L.spatial_batchnorm_backward(dout, cache)[0], expected)


def test_batchnorm_running_statistics_hand_computed():
    gamma, beta = np.array([2.0, 1.0]), np.array([0.5, 0.0])
    param = {"mode": "train"}
    # Batch 1: means (2, 4), biased variances (1, 4); starting from zeros (CS231n) with momentum 0.9.
    L.batchnorm_forward(np.array([[1.0, 2.0], [3.0, 6.0]]), gamma, beta, param)
    np.testing.assert_allclose(param["running_mean"], [0.2, 0.4], rtol=1e-15)
    np.testing.assert_allclose(param["running_var"], [0.1, 0.4], rtol=1e-15)
    # Batch 2: means (1, 1), variances (1, 1).
    L.batchnorm_forward(np.array([[0.0, 0.0], [2.0, 2.0]]), gamma, beta, param)
    np.testing.assert_allclose(param["running_mean"], [0.28, 0.46], rtol=1e-15)
    np.testing.assert_allclose(param["running_var"], [0.19, 0.46], rtol=1e-15)
    # Test mode uses them and leaves them alone.
    param["mode"] = "test"
    out, _ = L.batchnorm_forward(np.array([[1.28, 0.46]]), gamma, beta, param)
    np.testing.assert_allclose(out, [[2 * 1 / np.sqrt(0.19 + 1e-5) + 0.5, 0.0]], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(param["running_mean"], [0.28, 0.46], rtol=1e-15)


def test_batchnorm_custom_momentum_eps():
    param = {"mode": "train", "momentum": 0.5, "eps": 1e-3,
             "running_mean": np.array([1.0]), "running_var": np.array([3.0])}
    out, _ = L.batchnorm_forward(np.array([[0.0], [4.0]]), np.ones(1), np.zeros(1), param)
    np.testing.assert_allclose(param["running_mean"], [1.5], rtol=1e-15)
    np.testing.assert_allclose(param["running_var"], [3.5], rtol=1e-15)
    np.testing.assert_allclose(out, [[-2 / np.sqrt(4.001)], [2 / np.sqrt(4.001)]], rtol=1e-14)


def test_batchnorm_test_mode_backward(rng):
    param = {"mode": "test", "running_mean": rng.standard_normal(3), "running_var": 0.5 + rng.random(3)}
    x, gamma, beta = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(3)
    dout = rng.standard_normal((4, 3))
    dx, dgamma, dbeta = L.batchnorm_backward(dout, L.batchnorm_forward(x, gamma, beta, param)[1])
    inv_std = 1 / np.sqrt(param["running_var"] + 1e-5)
    np.testing.assert_allclose(dx, dout * gamma * inv_std, rtol=1e-14)
    np.testing.assert_allclose(dgamma, (dout * (x - param["running_mean"]) * inv_std).sum(0), rtol=1e-12)
    np.testing.assert_allclose(dbeta, dout.sum(0), rtol=1e-14)


def test_batchnorm_float32():
    param = {"mode": "train"}
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    out, cache = L.batchnorm_forward(x, np.ones(2), np.zeros(2), param)
    assert out.dtype == np.float32 and param["running_mean"].dtype == np.float32
    assert all(g.dtype == np.float32 for g in L.batchnorm_backward(np.ones((3, 2), np.float32), cache))


@pytest.mark.parametrize("x, gamma, param, exc, match", [
    (np.zeros((2, 3, 1)), np.ones(3), {"mode": "train"}, ValueError, r"x must have 2 dims \(N, D\)"),
    (np.zeros((2, 3), dtype=np.int32), np.ones(3), {"mode": "train"}, TypeError, "floating-point"),
    (np.zeros((2, 3)), np.ones(4), {"mode": "train"}, ValueError, r"gamma must have shape \(3,\); got \(4,\)"),
    (np.zeros((2, 3)), np.ones(3), {}, ValueError, r"bn_param is missing key\(s\) \['mode'\]"),
    (np.zeros((2, 3)), np.ones(3), {"mode": "train", "momentun": 0.1}, ValueError,
     r"unknown bn_param key\(s\) \['momentun'\]"),
    (np.zeros((2, 3)), np.ones(3), {"mode": "train", "momentum": 1.5}, ValueError, "momentum.*got 1.5"),
    (np.zeros((2, 3)), np.ones(3), {"mode": "train", "eps": 0}, ValueError, "eps.*positive"),
    (np.zeros((1, 3)), np.ones(3), {"mode": "train"}, ValueError, "more than 1 value per feature"),
    (np.zeros((2, 3)), np.ones(3), {"mode": "test", "running_mean": np.zeros(2)}, ValueError,
     r"running_mean'\] must have shape \(3,\)"),
])
def test_batchnorm_errors(x, gamma, param, exc, match):
    with pytest.raises(exc, match="batchnorm_forward: .*" + match):
        L.batchnorm_forward(x, gamma, np.zeros(3), param)


def test_batchnorm_backward_dout_mismatch():
    cache = L.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"mode": "train"})[1]
    with pytest.raises(ValueError, match=r"batchnorm_backward: dout must have the shape.*\(2, 3\); got \(3, 2\)"):
        L.batchnorm_backward(np.ones((3, 2)), cache)


# ---------------------------------------------------------------- spatial batchnorm

def test_spatial_batchnorm_matches_per_channel(rng):
    x = 3 + 2 * rng.standard_normal((2, 3, 4, 5))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    param = {"mode": "train"}
    out, cache = L.spatial_batchnorm_forward(x, gamma, beta, param)
    for c in range(3):
        plane = x[:, c]
        ref = gamma[c] * (plane - plane.mean()) / np.sqrt(plane.var() + 1e-5) + beta[c]
        np.testing.assert_allclose(out[:, c], ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(param["running_mean"], 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-12)
    dout = rng.standard_normal(x.shape)
    dx, dgamma, dbeta = L.spatial_batchnorm_backward(dout, cache)
    ref_dx, xhat = _staged_norm_backward(dout, x, gamma[:, None, None], 1e-5, (0, 2, 3))
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dgamma, (dout * xhat).sum((0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(dbeta, dout.sum((0, 2, 3)), rtol=1e-12)


def test_spatial_batchnorm_errors():
    with pytest.raises(ValueError, match=r"spatial_batchnorm_forward: x must have 4 dims \(N, C, H, W\)"):
        L.spatial_batchnorm_forward(np.zeros((2, 3)), np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match=r"spatial_batchnorm_forward: beta must have shape \(3,\)"):
        L.spatial_batchnorm_forward(np.zeros((2, 3, 2, 2)), np.ones(3), np.zeros(2), {"mode": "train"})
    cache = L.spatial_batchnorm_forward(np.ones((2, 3, 2, 2)), np.ones(3), np.zeros(3), {"mode": "train"})[1]
    with pytest.raises(ValueError, match="spatial_batchnorm_backward: dout must have the shape"):
        L.spatial_batchnorm_backward(np.ones((2, 3, 2)), cache)


# ---------------------------------------------------------------- instance norm

def test_instance_norm_forward_and_backward(rng):
    x = rng.standard_normal((2, 3, 3, 4)) * np.array([1.0, 5.0, 0.2])[:, None, None] + 2
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    out, cache = L.instance_norm_forward(x, gamma, beta)
    for n in range(2):
        for c in range(3):
            plane = x[n, c]
            ref = gamma[c] * (plane - plane.mean()) / np.sqrt(plane.var() + 1e-5) + beta[c]
            np.testing.assert_allclose(out[n, c], ref, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(x.shape)
    dx, dgamma, dbeta = L.instance_norm_backward(dout, cache)
    ref_dx, xhat = _staged_norm_backward(dout, x, gamma[:, None, None], 1e-5, (2, 3))
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dgamma, (dout * xhat).sum((0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(dbeta, dout.sum((0, 2, 3)), rtol=1e-12)
    f = lambda v: L.instance_norm_forward(v, gamma, beta)[0]  # noqa: E731
    assert rel_error(dx, eval_numerical_gradient_array(f, x, dout)) < 1e-5


def test_instance_norm_eps_and_float32():
    x = np.array([[[[0.0, 2.0]]]], dtype=np.float32)
    out, _ = L.instance_norm_forward(x, np.ones(1), np.zeros(1), eps=1.0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[[[-1 / np.sqrt(2), 1 / np.sqrt(2)]]]], rtol=1e-6)


def test_instance_norm_errors():
    with pytest.raises(ValueError, match="instance_norm_forward: needs more than 1 pixel"):
        L.instance_norm_forward(np.zeros((2, 3, 1, 1)), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="instance_norm_forward: eps must be a positive finite number"):
        L.instance_norm_forward(np.zeros((2, 3, 2, 2)), np.ones(3), np.zeros(3), eps=-1)
    with pytest.raises(ValueError, match=r"instance_norm_forward: gamma must have shape \(3,\)"):
        L.instance_norm_forward(np.zeros((2, 3, 2, 2)), np.ones((3, 1)), np.zeros(3))


# ---------------------------------------------------------------- concat

def test_concat_forward_backward(rng):
    xs = [rng.standard_normal((2, c, 3)) for c in (1, 4, 2)]
    out, cache = L.concat_forward(xs)
    assert out.shape == (2, 7, 3)
    np.testing.assert_array_equal(out[:, 0:1], xs[0])
    np.testing.assert_array_equal(out[:, 1:5], xs[1])
    np.testing.assert_array_equal(out[:, 5:7], xs[2])
    dout = rng.standard_normal(out.shape)
    dxs = L.concat_backward(dout, cache)
    assert [d.shape for d in dxs] == [x.shape for x in xs]
    np.testing.assert_array_equal(np.concatenate(dxs, axis=1), dout)


def test_concat_negative_axis_and_dtype():
    a, b = np.ones((2, 1), np.float32), np.zeros((2, 3))
    out, cache = L.concat_forward((a, b), axis=-1)
    assert out.dtype == np.float32 and out.shape == (2, 4)
    np.testing.assert_array_equal(out, [[1, 0, 0, 0]] * 2)
    da, db = L.concat_backward(np.arange(8.0).reshape(2, 4), cache)
    np.testing.assert_array_equal(da, [[0], [4]])
    np.testing.assert_array_equal(db, [[1, 2, 3], [5, 6, 7]])


def test_concat_errors():
    with pytest.raises(ValueError, match=r"concat_forward: xs\[1\].*must have shape \(2, \*, 3\); got \(3, 1, 3\)"):
        L.concat_forward([np.zeros((2, 1, 3)), np.zeros((3, 1, 3))])
    with pytest.raises(ValueError, match=r"concat_forward: xs\[1\].*got \(2, 1\)"):
        L.concat_forward([np.zeros((2, 1, 3)), np.zeros((2, 1))])
    with pytest.raises(ValueError, match="concat_forward: xs must be a non-empty list"):
        L.concat_forward([])
    with pytest.raises(ValueError, match=r"concat_forward: axis \(for 2-dim inputs\) must be an integer in \[-2, 2\)"):
        L.concat_forward([np.zeros((2, 2))], axis=2)
    with pytest.raises(TypeError, match=r"concat_forward: xs\[0\] must be a floating-point array"):
        L.concat_forward([np.zeros((2, 2), int)])
    cache = L.concat_forward([np.zeros((2, 2)), np.zeros((2, 1))])[1]
    with pytest.raises(ValueError, match=r"concat_backward: dout must have the shape.*\(2, 3\)"):
        L.concat_backward(np.zeros((2, 2)), cache)


# ---------------------------------------------------------------- pixel shuffle

def test_pixel_shuffle_hand_written():
    # C = 1, r = 2, H = 1, W = 2; channel k at column w holds 10*k + w.
    x = np.array([[[[0.0, 1.0]], [[10.0, 11.0]], [[20.0, 21.0]], [[30.0, 31.0]]]])
    out, _ = L.pixel_shuffle_forward(x, 2)
    np.testing.assert_array_equal(out, [[[[0, 10, 1, 11],
                                          [20, 30, 21, 31]]]])
    back, _ = L.pixel_unshuffle_forward(out, 2)
    np.testing.assert_array_equal(back, x)


def test_pixel_shuffle_ordering_rule(rng):
    n, c, r, h, w = 2, 2, 3, 2, 3
    x = rng.standard_normal((n, c * r * r, h, w))
    out, _ = L.pixel_shuffle_forward(x, r)
    assert out.shape == (n, c, h * r, w * r)
    for ci in range(c):
        for i in range(r):
            for j in range(r):
                for hh in range(h):
                    for ww in range(w):
                        src = x[:, ci * r * r + i * r + j, hh, ww]
                        assert out[:, ci, hh * r + i, ww * r + j].tolist() == src.tolist()


def test_pixel_shuffle_round_trips_and_backward(rng):
    x = rng.standard_normal((2, 12, 3, 2))
    out, cache = L.pixel_shuffle_forward(x, 2)
    np.testing.assert_array_equal(L.pixel_unshuffle_forward(out, 2)[0], x)
    y = rng.standard_normal((2, 3, 6, 4))
    y_down, cache_down = L.pixel_unshuffle_forward(y, 2)
    np.testing.assert_array_equal(L.pixel_shuffle_forward(y_down, 2)[0], y)
    # A permutation's backward is its inverse: <P x, g> == <x, P^T g>.
    g = rng.standard_normal(out.shape)
    dx = L.pixel_shuffle_backward(g, cache)
    assert dx.shape == x.shape
    assert np.isclose((out * g).sum(), (x * dx).sum(), rtol=1e-13)
    g_down = rng.standard_normal(y_down.shape)
    dy = L.pixel_unshuffle_backward(g_down, cache_down)
    assert np.isclose((y_down * g_down).sum(), (y * dy).sum(), rtol=1e-13)
    assert L.pixel_shuffle_forward(x.astype(np.float32), 2)[0].dtype == np.float32


def test_pixel_shuffle_errors():
    with pytest.raises(ValueError, match=r"pixel_shuffle_forward: the channel count must be divisible by.*= 4"):
        L.pixel_shuffle_forward(np.zeros((1, 6, 2, 2)), 2)
    with pytest.raises(ValueError, match="pixel_shuffle_forward: upscale_factor must be a positive integer; got 0"):
        L.pixel_shuffle_forward(np.zeros((1, 4, 2, 2)), 0)
    with pytest.raises(ValueError, match=r"pixel_shuffle_forward: x must have 4 dims"):
        L.pixel_shuffle_forward(np.zeros((4, 2, 2)), 2)
    with pytest.raises(ValueError, match="pixel_unshuffle_forward: height and width must be divisible"):
        L.pixel_unshuffle_forward(np.zeros((1, 1, 4, 3)), 2)
    with pytest.raises(ValueError, match="pixel_unshuffle_forward: downscale_factor must be a positive integer"):
        L.pixel_unshuffle_forward(np.zeros((1, 1, 4, 4)), 1.5)
    cache = L.pixel_shuffle_forward(np.zeros((1, 4, 2, 2)), 2)[1]
    with pytest.raises(ValueError, match=r"pixel_shuffle_backward: dout must have the shape.*\(1, 1, 4, 4\)"):
        L.pixel_shuffle_backward(np.zeros((1, 4, 2, 2)), cache)
