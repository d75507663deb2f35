"""Attribution beyond one gradient: integrated gradients, occlusion, and the model randomisation test.

Same conventions as ``npnet.vis.saliency``: ``X`` a normalised float (N, 3, H, W) batch, ``y`` the (N,)
classes to explain, ``model`` a network with the SqueezeNet interface; results in the dtype of ``X``.
"""
import contextlib
import numbers
import warnings

import numpy as np

from .. import _check
from ..errors import NpnetTypeError, NpnetValueError
from ..nn import no_grad
from ..parallel import batch_threads
from .saliency import (check_batch, chunk_size, class_score_gradient, compute_saliency_maps, grad_cam,
                       guided_backprop, guided_grad_cam, smoothgrad)

IG_METHODS = ("gausslegendre", "trapezoid", "right", "middle")


def integration_nodes(steps, method="gausslegendre"):
    """Points ``alphas`` in [0, 1] and weights (summing to 1) of a quadrature rule for an integral on [0, 1].

    ``'gausslegendre'`` (default): Gauss-Legendre nodes and weights (Captum's default);
    ``'trapezoid'``: ``steps`` equally spaced points including both ends (steps >= 2);
    ``'right'``: the right Riemann sum of Sundararajan et al. (k / steps, k = 1..steps);
    ``'middle'``: midpoints.
    """
    return _nodes("integration_nodes", steps, method)


def _nodes(fn, steps, method):
    """integration_nodes, with errors naming the public function ``fn`` that was called."""
    steps = _check.positive_int(fn, "steps", steps)
    if method not in IG_METHODS:
        raise NpnetValueError(f"{fn}: method must be one of {IG_METHODS}; got {method!r}")
    if method == "trapezoid":
        if steps < 2:
            raise NpnetValueError(f"{fn}: the trapezoid rule needs steps >= 2; got {steps}")
        alphas = np.linspace(0.0, 1.0, steps)
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2
    elif method == "gausslegendre":
        # NumPy finds the nodes as eigenvalues of a dense steps x steps matrix
        _check.allocation(fn, f"steps={steps} with method 'gausslegendre'", steps * steps)
        nodes, w = np.polynomial.legendre.leggauss(steps)
        alphas, weights = (nodes + 1) / 2, w / 2
    else:
        alphas = (np.arange(steps) + (1.0 if method == "right" else 0.5)) / steps
        weights = np.full(steps, 1.0 / steps)
    return alphas, weights


def _baseline(fn, baseline, X):
    if baseline is None:
        return np.zeros_like(X)
    if isinstance(baseline, numbers.Real) and not isinstance(baseline, bool):
        b = np.asarray(float(baseline))
    else:
        b = _check.float_array(fn, "baseline", baseline)
    _check.finite(fn, "baseline", b)
    try:
        b = np.broadcast_to(b, X.shape)
    except ValueError:
        raise NpnetValueError(f"{fn}: baseline must be a number or broadcast to X's shape {X.shape}; "
                              f"got shape {b.shape}") from None
    return b.astype(X.dtype)


def _class_scores(X, y, model, batch_size):
    """(N,) scores s_y(X[i]), ``batch_size`` images per forward pass (forward only: no backward caches)."""
    out = []
    # one image stays on the calling thread with BLAS's threads (batch_threads would hold BLAS at one)
    with no_grad(), (batch_threads(model) if len(X) > 1 else contextlib.nullcontext()):
        for i in range(0, len(X), batch_size):
            s = model.forward(X[i:i + batch_size])
            out.append(s[np.arange(len(s)), y[i:i + batch_size]])
    return np.concatenate(out)


def _batch_size(fn, batch_size, X):
    """``batch_size`` checked, or the default for X's image size (``saliency.chunk_size``) when None."""
    return chunk_size(X.shape) if batch_size is None else _check.positive_int(fn, "batch_size", batch_size)


def integrated_gradients(X, y, model, baseline=None, steps=50, batch_size=None, method="gausslegendre"):
    """Integrated gradients (Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks").

    ``IG_i(x) = (x_i - b_i) * integral_0^1 d s_y(b + a (x - b)) / d x_i da``, the integral taken with
    ``integration_nodes(steps, method)``. Completeness says ``sum_i IG_i = s_y(x) - s_y(b)``; the
    returned ``delta`` is how far the quadrature is from it (shrinks as ``steps`` grows).

    The N * steps interpolated images are processed ``batch_size`` at a time, so memory stays
    bounded whatever ``steps`` is.

    Args:
        X: float (N, 3, H, W); y: int (N,); model: the network.
        baseline: None (zeros: the mean image, since X is normalised), a number, or an array
            broadcastable to X's shape.
        steps: number of points on the path; batch_size: images per forward/backward pass (None: sized
            by the image size, ``npnet.vis.saliency.chunk_size``).
        method: one of ``IG_METHODS``. Gauss-Legendre (Captum's default) is the default because it is
            the most accurate at a given ``steps`` on SqueezeNet: at 50 steps on 224x224 sample images
            ``|delta|`` was about 0.2% of the score gap, against 1-2% for the trapezoid and Riemann sums.
    Returns:
        attributions: (N, 3, H, W).
        delta: (N,), ``attributions[i].sum() - (s_y(X[i]) - s_y(baseline[i]))``.
    """
    fn = "integrated_gradients"
    dtype = np.asarray(X).dtype
    X, y = check_batch(fn, X, y, model)
    b = _baseline(fn, baseline, X)
    batch_size = _batch_size(fn, batch_size, X)
    alphas, weights = _nodes(fn, steps, method)
    n, k = X.shape[0], len(alphas)
    path_grad = np.zeros(X.shape, dtype=np.float64)
    # Flatten the (image, step) pairs so every pass is a full batch, whatever N and steps are.
    pairs = [(i, j) for i in range(n) for j in range(k)]
    with batch_threads(model):  # each pass's images split between the cores (npnet.parallel)
        for start in range(0, len(pairs), batch_size):
            img, step = np.array(pairs[start:start + batch_size]).T
            # BEGIN SOLUTION
            a = alphas[step].astype(X.dtype)[:, None, None, None]
            _, g = class_score_gradient(b[img] + a * (X[img] - b[img]), y[img], model)
            for i in np.unique(img):  # the quadrature-weighted sum of image i's gradients in this chunk
                rows = img == i
                path_grad[i] += np.tensordot(weights[step[rows]], g[rows], axes=1)
            # END SOLUTION
    # BEGIN SOLUTION
    attributions = (X - b) * path_grad
    # END SOLUTION
    gap = _class_scores(X, y, model, batch_size).astype(np.float64) - _class_scores(b, y, model, batch_size)
    delta = attributions.sum(axis=(1, 2, 3)) - gap
    return attributions.astype(dtype), delta.astype(dtype)


OCCLUSION_OUTPUTS = ("score", "probability")


def occlusion(X, y, model, window=32, stride=16, fill=0, batch_size=None, output="score"):
    """Occlusion sensitivity (Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional
    Networks"): slide a ``window`` x ``window`` square of value ``fill`` over the image and record how
    much the class score drops (``output='score'``), or the softmax probability of the class with the
    square in place (``output='probability'``, Zeiler & Fergus's figure 7 and the lecture's P(class) maps:
    low where the square hides what the network needs).

    Window positions are ``top = i * stride``, ``left = j * stride`` for every window that fits inside
    the image; when ``stride`` does not divide ``H - window`` the last few rows/columns are never
    covered.

    Args:
        X: float (N, 3, H, W); y: int (N,); model: the network.
        window, stride: in pixels; window <= min(H, W).
        fill: value written into the square, in normalised units (0 = the mean colour).
        batch_size: occluded images per forward pass (None: sized by the image size,
            ``npnet.vis.saliency.chunk_size``). The passes are forward only (``npnet.nn.no_grad``).
        output: ``'score'`` or ``'probability'``.
    Returns:
        (N, H', W') with ``H' = (H - window) // stride + 1`` (likewise W'): entry (i, j) is, with X'
        X occluded at (i * stride, j * stride), ``s_y(X) - s_y(X')`` (positive = the region supports y)
        for ``'score'``, ``P(y | X') = softmax(s(X'))_y`` for ``'probability'``.
    """
    fn = "occlusion"
    dtype = np.asarray(X).dtype
    X, y = check_batch(fn, X, y, model)
    window = _check.positive_int(fn, "window", window)
    stride = _check.positive_int(fn, "stride", stride)
    batch_size = _batch_size(fn, batch_size, X)
    fill = _check.number(fn, "fill", fill)
    if output not in OCCLUSION_OUTPUTS:
        raise NpnetValueError(f"{fn}: output must be one of {OCCLUSION_OUTPUTS}; got {output!r}")
    n, _, h, w = X.shape
    if window > min(h, w):
        raise NpnetValueError(f"{fn}: window ({window}) must fit in the image ({h}x{w})")
    corners = [(top, left) for top in range(0, h - window + 1, stride) for left in range(0, w - window + 1, stride)]
    drops = np.zeros((n, len(corners)), dtype=np.float64)
    base = _class_scores(X, y, model, batch_size)
    with batch_threads(model):  # each pass's images split between the cores (npnet.parallel)
        for i in range(n):
            for start in range(0, len(corners), batch_size):
                chunk = corners[start:start + batch_size]
                # BEGIN SOLUTION
                Xo = np.repeat(X[i:i + 1], len(chunk), axis=0)
                for c, (top, left) in enumerate(chunk):
                    Xo[c, :, top:top + window, left:left + window] = fill
                with no_grad():
                    scores = model.forward(Xo).astype(np.float64)
                if output == "score":
                    drops[i, start:start + len(chunk)] = base[i] - scores[:, y[i]]
                else:
                    z = np.exp(scores - scores.max(axis=1, keepdims=True))
                    drops[i, start:start + len(chunk)] = z[:, y[i]] / z.sum(axis=1)
                # END SOLUTION
    return drops.reshape(n, (h - window) // stride + 1, (w - window) // stride + 1).astype(dtype)


# name -> function (X, y, model) -> map, for model_randomization_test. IG and SmoothGrad use fewer
# evaluations than their defaults: the test recomputes every map once per randomised layer.
RANDOMIZATION_METHODS = {
    "saliency": compute_saliency_maps,
    "guided_backprop": guided_backprop,
    "grad_cam": grad_cam,
    "guided_grad_cam": guided_grad_cam,
    "smoothgrad": lambda X, y, model: smoothgrad(X, y, model, n_samples=10, seed=0),
    "integrated_gradients": lambda X, y, model: integrated_gradients(X, y, model, steps=16)[0],
}


def _reinit(module, rng):
    """Redraw every parameter of ``module`` from a normal with that tensor's own mean and std.

    Random weights at the trained scale: a smaller scale (e.g. PyTorch's default init) shrinks the
    activations layer after layer until the class score's ReLU is dead and every map is constant.
    """
    for _, m in module.named_modules():
        m.params = {k: rng.normal(v.mean(), v.std(), size=v.shape).astype(v.dtype) for k, v in m.params.items()}


def _cascade(model):
    """(name, module) of every layer with parameters, from the output back to the input."""
    stages = []
    for prefix in ("classifier", "features"):
        seq = getattr(model, prefix)
        for i in reversed(range(len(seq))):
            if any(True for _ in seq[i].named_parameters()):
                stages.append((f"{prefix}.{i}", seq[i]))
    return stages


def _rank_maps(m):
    """(N, ...) map -> (N, pixels) of absolute values, colour channels reduced by max like saliency."""
    m = np.abs(m)
    if m.ndim == 4:
        m = m.max(axis=1)
    return m.reshape(m.shape[0], -1)


def model_randomization_test(X, y, model, methods=("saliency", "guided_backprop", "grad_cam", "guided_grad_cam"),
                             seed=0, max_stages=None):
    """Cascading model randomisation test (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

    Re-initialise the layers with parameters one after another from the top (``classifier.1``, then
    ``features.12``, ``features.11``, ... ``features.0``; each stage keeps the earlier ones random;
    every parameter tensor is redrawn from a normal with its own mean and std) and after each stage
    compute every method's map again. A map that explains the *model* should
    change as its learned weights are destroyed; the Spearman rank correlation of ``|map|`` with the
    original ``|map|`` (colour channels reduced by max) measures how little it changed. Adebayo et al.
    found guided backprop nearly insensitive: its correlation stays high.

    The model's parameters are restored before returning, even on error.

    Args:
        X: float (N, 3, H, W); y: int (N,); model: the network (``features``/``classifier`` Sequentials).
        methods: names from ``RANDOMIZATION_METHODS``.
        seed: seed of the re-initialisation.
        max_stages: stop after this many stages (None: all, 10 for SqueezeNet 1.1).
    Returns:
        dict with ``'stages'``: list of S stage names (the layer randomised at each stage),
        ``'correlations'``: {method: (S, N) array of Spearman correlations with the original map}
        (NaN where a map became constant), ``'methods'``: the method names.
    """
    fn = "model_randomization_test"
    X, y = check_batch(fn, X, y, model)
    if isinstance(methods, str) or not isinstance(methods, (list, tuple)):
        raise NpnetTypeError(f"{fn}: methods must be a list of names from {sorted(RANDOMIZATION_METHODS)}; "
                             f"got {methods!r}")
    unknown = [m for m in methods if m not in RANDOMIZATION_METHODS]
    if unknown or not methods:
        raise NpnetValueError(f"{fn}: methods must be a non-empty list of names from {sorted(RANDOMIZATION_METHODS)}; "
                              f"got {list(methods)!r}")
    from scipy import stats  # here, not at the top: importing scipy.stats costs every `npnet` command 0.25 s

    stages = _cascade(model)
    if max_stages is not None:
        stages = stages[:_check.positive_int(fn, "max_stages", max_stages)]
    rng = _check.rng(fn, "seed", seed)
    original = {m: _rank_maps(RANDOMIZATION_METHODS[m](X, y, model)) for m in methods}
    saved = {k: v.copy() for k, v in model.state_dict().items()}
    corr = {m: np.full((len(stages), X.shape[0]), np.nan) for m in methods}
    try:
        for s, (_, module) in enumerate(stages):
            _reinit(module, rng)
            for m in methods:
                maps = _rank_maps(RANDOMIZATION_METHODS[m](X, y, model))
                with warnings.catch_warnings():
                    # A constant map has no ranks; its correlation stays NaN, which the caller sees.
                    warnings.simplefilter("ignore", stats.ConstantInputWarning)
                    for i in range(X.shape[0]):
                        corr[m][s, i] = stats.spearmanr(original[m][i], maps[i]).statistic
    finally:
        model.load_state_dict(saved)
    return {"stages": [name for name, _ in stages], "correlations": corr, "methods": list(methods)}


def check_randomization_result(fn, result):
    """Raise unless ``result`` has the keys of a ``model_randomization_test`` result."""
    if (not isinstance(result, dict) or not {"methods", "stages", "correlations"} <= set(result)
            or not isinstance(result["correlations"], dict)
            or any(m not in result["correlations"] for m in result["methods"])):
        raise NpnetValueError(f"{fn}: result must be the dict model_randomization_test returns "
                              f"(keys 'methods', 'stages', 'correlations' for each method)")


def format_randomization_table(result):
    """The result of ``model_randomization_test`` as a text table: mean correlation per stage and method."""
    check_randomization_result("format_randomization_table", result)
    methods = result["methods"]
    if not methods:
        raise NpnetValueError("format_randomization_table: result['methods'] is empty; the test must have run at "
                              "least one method")
    width = max(len(m) for m in methods) + 2
    lines = ["randomised up to".ljust(18) + "".join(m.rjust(width) for m in methods)]
    for s, stage in enumerate(result["stages"]):
        row = [np.nanmean(result["correlations"][m][s]) if not np.all(np.isnan(result["correlations"][m][s]))
               else np.nan for m in methods]
        lines.append(stage.ljust(18) + "".join(f"{v:{width}.3f}" for v in row))
    return "\n".join(lines)
