"""Gradient checks of the TV^beta image prior (Mahendran & Vedaldi 2015, ``npnet.style.priors``),
float64, every element by centred differences, for beta = 1, 1.5, 2 and 3 and for the naive loops.

The images are a ramp (1 per row, 0.8 per column) under noise of std 0.2, so that the differences of
the last row and column keep one sign: at beta = 1 a pixel's gradient there is a sum of unit-size terms
+-w, which cancel to about 0 for half the signs, and the relative error of a gradient of 1e-7 is
rounding noise of the loss (4e-4 at seed 0 without the ramp, with a right gradient).

Thresholds (worst over seeds 0-19 -> threshold): 5e-6 -> 1e-4 for every beta and the naive loops (an
interior pixel's gradient is a difference of its neighbours' terms and can be small). Phi' with exponent beta - 1 instead of beta/2 - 1, a missing factor 2 or a difference
scattered to the wrong pixel give errors of 0.3 to 1.
"""
import numpy as np

from gradcheck.registry import loss_error, register
from npnet.style import priors


def _image(rng, shape=(2, 3, 5, 6)):
    ramp = np.arange(shape[2])[:, None] + 0.8 * np.arange(shape[3])[None, :]
    return 0.2 * rng.standard_normal(shape) + ramp


def _check(rng, beta, naive=False):
    loss = priors.tv_beta_loss_naive if naive else priors.tv_beta_loss
    return loss_error(lambda x: loss(x, 0.3, beta), _image(rng))


for _beta, _name in ((1.0, "beta1"), (1.5, "beta1_5"), (2.0, "beta2"), (3.0, "beta3")):
    register(f"tv_beta.{_name}", threshold=1e-4)(lambda rng, beta=_beta: _check(rng, beta))


@register("tv_beta.naive", threshold=1e-4)
def _(rng):
    return _check(rng, 1.5, naive=True)
