"""Gradient checks of the GAN losses (element by element) and of the four GAN networks (by directions).

The networks are the full-size course architectures in float64 on a batch of 4, parameters included:
two forward passes per direction (``check_backward``) instead of two per parameter.
"""
import numpy as np

from npnet.models import gan

from .numeric import check_backward, eval_numerical_gradient_array, rel_error
from .registry import register


def _two_input_loss_error(loss_fn, a, b):
    """Max relative error of ``loss_fn(a, b) -> (loss, da, db)`` against numerical gradients."""
    _, da, db = loss_fn(a, b)
    num_a = eval_numerical_gradient_array(lambda z: np.array(loss_fn(z, b)[0]), a, np.array(1.0))
    num_b = eval_numerical_gradient_array(lambda z: np.array(loss_fn(a, z)[0]), b, np.array(1.0))
    return max(rel_error(num_a, da), rel_error(num_b, db))


def _one_input_loss_error(loss_fn, a):
    _, da = loss_fn(a)
    return rel_error(eval_numerical_gradient_array(lambda z: np.array(loss_fn(z)[0]), a, np.array(1.0)), da)


@register("gan.discriminator_loss", threshold=1e-8)
def _(rng):
    return _two_input_loss_error(gan.discriminator_loss, 2 * rng.standard_normal((6, 1)),
                                 2 * rng.standard_normal((6, 1)))


@register("gan.generator_loss", threshold=1e-8)
def _(rng):
    return _one_input_loss_error(gan.generator_loss, 2 * rng.standard_normal((6, 1)))


@register("gan.ls_discriminator_loss", threshold=1e-8)
def _(rng):
    return _two_input_loss_error(gan.ls_discriminator_loss, rng.standard_normal((6, 1)), rng.standard_normal((6, 1)))


@register("gan.ls_generator_loss", threshold=1e-8)
def _(rng):
    return _one_input_loss_error(gan.ls_generator_loss, rng.standard_normal((6, 1)))


def network_error(net, x, rng):
    """Directional check of ``net``'s input and parameter gradients together (``net`` in float64)."""
    slots = [(module, local) for _, module in net.named_modules() for local in module.params]
    params = [module.params[local] for module, local in slots]

    def forward(x, *ps):
        for (module, local), p in zip(slots, ps):
            module.params[local] = p
        return net.forward(x)

    out = net.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = net.backward(dout)
    grads = [module.grads[local] for module, local in slots]
    seed = int(rng.integers(1000))
    try:
        # A step along millions of parameters at once can straddle ReLU/max-pool kinks; smaller steps rarely do.
        return min(check_backward(forward, [x] + params, dout, [dx] + grads, h=h, seed=seed)
                   for h in (1e-6, 1e-8, 1e-9))
    finally:
        forward(x, *params)


def _network(make, rng, x):
    net = make(seed=int(rng.integers(1000))).astype(np.float64).train()
    return network_error(net, x, rng)


@register("gan.discriminator", threshold=1e-6)
def _(rng):
    return _network(gan.discriminator, rng, rng.uniform(-1, 1, (4, gan.IMAGE_DIM)))


@register("gan.generator", threshold=1e-6)
def _(rng):
    return _network(gan.generator, rng, rng.uniform(-1, 1, (4, gan.NOISE_DIM)))


@register("gan.dc_discriminator", threshold=1e-6)
def _(rng):
    return _network(gan.dc_discriminator, rng, rng.uniform(-1, 1, (4, gan.IMAGE_DIM)))


@register("gan.dc_generator", threshold=1e-6)
def _(rng):
    # batch norm in training mode after ReLU: with 4 samples some features have a near-zero batch
    # variance, where the normalisation is so curved that finite differences fail; 8 samples avoid that
    return _network(gan.dc_generator, rng, rng.uniform(-1, 1, (8, gan.NOISE_DIM)))
