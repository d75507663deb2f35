"""Images in and out of the network: load, resize, crop, normalise, and back.

Arrays the network sees are float (N, 3, H, W), normalised with ImageNet's per-channel mean and std
(the preprocessing torchvision's SqueezeNet was trained with). Arrays people see are uint8
(H, W, 3) RGB. ``preprocess`` and ``deprocess`` convert between the two, as in CS231n.
"""
import numbers
import os

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy.ndimage import gaussian_filter1d

from npnet import _check
from npnet._io import atomic_output
from .errors import DataNotFoundError, NpnetTypeError, NpnetValueError

SQUEEZENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
SQUEEZENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

# Smallest image side npnet accepts: SqueezeNet 1.1's stride-2 conv and three ceil-mode 3x3/2 max pools
# take 17 px down to 1x1 and anything smaller to nothing (checked against PyTorch; the model derives the
# same number from its layers as ``SqueezeNet.min_size``, and tests/test_squeezenet.py checks they agree).
MIN_SIDE = 17

_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


def _to_rgb(img, where):
    """Return ``img`` as an RGB PIL image.

    Transparent pixels are composited on white (how viewers show them; the colour stored under
    alpha 0 is often arbitrary). 16-bit and 32-bit integer greyscale is scaled from 0..65535 to
    0..255 (PIL's own conversion would clip instead).
    """
    if img.mode in _SIXTEEN_BIT_MODES:
        grey = np.clip(np.asarray(img, dtype=np.float64), 0, 65535)
        return Image.fromarray(np.round(grey / 257.0).astype(np.uint8)).convert("RGB")
    if "transparency" in img.info and img.mode in ("P", "L", "RGB", "1"):
        img = img.convert("RGBA")
    if img.mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode == "F":
        raise NpnetValueError(f"{where}: floating-point images (PIL mode 'F') have no agreed 0..255 scale; "
                              f"convert it to 8-bit first")
    try:
        return img.convert("RGB")
    except ValueError as exc:
        raise NpnetValueError(f"{where}: cannot convert PIL mode {img.mode!r} to RGB ({exc})") from None


def _resize_short_side(img, size, fn):
    """Resize a PIL image so its shorter side is ``size``, like torchvision ``Resize(size)`` (bilinear).

    The longer side becomes ``int(size * long / short)``, rounding down as torchvision does. A result
    beyond PIL's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``, about 89 million pixels, the
    limit PIL puts on the images it reads) is refused before it is allocated.
    """
    w, h = img.size
    short, long = min(w, h), max(w, h)
    other = int(size * long / short)
    new = (size, other) if w <= h else (other, size)
    if Image.MAX_IMAGE_PIXELS and size * other > Image.MAX_IMAGE_PIXELS:
        raise NpnetValueError(f"{fn}: size={size} would resize the {w}x{h} image to {new[0]}x{new[1]} pixels "
                              f"(width x height), more than PIL's limit of {Image.MAX_IMAGE_PIXELS:,} pixels")
    return img.resize(new, Image.BILINEAR)


def _check_size(fn, size):
    size = _check.positive_int(fn, "size", size)
    if size < MIN_SIDE:
        raise NpnetValueError(f"{fn}: size must be at least {MIN_SIDE} pixels (the smallest input SqueezeNet "
                              f"accepts); got {size}")
    return size


def load_image(path, size=None):
    """Load an image file as uint8 (H, W, 3) RGB.

    EXIF orientation is applied; greyscale, palette, CMYK and 16-bit images become RGB; transparency
    is composited on white. ``size`` (>= MIN_SIDE = 17) resizes the shorter side to ``size`` like torchvision's
    ``Resize(size)`` on a PIL image (bilinear, long side ``int(size * long / short)``).

    Raises FileNotFoundError if ``path`` does not exist, ValueError if it is not a readable image
    (corrupt, truncated, unknown format) or a side is below MIN_SIDE = 17 pixels.
    """
    fn = "load_image"
    path = _check.path(fn, "path", path)
    if size is not None:
        size = _check_size(fn, size)
    if not path.exists():
        raise DataNotFoundError(f"{fn}: no such file {path}")
    if path.is_dir():
        raise NpnetValueError(f"{fn}: {path} is a folder, not an image file")
    try:
        with Image.open(path) as img:
            img.load()  # decode now, so truncated files fail here and not later
            img = ImageOps.exif_transpose(img)
    except UnidentifiedImageError:
        raise NpnetValueError(f"{fn}: {path} is not an image file PIL can read") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NpnetValueError(f"{fn}: {path} could not be decoded, it may be corrupt or truncated ({exc})") from None
    w, h = img.size
    if min(w, h) < MIN_SIDE:
        raise NpnetValueError(f"{fn}: {path} is {w}x{h} pixels (width x height); SqueezeNet needs both sides "
                              f">= {MIN_SIDE}")
    img = _to_rgb(img, f"{fn}: {path}")
    if size is not None:
        img = _resize_short_side(img, size, fn)
    return np.asarray(img, dtype=np.uint8).copy()


def _as_uint8_rgb(fn, img):
    if isinstance(img, Image.Image):
        return np.asarray(_to_rgb(img, fn), dtype=np.uint8)
    if not isinstance(img, np.ndarray):
        raise NpnetTypeError(f"{fn}: img must be a uint8 (H, W, 3) array or a PIL image; got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise NpnetTypeError(f"{fn}: img must be a uint8 (H, W, 3) array with values 0..255; got dtype {img.dtype}")
    _check.shape(fn, "img", img, (None, None, 3))
    if img.size == 0:
        raise NpnetValueError(f"{fn}: img is empty (shape {img.shape}); H and W must be at least 1")
    return img


def center_crop(img, size):
    """Crop the central ``size`` x ``size`` (or ``(h, w)``) region of an (H, W, ...) array or PIL image.

    Same arithmetic as torchvision ``CenterCrop``: top = int(round((H - h) / 2)), left likewise
    (Python's round, so halves go to the even neighbour). Returns a new array (h, w, ...).
    """
    fn = "center_crop"
    a = np.asarray(img)
    if a.ndim < 2:
        raise NpnetValueError(f"{fn}: img must have at least 2 dims (H, W, ...); got shape {a.shape}")
    if isinstance(size, (tuple, list)) and len(size) == 2:
        th, tw = _check.positive_int(fn, "size[0]", size[0]), _check.positive_int(fn, "size[1]", size[1])
    else:
        th = tw = _check.number(fn, "size (an int or an (h, w) pair)", size, low=1, integer=True)
    h, w = a.shape[:2]
    if th > h or tw > w:
        raise NpnetValueError(f"{fn}: cannot crop {th}x{tw} (h x w) from an image of {h}x{w}")
    top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
    return a[top:top + th, left:left + tw].copy()


def preprocess(img, size=224):
    """uint8 (H, W, 3) array or PIL image -> normalised float32 (1, 3, H', W') network input.

    As the course's ``preprocess(img, size=224)``: resizes the shorter side to ``size`` (torchvision
    ``Resize``; ``None`` keeps the image's size, and an image already that size is not resampled),
    scales to [0, 1], then subtracts ``SQUEEZENET_MEAN`` and divides by ``SQUEEZENET_STD`` per channel.
    """
    fn = "preprocess"
    a = _as_uint8_rgb(fn, img)
    if size is not None:
        a = np.asarray(_resize_short_side(Image.fromarray(a), _check_size(fn, size), fn))
    x = (a.astype(np.float32) / np.float32(255) - SQUEEZENET_MEAN) / SQUEEZENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def to_input(image, size=224):
    """A path, uint8 (H, W, 3) array or PIL image -> the normalised float32 (1, 3, H, W) batch
    SqueezeNet takes: npnet's one preprocessing, the course's.

    The shorter side is resized to ``size`` (bilinear, the aspect ratio kept, no crop), then
    ``preprocess`` normalises it. ``npnet classify`` and the image verbs use exactly this, so the CLI
    and the API give the same scores. (torchvision's evaluation transform instead resizes to 256 and
    crops the central 224x224; on the course's kitten photo that turns class 285 into 283.)
    """
    if isinstance(image, (str, os.PathLike)):
        return preprocess(load_image(image, size), None)
    if not isinstance(image, (np.ndarray, Image.Image)):
        raise NpnetTypeError(f"to_input: image must be a file path, a uint8 (H, W, 3) array or a PIL image; "
                             f"got {type(image).__name__}")
    return preprocess(image, size)


def rescale(x):
    """Stretch ``x`` linearly so its minimum becomes 0 and its maximum 1 (the course's ``rescale``);
    a constant array becomes 0."""
    x = _check.float_array("rescale", "x", x)
    low, high = x.min(), x.max()
    return (x - low) / max(high - low, np.finfo(x.dtype).tiny)


def deprocess(x, should_rescale=False):
    """Normalised float (1, 3, H, W) or (3, H, W) -> uint8 (H, W, 3) image.

    Undoes ``preprocess``'s normalisation; ``should_rescale=True`` then stretches the image's min..max
    to 0..1 (``rescale``; for visualising gradients and synthesised images); values are clipped to
    [0, 1] and rounded to the nearest of 0..255. The course's ``deprocess`` rescales by default and
    returns a PIL image; npnet's keeps the colours (a saved result must not change contrast) and
    returns an array: ``Image.fromarray(deprocess(x, should_rescale=True))`` is the course's. NaN or
    Inf pixels are refused (they have no colour; casting them to uint8 would give arbitrary bytes).
    """
    fn = "deprocess"
    x = _check.float_array(fn, "x", x, ndim=(3, 4), layout="(1, 3, H, W) or (3, H, W)")
    _check.finite(fn, "x", x)
    should_rescale = _check.boolean(fn, "should_rescale", should_rescale)
    if x.ndim == 4:
        _check.shape(fn, "x", x, (1, 3, None, None))
        x = x[0]
    _check.shape(fn, "x", x, (3, None, None))
    img = x.transpose(1, 2, 0) * SQUEEZENET_STD + SQUEEZENET_MEAN
    if should_rescale:
        img = rescale(img)
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def blur_image(X, sigma=1):
    """Gaussian blur of float (N, C, H, W) images along H and W (std ``sigma`` > 0 pixels); same shape/dtype.

    SciPy filters float32 and float64 only: other float types (float16) are blurred in float64 and
    rounded back to their own type.
    """
    X = _check.float_array("blur_image", "X", X, ndim=4, layout="(N, C, H, W)")
    sigma = _check.number("blur_image", "sigma", sigma, low=0, low_open=True)
    work = X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)
    work = gaussian_filter1d(work, sigma, axis=2)
    return gaussian_filter1d(work, sigma, axis=3).astype(X.dtype, copy=False)


def jitter(X, ox, oy):
    """Roll (N, C, H, W) images by ``ox`` pixels along W and ``oy`` along H (wrapping around).

    ``jitter(jitter(X, ox, oy), -ox, -oy)`` restores X, which is how class visualisation undoes it.
    """
    fn = "jitter"
    if np.ndim(X) != 4:
        raise NpnetValueError(f"{fn}: X must have 4 dims (N, C, H, W); got shape {np.shape(X)}")
    for name, v in (("ox", ox), ("oy", oy)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise NpnetTypeError(f"{fn}: {name} must be an integer number of pixels; got {v!r}")
    return np.roll(np.roll(X, int(ox), axis=3), int(oy), axis=2)


def save_image(path, img):
    """Write a uint8 (H, W, 3) or (H, W) array, or a PIL image, to ``path`` atomically.

    The format follows the suffix (.png, .jpg, ...); JPEGs are written at quality 95. Returns the Path.
    """
    fn = "save_image"
    path = _check.output_path(fn, "path", path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise NpnetValueError(f"{fn}: cannot tell the image format from the suffix of {path}; use .png or .jpg")
    if not isinstance(img, Image.Image):
        a = np.asarray(img)
        if a.dtype != np.uint8:
            raise NpnetTypeError(f"{fn}: img must be uint8 (use deprocess for network arrays); got dtype {a.dtype}")
        if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)) or a.size == 0:
            raise NpnetValueError(f"{fn}: img must have shape (H, W, 3) or (H, W) with H, W >= 1; got {a.shape}")
        img = Image.fromarray(a)
    options = {"quality": 95} if fmt == "JPEG" else {}
    with atomic_output(path, fn) as tmp:
        img.save(tmp, format=fmt, **options)
    return path


def save_figure(fig, path):
    """Render a ``matplotlib.figure.Figure`` to ``path`` atomically, in the format its suffix names
    (``.png``, ``.jpg``, ``.pdf``, ``.svg``...); returns the Path.

    Works on a bare ``Figure`` (no pyplot), so saving never changes the user's matplotlib backend.
    A suffix matplotlib cannot write is refused (never PNG bytes under another name).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fn = "save_figure"
    if not isinstance(fig, Figure):
        raise NpnetTypeError(f"{fn}: fig must be a matplotlib Figure; got {type(fig).__name__}")
    canvas = FigureCanvasAgg(fig)
    path = _check.output_path(fn, "path", path)
    fmt = path.suffix.lower().lstrip(".")
    supported = canvas.get_supported_filetypes()
    if fmt not in supported:
        raise NpnetValueError(f"{fn}: cannot write a figure as {path.suffix or 'a file without suffix'!r} "
                              f"({path}); use one of {', '.join('.' + k for k in sorted(supported))}")
    with atomic_output(path, fn) as tmp:
        fig.savefig(tmp, format=fmt, dpi=fig.dpi)
    return path
