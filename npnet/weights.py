"""Model weights as plain NumPy arrays: load and check ``.npz`` files, read PyTorch ``.pth`` files
without PyTorch, and convert one into the other.

A ``.pth`` state_dict is a pickle. Unpickling runs whatever functions the file names, so
``read_pth`` uses a restricted unpickler: it only accepts the handful of globals a state_dict needs
(``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and friends, the typed storage
classes), each mapped to a small NumPy stand-in here. Any other global raises
``pickle.UnpicklingError`` before it can run.

Command line::

    python -m npnet.weights convert squeezenet1_1-b8a52dc0.pth squeezenet1_1.npz
    python -m npnet.weights info squeezenet1_1.npz
"""
import argparse
import collections
import hashlib
import io
import pickle
import re
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

from npnet.data.lookup import atomic_output, find_weights, sha256_file

# SHA-256 of the shared squeezenet1_1.npz (conv weights rounded through fp16, see
# weights/README.md). The file hash changes whenever the npz is rewritten (zip timestamps);
# the contents hash (``content_sha256``) does not.
KNOWN_SHA256 = {"squeezenet1_1.npz": "3fe9116b64a88cffa09f95d9598408cf754f0ea2d2b172e74d87ca546bace291"}
KNOWN_CONTENT_SHA256 = {"squeezenet1_1.npz": "3fc75a8e0590e4a218b825809ded627d17605afdb83c064121e9ed5a3ac42ad0"}


def content_sha256(arrays):
    """SHA-256 of a dict of arrays that ignores how they were stored.

    For each key in order: the key as UTF-8, then the array as C-order little-endian float32 bytes.
    """
    h = hashlib.sha256()
    for name, a in arrays.items():
        h.update(name.encode("utf-8"))
        h.update(np.ascontiguousarray(a, dtype="<f4").tobytes())
    return h.hexdigest()


def _shape_problems(arrays, expected):
    problems = [f"missing {k!r} (expected shape {tuple(s)})" for k, s in expected.items() if k not in arrays]
    problems += [f"unexpected {k!r} (shape {a.shape})" for k, a in arrays.items() if k not in expected]
    problems += [f"{k!r}: expected shape {tuple(expected[k])}, got {a.shape}"
                 for k, a in arrays.items() if k in expected and a.shape != tuple(expected[k])]
    return problems


def load_npz_weights(path, expected=None, sha256=None):
    """Load an ``.npz`` of weights as ``{name: array}`` in file order; floats become float32.

    expected: optional ``{name: shape}``; every missing key, extra key and wrong shape is listed in
        one ``ValueError``.
    sha256: optional hex SHA-256 of the file's bytes; a mismatch raises ``ValueError``.
    Integer arrays (e.g. batch-norm counters) keep their dtype. Pickled objects are never loaded.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_npz_weights: no such file {path}")
    if sha256 is not None:
        got = sha256_file(path)
        if got != sha256.lower():
            raise ValueError(f"load_npz_weights: {path} has SHA-256 {got}; expected {sha256}")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"load_npz_weights: {path} is not a readable .npz file ({exc})") from None
    arrays = {k: a.astype(np.float32) if np.issubdtype(a.dtype, np.floating) else a for k, a in arrays.items()}
    if expected is not None:
        problems = _shape_problems(arrays, expected)
        if problems:
            raise ValueError(f"load_npz_weights: {path} does not match the expected weights:\n  "
                             + "\n  ".join(problems))
    return arrays


# --- reading .pth without torch -------------------------------------------------------------

class _StorageType:
    """Stands for ``torch.FloatStorage`` etc.: just the element type of the raw bytes."""

    def __init__(self, name, code):
        self.name, self.code = name, code

    def decode(self, raw, order):
        if self.code == "bf16":  # bfloat16 is the top half of a float32
            return (np.frombuffer(raw, order + "u2").astype(np.uint32) << 16).view(np.float32)
        return np.frombuffer(raw, order + self.code).astype(self.code)

    @property
    def itemsize(self):
        return 2 if self.code == "bf16" else np.dtype(self.code).itemsize


_STORAGE_TYPES = {name: _StorageType(name, code) for name, code in [
    ("FloatStorage", "f4"), ("DoubleStorage", "f8"), ("HalfStorage", "f2"), ("BFloat16Storage", "bf16"),
    ("LongStorage", "i8"), ("IntStorage", "i4"), ("ShortStorage", "i2"), ("CharStorage", "i1"),
    ("ByteStorage", "u1"), ("BoolStorage", "?"),
]}


class _Storage:
    """One storage of the file; its bytes are read after the pickle (both formats store them apart)."""

    def __init__(self, stype, key, numel):
        self.stype, self.key, self.numel = stype, key, numel
        self.array = None

    def fill(self, raw, order):
        need = self.numel * self.stype.itemsize
        if len(raw) < need:
            raise ValueError(f"storage {self.key!r} holds {len(raw)} bytes; its {self.numel} "
                             f"{self.stype.name} elements need {need}")
        self.array = self.stype.decode(raw[:need], order)


class _PendingTensor:
    """A tensor as a view (offset, size, stride) into a storage, materialised once bytes are read."""

    def __init__(self, storage, offset, size, stride):
        ok = (isinstance(storage, _Storage) and _is_int(offset) and offset >= 0
              and isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
              and all(_is_int(v) and v >= 0 for v in size + stride))
        if not ok:
            raise pickle.UnpicklingError(
                f"malformed tensor: storage {type(storage).__name__}, offset {offset!r}, size {size!r}, "
                f"stride {stride!r}")
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def to_numpy(self, name):
        a = self.storage.array
        if 0 in self.size:
            return np.zeros(self.size, a.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        # as_strided reads raw memory, so a view past the storage would read garbage (or crash)
        if last >= a.size:
            raise ValueError(f"tensor {name!r} (offset {self.offset}, size {self.size}, stride {self.stride}) "
                             f"reaches element {last} of a storage with {a.size}")
        view = np.lib.stride_tricks.as_strided(a[self.offset:], self.size, [s * a.itemsize for s in self.stride])
        return view.copy()


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    # _ignored: requires_grad, backward_hooks, metadata (v2) -- meaningless for plain arrays
    return _PendingTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_ignored):
    return data


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    **{("torch", name): st for name, st in _STORAGE_TYPES.items()},
}


class RefusedGlobalError(pickle.UnpicklingError):
    """A pickle named a global outside the allowed list (it was not imported, let alone called)."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, where, storages=None):
        super().__init__(file)
        self.where, self.storages = where, storages if storages is not None else {}

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobalError(
                f"read_pth: {self.where}: refused global {module}.{name}; a weights file may only hold "
                f"tensors, storages and OrderedDicts") from None

    def persistent_load(self, pid):
        # zip format: ('storage', type, key, location, numel); legacy adds view_metadata
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and _is_int(pid[4])):
            raise pickle.UnpicklingError(f"read_pth: {self.where}: unsupported persistent id {pid!r}")
        if len(pid) == 6 and pid[5] is not None:
            raise pickle.UnpicklingError(f"read_pth: {self.where}: storage views (pre-0.4 files) are not supported")
        _, stype, key, _location, numel = pid[:5]
        if key not in self.storages:
            self.storages[key] = _Storage(stype, key, numel)
        return self.storages[key]


def _read_zip(path):
    with zipfile.ZipFile(path) as z:
        pkls = [n for n in z.namelist() if re.fullmatch(r"[^/]+/data\.pkl", n)]
        if len(pkls) != 1:
            raise ValueError(f"read_pth: {path} is a zip but not a PyTorch file (no single <name>/data.pkl)")
        prefix = pkls[0][: -len("data.pkl")]
        names = set(z.namelist())
        order = "<"
        if prefix + "byteorder" in names:
            order = {"little": "<", "big": ">"}[z.read(prefix + "byteorder").decode().strip()]
        u = _RestrictedUnpickler(io.BytesIO(z.read(pkls[0])), path)
        obj = u.load()
        for key, storage in u.storages.items():
            record = f"{prefix}data/{key}"
            if record not in names:
                raise ValueError(f"read_pth: {path} lacks the storage record {record}")
            storage.fill(z.read(record), order)
    return obj


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _read_legacy(path):
    with open(path, "rb") as f:
        def load(storages=None):
            return _RestrictedUnpickler(f, path, storages).load()

        try:
            magic = load()
        except RefusedGlobalError:
            raise
        except Exception:  # arbitrary bytes fail inside pickle in many ways; all mean "not this format"
            magic = None
        if magic != _LEGACY_MAGIC:
            raise ValueError(f"read_pth: {path} is not a PyTorch file (neither a zip archive nor the legacy format)")
        protocol, sys_info = load(), load()
        if protocol != 1001 or not isinstance(sys_info, dict):
            raise ValueError(f"read_pth: {path}: unsupported legacy protocol {protocol!r}")
        order = "<" if sys_info.get("little_endian", True) else ">"
        storages = {}
        obj = load(storages)
        # after the pickle: the storage keys, then each storage as an int64 count and its raw bytes
        for key in load():
            if key not in storages:
                raise ValueError(f"read_pth: {path}: storage {key!r} is not used by any tensor")
            s = storages[key]
            head = f.read(8)
            if len(head) < 8:
                break  # reported below as storages without bytes
            (numel,) = struct.unpack(order + "q", head)
            if numel != s.numel:
                raise ValueError(f"read_pth: {path}: storage {key!r} has {numel} elements; expected {s.numel}")
            s.fill(f.read(numel * s.stype.itemsize), order)
    unread = [key for key, s in storages.items() if s.array is None]
    if unread:
        raise ValueError(f"read_pth: {path}: the file ends without the bytes of storage(s) {unread}")
    return obj


def read_pth(path):
    """Read a PyTorch state_dict file (zip format, or the legacy pre-1.6 format) without PyTorch.

    Returns ``{name: np.ndarray}`` in the file's order, each array a C-contiguous copy with the
    tensor's shape and dtype (bfloat16 becomes float32). Strided and offset views are honoured.
    Raises ``pickle.UnpicklingError`` for any global outside the allowed list, ``ValueError`` for
    files that are not state_dicts.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_pth: no such file {path}")
    obj = _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    if not isinstance(obj, dict):
        raise ValueError(f"read_pth: {path} holds a {type(obj).__name__}, not a state_dict (name -> tensor)")
    out = {}
    for name, t in obj.items():
        if not isinstance(name, str) or not isinstance(t, _PendingTensor):
            raise ValueError(f"read_pth: {path}: entry {name!r} is a {type(t).__name__}, not a tensor")
        try:
            out[name] = t.to_numpy(name)
        except ValueError as exc:
            raise ValueError(f"read_pth: {path}: {exc}") from None
    return out


def convert_pth(src, dst):
    """Convert PyTorch state_dict ``src`` to an ``.npz`` at ``dst`` (atomic write); returns ``dst``.

    Keys and order are kept. ``dst`` must differ from ``src`` and end in ``.npz``.
    """
    src, dst = Path(src), Path(dst)
    if dst.suffix != ".npz":
        raise ValueError(f"convert_pth: the output must be an .npz file; got {dst}")
    if dst.exists() and dst.resolve() == src.resolve():
        raise ValueError(f"convert_pth: refusing to overwrite the input {src}")
    arrays = read_pth(src)
    with atomic_output(dst) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return dst


def load_model_weights(model, name, path=None):
    """Load pretrained weights ``name`` (e.g. "squeezenet1_1") into ``model``; returns the file used.

    The file is ``path`` if given (an ``.npz``, or a torchvision ``.pth`` read without torch), else
    ``find_weights(name + ".npz")``. ``model`` needs ``state_dict()`` and ``load_state_dict(arrays,
    source)`` (``npnet.nn.Module``); every key and shape is checked, and problems are listed in one
    ``ValueError`` naming the file.
    """
    found = find_weights(f"{name}.npz", path)
    if found.suffix == ".npz":
        expected = {k: np.shape(v) for k, v in model.state_dict().items()}
        arrays = load_npz_weights(found, expected)
    else:
        arrays = read_pth(found)
    model.load_state_dict(arrays, source=str(found))
    return found


def _describe(path):
    path = Path(path)
    arrays = read_pth(path) if path.suffix != ".npz" else load_npz_weights(path)
    lines = [f"{path}", f"  file SHA-256:     {sha256_file(path)}"]
    for name, a in arrays.items():
        lines.append(f"  {name:40s} {str(a.shape):20s} {a.dtype}")
    total = sum(a.size for a in arrays.values())
    lines.append(f"  {len(arrays)} arrays, {total:,} values")
    lines.append(f"  contents SHA-256: {content_sha256(arrays)}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m npnet.weights",
                                     description="Read, convert and inspect model weights without PyTorch.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    conv = verbs.add_parser("convert", help="convert a PyTorch .pth state_dict to .npz (no torch needed)")
    conv.add_argument("src", help="the .pth file")
    conv.add_argument("dst", help="the .npz file to write")
    info = verbs.add_parser("info", help="print names, shapes, dtypes and SHA-256s of a .pth or .npz")
    info.add_argument("file")
    args = parser.parse_args(argv)
    try:
        if args.verb == "convert":
            convert_pth(args.src, args.dst)
            print(_describe(args.dst))
        else:
            print(_describe(args.file))
    except (OSError, ValueError, pickle.UnpicklingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
