"""CIFAR-10 (Krizhevsky 2009) from its official "python version" batches, as in CS231n.

The data folder ``cifar-10-batches-py`` holds ``data_batch_1`` ... ``data_batch_5`` (10,000 images
each), ``test_batch`` and ``batches.meta``. Each batch is a pickled dict with ``data`` (uint8
(10000, 3072): 1024 red, then 1024 green, then 1024 blue values of a 32x32 image, row by row) and
``labels`` (10,000 ints in 0-9). :func:`find_cifar10` finds the folder through the data lookup
(``NPNET_DATA`` or the user cache), or downloads the official archive (URL + SHA-256 in
``npnet.data.lookup.DATA_REGISTRY``) and unpacks it into the cache.

Pickles can run code when loaded, so batches are read with an unpickler that only builds dicts,
lists, strings, numbers and NumPy arrays; any other global in the file is refused.
"""
import pickle
import tarfile
from pathlib import Path

import numpy as np

from npnet import _check
from npnet.data.lookup import atomic_output, cache_dir, find_data
from npnet.errors import DataNotFoundError, FileFormatError, NpnetValueError

__all__ = ["load_CIFAR_batch", "load_CIFAR10", "get_CIFAR10_data", "find_cifar10", "CLASSES"]

CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FOLDER = "cifar10/cifar-10-batches-py"
ARCHIVE = "cifar10/cifar-10-python.tar.gz"
_BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler for data files: only NumPy's array reconstruction and latin-1 string decoding."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} (a data batch needs none)")
        return super().find_class(module, name)


def load_CIFAR_batch(filename):
    """Load one CIFAR-10 batch file.

    Returns:
        X: float64 (N, 32, 32, 3) pixel values 0-255 (CS231n's layout); Y: int64 (N,) labels.
    Raises:
        FileFormatError naming the file if it is not an official-format batch.
    """
    fn = "load_CIFAR_batch"
    try:
        with open(filename, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as err:
        raise FileFormatError(f"{fn}: {filename} is not a CIFAR-10 python batch ({err})") from None
    if not isinstance(batch, dict):
        raise FileFormatError(f"{fn}: {filename} holds a {type(batch).__name__}, not a batch dict")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise FileFormatError(f"{fn}: {filename} must hold 'data' as uint8 (N, 3072); got "
                              f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}")
    labels = np.asarray(labels)
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer) \
            or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise FileFormatError(f"{fn}: {filename} must hold {data.shape[0]} 'labels' in 0-9; got "
                              f"{labels.dtype} {labels.shape}")
    X = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float64)
    return X, labels.astype(np.int64)


def find_cifar10(download=True):
    """The ``cifar-10-batches-py`` folder: from ``NPNET_DATA`` or the cache, else unpacked from the
    official archive (found or downloaded with its SHA-256 checked) into the user cache."""
    try:
        return find_data(f"{FOLDER}/batches.meta", download=False).parent
    except FileNotFoundError:
        pass
    archive = find_data(ARCHIVE, download=download)
    target = cache_dir() / "cifar10"
    with tarfile.open(archive, "r:gz") as tar:
        members = [m for m in tar.getmembers()
                   if m.isfile() and m.name.startswith("cifar-10-batches-py/") and ".." not in m.name]
        for m in members:
            with atomic_output(target / m.name) as tmp, open(tmp, "wb") as out:
                out.write(tar.extractfile(m).read())
    return target / "cifar-10-batches-py"


def load_CIFAR10(root=None):
    """Load all of CIFAR-10 from the batch folder ``root`` (default: :func:`find_cifar10`).

    Returns:
        Xtr (50000, 32, 32, 3), Ytr (50000,), Xte (10000, 32, 32, 3), Yte (10000,); float64 images, int64 labels.
    """
    root = find_cifar10() if root is None else Path(root)
    missing = [name for name in _BATCH_FILES if not (root / name).is_file()]
    if missing:
        raise DataNotFoundError(f"load_CIFAR10: {root} lacks {', '.join(missing)} (expected the official "
                                f"cifar-10-batches-py folder)")
    parts = [load_CIFAR_batch(root / name) for name in _BATCH_FILES[:-1]]
    Xtr, Ytr = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    Xte, Yte = load_CIFAR_batch(root / "test_batch")
    return Xtr, Ytr, Xte, Yte


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True, root=None):
    """CIFAR-10 split as in CS231n: the first ``num_training`` training images, the next
    ``num_validation`` as validation, the first ``num_test`` test images; minus the training mean image
    if ``subtract_mean``; channels first.

    Returns:
        dict with ``X_train`` (num_training, 3, 32, 32), ``y_train``, ``X_val``, ``y_val``, ``X_test``, ``y_test``.
    """
    fn = "get_CIFAR10_data"
    num_training = _check.positive_int(fn, "num_training", num_training)
    num_validation = _check.positive_int(fn, "num_validation", num_validation)
    num_test = _check.positive_int(fn, "num_test", num_test)
    X_train, y_train, X_test, y_test = load_CIFAR10(root)
    if num_training + num_validation > X_train.shape[0] or num_test > X_test.shape[0]:
        raise NpnetValueError(f"{fn}: asked for {num_training} + {num_validation} training/validation and {num_test} "
                              f"test images; the data has {X_train.shape[0]} and {X_test.shape[0]}")
    X_val, y_val = X_train[num_training:num_training + num_validation], y_train[num_training:num_training + num_validation]
    X_train, y_train = X_train[:num_training], y_train[:num_training]
    X_test, y_test = X_test[:num_test], y_test[:num_test]
    if subtract_mean:
        mean = X_train.mean(axis=0)
        X_train, X_val, X_test = X_train - mean, X_val - mean, X_test - mean
    first = lambda X: X.transpose(0, 3, 1, 2).copy()  # noqa: E731
    return {"X_train": first(X_train), "y_train": y_train, "X_val": first(X_val), "y_val": y_val,
            "X_test": first(X_test), "y_test": y_test}
