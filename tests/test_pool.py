"""Pooling: PyTorch output sizes (hand-computed table), fast == naive max pooling, tie routing, the fused
ReLU + max-pooling backward == the two backward passes, average-pooling divisors against a reference loop
and hand-computed values, argument errors."""
import numpy as np
import pytest

from npnet.layers import (RELU_MODES, avg_pool_backward, avg_pool_forward, global_avg_pool_backward,
                          global_avg_pool_forward, max_pool_backward, max_pool_backward_naive, max_pool_forward,
                          max_pool_forward_naive, relu_backward, relu_forward, relu_max_pool_backward, relu_mode)


def _pp(k, s, p=0, ceil=False, kw=None, **extra):
    return {"pool_height": k, "pool_width": k if kw is None else kw, "stride": s, "pad": p, "ceil_mode": ceil,
            **extra}


# (L, kernel, stride, pad, ceil_mode, expected output length), worked out by hand from
# floor_or_ceil((L + 2p - k) / s) + 1, minus one if ceil_mode's last window starts in the right padding.
SIZES = [
    (111, 3, 2, 0, True, 55),  # SqueezeNet 1.1: (111 - 3) / 2 = 54 exactly
    (55, 3, 2, 0, True, 27),
    (27, 3, 2, 0, True, 13),
    (112, 3, 2, 0, False, 55),  # floor(109 / 2) = 54
    (112, 3, 2, 0, True, 56),  # ceil(109 / 2) = 55
    (5, 2, 2, 0, False, 2),
    (5, 2, 2, 0, True, 3),
    (5, 2, 2, 1, True, 3),  # ceil(5 / 2) + 1 = 4, but window 3 would start at 6 - 1 = 5 = L: dropped
    (6, 2, 2, 1, True, 4),  # window 3 starts at 5 < L: kept
    (5, 3, 2, 1, True, 3),
    (7, 3, 3, 1, False, 3),
    (8, 3, 3, 0, True, 3),  # ceil(5 / 3) + 1 = 3, last window starts at 6 < 8
    (4, 3, 2, 0, True, 2),
    (3, 2, 2, 1, False, 2),
]


@pytest.mark.parametrize("L,k,s,p,ceil,expected", SIZES)
def test_output_sizes(L, k, s, p, ceil, expected):
    x = np.zeros((1, 1, L, 4))
    pp = _pp(k, s, p, ceil, kw=1 + 2 * p)  # keep the width valid for every pad
    for forward in (max_pool_forward, max_pool_forward_naive, avg_pool_forward):
        assert forward(x, pp)[0].shape[2] == expected, forward.__name__


MAX_CONFIGS = [
    ((2, 3, 8, 8), _pp(2, 2)),
    ((1, 2, 11, 11), _pp(3, 2, ceil=True)),
    ((2, 2, 9, 7), _pp(3, 2, 1, ceil=True)),
    ((1, 3, 10, 9), _pp(2, 3, 1, ceil=True, kw=3)),  # stride larger than the kernel
    ((2, 1, 8, 8), _pp(4, 3, 2, ceil=True)),
    ((1, 2, 7, 6), _pp(3, 3, 1)),
    ((1, 2, 5, 6), _pp(3, 1, 1, kw=2)),
]


@pytest.mark.parametrize("shape,pp", MAX_CONFIGS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool_fast_matches_naive(shape, pp, dtype):
    rng = np.random.default_rng(sum(shape))
    # Rounded values make ties common, so the tie rule is compared too.
    x = np.round(rng.standard_normal(shape), 1).astype(dtype)
    ref, ref_cache = max_pool_forward_naive(x, pp)
    out, cache = max_pool_forward(x, pp)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, ref)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = max_pool_backward(dout, cache)
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(dx, max_pool_backward_naive(dout, ref_cache), rtol=1e-6)
    # Every window routes its whole gradient to one input.
    np.testing.assert_allclose(dx.sum(), dout.sum(), rtol=1e-5)


@pytest.mark.parametrize("fwd,bwd", [(max_pool_forward, max_pool_backward),
                                     (max_pool_forward_naive, max_pool_backward_naive)])
def test_max_pool_ties_go_to_first_max(fwd, bwd):
    out, cache = fwd(np.zeros((1, 1, 4, 4)), _pp(3, 1))
    dx = bwd(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    want = np.zeros((4, 4))
    want[:2, :2] = [[1, 2], [3, 4]]  # each window's first element in row-major order
    np.testing.assert_array_equal(dx[0, 0], want)


@pytest.mark.parametrize("forward", [max_pool_forward, max_pool_forward_naive])
def test_max_pool_padding_is_minus_infinity(forward):
    x = -1.0 - np.arange(9.0).reshape(1, 1, 3, 3)
    out, _ = forward(x, _pp(2, 2, 1))
    np.testing.assert_array_equal(out[0, 0], [[-1, -2], [-4, -5]])


def test_max_pool_hand_computed():
    x = np.array([[1, 5, 2, 0], [3, 4, 8, 1], [0, 9, 6, 7]], dtype=float).reshape(1, 1, 3, 4)
    out, cache = max_pool_forward(x, _pp(2, 2, ceil=True))
    np.testing.assert_array_equal(out[0, 0], [[5, 8], [9, 7]])
    dx = max_pool_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    want = np.zeros((3, 4))
    want[0, 1], want[1, 2], want[2, 1], want[2, 3] = 1, 2, 3, 4
    np.testing.assert_array_equal(dx[0, 0], want)


@pytest.mark.parametrize("shape,pp", MAX_CONFIGS)
@pytest.mark.parametrize("mode", RELU_MODES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_max_pool_backward_equals_the_two_backward_passes(shape, pp, mode, dtype):
    rng = np.random.default_rng(sum(shape) + len(mode))
    # Mostly negative, rounded: many windows of the ReLU's output are all zeros (closed gates) or tie.
    x = np.round(rng.standard_normal(shape) - 1, 1).astype(dtype)
    relu_out, relu_cache = relu_forward(x)
    pooled, cache = max_pool_forward(relu_out, pp)
    dout = rng.standard_normal(pooled.shape).astype(dtype)
    dout.flat[0] = np.inf  # Inf * closed gate = NaN, in both versions
    with np.errstate(invalid="ignore"):  # Inf * 0
        want = relu_backward(max_pool_backward(dout, cache), relu_cache, mode)
    got = relu_max_pool_backward(dout, cache, pooled, mode)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    # The ReLU's gate changes this data: the comparison above could catch a missing gate.
    assert not np.array_equal(want, max_pool_backward(dout, cache), equal_nan=True)


def test_relu_max_pool_backward_follows_relu_mode_and_checks_its_arguments():
    x = np.array([[[[-1.0, 2.0], [0.5, -3.0]]]])
    pooled, cache = max_pool_forward(relu_forward(x)[0], _pp(2, 2))
    assert relu_max_pool_backward(np.array([[[[-4.0]]]]), cache, pooled)[0, 0, 0, 1] == -4
    with relu_mode("guided"):  # a negative gradient does not pass the guided gate
        assert not relu_max_pool_backward(np.array([[[[-4.0]]]]), cache, pooled).any()
    with pytest.raises(ValueError, match=r"relu_max_pool_backward: pooled must have the shape of the forward "
                                         r"output \(1, 1, 1, 1\); got \(1, 1, 2, 2\)"):
        relu_max_pool_backward(np.ones((1, 1, 1, 1)), cache, x)
    with pytest.raises(ValueError, match=r"relu_max_pool_backward: mode must be one of"):
        relu_max_pool_backward(np.ones((1, 1, 1, 1)), cache, pooled, mode="guide")
    _, no_argmax = max_pool_forward(x, _pp(2, 2), need_argmax=False)
    with pytest.raises(ValueError, match=r"relu_max_pool_backward: the forward pass ran with need_argmax=False"):
        relu_max_pool_backward(np.ones((1, 1, 1, 1)), no_argmax, pooled)


# --------------------------------------------------------------------------------------------------
# Average pooling
# --------------------------------------------------------------------------------------------------

def _avg_pool_loop(x, k, s, p, ceil, include):
    """PyTorch AvgPool2d written as loops: sum over the window clipped to the input, divided by the
    window clipped to the padded input (include) or to the input (exclude)."""
    Ho = max_pool_forward_naive(x, _pp(k, s, p, ceil))[0].shape[2]
    H = x.shape[2]
    out = np.zeros(x.shape[:2] + (Ho, Ho))
    for oh in range(Ho):
        for ow in range(Ho):
            h0, w0 = oh * s - p, ow * s - p
            h1, w1 = min(h0 + k, H + p), min(w0 + k, H + p)
            area = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, H)
            total = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3))
            out[:, :, oh, ow] = total / (area if include else (h1 - h0) * (w1 - w0))
    return out


@pytest.mark.parametrize("L,k,s,p,ceil", [(6, 2, 2, 0, False), (7, 3, 2, 1, True), (8, 3, 3, 1, True),
                                          (5, 2, 2, 1, True), (9, 4, 3, 2, True), (4, 3, 2, 0, True),
                                          (7, 2, 3, 1, False), (6, 3, 2, 1, True), (10, 3, 2, 1, True)])
@pytest.mark.parametrize("include", [True, False])
def test_avg_pool_matches_loop_and_is_linear(L, k, s, p, ceil, include):
    rng = np.random.default_rng(L * k + s)
    x = rng.standard_normal((2, 3, L, L))
    pp = _pp(k, s, p, ceil, count_include_pad=include)
    out, cache = avg_pool_forward(x, pp)
    np.testing.assert_allclose(out, _avg_pool_loop(x, k, s, p, ceil, include), atol=1e-12)
    # Average pooling is linear, so its backward pass is its adjoint.
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(np.vdot(out, dout), np.vdot(x, avg_pool_backward(dout, cache)), rtol=1e-12)


def test_avg_pool_hand_computed():
    ones = np.ones((1, 1, 3, 3))
    # k2 s2 p1: corner window covers 1 pixel + 3 padding, edge windows 2 + 2, the inner one 4.
    for ceil in (False, True):  # with ceil_mode the third window would start in the right padding
        out, _ = avg_pool_forward(ones, _pp(2, 2, 1, ceil))
        np.testing.assert_array_equal(out[0, 0], [[0.25, 0.5], [0.5, 1.0]])
        out, _ = avg_pool_forward(ones, _pp(2, 2, 1, ceil, count_include_pad=False))
        np.testing.assert_array_equal(out[0, 0], [[1.0, 1.0], [1.0, 1.0]])
    # k3 s2 p1 ceil on 6x6: per axis the windows [-1, 2), [1, 4), [3, 6), [5, 8) hold 2, 3, 3, 1 pixels,
    # and divisors 3, 3, 3, 2 (the padded input ends at 7), so each axis contributes 2/3, 1, 1, 1/2.
    out, _ = avg_pool_forward(np.ones((1, 1, 6, 6)), _pp(3, 2, 1, True))
    axis = np.array([2 / 3, 1, 1, 1 / 2])
    np.testing.assert_allclose(out[0, 0], np.outer(axis, axis), rtol=1e-15)
    # k3 s2 ceil on 4x4: the last window hangs over the edge (no padding) and is averaged over 2x2.
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    out, cache = avg_pool_forward(x, _pp(3, 2, ceil=True))
    np.testing.assert_array_equal(out[0, 0], [[5.0, 39 / 6], [11.0, 12.5]])
    dx = avg_pool_backward(np.array([[[[0.0, 0.0], [0.0, 4.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0, 2:, 2:], np.ones((2, 2)))
    assert dx.sum() == 4.0


def test_global_avg_pool():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    out, cache = global_avg_pool_forward(x)
    assert out.shape == (2, 3, 1, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, :, 0, 0], x.reshape(2, 3, -1).mean(axis=2), rtol=1e-6)
    dout = rng.standard_normal((2, 3, 1, 1))
    dx = global_avg_pool_backward(dout, cache)
    assert dx.shape == x.shape and dx.dtype == np.float32
    np.testing.assert_allclose(dx, np.broadcast_to(dout / 20, x.shape), rtol=1e-6)
    dx[0, 0, 0, 0] = 99.0  # a real array, not a read-only broadcast view
    with pytest.raises(ValueError, match=r"global_avg_pool_backward: dout must have the shape of the forward "
                                         r"output \(2, 3, 1, 1\); got \(2, 3\)"):
        global_avg_pool_backward(dout[:, :, 0, 0], cache)


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------

X = np.zeros((1, 2, 5, 5))


@pytest.mark.parametrize("forward", [max_pool_forward, max_pool_forward_naive, avg_pool_forward])
@pytest.mark.parametrize("x,pp,err,match", [
    (np.zeros((2, 5, 5)), _pp(2, 2), ValueError, r"x must have 4 dims \(N, C, H, W\); got shape \(2, 5, 5\)"),
    (X.astype(np.int64), _pp(2, 2), TypeError, r"x must be a floating-point array"),
    (X, _pp(2, 2, 2), ValueError, r"pool_param\['pad'\] must be at most half the 2x2 window; got 2"),
    (X, _pp(6, 1), ValueError, r"the 6x6 window is larger than the padded input 5x5"),
    (X, _pp(2, 0), ValueError, r"pool_param\['stride'\] must be a positive integer; got 0"),
    (X, {"pool_height": 2, "stride": 2}, ValueError, r"pool_param is missing key\(s\) \['pool_width'\]"),
    (X, {**_pp(2, 2), "padding": 1}, ValueError, r"unknown pool_param key\(s\) \['padding'\]"),
])
def test_pool_errors(forward, x, pp, err, match):
    with pytest.raises(err, match=forward.__name__ + ": " + match):
        forward(x, pp)


@pytest.mark.parametrize("fwd,bwd", [(max_pool_forward, max_pool_backward),
                                     (max_pool_forward_naive, max_pool_backward_naive),
                                     (avg_pool_forward, avg_pool_backward)])
def test_pool_backward_dout_shape(fwd, bwd):
    _, cache = fwd(X, _pp(2, 2))
    with pytest.raises(ValueError, match=bwd.__name__ + r": dout must have the shape of the forward output "
                                                        r"\(1, 2, 2, 2\); got \(1, 2, 3, 3\)"):
        bwd(np.zeros((1, 2, 3, 3)), cache)
