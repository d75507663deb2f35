"""CIFAR-10 loader on batches written here in the official python-pickle format (no CIFAR file offline)."""
import pickle

import numpy as np
import pytest

from npnet.data.cifar import get_CIFAR10_data, load_CIFAR10, load_CIFAR_batch
from npnet.data.lookup import DATA_REGISTRY


def _write_batch(path, data, labels):
    # As the official files: a protocol-2 pickle of a dict with byte-string keys, the images as uint8
    # rows (1024 R, 1024 G, 1024 B values) and the labels as a plain list.
    batch = {b"batch_label": b"training batch 1 of 5", b"labels": [int(v) for v in labels], b"data": data,
             b"filenames": [b"img_%d.png" % i for i in range(len(labels))]}
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


@pytest.fixture
def cifar_root(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    images = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 4)
        _write_batch(root / name, data, labels)
        images[name] = (data, labels)
    with open(root / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [b"airplane"]}, f, protocol=2)
    return root, images


def test_batch_layout_is_channel_planes_row_major(cifar_root):
    root, images = cifar_root
    X, y = load_CIFAR_batch(root / "data_batch_1")
    data, labels = images["data_batch_1"]
    assert X.shape == (4, 32, 32, 3) and X.dtype == np.float64 and y.dtype == np.int64
    # pixel (row 2, col 5) of image 3: red at 2*32+5, green 1024 later, blue 2048 later
    assert X[3, 2, 5].tolist() == [data[3, 69], data[3, 1024 + 69], data[3, 2048 + 69]]
    assert y.tolist() == list(labels)


def test_load_and_split_like_cs231n(cifar_root):
    root, images = cifar_root
    Xtr, Ytr, Xte, Yte = load_CIFAR10(root)
    assert Xtr.shape == (20, 32, 32, 3) and Xte.shape == (4, 32, 32, 3)
    assert Ytr[4:8].tolist() == list(images["data_batch_2"][1])
    data = get_CIFAR10_data(num_training=15, num_validation=3, num_test=2, root=root)
    assert data["X_train"].shape == (15, 3, 32, 32) and data["X_val"].shape == (3, 3, 32, 32)
    mean = Xtr[:15].mean(axis=0).transpose(2, 0, 1)
    np.testing.assert_allclose(data["X_val"][0] + mean, Xtr[15].transpose(2, 0, 1))
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0, atol=1e-12)
    assert data["y_test"].tolist() == Yte[:2].tolist()
    raw = get_CIFAR10_data(num_training=15, num_validation=3, num_test=2, subtract_mean=False, root=root)
    assert raw["X_train"].max() > 200
    with pytest.raises(ValueError, match="asked for 19 \\+ 3 training/validation"):
        get_CIFAR10_data(num_training=19, num_validation=3, root=root)
    assert DATA_REGISTRY["cifar10/cifar-10-python.tar.gz"][1]  # official URL with its SHA-256


def test_hostile_and_wrong_files_are_refused(tmp_path, cifar_root):
    root, _ = cifar_root

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "evil"
    bad.write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(ValueError, match="refusing to load global .*print"):
        load_CIFAR_batch(bad)
    _write_batch(tmp_path / "short", np.zeros((2, 100), np.uint8), [0, 1])
    with pytest.raises(ValueError, match=r"must hold 'data' as uint8 \(N, 3072\)"):
        load_CIFAR_batch(tmp_path / "short")
    _write_batch(tmp_path / "labels", np.zeros((2, 3072), np.uint8), [0, 10])
    with pytest.raises(ValueError, match="must hold 2 'labels' in 0-9"):
        load_CIFAR_batch(tmp_path / "labels")
    (tmp_path / "junk").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="is not a CIFAR-10 python batch"):
        load_CIFAR_batch(tmp_path / "junk")
    (root / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="lacks test_batch"):
        load_CIFAR10(root)


def test_the_official_archive_is_unpacked_into_the_cache(cifar_root, tmp_path, monkeypatch):
    import tarfile

    from npnet.data.cifar import find_cifar10

    root, images = cifar_root
    data_dir = tmp_path / "data"
    (data_dir / "cifar10").mkdir(parents=True)
    with tarfile.open(data_dir / "cifar10" / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(root, arcname="cifar-10-batches-py")
    monkeypatch.setenv("NPNET_DATA", str(data_dir))
    monkeypatch.setenv("NPNET_CACHE", str(tmp_path / "cache"))
    found = find_cifar10(download=False)
    assert found == tmp_path / "cache" / "cifar10" / "cifar-10-batches-py"
    assert load_CIFAR10()[1][:4].tolist() == list(images["data_batch_1"][1])
    assert find_cifar10(download=False) == found  # second time: found in the cache, not unpacked again
