"""Gradient checks of the convolution and pooling layers (float64, small random inputs).

Thresholds: over seeds 0-11 the worst relative error was 7e-8 for the convolutions and average
pooling (an element whose gradient is nearly zero inflates the relative error) and 7e-11 for max and
global average pooling, whose numerical gradients are exact up to rounding. The thresholds, 1e-6 and
1e-8, keep a margin above that of more than 10x, while a wrong index, a missing term or float32 leaking
into the computation gives errors of 1e-4 to 1.
"""
from functools import partial

import numpy as np

from gradcheck.registry import layer_error, register
from npnet.layers import conv, pool


def _conv_inputs(rng, N, C, H, W, F, HH, WW):
    return [rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW)), rng.standard_normal(F)]


def _conv_check(forward, backward, rng, shape, conv_param):
    fwd = lambda x, w, b: forward(x, w, b, conv_param)  # noqa: E731
    return layer_error(fwd, backward, _conv_inputs(rng, *shape), rng)


@register("conv.naive", threshold=1e-6)
def _(rng):
    return _conv_check(conv.conv_forward_naive, conv.conv_backward_naive, rng, (2, 3, 5, 6, 3, 3, 3),
                       {"stride": 1, "pad": 1})


@register("conv.naive_stride2", threshold=1e-6)
def _(rng):
    return _conv_check(conv.conv_forward_naive, conv.conv_backward_naive, rng, (2, 2, 7, 6, 3, 3, 2),
                       {"stride": 2, "pad": 1})


@register("conv.fast", threshold=1e-6)
def _(rng):
    return _conv_check(conv.conv_forward, conv.conv_backward, rng, (2, 3, 5, 6, 3, 3, 3), {"stride": 1, "pad": 1})


@register("conv.fast.frozen", threshold=2e-6)
def _(rng):
    # weight_grads=False: the forward keeps no columns (its own code path); dx only. F, H', W', the kernel
    # sizes, the stride and the padding all differ, so no two of them can be swapped unseen. Worst error
    # over seeds 0-59: 4.5e-7 (the wide padding leaves border pixels with tiny gradients).
    x, w, b = _conv_inputs(rng, 2, 3, 7, 5, 4, 3, 2)
    param = {"stride": 1, "pad": 2}
    return layer_error(lambda x: conv.conv_forward(x, w, b, param, weight_grads=False),
                       lambda d, c: conv.conv_backward(d, c, weight_grads=False)[0], [x], rng)


@register("conv.fast_stride3", threshold=1e-6)
def _(rng):
    # Stride larger than the kernel: some pixels belong to no window and must get zero gradient.
    return _conv_check(conv.conv_forward, conv.conv_backward, rng, (2, 2, 8, 7, 3, 2, 2), {"stride": 3, "pad": 2})


@register("conv.fast_1x1", threshold=1e-6)
def _(rng):
    return _conv_check(conv.conv_forward, conv.conv_backward, rng, (2, 4, 3, 5, 3, 1, 1), {"stride": 1, "pad": 0})


@register("conv.numpy_backend", threshold=1e-6)
def _(rng):
    fwd = partial(conv.conv_forward, backend="numpy")
    return _conv_check(fwd, conv.conv_backward, rng, (2, 2, 7, 5, 3, 3, 2), {"stride": 2, "pad": 1})


@register("conv_transpose", threshold=1e-6)
def _(rng):
    cp = {"stride": 2, "pad": 1, "output_padding": 1}
    inputs = [rng.standard_normal((2, 3, 3, 4)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(2)]
    return layer_error(lambda x, w, b: conv.conv_transpose_forward(x, w, b, cp), conv.conv_transpose_backward,
                       inputs, rng)


@register("conv_transpose.stride3_nonsquare", threshold=1e-6)
def _(rng):
    cp = {"stride": 3, "pad": 0, "output_padding": 2}
    inputs = [rng.standard_normal((1, 2, 3, 2)), rng.standard_normal((2, 3, 2, 3)), rng.standard_normal(3)]
    return layer_error(lambda x, w, b: conv.conv_transpose_forward(x, w, b, cp), conv.conv_transpose_backward,
                       inputs, rng)


def _distinct(rng, shape):
    # A permutation keeps every value at least 1/size away from the others, much more than the
    # step h = 1e-5 of the numerical gradient, so no window's argmax changes during the check.
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 10.0


def _pool_check(forward, backward, rng, shape, pool_param):
    return layer_error(lambda x: forward(x, pool_param), backward, [_distinct(rng, shape)], rng)


@register("max_pool.naive", threshold=1e-8)
def _(rng):
    pp = {"pool_height": 2, "pool_width": 2, "stride": 2}
    return _pool_check(pool.max_pool_forward_naive, pool.max_pool_backward_naive, rng, (2, 3, 4, 6), pp)


@register("max_pool.naive.tall_pad", threshold=1e-8)
def _(rng):
    # a tall input (H > W) with padding and overlapping windows: a window clipped by the wrong side's
    # length, or the window size used as the stride, shows
    pp = {"pool_height": 3, "pool_width": 3, "stride": 2, "pad": 1}
    return _pool_check(pool.max_pool_forward_naive, pool.max_pool_backward_naive, rng, (2, 2, 7, 5), pp)


@register("max_pool.fast_overlap", threshold=1e-8)
def _(rng):
    pp = {"pool_height": 3, "pool_width": 3, "stride": 2}
    return _pool_check(pool.max_pool_forward, pool.max_pool_backward, rng, (2, 2, 7, 9), pp)


@register("max_pool.ceil_pad", threshold=1e-8)
def _(rng):
    pp = {"pool_height": 3, "pool_width": 2, "stride": 2, "pad": 1, "ceil_mode": True}
    return _pool_check(pool.max_pool_forward, pool.max_pool_backward, rng, (2, 2, 6, 7), pp)


@register("max_pool.naive_ceil_pad", threshold=1e-8)
def _(rng):
    pp = {"pool_height": 3, "pool_width": 2, "stride": 2, "pad": 1, "ceil_mode": True}
    return _pool_check(pool.max_pool_forward_naive, pool.max_pool_backward_naive, rng, (2, 2, 6, 7), pp)


@register("max_pool.relu_below", threshold=1e-8)
def _(rng):
    # relu_max_pool_backward: the backward of a ReLU then a max pool, in one pass. Half the values are
    # negative (none within h of the kink at 0), so many windows hold only closed gates.
    pp = {"pool_height": 3, "pool_width": 3, "stride": 2, "ceil_mode": True}
    x = _distinct(rng, (2, 2, 7, 8))
    x -= x.mean() + 0.05

    def forward(x):
        pooled, cache = pool.max_pool_forward(np.maximum(x, 0), pp)
        return pooled, (cache, pooled)

    return layer_error(forward, lambda dout, c: pool.relu_max_pool_backward(dout, *c), [x], rng)


@register("avg_pool", threshold=1e-6)
def _(rng):
    pp = {"pool_height": 3, "pool_width": 3, "stride": 2}
    return layer_error(lambda x: pool.avg_pool_forward(x, pp), pool.avg_pool_backward,
                       [rng.standard_normal((2, 3, 7, 6))], rng)


@register("avg_pool.ceil_pad_exclude", threshold=1e-6)
def _(rng):
    pp = {"pool_height": 3, "pool_width": 2, "stride": 2, "pad": 1, "ceil_mode": True, "count_include_pad": False}
    return layer_error(lambda x: pool.avg_pool_forward(x, pp), pool.avg_pool_backward,
                       [rng.standard_normal((2, 2, 6, 7))], rng)


@register("avg_pool.ceil_pad_include", threshold=1e-6)
def _(rng):
    pp = {"pool_height": 3, "pool_width": 3, "stride": 2, "pad": 1, "ceil_mode": True}
    return layer_error(lambda x: pool.avg_pool_forward(x, pp), pool.avg_pool_backward,
                       [rng.standard_normal((1, 2, 6, 8))], rng)


@register("global_avg_pool", threshold=1e-8)
def _(rng):
    return layer_error(pool.global_avg_pool_forward, pool.global_avg_pool_backward,
                       [rng.standard_normal((2, 3, 4, 5))], rng)
