"""Gradient checks of the style-transfer losses and of the whole style-transfer / DeepDream image
gradient (float64, small random inputs).

The loss checks compare every element with centred differences. The two pipeline checks run a
randomly initialised float64 SqueezeNet 1.1 (no weight file needed; the backward code is the same as
with pretrained weights) on a 29x33 image and use ``check_backward`` (directional derivatives), since
an element-wise check of a whole network is too slow.

Thresholds (worst over seeds 0-19, threshold): content 4e-7 -> 1e-5; TV 6e-6 -> 1e-4; style loss
5e-6 -> 1e-4; Gram (all three) 2e-7 -> 2e-6; naive TV 3e-9 -> 1e-7; pipelines (seeds 0-9) 3e-8 -> 1e-6.
The losses are quadratics, so centred differences are exact up to rounding, but rounding is relative
to the whole loss (~eps * loss / h) while the relative error is per element: an element whose gradient
is nearly zero shows 1e-6 although the gradient is right. A missing transpose term in the Gram
backward, a missing factor 2, a tap gradient added at the wrong layer or a float32 leak give errors
of 1e-3 to 1.
"""
import numpy as np

from gradcheck.numeric import check_backward
from gradcheck.registry import layer_error, loss_error, register
from npnet.style import dream, losses, transfer


@register("style.content", threshold=1e-5)
def _(rng):
    P = rng.standard_normal((2, 3, 4, 5))
    return loss_error(lambda F: losses.content_loss(0.7, F, P), rng.standard_normal((2, 3, 4, 5)))


def _gram_check(rng, normalize, forward=losses.gram_matrix):
    fwd = lambda F: (forward(F, normalize), F)  # noqa: E731
    bwd = lambda d, F: losses.gram_matrix_backward(d, F, normalize)  # noqa: E731
    return layer_error(fwd, bwd, [rng.standard_normal((2, 4, 3, 5))], rng)


@register("style.gram", threshold=2e-6)
def _(rng):
    return _gram_check(rng, True)


@register("style.gram_unnormalized", threshold=2e-6)
def _(rng):
    return _gram_check(rng, False)


@register("style.gram_naive", threshold=2e-6)
def _(rng):
    return _gram_check(rng, True, losses.gram_matrix_naive)


@register("style.style_loss", threshold=1e-4)
def _(rng):
    # three layers of different sizes, one not in style_layers, and layer 2 used twice
    feats = [rng.standard_normal(s) for s in ((1, 3, 6, 5), (1, 4, 4, 4), (1, 5, 3, 2))]
    layers, weights = [0, 2, 2], [2.0, 30.0, 5.0]
    targets = [losses.gram_matrix(rng.standard_normal(feats[k].shape)) for k in layers]
    worst = 0.0
    for k in (0, 2):
        def loss_k(F, k=k):
            fs = list(feats)
            fs[k] = F
            loss, grads = losses.style_loss(fs, layers, targets, weights)
            return loss, sum(g for layer, g in zip(layers, grads) if layer == k)
        worst = max(worst, loss_error(loss_k, feats[k].copy()))
    return worst


@register("style.tv", threshold=1e-4)
def _(rng):
    return loss_error(lambda x: losses.tv_loss(x, 0.3), rng.standard_normal((2, 3, 5, 4)))


@register("style.tv_naive", threshold=1e-7)
def _(rng):
    return loss_error(lambda x: losses.tv_loss_naive(x, 0.3), rng.standard_normal((1, 2, 4, 3)))


def _random_model(rng):
    from npnet.models.squeezenet import squeezenet1_1

    model = squeezenet1_1(pretrained=False, dtype=np.float64)
    # the random init is seeded inside the model; redraw the weights from rng so seeds differ
    for _, m in model.named_modules():
        m.params = {k: rng.uniform(-1, 1, v.shape) * np.sqrt(3.0 / max(1, v[0].size)) for k, v in m.params.items()}
    model.requires_grad_(False)
    return model


@register("style.total_loss", threshold=1e-6)
def _(rng):
    model = _random_model(rng)
    content, style = rng.standard_normal((1, 3, 29, 33)), rng.standard_normal((1, 3, 31, 30))
    objective = transfer.StyleObjective(
        model, 3, transfer.extract_targets(model, content, [3])[3], 0.5, [1, 3, 6, 7],
        transfer.style_targets(model, [style], [1, 3, 6, 7]), [100.0, 40.0, 8.0, 2.0], 0.1)
    x = rng.standard_normal((1, 3, 29, 33))
    _, dx, _ = objective(x)
    return check_backward(lambda z: np.array(objective(z)[0]), [x], np.array(1.0), [dx], num_directions=4)


@register("style.dream", threshold=1e-6)
def _(rng):
    model = _random_model(rng)
    x = rng.standard_normal((1, 3, 29, 33))
    _, dx = dream.dream_objective(model, x, 6)
    return check_backward(lambda z: np.array(dream.dream_objective(model, z, 6)[0]), [x], np.array(1.0), [dx],
                          num_directions=4)
