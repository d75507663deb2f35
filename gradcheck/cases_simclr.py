"""Gradient check of the SimCLR (NT-Xent) loss, through the row normalisation and the temperature (float64)."""
import numpy as np

from npnet.models.simclr import simclr_loss_vectorized

from .numeric import eval_numerical_gradient_array, rel_error
from .registry import register


def _loss_error(left, right, tau):
    """Max relative error of both analytic gradients against numerical ones."""
    _, dleft, dright = simclr_loss_vectorized(left, right, tau)
    errors = []
    for i, (z, analytic) in enumerate(((left, dleft), (right, dright))):
        def loss(zi, i=i):
            pair = [left, right]
            pair[i] = zi
            return np.array(simclr_loss_vectorized(*pair, tau)[0])
        errors.append(rel_error(eval_numerical_gradient_array(loss, z.copy(), np.array(1.0)), analytic))
    return max(errors)


@register("simclr.loss", threshold=1e-6)
def _(rng):
    return _loss_error(rng.standard_normal((4, 5)), rng.standard_normal((4, 5)), 0.3)


@register("simclr.loss.small_tau", threshold=1e-5)
def _(rng):
    # tau = 0.001 with every projection close to one direction: all scores near +1000, exp overflows unless
    # each row's largest score is subtracted first. Their spread stays ~1, so the numerical gradient is as
    # exact as the scale allows: h moves a score by ~1000 h, so errors reach ~1e-6 (threshold 1e-5; a spread
    # of ~1000 would leave only rounding noise).
    base = rng.standard_normal(5)
    left, right = (base + 0.03 * rng.standard_normal((4, 5)) for _ in range(2))
    return _loss_error(left, right, 0.001)
