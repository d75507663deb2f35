"""Files in and out: atomic output, and an .npz reader that checks sizes before it allocates.

Every file (and folder) npnet writes appears complete or not at all.

:func:`atomic_output` yields a hidden temporary path beside the target; on success it is moved onto
the target with one ``os.replace``, so a reader never sees a half-written file and a failure leaves
any earlier file untouched. :func:`atomic_folder` does the same for a whole folder of files.

Temporary names are ``.<stem>.npnet-tmp-<pid>-<random><suffix>`` (the suffix is kept so writers that
pick a format from it still work). An exception, including Ctrl-C, removes the temporary file. A
process killed outright (SIGKILL, SIGTERM without a handler, a power cut) cannot clean up after
itself: that leaves at most one temporary per target, and the next write of the same target removes
every temporary whose process is gone, so they never accumulate.
"""
import contextlib
import math
import os
import secrets
import shutil
import zipfile
from pathlib import Path

import numpy as np

from . import _check
from .errors import NpnetValueError

_TAG = ".npnet-tmp-"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # another user's live process, or no way to tell
        return True
    return True


def _make_parent(path, fn="atomic_output"):
    """Create ``path``'s folder; a regular file in the way, or a folder that cannot be created, is a
    clear error naming ``fn``, not a bare OSError."""
    _check.writable_folder_above(fn, "path", path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NpnetValueError(f"{fn}: cannot write {path}: cannot create its folder {path.parent} "
                              f"({err.strerror or err})") from None


def _temporary(path):
    """A fresh temporary name for ``path``, after removing the leftovers of killed writers of it."""
    prefix = f".{path.stem}{_TAG}"
    for old in path.parent.glob(f"{prefix}*{path.suffix}"):
        pid = old.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    old.unlink()
    return path.parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}{path.suffix}"


@contextlib.contextmanager
def atomic_output(path, fn="atomic_output"):
    """Yield a temporary path in ``path``'s folder; on success move it onto ``path`` in one step.

    Readers never see a half-written file, and a failure leaves any earlier ``path`` untouched. A
    ``path`` that cannot be written (a folder, a folder under a file, a read-only or uncreatable
    folder) is refused before the caller's ``with`` block runs, in one line naming ``fn`` (the public
    function writing the file), so no work is done for an output that could never be kept.
    """
    path = _check.output_path(fn, "path", path)  # _make_parent walks its folders again: a few stat calls
    _make_parent(path, fn)
    tmp = _temporary(path)
    try:
        with open(tmp, "xb"):
            pass
    except OSError as err:
        raise NpnetValueError(f"{fn}: cannot write {path}: the folder {path.parent} is not writable "
                              f"({err.strerror or err})") from None
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_folder(path):
    """Yield an empty temporary folder beside ``path``; on success it takes ``path``'s place.

    ``path`` must not exist or be a folder the caller may replace whole: its old contents are
    removed once the new folder is in place. The swap is two renames (old folder aside, new one in),
    so an interruption leaves either the old folder or the new one, never a mix of their files.
    """
    path = Path(path)
    _make_parent(path)
    tmp = _temporary(path)
    tmp.mkdir()
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            old = _temporary(path)
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# Deflate cannot expand data by more than about 1032:1, so a member claiming more is lying.
_MAX_DEFLATE_RATIO = 1032
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _check_npz_member(archive, info):
    """Raise ``ValueError`` unless the .npy member ``info`` holds exactly the bytes its header declares."""
    name = info.filename
    limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED else _MAX_DEFLATE_RATIO)
    if info.file_size > limit:
        raise ValueError(f"member {name!r} claims {info.file_size} bytes from {info.compress_size} stored bytes")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in _HEADER_READERS:
            raise ValueError(f"member {name!r} is .npy format version {version}, not 1.0 or 2.0")
        shape, _, dtype = _HEADER_READERS[version](member)
        data_bytes = info.file_size - member.tell()
    if dtype.hasobject:
        raise ValueError(f"member {name!r} holds Python objects (a pickle), which npnet never loads")
    declared = math.prod(shape) * dtype.itemsize
    if declared != data_bytes:
        raise ValueError(f"member {name!r} declares a {dtype} array of shape {shape} ({declared} bytes) "
                         f"but holds {data_bytes} bytes of data")


def read_npz(path, keys=None):
    """The arrays of the .npz file ``path`` as a dict name -> array, sizes checked before loading.

    ``keys``: the names to read (default: all); other members are neither checked nor read, and a
    missing one raises ``KeyError``.

    ``np.load`` trusts each member's header: a member of a few bytes can declare an array of many
    gigabytes, and NumPy reserves that memory before it finds the data missing. Here each member's
    declared size must equal its size in the zip directory, and that size must be possible for its
    compressed size, so what is allocated is bounded by the file's own size. Pickled arrays are never
    loaded.

    Raises ``ValueError`` for anything that is not a sound .npz file (the underlying error named) and
    ``OSError`` when the file cannot be read; callers turn both into their own one-line error.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            keys = list(members) if keys is None else list(keys)
            for key in keys:
                _check_npz_member(archive, members[key])
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in keys}
    except (OSError, ValueError, KeyError):
        raise
    except Exception as err:  # zipfile and NumPy's format reader raise many types for damaged bytes
        raise ValueError(f"{type(err).__name__}: {err}") from None
