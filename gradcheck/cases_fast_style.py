"""Gradient checks of fast style transfer: conditional instance norm (one style, a blend, one style
per sample), nearest upsampling, a residual block and a whole (tiny) image transformation network,
all in float64.

Thresholds (worst over seeds 0-19, threshold): conditional instance norm 6e-6 -> 3e-5 (the
normalisation's gradients, like instance norm's, go through a mean and a variance, so entries near
zero show more); upsampling 3e-12 -> 1e-8; residual block 2e-7 -> 1e-6; whole network 1.6e-6 -> 2e-5.
Seen failing: every style row receiving every sample's gradient (``mix`` ignored) gives 0.5 to 1,
a residual block's backward without its skip connection 1.
"""
import numpy as np

from npnet import layers as L
from npnet.models import fast_style as fs

from .numeric import _worst, check_backward, eval_numerical_gradient_array, rel_error
from .registry import layer_error, module_error, register


def _cin(rng, style):
    x = 1 + 2 * rng.standard_normal((3, 4, 3, 5))
    gammas, betas = 1 + 0.5 * rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    forward = lambda x, g, b: L.conditional_instance_norm_forward(x, g, b, style)  # noqa: E731
    return layer_error(forward, L.conditional_instance_norm_backward, [x, gammas, betas], rng)


@register("conditional_instance_norm", threshold=3e-5)
def _(rng):
    return _cin(rng, 1)


@register("conditional_instance_norm.blend", threshold=3e-5)
def _(rng):
    return _cin(rng, np.array([0.3, 0.7]))


@register("conditional_instance_norm.per_sample", threshold=3e-5)
def _(rng):
    return _cin(rng, rng.random((3, 2)))


@register("fast_style.upsample", threshold=1e-8)
def _(rng):
    return layer_error(lambda x: fs.upsample_nearest_forward(x, 2), fs.upsample_nearest_backward,
                       [rng.standard_normal((2, 3, 3, 4))], rng)


def _randomise(net, rng):
    # away from ones/zeros, so that each style's (gamma, beta) row differs and a mix-up shows
    for _, m in net.named_modules():
        m.params = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in m.params.items()}
    return net


@register("fast_style.residual_block", threshold=1e-6)
def _(rng):
    block = _randomise(fs.ResidualBlock(3, 2, dtype=np.float64, rng=rng), rng)
    for _, m in block.named_modules():
        if isinstance(m, fs.ConditionalInstanceNorm2d):
            m.style = np.array([0.6, 0.4])
    return module_error(block, rng.standard_normal((2, 3, 4, 4)), rng)


@register("fast_style.transform_net", threshold=2e-5)
def _(rng):
    # every element of every parameter against centred differences, and the input gradient along 4
    # random directions. 12 x 12 images: at 8 x 8 the quarter-resolution planes have 4 pixels, whose
    # variance can be so small that the normalisation is far from linear over a step h, and the
    # numerical gradient is wrong
    net = _randomise(fs.TransformNet(2, channels=(2, 3, 4), num_residual=1, kernel=3, dtype=np.float64,
                                     seed=int(rng.integers(1000))), rng)
    mix = rng.random((2, 2))
    x = rng.standard_normal((2, 3, 12, 12))
    out = net.forward(x, mix)
    dout = rng.standard_normal(out.shape)
    dx = net.backward(dout)
    grads = dict(net.named_grads())
    errors = [check_backward(lambda z: net.forward(z, mix), [x], dout, [dx], num_directions=4)]
    for name, param in net.named_parameters():
        numeric = eval_numerical_gradient_array(lambda _: net.forward(x, mix), param, dout)
        errors.append(rel_error(grads[name], numeric))
    return _worst(errors)
