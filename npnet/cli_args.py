"""What every ``npnet`` verb shares: the common options and the checks a verb runs on its arguments
before it loads any weights or data (so a typo costs a second, not a model load).

Every check raises :class:`npnet.errors.NpnetValueError` (or ``DataNotFoundError``) with a message
that ``npnet.cli.main`` prints as one line after ``npnet VERB: error:``.
"""
import argparse
import difflib
from pathlib import Path

from .errors import NpnetValueError

DEFAULT_IMAGE = "grace_hopper.jpg (shipped with matplotlib)"


def default_image():
    """Path of the sample image matplotlib ships, the default input of the image verbs."""
    from matplotlib import cbook

    return cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)


def add_common(p, out_default, out_help, seed_help="random seed (default 0)"):
    """``-o/--out``, ``--seed`` and ``--quiet``, which every verb has."""
    p.add_argument("-o", "--out", default=out_default, help=out_help)
    p.add_argument("--seed", type=int, default=0, help=seed_help)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_weights(p):
    p.add_argument("--weights", help="SqueezeNet 1.1 weights (.npz or torchvision .pth); default: the lookup")


# ------------------------------------------------------------------------------- class ids

def class_id(text):
    """argparse type: an ImageNet class as an index ("6") or a name ("stingray", "tiger shark").

    A name matches any comma-separated synonym of a class, ignoring case; on no match the error
    suggests the closest names (difflib).
    """
    from .data.imagenet import imagenet_class_names

    names = imagenet_class_names()
    text = text.strip()
    if text.lstrip("-").isdigit():
        c = int(text)
        if not 0 <= c < len(names):
            raise argparse.ArgumentTypeError(f"class {c} is not an ImageNet class (0..{len(names) - 1})")
        return c
    synonyms = {}
    for c, name in enumerate(names):
        for synonym in name.split(","):
            synonyms.setdefault(synonym.strip().lower(), c)
    key = text.lower()
    if key in synonyms:
        return synonyms[key]
    close = difflib.get_close_matches(key, synonyms, n=3, cutoff=0.6)
    hint = ("; did you mean " + " or ".join(f"{s!r} ({synonyms[s]})" for s in close) + "?") if close else ""
    raise argparse.ArgumentTypeError(f"no ImageNet class is called {text!r}{hint}")


# ------------------------------------------------------------------------------- numbers

def in_range(name, value, low=None, high=None):
    """Return ``value`` if ``low <= value <= high`` (either bound may be None), else raise."""
    if value is None:
        return value
    if value != value or (low is not None and value < low) or (high is not None and value > high):  # NaN too
        if high is None:
            what = f"at least {low}"
        elif low is None:
            what = f"at most {high}"
        else:
            what = f"in {low}..{high}"
        raise NpnetValueError(f"{name} must be {what}; got {value}")
    return value


def positive(name, value):
    """Return ``value`` if it is a finite number > 0 (None passes), else raise."""
    if value is not None and not (value > 0 and value != float("inf")):
        raise NpnetValueError(f"{name} must be a finite number > 0; got {value}")
    return value


def feature_layer(name, value, version="1_1"):
    """Return ``value`` if it indexes ``model.features`` of SqueezeNet ``version``, else raise."""
    from .models.squeezenet import feature_count

    return in_range(name, value, 0, feature_count(version) - 1)


# ------------------------------------------------------------------------------- paths

def input_files(paths):
    """Raise unless every path names an existing file (not a folder); returns the paths."""
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise FileNotFoundError(f"no such file {path}")
        if path.is_dir():
            raise NpnetValueError(f"{path} is a folder, not an image file")
    return paths


def output_path(path, inputs=(), suffixes=None, folder=False):
    """Check an ``--out`` path before any work: not an input file, with an allowed suffix, and with
    a parent that is (or can become) a folder. Returns it as a Path.

    ``folder=True``: ``path`` is a folder to write into (it must not be an existing file).
    """
    path = Path(path)
    if folder and path.is_file():
        raise NpnetValueError(f"--out {path} is a file; give a folder to write into")
    resolved = path.resolve()
    if any(resolved == Path(p).resolve() for p in inputs):
        raise NpnetValueError(f"--out {path} is one of the input files; choose another name")
    if suffixes and path.suffix.lower() not in suffixes:
        raise NpnetValueError(f"--out must end in {' or '.join(suffixes)}; got {path}")
    for parent in (path if folder else path.parent, *((path if folder else path.parent).parents)):
        if parent.exists():
            if not parent.is_dir():
                raise NpnetValueError(f"--out {path}: {parent} is a file, not a folder")
            break
    return path
