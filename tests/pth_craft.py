"""Hand-built PyTorch state_dict files, valid and hostile, for the ``.pth`` reader tests (no torch).

A pickle is written here opcode by opcode (``pickletools`` documents each one), as a list of
*tokens*: byte strings that each push one value or perform one step. The valid state_dict below
uses exactly the opcodes ``torch.save`` writes; the fuzzer inserts, deletes, replaces and repeats
tokens, flips bits and truncates files, so the reader meets near-valid pickles, not just noise.

Run as a script, it reads a batch of fuzz cases in this process and exits 1 if any outcome is
neither a successful load nor an npnet error; ``tests/test_pth_fuzz.py`` runs it in a subprocess so
a segfault shows as a failed test instead of killing the suite::

    python tests/pth_craft.py SEED COUNT
"""
import io
import os
import pickle
import random
import struct
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

PROTO2, STOP, MARK = b"\x80\x02", b".", b"("
TUPLE, TUPLE1, TUPLE2, EMPTY_TUPLE = b"t", b"\x85", b"\x86", b")"
EMPTY_DICT, EMPTY_LIST, SETITEM, SETITEMS, APPENDS = b"}", b"]", b"s", b"u", b"e"
REDUCE, BUILD, BINPERSID = b"R", b"b", b"Q"
NONE, FALSE, POP, DUP = b"N", b"\x89", b"0", b"2"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def glob(module, name):
    """GLOBAL: push ``module.name`` (resolved by the unpickler's find_class)."""
    return b"c" + f"{module}\n{name}\n".encode()


def text(s):
    """BINUNICODE: push a str."""
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def integer(i):
    """LONG1: push any int, negative or huge."""
    raw = pickle.encode_long(i)
    return b"\x8a" + bytes([len(raw)]) + raw


def tup(*items):
    return MARK + b"".join(items) + TUPLE


def call(fn, *args):
    """REDUCE: push ``fn(*args)``."""
    return fn + tup(*args) + REDUCE


def ordered_dict():
    return call(glob("collections", "OrderedDict"))


def storage(key, numel, stype="FloatStorage"):
    """BINPERSID of torch's storage id ('storage', type, key, location, numel)."""
    return tup(text("storage"), glob("torch", stype), text(key), text("cpu"), integer(numel)) + BINPERSID


def tensor(st, offset, size, stride):
    """``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``."""
    return call(glob("torch._utils", "_rebuild_tensor_v2"), st, integer(offset), tup(*map(integer, size)),
                tup(*map(integer, stride)), FALSE, ordered_dict())


METADATA = EMPTY_DICT + text("_metadata") + ordered_dict() + SETITEM  # what torch puts in BUILD


def state_dict_tokens(entries, state=METADATA):
    """Tokens of an OrderedDict state_dict {name: tensor tokens}, then BUILD with ``state`` (if any)."""
    tokens = [PROTO2, ordered_dict(), MARK]
    for name, t in entries.items():
        tokens += [text(name), t]
    tokens.append(SETITEMS)
    if state is not None:
        tokens += [state, BUILD]
    return tokens + [STOP]


def zip_pth(pkl, storages, prefix="archive"):
    """Bytes of a zip-format .pth: ``prefix/data.pkl``, ``prefix/byteorder``, ``prefix/data/<key>``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{prefix}/data.pkl", pkl)
        z.writestr(f"{prefix}/byteorder", "little")
        for key, raw in storages.items():
            z.writestr(f"{prefix}/data/{key}", raw)
    return buf.getvalue()


def legacy_pth(pkl, storages, itemsizes):
    """Bytes of a legacy .pth: magic, protocol, system info, the pickle, the keys, then each storage
    as its int64 element count and its bytes (``itemsizes[key]`` bytes per element)."""
    head = b"".join(pickle.dumps(v, protocol=2) for v in (LEGACY_MAGIC, 1001, {"little_endian": True}))
    tail = b"".join(struct.pack("<q", len(raw) // itemsizes[k]) + raw for k, raw in storages.items())
    return head + pkl + pickle.dumps(list(storages), protocol=2) + tail


# The valid state_dict: a C-order tensor, a transposed view and an offset view of one float32
# storage, a float64 vector and a 0-d int64.
STORAGE0 = np.arange(6, dtype="<f4")
STORAGES = {"0": STORAGE0.tobytes(), "1": np.array([0.5, -1, 2], "<f8").tobytes(),
            "2": np.array([7], "<i8").tobytes()}
ITEMSIZES = {"0": 4, "1": 8, "2": 8}
ENTRIES = {
    "w": tensor(storage("0", 6), 0, (2, 3), (3, 1)),
    "w_t": tensor(storage("0", 6), 0, (3, 2), (1, 3)),
    "tail": tensor(storage("0", 6), 4, (2,), (1,)),
    "b": tensor(storage("1", 3, "DoubleStorage"), 0, (3,), (1,)),
    "n": tensor(storage("2", 1, "LongStorage"), 0, (), ()),
}
EXPECTED = {"w": STORAGE0.reshape(2, 3), "w_t": STORAGE0.reshape(2, 3).T, "tail": STORAGE0[4:],
            "b": np.array([0.5, -1, 2]), "n": np.array(7, np.int64)}
VALID_TOKENS = state_dict_tokens(ENTRIES)


def valid_zip():
    return zip_pth(b"".join(VALID_TOKENS), STORAGES)


def valid_legacy():
    return legacy_pth(b"".join(VALID_TOKENS), STORAGES, ITEMSIZES)


# Tokens the fuzzer splices in: numbers at the edges, every structural opcode, allowed and refused
# globals, storages and tensors with hostile fields, and memo traffic.
_NUMBERS = [-(2 ** 63), -1, 0, 1, 2, 3, 5, 6, 7, 2 ** 31, 2 ** 63, 10 ** 30]
SPLICE = [
    PROTO2, STOP, MARK, TUPLE, TUPLE1, TUPLE2, EMPTY_TUPLE, EMPTY_DICT, EMPTY_LIST, SETITEM, SETITEMS,
    APPENDS, REDUCE, BUILD, BINPERSID, NONE, FALSE, POP, DUP, b"q\x00", b"h\x00", b"h\x07",
    text("storage"), text("0"), text("_metadata"), text("stride"), text("offset"), ordered_dict(),
    glob("torch", "FloatStorage"), glob("torch._utils", "_rebuild_tensor_v2"), glob("collections", "OrderedDict"),
    glob("torch._utils", "_rebuild_parameter"), glob("os", "system"), glob("builtins", "getattr"),
    EMPTY_DICT + text("stride") + tup(integer(-1)) + SETITEM + BUILD,
    EMPTY_DICT + text("stride") + tup(integer(-3), integer(1)) + SETITEM + BUILD,
    NONE + EMPTY_DICT + text("offset") + integer(-64) + SETITEM + TUPLE2 + BUILD,
    NONE + EMPTY_DICT + text("code") + text("f8") + SETITEM + TUPLE2 + BUILD,
    storage("0", 6), storage("0", 10 ** 12), storage("9", 1), storage("0", 6, "LongStorage"),
    tensor(storage("0", 6), 0, (10 ** 9,), (0,)), tensor(storage("0", 6), -4, (2,), (1,)),
    tensor(storage("0", 6), 0, (3,), (-1,)), tensor(storage("0", 6), 5, (2, 2), (1, 1)),
] + [integer(n) for n in _NUMBERS]


def _mutate_tokens(rng):
    tokens = list(VALID_TOKENS)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(tokens) + 1)
        kind = rng.randrange(4)
        if kind == 0:
            tokens.insert(i, rng.choice(SPLICE))
        elif kind == 1 and i < len(tokens):
            del tokens[i]
        elif kind == 2 and i < len(tokens):
            tokens[i] = rng.choice(SPLICE)
        else:
            tokens.insert(i, tokens[min(i, len(tokens) - 1)])
    return b"".join(tokens)


def _flip_bits(rng, data, start=0):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(start, len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def fuzz_case(seed):
    """``(kind, file bytes)`` of fuzz case ``seed``: one of six kinds of damage to the valid files."""
    rng = random.Random(seed)
    kind = ["truncate", "flip_file", "flip_pickle", "tokens", "tokens_legacy", "noise"][seed % 6]
    if kind == "truncate":
        data = rng.choice([valid_zip, valid_legacy])()
        return kind, data[:rng.randrange(len(data))]
    if kind == "flip_file":
        return kind, _flip_bits(rng, rng.choice([valid_zip, valid_legacy])())
    if kind == "flip_pickle":  # re-zipped, so the archive's checksums pass and the pickle is parsed
        return kind, zip_pth(_flip_bits(rng, b"".join(VALID_TOKENS), start=2), STORAGES)
    if kind == "tokens":
        return kind, zip_pth(_mutate_tokens(rng), STORAGES)
    if kind == "tokens_legacy":
        return kind, legacy_pth(_mutate_tokens(rng), STORAGES, ITEMSIZES)
    return kind, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600)))


def outcome(read, path):
    """Classify one read: "loaded", "refused" (an npnet error), or "BAD ..." for anything else."""
    from npnet.errors import NpnetError

    try:
        arrays = read(path)
    except NpnetError:
        return "refused"
    except Exception as exc:
        return f"BAD {type(exc).__name__}: {exc}"
    if not (isinstance(arrays, dict) and all(isinstance(a, np.ndarray) for a in arrays.values())):
        return f"BAD result {type(arrays).__name__}"
    if sum(a.nbytes for a in arrays.values()) > 8 * path.stat().st_size:
        return "BAD result larger than 8x the file"
    return "loaded"


def run(first_seed, count, read=None, folder=None):
    """Read fuzz cases ``first_seed .. first_seed + count - 1``; returns (Counter of outcomes, bad list)."""
    if read is None:
        from npnet.weights import read_pth as read
    if folder is None and os.access("/dev/shm", os.W_OK):
        folder = "/dev/shm"  # in memory: thousands of small files, no disk traffic
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp) / "case.pth"
        counts, bad = Counter(), []
        for seed in range(first_seed, first_seed + count):
            kind, data = fuzz_case(seed)
            path.write_bytes(data)
            result = outcome(read, path)
            counts[kind, result.split()[0]] += 1
            if result.startswith("BAD"):
                bad.append((seed, kind, result))
    return counts, bad


if __name__ == "__main__":
    counts, bad = run(int(sys.argv[1]), int(sys.argv[2]))
    print(sum(counts.values()), "cases:", dict(sorted(counts.items())))
    for case in bad[:20]:
        print("seed", *case)
    sys.exit(1 if bad else 0)
