"""Gradient checks of the ``npnet.nn`` modules a GAN or a classifier is built from: input and parameter
gradients of each module in float64, in training mode where it matters (batch norm)."""
import numpy as np

from npnet import nn

from .registry import module_error, register


def _check(module, x, rng, train=False):
    module.astype(np.float64).train(train)
    return module_error(module, x, rng)


@register("modules.batchnorm1d", threshold=1e-5)
def _(rng):
    bn = nn.BatchNorm1d(4)
    bn.params["weight"] = 1 + 0.5 * rng.standard_normal(4)
    bn.params["bias"] = rng.standard_normal(4)
    return _check(bn, 2 + rng.standard_normal((6, 4)), rng, train=True)


@register("modules.batchnorm1d.sequence", threshold=1e-5)
def _(rng):
    return _check(nn.BatchNorm1d(3), rng.standard_normal((2, 3, 4)), rng, train=True)


@register("modules.batchnorm1d.eval", threshold=1e-7)
def _(rng):
    bn = nn.BatchNorm1d(4)
    bn.buffers["running_mean"] = rng.standard_normal(4)
    bn.buffers["running_var"] = 0.5 + rng.random(4)
    return _check(bn, rng.standard_normal((3, 4)), rng)


@register("modules.batchnorm2d", threshold=1e-5)
def _(rng):
    return _check(nn.BatchNorm2d(3), 1 + rng.standard_normal((2, 3, 3, 2)), rng, train=True)


@register("modules.layernorm", threshold=1e-5)
def _(rng):
    ln = nn.LayerNorm((2, 3, 2))
    ln.params["weight"] = 1 + 0.5 * rng.standard_normal((2, 3, 2))
    return _check(ln, rng.standard_normal((3, 2, 3, 2)), rng)


@register("modules.instancenorm2d", threshold=1e-5)
def _(rng):
    return _check(nn.InstanceNorm2d(3, affine=True), rng.standard_normal((2, 3, 3, 3)), rng)


@register("modules.leaky_relu", threshold=1e-8)
def _(rng):
    x = rng.standard_normal((3, 5))
    return _check(nn.LeakyReLU(0.2), np.where(x >= 0, x + 0.1, x - 0.1), rng)


@register("modules.tanh", threshold=1e-7)
def _(rng):
    return _check(nn.Tanh(), rng.standard_normal((3, 5)), rng)


@register("modules.sigmoid", threshold=1e-7)
def _(rng):
    return _check(nn.Sigmoid(), 2 * rng.standard_normal((3, 5)), rng)


@register("modules.conv_transpose2d", threshold=1e-6)
def _(rng):
    return _check(nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1, rng=rng), rng.standard_normal((2, 3, 3, 3)), rng)


@register("modules.avg_pool2d", threshold=1e-8)
def _(rng):
    return _check(nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                  rng.standard_normal((2, 2, 5, 5)), rng)


@register("modules.flatten_unflatten", threshold=1e-8)
def _(rng):
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 8, rng=rng), nn.Unflatten(1, (2, 2, 2)))
    return _check(net, rng.standard_normal((3, 3, 2, 2)), rng)


@register("modules.dcgan_generator_block", threshold=1e-5)
def _(rng):
    # The GAN generator's pattern: linear -> batch norm -> ReLU -> unflatten -> transposed conv -> tanh.
    # No bias before batch norm: its exact gradient is 0, which a relative error cannot judge.
    net = nn.Sequential(nn.Linear(4, 8, bias=False, rng=rng), nn.BatchNorm1d(8), nn.ReLU(), nn.Unflatten(1, (2, 2, 2)),
                        nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1, rng=rng), nn.Tanh())
    return _check(net, rng.standard_normal((4, 4)), rng, train=True)
