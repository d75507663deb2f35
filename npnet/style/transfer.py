"""Optimising pixels against SqueezeNet features: style transfer (Gatys, Ecker & Bethge 2016, "Image
Style Transfer Using Convolutional Neural Networks"), feature inversion (Mahendran & Vedaldi 2015,
"Understanding Deep Image Representations by Inverting Them"), texture synthesis (Gatys, Ecker &
Bethge 2015, "Texture Synthesis Using Convolutional Neural Networks") and multi-style blending.

All four minimise one objective over the image x (N = 1, normalised, (1, 3, H, W)):

    w_c * sum((F_c(x) - P)**2) + sum_l w_l * sum((G_l(x) - A_l)**2) + w_t * TV(x)

and differ only in the weights, the targets and the starting image. The gradient w.r.t. x comes from
npnet's own backward passes: one forward up to the deepest layer the loss reads, then one backward in
segments, adding each tapped layer's loss gradient where the backward pass reaches that layer
(``features_backward``).
"""
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from .. import _check
from ..errors import DataNotFoundError, NpnetTypeError, NpnetValueError
from ..image import load_image, preprocess
from ..optim import adam
from .losses import _weight, content_loss, gram_matrix, style_loss, tv_loss
from .priors import DEFAULT_EPS, tv_beta_loss

__all__ = ["PRESETS", "StyleResult", "find_image", "load_input", "min_side", "features_backward",
           "extract_targets", "style_targets", "StyleObjective", "step_sizes", "style_transfer", "feature_inversion",
           "texture_synthesis"]

# The three parameter sets of the CS231n style-transfer notebook (all on the Tuebingen photograph).
PRESETS = {
    "composition_vii": dict(content_image="styles/tubingen.jpg", style_image="styles/composition_vii.jpg",
                            image_size=192, style_size=512, content_layer=3, content_weight=5e-2,
                            style_layers=(1, 4, 6, 7), style_weights=(20000, 500, 12, 1), tv_weight=5e-2),
    "the_scream": dict(content_image="styles/tubingen.jpg", style_image="styles/the_scream.jpg",
                       image_size=192, style_size=224, content_layer=3, content_weight=3e-2,
                       style_layers=(1, 4, 6, 7), style_weights=(200000, 800, 12, 1), tv_weight=2e-2),
    "starry_night": dict(content_image="styles/tubingen.jpg", style_image="styles/starry_night.jpg",
                         image_size=192, style_size=192, content_layer=3, content_weight=6e-2,
                         style_layers=(1, 4, 6, 7), style_weights=(300000, 1000, 15, 3), tv_weight=2e-2),
}


class StyleResult(NamedTuple):
    """What the optimisers return.

    Attributes:
        image: (1, 3, H, W) normalised result (``npnet.image.deprocess`` turns it into a picture).
        losses: dict ``'total'``, ``'content'``, ``'style'``, ``'tv'`` -> float64 array (iterations,),
            the loss at the image each step started from.
        snapshots: list of ``(iteration, image)``: the start (0), every ``snapshot_every`` iterations
            and the end; empty when no snapshots were asked for.
    """
    image: np.ndarray
    losses: dict
    snapshots: list


# ----------------------------------------------------------------------------------- images

def find_image(spec, fn="find_image"):
    """Path of an image given as a file path, a data path ("styles/tubingen.jpg") or a course image
    name ("tubingen", "starry_night"); the last two go through ``npnet.data.lookup.find_data``.

    Raises :class:`npnet.errors.DataNotFoundError` (a FileNotFoundError) naming every place looked in;
    ``fn`` is the public function named in the message.
    """
    from ..data.lookup import find_data

    path = Path(spec).expanduser()
    if path.is_file():
        return path
    candidates = [str(spec)] if path.suffix else [f"styles/{spec}.jpg", f"images/{spec}.jpg"]
    for rel in candidates:
        try:
            return find_data(rel)
        except (FileNotFoundError, ValueError):  # not a data path either: try the next candidate
            continue
    names = " or ".join(map(repr, candidates))
    message = (f"{fn}: no image {str(spec)!r}: no such file, and the data lookup (NPNET_DATA, the user "
               f"cache) has no {names}")
    how = (f"To get it: give an image file, or set NPNET_DATA to a folder that holds {candidates[0]} "
           f"(`npnet data list` shows what is where; `npnet data fetch` downloads what has an official URL).")
    raise DataNotFoundError(f"{message}.\n{how}", f"{message}. {how}")


def load_input(fn, image, size):
    """An image argument -> normalised (1, 3, H, W) float array.

    ``image`` is a path or course image name (loaded with the shorter side resized to ``size``), a
    uint8 (H, W, 3) array or PIL image (resized likewise when ``size`` is given), or an already
    normalised float (1, 3, H, W) array, used as it is (``size`` is then ignored).
    """
    if size is not None:
        size = _check.positive_int(fn, "the image size", size)
    if isinstance(image, (str, Path)):
        return preprocess(load_image(find_image(image, fn), size), None)
    if isinstance(image, Image.Image):
        return preprocess(image, size)
    if isinstance(image, np.ndarray) and image.dtype == np.uint8:
        _check.shape(fn, "image (a uint8 picture)", image, (None, None, 3))
        return preprocess(image, size)
    x = _check.float_array(fn, "image", image, ndim=4, layout="(1, 3, H, W)")
    _check.shape(fn, "image", x, (1, 3, None, None))
    _check.finite(fn, "image", x)
    return x


def min_side(model, layer):
    """Smallest square image side for which ``model.features[0..layer]`` all have non-empty outputs."""
    if layer >= len(model.features) - 1:
        return model.min_size
    for side in range(1, model.min_size + 1):
        try:
            model.features.forward(np.zeros((1, 3, side, side), model.dtype), 0, layer + 1)
        except ValueError:  # a window larger than its input: the image is too small
            continue
        if all(o.size for o in model.features.outputs[:layer + 1]):
            return side
    return model.min_size


def _check_size(fn, model, x, layer, what="image"):
    """Raise ValueError unless the (1, 3, H, W) image ``x`` is large enough for ``features[layer]``."""
    if min(x.shape[2:]) >= model.min_size:
        return
    need = min_side(model, layer)
    if min(x.shape[2:]) < need:
        raise NpnetValueError(f"{fn}: the {what} is {x.shape[2]}x{x.shape[3]} pixels, too small for layer {layer} "
                              f"of SqueezeNet (it needs both sides >= {need}); use a larger size")


# ----------------------------------------------------------------------------------- gradients

def features_backward(model, layer_grads):
    """Backpropagate several feature-map gradients to the image in one backward pass.

    ``layer_grads`` maps a layer index k to dloss/d(output of ``model.features[k]``) from the last
    forward pass (which must have reached the deepest k). The backward pass runs from the deepest
    tap down to the image, segment by segment; where it reaches the output of another tapped layer
    that layer's gradient is added, since the loss depends on that output directly and through every
    later layer.

    Returns:
        dx: gradient w.r.t. the network input, (N, 3, H, W).
    """
    fn = "features_backward"
    _check.model(fn, model, ("features",))
    if not isinstance(layer_grads, dict) or not layer_grads:
        raise NpnetTypeError(f"{fn}: layer_grads must be a non-empty dict {{layer index: gradient}}; "
                             f"got {type(layer_grads).__name__}")
    outputs = model.features.outputs
    for k, grad in layer_grads.items():
        k = _check.feature_index(fn, "a key of layer_grads", k, len(model.features))
        if outputs[k] is None:
            raise NpnetValueError(f"{fn}: the last forward pass did not reach features[{k}]")
        _check.dout(fn, grad, outputs[k].shape, outputs[k].dtype, name=f"layer_grads[{k}]")
    taps = sorted(layer_grads, reverse=True)
    g = 0
    # BEGIN SOLUTION
    for i, k in enumerate(taps):
        g = g + layer_grads[k]
        start = taps[i + 1] + 1 if i + 1 < len(taps) else 0
        g = model.features.backward(g, start, k + 1)
    # END SOLUTION
    return g


def extract_targets(model, x, layers):
    """Features of image ``x`` at ``layers`` (copies), running the network only as deep as needed
    (not at all for no layers: ``{}``)."""
    fn = "extract_targets"
    _check.model(fn, model, ("features", "dtype"))
    x = _check.float_array(fn, "x", x, ndim=4, layout="(N, 3, H, W)")
    layers = [_check.feature_index(fn, f"layers[{i}]", k, len(model.features))
              for i, k in enumerate(_check.sequence(fn, "layers", layers, "indices of model.features"))]
    if not layers:
        return {}
    deepest = max(layers)
    model.features.forward(x.astype(model.dtype, copy=False), 0, deepest + 1)
    return {k: model.features.outputs[k].copy() for k in layers}


def style_targets(model, images, style_layers, blend_weights=None):
    """Target Gram matrices for ``style_layers``: a weighted average over one or more style images.

    Blending styles by averaging their Gram matrices (the statistic the style loss matches) gives a
    style between them; the images may have different sizes since a normalised Gram matrix is
    (C, C) whatever H and W are.

    Args:
        images: list of normalised (1, 3, H_i, W_i) style images.
        blend_weights: one float >= 0 per image (normalised to sum 1); default equal weights.
    Returns:
        list of (1, C_l, C_l) arrays, one per entry of ``style_layers``.
    """
    fn = "style_targets"
    if blend_weights is None:
        blend_weights = [1.0] * len(images)
    blend = list(blend_weights)
    if len(blend) != len(images):
        raise NpnetValueError(f"{fn}: style_blend_weights must have one weight per style image; got "
                              f"{len(blend)} weights for {len(images)} images")
    blend = [_weight(fn, f"style_blend_weights[{i}]", b) for i, b in enumerate(blend)]
    total = float(sum(blend))
    if total <= 0:
        raise NpnetValueError(f"{fn}: style_blend_weights must not all be 0; got {blend}")
    grams = [0] * len(style_layers)
    for img, b in zip(images, blend):
        feats = extract_targets(model, img, style_layers)
        for i, k in enumerate(style_layers):
            grams[i] = grams[i] + (b / total) * gram_matrix(feats[k])
    return grams


class StyleObjective:
    """The total style-transfer loss of an image and its gradient, for a fixed model and targets.

    ``loss, dx, parts = objective(x)`` with x (1, 3, H, W): ``parts`` holds the content, style and
    TV terms. Layers whose weight is 0 are left out, so the forward pass stops at the deepest layer
    that counts (feature inversion at layer 3 never runs layers 4-12). ``tv_beta`` other than 2 swaps
    the total variation for Mahendran & Vedaldi's TV^beta prior (``npnet.style.priors``, with
    ``tv_eps``); 2 is the course's ``tv_loss``.
    """

    def __init__(self, model, content_layer=None, content_target=None, content_weight=0.0, style_layers=(),
                 style_targets=(), style_weights=(), tv_weight=0.0, tv_beta=2.0, tv_eps=DEFAULT_EPS):
        self.model = model
        self.content_layer = content_layer if content_weight else None
        self.content_target = content_target
        self.content_weight = content_weight
        kept = [i for i, w in enumerate(style_weights) if w]
        self.style_layers = [style_layers[i] for i in kept]
        self.style_targets = [style_targets[i] for i in kept]
        self.style_weights = [style_weights[i] for i in kept]
        self.tv_weight = tv_weight
        self.tv_beta, self.tv_eps = tv_beta, tv_eps
        taps = self.style_layers + ([self.content_layer] if self.content_layer is not None else [])
        self.deepest = max(taps) if taps else None

    def __call__(self, x):
        model = self.model
        layer_grads, parts = {}, {"content": 0.0, "style": 0.0, "tv": 0.0}
        if self.deepest is not None:
            model.features.forward(x, 0, self.deepest + 1)
            feats = model.features.outputs
            if self.content_layer is not None:
                parts["content"], layer_grads[self.content_layer] = content_loss(
                    self.content_weight, feats[self.content_layer], self.content_target)
            if self.style_layers:
                parts["style"], grads = style_loss(feats, self.style_layers, self.style_targets,
                                                   self.style_weights)
                for k, g in zip(self.style_layers, grads):
                    layer_grads[k] = layer_grads[k] + g if k in layer_grads else g
        dx = features_backward(model, layer_grads) if layer_grads else np.zeros_like(x)
        parts["tv"], dtv = (tv_loss(x, self.tv_weight) if self.tv_beta == 2
                            else tv_beta_loss(x, self.tv_weight, self.tv_beta, self.tv_eps))
        dx = dx + dtv
        return parts["content"] + parts["style"] + parts["tv"], dx, parts


def _check_weights(fn, style_layers, style_weights, model):
    n = len(model.features)
    layers = [_check.feature_index(fn, f"style_layers[{i}]", k, n)
              for i, k in enumerate(_check.sequence(fn, "style_layers", style_layers, "indices of model.features"))]
    weights = _check.sequence(fn, "style_weights", style_weights, "one weight per style layer")
    if len(weights) != len(layers):
        raise NpnetValueError(f"{fn}: style_weights must have one weight per style layer; got {len(weights)} "
                              f"weights for {len(layers)} layers {layers}")
    return layers, [_weight(fn, f"style_weights[{i}]", w) for i, w in enumerate(weights)]


def _image_shape(fn, image_size):
    if not isinstance(image_size, (tuple, list)):
        side = _check.positive_int(fn, "image_size (an int or an (H, W) pair)", image_size)
        return side, side
    if len(image_size) != 2:
        raise NpnetValueError(f"{fn}: image_size must be an int or an (H, W) pair; got {image_size!r}")
    h, w = image_size
    return _check.positive_int(fn, "image_size[0]", h), _check.positive_int(fn, "image_size[1]", w)


# ----------------------------------------------------------------------------------- optimisation

def step_sizes(num_iterations, learning_rate, final_lr):
    """Adam's learning rate at each of ``num_iterations`` steps: a geometric decay from
    ``learning_rate`` (first step) to ``final_lr`` (last step), whatever the number of steps.

    Adam moves every pixel by about the learning rate on its first steps (its update is the
    gradient divided by the gradient's own RMS), so the rate is a pixel distance in normalised units
    (a pixel spans about 4.5); decaying it over the run gives large steps early and fine ones at
    the end of a run of any length.
    """
    if num_iterations < 2:
        return np.full(num_iterations, float(learning_rate))
    return learning_rate * (final_lr / learning_rate) ** (np.arange(num_iterations) / (num_iterations - 1))


def _optimise(objective, img, num_iterations, learning_rate, final_lr, clamp, snapshot_every, callback,
              progress, desc):
    """Adam on the pixels with a decaying step size (``step_sizes``); returns a StyleResult."""
    from tqdm.auto import tqdm

    from ..display import in_notebook, show_images

    names = ("total", "content", "style", "tv")
    losses = {k: np.zeros(num_iterations + 1) for k in names}
    snapshots = []
    live = progress and in_notebook()  # the course's intermediate images, under the running cell

    def snapshot(t):
        if snapshot_every:
            snapshots.append((t, img.copy()))
            if callback is not None:
                callback(t, snapshots[-1][1])
            if live:
                show_images([snapshots[-1][1]], title=f"{desc}: iteration {t}")

    def record(t):
        loss, dx, parts = objective(img)
        for k, v in zip(names, (loss, parts["content"], parts["style"], parts["tv"])):
            losses[k][t] = v
        return loss, dx

    snapshot(0)
    config = {}
    rates = step_sizes(num_iterations, learning_rate, final_lr)
    bar = tqdm(total=num_iterations, desc=desc, disable=not progress)
    for t in range(num_iterations):
        if clamp is not None:
            np.clip(img, -clamp, clamp, out=img)
        loss, dx = record(t)
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        bar.update()
        config["learning_rate"] = rates[t]
        img, config = adam(img, dx, config)
        if snapshot_every and ((t + 1) % snapshot_every == 0 or t + 1 == num_iterations):
            if clamp is not None:
                np.clip(img, -clamp, clamp, out=img)
            snapshot(t + 1)
    if clamp is not None:
        np.clip(img, -clamp, clamp, out=img)
    # the loss of the image returned, so the bar, the losses and any summary end on the same number
    bar.set_postfix(loss=f"{record(num_iterations)[0]:.4g}")
    bar.close()
    return StyleResult(img, losses, snapshots)


def style_transfer(content_image, style_image, image_size=192, style_size=192, content_layer=3,
                   content_weight=6e-2, style_layers=(1, 4, 6, 7), style_weights=(300000, 1000, 15, 3),
                   tv_weight=2e-2, init_random=False, *, style_blend_weights=None, num_iterations=200,
                   learning_rate=0.1, final_lr=0.01, clamp=1.5, seed=0, model=None, snapshot_every=None,
                   callback=None, progress=True):
    """Style transfer as in the CS231n notebook: Adam on the pixels of the image.

    The defaults are the notebook's Starry Night parameters (``PRESETS['starry_night']``); pass
    ``**PRESETS[name]`` for another preset. Each iteration clamps the pixels to [-clamp, clamp],
    computes the total loss and its gradient, and takes an Adam step whose learning rate decays
    geometrically from ``learning_rate`` to ``final_lr`` over the run (``step_sizes``).

    The course's schedule (learning rate 3.0, a restart of Adam at 0.1 at iteration 180) is not
    used: Adam's first step moves every pixel by about the learning rate, so 3.0 throws the image
    to the clamp (a loss of 4.6e4 jumps to 8e6 on the first step) and only a long run recovers; the
    constant rate then oscillates (the loss climbs again between iterations 76 and 190), and the
    restart repeats the jump. With 0.1 -> 0.01 the loss falls at every step of 5- and 20-iteration
    runs and at all but one of 200 (starry night at 192 px after 200 iterations: 1.25e4 with the
    course's schedule, 8.3e3 with this one).

    Args:
        content_image: path / course image name / uint8 (H, W, 3) / normalised (1, 3, H, W); may be
            None only with ``content_weight == 0`` and ``init_random`` (then ``image_size`` gives
            the result's size: an int for a square, or (H, W)).
        style_image: the same kinds, or a list of them to blend; None when every style weight is 0.
        image_size: shorter side of the content image (and so of the result).
        style_size: shorter side of the style image(s).
        content_layer: index into ``model.features`` whose features the content loss matches.
        content_weight, style_weights (one per entry of ``style_layers``), tv_weight: floats >= 0.
        init_random: start from uniform noise in [0, 1) (normalised units, as the course) instead of
            the content image.
        style_blend_weights: one weight per style image when ``style_image`` is a list (default
            equal); the Gram targets are the weighted average.
        num_iterations: Adam steps (>= 0).
        learning_rate, final_lr: the step size of the first and of the last step (> 0).
        clamp: the pixel bound (> 0) applied before every step and to the result; None turns it off.
        seed: seed of the random initial image (the only randomness), for reproducible results.
        model: a SqueezeNet (default ``squeezenet1_1()``, pretrained float32).
        snapshot_every: keep the image every k iterations (plus the first and last) in
            ``result.snapshots``, and call ``callback(iteration, image)`` for each.
        progress: show a tqdm progress bar; its final figure is the loss of the result. In a Jupyter
            kernel, also display each snapshot under the cell as it is made.
    Returns:
        StyleResult ``(image, losses, snapshots)``; image is (1, 3, H, W) in the model's dtype;
        ``losses[k][t]`` is the loss after t steps, ``losses[k][-1]`` that of the returned image.
    Raises:
        ValueError: a layer index out of range, weights and layers of different lengths, an image too
            small for the chosen layers, bad weights. FileNotFoundError: a missing image file.
    """
    return _pixel_optimisation("style_transfer", content_image, style_image, image_size, style_size,
                               content_layer, content_weight, style_layers, style_weights, tv_weight,
                               init_random, style_blend_weights, num_iterations, learning_rate, final_lr,
                               clamp, seed, model, snapshot_every, callback, progress)


def _pixel_optimisation(fn, content_image, style_image, image_size, style_size, content_layer, content_weight,
                        style_layers, style_weights, tv_weight, init_random, style_blend_weights, num_iterations,
                        learning_rate, final_lr, clamp, seed, model, snapshot_every, callback, progress, *,
                        tv_beta=2.0, tv_eps=DEFAULT_EPS):
    """``style_transfer`` on behalf of the public function ``fn`` (named in errors and on the bar)."""
    # Every number is checked before the (slow) weights are loaded.
    content_weight = _weight(fn, "content_weight", content_weight)
    tv_weight = _weight(fn, "tv_weight", tv_weight)
    tv_beta = _check.number(fn, "tv_beta", tv_beta, low=0, low_open=True)
    tv_eps = _check.number(fn, "tv_eps", tv_eps, low=0, low_open=tv_beta < 2)
    num_iterations = _check.nonnegative_int(fn, "num_iterations", num_iterations)
    learning_rate = _check.number(fn, "learning_rate", learning_rate, low=0, low_open=True)
    final_lr = _check.number(fn, "final_lr", final_lr, low=0, low_open=True)
    clamp = _check.number(fn, "clamp", clamp, low=0, low_open=True, allow_none=True)
    snapshot_every = _check.positive_int(fn, "snapshot_every", snapshot_every) if snapshot_every is not None else None
    init_random = _check.boolean(fn, "init_random", init_random)
    progress = _check.boolean(fn, "progress", progress)
    if callback is not None and not callable(callback):
        raise NpnetTypeError(f"{fn}: callback must be callable as callback(t, img); got {type(callback).__name__}")
    if not isinstance(style_weights, (list, tuple, np.ndarray)):
        raise NpnetTypeError(f"{fn}: style_weights must be a list of numbers; got {style_weights!r:.60}")
    if content_image is None and (content_weight or not init_random):
        raise NpnetValueError(f"{fn}: content_image may be None only with content_weight=0 and init_random=True")
    many = isinstance(style_image, (list, tuple))
    if style_blend_weights is not None and not many:
        raise NpnetValueError(f"{fn}: style_blend_weights needs a list of style images; got one style image")
    styled = any(_weight(fn, f"style_weights[{i}]", w) for i, w in enumerate(style_weights))
    if styled and (style_image is None or (many and not style_image)):
        raise NpnetValueError(f"{fn}: style_image is needed when a style weight is > 0")
    # The images are read before the (slow) weights are loaded, so a wrong path fails at once.
    content = (np.zeros((1, 3) + _image_shape(fn, image_size)) if content_image is None
               else load_input(fn, content_image, image_size))
    styles = [load_input(fn, s, style_size) for s in (style_image if many else [style_image])] if styled else []
    if model is None:
        from ..models.squeezenet import squeezenet1_1
        model = squeezenet1_1()
    _check.model(fn, model, ("features", "dtype"))
    style_layers, style_weights = _check_weights(fn, style_layers, style_weights, model)
    rng = _check.rng(fn, "seed", seed)
    dtype = model.dtype
    content = content.astype(dtype, copy=False)
    styles = [s.astype(dtype, copy=False) for s in styles]
    content_target = None
    if content_weight:
        content_layer = _check.feature_index(fn, "content_layer", content_layer, len(model.features))
        _check_size(fn, model, content, content_layer, "content image")
        content_target = extract_targets(model, content, [content_layer])[content_layer]

    active = [k for k, w in zip(style_layers, style_weights) if w]
    targets = [None] * len(style_layers)
    if active:
        for i, s in enumerate(styles):
            _check_size(fn, model, s, max(active), f"style image {i}" if many else "style image")
        _check_size(fn, model, content, max(active), "image")
        blend = style_blend_weights if many else None
        targets = style_targets(model, styles, style_layers, blend)

    if init_random:
        img = rng.uniform(0, 1, size=content.shape).astype(dtype)
    else:
        img = content.copy()
    objective = StyleObjective(model, content_layer, content_target, content_weight, style_layers, targets,
                               style_weights, tv_weight, tv_beta, tv_eps)
    return _optimise(objective, img, num_iterations, learning_rate, final_lr, clamp, snapshot_every, callback,
                     progress, desc=fn)


def feature_inversion(content_image, image_size=192, content_layer=3, content_weight=6e-2, tv_weight=2e-2, *,
                      num_iterations=200, learning_rate=0.3, final_lr=0.01, clamp=1.5, seed=0, model=None,
                      snapshot_every=None, callback=None, progress=True, tv_beta=2.0, tv_eps=DEFAULT_EPS):
    """Feature inversion (Mahendran & Vedaldi 2015): reconstruct an image from its features at
    ``content_layer`` alone, starting from noise: style transfer with no style term and
    ``init_random=True`` (the course's parameters). The other arguments are ``style_transfer``'s;
    the first step is larger (0.3) than there, since noise is far from any answer (200 iterations on
    tubingen at 192 px end at a loss of 730 with 0.3, 1250 with 0.1).

    ``tv_beta`` (> 0) selects Mahendran & Vedaldi's TV^beta prior ``npnet.style.priors.tv_beta_loss``
    weighted by ``tv_weight``; 2 (the default) is the course's ``tv_loss``. ``tv_eps`` (> 0 when
    tv_beta < 2) smooths the prior's kink at a zero difference.
    """
    return _pixel_optimisation("feature_inversion", content_image, None, image_size, None, content_layer,
                               content_weight, (), (), tv_weight, True, None, num_iterations, learning_rate,
                               final_lr, clamp, seed, model, snapshot_every, callback, progress,
                               tv_beta=tv_beta, tv_eps=tv_eps)


def texture_synthesis(style_image, image_size=192, style_size=192, style_layers=(1, 4, 6, 7),
                      style_weights=(300000, 1000, 15, 3), tv_weight=2e-2, *, style_blend_weights=None,
                      num_iterations=200, learning_rate=0.3, final_lr=0.01, clamp=1.5, seed=0, model=None,
                      snapshot_every=None, callback=None, progress=True):
    """Texture synthesis (Gatys et al. 2015): an image whose Gram matrices match the style image's,
    from noise, with no content term. ``image_size`` is the result's side (int) or (H, W);
    ``style_image`` may be a list to blend (``style_blend_weights=...``). The other arguments are
    ``style_transfer``'s, with a larger first step (0.3) since the start is noise.
    """
    return _pixel_optimisation("texture_synthesis", None, style_image, image_size, style_size, None, 0.0,
                               style_layers, style_weights, tv_weight, True, style_blend_weights, num_iterations,
                               learning_rate, final_lr, clamp, seed, model, snapshot_every, callback, progress)
