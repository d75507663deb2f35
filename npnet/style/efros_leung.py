"""Non-parametric texture synthesis (Efros & Leung 1999, "Texture Synthesis by Non-parametric
Sampling"): the lecture's baseline before Gram matrices.

The texture is grown one pixel at a time from a 3x3 seed cut from the sample. For an unfilled pixel
p, the n x n window around it in the result (the "template") is compared with every n x n window of
the sample by a sum of squared differences over the template's KNOWN pixels only, weighted by a 2-D
Gaussian centred on p (sigma = n / 6.4, the paper's choice) so that near neighbours count most, and
divided by the total weight used. Among the sample windows within ``(1 + eps)`` of the best distance
one is drawn at random and its centre pixel copied to p. Pixels are visited ring by ring: at each
pass every unfilled pixel with a filled 8-neighbour, the ones with the most filled pixels in their
window first (the paper's order).

What is left out of the paper: its MaxErrThreshold (a pixel whose best match is worse than 0.3 waits
for a later pass) -- here every pixel is filled on its first visit, so synthesis always ends in H*W
steps; and windows are never wrapped around the sample's border.

The matching loop (every sample window against one template) is a Numba kernel,
``window_distances``; ``window_distances_naive`` is the same distance in NumPy (sliding windows and
an einsum) and ``efros_leung(..., kernel="naive")`` the whole synthesis on it, the reference the
fast version is tested equal to on small inputs.
"""
import numpy as np
from numba import njit
from tqdm.auto import tqdm

from .. import _check
from ..errors import NpnetValueError

__all__ = ["gaussian_window", "window_distances", "window_distances_naive", "match_candidates", "efros_leung"]

def gaussian_window(size, sigma=None):
    """(size, size) float64 Gaussian weights centred on the middle pixel (peak 1); ``sigma`` defaults to
    ``size / 6.4`` (Efros & Leung)."""
    fn = "gaussian_window"
    size = _check.positive_int(fn, "size", size)
    sigma = size / 6.4 if sigma is None else _check.number(fn, "sigma", sigma, low=0, low_open=True)
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-r * r / (2 * sigma * sigma))
    return np.outer(g, g)


@njit(cache=True, nogil=True)
def _distances(sample, template, weight, rows, cols, out):
    """out[a, b] = sum_{(i, j) known} weight[i, j] * ||sample[a+i, b+j] - template[i, j]||^2 / sum(weight)
    over the known offsets (rows[k], cols[k]) of the template (those with weight > 0)."""
    total = 0.0
    for k in range(rows.shape[0]):
        total += weight[rows[k], cols[k]]
    C = sample.shape[2]
    for a in range(out.shape[0]):
        for b in range(out.shape[1]):
            acc = 0.0
            for k in range(rows.shape[0]):
                i, j = rows[k], cols[k]
                ssd = 0.0
                for c in range(C):
                    d = sample[a + i, b + j, c] - template[i, j, c]
                    ssd += d * d
                acc += weight[i, j] * ssd
            out[a, b] = acc / total


def _template_args(fn, sample, template, weight):
    sample = _check.float_array(fn, "sample", sample, ndim=3, layout="(h, w, C)").astype(np.float64, copy=False)
    template = _check.float_array(fn, "template", template, ndim=3, layout="(n, n, C)").astype(np.float64,
                                                                                                 copy=False)
    n = template.shape[0]
    _check.shape(fn, "template", template, (n, n, sample.shape[2]))
    weight = _check.float_array(fn, "weight", weight, ndim=2, layout="(n, n)").astype(np.float64, copy=False)
    _check.shape(fn, "weight", weight, (n, n))
    if n > min(sample.shape[:2]):
        raise NpnetValueError(f"{fn}: the window ({n}x{n}) is larger than the sample "
                              f"({sample.shape[0]}x{sample.shape[1]})")
    for name, a in (("sample", sample), ("template", template), ("weight", weight)):
        _check.finite(fn, name, a)
    if not np.any(weight > 0) or np.any(weight < 0):
        raise NpnetValueError(f"{fn}: weight must be >= 0 with at least one known pixel (> 0)")
    return sample, template, weight


def _numba_distances(sample, template, weight):
    rows, cols = np.nonzero(weight > 0)
    n = template.shape[0]
    out = np.empty((sample.shape[0] - n + 1, sample.shape[1] - n + 1))
    _distances(sample, template, weight, rows, cols, out)
    return out


def _naive_distances(sample, template, weight):
    n = template.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(sample, (n, n), axis=(0, 1))  # (h', w', C, n, n)
    diff = windows - template.transpose(2, 0, 1)
    return np.einsum("abcij,ij->ab", diff * diff, weight) / weight.sum()


# efros_leung's matching, on arguments it has checked once (not at each of its H*W calls)
KERNELS = {"numba": _numba_distances, "naive": _naive_distances}


def window_distances(sample, template, weight):
    """Gaussian-weighted SSD between a template and every window of the sample (Numba).

    Args:
        sample: (h, w, C) float texture sample.
        template: (n, n, C) the window around the pixel being filled; its unknown pixels are ignored.
        weight: (n, n) >= 0, the Gaussian times the known-pixel mask (0 where unknown).
    Returns:
        (h - n + 1, w - n + 1) float64: ``sum w_ij ||S[a+i, b+j] - T_ij||^2 / sum w_ij``; window
        (a, b) is centred on sample pixel (a + n//2, b + n//2).
    """
    return _numba_distances(*_template_args("window_distances", sample, template, weight))


def window_distances_naive(sample, template, weight):
    """``window_distances`` in NumPy (sliding windows, no Numba): the reference, same arguments and result."""
    return _naive_distances(*_template_args("window_distances_naive", sample, template, weight))


def match_candidates(distances, eps):
    """Flat indices (ascending) of the windows whose distance is within ``(1 + eps)`` of the smallest:
    the windows Efros & Leung draw from. With a best distance of 0 only exact matches qualify.
    ``distances``: floats >= 0 of any shape (``window_distances`` gives (h', w')); ``eps`` >= 0."""
    fn = "match_candidates"
    d = _check.float_array(fn, "distances", distances)
    _check.finite(fn, "distances", d)
    if np.any(d < 0):
        raise NpnetValueError(f"{fn}: distances must be >= 0 (sums of squares); got a minimum of {d.min():g}")
    eps = _check.number(fn, "eps", eps, low=0)
    return np.flatnonzero(d <= d.min() * (1 + eps))


def _output_shape(fn, size):
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise NpnetValueError(f"{fn}: size must be an int or an (H, W) pair; got {size!r}")
        return tuple(_check.positive_int(fn, f"size[{i}]", s) for i, s in enumerate(size))
    side = _check.positive_int(fn, "size (an int or an (H, W) pair)", size)
    return side, side


def _frontier(known):
    """Unfilled pixels with at least one filled 8-neighbour, (K, 2) row-major."""
    grown = known.copy()
    p = np.pad(known, 1)
    H, W = known.shape
    for di in range(3):
        for dj in range(3):
            grown |= p[di:di + H, dj:dj + W]
    return np.argwhere(grown & ~known)


def efros_leung(sample, size, window=11, eps=0.1, seed=None, sigma=None, kernel="numba", progress=False):
    """Grow a texture like ``sample`` (Efros & Leung 1999); see the module docstring for the algorithm.

    Args:
        sample: the texture sample, uint8 (h, w, C) pixels or float (h, w, C) (any range).
        size: side of the square result, or its (H, W).
        window: n, the odd side of the matching window, >= 3 (larger: larger structures kept, slower);
            at most the sample's shorter side.
        eps: the candidate tolerance: every window within ``(1 + eps) * best`` distance may be copied.
        seed: int / None / Generator: the seed patch's place and every random choice.
        sigma: the Gaussian's sigma in pixels (default window / 6.4).
        kernel: ``'numba'`` (fast) or ``'naive'`` (NumPy reference, for tests on tiny inputs).
        progress: show a tqdm bar over the pixels.
    Returns:
        (H, W, C) in the sample's dtype (uint8 in, uint8 out): every pixel is a copy of a sample pixel.
    """
    fn = "efros_leung"
    raw = np.asarray(sample)
    if raw.dtype != np.uint8:
        raw = _check.float_array(fn, "sample", sample, ndim=3, layout="(h, w, C)")
        _check.finite(fn, "sample", raw)
    elif raw.ndim != 3:
        raise NpnetValueError(f"{fn}: sample must be (h, w, C); got shape {raw.shape}")
    H, W = _output_shape(fn, size)
    if min(H, W) < 3:
        raise NpnetValueError(f"{fn}: the result must be at least 3x3 (the seed patch); got size {size!r}")
    if min(raw.shape[:2]) < 3:
        raise NpnetValueError(f"{fn}: the sample must be at least 3x3 (the seed patch); got {raw.shape[:2]}")
    n = _check.positive_int(fn, "window", window)
    # a 1x1 window holds only the pixel being filled, never known: nothing to match
    if n % 2 == 0 or n < 3 or n > min(raw.shape[:2]):
        raise NpnetValueError(f"{fn}: window must be odd, >= 3 and at most the sample's shorter side "
                              f"({min(raw.shape[:2])}); got {window}")
    eps = _check.number(fn, "eps", eps, low=0)
    if sigma is not None:
        sigma = _check.number(fn, "sigma", sigma, low=0, low_open=True)
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise NpnetValueError(f"{fn}: kernel must be one of {tuple(KERNELS)}; got {kernel!r}")
    progress = _check.boolean(fn, "progress", progress)
    distances = KERNELS[kernel]
    gauss = gaussian_window(n, sigma)
    rng = _check.rng(fn, "seed", seed)
    src = raw.astype(np.float64)
    half = n // 2

    # the result and its known mask, padded by half a window so every template is a plain slice
    out = np.zeros((H + 2 * half, W + 2 * half, src.shape[2]))
    known = np.zeros((H + 2 * half, W + 2 * half), dtype=bool)
    a, b = (int(rng.integers(0, s - 2)) for s in src.shape[:2])
    ci, cj = half + (H - 3) // 2, half + (W - 3) // 2  # the seed's top-left corner in the padded result
    out[ci:ci + 3, cj:cj + 3] = src[a:a + 3, b:b + 3]
    known[ci:ci + 3, cj:cj + 3] = True
    inner = (slice(half, half + H), slice(half, half + W))
    bar = tqdm(total=H * W, initial=int(known.sum()), desc=fn, disable=not progress)
    while not known[inner].all():
        pixels = _frontier(known[inner])
        filled = np.array([known[i:i + n, j:j + n].sum() for i, j in pixels])
        for i, j in pixels[np.argsort(-filled, kind="stable")]:
            mask = known[i:i + n, j:j + n]
            d = distances(src, out[i:i + n, j:j + n], gauss * mask)
            candidates = match_candidates(d, eps)
            pick = candidates[rng.integers(len(candidates))]
            si, sj = divmod(int(pick), d.shape[1])
            out[i + half, j + half] = src[si + half, sj + half]
            known[i + half, j + half] = True
        bar.update(len(pixels))
    bar.close()
    return out[inner].astype(raw.dtype)
