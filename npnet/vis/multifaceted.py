"""Multifaceted feature visualisation (Nguyen, Yosinski & Clune 2016, "Multifaceted Feature
Visualization: Uncovering the Different Types of Features Learned By Each Neuron in Deep Neural
Networks"), simplified, with its centre-biased regulariser.

A class unit fires for several kinds of images (a "grocery store" for shelves of produce and for
shop fronts); one class visualisation from noise blends them. Nguyen et al. cluster the training
images of the class in a feature space, start activation maximisation from each cluster's mean image
and get one visualisation per facet. Here:

1. the pool: every image available ranked by the model's probability of the target class, the
   ``pool_size`` best kept (npnet reaches 25 ImageNet images of 25 classes and a few photos, not a
   class's 1300 training images, so the "images of the class" are the ones the network finds most
   like it);
2. ``kmeans`` (Lloyd's algorithm, k-means++ seeding, NumPy) on SqueezeNet's penultimate code, the
   512-d average-pooled output of its last fire module (``pooled_features``); the paper used t-SNE
   of fc7 codes before k-means;
3. from each cluster's mean image (in normalised pixels), ``facet_visualization``: the class
   visualisation of ``npnet.vis.synthesis`` (normalised gradient ascent on the class score with L2
   decay, jitter, clipping, blur; ``create_class_visualization`` itself) started from that image,
   with the centre bias below.

Centre-biased regularisation. Activation maximisation tends to repeat object fragments all over the
image; Nguyen et al. bias the optimisation towards the centre, first optimising a centre region and
letting it grow. The version here, chosen for being easy to state and to test: at iteration t only
pixels inside a centred square may change; its side grows linearly from ``start_fraction`` of the
image side at t = 0 to the whole image at t = ``grow_fraction * num_iterations`` and stays full
after. The result of the gradient step, the blur and the clip is kept inside the mask only, so pixels
outside the square keep their value (at t = 0 the border is exactly the starting image). The
paper's exact phases (their blur radii and patch sizes) are not reproduced.
"""
from typing import NamedTuple

import numpy as np

from .. import _check
from ..errors import NpnetValueError
from .saliency import check_batch
from .synthesis import create_class_visualization

__all__ = ["kmeans_plus_plus", "kmeans", "assign_naive", "centre_mask", "facet_visualization", "class_facets",
           "multifaceted_visualization", "Facets"]


# ----------------------------------------------------------------------------------- k-means

def _points(fn, X, name="X", layout="(N, D)"):
    X = _check.float_array(fn, name, X, ndim=2, layout=layout).astype(np.float64, copy=False)
    _check.finite(fn, name, X)
    return X


def _squared_distances(X, centres):
    """(N, k) squared Euclidean distances, ||x||^2 - 2 x.c + ||c||^2, clipped at 0 (rounding)."""
    d = (X * X).sum(1)[:, None] - 2 * X @ centres.T + (centres * centres).sum(1)[None, :]
    return np.maximum(d, 0)


def assign_naive(X, centres):
    """Index of the nearest centre of each row of X (N, D) among ``centres`` (k, D), by loops (the
    reference for k-means' assignment step)."""
    fn = "assign_naive"
    X = _points(fn, X)
    centres = _points(fn, centres, "centres", "(k, D)")
    _check.shape(fn, "centres", centres, (None, X.shape[1]))
    labels = np.empty(len(X), dtype=np.int64)
    for i, x in enumerate(X):
        best, best_d = 0, np.inf
        for j, c in enumerate(centres):
            d = float(np.sum((x - c) ** 2))
            if d < best_d:
                best, best_d = j, d
        labels[i] = best
    return labels


def kmeans_plus_plus(X, k, seed=None):
    """k-means++ seeding (Arthur & Vassilvitskii 2007): the first centre a uniformly random point, each
    next one a point drawn with probability proportional to its squared distance to the nearest centre
    chosen so far (points equal to a centre are never drawn again while others remain).

    Args:
        X: (N, D) points; k: 1 <= k <= N; seed: int / None / Generator.
    Returns:
        (k, D) float64 centres, rows of X.
    """
    fn = "kmeans_plus_plus"
    X = _points(fn, X)
    k = _check.number(fn, "k", k, low=1, high=len(X), integer=True)
    rng = _check.rng(fn, "seed", seed)
    chosen = [int(rng.integers(len(X)))]
    d = _squared_distances(X, X[chosen])[:, 0]
    for _ in range(1, k):
        total = d.sum()
        nxt = int(rng.choice(len(X), p=d / total)) if total > 0 else int(rng.integers(len(X)))
        chosen.append(nxt)
        d = np.minimum(d, _squared_distances(X, X[[nxt]])[:, 0])
    return X[chosen].copy()


def kmeans(X, k, seed=None, max_iter=100):
    """k-means clustering by Lloyd's algorithm from a k-means++ start.

    Alternates: assign every point to its nearest centre; move every centre to the mean of its points
    (a centre left with no point stays where it is). Stops when no assignment changes or after
    ``max_iter`` rounds.

    Args:
        X: (N, D) points; k: clusters, 1..N; seed: int / None / Generator (the k-means++ draws);
        max_iter: at most this many rounds.
    Returns:
        centres (k, D) float64, labels (N,) int64 in [0, k), inertia (sum of squared distances of the
        points to their centres, float).
    """
    fn = "kmeans"
    X = _points(fn, X)
    k = _check.number(fn, "k", k, low=1, high=len(X), integer=True)
    max_iter = _check.positive_int(fn, "max_iter", max_iter)
    centres = kmeans_plus_plus(X, k, seed)
    labels = None
    for _ in range(max_iter):
        new = _squared_distances(X, centres).argmin(axis=1)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            if np.any(labels == j):
                centres[j] = X[labels == j].mean(axis=0)
    inertia = float(np.sum((X - centres[labels]) ** 2))
    return centres, labels, inertia


# ----------------------------------------------------------------------------------- centre bias

def _fractions(fn, start_fraction, grow_fraction):
    return (_check.number(fn, "start_fraction", start_fraction, low=0, high=1, low_open=True),
            _check.number(fn, "grow_fraction", grow_fraction, low=0, high=1))


def centre_mask(shape, t, num_iterations, start_fraction=0.5, grow_fraction=0.75):
    """The centre-biased region at iteration t: a (H, W) 0/1 float array, 1 inside a centred rectangle.

    The rectangle spans ``round(f * H)`` rows and ``round(f * W)`` columns (at least 1; centred, an odd
    remainder rounded towards the top left), where f is ``start_fraction`` at t = 0 and grows linearly
    to 1 (the whole image) at ``t = grow_fraction * num_iterations``, staying 1 from then on.
    """
    fn = "centre_mask"
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise NpnetValueError(f"{fn}: shape must be the image's (H, W); got {shape!r:.60}")
    H, W = (_check.positive_int(fn, f"shape[{i}]", s) for i, s in enumerate(shape))
    t = _check.nonnegative_int(fn, "t", t)
    num_iterations = _check.positive_int(fn, "num_iterations", num_iterations)
    start, grow = _fractions(fn, start_fraction, grow_fraction)
    done = grow * num_iterations
    fraction = 1.0 if t >= done else start + (1 - start) * t / done
    mask = np.zeros((H, W))
    h, w = max(1, round(fraction * H)), max(1, round(fraction * W))  # the square's rows and columns
    mask[(H - h) // 2:(H - h) // 2 + h, (W - w) // 2:(W - w) // 2 + w] = 1
    return mask


# ----------------------------------------------------------------------------------- one facet

def facet_visualization(target_y, model, init, *, l2_reg=1e-3, learning_rate=10, num_iterations=100,
                        blur_every=10, max_jitter=16, centre_bias=True, start_fraction=0.5, grow_fraction=0.75,
                        seed=None, progress=False):
    """Class visualisation started from ``init`` (a facet's mean image), with the centre bias.

    ``create_class_visualization`` from ``init``: each iteration rolls by a random (ox, oy) in
    [0, max_jitter]^2, takes ``class_visualization_update_step`` (normalised ascent on
    ``s_y - l2_reg ||I||^2``), rolls back, clips to the range of real pixels, blurs (sigma 0.5) every
    ``blur_every`` iterations -- and, with ``centre_bias``, keeps only the change inside
    ``centre_mask`` of that iteration.

    Args:
        target_y: ImageNet class; model: the network; init: normalised (1, 3, H, W) start (not modified).
        l2_reg, learning_rate, num_iterations, blur_every, max_jitter: as ``create_class_visualization``
            (the step is smaller by default, 10: the start is already an image, not noise).
        centre_bias, start_fraction, grow_fraction: the regulariser (see ``centre_mask``).
        seed: int / None / Generator, the jitter.
    Returns:
        the normalised (1, 3, H, W) image, in init's dtype.
    """
    fn = "facet_visualization"
    _check.model(fn, model, ("forward", "backward", "check_input", "num_classes", "dtype"))
    img = _check.float_array(fn, "init", init, ndim=4, layout="(1, 3, H, W)")
    _check.shape(fn, "init", img, (1, 3, None, None))
    _check.finite(fn, "init", img)
    check_batch(fn, img, [target_y], model)
    # the arguments create_class_visualization would check, checked here so the errors name this function
    l2_reg = _check.number(fn, "l2_reg", l2_reg, low=0)
    learning_rate = _check.number(fn, "learning_rate", learning_rate, low=0, low_open=True)
    num_iterations = _check.positive_int(fn, "num_iterations", num_iterations)
    blur_every = _check.positive_int(fn, "blur_every", blur_every)
    max_jitter = _check.nonnegative_int(fn, "max_jitter", max_jitter)
    centre_bias = _check.boolean(fn, "centre_bias", centre_bias)
    progress = _check.boolean(fn, "progress", progress)
    start_fraction, grow_fraction = _fractions(fn, start_fraction, grow_fraction)
    rng = _check.rng(fn, "seed", seed)

    def region(t):
        return centre_mask(img.shape[2:], t, num_iterations, start_fraction, grow_fraction)

    return create_class_visualization(target_y, model, img.dtype, l2_reg=l2_reg, learning_rate=learning_rate,
                                      num_iterations=num_iterations, blur_every=blur_every, max_jitter=max_jitter,
                                      seed=rng, progress=progress, generate_plots=False, init=img,
                                      region=region if centre_bias else None)


# ----------------------------------------------------------------------------------- the facets

class Facets(NamedTuple):
    """What ``class_facets`` / ``multifaceted_visualization`` return.

    Attributes:
        pool: (P,) indices into X of the pool, best first (by P(target)).
        probabilities: (P,) the model's probability of the target class for each pool image.
        labels: (P,) cluster of each pool image, in [0, k).
        means: list of k normalised (1, 3, H, W) mean images, one per cluster.
        images: list of k visualisations (empty from ``class_facets``).
    """
    pool: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray
    means: list
    images: list


def class_facets(target_y, model, X, k=3, pool_size=10, seed=0):
    """Pool the images most like ``target_y``, cluster their penultimate codes, return each cluster's mean.

    Args:
        target_y: ImageNet class; model: the network.
        X: (N, 3, H, W) normalised candidate images (all available ones).
        k: facets (clusters), 1..pool_size; pool_size: images kept, 1..N; seed: k-means++'s seed.
    Returns:
        ``Facets`` with an empty ``images``; clusters are numbered by their best pool image (cluster 0
        holds the most target-like image).
    """
    from .activations import pooled_features

    fn = "class_facets"
    _check.model(fn, model, ("forward", "backward", "check_input", "num_classes", "dtype"))
    X = model.check_input(fn, X)
    _check.finite(fn, "X", X)
    _check.labels(fn, "target_y", target_y, 1, model.num_classes)
    _check.rng(fn, "seed", seed)  # refused here, not by kmeans_plus_plus
    pool_size = _check.number(fn, "pool_size", pool_size, low=1, high=len(X), integer=True)
    k = _check.number(fn, "k", k, low=1, high=pool_size, integer=True)
    scores = np.concatenate([model.forward(X[i:i + 8]) for i in range(0, len(X), 8)]).astype(np.float64)
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p = p[:, target_y] / p.sum(axis=1)
    pool = np.argsort(-p, kind="stable")[:pool_size]
    _, labels, _ = kmeans(pooled_features(model, X[pool]), k, seed)
    # renumber clusters by first appearance in the ranked pool, so facet 0 is the most target-like
    order = list(dict.fromkeys(labels.tolist()))
    order += [j for j in range(k) if j not in order]
    labels = np.array([order.index(j) for j in labels])
    means = [X[pool][labels == j].mean(axis=0, keepdims=True) if np.any(labels == j) else X[pool[:1]]
             for j in range(k)]
    return Facets(pool, p[pool], labels, means, [])


def multifaceted_visualization(target_y, model, X, k=3, pool_size=10, seed=0, progress=False, **kwargs):
    """``class_facets`` then ``facet_visualization`` from each facet's mean image (``kwargs`` go to the
    latter, e.g. ``num_iterations``, ``centre_bias``); returns ``Facets`` with ``images`` filled in."""
    progress = _check.boolean("multifaceted_visualization", "progress", progress)
    facets = class_facets(target_y, model, X, k, pool_size, seed)
    images = [facet_visualization(target_y, model, m, seed=seed, progress=progress, **kwargs) for m in facets.means]
    return facets._replace(images=images)
