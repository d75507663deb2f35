"""Convolution and transposed convolution: fast == naive loops, hand-computed values, the adjoint
identity, dtypes and argument errors. (Numerical gradients: gradcheck/cases_conv.py.)"""
import numpy as np
import pytest

from npnet.layers import (conv_backward, conv_backward_naive, conv_forward, conv_forward_naive,
                          conv_transpose_backward, conv_transpose_forward)

# (N, C, H, W, F, HH, WW, stride, pad)
CONFIGS = [
    (2, 3, 7, 7, 4, 3, 3, 1, 1),
    (1, 2, 8, 5, 3, 3, 3, 2, 1),
    (2, 3, 9, 10, 2, 2, 3, 3, 0),  # non-square kernel, stride 3
    (1, 1, 6, 7, 2, 2, 2, 3, 2),  # stride larger than the kernel, pad 2
    (3, 4, 5, 5, 6, 1, 1, 1, 0),  # 1x1 fast path
    (2, 4, 5, 6, 3, 1, 1, 2, 1),  # 1x1 but strided and padded: general path
    (1, 2, 4, 4, 2, 5, 5, 1, 2),  # kernel larger than the image, not than the padded image
    (2, 3, 11, 4, 5, 4, 2, 2, 2),
]


def _inputs(rng, N, C, H, W, F, HH, WW):
    return rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW)), rng.standard_normal(F)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_fast_matches_naive(cfg, backend, with_bias):
    rng = np.random.default_rng(sum(cfg))
    x, w, b = _inputs(rng, *cfg[:7])
    b = b if with_bias else None
    cp = {"stride": cfg[7], "pad": cfg[8]}
    ref, ref_cache = conv_forward_naive(x, w, b, cp)
    out, cache = conv_forward(x, w, b, cp, backend=backend)
    H, W, HH, WW, s, p = cfg[2], cfg[3], cfg[5], cfg[6], cfg[7], cfg[8]
    assert out.shape == (cfg[0], cfg[4], 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-10)
    dout = rng.standard_normal(out.shape)
    for got, want in zip(conv_backward(dout, cache), conv_backward_naive(dout, ref_cache)):
        if want is None:
            assert got is None and not with_bias
        else:
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_naive_hand_computed():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    out, _ = conv_forward_naive(x, np.ones((1, 1, 2, 2)), np.array([0.5]), {"stride": 1, "pad": 0})
    np.testing.assert_array_equal(out, [[[[8.5, 12.5], [20.5, 24.5]]]])
    # pad 1, stride 2 with a 2x2 kernel: each window holds one pixel of x in its bottom-right tap.
    w = np.array([[[[0.0, 0.0], [0.0, 2.0]]]])
    out, cache = conv_forward_naive(x, w, None, {"stride": 2, "pad": 1})
    np.testing.assert_array_equal(out, [[[[0.0, 4.0], [12.0, 16.0]]]])
    dx, dw, db = conv_backward_naive(np.ones((1, 1, 2, 2)), cache)
    np.testing.assert_array_equal(dx, [[[[2, 0, 2], [0, 0, 0], [2, 0, 2]]]])
    # Tap (1, 1) saw x[0,0] + x[0,2] + x[2,0] + x[2,2]; tap (0, 0) only x[1,1] (the rest was padding).
    np.testing.assert_array_equal(dw, [[[[4, 8], [8, 16]]]])
    assert db is None


def test_weight_grads_false_gives_same_dx():
    rng = np.random.default_rng(0)
    x, w, b = _inputs(rng, 2, 3, 6, 6, 4, 3, 3)
    out, cache = conv_forward(x, w, b, {"stride": 1, "pad": 1})
    dout = rng.standard_normal(out.shape)
    dx_full = conv_backward(dout, cache)[0]
    dx, dw, db = conv_backward(dout, cache, weight_grads=False)
    assert dw is None and db is None
    np.testing.assert_array_equal(dx, dx_full)


def test_float32_and_parameter_casting():
    rng = np.random.default_rng(1)
    x, w, b = _inputs(rng, 2, 3, 8, 8, 4, 3, 3)
    ref, _ = conv_forward(x, w, b, {"stride": 2, "pad": 1})
    out, cache = conv_forward(x.astype(np.float32), w, b, {"stride": 2, "pad": 1})  # float64 params are cast
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    grads = conv_backward(np.ones(out.shape), cache)  # float64 dout is cast too
    assert all(g.dtype == np.float32 for g in grads)


def test_non_contiguous_input():
    rng = np.random.default_rng(2)
    x, w, b = _inputs(rng, 2, 3, 10, 10, 2, 3, 3)
    view = x[:, :, ::2, 1::2]
    for w_ in (w, np.ones((2, 3, 1, 1))):
        ref, _ = conv_forward_naive(view, w_, b, {"stride": 1, "pad": 0})
        np.testing.assert_allclose(conv_forward(view, w_, b, {"stride": 1, "pad": 0})[0], ref, atol=1e-12)


# --------------------------------------------------------------------------------------------------
# Transposed convolution
# --------------------------------------------------------------------------------------------------

# (N, C, H, W, F, HH, WW, stride, pad): a convolution from C to F channels on H x W images, with
# (H + 2*pad - HH) % stride == (W + 2*pad - WW) % stride as output_padding is one number for both axes.
ADJOINT_CONFIGS = [
    (2, 3, 8, 10, 2, 3, 3, 2, 1),
    (1, 2, 9, 7, 3, 2, 3, 3, 0),
    (2, 2, 6, 6, 2, 2, 2, 3, 1),  # stride larger than the kernel
    (1, 3, 5, 5, 4, 1, 1, 1, 0),
    (2, 2, 11, 9, 3, 4, 4, 2, 2),
    (1, 1, 7, 7, 1, 3, 3, 1, 1),
]


@pytest.mark.parametrize("cfg", ADJOINT_CONFIGS)
def test_conv_transpose_is_adjoint_of_conv(cfg):
    rng = np.random.default_rng(sum(cfg))
    N, C, H, W, F, HH, WW, s, p = cfg
    x, w, _ = _inputs(rng, N, C, H, W, F, HH, WW)
    conv_out, _ = conv_forward(x, w, None, {"stride": s, "pad": p})
    y = rng.standard_normal(conv_out.shape)
    # output_padding recovers the rows that the convolution's floor division dropped.
    op = (H + 2 * p - HH) % s
    yt, _ = conv_transpose_forward(y, w, None, {"stride": s, "pad": p, "output_padding": op})
    assert yt.shape == x.shape
    np.testing.assert_allclose(np.vdot(conv_out, y), np.vdot(x, yt), rtol=1e-12)


def _conv_transpose_loop(x, w, b, stride, pad, output_padding):
    """Scatter every input pixel times the kernel into a canvas, then crop ``pad`` from each side."""
    N, _, H, W = x.shape
    _, F, HH, WW = w.shape
    full = np.zeros((N, F, (H - 1) * stride + HH + output_padding, (W - 1) * stride + WW + output_padding))
    for n in range(N):
        for h in range(H):
            for v in range(W):
                full[n, :, h * stride:h * stride + HH, v * stride:v * stride + WW] += \
                    np.einsum("c,cfij->fij", x[n, :, h, v], w)
    Ho = full.shape[2] - 2 * pad
    Wo = full.shape[3] - 2 * pad
    return full[:, :, pad:pad + Ho, pad:pad + Wo] + b[:, None, None]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("stride,pad,op,k", [(2, 1, 1, 3), (3, 0, 2, 2), (1, 0, 0, 1), (2, 0, 0, 4), (1, 2, 0, 3)])
def test_conv_transpose_matches_loop(backend, stride, pad, op, k):
    rng = np.random.default_rng(stride * 7 + pad)
    x = rng.standard_normal((2, 3, 4, 5))
    w = rng.standard_normal((3, 2, k, k))
    b = rng.standard_normal(2)
    out, cache = conv_transpose_forward(x, w, b, {"stride": stride, "pad": pad, "output_padding": op},
                                        backend=backend)
    assert out.shape == (2, 2, 3 * stride - 2 * pad + k + op, 4 * stride - 2 * pad + k + op)
    np.testing.assert_allclose(out, _conv_transpose_loop(x, w, b, stride, pad, op), atol=1e-12)
    # The input gradient of a transposed convolution is the ordinary convolution of dout.
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_transpose_backward(dout, cache)
    ref_dx, _ = conv_forward_naive(dout, w, None, {"stride": stride, "pad": pad})
    np.testing.assert_allclose(dx, ref_dx, atol=1e-12)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), atol=1e-12)
    assert dw.shape == w.shape


def test_conv_transpose_stride2_doubles_size():
    x = np.zeros((1, 1, 2, 2))
    x[0, 0, 1, 1] = 1.0
    out, _ = conv_transpose_forward(x, np.ones((1, 1, 3, 3)), None, {"stride": 2, "pad": 1, "output_padding": 1})
    want = np.zeros((4, 4))
    want[1:4, 1:4] = 1.0  # the 3x3 stamp of pixel (1, 1) lands at rows/cols 2-4 of the canvas, minus pad 1
    np.testing.assert_array_equal(out[0, 0], want)


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------

GOOD_X, GOOD_W = np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize("fn", [conv_forward, conv_forward_naive])
@pytest.mark.parametrize("x,w,b,cp,err,match", [
    (np.zeros((3, 5, 5)), GOOD_W, None, {}, ValueError, r"x must have 4 dims \(N, C, H, W\); got shape \(3, 5, 5\)"),
    (GOOD_X, np.zeros((4, 3, 3)), None, {}, ValueError, r"w must have 4 dims"),
    (GOOD_X, np.zeros((4, 2, 3, 3)), None, {}, ValueError,
     r"w must have shape \(F, 3, HH, WW\).*\(2, 3, 5, 5\).*\(4, 2, 3, 3\)"),
    (GOOD_X, np.zeros((4, 3, 6, 3)), None, {}, ValueError, r"kernel 6x3 .* larger than the padded input 5x5"),
    (GOOD_X, GOOD_W, None, {"stride": 0}, ValueError, r"conv_param\['stride'\] must be a positive integer; got 0"),
    (GOOD_X, GOOD_W, None, {"pad": -1}, ValueError, r"conv_param\['pad'\] must be a non-negative integer; got -1"),
    (GOOD_X, GOOD_W, None, {"padding": 1}, ValueError, r"unknown conv_param key\(s\) \['padding'\]"),
    (GOOD_X, GOOD_W, np.zeros(3), {}, ValueError, r"b must have shape \(4,\); got \(3,\)"),
    (np.zeros((2, 3, 5, 5), dtype=np.int64), GOOD_W, None, {}, TypeError, r"x must be a floating-point array"),
    (GOOD_X, np.zeros((4, 3, 3, 3), dtype=np.int32), None, {}, TypeError, r"w must be a floating-point array"),
])
def test_conv_errors(fn, x, w, b, cp, err, match):
    with pytest.raises(err, match=fn.__name__ + ": " + match):
        fn(x, w, b, cp)


def test_conv_backward_errors():
    _, cache = conv_forward(GOOD_X, GOOD_W, None, {"pad": 1})
    with pytest.raises(ValueError, match=r"conv_backward: dout must have the shape of the forward output "
                                         r"\(2, 4, 5, 5\); got \(2, 4, 3, 3\)"):
        conv_backward(np.zeros((2, 4, 3, 3)), cache)
    _, cache = conv_forward_naive(GOOD_X, GOOD_W, None, {"pad": 1})
    with pytest.raises(ValueError, match=r"conv_backward_naive: dout must have the shape"):
        conv_backward_naive(np.zeros((2, 4, 5)), cache)
    with pytest.raises(ValueError, match=r"conv_forward: backend must be one of"):
        conv_forward(GOOD_X, GOOD_W, None, {}, backend="torch")
    with pytest.raises(TypeError, match=r"conv_forward: x must be float32 or float64"):
        conv_forward(GOOD_X.astype(np.float16), GOOD_W, None, {})


@pytest.mark.parametrize("x,w,cp,match", [
    (GOOD_X, np.zeros((3, 2, 3, 3)), {"stride": 2, "output_padding": 2},
     r"conv_param\['output_padding'\] must be smaller than the stride 2; got 2"),
    (GOOD_X, np.zeros((3, 2, 3, 3)), {"output_padding": 1},
     r"conv_param\['output_padding'\] must be smaller than the stride 1; got 1"),
    (GOOD_X, np.zeros((2, 2, 3, 3)), {}, r"w must have shape \(3, C_out, HH, WW\).*got \(2, 2, 3, 3\)"),
    (np.zeros((1, 3, 1, 1)), np.zeros((3, 2, 1, 1)), {"pad": 1}, r"pad 1 crops the whole output"),
    (np.zeros((1, 3, 2)), np.zeros((3, 2, 1, 1)), {}, r"x must have 4 dims"),
])
def test_conv_transpose_errors(x, w, cp, match):
    with pytest.raises(ValueError, match="conv_transpose_forward: " + match):
        conv_transpose_forward(x, w, None, cp)


def test_conv_transpose_backward_dout_shape():
    _, cache = conv_transpose_forward(GOOD_X, np.zeros((3, 2, 3, 3)), None, {"stride": 2, "output_padding": 1})
    with pytest.raises(ValueError, match=r"conv_transpose_backward: dout must have the shape of the forward "
                                         r"output \(2, 2, 12, 12\)"):
        conv_transpose_backward(np.zeros((2, 2, 11, 11)), cache)
