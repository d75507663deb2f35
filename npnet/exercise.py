"""What an exercise script sets up before its first cell: where its figures go, whether it runs in quick
mode, and how many BLAS threads its small matrix products use."""
import os
from pathlib import Path

from threadpoolctl import threadpool_limits

from . import _check
from .errors import NpnetTypeError, NpnetValueError

QUICK_VARIABLE = "NPNET_EXERCISE_QUICK"  # "1": every cell, fewer iterations (what the tests run)
FIGURES_VARIABLE = "NPNET_FIGURES"  # the folder that holds one folder of figures per exercise


def exercise_setup(name, blas_threads=1):
    """Prepare an exercise run.

    Args:
        name: the exercise's name, one folder name (e.g. ``"transformer_captioning"``).
        blas_threads: BLAS threads from now on (threadpoolctl). The exercises' matrix products are
            small, and on a busy 2-core machine one thread beats two.
    Returns:
        out: ``Path`` of ``$NPNET_FIGURES/<name>`` (``figures/<name>`` when the variable is unset), created.
        quick: True when ``NPNET_EXERCISE_QUICK=1``.
    """
    fn = "exercise_setup"
    if not isinstance(name, str):
        raise NpnetTypeError(f"{fn}: name must be a string (a folder name); got {type(name).__name__}")
    if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        raise NpnetValueError(f"{fn}: name must be one folder name; got {name!r}")
    blas_threads = _check.positive_int(fn, "blas_threads", blas_threads)
    out = Path(os.environ.get(FIGURES_VARIABLE, "figures")) / name
    out.mkdir(parents=True, exist_ok=True)
    threadpool_limits(blas_threads)
    return out, os.environ.get(QUICK_VARIABLE) == "1"
