"""Issue 9 §4: every public function, fed malformed input, ends in a clear error naming itself (or an
honest NaN from a pure layer), never an unclear exception, a silent answer or a crash.

The cases live in tests/bad_input_sweep.py, which runs in a subprocess so that a crash of the
interpreter is counted (as the case after the last one it printed) instead of killing the test run.
The totals are printed (``pytest -s`` shows them) for the hardening report.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bad_input_sweep as sweep

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    env = {**os.environ, "NPNET_OFFLINE": "1", "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1",
           "NPNET_CACHE": str(tmp_path_factory.mktemp("cache"))}
    proc = subprocess.run([sys.executable, str(HERE / "bad_input_sweep.py")], capture_output=True, text=True,
                          cwd=tmp_path_factory.mktemp("sweep"), env=env, timeout=300)
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    totals = next((json.loads(r[0][len("TOTALS "):]) for r in rows if r[0].startswith("TOTALS ")), None)
    crashed = None
    if totals is None:  # the interpreter died: the last RUN line names the case
        last = [r for r in rows if r[0] == "RUN"][-1:]
        crashed = f"{last[0][1]}: {last[0][2]} (exit {proc.returncode}) {proc.stderr[-500:]}" if last else proc.stderr
    results = [r for r in rows if r[0] not in ("RUN",) and not r[0].startswith("TOTALS")]
    return results, totals, crashed


def test_sweep_has_no_crash_unclear_or_silent_outcome(outcomes):
    results, totals, crashed = outcomes
    assert crashed is None, f"crash: {crashed}"
    print("\nbad-input sweep: " + ", ".join(f"{k} {totals[k]}" for k in
                                              ("cases", "clear", "warned", "propagated", "unclear", "silent", "broken"))
          + ", crash 0")
    bad = [r for r in results if r[0] in ("unclear", "silent", "broken")]
    assert not bad, f"{len(bad)} bad outcome(s):\n" + "\n".join("\t".join(r) for r in bad[:40])
    # Enough cases to mean something, and every must-fail case accounted for.
    assert totals["cases"] > 2000
    assert totals["cases"] == sum(totals[k] for k in ("clear", "warned", "propagated", "valid", "unclear", "silent",
                                                      "broken"))
    # Only a float32 point of a numerical gradient is answered with a warning instead of an error.
    assert {(r[1], r[3].split(",")[0]) for r in results if r[0] == "warned"} == {
        ("eval_numerical_gradient", "eval_numerical_gradient: x is float32"),
        ("eval_numerical_gradient_array", "eval_numerical_gradient_array: x is float32")}


# Issue 28's residue and issue 22 part 6, as the sweep labels them: (outcome, function, words of the
# message). Each was a silent answer or a raw exception at ed53f3c.
RESIDUE = [
    ("clear", "eval_numerical_gradient", "x must be a NumPy array (it is updated in place); got list"),
    ("clear", "eval_numerical_gradient_array", "x must be a NumPy array (it is updated in place); got list"),
    ("clear", "eval_numerical_gradient", "x must be a writable array"),
    ("clear", "eval_numerical_gradient_array", "x must be a writable array"),
    ("clear", "eval_numerical_gradient", "x is empty"),
    ("clear", "eval_numerical_gradient_array", "x is empty"),
    ("clear", "eval_numerical_gradient", "f must return a scalar"),
    ("clear", "grad_check_sparse", "x is empty"),
    ("clear", "layer_error", "wrt must list"),
    ("clear", "select", "names must be a list of check names"),
    ("clear", "rel_error", "x must be a real number or array"),
    ("clear", "load_coco_data", "train2014_vgg16_fc7_pca.h5: features must be finite"),
    ("clear", "load_imagenet_val", "imagenet_val_25.npz must hold integer labels y in [0, 1000)"),
    ("clear", "batchnorm_forward", "bn_param['running_var'] must be >= 0"),
    ("clear", "batchnorm_forward", "bn_param['running_mean'] contains 5 NaN/Inf"),
    ("clear", "CaptioningRNN.set_params", "params has unusable parameters: W_proj: 6 NaN/Inf"),
    ("clear", "Sequential.forward", "start and end must be integer layer indices"),
    ("clear", "rmsprop", "config['cache'] is a running mean of squared gradients and must be >= 0"),
    ("clear", "CaptioningSolver.load_checkpoint", "nan.npz has unusable values"),
    ("clear", "class_visualization_update_step", "img must be a NumPy array (it is updated in place); got list"),
    ("clear", "class_visualization_update_step", "img must be a writable array"),
    ("clear", "sample_coco_minibatch", "rng must be an int >= 0"),
    ("clear", "atomic_output", "path must be a file name (str or pathlib.Path); got ''"),
    ("clear", "atomic_output", "cannot write path adir: it is a folder"),
    ("clear", "atomic_output", "npnet_x.bin: the folder"),
    ("clear", "atomic_output", "no/such/x.bin: the folder"),
    ("clear", "sha256_file", "adir is a folder, not a file"),
    ("clear", "sha256_file", "no such file missing"),
    ("valid", "blur_image", ""),
    ("clear", "load_image", "size=100000 would resize the 20x20 image"),
    ("clear", "preprocess", "img is empty (shape (0, 0, 3))"),
    ("clear", "save_figure", "npnet_x.png: the folder"),
    ("clear", "save_figure", "cannot write path adir.png: it is a folder"),
    ("clear", "save_image", "with H, W >= 1; got (0, 0, 3)"),
    ("clear", "save_image", "cannot write path adir.png: it is a folder"),
    ("clear", "save_image", "npnet_x.png: the folder"),
    ("clear", "conv_forward", "'pad': 1048576} with x (1, 2, 5, 5) and w (3, 2, 3, 3) would need"),
    ("clear", "conv_forward_naive", "'pad': 1048576} with x (1, 2, 5, 5) and w (3, 2, 3, 3) would need"),
    ("clear", "conv_matrix", "input_hw (2000, 2000) with w (1, 1, 3, 3) (the dense matrix) would need"),
    ("clear", "conv_transpose_matrix", "input_hw (2000, 2000) with w (1, 1, 3, 3) and stride 1"),
    ("clear", "CaptioningRNN", "rng must be an int >= 0"),
    ("valid", "SqueezeNet.backward", ""),
    ("clear", "Conv2d", "rng must be an int >= 0 (a seed), None or a np.random.Generator; got 'seed'"),
    ("clear", "plot_loss_history", "cannot write path adir.png: it is a folder"),
    ("clear", "plot_loss_history", "npnet_x.png: the folder"),
    ("clear", "style_loss", "style_layers must be a list (one entry per style layer); got None"),
    ("clear", "style_transfer", "seed must be an int >= 0"),
    ("valid", "extract_targets", ""),
    ("clear", "extract_targets", "layers must be a list"),
    ("clear", "create_class_visualization", "seed must be an int >= 0"),
    ("clear", "attribution_figure", "npnet_x.png: the folder"),
    ("clear", "format_randomization_table", "result['methods'] is empty"),
    ("clear", "integration_nodes", "steps=1000000 with method 'gausslegendre' would need"),
    ("clear", "smoothgrad", "seed must be an int >= 0 (a seed), None or a np.random.Generator; got -5"),
    ("clear", "content_sha256", "arrays must map str names to arrays of real numbers; got 'a': 'text'"),
    ("clear", "content_sha256", "arrays must be a dict mapping names to arrays; got list"),
    ("clear", "convert_pth", "npnet_x.npz: the folder"),
    ("clear", "convert_pth", "cannot write dst adir.npz: it is a folder"),
    ("clear", "load_model_weights", "model must be a network"),
    ("clear", "load_npz_weights", "sha256 must be the file's SHA-256 as a hex string (or None); got 123"),
    ("clear", "load_npz_weights", "expected must be a dict name -> shape"),
    ("clear", "load_npz_weights", "path must be a file or folder path (str or pathlib.Path); got None"),
    ("clear", "read_pth", "path must be a file or folder path (str or pathlib.Path); got None"),
]


@pytest.mark.parametrize("outcome, name, words", RESIDUE, ids=[f"{n}: {w[:40]}" for _, n, w in RESIDUE])
def test_the_residue_of_issue_28_is_kept_in_the_sweep(outcomes, outcome, name, words):
    _assert_swept(outcomes[0], outcome, name, words)


def _assert_swept(results, outcome, name, words):
    """The sweep has cases of ``name`` whose message holds ``words`` (a valid call when no words), all ``outcome``."""
    hits = [r for r in results if r[1] == name and words in r[3]] if words else \
        [r for r in results if r[1] == name and r[0] == "valid"]
    assert hits, f"no sweep case of {name} with {words!r}"
    assert {r[0] for r in hits} == {outcome}, hits


# Issue 26's modules and fast style, as the sweep labels them: each was a silent answer or a message
# naming another function (or none) before their arguments were checked at the door.
LECTURE = [  # (function, words of its message); every one is answered clear
    ("window_distances", "window_distances: sample contains 1 NaN/Inf"),
    ("match_candidates", "distances must be >= 0 (sums of squares)"),
    ("efros_leung", "efros_leung: sigma must be a positive finite number"),
    ("efros_leung", "efros_leung: window must be odd, >= 3"),
    ("random_crops", "random_crops: rng must be an int >= 0"),
    ("train_fast_style", "train_fast_style: content_weight must be a finite number >= 0; got nan"),
    ("train_fast_style", "train_fast_style: checkpoint must name an .npz file"),
    ("stylize", "stylize: style must be a style index in 0..1 or (2,) blend weights >= 0 summing to 1"),
    ("save_fast_style", "save_fast_style: info must be a dict whose 'styles' names"),
    ("fast_style_losses", "fast_style_losses: no loss setting 'content_wieght'"),
    ("loss_figure", "loss_figure: losses['total'] contains 1 NaN/Inf"),
    ("assign_naive", "assign_naive: centres must have shape (*, 2); got (2, 3)"),
    ("centre_mask", "centre_mask: t must be a non-negative integer"),
    ("facet_visualization", "facet_visualization: l2_reg must be a finite number >= 0; got nan"),
    ("class_facets", "class_facets: X contains 1 NaN/Inf"),
    ("create_class_visualization", "create_class_visualization: region must be callable"),
]


@pytest.mark.parametrize("name, words", LECTURE, ids=[f"{n}: {w[:40]}" for n, w in LECTURE])
def test_the_lecture_methods_refuse_bad_input_at_the_door(outcomes, name, words):
    _assert_swept(outcomes[0], "clear", name, words)


def test_every_public_callable_is_swept_or_skipped_with_a_reason():
    specced = set(sweep.specs(sweep.tiny_squeezenet()))
    missing = []
    for module, name, obj in sweep.public_callables():
        if name in sweep.SKIPPED:
            assert sweep.SKIPPED[name], name
        elif name not in specced and not sweep._required(obj):
            missing.append(f"{module}.{name}")
    assert not missing, f"public names with neither a spec, required arguments nor a reason to skip: {missing}"
    assert not set(sweep.SKIPPED) - {n for _, n, _ in sweep.public_callables()}, "stale SKIPPED entries"


def test_the_classifier_itself_tells_outcomes_apart():
    """The sweep's own judge must be able to fail: each outcome class is produced by a known call."""
    from npnet.errors import NpnetValueError

    def clear(x):
        raise NpnetValueError("clear: x must be positive; got -1")

    def unnamed(x):
        raise ValueError("x must be positive")

    def deep(x):
        return [][x]

    assert sweep.classify(clear, {"x": -1}, ("clear",), True, None)[0] == "clear"
    assert sweep.classify(unnamed, {"x": -1}, ("unnamed",), True, None)[0] == "unclear"
    assert sweep.classify(deep, {"x": 3}, ("deep",), True, None)[0] == "unclear"
    assert sweep.classify(lambda x: abs(x), {"x": -1}, ("f",), True, None)[0] == "silent"
    assert sweep.classify(lambda x: x, {"x": float("nan")}, ("f",), True, "nan")[0] == "propagated"
    assert sweep.classify(lambda x: 0.0, {"x": float("nan")}, ("f",), True, "nan")[0] == "silent"
    assert sweep.classify(clear, {"x": 1}, ("clear",), False, None)[0] == "broken"
