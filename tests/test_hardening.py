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


def test_finite_counts_nan_and_inf_and_accepts_values_whose_sum_overflows():
    # finite() first tests the sum: a NaN or Inf anywhere, or a pair +Inf/-Inf (sum NaN), must still raise
    # with the exact count, and finite values whose float32 sum overflows to Inf must pass.
    for dtype in (np.float32, np.float64):
        x = np.zeros((3, 4), dtype)
        x[0, 1], x[2, 3], x[1, 0] = np.nan, np.inf, -np.inf
        with pytest.raises(NpnetValueError, match=r"^f: x contains 3 NaN/Inf value\(s\) of 12$"):
            _check.finite("f", "x", x)
    huge = np.full(1000, np.finfo(np.float32).max, np.float32)
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.sum(huge))
    _check.finite("f", "x", huge)
    _check.finite("f", "x", np.zeros(0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_scans_big_arrays_with_the_kernel_and_finds_every_bad_position(dtype):
    """From KERNEL_SCAN values a contiguous array goes through npnet.kernels.all_finite: one bad value
    at the first, a block-boundary, or the last position is found, as in a transposed (strided) array
    that takes the NumPy path; finite values whose sum overflows pass."""
    n = _check.KERNEL_SCAN + 4097
    x = np.ones((n,), dtype)
    assert _check.all_finite(x) and _check.all_finite(np.repeat(x, 2)[::2])
    for at in (0, 4095, 4096, n - 1):
        for bad in (np.nan, np.inf, -np.inf):
            y = x.copy()
            y[at] = bad
            assert not _check.all_finite(y), (at, bad)
            assert not _check.all_finite(np.repeat(y, 2)[::2])  # strided: the NumPy path
            with pytest.raises(NpnetValueError, match=rf"f: x contains 1 NaN/Inf value\(s\) of {n}"):
                _check.finite("f", "x", y)
    _check.finite("f", "x", np.full(n, np.finfo(dtype).max, dtype))


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


# ---------------------------------------------------------------- issue 28: the residue, one test per cause
@pytest.mark.parametrize("value", [0, 7, np.int64(3), [1, 2], np.random.SeedSequence(5)])
def test_rng_takes_every_seed_numpy_takes(value):
    got = _check.rng("f", "seed", value)
    assert isinstance(got, np.random.Generator)
    assert got.random() == np.random.default_rng(value).random()   # the same stream as NumPy's own


def test_rng_keeps_generators_and_gives_none_its_meaning():
    gen, legacy = np.random.default_rng(0), np.random.RandomState(0)
    assert _check.rng("f", "rng", gen) is gen and _check.rng("f", "rng", legacy) is legacy
    assert _check.rng("f", "rng", None, none=np.random) is np.random
    assert isinstance(_check.rng("f", "rng", None), np.random.Generator)


@pytest.mark.parametrize("value, error", [("x", NpnetTypeError), (-5, NpnetValueError), (1.5, NpnetTypeError),
                                          (True, NpnetTypeError), (["a"], NpnetTypeError), ([1, -2], NpnetValueError)])
def test_rng_refuses_the_rest_in_one_line(value, error):
    with pytest.raises(error, match=r"^f: seed must be an int >= 0 \(a seed\), None or a np.random.Generator; got "):
        _check.rng("f", "seed", value)


def test_an_int_seed_means_the_same_as_its_generator_everywhere():
    from npnet.data.coco import sample_coco_minibatch
    from npnet.models import CaptioningRNN
    from npnet.nn import Conv2d

    w2i = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3}
    a = CaptioningRNN(w2i, input_dim=3, wordvec_dim=2, hidden_dim=2, rng=42)
    b = CaptioningRNN(w2i, input_dim=3, wordvec_dim=2, hidden_dim=2, rng=np.random.default_rng(42))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert np.array_equal(Conv2d(3, 4, 3, rng=5).params["weight"], Conv2d(3, 4, 3, rng=np.random.default_rng(5))
                          .params["weight"])
    data = {"train_captions": np.arange(20).reshape(10, 2), "train_image_idxs": np.arange(10),
            "train_features": np.eye(10), "train_urls": np.array([str(i) for i in range(10)])}
    one, other = sample_coco_minibatch(data, 4, rng=5), sample_coco_minibatch(data, 4, rng=np.random.default_rng(5))
    assert all(np.array_equal(u, v) for u, v in zip(one, other))
    np.random.seed(3)   # None still means the global state the course seeds
    first = sample_coco_minibatch(data, 4)[0]
    np.random.seed(3)
    assert np.array_equal(first, sample_coco_minibatch(data, 4)[0])


def test_allocation_refuses_what_cannot_fit_and_names_the_argument():
    _check.allocation("f", "x", 1000)
    too_many = _check.physical_memory() // 8 + 1
    with pytest.raises(NpnetValueError, match=r"^f: pad=9 would need an array of [\d,]+ float64 values \(.*\), more "
                                              r"than this machine's memory \("):
        _check.allocation("f", "pad=9", too_many)
    _check.allocation("f", "x", too_many, np.int8)   # the dtype counts


def test_huge_padding_and_dense_matrices_are_refused_before_numpy_allocates(monkeypatch):
    from npnet import linalg
    from npnet.layers import conv
    # A machine of 1 MiB: ordinary sizes must still run, and what the refusal says must be the real size.
    monkeypatch.setattr(_check, "physical_memory", lambda: 1 << 20)
    monkeypatch.setattr(_check, "SMALL_ALLOCATION", 0)
    x, w, b = np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.zeros(3)
    assert L.conv_forward(x, w, b, {"stride": 1, "pad": 1})[0].shape == (1, 3, 5, 5)
    for forward in (L.conv_forward, conv.conv_forward_naive):
        # columns and output, (2*3*3 + 3) x 1003**2 values, dominate the padded input 2 x 1005**2
        with pytest.raises(NpnetValueError, match=rf"^{forward.__name__}: conv_param {{'stride': 1, 'pad': 500}} with x "
                                                  r"\(1, 2, 5, 5\) and w \(3, 2, 3, 3\) would need an array of 21,126,189 "):
            forward(x, w, b, {"stride": 1, "pad": 500})
    with pytest.raises(NpnetValueError, match=r"^conv_matrix: input_hw \(100, 100\) with w \(1, 1, 3, 3\) \(the dense "
                                              r"matrix\) would need an array of 96,040,000 "):
        linalg.conv_matrix(np.ones((1, 1, 3, 3)), (100, 100))
    assert linalg.conv_matrix(np.ones((1, 1, 3, 3)), (5, 5)).shape == (9, 25)


@pytest.mark.parametrize("key, value, message", [
    ("running_var", np.array([1.0, -0.5, 1.0]), r"bn_param\['running_var'\] must be >= 0 \(a variance\); got 1 "
                                               r"negative value\(s\), the lowest -0.5"),
    ("running_mean", np.array([0.0, np.nan, 0.0]), r"bn_param\['running_mean'\] contains 1 NaN/Inf value\(s\) of 3"),
    ("running_var", np.array([1.0, np.inf, 1.0]), r"bn_param\['running_var'\] contains 1 NaN/Inf value\(s\) of 3"),
])
@pytest.mark.parametrize("mode", ["test", "train"])
def test_batchnorm_refuses_running_statistics_no_data_can_give(key, value, message, mode):
    x = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(NpnetValueError, match="^batchnorm_forward: " + message):
        L.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": mode, key: value})
    with pytest.raises(NpnetValueError, match="^spatial_batchnorm_forward: " + message):
        L.spatial_batchnorm_forward(x[..., None, None], np.ones(3), np.zeros(3), {"mode": mode, key: value})
    fine = {"mode": mode, "running_mean": np.zeros(3), "running_var": np.zeros(3)}   # a zero variance is possible
    assert np.isfinite(L.batchnorm_forward(x, np.ones(3), np.zeros(3), fine)[0]).all()


def test_optimiser_state_no_step_can_give_is_refused():
    w, dw = np.ones((2, 2)), np.ones((2, 2))
    with pytest.raises(NpnetValueError, match=r"^rmsprop: config\['cache'\] is a running mean of squared gradients "
                                              r"and must be >= 0; got 1 negative value\(s\), the lowest -1"):
        optim.rmsprop(w, dw, {"cache": np.array([[0.0, 1.0], [-1.0, 0.0]])})
    with pytest.raises(NpnetValueError, match=r"^adam: config\['v'\] is a running mean"):
        optim.adam(w, dw, {"v": -np.ones((2, 2)), "m": np.zeros((2, 2)), "t": 1})
    with pytest.raises(NpnetValueError, match=r"^sgd_momentum: config\['velocity'\] contains 1 NaN/Inf"):
        optim.sgd_momentum(w, dw, {"velocity": np.array([[np.nan, 0], [0, 0]])})
    # a zero cache is what the first step starts from
    assert np.isfinite(optim.rmsprop(w, dw, {"cache": np.zeros((2, 2))})[0]).all()


def _captioning_model():
    from npnet.models import CaptioningRNN
    return CaptioningRNN({"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3}, input_dim=3, wordvec_dim=2, hidden_dim=2,
                         dtype=np.float32, rng=0)


def test_set_params_refuses_nan_and_overflow_and_changes_nothing():
    model = _captioning_model()
    before = {k: v.copy() for k, v in model.params.items()}
    bad = {k: v.astype(np.float64) for k, v in before.items()}
    bad["b"] = np.full_like(bad["b"], np.nan)
    bad["W_proj"] = np.full_like(bad["W_proj"], 1e39)     # finite in float64, Inf in the model's float32
    with pytest.raises(NpnetValueError, match=r"^CaptioningRNN.set_params: ckpt.npz has unusable parameters: "
                                              r"W_proj: values up to 1e\+39 overflow float32.*; b: 2 NaN/Inf"):
        model.set_params(bad, source="ckpt.npz")
    assert all(np.array_equal(model.params[k], before[k]) for k in before)   # all or nothing
    with pytest.raises(NpnetTypeError, match="^CaptioningRNN.set_params: params must be a dict"):
        model.set_params([1, 2])


def test_checkpoints_with_nan_are_refused_naming_the_file(tmp_path):
    from npnet.solver import CaptioningSolver, read_checkpoint
    model = _captioning_model()
    data = {"train_captions": np.array([[1, 3, 2]]), "train_image_idxs": np.array([0]),
            "train_features": np.ones((1, 3)), "train_urls": np.array(["u"])}
    solver = CaptioningSolver(model, data, verbose=False)
    solver._reset()
    solver.optim_configs["W_proj"]["m"] = np.zeros((3, 2), np.float32)
    solver.save_checkpoint(tmp_path / "ok.npz")
    assert set(read_checkpoint(tmp_path / "ok.npz")["params"]) == set(model.params)
    for key in ("params/Wx", "optim/W_proj/m"):
        with np.load(tmp_path / "ok.npz") as f:
            arrays = dict(f)
        arrays[key] = np.full_like(arrays[key], np.nan)
        np.savez(tmp_path / "nan.npz", **arrays)
        with pytest.raises(FileFormatError, match=rf"^read_checkpoint: {tmp_path / 'nan.npz'} has unusable values in "
                                                  rf"1 array\(s\), e.g. {key}: \d+ NaN/Inf"):
            solver.load_checkpoint(tmp_path / "nan.npz")


def test_coco_and_imagenet_files_with_impossible_values_are_refused_naming_the_file(tmp_path, monkeypatch):
    import h5py
    from npnet.data.coco import load_coco_data, make_synthetic_coco
    from npnet.data.imagenet import load_imagenet_val

    words = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat"]
    (tmp_path / "v.json").write_text(json.dumps({"idx_to_word": words, "word_to_idx": {w: i for i, w in enumerate(words)}}))
    base = make_synthetic_coco(tmp_path / "coco", vocab_json=tmp_path / "v.json", num_train=8, num_val=4, pca_dim=3,
                               fc7_dim=5, caption_length=5)
    assert np.isfinite(load_coco_data(base)["val_features"]).all()
    with h5py.File(base / "val2014_vgg16_fc7_pca.h5", "r+") as f:
        f["features"][1, 2] = np.inf
    with pytest.raises(NpnetValueError, match=rf"^load_coco_data: {base / 'val2014_vgg16_fc7_pca.h5'}: features must "
                                              r"be finite; got 1 NaN/Inf value\(s\) of"):
        load_coco_data(base)

    npz = tmp_path / "data" / "imagenet" / "imagenet_val_25.npz"
    npz.parent.mkdir(parents=True)
    monkeypatch.setenv("NPNET_DATA", str(tmp_path / "data"))
    for y, bad in ((np.arange(25), False), (np.r_[np.arange(24), 1000], True), (np.r_[-1, np.arange(24)], True)):
        np.savez(npz, X=np.zeros((25, 224, 224, 3), np.uint8), y=y)
        if not bad:
            assert np.array_equal(load_imagenet_val(3)[1], [0, 1, 2])
            continue
        with pytest.raises(FileFormatError, match=rf"^load_imagenet_val: {npz} must hold integer labels y in \[0, 1000\)"):
            load_imagenet_val(3)


def _unwritable_folder(tmp_path):
    """A folder this process cannot create files in: a chmod-ed one, or /sys when running as root."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        (folder / "probe").touch()
    except OSError:
        return folder
    (folder / "probe").unlink()
    if os.path.isdir("/sys"):
        return type(tmp_path)("/sys")
    pytest.skip("no folder this process cannot write to (root without /sys)")


def test_outputs_that_cannot_be_written_are_refused_before_any_work(tmp_path):
    from matplotlib.figure import Figure
    from npnet.image import save_figure, save_image
    from npnet.solver import plot_loss_history
    from npnet.vis.figures import attribution_figure

    locked = _unwritable_folder(tmp_path)
    (tmp_path / "taken.png").mkdir()
    drawn = []

    class Spy(Figure):
        def savefig(self, *args, **kwargs):
            drawn.append(args)
            return super().savefig(*args, **kwargs)

    img = np.zeros((20, 20, 3), np.uint8)
    writers = {"save_image": lambda p: save_image(p, img), "save_figure": lambda p: save_figure(Spy(), p),
               "plot_loss_history": lambda p: plot_loss_history([1.0, 0.5], p),
               "attribution_figure": lambda p: attribution_figure(p, np.zeros((1, 3, 17, 17)),
                                                                  [("s", np.ones((1, 17, 17)), "heat")]),
               "atomic_output": lambda p: _io.atomic_output(p).__enter__()}
    for name, write in writers.items():
        for path, why in ((locked / "x.png", "is not writable"), (locked / "new" / "x.png", "is not writable"),
                          (tmp_path / "taken.png", "it is a folder; give a file name inside it")):
            with pytest.raises(NpnetValueError, match=rf"^{name}: cannot write .*{why}") as info:
                write(path)
            assert "\n" not in str(info.value)
    assert drawn == [] and sorted(p.name for p in tmp_path.iterdir()) == ["read_only", "taken.png"]
    assert [p.name for p in (tmp_path / "taken.png").iterdir()] == []
    with pytest.raises(NpnetTypeError, match="^atomic_output: path must be a file name"):
        _io.atomic_output("").__enter__()


def test_sha256_file_names_a_missing_file_or_a_folder(tmp_path):
    from npnet.data.lookup import sha256_file
    with pytest.raises(DataNotFoundError, match=r"^sha256_file: no such file .*missing"):
        sha256_file(tmp_path / "missing")
    with pytest.raises(NpnetValueError, match=r"^sha256_file: .* is a folder, not a file"):
        sha256_file(tmp_path)
    (tmp_path / "f").write_bytes(b"abc")   # the SHA-256 of "abc" (FIPS 180-2, appendix B.1)
    assert sha256_file(tmp_path / "f") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_image_edge_cases_give_errors_or_right_results(tmp_path):
    from npnet.image import blur_image, load_image, preprocess, save_image
    X = np.random.default_rng(0).random((1, 3, 9, 9))
    half = blur_image(X.astype(np.float16), sigma=1.0)
    assert half.dtype == np.float16      # float16 is blurred in float64 and rounded once
    assert np.array_equal(half, blur_image(X.astype(np.float16).astype(np.float64), 1.0).astype(np.float16))
    path = save_image(tmp_path / "k.png", np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(NpnetValueError, match=r"^load_image: size=100000 would resize the 30x20 image to 150000x100000 "
                                              r"pixels \(width x height\), more than PIL's limit of 89,478,485 pixels"):
        load_image(path, size=10 ** 5)
    assert load_image(path, size=40).shape == (40, 60, 3)
    with pytest.raises(NpnetValueError, match=r"^preprocess: img is empty \(shape \(0, 0, 3\)\)"):
        preprocess(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(NpnetValueError, match=r"^save_image: img must have shape .* with H, W >= 1; got \(0, 5, 3\)"):
        save_image(tmp_path / "e.png", np.zeros((0, 5, 3), np.uint8))


def test_weights_helpers_name_their_bad_arguments(tmp_path):
    from npnet import weights
    np.savez(tmp_path / "w.npz", a=np.ones(2, np.float32))
    for call, message in (
            (lambda: weights.content_sha256({"a": "text"}), "content_sha256: arrays must map str names to arrays of real"),
            (lambda: weights.content_sha256([1, 2]), "content_sha256: arrays must be a dict"),
            (lambda: weights.load_npz_weights(tmp_path / "w.npz", sha256=123), "load_npz_weights: sha256 must be"),
            (lambda: weights.load_npz_weights(tmp_path / "w.npz", expected=[1, 2]), "load_npz_weights: expected must be"),
            (lambda: weights.load_npz_weights(None), "load_npz_weights: path must be a file or folder path"),
            (lambda: weights.read_pth(None), "read_pth: path must be a file or folder path"),
            (lambda: weights.load_model_weights(None, "squeezenet1_1"), "load_model_weights: model must be a network"),
            (lambda: weights.convert_pth(tmp_path / "absent.pth", tmp_path), "convert_pth: cannot write dst .* it is a folder")):
        with pytest.raises(NpnetError, match="^" + message):
            call()
    # the content hash still hashes what it always did: the key, then little-endian float32 bytes
    import hashlib
    want = hashlib.sha256(b"a" + np.ones(2, "<f4").tobytes()).hexdigest()
    assert weights.content_sha256({"a": np.ones(2)}) == want


def test_sequence_arguments_refuse_none_and_empty_layer_lists_are_fine():
    from npnet.models.squeezenet import SqueezeNet
    from npnet.nn import Linear, Sequential
    from npnet.style.losses import style_loss
    from npnet.style.transfer import extract_targets
    from npnet.vis.attribution import format_randomization_table

    F = np.ones((1, 2, 3, 3))
    with pytest.raises(NpnetTypeError, match=r"^style_loss: style_layers must be a list \(one entry per style layer\); "
                                             r"got None"):
        style_loss([F], None, [], [])
    assert style_loss([F], [], [], [])[0] == 0.0          # no style layer, no style loss
    model = SqueezeNet("1_1", num_classes=3, dtype=np.float64, seed=0)
    assert extract_targets(model, np.ones((1, 3, 17, 17)), []) == {}
    assert extract_targets(model, np.ones((1, 3, 17, 17)), [1])[1].shape == model.features.outputs[1].shape
    with pytest.raises(NpnetTypeError, match=r"^extract_targets: layers must be a list"):
        extract_targets(model, np.ones((1, 3, 17, 17)), None)
    with pytest.raises(NpnetValueError, match=r"^format_randomization_table: result\['methods'\] is empty"):
        format_randomization_table({"methods": [], "stages": ["a"], "correlations": {}})
    seq = Sequential(Linear(3, 2, dtype=np.float64, rng=0))
    with pytest.raises(NpnetTypeError, match=r"^Sequential.forward: start and end must be integer layer indices"):
        seq.forward(np.ones((1, 3)), start=True)
    with pytest.raises(IndexError, match=r"^Sequential.backward: need 0 <= start <= end <= 1"):
        seq.backward(np.ones((1, 2)), start=2)


def test_squeezenet_backward_takes_a_list_of_scores_like_the_array():
    from npnet.models.squeezenet import SqueezeNet
    model = SqueezeNet("1_1", num_classes=3, dtype=np.float64, seed=0)
    X = np.random.default_rng(1).standard_normal((2, 3, 17, 17))
    model.forward(X)
    d = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert np.array_equal(model.backward(d.tolist()), model.backward(d))


def test_class_visualization_step_needs_an_image_it_can_move():
    from npnet.models.squeezenet import SqueezeNet
    from npnet.vis.synthesis import class_visualization_update_step
    model = SqueezeNet("1_1", num_classes=3, dtype=np.float64, seed=0)
    img = np.zeros((1, 3, 17, 17))
    with pytest.raises(NpnetTypeError, match=r"^class_visualization_update_step: img must be a NumPy array \(it is "
                                             r"updated in place\); got list"):
        class_visualization_update_step(img.tolist(), model, 1, 1e-3, 1.0)
    img.flags.writeable = False
    with pytest.raises(NpnetValueError, match=r"^class_visualization_update_step: img must be a writable array"):
        class_visualization_update_step(img, model, 1, 1e-3, 1.0)


def test_integration_nodes_refuse_a_quadrature_beyond_memory(monkeypatch):
    from npnet.vis.attribution import integration_nodes
    alphas, weights = integration_nodes(5)
    assert np.isclose(weights.sum(), 1.0) and np.allclose(alphas @ weights, 0.5)  # integrates t on [0, 1] exactly
    with pytest.raises(NpnetValueError, match=r"^integration_nodes: steps=1000000 with method 'gausslegendre' would "
                                              r"need an array of 1,000,000,000,000 float64 values"):
        integration_nodes(10 ** 6)
    assert integration_nodes(10 ** 6, "middle")[0].shape == (10 ** 6,)   # the other rules need only O(steps)
