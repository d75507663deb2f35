"""Gradient checks of the basic layer families: affine, activations, dropout, normalisation, shape
layers and losses.

Inputs are kept away from points where the function is not differentiable: ReLU inputs are at least
0.1 from 0 (centred differences use h = 1e-5), hinge-loss scores are spread so that no margin lies
within 0.05 of 0. Each threshold is at least 4x the worst error measured over seeds 0-299 (the max
relative error is set by the few smallest gradient entries, so it varies by orders of magnitude between
seeds) and far below the O(1e-3..1) errors of a wrong gradient.
"""
import numpy as np

from npnet import layers as L

from .registry import layer_error, loss_error, register


def _away_from_zero(rng, shape, gap=0.1):
    """Standard normal values with |v| >= gap, so a kink at 0 is never straddled."""
    v = rng.standard_normal(shape)
    return np.where(v >= 0, v + gap, v - gap)


@register("affine", threshold=1e-6)
def _(rng):
    x, w, b = rng.standard_normal((4, 3, 2, 2)), rng.standard_normal((12, 5)), rng.standard_normal(5)
    return layer_error(L.affine_forward, L.affine_backward, [x, w, b], rng)


@register("affine.partial", threshold=1e-6)
def _(rng):
    # only dx (a frozen layer), then only dw and db (a first layer, whose input is data): the paths that
    # must still define every returned gradient
    x, w, b = rng.standard_normal((3, 7)), rng.standard_normal((7, 2)), rng.standard_normal(2)
    dx_only = layer_error(lambda x: L.affine_forward(x, w, b),
                          lambda d, c: L.affine_backward(d, c, weight_grads=False)[0], [x], rng)
    weights_only = layer_error(lambda w, b: L.affine_forward(x, w, b),
                               lambda d, c: L.affine_backward(d, c, input_grad=False)[1:], [w, b], rng)
    return max(dx_only, weights_only)


@register("relu", threshold=1e-8)
def _(rng):
    return layer_error(L.relu_forward, lambda d, c: L.relu_backward(d, c, mode="standard"),
                       [_away_from_zero(rng, (4, 6))], rng)


@register("leaky_relu", threshold=1e-8)
def _(rng):
    forward = lambda x: L.leaky_relu_forward(x, alpha=0.1)  # noqa: E731
    return layer_error(forward, L.leaky_relu_backward, [_away_from_zero(rng, (4, 6))], rng)


@register("sigmoid", threshold=1e-7)
def _(rng):
    return layer_error(L.sigmoid_forward, L.sigmoid_backward, [2 * rng.standard_normal((4, 6))], rng)


@register("tanh", threshold=1e-7)
def _(rng):
    return layer_error(L.tanh_forward, L.tanh_backward, [rng.standard_normal((4, 6))], rng)


@register("dropout", threshold=1e-8)
def _(rng):
    param = {"mode": "train", "p": 0.7, "seed": 123}
    return layer_error(lambda x: L.dropout_forward(x, param), L.dropout_backward,
                       [rng.standard_normal((5, 8))], rng)


def _bn(forward, backward, x, rng):
    c = x.shape[1]
    gamma, beta = 1 + 0.5 * rng.standard_normal(c), rng.standard_normal(c)
    # A fresh dict per call, so the numerical gradient does not see running statistics drift.
    fwd = lambda x, g, b: forward(x, g, b, {"mode": "train"})  # noqa: E731
    return layer_error(fwd, backward, [x, gamma, beta], rng)


@register("batchnorm", threshold=1e-5)
def _(rng):
    x = 3 + 2 * rng.standard_normal((6, 4))
    return _bn(L.batchnorm_forward, L.batchnorm_backward, x, rng)


@register("batchnorm.test_mode", threshold=1e-7)
def _(rng):
    d = 4
    param = {"mode": "test", "running_mean": rng.standard_normal(d), "running_var": 0.5 + rng.random(d)}
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    return layer_error(lambda x, g, b: L.batchnorm_forward(x, g, b, dict(param)), L.batchnorm_backward,
                       [rng.standard_normal((5, d)), gamma, beta], rng)


@register("spatial_batchnorm", threshold=1e-5)
def _(rng):
    x = 1 + 2 * rng.standard_normal((2, 3, 3, 4))
    return _bn(L.spatial_batchnorm_forward, L.spatial_batchnorm_backward, x, rng)


@register("layernorm", threshold=1e-5)
def _(rng):
    x = 3 + 2 * rng.standard_normal((4, 5))
    gamma, beta = 1 + 0.5 * rng.standard_normal(5), rng.standard_normal(5)
    return layer_error(lambda x, g, b: L.layernorm_forward(x, g, b, {}), L.layernorm_backward, [x, gamma, beta], rng)


@register("spatial_groupnorm", threshold=1e-5)
def _(rng):
    x = 1 + 2 * rng.standard_normal((2, 6, 3, 2))
    gamma, beta = 1 + 0.5 * rng.standard_normal((1, 6, 1, 1)), rng.standard_normal((1, 6, 1, 1))
    forward = lambda x, g, b: L.spatial_groupnorm_forward(x, g, b, 3, {})  # noqa: E731
    return layer_error(forward, L.spatial_groupnorm_backward, [x, gamma, beta], rng)


@register("instance_norm", threshold=1e-5)
def _(rng):
    x = 1 + 2 * rng.standard_normal((2, 3, 3, 4))
    gamma, beta = 1 + 0.5 * rng.standard_normal(3), rng.standard_normal(3)
    return layer_error(L.instance_norm_forward, L.instance_norm_backward, [x, gamma, beta], rng)


@register("concat", threshold=1e-8)
def _(rng):
    xs = [rng.standard_normal((2, c, 3, 2)) for c in (1, 3, 2)]
    return layer_error(lambda *xs: L.concat_forward(list(xs), axis=1), L.concat_backward, xs, rng)


@register("concat.last_axis", threshold=1e-8)
def _(rng):
    xs = [rng.standard_normal((3, c)) for c in (2, 4)]
    return layer_error(lambda *xs: L.concat_forward(xs, axis=-1), L.concat_backward, xs, rng)


@register("pixel_shuffle", threshold=1e-8)
def _(rng):
    return layer_error(lambda x: L.pixel_shuffle_forward(x, 2), L.pixel_shuffle_backward,
                       [rng.standard_normal((2, 8, 3, 2))], rng)


@register("pixel_unshuffle", threshold=1e-8)
def _(rng):
    return layer_error(lambda x: L.pixel_unshuffle_forward(x, 3), L.pixel_unshuffle_backward,
                       [rng.standard_normal((2, 2, 6, 3))], rng)


@register("softmax_loss", threshold=1e-6)
def _(rng):
    n, c = 8, 5
    return loss_error(L.softmax_loss, rng.standard_normal((n, c)), rng.integers(0, c, n))


@register("softmax_loss.large_scores", threshold=1e-6)
def _(rng):
    # rows of scores near +1000 or -1000: exp overflows (or every term underflows) unless each row's
    # largest score is subtracted first. The spread within a row stays ~1, so the numerical gradient
    # is as exact as at small scores (a spread of ~1000 would leave it only rounding noise).
    n, c = 8, 5
    x = rng.standard_normal((n, c)) + 1000 * rng.choice([-1.0, 1.0], (n, 1))
    return loss_error(L.softmax_loss, x, rng.integers(0, c, n))


@register("svm_loss", threshold=1e-8)
def _(rng):
    n, c = 6, 5
    # Scores on a grid with spacing 0.25 plus noise < 0.1: every margin x_j - x_y + 1 stays >= 0.05
    # away from the kink at 0.
    x = 0.25 * rng.integers(-8, 9, (n, c)) + 0.1 * rng.uniform(-0.5, 0.5, (n, c))
    return loss_error(L.svm_loss, x, rng.integers(0, c, n))


@register("bce_with_logits", threshold=1e-5)
def _(rng):
    x = 2 * rng.standard_normal((4, 3))
    return loss_error(L.bce_with_logits, x, rng.random((4, 3)))


@register("mse", threshold=1e-6)
def _(rng):
    return loss_error(L.mse, rng.standard_normal((4, 3)), rng.standard_normal((4, 3)))
