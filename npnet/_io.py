"""Atomic output: every file (and folder) npnet writes appears complete or not at all.

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
import os
import secrets
import shutil
from pathlib import Path

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


def _make_parent(path):
    """Create ``path``'s folder; a regular file in the way is a clear error, not a bare OSError."""
    for parent in (path.parent, *path.parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise NpnetValueError(f"cannot write {path}: {parent} is a file, not a folder")
            break
    path.parent.mkdir(parents=True, exist_ok=True)


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
def atomic_output(path):
    """Yield a temporary path in ``path``'s folder; on success move it onto ``path`` in one step.

    Readers never see a half-written file, and a failure leaves any earlier ``path`` untouched.
    """
    path = Path(path)
    _make_parent(path)
    tmp = _temporary(path)
    with open(tmp, "xb"):
        pass
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
