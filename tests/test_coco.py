"""COCO captioning data: the synthetic generator, the loader on its output, and bad files.

The real HDF5 files are not available offline, so every test writes a small data set in the course's
layout from the real vocabulary (coco/coco2014_vocab.json through the data lookup, NPNET_DATA).
"""
import json

import h5py
import numpy as np
import pytest

from npnet.data.coco import decode_captions, load_coco_data, make_synthetic_coco, sample_coco_minibatch
from conftest import require_data


@pytest.fixture(scope="module")
def vocab_path():
    return require_data("coco/coco2014_vocab.json")


@pytest.fixture
def coco_dir(tmp_path, vocab_path):
    return make_synthetic_coco(tmp_path / "coco_captioning", vocab_path, num_train=30, num_val=12,
                               num_train_images=10, num_val_images=6, fc7_dim=64, seed=3)


def test_loader_reads_the_synthetic_layout(coco_dir, vocab_path):
    data = load_coco_data(coco_dir)
    vocab = json.loads(vocab_path.read_text())
    assert data["idx_to_word"] == vocab["idx_to_word"] and data["word_to_idx"] == vocab["word_to_idx"]
    assert data["train_captions"].shape == (30, 17) and data["train_captions"].dtype == np.int32
    assert data["val_captions"].shape == (12, 17)
    assert data["train_features"].shape == (10, 512) and data["train_features"].dtype == np.float32
    assert data["val_features"].shape == (6, 512)
    assert data["train_urls"].shape == (10,) and data["val_urls"].shape == (6,)
    w2i = data["word_to_idx"]
    caps = data["train_captions"]
    assert (caps[:, 0] == w2i["<START>"]).all()
    # exactly one <END> per caption, followed only by <NULL>
    ends = (caps == w2i["<END>"]).argmax(axis=1)
    assert ((caps == w2i["<END>"]).sum(axis=1) == 1).all()
    for row, end in zip(caps, ends):
        assert (row[end + 1:] == w2i["<NULL>"]).all() and (row[1:end] > 3).all()
    np.testing.assert_array_equal(data["train_image_idxs"], np.arange(30) % 10)
    # the first caption of an image is its base caption, and a caption of the same image differs by one word
    assert (caps[0] != caps[10]).sum() <= 1
    full = load_coco_data(coco_dir, pca_features=False)
    assert full["train_features"].shape == (10, 64) and (full["train_features"] >= 0).all()


def test_synthetic_set_is_reproducible_and_seed_dependent(tmp_path, vocab_path):
    a = load_coco_data(make_synthetic_coco(tmp_path / "a", vocab_path, num_train=8, num_val=4, seed=1))
    b = load_coco_data(make_synthetic_coco(tmp_path / "b", vocab_path, num_train=8, num_val=4, seed=1))
    c = load_coco_data(make_synthetic_coco(tmp_path / "c", vocab_path, num_train=8, num_val=4, seed=2))
    np.testing.assert_array_equal(a["train_captions"], b["train_captions"])
    np.testing.assert_array_equal(a["val_features"], b["val_features"])
    assert not np.array_equal(a["train_captions"], c["train_captions"])


def test_max_train_subsamples_captions_with_their_images(coco_dir):
    full = load_coco_data(coco_dir)
    np.random.seed(231)
    small = load_coco_data(coco_dir, max_train=5)
    np.random.seed(231)
    keep = np.random.randint(30, size=5)
    np.testing.assert_array_equal(small["train_captions"], full["train_captions"][keep])
    np.testing.assert_array_equal(small["train_image_idxs"], full["train_image_idxs"][keep])
    assert small["val_captions"].shape == full["val_captions"].shape


def test_minibatch_pairs_each_caption_with_its_image(coco_dir):
    data = load_coco_data(coco_dir)
    caps, feats, urls = sample_coco_minibatch(data, batch_size=7, split="val", rng=np.random.default_rng(0))
    assert caps.shape == (7, 17) and feats.shape == (7, 512) and urls.shape == (7,)
    for cap, feat, url in zip(caps, feats, urls):
        rows = np.flatnonzero((data["val_captions"] == cap).all(axis=1))
        img = data["val_image_idxs"][rows[0]]
        np.testing.assert_array_equal(feat, data["val_features"][img])
        assert url == data["val_urls"][img]
    with pytest.raises(ValueError, match="split must be 'train' or 'val'"):
        sample_coco_minibatch(data, split="test")


def test_decode_captions_drops_null_and_stops_after_end():
    idx_to_word = ["<NULL>", "<START>", "<END>", "a", "cat"]
    caps = np.array([[1, 3, 4, 2, 3, 0], [1, 0, 4, 4, 0, 0]])
    assert decode_captions(caps, idx_to_word) == ["<START> a cat <END>", "<START> cat cat"]
    assert decode_captions(caps[0], dict(enumerate(idx_to_word))) == "<START> a cat <END>"


def _rewrite(path, **changes):
    with h5py.File(path, "r") as f:
        arrays = {k: np.asarray(v) for k, v in f.items()}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)


def test_missing_dataset_is_named(coco_dir):
    _rewrite(coco_dir / "coco2014_captions.h5", val_image_idxs=None)
    with pytest.raises(ValueError, match="coco2014_captions.h5 lacks dataset\\(s\\) 'val_image_idxs'"):
        load_coco_data(coco_dir)


def test_mismatched_lengths_are_reported(coco_dir):
    _rewrite(coco_dir / "coco2014_captions.h5", train_image_idxs=np.zeros(29, dtype=np.int32))
    with pytest.raises(ValueError, match=r"train_image_idxs must be integers of shape \(30,\)"):
        load_coco_data(coco_dir)


def test_image_index_out_of_range_is_reported(coco_dir):
    idxs = np.arange(12, dtype=np.int32) % 6
    idxs[3] = 6
    _rewrite(coco_dir / "coco2014_captions.h5", val_image_idxs=idxs)
    with pytest.raises(ValueError, match=r"val_image_idxs must lie in \[0, 6\).*got values from 0 to 6"):
        load_coco_data(coco_dir)


def test_word_index_out_of_range_is_reported(coco_dir):
    with h5py.File(coco_dir / "coco2014_captions.h5", "r") as f:
        caps = np.asarray(f["train_captions"])
    caps[0, 1] = 1004
    _rewrite(coco_dir / "coco2014_captions.h5", train_captions=caps)
    with pytest.raises(ValueError, match=r"train_captions must hold word indices in \[0, 1004\)"):
        load_coco_data(coco_dir)


def test_url_count_must_match_features(coco_dir):
    (coco_dir / "val2014_urls.txt").write_text("http://x/1.jpg\n")
    with pytest.raises(ValueError, match="val2014_urls.txt has 1 lines but val2014_vgg16_fc7_pca.h5 has 6 images"):
        load_coco_data(coco_dir)


def test_missing_and_corrupt_files(coco_dir, tmp_path):
    (coco_dir / "train2014_vgg16_fc7_pca.h5").unlink()
    with pytest.raises(FileNotFoundError, match="missing file .*train2014_vgg16_fc7_pca.h5"):
        load_coco_data(coco_dir)
    (coco_dir / "train2014_vgg16_fc7_pca.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        load_coco_data(coco_dir)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_coco_data(tmp_path / "nowhere")


def test_inconsistent_vocabulary_is_rejected(coco_dir):
    vocab = json.loads((coco_dir / "coco2014_vocab.json").read_text())
    vocab["word_to_idx"]["a"] = 5
    (coco_dir / "coco2014_vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(ValueError, match="must be inverse mappings"):
        load_coco_data(coco_dir)


def test_default_base_dir_offline_names_the_download(monkeypatch, tmp_path):
    monkeypatch.setenv("NPNET_DATA", str(tmp_path))
    monkeypatch.setenv("NPNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NPNET_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="cs231n.stanford.edu/coco_captioning.zip"):
        load_coco_data()


def test_default_base_dir_finds_layout_under_data_root(monkeypatch, tmp_path, vocab_path):
    make_synthetic_coco(tmp_path / "coco", vocab_path, num_train=4, num_val=2, fc7_dim=8)
    monkeypatch.setenv("NPNET_DATA", str(tmp_path))
    assert load_coco_data()["train_captions"].shape == (4, 17)


def test_course_zip_in_the_cache_is_extracted_once(monkeypatch, tmp_path, vocab_path):
    import zipfile
    src = make_synthetic_coco(tmp_path / "src" / "coco_captioning", vocab_path, num_train=4, num_val=2, fc7_dim=8)
    cache = tmp_path / "cache"
    (cache / "coco").mkdir(parents=True)
    with zipfile.ZipFile(cache / "coco" / "coco_captioning.zip", "w") as zf:
        for f in src.iterdir():
            zf.write(f, f"coco_captioning/{f.name}")
    monkeypatch.setenv("NPNET_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("NPNET_CACHE", str(cache))
    monkeypatch.setenv("NPNET_OFFLINE", "1")
    data = load_coco_data()
    assert (cache / "coco" / "coco_captioning" / "coco2014_captions.h5").is_file()
    np.testing.assert_array_equal(data["train_captions"], load_coco_data(src)["train_captions"])
    assert load_coco_data()["val_captions"].shape == (2, 17)
