"""The torch-free ``.pth`` reader against hostile files (issue 9 §1).

Every file is built opcode by opcode by ``tests/pth_craft.py`` (no torch): BUILD aimed at each kind
of object the unpickler hands out, tensor fields out of range, archives and legacy files with a
wrong record layout, and a seeded fuzz of thousands of damaged files, in this process and in a
subprocess (so a segfault fails a test instead of the suite). Only a correct load or an npnet error
may come out.
"""
import io
import pickle
import struct
import subprocess
import sys
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import pth_craft as pc
from npnet.errors import FileFormatError
from npnet.weights import RefusedGlobalError, read_pth

TENSOR_W = pc.ENTRIES["w"]


def write(tmp_path, data, name="f.pth"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def zip_of(tokens, storages=None):
    return pc.zip_pth(b"".join(tokens), pc.STORAGES if storages is None else storages)


def assert_valid_files_load(tmp_path):
    for data in (pc.valid_zip(), pc.valid_legacy()):
        got = read_pth(write(tmp_path, data, "valid.pth"))
        assert list(got) == list(pc.EXPECTED)
        for k, want in pc.EXPECTED.items():
            assert got[k].dtype == want.dtype and got[k].flags.c_contiguous, k
            np.testing.assert_array_equal(got[k], want, err_msg=k)


def test_crafted_valid_files_load(tmp_path):
    assert_valid_files_load(tmp_path)


# --- BUILD: nothing can be changed after it was made ------------------------------------------------

def _dict(**items):
    return pc.EMPTY_DICT + b"".join(pc.text(k) + v + pc.SETITEM for k, v in items.items())


# BUILD's state: a dict (sets __dict__ or goes to __setstate__), or (None, slots) which calls setattr
STATES = {
    "negative stride": _dict(stride=pc.tup(pc.integer(-3), pc.integer(1))),
    "negative offset via slots": pc.tup(pc.NONE, _dict(offset=pc.integer(-64))),
    "huge size": _dict(size=pc.tup(pc.integer(10 ** 9), pc.integer(3))),
}


@pytest.mark.parametrize("state", STATES.values(), ids=list(STATES))
def test_build_cannot_rewrite_a_tensor_after_its_checks(tmp_path, state):
    tokens = pc.state_dict_tokens({"w": TENSOR_W + state + pc.BUILD})
    with pytest.raises(FileFormatError, match=r"f\.pth: .*(BUILD|set)"):
        read_pth(write(tmp_path, zip_of(tokens)))


SHARED = {
    "storage type": pc.glob("torch", "FloatStorage"),
    "rebuild function": pc.glob("torch._utils", "_rebuild_tensor_v2"),
    "OrderedDict": pc.glob("collections", "OrderedDict"),
    "a storage": pc.storage("0", 6),
}


@pytest.mark.parametrize("state", [_dict(code=pc.text("f8"), itemsize=pc.integer(1)),
                                   pc.tup(pc.NONE, _dict(__code__=pc.NONE, fn=pc.NONE))], ids=["dict", "slots"])
@pytest.mark.parametrize("target", SHARED.values(), ids=list(SHARED))
def test_build_on_shared_objects_is_refused_and_later_files_still_load(tmp_path, target, state):
    # the attack comes first, then a normal state_dict: a reader that let BUILD through would load it
    tokens = [pc.PROTO2, target, state, pc.BUILD, pc.POP] + pc.VALID_TOKENS[1:]
    for data in (zip_of(tokens), pc.legacy_pth(b"".join(tokens), pc.STORAGES, pc.ITEMSIZES)):
        with pytest.raises(FileFormatError, match="BUILD|set|malformed pickle"):
            read_pth(write(tmp_path, data))
    assert_valid_files_load(tmp_path)


def test_state_dict_build_accepts_only_torch_metadata(tmp_path):
    assert read_pth(write(tmp_path, zip_of(pc.VALID_TOKENS)))  # torch's own BUILD of _metadata
    assert read_pth(write(tmp_path, zip_of(pc.state_dict_tokens(pc.ENTRIES, state=None))))
    for state in (_dict(extra=pc.integer(1)), pc.tup(pc.NONE, _dict(_metadata=pc.NONE))):
        with pytest.raises(FileFormatError, match="only a state_dict's '_metadata'"):
            read_pth(write(tmp_path, zip_of(pc.state_dict_tokens(pc.ENTRIES, state))))


# --- tensor fields, checked against the storage's real bytes ----------------------------------------

@pytest.mark.parametrize("offset, size, stride, msg", [
    (-4, (2,), (1,), "must be integers >= 0"),
    (0, (2, 3), (-3, 1), "must be integers >= 0"),
    (0, (2, 3), (3,), "must be integers >= 0"),  # one stride for two dims
    (0, (1,) * 33, (1,) * 33, "at most 32 dims"),
    (0, (6,), (2,), "reaches element 10 of a storage with 6"),
    (7, (0,), (1,), "is empty but does not fit"),
    (0, (0, 2 ** 40, 2 ** 40), (1, 1, 1), "is empty but does not fit"),
])
def test_tensor_fields_out_of_range_are_refused(tmp_path, offset, size, stride, msg):
    tokens = pc.state_dict_tokens({"w": pc.tensor(pc.storage("0", 6), offset, size, stride)})
    with pytest.raises(FileFormatError, match=msg):
        read_pth(write(tmp_path, zip_of(tokens)))


def test_sizes_of_wrong_type_are_refused(tmp_path):
    st = pc.storage("0", 6)
    glob = pc.glob("torch._utils", "_rebuild_tensor_v2")
    for size in (pc.tup(b"\x88"), pc.tup(b"G" + np.float64(2).astype(">f8").tobytes()), pc.text("2")):
        tokens = pc.state_dict_tokens({"w": pc.call(glob, st, pc.integer(0), size, pc.tup(pc.integer(1)))})
        with pytest.raises(FileFormatError, match="malformed tensor"):
            read_pth(write(tmp_path, zip_of(tokens)))


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("tensor, storages, msg", [
    # stride 0 and a size of 10**12: one stored value asked to fill a terabyte
    (pc.tensor(pc.storage("0", 6), 0, (10 ** 12,), (0,)), None, "hold 1000000000000 elements, more than"),
    # a storage that claims 10**12 elements but whose record holds 24 bytes
    (pc.tensor(pc.storage("0", 10 ** 12), 0, (10 ** 12,), (1,)), None, "holds 24 bytes"),
])
def test_tiny_file_cannot_allocate_much(tmp_path, tensor, storages, msg):
    path = write(tmp_path, zip_of(pc.state_dict_tokens({"w": tensor}), storages))

    def read():
        with pytest.raises(FileFormatError, match=msg):
            read_pth(path)

    assert _peak_bytes(read) < 2 ** 20


def test_many_entries_cannot_multiply_one_storage(tmp_path):
    # every entry is the same 6-element tensor (a 2-byte memo reference in a real attack)
    tokens = pc.state_dict_tokens({f"w{i}": TENSOR_W for i in range(5)})
    with pytest.raises(FileFormatError, match=r"hold 30 elements, more than 4 times the 6"):
        read_pth(write(tmp_path, zip_of(tokens, {"0": pc.STORAGES["0"]})))
    tokens = pc.state_dict_tokens({f"w{i}": TENSOR_W for i in range(4)})  # tied weights are fine
    assert len(read_pth(write(tmp_path, zip_of(tokens, {"0": pc.STORAGES["0"]})))) == 4


@pytest.mark.parametrize("pid, msg", [
    (pc.tup(pc.text("storage"), pc.glob("torch", "FloatStorage"), pc.text("../0"), pc.text("cpu"),
            pc.integer(6)), "unsupported persistent id"),
    (pc.tup(pc.text("storage"), pc.glob("torch", "FloatStorage"), pc.text("0"), pc.text("cpu"),
            pc.integer(-1)), "unsupported persistent id"),
    (pc.tup(pc.text("storage"), pc.text("FloatStorage"), pc.text("0"), pc.text("cpu"), pc.integer(6)),
     "unsupported persistent id"),
    (pc.tup(pc.text("module"), pc.NONE), "unsupported persistent id"),
])
def test_malformed_storage_ids_are_refused(tmp_path, pid, msg):
    tokens = pc.state_dict_tokens({"w": pc.tensor(pid + pc.BINPERSID, 0, (2,), (1,))})
    with pytest.raises(FileFormatError, match=msg):
        read_pth(write(tmp_path, zip_of(tokens)))


def test_storage_declared_twice_differently_is_refused(tmp_path):
    tokens = pc.state_dict_tokens({"a": TENSOR_W, "b": pc.tensor(pc.storage("0", 3), 0, (3,), (1,))})
    with pytest.raises(FileFormatError, match="storage '0' is declared twice"):
        read_pth(write(tmp_path, zip_of(tokens)))


def test_unknown_storage_type_and_globals_are_refused(tmp_path):
    hostile = {"torch.ComplexFloatStorage": pc.tensor(pc.storage("0", 6, "ComplexFloatStorage"), 0, (2,), (1,)),
               "builtins.getattr": pc.call(pc.glob("builtins", "getattr"), pc.NONE, pc.text("x")),
               "os.system": pc.call(pc.glob("os", "system"), pc.text("true"))}
    for qualname, value in hostile.items():
        with pytest.raises(RefusedGlobalError, match=f"refused global {qualname}"):
            read_pth(write(tmp_path, zip_of(pc.state_dict_tokens({"w": value}))))


@pytest.mark.parametrize("opcodes, msg", [
    (b"(i__main__\nX\n", "opcode INST"),  # builds an object without find_class's stand-ins
    (pc.glob("collections", "OrderedDict") + pc.EMPTY_TUPLE + b"\x81", "opcode NEWOBJ"),
    (b"\x82\x01", "opcode EXT1"),
    (b"\x8e" + (2 ** 62).to_bytes(8, "little"), "not a valid pickle"),  # BINBYTES8 claiming 4 EiB
    (b"X\xff\xff\xff\xff", "not a valid pickle"),  # a 4 GiB string in a 5-byte file
    (b"\x95" + (2 ** 62).to_bytes(8, "little") + pc.NONE, "pickle data was truncated"),  # a 4 EiB frame
    (b"P0\n", "opcode PERSID"),
])
def test_refused_opcodes_and_impossible_lengths(tmp_path, opcodes, msg):
    path = write(tmp_path, zip_of([pc.PROTO2, opcodes, pc.STOP]))
    peak = _peak_bytes(lambda: pytest.raises(FileFormatError, read_pth, path).match(msg))
    assert peak < 2 ** 20


def test_deeply_nested_pickle_gives_a_short_message(tmp_path):
    deep = pc.EMPTY_LIST * 100_000 + b"a" * 99_999  # a list in a list ... 100000 deep
    with pytest.raises(FileFormatError, match=r"holds a list, not a state_dict") as info:
        read_pth(write(tmp_path, zip_of([pc.PROTO2, deep, pc.STOP])))
    assert len(str(info.value)) < 300


# --- archive and legacy record layout -----------------------------------------------------------------

def _zip(members, compress=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name, written on purpose
        with zipfile.ZipFile(buf, "w", compression=compress) as z:
            for name, data in members:
                z.writestr(name, data)
    return buf.getvalue()


VALID_MEMBERS = [("archive/data.pkl", b"".join(pc.VALID_TOKENS)), ("archive/byteorder", b"little")] + [
    (f"archive/data/{k}", raw) for k, raw in pc.STORAGES.items()]


@pytest.mark.parametrize("members, compress, msg", [
    (VALID_MEMBERS, zipfile.ZIP_DEFLATED, "compressed or encrypted"),
    (VALID_MEMBERS + [("other/x", b"")], zipfile.ZIP_STORED, "outside the archive's folder archive/"),
    (VALID_MEMBERS + [("archive/data/0", b"")], zipfile.ZIP_STORED, "holds archive/data/0 twice"),
    ([VALID_MEMBERS[0], ("archive/byteorder", b"middle")] + VALID_MEMBERS[2:], zipfile.ZIP_STORED,
     "byte order record says b'middle'"),
    ([("archive/data.pkl", VALID_MEMBERS[0][1] + b"junk")] + VALID_MEMBERS[1:], zipfile.ZIP_STORED,
     "holds 4 bytes after its pickle"),
    (VALID_MEMBERS[:2] + [("archive/data/0", pc.STORAGES["0"] + b"\0" * 4)] + VALID_MEMBERS[3:],
     zipfile.ZIP_STORED, "storage '0' holds 28 bytes"),
    (VALID_MEMBERS[:3] + VALID_MEMBERS[4:], zipfile.ZIP_STORED, "lacks the storage record archive/data/1"),
])
def test_zip_layout_is_checked(tmp_path, members, compress, msg):
    with pytest.raises(FileFormatError, match=msg):
        read_pth(write(tmp_path, _zip(members, compress)))


def test_truncated_and_corrupt_zip(tmp_path):
    data = pc.valid_zip()
    with pytest.raises(FileFormatError, match="damaged or truncated zip archive"):
        read_pth(write(tmp_path, data[:-30]))
    i = data.index(pc.STORAGES["1"])  # a flipped byte inside a storage: the archive's CRC catches it
    with pytest.raises(FileFormatError, match="cannot read the storage archive/data/1 .*CRC"):
        read_pth(write(tmp_path, data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]))


def test_legacy_layout_is_checked(tmp_path):
    pkl = b"".join(pc.VALID_TOKENS)
    good = pc.legacy_pth(pkl, pc.STORAGES, pc.ITEMSIZES)
    with pytest.raises(FileFormatError, match="3 unexpected bytes after the last storage"):
        read_pth(write(tmp_path, good + b"abc"))
    huge = good.replace(struct.pack("<q", 3) + pc.STORAGES["1"], struct.pack("<q", 2 ** 62) + pc.STORAGES["1"])
    with pytest.raises(FileFormatError, match="storage '1' has 4611686018427387904 elements; expected 3"):
        read_pth(write(tmp_path, huge))
    extra = {**pc.STORAGES, "9": b""}
    with pytest.raises(FileFormatError, match="storage '9' is not used by any tensor"):
        read_pth(write(tmp_path, pc.legacy_pth(pkl, extra, {**pc.ITEMSIZES, "9": 4})))
    head = good[:good.index(pkl)]
    with pytest.raises(FileFormatError, match="storage key list is malformed"):
        read_pth(write(tmp_path, head + pkl + pc.PROTO2 + pc.integer(5) + pc.STOP))
    bad_header = good.replace(pickle.dumps({"little_endian": True}, protocol=2),
                              pickle.dumps({"little_endian": "yes"}, protocol=2))
    with pytest.raises(FileFormatError, match="unsupported legacy header"):
        read_pth(write(tmp_path, bad_header))


# --- fuzz ---------------------------------------------------------------------------------------------

def test_fuzz_only_npnet_errors_or_correct_loads():
    counts, bad = pc.run(0, 4000)
    assert not bad, f"{len(bad)} of 4000 cases escaped (seed, kind, outcome): {bad[:5]}"
    loaded = sum(n for (_, result), n in counts.items() if result == "loaded")
    assert 20 < loaded < 500  # the fuzz reaches deep enough that some damaged files still load


def test_fuzz_batch_in_a_subprocess_does_not_crash():
    r = subprocess.run([sys.executable, str(Path(pc.__file__)), "100000", "2000"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, f"exit {r.returncode} (negative: killed by signal)\n{r.stdout}\n{r.stderr}"
    assert r.stdout.startswith("2000 cases:")


def test_fuzz_classifier_reports_what_it_must(tmp_path):
    path = write(tmp_path, b"x")
    assert pc.outcome(lambda p: {}["missing"], path).startswith("BAD KeyError")
    assert pc.outcome(lambda p: {"w": np.zeros(100)}, path) == "BAD result larger than 8x the file"
    assert pc.outcome(lambda p: ["w"], path) == "BAD result list"
    assert pc.outcome(read_pth, path) == "refused"
    counts, bad = pc.run(0, 6, read=lambda p: p.read_bytes()[10 ** 9], folder=tmp_path)
    assert len(bad) == 6 and all("IndexError" in b[2] for b in bad)


def test_a_large_file_that_is_no_pickle_is_not_read_whole(tmp_path):
    path = tmp_path / "video.pth"
    with open(path, "wb") as f:
        f.write(b"\0\0\0\x18ftypmp42")
        f.truncate(200 * 2 ** 20)  # 200 MiB, sparse

    def read():
        with pytest.raises(FileFormatError, match="video.pth: is not a PyTorch file"):
            read_pth(path)

    assert _peak_bytes(read) < 2 ** 20


def test_huge_names_and_numbers_give_a_short_message(tmp_path):
    big = 10 ** 600
    cases = {"w": (pc.tensor(pc.storage("0", 6), 0, (2, big), (1, big)), "its tensors hold 2000.*elements"),
             "w" * 100_000: (pc.tensor(pc.storage("0", 6), big, (2,), (1,)), r"tensor 'www.*\.\.\..*reaches element"),
             "v": (pc.tensor(pc.storage("0", 6), 0, (1, 2), (1, big)), r"tensor 'v' .*reaches element 1000.*\.\.\.")}
    for name, (tensor, msg) in cases.items():
        with pytest.raises(FileFormatError, match=msg) as info:
            read_pth(write(tmp_path, zip_of(pc.state_dict_tokens({name: tensor}))))
        assert len(str(info.value)) < 500, str(info.value)
