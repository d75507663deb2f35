"""The ImageNet class names and CS231n's 25-image ImageNet validation sample.

The sample file (``imagenet/imagenet_val_25.npz``, found by ``find_data``) also holds a pickled
``label_map`` that lacks class 134; it is never unpickled here. Class names come from the JSON that
ships with npnet (all 1000 ILSVRC-2012 classes, caffe ``synset_words`` style, so 'crane' appears at
134 and 517 and 'maillot' at 638 and 639).
"""
import functools
import json
from pathlib import Path

import numpy as np

from npnet import _check
from npnet.data.lookup import find_data
from .._io import read_npz
from ..errors import FileFormatError, NpnetValueError

NUM_VAL_SAMPLES = 25


@functools.lru_cache(maxsize=1)
def _class_names():
    table = json.loads(Path(__file__).with_name("imagenet_class_names.json").read_text(encoding="utf-8"))
    return tuple(table[str(i)] for i in range(1000))


def imagenet_class_names():
    """The 1000 ImageNet class names as a list; entry i names class i (e.g. [0] 'tench, Tinca tinca')."""
    return list(_class_names())


def load_imagenet_val(num=None):
    """Load the first ``num`` (1..25, default all 25) images of CS231n's ImageNet validation sample.

    Returns:
        X: uint8 (num, 224, 224, 3), RGB.
        y: int64 (num,), class indices in [0, 1000).
        class_names: list of the 1000 class names (``imagenet_class_names()``).
    """
    if num is None:
        num = NUM_VAL_SAMPLES
    num = _check.positive_int("load_imagenet_val", "num", num)
    if num > NUM_VAL_SAMPLES:
        raise NpnetValueError(f"load_imagenet_val: num must be at most {NUM_VAL_SAMPLES} (the sample has "
                              f"{NUM_VAL_SAMPLES} images); got {num}")
    path = find_data("imagenet/imagenet_val_25.npz")
    try:
        arrays = read_npz(path, ("X", "y"))
        X, y = arrays["X"], arrays["y"]
    except (OSError, ValueError, KeyError) as err:
        raise FileFormatError(f"load_imagenet_val: {path} is not the ImageNet sample .npz with X and y "
                              f"({type(err).__name__}: {err})") from None
    if X.shape != (NUM_VAL_SAMPLES, 224, 224, 3) or X.dtype != np.uint8 or y.shape != (NUM_VAL_SAMPLES,):
        raise NpnetValueError(f"load_imagenet_val: {path} should hold X uint8 (25, 224, 224, 3) and y (25,); "
                              f"got X {X.dtype} {X.shape} and y {y.shape}")
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= len(_class_names()):
        raise FileFormatError(f"load_imagenet_val: {path} must hold integer labels y in [0, {len(_class_names())}) "
                              f"(the ImageNet classes); got {y.dtype} values from {y.min()} to {y.max()}")
    return X[:num].copy(), y[:num].astype(np.int64), imagenet_class_names()
