"""Gradient checks of whole modules: a fire module element by element, SqueezeNet by directions.

The SqueezeNet check uses random weights (no download needed) in float64 on a 1x3x33x33 image, with
Chainer-style directional derivatives: two forward passes per direction instead of two per pixel.
"""
import numpy as np

from npnet.models import Fire, SqueezeNet

from .numeric import check_backward
from .registry import module_error, register


@register("fire", threshold=1e-6)
def _(rng):
    fire = Fire(4, 3, 2, 5, dtype=np.float64, rng=rng)
    return module_error(fire, rng.standard_normal((2, 4, 5, 5)), rng)


@register("squeezenet", threshold=1e-5)
def _(rng):
    model = SqueezeNet(dtype=np.float64, seed=int(rng.integers(1000)))
    # PyTorch's default init shrinks the signal layer by layer until the scores hardly depend on the
    # image and the finite differences drown in rounding; He-scaled weights and zero biases keep it alive.
    for _, module in model.named_modules():
        if "weight" in module.params:
            module.params["weight"] *= np.sqrt(6.0)
            module.params["bias"][:] = 0
    x = rng.standard_normal((1, 3, 33, 33))
    scores = model.forward(x)
    dscores = rng.standard_normal(scores.shape)
    dx = model.backward(dscores)
    seed = int(rng.integers(1000))
    # A step can straddle one of the thousands of ReLU/max-pool kinks (seed 4 has a pre-activation
    # within 1e-7 of zero); a 100x smaller step rarely straddles one too, so the better of the two
    # measures the gradient. Rounding stays below 1e-7 relative even at h = 1e-8 here.
    return min(check_backward(model.forward, [x], dscores, [dx], h=h, seed=seed) for h in (1e-6, 1e-8))
