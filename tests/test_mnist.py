"""MNIST: the sample's seeded 4,000/1,000 split, the IDX reader and the full-set path (on generated files)."""
import gzip

import numpy as np
import pytest

from conftest import require_data
from npnet.data import lookup
from npnet.data.lookup import DATA_REGISTRY
from npnet.data.mnist import FULL_FILES, load_mnist, read_idx


def _write_idx(path, arr, compress=True):
    header = bytes([0, 0, 8, arr.ndim]) + np.array(arr.shape, dtype=">i4").tobytes()
    data = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def test_sample_split_is_seeded_disjoint_and_complete():
    path = require_data("mnist/mnist_5k.npz")
    Xtr, ytr = load_mnist("train")
    Xte, yte = load_mnist("test", flatten=True)
    assert Xtr.shape == (4000, 1, 28, 28) and Xte.shape == (1000, 784)
    assert Xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert 0 <= Xtr.min() and Xtr.max() <= 1
    # Together they are the whole file, each image once.
    with np.load(path) as f:
        X = f["X"]
    assert np.array_equal(np.sort(np.concatenate([ytr, yte])), np.repeat(np.arange(10), 500))
    rows = {r.tobytes() for r in np.round(np.concatenate([Xtr.reshape(4000, -1), Xte]) * 255).astype(np.uint8)}
    assert rows == {r.tobytes() for r in X.reshape(5000, -1)}
    assert np.array_equal(load_mnist("test", seed=0)[1], yte)
    assert not np.array_equal(load_mnist("test", seed=1)[1], yte)
    assert load_mnist("all")[0].shape == (5000, 1, 28, 28)


def test_full_mnist_reads_the_official_idx_layout(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    (tmp_path / "mnist").mkdir()
    images = {"train": rng.integers(0, 256, (7, 28, 28)), "test": rng.integers(0, 256, (3, 28, 28))}
    labels = {"train": rng.integers(0, 10, 7), "test": rng.integers(0, 10, 3)}
    for split, (img_file, lab_file) in FULL_FILES.items():
        _write_idx(tmp_path / img_file, images[split])
        _write_idx(tmp_path / lab_file, labels[split])
        assert DATA_REGISTRY[img_file][1] and DATA_REGISTRY[lab_file][1]  # official URL + SHA-256
    monkeypatch.setenv("NPNET_DATA", str(tmp_path))
    X, y = load_mnist("test", source="full", dtype=np.float64)
    assert X.dtype == np.float64 and np.array_equal(np.round(X[:, 0] * 255), images["test"])
    assert np.array_equal(y, labels["test"])
    assert load_mnist("all", source="full", flatten=True)[0].shape == (10, 784)


def test_read_idx_rejects_wrong_files(tmp_path):
    good = tmp_path / "labels.idx"
    _write_idx(good, np.arange(5), compress=False)
    assert np.array_equal(read_idx(good, 1), np.arange(5))
    with pytest.raises(ValueError, match=r"read_idx: .* not an IDX file of unsigned bytes with 3 dims"):
        read_idx(good, 3)
    truncated = tmp_path / "short.idx.gz"
    truncated.write_bytes(gzip.compress(good.read_bytes()[:-2]))
    with pytest.raises(ValueError, match=r"declares dims \(5,\) but holds 3 data bytes"):
        read_idx(truncated, 1)
    notgz = tmp_path / "plain.gz"
    notgz.write_bytes(b"hello")
    with pytest.raises(ValueError, match="not a readable IDX file"):
        read_idx(notgz, 1)


@pytest.mark.parametrize("kwargs, match", [
    ({"split": "val"}, "load_mnist: split must be one of train, test, all; got 'val'"),
    ({"source": "kaggle"}, "load_mnist: source must be 'sample' or 'full'"),
    ({"dtype": np.int32}, "load_mnist: dtype must be a floating type"),
    ({"seed": -1}, "load_mnist: seed must be a non-negative integer"),
])
def test_load_mnist_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_mnist(**kwargs)


def test_missing_sample_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NPNET_DATA", str(tmp_path))
    monkeypatch.setenv("NPNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(lookup, "embedded_dir", lambda: None)  # an installation that lost its copy
    with pytest.raises(FileNotFoundError, match=r"mnist/mnist_5k.npz(.|\n)*embedded copy  \(missing"):
        load_mnist()


def test_corrupt_sample_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    np.savez(tmp_path / "mnist" / "mnist_5k.npz", X=np.zeros((4, 28, 28), np.float32), y=np.zeros(4, np.uint8))
    monkeypatch.setenv("NPNET_DATA", str(tmp_path))
    with pytest.raises(ValueError, match=r"should hold uint8 images \(N, 28, 28\)"):
        load_mnist()
    np.savez(tmp_path / "mnist" / "mnist_5k.npz", X=np.zeros((4, 28, 28), np.uint8), y=np.full(4, 12, np.uint8))
    with pytest.raises(ValueError, match="labels outside 0-9"):
        load_mnist()
