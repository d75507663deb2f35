"""`npnet train`: a one-epoch run writes weights and figures; bad arguments fail before any data is read."""
import numpy as np
import pytest

from conftest import require_data
from npnet.cli import main
from npnet.solver import read_checkpoint


def test_train_fc_for_one_epoch_writes_weights_and_figures(tmp_path, capsys):
    require_data("mnist/mnist_5k.npz")
    out = tmp_path / "run"
    assert main(["train", "mnist", "--model", "fc", "--epochs", "1", "-o", str(out), "--quiet"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("mnist fc: held-out accuracy ") and "40 iterations" in line
    accuracy = float(line.split("accuracy ")[1].split("%")[0]) / 100
    assert 0.85 < accuracy <= 1
    ckpt = read_checkpoint(out / "mnist_fc.npz")
    assert ckpt["params"]["W1"].shape == (784, 512) and ckpt["meta"]["epoch"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["mnist_fc.npz", "mnist_fc_curves.png", "mnist_fc_first_layer.png"]
    assert (out / "mnist_fc_curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "--epochs must be at least 1; got 0"),
    (["--lr", "-1"], "--lr must be a positive number; got -1.0"),
    (["--seed", "-3"], "--seed must be non-negative"),
    (["--model", "judge", "--source", "full"], "--model judge trains on the MNIST sample only"),
    (["--model", "judge", "--epochs", "2"], "--epochs/--lr do not apply to --model judge"),
])
def test_bad_arguments_are_one_line_errors(argv, message, tmp_path, capsys, monkeypatch):
    # no data anywhere: the arguments must be rejected before anything is loaded
    monkeypatch.setenv("NPNET_DATA", str(tmp_path))
    monkeypatch.setenv("NPNET_CACHE", str(tmp_path))
    assert main(["train", "mnist", *argv, "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_out_must_not_be_a_file(tmp_path, capsys):
    f = tmp_path / "taken"
    f.write_text("mine")
    assert main(["train", "mnist", "-o", str(f)]) == 1
    assert "--out must be a folder" in capsys.readouterr().err
    assert f.read_text() == "mine"


def test_figures_reject_wrong_shapes(tmp_path):
    from npnet.models.figures import first_layer_figure, training_curves_figure

    with pytest.raises(ValueError, match=r"first_layer_figure: weights must be \(784, H\)"):
        first_layer_figure(np.zeros((5, 5)), tmp_path / "w.png")
    with pytest.raises(ValueError, match="histories are empty"):
        training_curves_figure([], [], [], tmp_path / "c.png")
    assert first_layer_figure(np.random.default_rng(0).random((4, 3, 5, 5)), tmp_path / "w.png").is_file()


def test_divergence_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    require_data("mnist/mnist_5k.npz")
    # an absurd learning rate blows the weights up within the first epoch
    assert main(["train", "mnist", "--model", "fc", "--epochs", "1", "--lr", "1e12", "-o", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("npnet train: error: Solver: training diverged") and "iteration" in err
    assert err.count("\n") == 1
