"""npnet.weights: .npz loading/validation, the torch-free .pth reader, conversion and CLI.

Fixtures ``tests/data/tiny_state_dict_*`` were made with PyTorch by ``tests/data/make_pth_fixtures.py``
(see tests/data/README.md). Hand-crafted pickles below are written with stand-in ``torch`` modules,
so no test needs PyTorch.
"""
import collections
import hashlib
import io
import pickle
import re
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

import pth_craft as pc
from npnet.data import lookup
from npnet.data.lookup import find_weights, sha256_file
from npnet.errors import FileFormatError, NpnetTypeError, NpnetValueError
from npnet.models.squeezenet import SqueezeNet, squeezenet1_1
from npnet.nn import Conv2d, Linear
from npnet.weights import (COPY_LABELS, KNOWN_CONTENT_SHA256, KNOWN_SHA256, RefusedGlobalError, content_sha256,
                           convert_pth, load_model_weights, load_npz_weights, main, read_pth, weights_copy,
                           weights_note)

DATA = Path(__file__).parent / "data"
TINY = {fmt: DATA / f"tiny_state_dict_{fmt}.pth" for fmt in ("zip", "legacy")}
W = "squeezenet1_1.npz"


@pytest.fixture(scope="module")
def tiny_expected():
    with np.load(DATA / "tiny_state_dict_expected.npz") as f:
        return {k: f[k] for k in f.files}


def squeezenet11_shapes():
    """torchvision SqueezeNet 1.1 state_dict shapes, written out from the architecture (Iandola et al. 2016)."""
    shapes = {"features.0.weight": (64, 3, 3, 3), "features.0.bias": (64,)}
    fires = {3: (64, 16, 64), 4: (128, 16, 64), 6: (128, 32, 128), 7: (256, 32, 128),
             9: (256, 48, 192), 10: (384, 48, 192), 11: (384, 64, 256), 12: (512, 64, 256)}
    for i, (cin, sq, ex) in fires.items():
        for part, shape in (("squeeze", (sq, cin, 1, 1)), ("expand1x1", (ex, sq, 1, 1)), ("expand3x3", (ex, sq, 3, 3))):
            shapes[f"features.{i}.{part}.weight"] = shape
            shapes[f"features.{i}.{part}.bias"] = (shape[0],)
    shapes["classifier.1.weight"] = (1000, 512, 1, 1)
    shapes["classifier.1.bias"] = (1000,)
    return shapes


# --- .pth reading -----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_read_pth_matches_torch(fmt, tiny_expected):
    got = read_pth(TINY[fmt])
    assert list(got) == list(tiny_expected)  # state_dict order is kept
    for k, want in tiny_expected.items():
        assert got[k].dtype == want.dtype, k
        assert got[k].shape == want.shape, k
        assert got[k].flags.c_contiguous, k
        np.testing.assert_array_equal(got[k], want, err_msg=k)


def test_read_pth_honours_strides_and_offsets(tiny_expected):
    got = read_pth(TINY["zip"])
    # a transposed (6, 4) view of a (4, 6) storage, and two views of one storage at offsets 0 and 4
    assert got["features.3.squeeze.weight"].shape == (6, 4)
    np.testing.assert_array_equal(got["features.3.shared_head"], [0, 0.5, 1, 1.5])
    np.testing.assert_array_equal(got["features.3.shared_tail"], [[2, 2.5, 3], [3.5, 4, 4.5]])
    assert got["bn.num_batches_tracked"].shape == () and got["bn.num_batches_tracked"] == 7


@pytest.fixture
def fake_torch(monkeypatch):
    """Stand-in ``torch`` / ``torch._utils`` modules so pickle can write the globals a .pth names."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in ("FloatStorage", "LongStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


class _StorageRef:
    def __init__(self, stype, key, numel):
        self.stype, self.key, self.numel = stype, key, numel


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return sys.modules["torch._utils"]._rebuild_tensor_v2, self.args


def write_zip_pth(path, obj, storages):
    """Write ``obj`` as data.pkl of a zip .pth; ``storages`` maps key -> raw bytes."""
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=2)
    p.persistent_id = lambda o: ("storage", o.stype, o.key, "cpu", o.numel) if isinstance(o, _StorageRef) else None
    p.dump(obj)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", "little")
        for key, raw in storages.items():
            z.writestr(f"archive/data/{key}", raw)


def test_handmade_pth_is_read(tmp_path, fake_torch):
    s = _StorageRef(fake_torch.FloatStorage, "0", 6)
    sd = collections.OrderedDict(w=_TensorRef(s, 1, (2, 2), (1, 2)))  # picks elements 1,3 / 2,4
    write_zip_pth(tmp_path / "h.pth", sd, {"0": np.arange(6, dtype="<f4").tobytes()})
    np.testing.assert_array_equal(read_pth(tmp_path / "h.pth")["w"], [[1, 3], [2, 4]])


@pytest.mark.parametrize("offset, size, stride, msg", [
    (0, (2, 4), (4, 1), "has 8 elements, more than its storage's 6"),
    (0, (2, 2), (5, 1), "reaches element 6"),  # 4 elements, but the last one lies past the storage
    (5, (2,), (1,), "reaches element 6"),
])
def test_tensor_outside_its_storage_is_refused(tmp_path, fake_torch, offset, size, stride, msg):
    s = _StorageRef(fake_torch.FloatStorage, "0", 6)
    write_zip_pth(tmp_path / "bad.pth", {"w": _TensorRef(s, offset, size, stride)},
                  {"0": np.zeros(6, "<f4").tobytes()})
    with pytest.raises(ValueError, match=msg):
        read_pth(tmp_path / "bad.pth")


def test_short_storage_record_is_refused(tmp_path, fake_torch):
    s = _StorageRef(fake_torch.LongStorage, "0", 4)
    write_zip_pth(tmp_path / "short.pth", {"w": _TensorRef(s, 0, (4,), (1,))}, {"0": b"\0" * 16})
    with pytest.raises(ValueError, match="holds 16 bytes.*need 32"):
        read_pth(tmp_path / "short.pth")


def _evil_pickle(marker):
    # GLOBAL os.system; then REDUCE calls it with a shell command that would create ``marker``
    cmd = f"touch {marker}".encode()
    return b"\x80\x02cos\nsystem\nX" + len(cmd).to_bytes(4, "little") + cmd + b"\x85R."


def test_malicious_zip_pth_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    with zipfile.ZipFile(tmp_path / "evil.pth", "w") as z:
        z.writestr("archive/data.pkl", _evil_pickle(marker))
    with pytest.raises(pickle.UnpicklingError, match=r"refused global os\.system"):
        read_pth(tmp_path / "evil.pth")
    assert not marker.exists()


@pytest.mark.parametrize("position", ["magic", "state_dict"])
def test_malicious_legacy_pth_is_refused_without_running(tmp_path, position):
    marker = tmp_path / "pwned"
    head = b"" if position == "magic" else b"".join(
        pickle.dumps(v, protocol=2) for v in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}))
    (tmp_path / "evil.pth").write_bytes(head + _evil_pickle(marker))
    with pytest.raises(RefusedGlobalError, match=r"os\.system"):
        read_pth(tmp_path / "evil.pth")
    assert not marker.exists()


def test_truncated_legacy_pth(tmp_path):
    full = TINY["legacy"].read_bytes()
    (tmp_path / "cut.pth").write_bytes(full[:-100])
    with pytest.raises(ValueError, match="holds .* bytes"):
        read_pth(tmp_path / "cut.pth")
    last = np.load(DATA / "tiny_state_dict_expected.npz")["bn.index"]  # the last storage in the file
    (tmp_path / "cut.pth").write_bytes(full[:-(8 + last.nbytes)])
    with pytest.raises(ValueError, match="ends without the bytes of storage"):
        read_pth(tmp_path / "cut.pth")


def test_non_pth_files_give_clear_errors(tmp_path):
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(ValueError, match="not a PyTorch file"):
        read_pth(tmp_path / "text.pth")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "x")
    with pytest.raises(ValueError, match="no single <name>/data.pkl"):
        read_pth(tmp_path / "other.zip")
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        read_pth(tmp_path / "nope.pth")


# --- conversion and CLI -------------------------------------------------------------------------

def test_convert_pth_writes_equal_npz(tmp_path, tiny_expected):
    dst = convert_pth(TINY["legacy"], tmp_path / "out.npz")
    with np.load(dst) as f:
        assert f.files == list(tiny_expected)
        for k in f.files:
            np.testing.assert_array_equal(f[k], tiny_expected[k])
            assert f[k].dtype == tiny_expected[k].dtype
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]  # no temporary left behind


def test_convert_pth_refuses_to_overwrite_its_input(tmp_path):
    src = tmp_path / "w.npz"
    src.write_bytes(TINY["zip"].read_bytes())  # a .pth that happens to be named .npz
    before = src.read_bytes()
    (tmp_path / "link.npz").symlink_to(src)
    for dst in (src, tmp_path / "link.npz"):
        with pytest.raises(ValueError, match="refusing to overwrite the input"):
            convert_pth(src, dst)
    assert src.read_bytes() == before
    with pytest.raises(ValueError, match="must be an .npz"):
        convert_pth(TINY["zip"], tmp_path / "out.pth")


def test_cli_convert_and_info(tmp_path, capsys, tiny_expected):
    assert main(["convert", str(TINY["zip"]), str(tmp_path / "o.npz")]) == 0
    out = capsys.readouterr().out
    assert "features.0.weight" in out and "(3, 2, 3, 3)" in out and "9 arrays" in out
    assert main(["info", str(TINY["legacy"])]) == 0
    assert hashlib.sha256(TINY["legacy"].read_bytes()).hexdigest() in capsys.readouterr().out
    assert main(["info", str(tmp_path / "missing.pth")]) == 1
    assert "missing.pth" in capsys.readouterr().err


def test_cli_runs_as_module():
    r = subprocess.run([sys.executable, "-m", "npnet.weights", "info", str(TINY["zip"])],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "bn.num_batches_tracked" in r.stdout


# --- .npz loading ------------------------------------------------------------------------------

def test_load_npz_lists_every_problem(tmp_path):
    np.savez(tmp_path / "w.npz", a=np.zeros((2, 3)), b=np.zeros(4, np.float32), extra=np.zeros(1))
    expected = {"a": (2, 3), "b": (5,), "c": (1, 1)}
    with pytest.raises(ValueError) as info:
        load_npz_weights(tmp_path / "w.npz", expected)
    msg = str(info.value)
    assert "missing 'c' (expected shape (1, 1))" in msg
    assert "unexpected 'extra' (shape (1,))" in msg
    assert "'b': expected shape (5,), got (4,)" in msg
    assert "'a'" not in msg


def test_load_npz_casts_floats_and_keeps_order(tmp_path):
    np.savez(tmp_path / "w.npz", z=np.ones(2), a=np.arange(3, dtype=np.int64))
    w = load_npz_weights(tmp_path / "w.npz", {"z": (2,), "a": (3,)})
    assert list(w) == ["z", "a"]
    assert w["z"].dtype == np.float32 and w["a"].dtype == np.int64


def test_load_npz_checks_sha256_and_refuses_pickles(tmp_path):
    np.savez(tmp_path / "w.npz", a=np.zeros(2))
    good = hashlib.sha256((tmp_path / "w.npz").read_bytes()).hexdigest()
    assert set(load_npz_weights(tmp_path / "w.npz", sha256=good)) == {"a"}
    with pytest.raises(ValueError, match=f"has SHA-256 {good}; expected 00ff"):
        load_npz_weights(tmp_path / "w.npz", sha256="00ff")
    np.savez(tmp_path / "obj.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="obj.npz is not a readable"):
        load_npz_weights(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.npz"):
        load_npz_weights(tmp_path / "junk.npz")


def test_content_sha256_definition():
    arrays = {"x": np.array([1.0, 2.0]), "yy": np.ones((2, 2), np.float32).T}
    h = hashlib.sha256()
    h.update(b"x" + np.array([1, 2], "<f4").tobytes() + b"yy" + np.ones(4, "<f4").tobytes())
    assert content_sha256(arrays) == h.hexdigest()


def test_shared_squeezenet_weights(weights_path):
    w = load_npz_weights(weights_path, expected=squeezenet11_shapes(), sha256=KNOWN_SHA256["squeezenet1_1.npz"])
    assert len(w) == 52 and sum(a.size for a in w.values()) == 1_235_496
    assert all(a.dtype == np.float32 for a in w.values())
    assert content_sha256(w) == KNOWN_CONTENT_SHA256["squeezenet1_1.npz"]


# --- loading into a model -------------------------------------------------------------------------

class _TinyModel:
    """The two methods load_model_weights needs, as npnet.nn.Module provides them."""

    def __init__(self, shapes):
        self.params = {k: np.zeros(s, np.float32) for k, s in shapes.items()}
        self.loaded_from = None

    def state_dict(self):
        return self.params

    def load_state_dict(self, state, source):
        self.params = {k: np.asarray(v, np.float32) for k, v in state.items()}
        self.loaded_from = source


def test_load_model_weights_from_npz_and_pth(tmp_path, tiny_expected):
    shapes = {k: v.shape for k, v in tiny_expected.items()}
    for src in (TINY["zip"], convert_pth(TINY["zip"], tmp_path / "tiny.npz")):
        model = _TinyModel(shapes)
        assert load_model_weights(model, "tiny", src) == src
        assert model.loaded_from == str(src)
        np.testing.assert_array_equal(model.params["features.3.squeeze.weight"],
                                      tiny_expected["features.3.squeeze.weight"])
    with pytest.raises(ValueError, match=r"missing 'other'"):
        load_model_weights(_TinyModel({**shapes, "other": (1,)}), "tiny", tmp_path / "tiny.npz")


def test_offline_the_lookup_loads_the_embedded_copy_and_says_so(weights_path, monkeypatch, tmp_path):
    for var in ("NPNET_WEIGHTS", "NPNET_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NPNET_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(lookup, "repo_weights_dir", lambda: None)
    model = _TinyModel(squeezenet11_shapes())
    assert load_model_weights(model, "squeezenet1_1") == weights_path == lookup.embedded_copy(W, weights=True)
    assert model.params["classifier.1.bias"].shape == (1000,) and model.params["classifier.1.bias"].any()
    assert model.weights_file == weights_path and model.weights_copy == "fp16"
    assert weights_note(model) == f"weights: {weights_path} ({COPY_LABELS['fp16']})"
    assert "fp16-rounded" in COPY_LABELS["fp16"] and "not torchvision's exact" in COPY_LABELS["fp16"]


def test_weights_copy_tells_the_fp16_copy_from_any_other(weights_path, tmp_path):
    arrays = load_npz_weights(weights_path)
    assert weights_copy(weights_path) == weights_copy(weights_path, arrays) == "fp16"
    rewritten = tmp_path / W  # the same numbers in a new file (other zip bytes): still the fp16 copy
    np.savez(rewritten, **arrays)
    assert sha256_file(rewritten) != KNOWN_SHA256[W] and weights_copy(rewritten) == "fp16"
    # one weight moved by one float32 ulp, as torchvision's exact values differ from the rounded ones
    w = arrays["features.0.weight"]
    w.flat[0] = np.nextafter(w.flat[0], np.float32(1))
    exact = tmp_path / "exact" / W
    exact.parent.mkdir()
    np.savez(exact, **arrays)
    assert weights_copy(exact) == weights_copy(exact, arrays) == "exact"
    model = _TinyModel(squeezenet11_shapes())
    load_model_weights(model, "squeezenet1_1", exact)
    assert weights_note(model) == f"weights: {exact} ({COPY_LABELS['exact']})"
    assert weights_note(_TinyModel({})) == "weights: none loaded (random initialisation)"


def test_classify_and_the_demo_say_which_copy_they_used(weights_path, capsys):
    from npnet.cli import main as npnet_main

    assert npnet_main(["classify", "--weights", str(weights_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"weights: {weights_path} ({COPY_LABELS['fp16']})"


# --- unusable values, dtypes, names and bad input at the command line (issue 9 §2-§3) -------------

UNUSABLE = {
    "nan": (np.array([1.0, np.nan], np.float32), r"1 NaN/Inf value\(s\) of 2"),
    "inf": (np.array([np.inf, -np.inf, 0.0]), r"2 NaN/Inf value\(s\) of 3"),
    "beyond float32": (np.array([1e39, 0.0]), "values up to 1e\\+39 overflow float32"),
    "complex": (np.array([1 + 2j], np.complex64), "dtype complex64 is not real numbers"),
    "strings": (np.array(["0.5", "1"]), "dtype <U3 is not real numbers"),
    "bytes": (np.array([b"ab"]), "dtype |S2 is not real numbers"),
    "dates": (np.array(["2020-01-01"], "datetime64[D]"), r"dtype datetime64\[D\] is not real numbers"),
}


@pytest.mark.parametrize("value, msg", UNUSABLE.values(), ids=list(UNUSABLE))
def test_load_npz_refuses_unusable_values(tmp_path, value, msg):
    np.savez(tmp_path / "w.npz", fine=np.ones(2), w=value)
    with pytest.raises(FileFormatError, match=f"w.npz holds values that are not usable weights:\n  'w': {msg}"):
        load_npz_weights(tmp_path / "w.npz")


def test_load_npz_keeps_usable_values(tmp_path):
    np.savez(tmp_path / "w.npz", h=np.array([0.5, -2], np.float16), n=np.array(3), m=np.array([True]),
             big=np.array([3e38]))
    w = load_npz_weights(tmp_path / "w.npz")
    assert [w[k].dtype for k in w] == [np.float32, np.int64, np.bool_, np.float32]
    np.testing.assert_array_equal(w["h"], [0.5, -2])


@pytest.mark.parametrize("value, msg", [
    *UNUSABLE.values(),
    (np.array([{"a": 1}, None], dtype=object), "dtype object is not real numbers"),
    ([[1.0, 2.0], [3.0]], "not an array of numbers"),  # ragged
    (np.zeros((2, 3), np.float32), "expected shape \\(3, 2\\), got \\(2, 3\\)"),
])
def test_load_state_dict_refuses_unusable_values(value, msg):
    layer = Linear(2, 3, rng=0)
    before = {k: v.copy() for k, v in layer.params.items()}
    with pytest.raises(NpnetValueError, match=f"load_state_dict: my.npz does not fit Linear:\n  key 'weight': {msg}"):
        layer.load_state_dict({"weight": value, "bias": np.zeros(3)}, source="my.npz")
    for k, v in layer.params.items():  # nothing changed
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_casts_usable_values_and_lists_every_problem():
    layer = Linear(2, 3, rng=0)
    layer.load_state_dict({"weight": np.arange(6.0).reshape(3, 2), "bias": [1, 2, 3]})
    assert layer.params["weight"].dtype == np.float32 and layer.params["bias"].tolist() == [1, 2, 3]
    with pytest.raises(NpnetValueError) as info:
        layer.load_state_dict({"weight": np.full((3, 2), np.nan), "other": 1})
    assert str(info.value).splitlines()[1:] == ["  missing key 'bias' (expected shape (3,))",
                                                "  unexpected key 'other'", "  key 'weight': 6 NaN/Inf value(s) of 6"]
    with pytest.raises(NpnetTypeError, match="state must be a mapping name -> array; got list"):
        layer.load_state_dict([("weight", np.zeros((3, 2)))])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool, np.float16, np.complex128, "junk", None])
def test_non_float_dtypes_are_refused(dtype):
    msg = f"squeezenet1_1: dtype must be float32 or float64; got {re.escape(repr(dtype))}"
    with pytest.raises(NpnetTypeError, match=msg):
        squeezenet1_1(pretrained=False, dtype=dtype)
    makers = {"SqueezeNet": lambda: SqueezeNet(dtype=dtype), "Conv2d": lambda: Conv2d(1, 2, 3, dtype=dtype),
              "Linear": lambda: Linear(1, 2, dtype=dtype), "Linear.astype": lambda: Linear(1, 2).astype(dtype)}
    for name, make in makers.items():
        with pytest.raises(NpnetTypeError, match=f"{name}: dtype must be float32 or float64"):
            make()
    assert Linear(1, 2).astype("float64").params["weight"].dtype == np.float64


@pytest.mark.parametrize("filename", ["../../../../etc/passwd", "../squeezenet1_1.npz", "sub/squeezenet1_1.npz",
                                      "/etc/passwd.npz", "..npz", ".hidden.npz", "", "squeezenet1_1", "x.txt", None, 3])
def test_find_weights_names_stay_inside_the_weights_folders(filename, tmp_path, monkeypatch):
    monkeypatch.setenv("NPNET_WEIGHTS", str(tmp_path / "w"))
    (tmp_path / "w").mkdir()
    (tmp_path / "passwd").write_text("root:x:0:0")
    with pytest.raises(NpnetValueError, match="find_weights: filename must be a plain file name"):
        find_weights(filename, download=False)
    (tmp_path / "w" / "squeezenet1_1.npz").write_bytes(b"")
    assert find_weights("squeezenet1_1.npz", download=False) == tmp_path / "w" / "squeezenet1_1.npz"


def hostile_files(folder):
    """Files a user might pass as weights: hostile, truncated, of the wrong kind or with NaN."""
    attack = pc.state_dict_tokens({"w": pc.ENTRIES["w"] + pc.EMPTY_DICT + pc.text("stride")
                                   + pc.tup(pc.integer(-1), pc.integer(1)) + pc.SETITEM + pc.BUILD})
    files = {"evil.pth": pc.zip_pth(b"".join(attack), pc.STORAGES), "truncated.pth": pc.valid_zip()[:700],
             "text.pth": b"not weights", "cut_legacy.pth": TINY["legacy"].read_bytes()[:300]}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    np.savez(folder / "nan.npz", w=np.array([np.nan], np.float32))
    return [folder / name for name in [*files, "nan.npz"]]


def test_weights_cli_refuses_bad_input_in_one_line(tmp_path, capsys):
    (tmp_path / "out.npz").write_bytes(b"earlier output")
    (tmp_path / "file").write_text("a regular file")
    cases = [(["convert", str(p), str(tmp_path / "out.npz")], p.name) for p in hostile_files(tmp_path)[:4]]
    cases += [(["info", str(tmp_path / "nan.npz")], "'w': 1 NaN/Inf"),
              (["convert", str(TINY["zip"]), str(tmp_path / "file" / "out.npz")], "file"),
              (["convert", str(TINY["zip"]), str(tmp_path / "out.pth")], "must be an .npz"),
              (["convert", str(tmp_path / "missing.pth"), str(tmp_path / "out.npz")], "no such file")]
    for argv, needle in cases:
        assert main(argv) == 1, argv
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and needle in err, (argv, err)
        assert err.startswith(f"python -m npnet.weights {argv[0]}: error: "), err
    assert (tmp_path / "out.npz").read_bytes() == b"earlier output"  # never half-overwritten
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_weights_cli_as_a_process_has_no_traceback(tmp_path):
    evil = hostile_files(tmp_path)[0]
    r = subprocess.run([sys.executable, "-m", "npnet.weights", "convert", str(evil), str(tmp_path / "o.npz")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "evil.pth: the pickle tries to change a tensor" in r.stderr
    assert not (tmp_path / "o.npz").exists()


def test_classify_with_bad_weights_is_one_clear_error(tmp_path, capsys):
    from npnet.cli import main as npnet_main

    for path in hostile_files(tmp_path):
        assert npnet_main(["classify", "--weights", str(path)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("npnet classify: error: ") and path.name in err and "Traceback" not in err, err
        if path.suffix == ".pth":
            assert err.count("\n") == 1, err


def test_weights_cli_interrupted_exits_130_and_writes_nothing(tmp_path, capsys, monkeypatch):
    import npnet.weights as w

    def interrupted_savez(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(w.np, "savez", interrupted_savez)
    assert main(["convert", str(TINY["zip"]), str(tmp_path / "o.npz")]) == 130
    assert capsys.readouterr().err == "python -m npnet.weights convert: interrupted\n"
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary


def test_nan_in_a_pth_is_refused_when_loaded_into_a_model(tmp_path):
    tokens = pc.state_dict_tokens({"weight": pc.tensor(pc.storage("0", 6), 0, (3, 2), (2, 1)),
                                   "bias": pc.tensor(pc.storage("1", 3), 0, (3,), (1,))})
    storages = {"0": np.array([1, np.nan, 0, 0, 0, 0], "<f4").tobytes(), "1": np.zeros(3, "<f4").tobytes()}
    (tmp_path / "nan.pth").write_bytes(pc.zip_pth(b"".join(tokens), storages))
    assert np.isnan(read_pth(tmp_path / "nan.pth")["weight"][0, 1])  # the reader is faithful ...
    with pytest.raises(NpnetValueError, match=r"nan.pth does not fit Linear:\n  key 'weight': 1 NaN/Inf value"):
        load_model_weights(Linear(2, 3), "tiny", tmp_path / "nan.pth")  # ... the model refuses it


def test_damaged_npz_files_give_only_npnet_errors(tmp_path):
    rng = np.random.default_rng(0)
    good = {}
    for save in (np.savez, np.savez_compressed):
        save(tmp_path / "w.npz", w=np.arange(12, dtype=np.float32).reshape(3, 4), n=np.array(3))
        good[save.__name__] = (tmp_path / "w.npz").read_bytes()
    outcomes = collections.Counter()
    for case in range(400):
        data = bytearray(good["savez" if case % 2 else "savez_compressed"])
        if case % 4 < 2:
            data = data[:rng.integers(len(data))]
        else:
            for i in rng.integers(len(data), size=rng.integers(1, 6)):
                data[i] ^= 1 << int(rng.integers(8))
        (tmp_path / "d.npz").write_bytes(bytes(data))
        try:
            arrays = load_npz_weights(tmp_path / "d.npz")
        except FileFormatError:
            outcomes["refused"] += 1
            continue
        assert all(a.dtype.kind in "biuf" and (a.dtype.kind != "f" or np.isfinite(a).all()) for a in arrays.values())
        outcomes["loaded"] += 1
    assert outcomes["refused"] > 300
