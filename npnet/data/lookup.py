"""Where npnet finds its data sets and weights: one lookup, the same order everywhere.

Data files are named by a path relative to a data root laid out like this::

    imagenet/imagenet_val_25.npz    styles/tubingen.jpg    images/kitten.jpg
    coco/coco2014_vocab.json        mnist/mnist_5k.npz     checks/style-transfer-checks.npz

``find_data(relpath)`` looks, in order, in

1. every folder of ``NPNET_DATA`` (one folder, or several joined with ``os.pathsep``),
2. the user cache: ``NPNET_CACHE`` if set, else pooch's per-user cache folder for "npnet",
3. the internet: when ``relpath`` is in ``DATA_REGISTRY`` (official URL + SHA-256), the file is
   downloaded into the cache with a progress bar and its hash checked before it is used,
4. the copies embedded in npnet (``EMBEDDED_DATA``: the MNIST 5k sample), each checked against its
   SHA-256 before it is used.

``find_weights(filename)`` looks at an explicit ``path``, then ``NPNET_WEIGHTS`` (a file named for
that model, or a folder holding ``filename``), then the repository's ``weights/`` folder, then
``<cache>/weights/``, then downloads torchvision's official SqueezeNet ``.pth`` and converts it
to ``.npz`` (no torch needed: see ``npnet.weights``), and only then falls back to the copy embedded in
npnet (``EMBEDDED_WEIGHTS``: SqueezeNet 1.1 with its conv weights rounded through fp16), so torchvision's
exact file wins whenever it can be had. The result may be a ``.pth`` when NPNET_WEIGHTS or ``path``
names one; ``npnet.weights.load_model_weights`` reads either.

The embedded copies live in ``npnet/data/embedded/`` (in the repository and in the wheel), each with
its ``PROVENANCE.md``.

Setting ``NPNET_OFFLINE=1`` (the test suite does) turns every download off. When a file cannot be
found, one ``FileNotFoundError`` lists each place that was searched and how to get the file.
"""
import functools
import hashlib
import os
import re
import zipfile
from pathlib import Path, PurePosixPath

from .._io import atomic_output  # noqa: F401  (re-exported: older code imports it from here)
from ..errors import DataNotFoundError, FileFormatError, NpnetTypeError, NpnetValueError

# relpath -> (official URL, SHA-256 of the file, or None when no stable hash is published).
# Files of the course with no official per-file URL (kitten, sky, composition_vii, muse, the check
# files, mnist_5k) are absent: they can only be found through NPNET_DATA or the cache.
DATA_REGISTRY = {
    "imagenet/imagenet_val_25.npz": (
        "http://cs231n.stanford.edu/imagenet_val_25.npz",
        "35141609d22457c791e8fbe10c2d3b09ed0d6a04b669173e9fbebb0b4915cd3c",
    ),
    # neural-style's inputs, pinned to the commit the course images were checked against
    "styles/tubingen.jpg": (
        "https://raw.githubusercontent.com/jcjohnson/neural-style/"
        "07c4b8299f8fbdafec0c514fc820ff1d7ff62e46/examples/inputs/tubingen.jpg",
        "e67d1869f01fd805385c681a80d9ebcf0f70ea4a5fe6127f0606bb1c7f4bf506",
    ),
    "styles/starry_night.jpg": (
        "https://raw.githubusercontent.com/jcjohnson/neural-style/"
        "07c4b8299f8fbdafec0c514fc820ff1d7ff62e46/examples/inputs/starry_night_google.jpg",
        "c31741a09141c2e2d07fc7aa6bdf135c369b804f9433e43fa3ceac19386d1ee6",
    ),
    "styles/the_scream.jpg": (
        "https://raw.githubusercontent.com/jcjohnson/neural-style/"
        "07c4b8299f8fbdafec0c514fc820ff1d7ff62e46/examples/inputs/the_scream.jpg",
        "f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee",
    ),
    "images/grace_hopper.jpg": (
        "https://raw.githubusercontent.com/matplotlib/matplotlib/"
        "v3.8.0/lib/matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
    ),
    "images/china.jpg": (
        "https://raw.githubusercontent.com/scikit-learn/scikit-learn/1.5.0/sklearn/datasets/images/china.jpg",
        "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29",
    ),
    "images/flower.jpg": (
        "https://raw.githubusercontent.com/scikit-learn/scikit-learn/1.5.0/sklearn/datasets/images/flower.jpg",
        "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638",
    ),
    # MNIST's official IDX files from the mirror torchvision uses (yann.lecun.com often refuses
    # downloads); the SHA-256 are those of the files LeCun published.
    "mnist/train-images-idx3-ubyte.gz": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "mnist/train-labels-idx1-ubyte.gz": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "mnist/t10k-images-idx3-ubyte.gz": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "mnist/t10k-labels-idx1-ubyte.gz": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
    # CIFAR-10, python version (Krizhevsky 2009)
    "cifar10/cifar-10-python.tar.gz": (
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    ),
    # No hash is published for this archive (hundreds of MB); it is only checked to be a readable zip.
    # npnet.data.coco checks its contents.
    "coco/coco_captioning.zip": ("http://cs231n.stanford.edu/coco_captioning.zip", None),
}

# Every data file npnet reads, with what it is for; those in DATA_REGISTRY can be downloaded, the
# others only come from a course's files (NPNET_DATA) or the cache. `npnet data list` prints this.
KNOWN_DATA = {
    "imagenet/imagenet_val_25.npz": "CS231n's 25-image ImageNet validation sample (saliency, fooling)",
    "styles/tubingen.jpg": "style transfer: the content photograph",
    "styles/starry_night.jpg": "style transfer: a style image",
    "styles/the_scream.jpg": "style transfer: a style image",
    "styles/composition_vii.jpg": "style transfer: a style image (course files only)",
    "styles/muse.jpg": "style transfer: a style image (course files only)",
    "images/grace_hopper.jpg": "a test photograph (matplotlib ships it too)",
    "images/kitten.jpg": "a test photograph (course files only)",
    "images/sky.jpg": "DeepDream's default image (course files only)",
    "images/china.jpg": "a test photograph (scikit-learn's sample)",
    "images/flower.jpg": "a test photograph (scikit-learn's sample)",
    "coco/coco2014_vocab.json": "COCO captioning vocabulary (course files only; in the archive below)",
    "coco/coco_captioning.zip": "COCO captioning features and captions, the course's archive (large)",
    "mnist/mnist_5k.npz": "5000 MNIST digits (embedded in npnet)",
    "checks/style-transfer-checks.npz": "the style-transfer notebook's reference answers (course files only)",
    "checks/gan-checks.npz": "the GAN notebook's reference answers (course files only)",
}

# filename -> (official URL of the PyTorch file, SHA-256 prefix torchvision puts in the file name)
WEIGHTS_REGISTRY = {
    "squeezenet1_1.npz": ("https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth", "b8a52dc0"),
    "squeezenet1_0.npz": ("https://download.pytorch.org/models/squeezenet1_0-b66bff10.pth", "b66bff10"),
}
DEFAULT_WEIGHTS = "squeezenet1_1.npz"

# The copies npnet carries (npnet/data/embedded/, with their PROVENANCE.md), found after every other
# place, and the SHA-256 of each file's bytes: a damaged copy is never used.
EMBEDDED_DATA = {"mnist/mnist_5k.npz": "d20330d81abddb1b33f0afcada18754432ee28f55600dd3679438d76dd6ca6a8"}
EMBEDDED_WEIGHTS = {"squeezenet1_1.npz": "3fe9116b64a88cffa09f95d9598408cf754f0ea2d2b172e74d87ca546bace291"}


def cache_dir():
    """The per-user cache folder: ``NPNET_CACHE`` if set, else pooch's OS cache folder for npnet."""
    env = os.environ.get("NPNET_CACHE")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("npnet"))


def repo_weights_dir():
    """The ``weights/`` folder of a source checkout (next to the package), or None if there is none."""
    import npnet

    folder = Path(npnet.__file__).resolve().parents[1] / "weights"
    return folder if folder.is_dir() else None


def embedded_dir():
    """The folder of the copies embedded in npnet (``weights/`` and the data files), or None if absent."""
    folder = Path(__file__).resolve().with_name("embedded")
    return folder if folder.is_dir() else None


def embedded_copy(name, weights=False):
    """Path of npnet's embedded copy of data file ``name`` (or of weights file ``name``), or None when
    npnet carries none. Raises ``FileFormatError`` if the copy's SHA-256 is not the one recorded in
    ``EMBEDDED_DATA`` / ``EMBEDDED_WEIGHTS`` (a damaged installation)."""
    known = EMBEDDED_WEIGHTS if weights else EMBEDDED_DATA
    folder = embedded_dir()
    if name not in known or folder is None:
        return None
    path = folder / ("weights" if weights else "") / name
    if not path.is_file():
        return None
    stat = path.stat()
    got = _hash_once(str(path), stat.st_size, stat.st_mtime_ns)
    if got != known[name]:
        raise FileFormatError(f"the copy of {name} embedded in npnet, {path}, has SHA-256 {got}, not "
                              f"{known[name]}: the installation is damaged; reinstall npnet")
    return path


@functools.lru_cache(maxsize=8)
def _hash_once(path, size, mtime_ns):
    """sha256_file, once per version of a file (size and mtime are part of the key)."""
    return sha256_file(path)


def sha256_file(path, chunk=1 << 20):
    """Hex SHA-256 of a file's bytes. A missing file raises ``DataNotFoundError`` (a
    ``FileNotFoundError``), a folder or an unreadable file ``NpnetValueError``, each naming the path."""
    fn = "sha256_file"
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise NpnetTypeError(f"{fn}: path must be a file path (str or pathlib.Path); got {path!r:.60}")
    if not os.path.exists(path):
        raise DataNotFoundError(f"{fn}: no such file {path}")
    if os.path.isdir(path):
        raise NpnetValueError(f"{fn}: {path} is a folder, not a file")
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(chunk), b""):
                h.update(block)
    except OSError as err:
        raise NpnetValueError(f"{fn}: cannot read {path} ({err.strerror or err})") from None
    return h.hexdigest()


def _offline():
    return os.environ.get("NPNET_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def _download(url, dest, sha256=None):
    """Download ``url`` to ``dest`` with pooch (progress bar; SHA-256 checked when given)."""
    import pooch

    known = f"sha256:{sha256}" if sha256 else None
    pooch.retrieve(url, known_hash=known, fname=dest.name, path=dest.parent, progressbar=True)
    return dest


def _check_relpath(relpath):
    if not isinstance(relpath, (str, os.PathLike)):
        raise NpnetTypeError(f"find_data: relpath must be a str path such as 'styles/tubingen.jpg'; "
                             f"got {type(relpath).__name__}")
    p = PurePosixPath(str(relpath).replace(os.sep, "/"))
    if p.is_absolute() or not p.parts or ".." in p.parts:
        raise NpnetValueError(f"find_data: relpath must be relative to the data root, like "
                              f"'imagenet/imagenet_val_25.npz'; got {str(relpath)!r}")
    return p.as_posix()


def _not_found(fn, what, looked, download_note, how):
    lines = [f"{fn}: could not find {what}. Looked in:"]
    lines += [f"  - {p}  ({why})" for p, why in looked]
    lines.append(download_note)
    lines.append(how)
    note = download_note[0].lower() + download_note[1:].rstrip(".")
    summary = f"{fn}: could not find {what} ({len(looked)} places searched; {note}). {how}"
    return DataNotFoundError("\n".join(lines), summary)


def _download_note(download, url, error):
    if error is not None:
        return f"Getting it from {url} failed: {error}"
    if url is None:
        return "No download: there is no official URL for this file."
    if not download:
        return "Download not tried (download=False)."
    return "Download not tried: NPNET_OFFLINE is set."


def find_data(relpath, download=True, embedded=True):
    """Return the path of data file ``relpath`` (e.g. "styles/tubingen.jpg"), downloading if needed.

    Looks in each ``NPNET_DATA`` folder, then the user cache (``NPNET_CACHE``), then downloads files
    listed in ``DATA_REGISTRY`` into the cache (``download=False`` or ``NPNET_OFFLINE=1`` prevent it),
    and last takes the copy embedded in npnet, for the files in ``EMBEDDED_DATA`` (``embedded=False``
    skips it). Raises ``FileNotFoundError`` naming every path searched and how to get the file.
    """
    rel = _check_relpath(relpath)
    looked = []
    env = os.environ.get("NPNET_DATA", "")
    for root in (r for r in env.split(os.pathsep) if r):
        candidate = Path(root).expanduser() / rel
        if candidate.is_file():
            return candidate
        looked.append((candidate, "NPNET_DATA"))
    if not env:
        looked.append(("NPNET_DATA", "not set"))
    cached = cache_dir() / rel
    if cached.is_file():
        return cached
    looked.append((cached, "user cache; NPNET_CACHE moves it"))

    url, sha256 = DATA_REGISTRY.get(rel, (None, None))
    error = None
    if url is not None and download and not _offline():
        try:
            _download(url, cached, sha256)
            if sha256 is None and cached.suffix == ".zip" and not zipfile.is_zipfile(cached):
                cached.unlink()
                raise ValueError("the downloaded file is not a zip archive")
            return cached
        except Exception as exc:  # any network or hash failure becomes the one clear message below
            error = f"{type(exc).__name__}: {exc}"
    copy = _embedded_fallback(rel, False, embedded, looked)
    if copy is not None:
        return copy
    how = f"To get it: set NPNET_DATA to a folder that holds {rel}"
    how += f", or download {url} to {cached}." if url else "."
    raise _not_found("find_data", repr(rel), looked, _download_note(download, url, error), how)


def find_weights(filename=DEFAULT_WEIGHTS, path=None, download=True, embedded=True):
    """Return the path of weights file ``filename`` (default: SqueezeNet 1.1 as ``.npz``).

    Order: ``path`` (if given, it must exist) -> ``NPNET_WEIGHTS`` (a file named like ``filename``,
    e.g. ``squeezenet1_1.npz`` or ``squeezenet1_1-b8a52dc0.pth``; or a folder holding ``filename``)
    -> the repository's ``weights/`` folder -> ``<cache>/weights/`` -> download of torchvision's
    ``.pth`` (hash prefix checked), converted to ``.npz`` in the cache -> the fp16-rounded copy
    embedded in npnet (``EMBEDDED_WEIGHTS``; ``embedded=False`` skips it, to insist on torchvision's
    exact file). Raises ``FileNotFoundError`` naming every path searched and how to get the file.
    """
    _check_weights_filename(filename)
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise DataNotFoundError(f"find_weights: no weights file at the given path {path}")
        return path
    looked = []
    env = os.environ.get("NPNET_WEIGHTS")
    if env:
        p = Path(env).expanduser()
        if p.is_file():
            if _names_weights(p.name, filename):
                return p
            looked.append((p, f"NPNET_WEIGHTS is a file, but its name is not one for {filename}"))
        elif (p / filename).is_file():
            return p / filename
        else:
            looked.append((p / filename, "NPNET_WEIGHTS"))
    else:
        looked.append(("NPNET_WEIGHTS", "not set"))
    repo = repo_weights_dir()
    if repo is not None:
        if (repo / filename).is_file():
            return repo / filename
        looked.append((repo / filename, "the repository's weights/ folder"))
    folder = cache_dir() / "weights"
    cached = folder / filename
    if cached.is_file():
        return cached
    looked.append((cached, "user cache; NPNET_CACHE moves it"))

    url, prefix = WEIGHTS_REGISTRY.get(filename, (None, None))
    error = None
    pth = folder / url.rsplit("/", 1)[1] if url else None
    # an already downloaded .pth (e.g. from an interrupted conversion) needs no network
    if url is not None and (pth.is_file() or (download and not _offline())):
        try:
            if not pth.is_file():
                _download(url, pth)
            _check_prefix(pth, prefix)
            from npnet.weights import convert_pth

            convert_pth(pth, cached)
            return cached
        except Exception as exc:  # network, hash or conversion failure becomes the clear message
            error = f"{type(exc).__name__}: {exc}"
    copy = _embedded_fallback(filename, True, embedded, looked)
    if copy is not None:
        return copy
    how = (f"To get it: set NPNET_WEIGHTS to the file (or a folder holding {filename})"
           + (f", or download {url} and run `python -m npnet.weights convert FILE.pth {cached}`."
              if url else "."))
    raise _not_found("find_weights", repr(filename), looked, _download_note(download, url, error), how)


def _embedded_fallback(name, weights, allowed, looked):
    """The embedded copy of ``name`` if npnet carries one and ``allowed``; else None, noting in
    ``looked`` why a copy npnet should carry was not used."""
    known = name in (EMBEDDED_WEIGHTS if weights else EMBEDDED_DATA)
    if not known:
        return None
    if not allowed:
        looked.append(("npnet's embedded copy", "not used: embedded=False"))
        return None
    copy = embedded_copy(name, weights)
    if copy is None:
        looked.append(("npnet's embedded copy", "missing from this installation"))
    return copy


def _check_weights_filename(filename):
    """A weights file is named, never pathed: it must not reach outside the folders searched."""
    name = os.fspath(filename) if isinstance(filename, (str, os.PathLike)) else None
    if not (isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.(npz|pth|pt)", name)):
        raise NpnetValueError(f"find_weights: filename must be a plain file name ending in .npz, .pth or .pt, "
                              f"like 'squeezenet1_1.npz' (use path= for a file elsewhere); got {filename!r}")


def _names_weights(name, filename):
    """Whether file ``name`` holds the weights ``filename``: same stem, optionally torchvision's "-<hash>".

    So NPNET_WEIGHTS=.../squeezenet1_1-b8a52dc0.pth serves squeezenet1_1 but never squeezenet1_0.
    """
    return re.fullmatch(re.escape(Path(filename).stem) + r"(-[0-9a-f]+)?\.(npz|pth|pt)", name) is not None


def _check_prefix(pth, prefix):
    """torchvision's check: the file name carries the first hex digits of the file's SHA-256."""
    digest = sha256_file(pth)
    if not digest.startswith(prefix):
        pth.unlink()
        raise ValueError(f"{pth.name} has SHA-256 {digest}, which does not start with {prefix}; "
                         f"the download was corrupt and has been deleted")
