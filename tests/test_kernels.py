"""The fast paths of issue 14 against the naive versions: the kernels split between threads equal the
single-thread results, one matrix product for the batch equals one per image, the fused bias + ReLU
equals the separate layers, max-only pooling equals pooling with argmax, and the small argmax offsets
(uint8 up to 16x16 windows, wider types beyond) route gradients like the naive loops."""
import numpy as np
import pytest

from npnet import kernels
from npnet.errors import NpnetTypeError, NpnetValueError
from npnet.layers import (conv_backward, conv_backward_naive, conv_forward, conv_forward_naive,
                          conv_transpose_backward, conv_transpose_forward, max_pool_backward,
                          max_pool_backward_naive, max_pool_forward, max_pool_forward_naive, relu_backward,
                          relu_forward)
from npnet.layers import conv as conv_module
from npnet.layers.pool import _offset_dtype

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-6, atol=1e-5)}

# (N, C, H, W, F, HH, WW, stride, pad): odd sizes, padding, strides, 1x1, N = 1 and N > 1.
CONVS = [
    (1, 3, 9, 7, 4, 3, 3, 1, 1),
    (3, 2, 8, 11, 5, 3, 3, 2, 1),
    (2, 4, 7, 7, 3, 1, 1, 1, 0),
    (5, 1, 13, 10, 2, 5, 5, 2, 2),
    (2, 3, 6, 5, 2, 2, 3, 3, 0),
]


@pytest.fixture
def split_everything(monkeypatch):
    """Split every kernel call between 3 threads, however small (the default waits for big calls)."""
    monkeypatch.setattr(kernels, "MIN_SPLIT", 1)
    before = kernels.get_num_threads()
    kernels.set_num_threads(3)
    yield
    kernels.set_num_threads(before)


def _conv_all(x, w, b, cp, dout, relu=False):
    out, cache = conv_forward(x, w, b, cp, relu=relu)
    return (out,) + conv_backward(dout, cache)


def _assert_all_close(got, want, dtype):
    for g, r in zip(got, want):
        if r is None:
            assert g is None
        else:
            assert g.dtype == dtype
            np.testing.assert_allclose(g, r, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", CONVS)
def test_split_between_threads_equals_one_thread(cfg, dtype, monkeypatch):
    rng = np.random.default_rng(sum(cfg))
    N, C, H, W, F, HH, WW, s, p = cfg
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, HH, WW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    cp = {"stride": s, "pad": p}
    Ho, Wo = 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s
    dout = rng.standard_normal((N, F, Ho, Wo)).astype(dtype)
    pp = {"pool_height": 3, "pool_width": 2, "stride": 2, "pad": 1, "ceil_mode": True}
    pool_dout = rng.standard_normal(max_pool_forward(x, pp)[0].shape).astype(dtype)

    def everything():
        out, cache = max_pool_forward(x, pp)
        convt = conv_transpose_forward(dout, w, b[:1].repeat(C), {"stride": s, "pad": p})
        return (_conv_all(x, w, b, cp, dout, relu=True) + _conv_all(x, w, None, cp, dout)
                + (out, max_pool_backward(pool_dout, cache), max_pool_forward(x, pp, need_argmax=False)[0])
                + (convt[0],) + conv_transpose_backward(rng_dout(convt[0]), convt[1]))

    rng_dout = lambda a: np.linspace(-1, 1, a.size, dtype=dtype).reshape(a.shape)  # noqa: E731
    serial = everything()
    monkeypatch.setattr(kernels, "MIN_SPLIT", 1)
    before = kernels.get_num_threads()
    kernels.set_num_threads(3)
    try:
        split = everything()
    finally:
        kernels.set_num_threads(before)
    for a, b_ in zip(split, serial):
        if b_ is None:
            assert a is None
        else:  # every output element is computed by one thread in the same order: bit-identical
            np.testing.assert_array_equal(a, b_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", CONVS)
@pytest.mark.parametrize("one_product", [True, False])
def test_one_product_or_per_image_equals_naive(cfg, dtype, one_product, monkeypatch):
    monkeypatch.setattr(conv_module, "BATCH_GEMM_MAX_PIXELS", 10 ** 9 if one_product else 0)
    rng = np.random.default_rng(sum(cfg) + 1)
    N, C, H, W, F, HH, WW, s, p = cfg
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW)), rng.standard_normal(F)
    cp = {"stride": s, "pad": p}
    ref, ref_cache = conv_forward_naive(x, w, b, cp)
    dout = rng.standard_normal(ref.shape)
    want = (ref,) + conv_backward_naive(dout, ref_cache)
    got = _conv_all(x.astype(dtype), w.astype(dtype), b.astype(dtype), cp, dout.astype(dtype))
    _assert_all_close(got, [a.astype(dtype) for a in want], dtype)
    # The transposed convolution is the adjoint: <conv(x), dout> == <x, conv_transpose(dout)>.
    if (H + 2 * p - HH) % s == (W + 2 * p - WW) % s:
        op = (H + 2 * p - HH) % s
        y, cache = conv_transpose_forward(dout, w, None, {"stride": s, "pad": p, "output_padding": op})
        assert y.shape == x.shape
        np.testing.assert_allclose(np.vdot(conv_forward_naive(x, w, None, cp)[0], dout), np.vdot(x, y), rtol=1e-10)
        ddout, dw, _ = conv_transpose_backward(x, cache)
        np.testing.assert_allclose(ddout, conv_forward_naive(x, w, None, cp)[0], rtol=1e-10, atol=1e-10)
        # d<x, convT(dout; w)>/dw == d<conv(x; w), dout>/dw: the naive convolution's weight gradient.
        np.testing.assert_allclose(dw, conv_backward_naive(dout, conv_forward_naive(x, w, None, cp)[1])[1],
                                   rtol=1e-10, atol=1e-10)


# More images than one im2col block (kernels.IM2COL_BLOCK = 32) with the last block partial, unpadded
# stride 1 (whole window rows copied), padded, strided, and the CONVS cases.
IM2COL_CASES = CONVS + [(35, 3, 6, 7, 2, 3, 2, 1, 0), (33, 2, 5, 6, 3, 3, 3, 1, 1), (65, 2, 9, 9, 1, 4, 4, 2, 1)]


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("cfg", IM2COL_CASES)
def test_im2col_kernel_equals_numpy_windows(cfg, split, request):
    N, C, H, W, F, HH, WW, s, p = cfg
    x = np.random.default_rng(N * H).standard_normal((N, C, H, W)).astype(np.float32)
    Ho, Wo = 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s
    want = conv_module._im2col(x, HH, WW, s, p, Ho, Wo, "numpy")
    if split:
        request.getfixturevalue("split_everything")
    got = conv_module._im2col(x, HH, WW, s, p, Ho, Wo, "numba")
    np.testing.assert_array_equal(got, want)  # a copy with zeros for padding: exact


@pytest.mark.parametrize("images_per_chunk", [1, 2])
@pytest.mark.parametrize("cfg", IM2COL_CASES)
def test_scatter_in_chunks_of_images_equals_one_piece(cfg, images_per_chunk, monkeypatch):
    """conv_backward's dx, conv_transpose_forward and a conv_forward that keeps no columns work chunk
    by chunk when the columns are big (COLUMN_CHUNK_BYTES); here every batch is chunked, the last
    chunk partial."""
    N, C, H, W, F, HH, WW, s, p = cfg
    rng = np.random.default_rng(N + F)
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW))
    cp = {"stride": s, "pad": p}
    out, cache = conv_forward(x, w, None, cp)
    dout = rng.standard_normal(out.shape)
    want_dx = conv_backward_naive(dout, conv_forward_naive(x, w, None, cp)[1])[0]
    want_t = conv_transpose_forward(dout, w, None, cp)[0]
    monkeypatch.setattr(conv_module, "COLUMN_CHUNK_BYTES", images_per_chunk * C * HH * WW * out[0, 0].size * 8)
    np.testing.assert_allclose(conv_backward(dout, cache)[0], want_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv_transpose_forward(dout, w, None, cp)[0], want_t, rtol=1e-12, atol=1e-12)
    b = rng.standard_normal(F)
    want = np.maximum(conv_forward_naive(x, w, b, cp)[0], 0)
    for backend in ("numba", "numpy"):
        frozen, cache = conv_forward(x, w, b, cp, relu=True, weight_grads=False, backend=backend)
        np.testing.assert_allclose(frozen, want, rtol=1e-12, atol=1e-12)
        # the ReLU mask it keeps gates the input gradient
        np.testing.assert_allclose(conv_backward(dout, cache, weight_grads=False)[0],
                                   conv_backward_naive(dout * (want > 0), conv_forward_naive(x, w, b, cp)[1])[0],
                                   rtol=1e-12, atol=1e-12)
        big = np.full((N, F + 2) + want.shape[2:], 7.0)
        conv_forward(x, w, b, cp, relu=True, weight_grads=False, out=big[:, 1:F + 1], backend=backend)
        np.testing.assert_allclose(big[:, 1:F + 1], want, rtol=1e-12, atol=1e-12)
        assert (big[:, 0] == 7).all() and (big[:, F + 1] == 7).all()


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("cfg", CONVS[:3])
def test_fused_bias_relu_equals_conv_then_relu(cfg, backend):
    rng = np.random.default_rng(7)
    N, C, H, W, F, HH, WW, s, p = cfg
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW)), rng.standard_normal(F)
    cp = {"stride": s, "pad": p}
    a, conv_cache = conv_forward(x, w, b, cp, backend=backend)
    ref, relu_cache = relu_forward(a)
    out, cache = conv_forward(x, w, b, cp, backend=backend, relu=True)
    np.testing.assert_array_equal(out, ref)
    assert (out > 0).any() and (out == 0).any()
    dout = rng.standard_normal(out.shape)
    want = conv_backward(relu_backward(dout, relu_cache), conv_cache)
    for g, r in zip(conv_backward(dout, cache), want):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)
    # Without a bias the ReLU still applies; NaN passes through as with np.maximum.
    x[0, 0, 0, 0] = np.nan
    out, _ = conv_forward(x, w, None, cp, backend=backend, relu=True)
    np.testing.assert_array_equal(out, np.maximum(conv_forward(x, w, None, cp, backend=backend)[0], 0))
    assert np.isnan(out).any()


def test_forward_without_columns_gives_dx_only():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    cp = {"stride": 1, "pad": 1}
    out, cache = conv_forward(x, w, None, cp)
    out2, light = conv_forward(x, w, None, cp, weight_grads=False)
    assert light[3] is None  # the columns are not kept
    np.testing.assert_array_equal(out2, out)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_array_equal(conv_backward(dout, light, weight_grads=False)[0], conv_backward(dout, cache)[0])
    with pytest.raises(NpnetValueError, match=r"conv_backward: the forward pass ran with weight_grads=False"):
        conv_backward(dout, light)
    for kw in ({"relu": "yes"}, {"weight_grads": 1}):
        with pytest.raises(NpnetTypeError, match=r"conv_forward: (relu|weight_grads) must be True or False"):
            conv_forward(x, w, None, cp, **kw)


# Rounded values make ties common, so the tie rule is compared too.
POOLS = [
    ((2, 3, 11, 11), 3, 3, 2, 0, True),
    ((1, 2, 9, 7), 3, 2, 2, 1, True),
    ((3, 1, 8, 8), 2, 2, 2, 0, False),
    ((1, 2, 10, 9), 2, 3, 3, 1, True),  # stride larger than the kernel
    ((2, 2, 7, 6), 4, 4, 1, 2, False),  # overlapping windows, padding
    # the written-out 2x2 and 3x3 stride-2 kernels, and the same windows overhanging with ceil_mode
    # (the general loops then)
    ((4, 3, 12, 10), 2, 2, 2, 0, False),
    ((2, 3, 13, 9), 3, 3, 2, 0, False),
    ((1, 2, 7, 9), 2, 2, 2, 0, True),
    ((1, 2, 12, 10), 3, 3, 2, 0, True),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,kh,kw,s,p,ceil", POOLS)
def test_max_only_and_small_offsets_match_naive(shape, kh, kw, s, p, ceil, dtype):
    rng = np.random.default_rng(sum(shape))
    x = np.round(rng.standard_normal(shape), 1).astype(dtype)
    pp = {"pool_height": kh, "pool_width": kw, "stride": s, "pad": p, "ceil_mode": ceil}
    ref, ref_cache = max_pool_forward_naive(x, pp)
    only, none = max_pool_forward(x, pp, need_argmax=False)
    assert none is None and only.dtype == dtype
    np.testing.assert_array_equal(only, ref)
    out, cache = max_pool_forward(x, pp)
    np.testing.assert_array_equal(out, ref)
    assert cache[-1].dtype == np.uint8 and cache[-1].max() < kh * kw
    dout = rng.standard_normal(out.shape).astype(dtype)
    np.testing.assert_allclose(max_pool_backward(dout, cache), max_pool_backward_naive(dout, ref_cache), **TOL[dtype])


def test_windows_too_big_for_uint8_use_a_wider_offset():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 20, 19))
    pp = {"pool_height": 17, "pool_width": 16, "stride": 2}  # 272 offsets > 256
    out, cache = max_pool_forward(x, pp)
    assert cache[-1].dtype == np.uint16
    ref, ref_cache = max_pool_forward_naive(x, pp)
    np.testing.assert_array_equal(out, ref)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(max_pool_backward(dout, cache), max_pool_backward_naive(dout, ref_cache), rtol=1e-12)
    assert [_offset_dtype(k, k) for k in (16, 17, 256, 257)] == [np.uint8, np.uint16, np.uint16, np.uint32]
    with pytest.raises(NpnetValueError, match="too large"):
        _offset_dtype(70000, 70000)


def test_max_pool_backward_needs_the_argmax():
    x = np.ones((1, 1, 4, 4))
    pp = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = max_pool_forward(x, pp, need_argmax=False)
    with pytest.raises(NpnetValueError, match=r"max_pool_backward: the forward pass ran with need_argmax=False"):
        max_pool_backward(np.ones_like(out), cache)
    with pytest.raises(NpnetTypeError, match=r"max_pool_forward: need_argmax must be True or False"):
        max_pool_forward(x, pp, need_argmax="no")


def test_set_num_threads():
    before = kernels.get_num_threads()
    assert before >= 1
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(NpnetValueError, match="set_num_threads: n must be a positive integer"):
            kernels.set_num_threads(bad)
    kernels.set_num_threads(2)
    assert kernels.get_num_threads() == 2
    kernels.set_num_threads(before)


def test_split_covers_every_row_once(split_everything):
    seen = []
    kernels.split(lambda tag, lo, hi: seen.append((tag, lo, hi)), 10, 10, "t")
    assert sorted(seen) == [("t", 0, 3), ("t", 3, 6), ("t", 6, 10)]
    seen.clear()
    kernels.split(lambda lo, hi: seen.append((lo, hi)), 2, 10)  # fewer rows than threads
    assert sorted(seen) == [(0, 1), (1, 2)]


@pytest.mark.parametrize("need_argmax", [True, False])
# the general loops, the written-out 3x3 and 2x2 kernels; every pixel is in a window
@pytest.mark.parametrize("k,pad,size", [(3, 1, 7), (3, 0, 7), (2, 0, 8)])
def test_max_pool_refuses_nan_wherever_it_is(need_argmax, k, pad, size):
    pp = {"pool_height": k, "pool_width": k, "stride": 2, "pad": pad, "ceil_mode": pad == 1}
    for h, w in [(0, 0), (4, size - 1), (size - 1, size - 1), (3, 2), (5, 1)]:  # corners, edges, the middle
        x = np.ones((1, 2, size, size))
        x[0, 1, h, w] = np.nan
        with pytest.raises(NpnetValueError, match=rf"max_pool_forward: x contains 1 NaN value\(s\) of {x.size}"):
            max_pool_forward(x, pp, need_argmax=need_argmax)
    x = np.ones((1, 1, 4, 4))
    x[0, 0, 0, 1], x[0, 0, 0, 2] = np.inf, -np.inf  # inf - inf is NaN in a sum, but this is no NaN
    assert max_pool_forward(x, pp, need_argmax=need_argmax)[0].max() == np.inf


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("N", [1, 3])
def test_two_convolutions_fill_one_output(backend, N):
    """A fire module's two expands written into channel ranges of one array equal their concatenation."""
    rng = np.random.default_rng(N)
    s = rng.standard_normal((N, 4, 5, 6)).astype(np.float32)
    w1, w3 = rng.standard_normal((3, 4, 1, 1)), rng.standard_normal((5, 4, 3, 3))
    b1, b3 = rng.standard_normal(3), rng.standard_normal(5)
    e1, c1 = conv_forward(s, w1, b1, {"stride": 1, "pad": 0}, backend=backend, relu=True)
    e3, c3 = conv_forward(s, w3, b3, {"stride": 1, "pad": 1}, backend=backend, relu=True)
    big = np.full((N, 8, 5, 6), np.nan, dtype=np.float32)
    got1, d1 = conv_forward(s, w1, b1, {"stride": 1, "pad": 0}, backend=backend, relu=True, out=big[:, :3])
    got3, d3 = conv_forward(s, w3, b3, {"stride": 1, "pad": 1}, backend=backend, relu=True, out=big[:, 3:])
    assert np.shares_memory(got1, big) and np.shares_memory(got3, big)
    np.testing.assert_array_equal(big, np.concatenate([e1, e3], axis=1))
    dout = rng.standard_normal(big.shape).astype(np.float32)
    for fused, plain, part in ((d1, c1, dout[:, :3]), (d3, c3, dout[:, 3:])):
        for g, r in zip(conv_backward(part, fused), conv_backward(part, plain)):
            np.testing.assert_array_equal(g, r)
    # Without bias or ReLU the product is copied in as it is.
    plain_out, _ = conv_forward(s, w3, None, {"stride": 1, "pad": 1}, backend=backend)
    conv_forward(s, w3, None, {"stride": 1, "pad": 1}, backend=backend, out=big[:, 3:])
    np.testing.assert_array_equal(big[:, 3:], plain_out)


def test_bad_output_arrays():
    x, w = np.ones((2, 3, 4, 4)), np.ones((2, 3, 3, 3))
    cp = {"stride": 1, "pad": 1}
    frozen = np.zeros((2, 2, 4, 4))
    frozen.flags.writeable = False
    for out, err, match in [
        ([[0.0]], NpnetTypeError, "out must be a NumPy array or None; got list"),
        (np.zeros((2, 3, 4, 4)), NpnetValueError, r"out must have the shape of the output \(2, 2, 4, 4\)"),
        (np.zeros((2, 2, 4, 4), np.float32), NpnetTypeError, "out must have the dtype of x"),
        (np.zeros((2, 2, 4, 8))[..., ::2], NpnetValueError, "out must be writeable with contiguous"),
        (np.zeros((2, 2, 4, 4)).transpose(0, 1, 3, 2), NpnetValueError, "out must be .* contiguous .H', W'. planes"),
        (frozen, NpnetValueError, "out must be writeable"),
    ]:
        with pytest.raises(err, match=f"conv_forward: {match}"):
            conv_forward(x, w, None, cp, out=out)


def test_split_works_in_a_forked_child(split_everything):
    """A child process inherits the thread pool object but not its threads; it must make its own."""
    mp = pytest.importorskip("multiprocessing")
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("no fork on this platform")
    x = np.arange(2 * 3 * 9 * 9, dtype=np.float64).reshape(2, 3, 9, 9)
    pp = {"pool_height": 3, "pool_width": 3, "stride": 2}
    want = max_pool_forward(x, pp)[0]  # creates the pool in the parent
    with mp.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_pool_in_child, (x, pp)).get(timeout=60)
    np.testing.assert_array_equal(got, want)


def _pool_in_child(x, pp):
    return max_pool_forward(x, pp)[0]
