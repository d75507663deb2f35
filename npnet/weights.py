"""Model weights as plain NumPy arrays: load and check ``.npz`` files, read PyTorch ``.pth`` files
without PyTorch, and convert one into the other.

A ``.pth`` state_dict is a pickle. Unpickling runs whatever functions the file names, so
``read_pth`` uses a restricted unpickler: it only accepts the handful of globals a state_dict needs
(``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and friends, the typed storage
classes), each mapped to a small NumPy stand-in here. Any other global raises ``RefusedGlobalError``
before it can run. The stand-ins are immutable and refuse pickle's BUILD opcode, every size, stride
and offset is checked against the bytes really stored, and memory use is bounded by the file's size;
any damaged, truncated or hostile file raises ``npnet.errors.FileFormatError`` naming the file.

Command line::

    python -m npnet.weights convert squeezenet1_1-b8a52dc0.pth squeezenet1_1.npz
    python -m npnet.weights info squeezenet1_1.npz
"""
import argparse
import collections
import hashlib
import io
import math
import pickle
import pickletools
import re
import reprlib
import struct
import sys
import types
import warnings
import zipfile
from pathlib import Path

import numpy as np

from npnet import _check
from npnet._io import read_npz
from npnet.data.lookup import DEFAULT_WEIGHTS, EMBEDDED_WEIGHTS, atomic_output, find_weights, sha256_file
from npnet.errors import DataNotFoundError, FileFormatError, NpnetError, NpnetTypeError, NpnetValueError

# SHA-256 of the fp16-rounded squeezenet1_1.npz that npnet embeds (and ../shared holds; see
# npnet/data/embedded/weights/PROVENANCE.md). The file hash changes whenever the npz is rewritten
# (zip timestamps); the contents hash (``content_sha256``) does not.
KNOWN_SHA256 = EMBEDDED_WEIGHTS
KNOWN_CONTENT_SHA256 = {"squeezenet1_1.npz": "3fc75a8e0590e4a218b825809ded627d17605afdb83c064121e9ed5a3ac42ad0"}

# How a result that is compared with the course's published numbers (computed with torchvision's
# exact fp32 weights) names the weights it used: see ``weights_copy``.
COPY_LABELS = {"fp16": "the fp16-rounded copy npnet embeds as its offline fallback, not torchvision's exact "
                       "weights: numbers compared with the course's differ by about 1e-3",
               "exact": "exact weights, not the fp16-rounded fallback"}


def content_sha256(arrays):
    """SHA-256 of a dict of arrays that ignores how they were stored.

    For each key in order: the key as UTF-8, then the array as C-order little-endian float32 bytes.
    ``arrays`` must map str names to arrays of real numbers.
    """
    fn = "content_sha256"
    if not isinstance(arrays, dict):
        raise NpnetTypeError(f"{fn}: arrays must be a dict mapping names to arrays; got {type(arrays).__name__}")
    for name, a in arrays.items():
        if not isinstance(name, str) or np.asarray(a).dtype.kind not in "biuf":
            raise NpnetTypeError(f"{fn}: arrays must map str names to arrays of real numbers; got {name!r:.40}: "
                                 f"{a!r:.40}")
    h = hashlib.sha256()
    for name, a in arrays.items():
        h.update(name.encode("utf-8"))
        h.update(np.ascontiguousarray(a, dtype="<f4").tobytes())
    return h.hexdigest()


def weights_copy(path, arrays=None):
    """Which copy of the weights a file holds: ``"fp16"`` for the fp16-rounded SqueezeNet 1.1 that
    npnet embeds (recognised by its file or contents SHA-256, wherever it lies), else ``"exact"``
    (torchvision's file, or any other weights). ``arrays``: the file's arrays if already loaded."""
    if arrays is None:
        if sha256_file(path) == KNOWN_SHA256[DEFAULT_WEIGHTS]:
            return "fp16"
        arrays = read_pth(path) if Path(path).suffix != ".npz" else load_npz_weights(path)
    return "fp16" if content_sha256(arrays) == KNOWN_CONTENT_SHA256[DEFAULT_WEIGHTS] else "exact"


def weights_note(model):
    """One line saying which weights ``model`` was loaded from and which copy they are (for every
    output that compares with the course's published numbers), e.g. ``weights: .../squeezenet1_1.npz
    (the embedded fp16-rounded fallback: ...)``."""
    path = getattr(model, "weights_file", None)
    if path is None:
        return "weights: none loaded (random initialisation)"
    return f"weights: {path} ({COPY_LABELS[model.weights_copy]})"


def _shape_problems(arrays, expected):
    problems = [f"missing {k!r} (expected shape {tuple(s)})" for k, s in expected.items() if k not in arrays]
    problems += [f"unexpected {k!r} (shape {a.shape})" for k, a in arrays.items() if k not in expected]
    problems += [f"{k!r}: expected shape {tuple(expected[k])}, got {a.shape}"
                 for k, a in arrays.items() if k in expected and a.shape != tuple(expected[k])]
    return problems


def load_npz_weights(path, expected=None, sha256=None):
    """Load an ``.npz`` of weights as ``{name: array}`` in file order; floats become float32.

    Args:
        path: the ``.npz`` file.
        expected: optional ``{name: shape}``; every missing key, extra key and wrong shape is listed
            in one ``FileFormatError``.
        sha256: optional hex SHA-256 of the file's bytes; a mismatch raises ``FileFormatError``.

    Integer arrays (e.g. batch-norm counters) keep their dtype. Pickled objects are never loaded;
    complex, string and other non-numeric arrays, NaN/Inf, and values beyond float32's range are
    refused (one ``FileFormatError`` listing every such array). A missing file raises
    ``DataNotFoundError``.
    """
    fn = "load_npz_weights"
    path = _check.path(fn, "path", path)
    if not path.is_file():
        raise DataNotFoundError(f"load_npz_weights: no such file {path}")
    if sha256 is not None and not (isinstance(sha256, str) and re.fullmatch(r"[0-9a-fA-F]+", sha256)):
        raise NpnetTypeError(f"{fn}: sha256 must be the file's SHA-256 as a hex string (or None); got {sha256!r:.70}")
    if expected is not None and not (isinstance(expected, dict) and all(
            isinstance(k, str) and isinstance(s, (tuple, list)) for k, s in expected.items())):
        raise NpnetTypeError(f"{fn}: expected must be a dict name -> shape (a tuple), or None; got {expected!r:.60}")
    if sha256 is not None:
        got = sha256_file(path)
        if got != sha256.lower():
            raise FileFormatError(f"load_npz_weights: {path} has SHA-256 {got}; expected {sha256}")
    try:
        arrays = read_npz(path)
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"load_npz_weights: {path} is not a readable .npz file "
                              f"({type(exc).__name__}: {exc})") from None
    problems = _check.weight_problems(arrays, {k: np.float32 for k, a in arrays.items() if a.dtype.kind == "f"})
    if problems:
        raise FileFormatError(f"load_npz_weights: {path} holds values that are not usable weights:\n  "
                              + "\n  ".join(f"{k!r}: {why}" for k, why in problems.items()))
    arrays = {k: a.astype(np.float32) if a.dtype.kind == "f" else a for k, a in arrays.items()}
    if expected is not None:
        problems = _shape_problems(arrays, expected)
        if problems:
            raise FileFormatError(f"load_npz_weights: {path} does not match the expected weights:\n  "
                                  + "\n  ".join(problems))
    return arrays


# --- reading .pth without torch -------------------------------------------------------------
#
# Everything the unpickler can hand to a pickle is *sealed*: immutable, and refusing pickle's BUILD
# opcode. BUILD calls ``__setstate__`` on the object below it, or else updates its ``__dict__`` and
# sets its slots; on an unsealed object a file could rewrite a tensor's stride after its checks ran,
# or poison a global shared by every later load. Nothing the reader keeps between files is mutable
# (the one mutable kind, the OrderedDict, is made fresh for each pickle, and BUILD on it may only
# attach torch's ``_metadata``). Sizes, strides and offsets are checked against the storages' real
# bytes when the arrays are made, by plain indexing (no raw-memory views); every allocation is
# bounded by the file's size.

_MAX_NDIM = 32  # NumPy's historic limit; no network weight comes close
_MAX_EMPTY = 1 << 31  # an empty tensor's non-zero sizes multiply to at most this (np.zeros must work)
_MAX_REUSE = 4  # all tensors together may hold at most this many times the elements stored
_STORAGE_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")
# opcodes a state_dict never uses: ways to make objects other than through find_class + REDUCE,
# the extension registry, and out-of-band buffers
_REFUSED_OPCODES = {"INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER",
                    "READONLY_BUFFER", "PERSID"}


class _Malformed(Exception):
    """Raised inside the reader; ``read_pth`` turns it into a FileFormatError naming the file."""


class _Refused(_Malformed):
    """A global outside the allowed list."""


def _short(obj, limit=80):
    """A bounded repr of an untrusted object (no deep recursion, no megabyte messages)."""
    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother, r.maxlong = 3, limit, limit, limit
    return r.repr(obj)


class _Sealed:
    """Base of every object a pickle can reach: attributes fixed at creation, BUILD refused."""

    __slots__ = ()
    kind = "object"  # what messages call it

    def __init__(self, **fields):
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise _Malformed(f"the pickle tries to set {name!r} on a {self.kind}")

    __delattr__ = __setattr__

    def __setstate__(self, state):
        raise _Malformed(f"the pickle tries to change a {self.kind} after it was made "
                         f"(BUILD); a state_dict never does")

    def __repr__(self):
        return f"<{self.kind}>"


class _StorageType(_Sealed):
    """Stands for ``torch.FloatStorage`` etc.: the element type of a storage's raw bytes."""

    __slots__ = ("name", "code", "itemsize")
    kind = "storage type"

    def __init__(self, name, code):
        super().__init__(name=name, code=code, itemsize=2 if code == "bf16" else np.dtype(code).itemsize)

    def decode(self, raw, order):
        if self.code == "bf16":  # bfloat16 is the top half of a float32
            return (np.frombuffer(raw, order + "u2").astype(np.uint32) << 16).view(np.float32)
        if self.code == "?":  # any non-zero byte is True; NumPy would keep the raw byte
            return np.frombuffer(raw, np.uint8) != 0
        return np.frombuffer(raw, order + self.code).astype(self.code)


class _Storage(_Sealed):
    """One storage of the file, by key; its bytes are stored apart from the pickle and read after it."""

    __slots__ = ("stype", "key", "numel")
    kind = "storage"


class _PendingTensor(_Sealed):
    """A tensor as a view (offset, size, stride, in elements) into a storage, made into an array later."""

    __slots__ = ("storage", "offset", "size", "stride")
    kind = "tensor"

    def __init__(self, storage, offset, size, stride):
        ok = (isinstance(storage, _Storage) and _is_int(offset) and offset >= 0
              and type(size) is tuple and type(stride) is tuple and len(size) == len(stride) <= _MAX_NDIM
              and all(_is_int(v) and v >= 0 for v in size + stride))
        if not ok:
            raise _Malformed(f"malformed tensor: storage {_short(storage)}, offset {_short(offset)}, "
                             f"size {_short(size)}, stride {_short(stride)} (sizes, strides and offset "
                             f"must be integers >= 0, at most {_MAX_NDIM} dims)")
        super().__init__(storage=storage, offset=offset, size=size, stride=stride)

    def to_numpy(self, name, storage):
        """The tensor as a C-contiguous array copied out of ``storage`` (the decoded 1-D storage)."""
        n, size, stride, offset = storage.size, self.size, self.stride, self.offset
        where = f"tensor {_short(name)} (offset {_short(offset)}, size {_short(size)}, stride {_short(stride)})"
        numel = math.prod(size)
        if numel == 0:
            if offset > n or math.prod(k for k in size if k) > _MAX_EMPTY:
                raise _Malformed(f"{where} is empty but does not fit a storage with {n} elements")
            return np.zeros(size, storage.dtype)
        if numel > n:  # caps every allocation by the file's real bytes
            raise _Malformed(f"{where} has {_short(numel)} elements, more than its storage's {n}")
        last = offset + sum((k - 1) * s for k, s in zip(size, stride))
        if last >= n:
            raise _Malformed(f"{where} reaches element {_short(last)} of a storage with {n}")
        if all(k == 1 or s == math.prod(size[i + 1:]) for i, (k, s) in enumerate(zip(size, stride))):
            return storage[offset:offset + numel].reshape(size).copy()  # C order: one slice
        index = np.asarray(offset, np.int64)  # element index of every entry, built one dim at a time
        for k, s in zip(size, stride):
            index = index[..., None] + np.arange(k, dtype=np.int64) * s
        return storage[index]


def _kind(obj):
    return getattr(type(obj), "kind", type(obj).__name__)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class _StateDict(collections.OrderedDict):
    """``collections.OrderedDict`` as a pickle gets it; BUILD may only attach torch's ``_metadata``."""

    kind = "OrderedDict"

    def __setstate__(self, state):
        if not (type(state) is dict and set(state) <= {"_metadata"}):
            raise _Malformed(f"the pickle tries to set {_short(state)} on an OrderedDict; only a "
                             f"state_dict's '_metadata' is allowed")
        # the metadata (per-module version numbers) means nothing to NumPy arrays: dropped


def _rebuild_tensor(storage, storage_offset, size, stride, *rest):
    # rest: requires_grad, backward_hooks, metadata (v2) -- meaningless for plain arrays
    if len(rest) > 3:
        raise _Malformed(f"_rebuild_tensor_v2 takes at most 7 arguments; got {4 + len(rest)}")
    return _PendingTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *rest):
    # rest: requires_grad, backward_hooks (and the state of _rebuild_parameter_with_state)
    if not isinstance(data, _PendingTensor) or len(rest) > 3:
        raise _Malformed(f"malformed parameter: {_short(data)} with {len(rest)} more argument(s)")
    return data


class _Global(_Sealed):
    """A callable global a pickle may name (the rebuild functions, OrderedDict)."""

    __slots__ = ("name", "fn")
    kind = "global"

    def __call__(self, *args):
        return self.fn(*args)


_ALLOWED_GLOBALS = types.MappingProxyType({
    ("collections", "OrderedDict"): _Global(name="OrderedDict", fn=_StateDict),
    ("torch._utils", "_rebuild_tensor"): _Global(name="_rebuild_tensor", fn=_rebuild_tensor),
    ("torch._utils", "_rebuild_tensor_v2"): _Global(name="_rebuild_tensor_v2", fn=_rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): _Global(name="_rebuild_parameter", fn=_rebuild_parameter),
    ("torch._utils", "_rebuild_parameter_with_state"): _Global(name="_rebuild_parameter_with_state",
                                                               fn=_rebuild_parameter),
    **{("torch", name): _StorageType(name, code) for name, code in [
        ("FloatStorage", "f4"), ("DoubleStorage", "f8"), ("HalfStorage", "f2"), ("BFloat16Storage", "bf16"),
        ("LongStorage", "i8"), ("IntStorage", "i4"), ("ShortStorage", "i2"), ("CharStorage", "i1"),
        ("ByteStorage", "u1"), ("BoolStorage", "?"),
    ]},
})


class RefusedGlobalError(FileFormatError, pickle.UnpicklingError):
    """A pickle named a global outside the allowed list (it was not imported, let alone called)."""


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles one pickle; ``storages`` (key -> _Storage) collects the storages it names."""

    def __init__(self, file, storages):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _Refused(f"refused global {module[:80]}.{name[:80]}; a weights file may only hold "
                           f"tensors, storages and OrderedDicts") from None

    def persistent_load(self, pid):
        # zip format: ('storage', type, key, location, numel); legacy adds view_metadata
        if not (type(pid) is tuple and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and type(pid[2]) is str and _STORAGE_KEY.fullmatch(pid[2])
                and type(pid[3]) is str and _is_int(pid[4]) and pid[4] >= 0):
            raise _Malformed(f"unsupported persistent id {_short(pid)}")
        if len(pid) == 6 and pid[5] is not None:
            raise _Malformed("storage views (pre-0.4 files) are not supported")
        _, stype, key, _location, numel = pid[:5]
        known = self.storages.get(key)
        if known is None:
            known = self.storages[key] = _Storage(stype=stype, key=key, numel=numel)
        elif known.stype is not stype or known.numel != numel:
            raise _Malformed(f"storage {key!r} is declared twice, as {known.numel} {known.stype.name} "
                             f"and as {numel} {stype.name}")
        return known


def _unpickle(data, start, storages):
    """Unpickle the pickle that starts at byte ``start`` of ``data``; returns (object, end).

    The opcodes are scanned first, so a counted length larger than the bytes left (which the C
    unpickler would allocate up front) and the opcodes a state_dict never uses are refused before
    anything is built.
    """
    f = io.BytesIO(data)
    f.seek(start)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # genops warns about bad escapes in text opcodes
            for op, _arg, pos in pickletools.genops(f):
                if op.name in _REFUSED_OPCODES:
                    raise _Malformed(f"pickle opcode {op.name} at byte {pos} is not used by state_dicts")
    except _Malformed:
        raise
    except Exception as exc:  # genops meets arbitrary bytes: every failure means "not a pickle"
        raise _Malformed(f"not a valid pickle at byte {start} ({type(exc).__name__}: {_short(str(exc))})") from None
    end = f.tell()
    f.seek(start)
    try:
        obj = _RestrictedUnpickler(f, storages).load()
    except _Malformed:
        raise
    except Exception as exc:  # wrong argument types or counts to REDUCE, BUILD on a built-in, ...
        raise _Malformed(f"malformed pickle ({type(exc).__name__}: {_short(str(exc))})") from None
    if f.tell() != end:
        raise _Malformed(f"malformed pickle (it ends at byte {f.tell()}, its opcodes at {end})")
    return obj, end


def _zip_member(z, info, what):
    try:
        return z.read(info)
    except Exception as exc:  # CRC errors, truncation, ...: zipfile raises many types
        raise _Malformed(f"cannot read {what} {info.filename} ({type(exc).__name__}: {_short(str(exc))})") from None


def _read_zip(path):
    """(object, {storage key: 1-D array}) of a zip-format .pth."""
    try:
        z = zipfile.ZipFile(path)
    except Exception as exc:  # BadZipFile, but also OverflowError, struct errors ... on damaged archives
        raise _Malformed(f"is a damaged zip archive ({type(exc).__name__}: {_short(str(exc))})") from None
    with z:
        infos = {}
        for info in z.infolist():
            if info.filename in infos:
                raise _Malformed(f"the archive holds {info.filename} twice")
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                raise _Malformed(f"member {info.filename} is compressed or encrypted; torch.save "
                                 f"writes plain stored members")
            infos[info.filename] = info
        pkls = [n for n in infos if re.fullmatch(r"[^/]+/data\.pkl", n)]
        if len(pkls) != 1:
            raise _Malformed("is a zip but not a PyTorch file (no single <name>/data.pkl)")
        prefix = pkls[0][: -len("data.pkl")]
        outside = [n for n in infos if not n.startswith(prefix)]
        if outside:
            raise _Malformed(f"member {_short(outside[0])} lies outside the archive's folder {prefix}")
        order = "<"
        if prefix + "byteorder" in infos:
            raw = _zip_member(z, infos[prefix + "byteorder"], "the byte order record")
            order = {b"little": "<", b"big": ">"}.get(raw.strip())
            if order is None:
                raise _Malformed(f"byte order record says {_short(raw)}; expected 'little' or 'big'")
        storages = {}
        obj, end = _unpickle(_zip_member(z, infos[pkls[0]], "the pickle"), 0, storages)
        if end != infos[pkls[0]].file_size:
            raise _Malformed(f"{pkls[0]} holds {infos[pkls[0]].file_size - end} bytes after its pickle")
        arrays = {}
        for key, s in storages.items():
            record = f"{prefix}data/{key}"
            if record not in infos:
                raise _Malformed(f"lacks the storage record {record}")
            need = s.numel * s.stype.itemsize
            if infos[record].file_size != need:  # checked before reading: the declared numel may be huge
                raise _Malformed(f"storage {key!r} holds {infos[record].file_size} bytes; its {s.numel} "
                                 f"{s.stype.name} elements need {need}")
            # zipfile returns exactly file_size bytes or raises (short data, CRC mismatch)
            arrays[key] = s.stype.decode(_zip_member(z, infos[record], "the storage"), order)
    return obj, arrays


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _read_legacy(path):
    """(object, {storage key: 1-D array}) of a legacy (pre-1.6) .pth: a few pickles, then raw storages."""
    with open(path, "rb") as f:
        head = f.read(4)
        # every pickle torch writes starts with the PROTO opcode; anything else is not read whole
        data = head + f.read() if head[:1] == b"\x80" else head
    try:
        magic, pos = _unpickle(data, 0, {})
    except _Refused:
        raise
    except _Malformed:
        magic = None
    if not (_is_int(magic) and magic == _LEGACY_MAGIC):
        what = "a damaged or truncated zip archive" if data[:4] == b"PK\x03\x04" else "not a PyTorch file"
        raise _Malformed(f"is {what} (neither a readable zip archive nor the legacy format)")
    protocol, pos = _unpickle(data, pos, {})
    sys_info, pos = _unpickle(data, pos, {})
    if not (_is_int(protocol) and protocol == 1001 and type(sys_info) is dict
            and type(sys_info.get("little_endian")) is bool):
        raise _Malformed(f"unsupported legacy header: protocol {_short(protocol)}, system info {_short(sys_info)}")
    order = "<" if sys_info["little_endian"] else ">"
    storages = {}
    obj, pos = _unpickle(data, pos, storages)
    keys, pos = _unpickle(data, pos, {})
    if not (type(keys) is list and all(type(k) is str for k in keys) and len(set(keys)) == len(keys)):
        raise _Malformed(f"the storage key list is malformed: {_short(keys)}")
    stray = [k for k in keys if k not in storages]
    if stray:
        raise _Malformed(f"storage {stray[0]!r} is not used by any tensor")
    # each storage: its element count as int64, then its raw bytes
    arrays = {}
    for key in keys:
        s = storages[key]
        if pos + 8 > len(data):
            break  # reported below as storages without bytes
        (numel,) = struct.unpack(order + "q", data[pos:pos + 8])
        if numel != s.numel:
            raise _Malformed(f"storage {key!r} has {numel} elements; expected {s.numel}")
        need = numel * s.stype.itemsize
        got = len(data) - pos - 8
        if got < need:  # checked before slicing: the declared numel may be huge
            raise _Malformed(f"storage {key!r} holds {got} bytes; its {numel} {s.stype.name} elements need {need}")
        arrays[key] = s.stype.decode(data[pos + 8:pos + 8 + need], order)
        pos += 8 + need
    unread = [key for key in storages if key not in arrays]
    if unread:
        raise _Malformed(f"the file ends without the bytes of storage(s) {unread}")
    if pos != len(data):
        raise _Malformed(f"{len(data) - pos} unexpected bytes after the last storage")
    return obj, arrays


def read_pth(path):
    """Read a PyTorch state_dict file (zip format, or the legacy pre-1.6 format) without PyTorch.

    Returns ``{name: np.ndarray}`` in the file's order, each array a C-contiguous copy with the
    tensor's shape and dtype (bfloat16 becomes float32). Strided and offset views are honoured.
    Raises ``DataNotFoundError`` if there is no such file, ``RefusedGlobalError`` for any global
    outside the allowed list, and ``FileFormatError`` (one line naming the file) for any damaged,
    truncated or hostile file, or one that is not a state_dict. A tensor may not have more elements
    than its storage (so torch's ``expand``-ed views are refused), and all tensors together at most
    ``_MAX_REUSE`` times the elements the file stores.
    """
    path = _check.path("read_pth", "path", path)
    if not path.is_file():
        raise DataNotFoundError(f"read_pth: no such file {path}")
    try:
        obj, arrays = _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
        if not isinstance(obj, dict):
            raise _Malformed(f"holds a {_kind(obj)}, not a state_dict (name -> tensor)")
        for name, t in obj.items():
            if type(name) is not str or not isinstance(t, _PendingTensor):
                raise _Malformed(f"entry {_short(name)} is a {_kind(t)}, not a tensor")
        # Each tensor is capped by its storage, but many entries can name one storage; tied weights
        # and views reuse values a little, a file that asks for far more than it holds is refused.
        wanted, stored = sum(math.prod(t.size) for t in obj.values()), sum(a.size for a in arrays.values())
        if wanted > _MAX_REUSE * stored:
            raise _Malformed(f"its tensors hold {_short(wanted)} elements, more than {_MAX_REUSE} times the "
                             f"{stored} its storages hold")
        out = {name: t.to_numpy(name, arrays[t.storage.key]) for name, t in obj.items()}
    except _Refused as exc:
        raise RefusedGlobalError(f"read_pth: {path}: {exc}") from None
    except _Malformed as exc:
        raise FileFormatError(f"read_pth: {path}: {exc}") from None
    except OSError as exc:
        raise FileFormatError(f"read_pth: cannot read {path}: {exc.strerror or exc}") from None
    return out


def convert_pth(src, dst):
    """Convert PyTorch state_dict ``src`` to an ``.npz`` at ``dst`` (atomic write); returns ``dst``.

    Keys and order are kept. ``dst`` must differ from ``src`` and end in ``.npz``.
    """
    fn = "convert_pth"
    src, dst = _check.path(fn, "src", src), _check.output_path(fn, "dst", dst)  # before the input is read
    if dst.suffix != ".npz":
        raise NpnetValueError(f"convert_pth: the output must be an .npz file; got {dst}")
    if dst.exists() and dst.resolve() == src.resolve():
        raise NpnetValueError(f"convert_pth: refusing to overwrite the input {src}")
    arrays = read_pth(src)
    with atomic_output(dst, fn) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return dst


def load_model_weights(model, name, path=None):
    """Load pretrained weights ``name`` (e.g. "squeezenet1_1") into ``model``; returns the file used.

    The file is ``path`` if given (an ``.npz``, or a torchvision ``.pth`` read without torch), else
    ``find_weights(name + ".npz")``. ``model`` needs ``state_dict()`` and ``load_state_dict(arrays,
    source)`` (``npnet.nn.Module``); every key, shape and value is checked, and problems are listed in
    one error naming the file (``FileFormatError`` from the file's reader, ``NpnetValueError`` from
    ``load_state_dict``). The model remembers the file as ``model.weights_file`` and which copy it is
    as ``model.weights_copy`` (``"fp16"`` or ``"exact"``, see :func:`weights_copy`).
    """
    _check.model("load_model_weights", model, ("state_dict", "load_state_dict"))
    found = find_weights(f"{name}.npz", path)
    if found.suffix == ".npz":
        expected = {k: np.shape(v) for k, v in model.state_dict().items()}
        arrays = load_npz_weights(found, expected)
    else:
        arrays = read_pth(found)
    model.load_state_dict(arrays, source=str(found))
    model.weights_file, model.weights_copy = found, weights_copy(found, arrays)
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
    except (NpnetError, OSError) as exc:  # bad input: one line, no traceback, nothing written
        print(f"python -m npnet.weights {args.verb}: error: " + str(exc).replace("\n  ", "; "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: the output is written atomically, so nothing is half-done
        print(f"python -m npnet.weights {args.verb}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
