"""Shared test setup.

Real data (weights, the ImageNet sample, style images...) is never in the repository: tests find it
through the lookup (``NPNET_DATA`` / ``NPNET_WEIGHTS``, e.g. ``NPNET_DATA=../shared/data
NPNET_WEIGHTS=../shared/weights``). When it is missing, a test that needs it is SKIPPED on a
developer's machine and FAILS under CI (``CI=true``), so CI can never pass by skipping everything.

Helpers and fixtures:

- ``require_data(relpath) -> Path`` (also as fixture ``data_file``): a data file, e.g.
  ``require_data("styles/tubingen.jpg")``; skip/fail as above when it is missing.
- ``require_weights(filename="squeezenet1_1.npz") -> Path``: a weights file, likewise.
- ``weights_path`` (session): path of SqueezeNet 1.1's ``.npz``.
- ``model`` / ``model64`` (session): the pretrained SqueezeNet 1.1 in float32 / float64, built once.
  Tests may run it but must leave its parameters as they found them.
- ``imagenet_val`` (session): ``(X uint8 (25, 224, 224, 3), y int64 (25,), class_names)``, loaded
  once, arrays read-only.

Also: matplotlib uses the Agg backend, and ``NPNET_OFFLINE=1`` keeps every test off the network.
"""
import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
os.environ["NPNET_OFFLINE"] = "1"

from npnet.data.lookup import DEFAULT_WEIGHTS, find_data, find_weights  # noqa: E402
from npnet.errors import one_line  # noqa: E402


def _in_ci():
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _missing(exc):
    if _in_ci():
        pytest.fail(f"real data missing under CI:\n{exc}", pytrace=False)
    # one line per skip: the full "Looked in" list is for a person reading an error, not for a report
    pytest.skip(f"real data not available (set NPNET_DATA / NPNET_WEIGHTS): {one_line(exc)}")


def require_data(relpath):
    """Path of data file ``relpath``; skip the test (fail under CI) if it cannot be found."""
    try:
        return find_data(relpath, download=False)
    except FileNotFoundError as exc:
        _missing(exc)


def require_weights(filename=DEFAULT_WEIGHTS):
    """Path of weights file ``filename``; skip the test (fail under CI) if it cannot be found."""
    try:
        return find_weights(filename, download=False)
    except FileNotFoundError as exc:
        _missing(exc)


def _read_only(a):
    a.setflags(write=False)
    return a


@pytest.fixture
def data_file():
    return require_data


@pytest.fixture(scope="session")
def weights_path():
    return require_weights()


@pytest.fixture(scope="session")
def imagenet_val():
    from npnet.data.imagenet import load_imagenet_val

    require_data("imagenet/imagenet_val_25.npz")
    X, y, names = load_imagenet_val()
    return _read_only(X), _read_only(y), names


@pytest.fixture(scope="session")
def model(weights_path):
    from npnet.models.squeezenet import squeezenet1_1

    return squeezenet1_1(weights=weights_path)


@pytest.fixture(scope="session")
def model64(weights_path):
    from npnet.models.squeezenet import squeezenet1_1

    return squeezenet1_1(weights=weights_path, dtype=np.float64)
