"""DeepDream (Mordvintsev, Olah & Tyka 2015, "Inceptionism: Going Deeper into Neural Networks"):
change an image so that it excites a chosen layer even more.

The objective is ``0.5 * sum(a**2)`` for the activation ``a`` of ``model.features[layer]``, so its
gradient w.r.t. ``a`` is ``a`` itself: whatever the layer sees a little of, it is pushed to see more.
Each step jitters the image by a random shift (which averages away the pixel-grid artefacts of strided
layers), takes a gradient step normalised by the mean absolute gradient (so ``step_size`` is in
pixel units whatever the layer's scale), undoes the shift and clips the pixels to the valid range.
Octaves run the same from a small copy of the image up to full size, carrying the added detail up
each time, so structures appear at several scales.
"""
from typing import NamedTuple

import numpy as np
from scipy.ndimage import zoom

from .. import _check
from ..image import SQUEEZENET_MEAN, SQUEEZENET_STD, jitter
from .transfer import _check_size, load_input

__all__ = ["DreamResult", "dream_objective", "dream_step", "deep_dream"]

# The normalised values of pixel intensities 0 and 1, per channel: where the clip keeps the image.
_LOW = (-SQUEEZENET_MEAN / SQUEEZENET_STD).reshape(1, 3, 1, 1)
_HIGH = ((1 - SQUEEZENET_MEAN) / SQUEEZENET_STD).reshape(1, 3, 1, 1)


class DreamResult(NamedTuple):
    """image: (1, 3, H, W) normalised result. losses: float64 (num_octaves * iterations,), the
    objective 0.5 * sum(a**2) before each step. octaves: list of (1, 3, h, w) results of each octave,
    smallest first."""
    image: np.ndarray
    losses: np.ndarray
    octaves: list


def dream_objective(model, x, layer):
    """``0.5 * sum(a**2)`` of ``a = features[layer](x)`` and its gradient w.r.t. x (same shape)."""
    model.features.forward(x, 0, layer + 1)
    a = model.features.outputs[layer]
    # BEGIN SOLUTION
    loss = 0.5 * np.sum(a * a, dtype=np.float64)
    dx = model.features.backward(a, 0, layer + 1)
    # END SOLUTION
    return float(loss), dx


def dream_step(model, img, layer, step_size, ox=0, oy=0):
    """One DeepDream update of ``img`` (1, 3, H, W), jittered by (ox, oy) pixels; returns (loss, new img)."""
    x = jitter(img, ox, oy)
    loss, g = dream_objective(model, x, layer)
    g = jitter(g, -ox, -oy)
    # BEGIN SOLUTION
    step = step_size / max(float(np.abs(g).mean()), 1e-12)
    img = img + img.dtype.type(step) * g
    img = np.clip(img, _LOW, _HIGH).astype(img.dtype, copy=False)
    # END SOLUTION
    return loss, img


def _resize(x, h, w):
    """Bilinear resize of (1, 3, H, W) to (1, 3, h, w)."""
    H, W = x.shape[2:]
    out = zoom(x, (1, 1, h / H, w / W), order=1)
    return out[:, :, :h, :w]


def deep_dream(image, layer=10, image_size=None, num_octaves=3, octave_scale=1.4, iterations=10,
               step_size=0.05, max_jitter=16, seed=0, model=None, progress=True):
    """DeepDream on ``image`` at ``model.features[layer]``.

    Args:
        image: path / course image name / uint8 (H, W, 3) / normalised (1, 3, H, W).
        layer: index into ``model.features`` whose activations are amplified (deeper = more complex
            patterns).
        image_size: shorter side to resize a loaded image to (None keeps its size).
        num_octaves: number of scales; octave i is the image shrunk by ``octave_scale**i``.
        octave_scale: size ratio between consecutive octaves (> 1).
        iterations: steps per octave.
        step_size: step length in normalised pixel units, relative to the mean ``|gradient|``.
        max_jitter: largest random shift in pixels (0 turns jitter off).
        seed: seed of the jitter, for reproducible results.
        model: a SqueezeNet (default pretrained ``squeezenet1_1()``).
    Returns:
        DreamResult ``(image, losses, octaves)``.
    Raises:
        ValueError: bad arguments, or an image whose smallest octave is too small for ``layer``.
    """
    fn = "deep_dream"
    from tqdm.auto import tqdm

    num_octaves = _check.positive_int(fn, "num_octaves", num_octaves)
    iterations = _check.positive_int(fn, "iterations", iterations)
    octave_scale = _check.number(fn, "octave_scale", octave_scale, low=1, low_open=True)
    step_size = _check.number(fn, "step_size", step_size, low=0, low_open=True)
    max_jitter = _check.nonnegative_int(fn, "max_jitter", max_jitter)
    progress = _check.boolean(fn, "progress", progress)
    img = load_input(fn, image, image_size)  # before the (slow) weights, so a wrong path fails at once
    if model is None:
        from ..models.squeezenet import squeezenet1_1
        model = squeezenet1_1()
    _check.model(fn, model, ("features", "dtype"))
    layer = _check.feature_index(fn, "layer", layer, len(model.features))
    img = img.astype(model.dtype)
    rng = _check.rng(fn, "seed", seed)

    H, W = img.shape[2:]
    sizes = [(int(round(H / octave_scale ** i)), int(round(W / octave_scale ** i))) for i in range(num_octaves)]
    smallest = np.zeros((1, 3) + sizes[-1], model.dtype)
    _check_size(fn, model, smallest, layer, f"smallest octave (image {H}x{W} shrunk {num_octaves - 1} times "
                                            f"by {octave_scale:g})")
    bases = [img] + [_resize(img, h, w) for h, w in sizes[1:]]
    losses, results = [], []
    detail = np.zeros_like(bases[-1])
    bar = tqdm(total=num_octaves * iterations, desc=fn, disable=not progress, leave=False)
    for base in reversed(bases):
        detail = _resize(detail, *base.shape[2:])
        x = base + detail
        for _ in range(iterations):
            ox, oy = (int(v) for v in rng.integers(-max_jitter, max_jitter + 1, size=2))
            loss, x = dream_step(model, x, layer, step_size, ox, oy)
            losses.append(loss)
            bar.update()
        detail = x - base
        results.append(x)
    bar.close()
    return DreamResult(x, np.array(losses), results)
