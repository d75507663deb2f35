"""Affine layer, activations (ReLU modes, leaky ReLU, sigmoid, tanh) and dropout."""
import threading

import numpy as np
import pytest
from scipy.special import expit

from gradcheck import eval_numerical_gradient_array, rel_error
from npnet import layers as L


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---------------------------------------------------------------- affine

def test_affine_forward_matches_loop(rng):
    x, w, b = rng.standard_normal((3, 2, 2, 3)), rng.standard_normal((12, 4)), rng.standard_normal(4)
    out, _ = L.affine_forward(x, w, b)
    expected = np.zeros((3, 4))
    for n in range(3):
        flat = [x[n, i, j, k] for i in range(2) for j in range(2) for k in range(3)]
        for m in range(4):
            expected[n, m] = sum(flat[d] * w[d, m] for d in range(12)) + b[m]
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_affine_backward_numerical(rng):
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    dout = rng.standard_normal((4, 3))
    dx, dw, db = L.affine_backward(dout, L.affine_forward(x, w, b)[1])
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: L.affine_forward(v, w, b)[0], x, dout)) < 1e-8
    assert rel_error(dw, eval_numerical_gradient_array(lambda v: L.affine_forward(x, v, b)[0], w, dout)) < 1e-8
    assert rel_error(db, eval_numerical_gradient_array(lambda v: L.affine_forward(x, w, v)[0], b, dout)) < 1e-8


def test_affine_backward_without_weight_gradients(rng):
    x, dout, w = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 5)), rng.standard_normal((6, 5))
    _, cache = L.affine_forward(x, w, np.zeros(5))
    dx, dw, db = L.affine_backward(dout, cache)
    np.testing.assert_allclose(dw, x.reshape(4, 6).T @ dout, rtol=1e-12)
    dx_frozen, dw_frozen, db_frozen = L.affine_backward(dout, cache, weight_grads=False)
    np.testing.assert_array_equal(dx_frozen, dx)
    assert dw_frozen is None and db_frozen is None
    with pytest.raises(TypeError, match="affine_backward: weight_grads must be True or False; got 'no'"):
        L.affine_backward(dout, cache, weight_grads="no")


def test_affine_dtype_follows_x(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    out, cache = L.affine_forward(x, rng.standard_normal((3, 2)), rng.standard_normal(2))
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in L.affine_backward(np.ones((2, 2)), cache))


def test_affine_errors(rng):
    x, w, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    with pytest.raises(ValueError, match=r"affine_forward: x must have at least 2 dims.*\(3,\)"):
        L.affine_forward(x[0], w, b)
    with pytest.raises(ValueError, match=r"affine_forward: w must have shape \(3, \*\); got \(4, 4\)"):
        L.affine_forward(x, np.zeros((4, 4)), b)
    with pytest.raises(ValueError, match=r"affine_forward: b must have shape \(4,\); got \(3,\)"):
        L.affine_forward(x, w, np.zeros(3))
    with pytest.raises(TypeError, match="affine_forward: x must be a floating-point array.*int64"):
        L.affine_forward(np.ones((2, 3), dtype=np.int64), w, b)
    cache = L.affine_forward(x, w, b)[1]
    with pytest.raises(ValueError, match=r"affine_backward: dout must have the shape.*\(2, 4\); got \(2, 3\)"):
        L.affine_backward(np.zeros((2, 3)), cache)


# ---------------------------------------------------------------- relu and its modes

# Truth table over the signs of (forward input, incoming gradient), zeros included. Rows: x = -1, 0, 1;
# columns: dout = -2, 0, 3 (distinct magnitudes show which value passes).
X = np.array([[-1.0] * 3, [0.0] * 3, [1.0] * 3])
D = np.array([[-2.0, 0.0, 3.0]] * 3)
TRUTH = {
    "standard": [[0, 0, 0], [0, 0, 0], [-2, 0, 3]],
    "guided": [[0, 0, 0], [0, 0, 0], [0, 0, 3]],
    "deconvnet": [[0, 0, 3], [0, 0, 3], [0, 0, 3]],
}


def _relu_dx(mode=None):
    return L.relu_backward(D, L.relu_forward(X)[1], mode=mode)


def test_relu_forward():
    out, _ = L.relu_forward(np.array([-2.0, 0.0, 1.5], dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [0, 0, 1.5])


def test_relu_modes_constant():
    assert L.RELU_MODES == ("standard", "guided", "deconvnet")
    assert set(TRUTH) == set(L.RELU_MODES)


@pytest.mark.parametrize("mode", list(TRUTH))
def test_relu_truth_table_per_call(mode):
    np.testing.assert_array_equal(_relu_dx(mode), TRUTH[mode])


@pytest.mark.parametrize("mode", list(TRUTH))
def test_relu_truth_table_context_manager(mode):
    with L.relu_mode(mode) as entered:
        assert entered == mode and L.get_relu_mode() == mode
        np.testing.assert_array_equal(_relu_dx(), TRUTH[mode])
    assert L.get_relu_mode() == "standard"
    np.testing.assert_array_equal(_relu_dx(), TRUTH["standard"])


def test_relu_explicit_mode_overrides_context():
    with L.relu_mode("guided"):
        np.testing.assert_array_equal(_relu_dx("deconvnet"), TRUTH["deconvnet"])


def test_relu_mode_nesting_and_exception():
    with L.relu_mode("guided"):
        with L.relu_mode("deconvnet"):
            np.testing.assert_array_equal(_relu_dx(), TRUTH["deconvnet"])
        np.testing.assert_array_equal(_relu_dx(), TRUTH["guided"])
        with pytest.raises(RuntimeError):
            with L.relu_mode("standard"):
                raise RuntimeError("boom")
        assert L.get_relu_mode() == "guided"
    assert L.get_relu_mode() == "standard"
    with pytest.raises(KeyError):
        with L.relu_mode("deconvnet"):
            raise KeyError("boom")
    np.testing.assert_array_equal(_relu_dx(), TRUTH["standard"])


def test_relu_mode_is_per_thread():
    seen = []
    with L.relu_mode("guided"):
        t = threading.Thread(target=lambda: seen.append(L.get_relu_mode()))
        t.start()
        t.join()
    assert seen == ["standard"]


def test_relu_unknown_mode():
    cache = L.relu_forward(X)[1]
    valid = "'standard', 'guided', 'deconvnet'"
    with pytest.raises(ValueError, match=f"relu_backward: mode must be one of {valid}; got 'gided'"):
        L.relu_backward(D, cache, mode="gided")
    with pytest.raises(ValueError, match="relu_mode: mode must be one of 'standard', 'guided', 'deconvnet'"):
        with L.relu_mode("Guided"):
            pass
    assert L.get_relu_mode() == "standard"


def test_relu_backward_does_not_hide_a_nan_gradient():
    dx = L.relu_backward(np.array([np.nan, 1.0, 2.0]), L.relu_forward(np.array([-1.0, 1.0, -2.0]))[1])
    assert np.isnan(dx[0]) and dx[1] == 1.0 and dx[2] == 0.0


def test_relu_backward_errors():
    cache = L.relu_forward(X)[1]
    with pytest.raises(ValueError, match=r"relu_backward: dout must have the shape.*\(3, 3\); got \(3,\)"):
        L.relu_backward(np.zeros(3), cache)
    with pytest.raises(TypeError, match="relu_forward: x must be a floating-point array"):
        L.relu_forward(np.array([1, -1]))


@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply")  # inf * 0 in NumPy
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("mode", list(TRUTH))
def test_relu_backward_from_output_equals_relu_backward_bit_for_bit(rng, dtype, mode):
    x = rng.standard_normal((3, 5, 7, 9)).astype(dtype)
    x.flat[::11] = 0  # exact zeros close the gate, as for relu_backward
    dout = rng.standard_normal(x.shape).astype(dtype)
    dout.flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
    x.flat[:4] = -1  # ... behind closed gates: NaN and Inf stay visible (times zero), -0.0 stays -0.0
    out, cache = L.relu_forward(x)
    expected = L.relu_backward(dout, cache, mode)
    got = L.relu_backward_from_output(dout, out, mode)
    assert got.dtype == dtype
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(expected))
    # strided views work, and the mode can come from the context manager
    with L.relu_mode(mode):
        assert np.array_equal(L.relu_backward_from_output(dout[:, ::2], out[:, ::2]), expected[:, ::2],
                              equal_nan=True)


def test_relu_backward_from_output_errors():
    out = L.relu_forward(X)[0]
    with pytest.raises(ValueError,
                       match=r"relu_backward_from_output: dout must have the shape.*\(3, 3\); got \(3,\)"):
        L.relu_backward_from_output(np.zeros(3), out)
    with pytest.raises(ValueError, match="relu_backward_from_output: mode must be one of"):
        L.relu_backward_from_output(D, out, mode="gided")
    with pytest.raises(TypeError, match="relu_backward_from_output: out must be a floating-point array"):
        L.relu_backward_from_output(D, np.ones((3, 3), int))


# ---------------------------------------------------------------- leaky relu

def test_leaky_relu_values():
    x = np.array([-2.0, 0.0, 3.0])
    out, cache = L.leaky_relu_forward(x, alpha=0.1)
    np.testing.assert_allclose(out, [-0.2, 0.0, 3.0], rtol=1e-15)
    np.testing.assert_allclose(L.leaky_relu_backward(np.array([5.0, 7.0, 11.0]), cache), [0.5, 0.7, 11.0],
                               rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("alpha", [0.01, 0.3, 1.7, -0.5])
def test_leaky_relu_compiled_path_equals_np_where(rng, dtype, alpha):
    """The one-pass loops give exactly the np.where formula: odd shapes, -0.0, NaN, Inf, large slopes,
    and strided views (which take the NumPy line)."""
    x = rng.standard_normal((3, 5, 7, 9)).astype(dtype)
    x.flat[:6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-30]
    dout = rng.standard_normal(x.shape).astype(dtype)
    dout.flat[7] = np.nan
    for xs, ds in ((x, dout), (x[:, ::2], dout[:, ::2]), (x[0, 0, 0], dout[0, 0, 0])):
        out, cache = L.leaky_relu_forward(xs, alpha)
        expected = np.where(xs > 0, xs, alpha * xs)
        assert out.dtype == expected.dtype == dtype
        np.testing.assert_array_equal(out, expected)
        assert np.array_equal(np.signbit(out), np.signbit(expected))
        dx = L.leaky_relu_backward(ds, cache)
        assert dx.dtype == dtype
        np.testing.assert_array_equal(dx, np.where(xs > 0, ds, alpha * ds))


def test_leaky_relu_float32_and_numerical(rng):
    out, _ = L.leaky_relu_forward(np.array([-1.0], dtype=np.float32), alpha=np.float64(0.2))
    assert out.dtype == np.float32
    x = rng.standard_normal((3, 4))
    x += np.sign(x) * 0.1
    dout = rng.standard_normal((3, 4))
    dx = L.leaky_relu_backward(dout, L.leaky_relu_forward(x, 0.05)[1])
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: L.leaky_relu_forward(v, 0.05)[0], x, dout)) < 1e-9


@pytest.mark.parametrize("alpha", [np.nan, "0.1", None, True])
def test_leaky_relu_bad_alpha(alpha):
    with pytest.raises(ValueError, match="leaky_relu_forward: alpha must be a finite number"):
        L.leaky_relu_forward(np.zeros(2), alpha=alpha)


# ---------------------------------------------------------------- sigmoid and tanh

def test_sigmoid_exact_float64():
    # Reference in extended precision (80-bit on x86; where long double is double the naive formula
    # is still within ~2 ulp over this range, since exp(-x) does not overflow before x = -709).
    x = np.concatenate([np.linspace(-708, 708, 20001), [-40.0, -1e-300, 0.0, 1e-300, 40.0]])
    ref = 1 / (1 + np.exp(-x.astype(np.longdouble)))
    ulps = np.abs(L.sigmoid(x) - ref) / np.spacing(ref.astype(np.float64))
    assert ulps.max() <= 4
    np.testing.assert_allclose(L.sigmoid(x), expit(x), rtol=5e-16, atol=0)
    assert L.sigmoid(np.array(0.0)) == 0.5
    # The left tail keeps full relative precision: sigmoid(-40) = exp(-40) / (1 + exp(-40)).
    assert L.sigmoid(np.array([-40.0]))[0] == pytest.approx(4.248354255291589e-18, rel=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_tanh_saturate_without_warnings(dtype):
    x = np.array([-1e4, -800.0, 800.0, 1e4], dtype=dtype)
    with np.errstate(all="raise"):
        s = L.sigmoid(x)
        t, _ = L.tanh_forward(x)
        s_out, s_cache = L.sigmoid_forward(x)
        ds = L.sigmoid_backward(np.ones_like(x), s_cache)
        dt = L.tanh_backward(np.ones_like(x), L.tanh_forward(x)[1])
    assert s.dtype == t.dtype == ds.dtype == dt.dtype == dtype
    np.testing.assert_array_equal(s, [0, 0, 1, 1])
    np.testing.assert_array_equal(s_out, s)
    np.testing.assert_array_equal(t, [-1, -1, 1, 1])
    np.testing.assert_array_equal(ds, 0)
    np.testing.assert_array_equal(dt, 0)


@pytest.mark.parametrize("forward, backward", [(L.sigmoid_forward, L.sigmoid_backward),
                                               (L.tanh_forward, L.tanh_backward)])
def test_sigmoid_tanh_backward_numerical(rng, forward, backward):
    x, dout = 2 * rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    dx = backward(dout, forward(x)[1])
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: forward(v)[0], x, dout)) < 1e-8


def test_tanh_values():
    x = np.array([-0.5, 0.0, 2.0])
    np.testing.assert_allclose(L.tanh_forward(x)[0], np.tanh(x), rtol=0)
    np.testing.assert_allclose(L.tanh_backward(np.ones(3), L.tanh_forward(x)[1]), 1 / np.cosh(x) ** 2,
                               rtol=1e-14)


def test_sigmoid_rejects_integers():
    with pytest.raises(TypeError, match="sigmoid: x must be a floating-point array"):
        L.sigmoid(np.arange(3))


# ---------------------------------------------------------------- dropout

def test_dropout_train_values_and_backward(rng):
    x = rng.standard_normal((200, 50)) + 3
    p = 0.3
    out, cache = L.dropout_forward(x, {"mode": "train", "p": p, "seed": 7})
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / p, rtol=1e-15)
    # 10000 Bernoulli(0.3) draws: the kept fraction is within 4 standard deviations (0.018) of p.
    assert abs(kept.mean() - p) < 4 * np.sqrt(p * (1 - p) / x.size)
    dout = rng.standard_normal(x.shape)
    dx = L.dropout_backward(dout, cache)
    np.testing.assert_allclose(dx, np.where(kept, dout / p, 0), rtol=1e-15)


def test_dropout_seed_reproducible(rng):
    x = rng.standard_normal((30, 30))
    a = L.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 1})[0]
    b = L.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 1})[0]
    c = L.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 2})[0]
    f32 = L.dropout_forward(x.astype(np.float32), {"mode": "train", "p": 0.5, "seed": 1})[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a != 0, c != 0)
    assert f32.dtype == np.float32
    np.testing.assert_array_equal(f32 != 0, a != 0)


def test_dropout_test_mode_and_keep_all(rng):
    x = rng.standard_normal((4, 5))
    out, cache = L.dropout_forward(x, {"mode": "test", "p": 0.2})
    np.testing.assert_array_equal(out, x)
    assert out is not x
    dout = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(L.dropout_backward(dout, cache), dout)
    np.testing.assert_array_equal(L.dropout_forward(x, {"mode": "train", "p": 1})[0], x)


@pytest.mark.parametrize("param, match", [
    ({"mode": "train", "p": 0.0}, r"dropout_param\['p'\] must be a finite number in \(0, 1\]; got 0.0"),
    ({"mode": "train", "p": 1.5}, r"dropout_param\['p'\].*got 1.5"),
    ({"mode": "train"}, r"dropout_param is missing key\(s\) \['p'\]"),
    ({"mode": "train", "p": 0.5, "sead": 1}, r"unknown dropout_param key\(s\) \['sead'\]"),
    ({"mode": "train", "p": "0.5"}, r"dropout_param\['p'\] must be a finite number in \(0, 1\]; got '0.5'"),
    ({"mode": "eval", "p": 0.5}, r"dropout_param\['mode'\] must be 'train' or 'test'; got 'eval'"),
    ({"mode": "train", "p": 0.5, "seed": -1}, r"dropout_param\['seed'\] must be an integer in \[0, 4294967296\) or None; got -1"),
])
def test_dropout_bad_params(param, match):
    with pytest.raises(ValueError, match="dropout_forward: " + match):
        L.dropout_forward(np.zeros(3), param)


def test_dropout_backward_shape_error():
    cache = L.dropout_forward(np.zeros((2, 3)), {"mode": "train", "p": 0.5, "seed": 0})[1]
    with pytest.raises(ValueError, match=r"dropout_backward: dout must have the shape.*\(2, 3\)"):
        L.dropout_backward(np.zeros((3, 2)), cache)
