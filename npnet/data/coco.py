"""Microsoft COCO captions in the CS231n ``coco_captioning`` layout, and a synthetic stand-in.

A ``coco_captioning`` folder holds::

    coco2014_captions.h5        train_captions (N_tr, 17) int, train_image_idxs (N_tr,) int,
                                val_captions (N_va, 17) int, val_image_idxs (N_va,) int
    train2014_vgg16_fc7.h5      features (I_tr, 4096) float: VGG-16 fc7 activations of each image
    train2014_vgg16_fc7_pca.h5  features (I_tr, 512) float: the same reduced by PCA
    val2014_vgg16_fc7[_pca].h5  the same for the validation images
    coco2014_vocab.json         {"idx_to_word": [V words], "word_to_idx": {word: index}}
    train2014_urls.txt          one image URL per line, I_tr lines (val2014_urls.txt: I_va lines)

Each caption is a row of word indices, ``<START> w_1 ... w_k <END>`` padded with ``<NULL>``;
``*_image_idxs[i]`` is the row of the feature matrix (and line of the URL file) of caption i's image.
The real files come from the course's archive (http://cs231n.stanford.edu/coco_captioning.zip,
fetched through :func:`npnet.data.lookup.find_data`). :func:`make_synthetic_coco` writes a small data
set in exactly this layout from the real vocabulary, for tests and offline demos.
"""
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

from .. import _check
from .._io import atomic_folder
from .lookup import _offline, find_data
from ..errors import DataNotFoundError, FileFormatError, NpnetTypeError, NpnetValueError

__all__ = ["load_coco_data", "sample_coco_minibatch", "decode_captions", "make_synthetic_coco", "image_from_url"]

CAPTIONS_FILE = "coco2014_captions.h5"
VOCAB_FILE = "coco2014_vocab.json"
SPLITS = ("train", "val")
_SPECIAL = ("<NULL>", "<START>", "<END>", "<UNK>")


def _features_file(split, pca_features):
    return f"{split}2014_vgg16_fc7{'_pca' if pca_features else ''}.h5"


def _default_base_dir():
    """The ``coco_captioning`` folder found through the data lookup (extracting the course's zip)."""
    try:
        return find_data(f"coco/{CAPTIONS_FILE}", download=False).parent
    except FileNotFoundError as err:
        first = err
    try:
        archive = find_data("coco/coco_captioning.zip")
    except FileNotFoundError as err:
        raise DataNotFoundError(f"load_coco_data: the COCO captioning data was not found.\n{first}\n{err}\n"
                                f"Or pass base_dir= a folder laid out as described in npnet.data.coco.") from None
    target = archive.parent / "coco_captioning"
    if not (target / CAPTIONS_FILE).is_file():
        # Extract beside the archive, then move into place in one step so a crash leaves no half folder.
        try:
            with atomic_folder(target) as tmp, zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp / ".extract")
                found = [p.parent for p in (tmp / ".extract").rglob(CAPTIONS_FILE)]
                if not found:
                    raise FileFormatError(f"load_coco_data: {archive} holds no {CAPTIONS_FILE}")
                for item in found[0].iterdir():
                    item.rename(tmp / item.name)
                shutil.rmtree(tmp / ".extract")
        except (zipfile.BadZipFile, EOFError) as err:
            raise FileFormatError(f"load_coco_data: {archive} is not a readable zip archive ({err})") from None
    return target


def _read_h5(path, keys=None):
    """All datasets of an HDF5 file (or the named ones) as arrays, with clear errors."""
    import h5py
    if not path.is_file():
        raise DataNotFoundError(f"load_coco_data: missing file {path} (see the layout in npnet.data.coco)")
    try:
        with h5py.File(path, "r") as f:
            names = list(f.keys())
            missing = [k for k in (keys or ()) if k not in names]
            if missing:
                raise NpnetValueError(f"load_coco_data: {path.name} lacks dataset(s) {', '.join(map(repr, missing))}; "
                                      f"it has {names}")
            return {k: np.asarray(f[k]) for k in (keys or names)}
    except OSError as err:
        raise NpnetValueError(f"load_coco_data: {path} is not a readable HDF5 file ({err})") from None


def _read_vocab(path, fn="load_coco_data"):
    if not Path(path).is_file():
        raise DataNotFoundError(f"{fn}: missing vocabulary file {path}")
    try:
        vocab = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise NpnetValueError(f"{fn}: {path} is not valid JSON ({err})") from None
    if not isinstance(vocab, dict) or not {"idx_to_word", "word_to_idx"} <= set(vocab):
        raise NpnetValueError(f"{fn}: {path} must hold an object with 'idx_to_word' and 'word_to_idx'")
    idx_to_word, word_to_idx = vocab["idx_to_word"], vocab["word_to_idx"]
    if (not isinstance(idx_to_word, list) or not isinstance(word_to_idx, dict)
            or len(idx_to_word) != len(word_to_idx)
            or any(not isinstance(i, int) or not 0 <= i < len(idx_to_word) or idx_to_word[i] != w
                   for w, i in word_to_idx.items())):
        raise NpnetValueError(f"{fn}: {path}: 'idx_to_word' (a list) and 'word_to_idx' (a dict) must be inverse "
                              f"mappings of the same words")
    if "<NULL>" not in word_to_idx:
        raise NpnetValueError(f"{fn}: {path}: the vocabulary must contain '<NULL>'")
    return vocab


def _validate(data, base, pca_features):
    """Check shapes, dtypes and index ranges across files; raise ValueError naming the file."""
    fn = "load_coco_data"
    vocab_size = len(data["idx_to_word"])
    dims = set()
    for split in SPLITS:
        caps, idxs = data[f"{split}_captions"], data[f"{split}_image_idxs"]
        feats, urls = data[f"{split}_features"], data[f"{split}_urls"]
        where = f"{base / CAPTIONS_FILE}"
        if caps.ndim != 2 or not np.issubdtype(caps.dtype, np.integer) or caps.shape[1] < 2:
            raise NpnetValueError(f"{fn}: {where}: {split}_captions must be an integer array (N, T + 1) with T >= 1; "
                                  f"got {caps.dtype} {caps.shape}")
        if idxs.shape != (caps.shape[0],) or not np.issubdtype(idxs.dtype, np.integer):
            raise NpnetValueError(f"{fn}: {where}: {split}_image_idxs must be integers of shape ({caps.shape[0]},), "
                                  f"one per caption; got {idxs.dtype} {idxs.shape}")
        if caps.size and (caps.min() < 0 or caps.max() >= vocab_size):
            raise NpnetValueError(f"{fn}: {where}: {split}_captions must hold word indices in [0, {vocab_size}); "
                             f"got values from {caps.min()} to {caps.max()}")
        ffile = base / _features_file(split, pca_features)
        if feats.ndim != 2 or not np.issubdtype(feats.dtype, np.floating):
            raise NpnetValueError(f"{fn}: {ffile}: features must be a float array (images, D); got {feats.dtype} "
                                  f"{feats.shape}")
        if not _check.all_finite(feats):  # NaN features give a NaN loss at the first batch that meets them
            raise NpnetValueError(f"{fn}: {ffile}: features must be finite; got "
                                  f"{int(np.count_nonzero(~np.isfinite(feats)))} NaN/Inf value(s) of {feats.size}")
        if idxs.size and (idxs.min() < 0 or idxs.max() >= feats.shape[0]):
            raise NpnetValueError(f"{fn}: {where}: {split}_image_idxs must lie in [0, {feats.shape[0]}) (the rows of "
                                  f"{ffile.name}); got values from {idxs.min()} to {idxs.max()}")
        if urls.shape[0] != feats.shape[0]:
            raise NpnetValueError(f"{fn}: {base / f'{split}2014_urls.txt'} has {urls.shape[0]} lines but "
                                  f"{ffile.name} has {feats.shape[0]} images")
        dims.add(feats.shape[1])
    if len(dims) > 1:
        raise NpnetValueError(f"{fn}: train and val features differ in size: {sorted(dims)}")


def _randint(rng, high, size):
    return rng.integers(high, size=size) if hasattr(rng, "integers") else rng.randint(high, size=size)


def load_coco_data(base_dir=None, max_train=None, pca_features=True, rng=None):
    """Load the CS231n COCO captioning data set into a dict of arrays.

    Args:
        base_dir: the ``coco_captioning`` folder; ``None`` finds it through the data lookup
            (``NPNET_DATA``/cache ``coco/``, else the course's zip is downloaded and extracted).
        max_train: if given, keep this many training captions drawn at random (with replacement, as
            the course does).
        pca_features: the 512-d PCA features (True) or the 4096-d fc7 features (False).
        rng: NumPy ``Generator``/``RandomState`` or an int seed, for ``max_train``; ``None`` uses
            ``np.random``, so ``np.random.seed`` reproduces the course's subsets.
    Returns:
        dict with ``train_captions`` (N, T+1) int32, ``train_image_idxs`` (N,), ``val_captions``,
        ``val_image_idxs``, ``train_features`` (I_tr, D) float32, ``val_features``, ``idx_to_word``
        (list of V words), ``word_to_idx`` (dict), ``train_urls`` (I_tr,) str, ``val_urls``.
    Raises:
        FileNotFoundError for a missing file; ValueError for a file with missing datasets, mismatched
        lengths or out-of-range indices.
    """
    if max_train is not None:
        _check.positive_int("load_coco_data", "max_train", max_train)
    rng = _check.rng("load_coco_data", "rng", rng, none=np.random)
    base = _default_base_dir() if base_dir is None else _check.path("load_coco_data", "base_dir", base_dir)
    if not base.is_dir():
        raise DataNotFoundError(f"load_coco_data: base_dir {base} is not a folder")
    data = _read_h5(base / CAPTIONS_FILE, [f"{s}_{k}" for s in SPLITS for k in ("captions", "image_idxs")])
    for split in SPLITS:
        path = base / _features_file(split, pca_features)
        data[f"{split}_features"] = _read_h5(path, ["features"])["features"]
        url_file = base / f"{split}2014_urls.txt"
        if not url_file.is_file():
            raise DataNotFoundError(f"load_coco_data: missing file {url_file} (see the layout in npnet.data.coco)")
        data[f"{split}_urls"] = np.asarray(url_file.read_text(encoding="utf-8").split())
    data.update(_read_vocab(base / VOCAB_FILE))
    _validate(data, base, pca_features)
    if max_train is not None:
        max_train = _check.positive_int("load_coco_data", "max_train", max_train)
        keep = _randint(rng, data["train_captions"].shape[0], max_train)
        data["train_captions"] = data["train_captions"][keep]
        data["train_image_idxs"] = data["train_image_idxs"][keep]
    return data


def sample_coco_minibatch(data, batch_size=100, split="train", rng=None):
    """Draw ``batch_size`` captions of ``split`` at random (with replacement).

    Args:
        data: dict from :func:`load_coco_data`.
        batch_size: number of captions. split: ``'train'`` or ``'val'``.
        rng: NumPy ``Generator``/``RandomState`` or an int seed; ``None`` uses ``np.random``.
    Returns:
        captions: (batch_size, T+1) word indices. image_features: (batch_size, D) the features of
        each caption's image. urls: (batch_size,) the image URLs.
    """
    fn = "sample_coco_minibatch"
    if split not in SPLITS:
        raise NpnetValueError(f"{fn}: split must be 'train' or 'val'; got {split!r}")
    if not isinstance(data, dict) or any(f"{split}_{k}" not in data for k in ("captions", "image_idxs", "features",
                                                                             "urls")):
        raise NpnetTypeError(f"{fn}: data must be the dict load_coco_data returns; got {type(data).__name__}")
    batch_size = _check.positive_int(fn, "batch_size", batch_size)
    captions = data[f"{split}_captions"]
    if captions.shape[0] == 0:
        raise NpnetValueError(f"{fn}: the {split} split holds no captions")
    rng = _check.rng(fn, "rng", rng, none=np.random)
    pick = rng.choice(captions.shape[0], batch_size)
    image_idxs = data[f"{split}_image_idxs"][pick]
    return captions[pick], data[f"{split}_features"][image_idxs], data[f"{split}_urls"][image_idxs]


def image_from_url(url, timeout=10, placeholder_size=224):
    """Download and decode the image at ``url`` (the CS231n helper for the COCO URLs), with an offline
    fallback: when ``NPNET_OFFLINE=1``, or the download or decoding fails, a mid-grey placeholder.

    Args:
        url: http(s) or file URL (e.g. from ``sample_coco_minibatch``).
        timeout: seconds to wait for the server (> 0).
        placeholder_size: side of the square placeholder.
    Returns:
        (uint8 (H, W, 3) image, True) or (grey placeholder, False).
    """
    import io
    import urllib.error
    import urllib.request

    from PIL import Image, UnidentifiedImageError

    fn = "image_from_url"
    if not isinstance(url, str) or not url.startswith(("http://", "https://", "file:")):
        raise NpnetValueError(f"{fn}: url must be an http(s):// or file: URL string; got {url!r:.80}")
    timeout = _check.number(fn, "timeout", timeout, low=0, low_open=True)
    size = _check.positive_int(fn, "placeholder_size", placeholder_size)
    if not _offline():
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
            with Image.open(io.BytesIO(data)) as img:
                return np.asarray(img.convert("RGB")), True
        except (urllib.error.URLError, OSError, UnidentifiedImageError, ValueError):
            pass  # a dead link or no network: the caption is still worth showing
    return np.full((size, size, 3), 128, dtype=np.uint8), False


def decode_captions(captions, idx_to_word):
    """Turn word indices into strings: ``<NULL>`` is dropped and each caption stops after ``<END>``.

    Args:
        captions: (N, T) or (T,) integer word indices.
        idx_to_word: list or dict mapping an index to its word.
    Returns:
        A list of N strings, or one string for a 1-D input.
    """
    fn = "decode_captions"
    captions = np.asarray(captions)
    if not np.issubdtype(captions.dtype, np.integer) or captions.ndim not in (1, 2):
        raise NpnetValueError(f"{fn}: captions must be integer word indices of shape (N, T) or (T,); "
                              f"got {captions.dtype} {captions.shape}")
    if not isinstance(idx_to_word, (list, tuple, dict)):
        raise NpnetTypeError(f"{fn}: idx_to_word must be a list or a dict of words; got {type(idx_to_word).__name__}")
    # A negative index would wrap around to the end of a list: a real word, silently wrong.
    known = range(len(idx_to_word)) if not isinstance(idx_to_word, dict) else idx_to_word
    unknown = sorted({int(i) for i in captions.ravel() if int(i) not in known})
    if unknown:
        raise NpnetValueError(f"{fn}: captions hold indices with no word in idx_to_word ({len(idx_to_word)} "
                              f"words): {unknown[:5]}")
    decoded = []
    for row in np.atleast_2d(captions):
        words = []
        for idx in row:
            word = idx_to_word[int(idx)]
            if word != "<NULL>":
                words.append(word)
            if word == "<END>":
                break
        decoded.append(" ".join(words))
    return decoded[0] if captions.ndim == 1 else decoded


def make_synthetic_coco(out_dir, vocab_json=None, num_train=100, num_val=40, num_train_images=None,
                        num_val_images=None, pca_dim=512, fc7_dim=4096, caption_length=17, seed=0):
    """Write a small, learnable data set in the ``coco_captioning`` layout (for tests and demos).

    Every image gets a random base caption of 4 to ``caption_length - 2`` words drawn (Zipf-like,
    favouring frequent words) from the real vocabulary; its first caption is the base caption and any
    further ones have one word replaced. The fc7 features are a fixed random linear map of the base
    caption's bag of words, plus noise, through a ReLU; the "PCA" features are a fixed random
    projection of them, centred. Both are scaled to unit standard deviation (train statistics).
    So captions can be predicted from features, and val images behave like train images.

    Args:
        out_dir: folder to write; it must not exist, or hold only files of the layout (an earlier
            synthetic set), and is replaced as a whole (written in a temporary folder, then renamed).
        vocab_json: a ``coco2014_vocab.json``; ``None`` finds ``coco/coco2014_vocab.json`` through
            :func:`npnet.data.lookup.find_data`. It is copied into ``out_dir``.
        num_train, num_val: number of captions per split.
        num_train_images, num_val_images: number of images (default: a caption count / 2, at least 1).
        pca_dim, fc7_dim: feature sizes. caption_length: T + 1, the padded caption length (>= 4).
        seed: seed of the generator.
    Returns:
        ``Path(out_dir)``.
    """
    fn = "make_synthetic_coco"
    out = _check.path(fn, "out_dir", out_dir)
    seed = _check.number(fn, "seed", seed, integer=True, low=0, allow_none=True)
    if out.exists():
        if not out.is_dir():
            raise NpnetValueError(f"{fn}: out_dir {out} is a file, not a folder")
        foreign = sorted(p.name for p in out.iterdir() if p.name not in _layout_files())
        if foreign:
            raise NpnetValueError(f"{fn}: {out} holds files outside the coco_captioning layout "
                                  f"({', '.join(foreign[:5])}); the folder is replaced as a whole, so give a "
                                  f"new or empty folder")
    caption_length = _check.positive_int(fn, "caption_length", caption_length)
    if caption_length < 4:
        raise NpnetValueError(f"{fn}: caption_length must be at least 4 (<START>, 2 words, <END>); "
                              f"got {caption_length}")
    counts = {"train": _check.nonnegative_int(fn, "num_train", num_train),
              "val": _check.nonnegative_int(fn, "num_val", num_val)}
    images = {"train": num_train_images, "val": num_val_images}
    for split in SPLITS:
        default = max(counts[split] // 2, 1)
        images[split] = _check.positive_int(fn, f"num_{split}_images", images[split] or default)
    pca_dim = _check.positive_int(fn, "pca_dim", pca_dim)
    fc7_dim = _check.positive_int(fn, "fc7_dim", fc7_dim)
    # The numbers are checked first, so a bad one fails before any file is looked for.
    vocab_path = find_data(f"coco/{VOCAB_FILE}") if vocab_json is None else _check.path(fn, "vocab_json", vocab_json)
    vocab = _read_vocab(vocab_path, fn)
    w2i = vocab["word_to_idx"]
    for special in _SPECIAL[:3]:
        if special not in w2i:
            raise NpnetValueError(f"{fn}: the vocabulary must contain {special!r}")

    rng = np.random.default_rng(seed)
    words = np.array(sorted(i for w, i in w2i.items() if w not in _SPECIAL))
    if words.size < 2:
        raise NpnetValueError(f"{fn}: the vocabulary needs at least 2 ordinary words; got {words.size}")
    freq = 1.0 / np.arange(1, words.size + 1)
    freq /= freq.sum()
    to_fc7 = rng.standard_normal((len(w2i), fc7_dim)).astype(np.float32)
    to_pca = (rng.standard_normal((fc7_dim, pca_dim)) / np.sqrt(fc7_dim)).astype(np.float32)
    max_words = caption_length - 2

    arrays, features, urls = {}, {}, {}
    for split in SPLITS:
        n_img, n_cap = images[split], counts[split]
        base = np.full((n_img, caption_length), w2i["<NULL>"], dtype=np.int32)
        bags = np.zeros((n_img, len(w2i)), dtype=np.float32)
        for i in range(n_img):
            k = int(rng.integers(min(4, max_words), max_words + 1))
            chosen = rng.choice(words, size=k, p=freq)
            base[i, 0], base[i, 1:k + 1], base[i, k + 1] = w2i["<START>"], chosen, w2i["<END>"]
            np.add.at(bags[i], chosen, 1.0)
        fc7 = np.maximum(bags @ to_fc7 + 0.1 * rng.standard_normal((n_img, fc7_dim)).astype(np.float32), 0)
        features[split] = {True: fc7 @ to_pca, False: fc7}
        image_idxs = (np.arange(n_cap) % n_img).astype(np.int32)
        caps = base[image_idxs].copy()
        lengths = (caps != w2i["<NULL>"]).sum(axis=1) - 2
        # Captions after an image's first one get one word replaced, as different people's captions would.
        for row in np.flatnonzero(np.arange(n_cap) >= n_img):
            caps[row, 1 + rng.integers(lengths[row])] = rng.choice(words, p=freq)
        arrays[f"{split}_captions"], arrays[f"{split}_image_idxs"] = caps, image_idxs
        urls[split] = [f"https://example.invalid/npnet-synthetic/{split}2014/{i:06d}.jpg" for i in range(n_img)]
    # Unit scale, with the train split's statistics: large inputs saturate the recurrent units and
    # make the course's overfitting check fail for reasons that have nothing to do with the model.
    fc7_scale = features["train"][False].std() or 1.0
    pca_mean = features["train"][True].mean(axis=0)
    pca_scale = (features["train"][True] - pca_mean).std() or 1.0
    for split in SPLITS:
        features[split][False] = features[split][False] / fc7_scale
        features[split][True] = (features[split][True] - pca_mean) / pca_scale

    # Everything is written into a temporary folder that then replaces out_dir in one step, so an
    # interrupted run leaves the old data set or the new one, never a mix of their files.
    with atomic_folder(out) as tmp:
        _write_h5(tmp / CAPTIONS_FILE, arrays)
        for split in SPLITS:
            for pca in (True, False):
                _write_h5(tmp / _features_file(split, pca), {"features": features[split][pca].astype(np.float32)})
            (tmp / f"{split}2014_urls.txt").write_text("".join(u + "\n" for u in urls[split]), encoding="utf-8")
        (tmp / VOCAB_FILE).write_text(json.dumps({"idx_to_word": vocab["idx_to_word"], "word_to_idx": w2i}),
                                      encoding="utf-8")
    return out


def _layout_files():
    """Names of every file of the coco_captioning layout."""
    return ({CAPTIONS_FILE, VOCAB_FILE} | {f"{s}2014_urls.txt" for s in SPLITS}
            | {_features_file(s, pca) for s in SPLITS for pca in (True, False)})


def _write_h5(path, arrays):
    import h5py
    with h5py.File(path, "w") as f:
        for name, value in arrays.items():
            f.create_dataset(name, data=value)
