"""Issue 9 §2-§3 and issue 13 §4: the validation helpers of npnet._check, the atomic writers of
npnet._io, and each silent wrong answer or unclear error the issue lists, one test per cause.
(The sweep in test_bad_input_sweep.py covers every public name more broadly.)"""
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npnet.layers as L
from npnet import _check, _io, optim
from npnet.errors import (DataNotFoundError, FileFormatError, NpnetError, NpnetTypeError, NpnetValueError,
                          TrainingDivergedError)


# ------------------------------------------------------------------------------------ _check.number
@pytest.mark.parametrize("kwargs, value, message", [
    ({"low": 0, "low_open": True}, 0, "f: lr must be a positive finite number; got 0"),
    ({"low": 0, "low_open": True}, "bad", "f: lr must be a positive finite number; got 'bad'"),
    ({"low": 0}, float("nan"), "f: lr must be a finite number >= 0; got nan"),
    ({"low": 0}, float("inf"), "f: lr must be a finite number >= 0; got inf"),
    ({"low": 0}, True, "f: lr must be a finite number >= 0; got True"),
    ({"low": 0, "high": 1, "high_open": True}, 1.0, r"f: lr must be a finite number in [0, 1); got 1.0"),
    ({"low": 1, "integer": True}, 2.5, "f: lr must be a positive integer; got 2.5"),
    ({"low": 0, "integer": True}, -1, "f: lr must be a non-negative integer; got -1"),
    ({}, None, "f: lr must be a finite number; got None"),
    ({}, 10 ** 400, "f: lr must be a finite number; got 1000000000"),
])
def test_number_refuses_with_one_wording(kwargs, value, message):
    with pytest.raises(NpnetValueError) as info:
        _check.number("f", "lr", value, **kwargs)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


def test_number_accepts_numpy_scalars_and_none_when_allowed():
    assert _check.number("f", "x", np.float32(0.5), low=0) == 0.5
    assert _check.number("f", "x", np.array(3), integer=True) == 3
    assert type(_check.number("f", "x", np.int64(3), integer=True)) is int
    assert _check.number("f", "x", None, allow_none=True) is None


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10), st.text(max_size=3),
                 st.booleans(), st.none()))
def test_number_either_returns_an_in_range_float_or_raises(value):
    try:
        got = _check.number("f", "x", value, low=0, high=1, high_open=True)
    except NpnetValueError as err:
        assert str(err).startswith("f: x must be a finite number in [0, 1); got ")
    else:
        assert isinstance(got, float) and 0 <= got < 1 and not isinstance(value, (bool, str, type(None)))


def test_boolean_refuses_the_string_false():
    assert _check.boolean("f", "flag", np.bool_(False)) is False
    for bad in ("False", 0, 1, None):
        with pytest.raises(NpnetTypeError, match=f"f: flag must be True or False; got {bad!r}"):
            _check.boolean("f", "flag", bad)


def test_float_array_refuses_empty_arrays():
    with pytest.raises(NpnetValueError, match=r"f: x is empty \(shape \(0, 3\) \(N, D\)\)"):
        _check.float_array("f", "x", np.zeros((0, 3)), ndim=2, layout="(N, D)")
    assert _check.float_array("f", "x", np.zeros(0), allow_empty=True).size == 0


# ------------------------------------------------------------------------------------ hyper-parameters
@pytest.mark.parametrize("rule, key, value, message", [
    ("adam", "beta1", 1.0, r"adam: config\['beta1'\] must be a finite number in \[0, 1\); got 1.0"),
    ("adam", "epsilon", 0.0, r"adam: config\['epsilon'\] must be a positive finite number; got 0.0"),
    ("adam", "learning_rate", float("nan"), r"adam: config\['learning_rate'\] must be a finite number >= 0"),
    ("rmsprop", "decay_rate", -0.5, r"rmsprop: config\['decay_rate'\] must be a finite number in \[0, 1\)"),
    ("sgd_momentum", "momentum", "0.9", r"sgd_momentum: config\['momentum'\] must be .*; got '0.9'"),
    ("sgd", "learning_rte", 0.1, r"sgd: unknown config key\(s\) \['learning_rte'\]"),
])
def test_optimisers_refuse_bad_hyper_parameters(rule, key, value, message):
    with pytest.raises(NpnetValueError, match=message):
        getattr(optim, rule)(np.ones(3), np.ones(3), {key: value})


def test_optimisers_refuse_a_nan_gradient():
    with pytest.raises(NpnetValueError, match=r"adam: dw contains 1 NaN/Inf value\(s\) of 3"):
        optim.adam(np.ones(3), np.array([1.0, np.nan, 0.0]))


def test_class_visualization_refuses_a_string_l2_reg():
    """Issue 13 §4: l2_reg='bad' used to end in a raw UFuncTypeError deep inside NumPy."""
    from npnet.vis import class_visualization_update_step, create_class_visualization

    with pytest.raises(NpnetValueError, match="class_visualization_update_step: l2_reg must be a finite number >= 0; "
                                              "got 'bad'"):
        class_visualization_update_step(np.zeros((1, 3, 8, 8)), None, 0, "bad", 1.0)
    with pytest.raises(NpnetTypeError, match="create_class_visualization: model must be a network"):
        create_class_visualization(0, None)


# ------------------------------------------------------------------------------------ layers
@pytest.mark.parametrize("fn, key", [(L.max_pool_forward, "ceil_mode"), (L.avg_pool_forward, "ceil_mode"),
                                     (L.avg_pool_forward, "count_include_pad")])
def test_pool_flags_must_be_real_booleans(fn, key):
    param = {"pool_height": 2, "pool_width": 2, "stride": 2, key: "False"}
    with pytest.raises(NpnetTypeError, match=rf"{fn.__name__}: pool_param\['{key}'\] must be True or False; got 'False'"):
        fn(np.zeros((1, 1, 4, 4)), param)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_norms_refuse_an_overflowing_variance_instead_of_returning_beta():
    beta = np.array([7.0])
    x = np.array([[3e19], [-3e19]], dtype=np.float32)
    with pytest.raises(NpnetValueError, match="batchnorm_forward: the variance of x overflows float32"):
        L.batchnorm_forward(x, np.ones(1, np.float32), beta.astype(np.float32), {"mode": "train"})
    with pytest.raises(NpnetValueError, match="instance_norm_forward: the variance of x overflows float64"):
        L.instance_norm_forward(np.array([[[[1e200, -1e200]]]]), np.ones(1), beta)
    # The same values in float64 are fine, and normalise to -1, 1 (not to beta).
    out, _ = L.batchnorm_forward(x.astype(np.float64), np.ones(1), beta, {"mode": "train"})
    np.testing.assert_allclose(out[:, 0], [8.0, 6.0], rtol=1e-6)


def test_fast_max_pool_refuses_nan_it_cannot_propagate():
    x = np.zeros((1, 1, 2, 2))
    x[0, 0, 1, 1] = np.nan
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    with pytest.raises(NpnetValueError, match=r"max_pool_forward: x contains 1 NaN value\(s\) of 4"):
        L.max_pool_forward(x, param)
    assert np.isnan(L.max_pool_forward_naive(x, param)[0]).all()


@pytest.mark.parametrize("mask, message", [
    (np.full((1, 2), 0.5), r"mask must hold only 0 and 1 \(or booleans\); got values such as 0.5"),
    (np.ones((2, 1), bool), r"mask must have shape \(1, 2\)"),
    (np.array([["a", "b"]]), "mask must be a boolean or numeric array"),
])
def test_temporal_softmax_loss_checks_the_mask(mask, message):
    with pytest.raises((NpnetValueError, NpnetTypeError), match="temporal_softmax_loss: " + message):
        L.temporal_softmax_loss(np.zeros((1, 2, 3)), np.zeros((1, 2), int), mask)


def test_temporal_softmax_loss_refuses_nan_scores_and_accepts_0_1_masks():
    with pytest.raises(NpnetValueError, match=r"temporal_softmax_loss: x contains 1 NaN/Inf"):
        L.temporal_softmax_loss(np.array([[[np.nan, 0.0]]]), np.zeros((1, 1), int), np.ones((1, 1), bool))
    loss, _ = L.temporal_softmax_loss(np.zeros((1, 2, 2)), np.zeros((1, 2), int), np.array([[1, 0]]))
    assert loss == pytest.approx(np.log(2))


def test_zero_size_batches_gram_and_tv_are_refused_at_forward():
    from npnet.style import gram_matrix, tv_loss
    with pytest.raises(NpnetValueError, match=r"affine_forward: x is empty"):
        L.affine_forward(np.zeros((0, 3)), np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(NpnetValueError, match=r"gram_matrix: features is empty"):
        gram_matrix(np.zeros((1, 3, 0, 4)))
    with pytest.raises(NpnetValueError, match=r"tv_loss: img is empty"):
        tv_loss(np.zeros((1, 3, 0, 0)), 1.0)


def test_backward_refuses_a_cache_that_is_not_its_own():
    with pytest.raises(NpnetTypeError, match=r"affine_backward: cache must be what the matching forward pass "
                                             r"returned \(a tuple of 3\); got tuple of 2"):
        L.affine_backward(np.zeros((2, 2)), L.relu_forward(np.zeros(2))[1:] * 2)
    with pytest.raises(NpnetTypeError, match=r"relu_backward: cache must be .*\(an array\); got NoneType"):
        L.relu_backward(np.zeros(2), None)


@pytest.mark.parametrize("make, message", [
    (lambda: __import__("npnet.nn", fromlist=["Conv2d"]).Conv2d(0, 2, 3), "Conv2d: in_channels must be a positive"),
    (lambda: __import__("npnet.nn", fromlist=["Linear"]).Linear(3, -2), "Linear: out_features must be a positive"),
    (lambda: __import__("npnet.nn", fromlist=["MaxPool2d"]).MaxPool2d(2, ceil_mode="False"), "MaxPool2d: ceil_mode"),
    (lambda: __import__("npnet.models", fromlist=["SqueezeNet"]).SqueezeNet(dtype=np.int64),
     "SqueezeNet: dtype must be float32 or float64"),
    (lambda: __import__("npnet.models", fromlist=["SqueezeNet"]).SqueezeNet(num_classes=0),
     "SqueezeNet: num_classes must be a positive integer; got 0"),
])
def test_constructors_refuse_bad_sizes_and_dtypes(make, message):
    with pytest.raises(NpnetError, match=message):
        make()


# ------------------------------------------------------------------------------------ captioning
def _vocab(tmp_path):
    words = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog", "sat"]
    path = tmp_path / "vocab.json"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"idx_to_word": words, "word_to_idx": {w: i for i, w in enumerate(words)}}))
    return path


@pytest.mark.parametrize("w2i, message", [
    ({"<NULL>": 0, "a": 1, "b": 1}, r"word_to_idx must give each word its own index; duplicated \[1\]"),
    ({"<NULL>": 0, "a": -1}, "word_to_idx indices must be >= 0; got -1"),
    ({"<NULL>": 2, "a": 0}, r"word_to_idx\['<NULL>'\] must be < V = 2"),
    ({"a": 0, "b": 1}, "word_to_idx must contain the padding word '<NULL>'"),
    ({"<NULL>": 0, "a": "1"}, "word_to_idx must map str words to int indices; got 'a': '1'"),
])
def test_captioning_model_validates_word_to_idx(w2i, message):
    from npnet.models import CaptioningRNN
    with pytest.raises(NpnetError, match="CaptioningRNN: " + message):
        CaptioningRNN(w2i, input_dim=2, wordvec_dim=2, hidden_dim=2)


def test_course_vocabulary_with_an_index_beyond_v_is_still_accepted():
    """The course's unit test builds {'<NULL>': 0, 'cat': 2, 'dog': 3}: 'dog' can never be fed."""
    from npnet.models import CaptioningRNN
    model = CaptioningRNN({"<NULL>": 0, "cat": 2, "dog": 3}, input_dim=2, wordvec_dim=2, hidden_dim=2)
    with pytest.raises(NpnetValueError, match=r"CaptioningRNN.loss: captions must hold word indices in \[0, 3\)"):
        model.loss(np.zeros((1, 2)), np.array([[0, 3]]))
    with pytest.raises(NpnetValueError, match=r"CaptioningRNN.loss: features contains 1 NaN/Inf"):
        model.loss(np.array([[np.nan, 0.0]]), np.array([[0, 2]]))


def test_decode_captions_refuses_indices_with_no_word():
    from npnet.data.coco import decode_captions
    with pytest.raises(NpnetValueError, match=r"decode_captions: captions hold indices with no word .*\[-1\]"):
        decode_captions(np.array([-1]), ["<NULL>", "a"])
    assert decode_captions(np.array([1, 0]), ["<NULL>", "a"]) == "a"


# ------------------------------------------------------------------------------------ checkpoints
def _solver(tmp_path, **kwargs):
    from npnet.data.coco import load_coco_data, make_synthetic_coco
    from npnet.models import CaptioningRNN
    from npnet.solver import CaptioningSolver
    data = load_coco_data(make_synthetic_coco(tmp_path / "coco", _vocab(tmp_path), num_train=8, num_val=2, pca_dim=4,
                                              fc7_dim=4, caption_length=6))
    model = CaptioningRNN(data["word_to_idx"], input_dim=4, wordvec_dim=3, hidden_dim=3, rng=np.random.default_rng(0))
    return CaptioningSolver(model, data, batch_size=4, num_epochs=1, verbose=False, rng=np.random.default_rng(0),
                            **kwargs)


def test_solver_refuses_a_nan_learning_rate_before_training(tmp_path):
    with pytest.raises(NpnetValueError, match=r"CaptioningSolver: optim_config\['learning_rate'\] must be a finite"):
        _solver(tmp_path, optim_config={"learning_rate": float("nan")})
    with pytest.raises(NpnetValueError, match="CaptioningSolver: lr_decay must be a positive finite number; got 0"):
        _solver(tmp_path, lr_decay=0)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_solver_stops_when_the_loss_diverges(tmp_path):
    solver = _solver(tmp_path)
    real_loss = solver.model.loss
    solver.model.loss = lambda f, c: (float("nan"), real_loss(f, c)[1])
    with pytest.raises(TrainingDivergedError, match="CaptioningSolver: training diverged: the loss is nan at iteration 1"):
        solver.train()
    solver = _solver(tmp_path / "2", optim_config={"learning_rate": 1e308})
    solver.update_rule = optim.sgd
    with pytest.raises(TrainingDivergedError, match="CaptioningSolver: training diverged: the update of .* overflowed at iteration 1"):
        solver.train()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "bad meta", "empty"])
def test_damaged_checkpoints_raise_file_format_error_naming_the_file(tmp_path, damage):
    from npnet.solver import read_checkpoint
    solver = _solver(tmp_path)
    path = tmp_path / "ckpt.npz"
    solver.save_checkpoint(path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "garbage":
        path.write_bytes(data[:40] + bytes(200) + data[240:])
    elif damage == "bad meta":
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
        arrays["meta"] = np.array("{not json")
        np.savez(path, **arrays)
    else:
        path.write_bytes(b"")
    with pytest.raises(FileFormatError, match=f"read_checkpoint: {path}"):
        read_checkpoint(path)
    with pytest.raises(DataNotFoundError, match="read_checkpoint: no checkpoint file"):
        read_checkpoint(tmp_path / "missing.npz")


# ------------------------------------------------------------------------------------ images
def test_image_helpers_refuse_nan_zero_sigma_and_fractional_crops():
    from npnet.image import blur_image, center_crop, deprocess
    with pytest.raises(NpnetValueError, match=r"deprocess: x contains 1 NaN/Inf"):
        deprocess(np.where(np.arange(12).reshape(1, 3, 2, 2) == 5, np.nan, 0.0))
    with pytest.raises(NpnetValueError, match="blur_image: sigma must be a positive finite number; got 0"):
        blur_image(np.zeros((1, 3, 4, 4)), sigma=0)
    with pytest.raises(NpnetValueError, match=r"center_crop: size \(an int or an \(h, w\) pair\) must be a positive "
                                              r"integer; got 2.5"):
        center_crop(np.zeros((4, 4, 3)), 2.5)


def test_save_figure_writes_the_format_of_its_suffix(tmp_path):
    from matplotlib.figure import Figure

    from npnet.image import save_figure
    fig = Figure(figsize=(1, 1))
    assert save_figure(fig, tmp_path / "f.jpg").read_bytes()[:3] == b"\xff\xd8\xff"   # JPEG
    assert save_figure(fig, tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert save_figure(fig, tmp_path / "f.pdf").read_bytes()[:5] == b"%PDF-"
    with pytest.raises(NpnetValueError, match=r"save_figure: cannot write a figure as '.xyz'"):
        save_figure(fig, tmp_path / "f.xyz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.jpg", "f.pdf", "f.png"]


# ------------------------------------------------------------------------------------ atomic writes
def test_atomic_output_leaves_nothing_behind_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with _io.atomic_output(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]


def test_temporaries_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    """A SIGKILLed writer cannot clean up; its temporary goes at the next write of the same file."""
    target = tmp_path / "out.txt"
    script = ("import os, sys; from npnet import _io\n"
              "with _io.atomic_output(sys.argv[1]) as tmp:\n"
              "    tmp.write_text('half'); os.kill(os.getpid(), 9)\n")
    runs = [subprocess.run([sys.executable, "-c", script, str(target)], timeout=60) for _ in range(2)]
    assert all(r.returncode == -9 for r in runs)
    # The second killed writer already removed the first one's temporary: they never accumulate.
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".out.npnet-tmp-")
    # A live writer's temporary (this process's parent, say) is never touched.
    live = tmp_path / f".out.npnet-tmp-{os.getppid()}-0000.txt"
    live.write_text("busy")
    with _io.atomic_output(target) as tmp:
        tmp.write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "out.txt"])
    assert target.read_text() == "new"


def test_make_synthetic_coco_replaces_the_folder_whole(tmp_path, monkeypatch):
    from npnet.data import coco
    out = coco.make_synthetic_coco(tmp_path / "coco", _vocab(tmp_path), num_train=4, num_val=2, pca_dim=2, fc7_dim=2)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = []

    def failing_write(path, arrays):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_write(path, arrays)

    real_write = coco._write_h5
    monkeypatch.setattr(coco, "_write_h5", failing_write)
    with pytest.raises(KeyboardInterrupt):
        coco.make_synthetic_coco(out, _vocab(tmp_path), num_train=6, num_val=2, pca_dim=2, fc7_dim=2, seed=1)
    # The interrupted run left the old set, byte for byte, and no temporary folder.
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coco", "vocab.json"]
    (out / "notes.txt").write_text("mine")
    monkeypatch.setattr(coco, "_write_h5", real_write)
    with pytest.raises(NpnetValueError, match=r"make_synthetic_coco: .* holds files outside the coco_captioning "
                                              r"layout \(notes.txt\)"):
        coco.make_synthetic_coco(out, _vocab(tmp_path), num_train=4, num_val=2, pca_dim=2, fc7_dim=2)


def test_coco_zip_that_is_not_a_zip_is_a_file_format_error(tmp_path, monkeypatch):
    from npnet.data import coco
    archive = tmp_path / "coco" / "coco_captioning.zip"
    archive.parent.mkdir()
    archive.write_bytes(b"PK\x03\x04" + bytes(50))
    monkeypatch.setattr(coco, "find_data", lambda rel, download=True: (
        archive if rel.endswith(".zip") else (_ for _ in ()).throw(DataNotFoundError("no"))))
    with pytest.raises(FileFormatError, match="load_coco_data: .*coco_captioning.zip is not a readable zip"):
        coco.load_coco_data()
    assert sorted(p.name for p in archive.parent.iterdir()) == ["coco_captioning.zip"]
    assert zipfile.is_zipfile(archive) is False


def test_output_under_a_regular_file_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    for writer in (_io.atomic_output, _io.atomic_folder):
        with pytest.raises(NpnetValueError, match=r"cannot write .*/file/sub/out.png: .*/file is a file, not a folder"):
            with writer(tmp_path / "file" / "sub" / "out.png"):
                pass


# ------------------------------------------------------------------------------------ _io.read_npz
def _npz_with_member(path, header, data, compress=zipfile.ZIP_STORED):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w", compression=compress) as z:
        z.writestr("x.npy", buf.getvalue() + data)
    return path


def test_read_npz_returns_what_np_savez_wrote(tmp_path):
    a, b = np.arange(7.0), np.ones((2, 3), np.float32)
    np.savez(tmp_path / "plain.npz", a=a, b=b)
    np.savez_compressed(tmp_path / "packed.npz", a=np.zeros(100_000), b=b)
    got = _io.read_npz(tmp_path / "plain.npz")
    assert sorted(got) == ["a", "b"] and np.array_equal(got["a"], a) and got["b"].dtype == np.float32
    assert _io.read_npz(tmp_path / "packed.npz")["a"].shape == (100_000,)


def test_read_npz_checks_declared_sizes_before_allocating(tmp_path):
    import tracemalloc

    # 16 bytes of data under a header declaring 2 GiB: np.load reserves the 2 GiB first.
    path = _npz_with_member(tmp_path / "big.npz", {"descr": "<f4", "fortran_order": False, "shape": (2**29,)},
                            b"\0" * 16)
    tracemalloc.start()
    with pytest.raises(ValueError, match=r"member 'x.npy' declares a float32 array of shape \(536870912,\) "
                                         r"\(2147483648 bytes\) but holds 16 bytes"):
        _io.read_npz(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"hello"), "BadZipFile"),
    (lambda p: _npz_with_member(p, {"descr": "|O", "fortran_order": False, "shape": (1,)}, b"\0" * 8),
     "holds Python objects"),
    (lambda p: _npz_with_member(p, {"descr": "<f8", "fortran_order": False, "shape": (2,)}, b"\0" * 24),
     "declares a float64 array of shape \\(2,\\) \\(16 bytes\\) but holds 24"),
])
def test_read_npz_refuses_damaged_files(tmp_path, make, message):
    path = tmp_path / "bad.npz"
    make(path)
    with pytest.raises(ValueError, match=message):
        _io.read_npz(path)


def test_loaders_turn_a_lying_npz_into_one_line(tmp_path):
    from npnet.solver import read_checkpoint
    from npnet.weights import load_npz_weights

    path = _npz_with_member(tmp_path / "lie.npz", {"descr": "<f4", "fortran_order": False, "shape": (10**9,)},
                            b"\0" * 8)
    for load in (load_npz_weights, read_checkpoint):
        with pytest.raises(FileFormatError) as info:
            load(path)
        assert str(path) in str(info.value) and "declares a float32 array" in str(info.value)


def test_read_npz_reads_only_the_keys_asked_for(tmp_path):
    path = tmp_path / "mixed.npz"
    np.savez(path, X=np.arange(3), names=np.array([{"a": 1}], dtype=object))
    assert list(_io.read_npz(path, ["X"])) == ["X"]
    with pytest.raises(ValueError, match="holds Python objects"):
        _io.read_npz(path)
    with pytest.raises(KeyError):
        _io.read_npz(path, ["y"])
