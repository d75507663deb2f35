"""Every exercise script runs end to end (in quick mode) and writes its figures.

Each script runs in its own interpreter, as a student would run it, with ``NPNET_EXERCISE_QUICK=1``
(every cell, fewer iterations), ``NPNET_FIGURES`` in a temporary folder and the Agg backend; the data
lookup variables (``NPNET_DATA``, ``NPNET_WEIGHTS``, ``NPNET_OFFLINE``...) are inherited. About 15 s
in all on 2 CPU cores.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import require_data, require_weights

HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None  # t-SNE is an optional extra

EXERCISES = Path(__file__).resolve().parents[1] / "exercises"
STYLE_FILES = ["styles/tubingen.jpg", "styles/starry_night.jpg", "styles/the_scream.jpg",
               "styles/composition_vii.jpg", "images/sky.jpg", "checks/style-transfer-checks.npz",
               "checks/style-transfer-checks_2018.npz"]

# script -> (data files it needs, whether it needs the weights, the figures it must write)
SCRIPTS = {
    "conv_as_matrix": ([], False, ["conv_matrix", "piecewise_linear"]),
    "problem_set": ([], False, []),
    "layers": ([], False, ["overfit_loss"]),
    "classifiers": (["mnist/mnist_5k.npz"], False, ["fc_curves", "fc_first_layer", "conv_curves", "conv_first_layer"]),
    "relu_networks": ([], False, ["xor", "subpixel_transposed", "local_linear", "regions"]),
    # the real COCO features are optional: without them the script builds a set from the vocabulary
    "rnn_captioning": (["coco/coco2014_vocab.json"], False, ["rnn_loss_history", "lstm_loss_history", "captions"]),
    "network_visualization": (["imagenet/imagenet_val_25.npz"], True,
                              ["saliency", "attribution", "ig_occlusion", "fooling", "class_visualization",
                               "class_visualization_iterations", "randomization"]),
    "understanding_cnns": (["imagenet/imagenet_val_25.npz"], True,
                           ["filters_conv1", "filters_fire3", "activations_features1", "activations_features6",
                            "max_patches", "neighbours", "embedding_pca", "unit_gradients", "unit_visualization",
                            "occlusion_probability"] + (["embedding_tsne"] if HAVE_SKLEARN else [])),
    "gans": (["mnist/mnist_5k.npz", "checks/gan-checks.npz"], False,
             ["vanilla_samples", "ls_samples", "dc_samples", "loss_curves", "minimax_cycle"]),
    "transformer_captioning": (["coco/coco2014_vocab.json"], False,
                               ["positional_encoding", "loss_history", "attention_maps"]),
    "self_supervised": (["mnist/mnist_5k.npz"], False, ["augmentations", "similarity_matrix", "features_pca"]),
    "lecture_methods": (["styles/tubingen.jpg", "styles/starry_night.jpg", "imagenet/imagenet_val_25.npz"], True,
                        ["tv_beta", "texture_methods", "centre_masks", "facets"]),
    "style_transfer": (STYLE_FILES, True, ["composition_vii", "the_scream", "starry_night", "feature_inversion",
                                           "texture_synthesis", "blend", "deep_dream", "style_transfer_iterations",
                                           "feature_inversion_layers", "texture_layers", "weight_tradeoff",
                                           "style_size"]),
    "fast_style_transfer": (STYLE_FILES[:4] + ["imagenet/imagenet_val_25.npz"], True,
                            ["fast_style_losses", "fast_style"]),
}


def run_exercise(name, figures):
    env = dict(os.environ, NPNET_EXERCISE_QUICK="1", NPNET_FIGURES=str(figures), MPLBACKEND="Agg")
    for var in ("NPNET_STYLE_ITERS", "NPNET_GAN_ITERS"):  # would override the quick iteration count
        env.pop(var, None)
    return subprocess.run([sys.executable, str(EXERCISES / f"{name}.py")], cwd=figures, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_exercise_runs_and_writes_its_figures(name, tmp_path):
    data_files, needs_weights, figures = SCRIPTS[name]
    for relpath in data_files:
        require_data(relpath)
    if needs_weights:
        require_weights()
    result = run_exercise(name, tmp_path)
    assert result.returncode == 0, f"{name}.py failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"

    out = tmp_path / name
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{f}.png" for f in figures)
    for figure in figures:
        path = out / f"{figure}.png"
        assert path.stat().st_size > 5000, f"{path.name} is only {path.stat().st_size} bytes"
        with Image.open(path) as img:
            img.load()
            width, height = img.size
            pixels = np.asarray(img.convert("L"), dtype=np.float64)
        assert 300 <= width <= 4000 and 200 <= height <= 4000, f"{path.name} is {width}x{height}"
        assert pixels.std() > 5, f"{path.name} is (almost) one flat colour"
    if name == "conv_as_matrix":
        assert "every kink at a pattern change: True" in result.stdout, result.stdout
    if name == "classifiers":
        assert "loss, reg 0: 3.47022435" in result.stdout and "loss, reg 1: 26.5948426" in result.stdout
        assert "50 examples: training accuracy 100%" in result.stdout, result.stdout
    if name == "relu_networks":
        assert "XOR: linearly separable: False" in result.stdout, result.stdout
        assert "h(1.0) = 5, local piece w = 2, b = 3" in result.stdout, result.stdout
