"""Images made by gradient ascent on the input: fooling images and class visualisation.

Names and arguments follow the CS231n NetworkVisualization notebook. Images are normalised float
(N, 3, H, W) arrays (``npnet.image.preprocess``); ``npnet.image.deprocess`` turns one into pixels.
"""
import warnings

import numpy as np
from tqdm.auto import tqdm

from .. import _check
from ..display import in_notebook, show_images
from ..image import SQUEEZENET_MEAN, SQUEEZENET_STD, blur_image, jitter
from .saliency import check_batch, class_score_gradient
from ..errors import NpnetTypeError, NpnetValueError


def _per_image_norm(g):
    """L2 norm of each image of an (N, ...) array, shaped (N, 1, 1, 1); never 0 (a zero gradient stays 0)."""
    norm = np.sqrt(np.sum(g.astype(np.float64) ** 2, axis=tuple(range(1, g.ndim))))
    return np.maximum(norm, np.finfo(g.dtype).tiny).astype(g.dtype)[:, None, None, None]


OBJECTIVES = ("score", "log_prob")


def make_fooling_image(X, target_y, model, learning_rate=1, max_iter=100, return_info=False, progress=False,
                       objective="score"):
    """Change images imperceptibly until ``model`` classifies them as ``target_y`` (Szegedy et al. 2014,
    "Intriguing properties of neural networks").

    Normalised gradient ascent on the target's unnormalised score: ``X += lr * g / ||g||_2`` with
    ``g = d s_target / d X`` (norm per image), stopping for each image as soon as its top-1 class is
    ``target_y``. An image that is not fooled after ``max_iter`` steps triggers a ``RuntimeWarning``.

    Raising the target score can raise a similar class with it (on sample image 13, class 6 drags
    class 397 along and never overtakes it); ``objective="log_prob"`` ascends the target's log
    softmax probability instead, whose gradient also pushes the competitors down.

    Args:
        X: normalised images, float (N, 3, H, W) (N = 1 in the notebook).
        target_y: class to reach, an int or (N,) ints.
        model: the network (see ``npnet.vis.saliency``).
        learning_rate: step length in normalised units (> 0).
        max_iter: the most gradient steps per image.
        return_info: also return a dict ``{'iterations': (N,) steps used, 'success': (N,) bool}``.
        progress: show a tqdm progress bar.
        objective: ``'score'`` (the course's: the unnormalised score s_target) or ``'log_prob'``
            (``s_target - logsumexp(s)``).
    Returns:
        X_fooling (N, 3, H, W) in X's dtype (and the info dict when ``return_info``).
    """
    fn = "make_fooling_image"
    dtype = np.asarray(X).dtype
    _check.model(fn, model, ("forward", "backward", "check_input", "num_classes", "dtype"))
    X = model.check_input(fn, X)
    target = np.broadcast_to(target_y, (X.shape[0],)) if np.ndim(target_y) == 0 else target_y
    X, target = check_batch(fn, X, target, model)
    learning_rate = _check.number(fn, "learning_rate", learning_rate, low=0, low_open=True)
    max_iter = _check.nonnegative_int(fn, "max_iter", max_iter)
    return_info = _check.boolean(fn, "return_info", return_info)
    progress = _check.boolean(fn, "progress", progress)
    if objective not in OBJECTIVES:
        raise NpnetValueError(f"{fn}: objective must be one of {OBJECTIVES}; got {objective!r}")

    X_fooling = X.copy()
    iterations = np.full(X.shape[0], max_iter)
    success = np.zeros(X.shape[0], dtype=bool)
    active = np.arange(X.shape[0])  # images not fooled yet
    for it in tqdm(range(max_iter + 1), desc=fn, disable=not progress, leave=False):
        scores = model.forward(X_fooling[active])
        fooled = scores.argmax(axis=1) == target[active]
        success[active[fooled]] = True
        iterations[active[fooled]] = it
        if it == max_iter or fooled.all():
            break  # before the backward pass: its gradient would not be used
        dX = model.backward(_objective_gradient(scores, target[active], objective))[~fooled]
        active = active[~fooled]
        # BEGIN SOLUTION
        X_fooling[active] += learning_rate * dX / _per_image_norm(dX)
        # END SOLUTION
    if not success.all():
        warnings.warn(f"{fn}: {np.sum(~success)} of {len(success)} image(s) not classified as the target "
                      f"after max_iter={max_iter} steps; try a larger max_iter", RuntimeWarning, stacklevel=2)
    X_fooling = X_fooling.astype(dtype, copy=False)
    return (X_fooling, {"iterations": iterations, "success": success}) if return_info else X_fooling


def _objective_gradient(scores, y, objective):
    """Gradient of each image's objective w.r.t. its (N, C) scores: one-hot, minus softmax for log_prob."""
    d = np.zeros_like(scores)
    # BEGIN SOLUTION
    d[np.arange(len(y)), y] = 1
    if objective == "log_prob":
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        d -= p / p.sum(axis=1, keepdims=True)
    # END SOLUTION
    return d


def _pixel_range(dtype):
    """Per-channel (1, 3, 1, 1) bounds of normalised images whose pixels lie in [0, 1]."""
    lo = (-SQUEEZENET_MEAN / SQUEEZENET_STD).astype(dtype)[None, :, None, None]
    hi = ((1 - SQUEEZENET_MEAN) / SQUEEZENET_STD).astype(dtype)[None, :, None, None]
    return lo, hi


def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    """One step of gradient ascent on ``s_y(I) - l2_reg * ||I||^2`` (Simonyan et al. 2014).

    ``img += learning_rate * g / ||g||_2`` with g the gradient of that objective.

    Args:
        img: normalised image, float (1, 3, H, W); updated IN PLACE (as the notebook's tensor is).
        model: the network; target_y: int class; l2_reg: lambda >= 0; learning_rate: > 0.
    Returns:
        ``img`` (the same array), for convenience.
    """
    fn = "class_visualization_update_step"
    l2_reg = _check.number(fn, "l2_reg", l2_reg, low=0)
    learning_rate = _check.number(fn, "learning_rate", learning_rate, low=0, low_open=True)
    img = _check.float_array(fn, "img", _check.in_place(fn, "img", img), ndim=4, layout="(1, 3, H, W)")
    _check.shape(fn, "img", img, (1, 3, None, None))
    X, y = check_batch(fn, img, target_y, model)
    # BEGIN SOLUTION
    _, g = class_score_gradient(X, y, model)
    g = g - 2 * l2_reg * X
    img += (learning_rate * g / _per_image_norm(g)).astype(img.dtype)
    # END SOLUTION
    return img


def create_class_visualization(target_y, model, dtype=None, *, l2_reg=1e-3, learning_rate=25, num_iterations=100,
                               blur_every=10, max_jitter=16, show_every=25, seed=None, callback=None,
                               image_size=224, progress=False, generate_plots=True, init=None, region=None):
    """Synthesise an image the model scores highly as ``target_y`` (Simonyan et al. 2014, with the
    jitter / clipping / blur regularisers of Yosinski et al. 2015, "Understanding Neural Networks
    Through Deep Visualization").

    Starting from Gaussian noise, each iteration: roll the image by a random (ox, oy) in
    [0, max_jitter]^2, take ``class_visualization_update_step``, roll back, clip every channel to the
    range of real pixels, and every ``blur_every`` iterations (t = 0, blur_every, ...) blur with
    sigma 0.5. The noise and the jitter come from ``np.random.default_rng(seed)``.

    Args:
        target_y: ImageNet class, int in [0, model.num_classes).
        model: the network.
        dtype: the course's third argument (``create_class_visualization(target_y, model, dtype)``,
            a torch type there): np.float32 or np.float64, the dtype of the image; None means the
            model's dtype. The other arguments are keyword-only, as the course's ``**kwargs``.
        l2_reg, learning_rate: as in ``class_visualization_update_step``.
        num_iterations, blur_every, max_jitter, show_every: counts in iterations / pixels.
        seed: int or None.
        callback: called as ``callback(t, img)`` at t = 0, every ``show_every`` iterations and at the
            end (the notebook's plotting hook); ``img`` is the current (1, 3, S, S) image, do not modify.
        image_size: side S of the square image.
        progress: show a tqdm progress bar.
        generate_plots: in a Jupyter kernel, display the image under the cell at the callback's times
            (the course's plots, which its ``generate_plots`` keyword turns off); outside a kernel
            nothing is drawn.
        init: a normalised (1, 3, H, W) image to start from instead of noise (not modified; no noise
            is drawn and ``image_size`` is not used).
        region: ``region(t)`` -> an (H, W) array; where it is 0 the change of iteration t is undone,
            those pixels keep their value (``npnet.vis.multifaceted``'s centre bias).
    Returns:
        The normalised image, (1, 3, S, S) in ``dtype`` (``deprocess`` it to look at it).
    """
    fn = "create_class_visualization"
    _check.model(fn, model, ("forward", "backward", "check_input", "num_classes", "dtype"))
    _check.labels(fn, "target_y", target_y, 1, model.num_classes)
    _check.number(fn, "l2_reg", l2_reg, low=0)
    _check.number(fn, "learning_rate", learning_rate, low=0, low_open=True)
    num_iterations = _check.positive_int(fn, "num_iterations", num_iterations)
    blur_every = _check.positive_int(fn, "blur_every", blur_every)
    show_every = _check.positive_int(fn, "show_every", show_every)
    max_jitter = _check.nonnegative_int(fn, "max_jitter", max_jitter)
    image_size = _check.positive_int(fn, "image_size", image_size)
    progress = _check.boolean(fn, "progress", progress)
    live = _check.boolean(fn, "generate_plots", generate_plots) and in_notebook()
    if callback is not None and not callable(callback):
        raise NpnetTypeError(f"{fn}: callback must be callable as callback(t, img); got {type(callback).__name__}")
    if region is not None and not callable(region):
        raise NpnetTypeError(f"{fn}: region must be callable as region(t) -> (H, W) mask; got {type(region).__name__}")
    image_dtype = _check.float_dtype(fn, model.dtype if dtype is None else dtype)
    rng = _check.rng(fn, "seed", seed)
    if init is None:
        img = rng.standard_normal((1, 3, image_size, image_size)).astype(image_dtype)
    else:
        img = _check.float_array(fn, "init", init, ndim=4, layout="(1, 3, H, W)")
        _check.shape(fn, "init", img, (1, 3, None, None))
        _check.finite(fn, "init", img)
        img = img.astype(image_dtype)  # a copy: the caller's image stays as it is
    lo, hi = _pixel_range(img.dtype)
    for t in tqdm(range(num_iterations), desc=f"class {target_y}", disable=not progress, leave=False):
        ox, oy = (int(v) for v in rng.integers(0, max_jitter + 1, size=2))
        before = None if region is None else img.copy()  # a copy: the step may update img in place
        # BEGIN SOLUTION
        img = jitter(img, ox, oy)
        class_visualization_update_step(img, model, target_y, l2_reg, learning_rate)
        img = np.clip(jitter(img, -ox, -oy), lo, hi)
        if t % blur_every == 0:
            img = blur_image(img, sigma=0.5)
        # END SOLUTION
        if region is not None:
            img = np.where(region(t) > 0, img, before)
        if t == 0 or (t + 1) % show_every == 0 or t == num_iterations - 1:
            if callback is not None:
                callback(t, img)
            if live:
                show_images([img], title=f"class {target_y}, iteration {t + 1} / {num_iterations}", height=2.2)
    return img


# The name the course's 2019-2020 notebooks use.
make_fool_image = make_fooling_image
