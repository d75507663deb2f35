"""Gradient check of the SimCLR (NT-Xent) loss, through the row normalisation and the temperature (float64)."""
import numpy as np

from npnet.models.simclr import simclr_loss_vectorized

from .numeric import eval_numerical_gradient_array, rel_error
from .registry import register


@register("simclr.loss", threshold=1e-6)
def _(rng):
    left, right = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    _, dleft, dright = simclr_loss_vectorized(left, right, 0.3)
    errors = []
    for i, (z, analytic) in enumerate(((left, dleft), (right, dright))):
        def loss(zi, i=i):
            pair = [left, right]
            pair[i] = zi
            return np.array(simclr_loss_vectorized(*pair, 0.3)[0])
        errors.append(rel_error(eval_numerical_gradient_array(loss, z.copy(), np.array(1.0)), analytic))
    return max(errors)
