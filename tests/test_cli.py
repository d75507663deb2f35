"""The ``npnet`` command: classify and its errors (the technique verbs are tested with their modules)."""
import re

import pytest

from npnet.cli import main


def ranked(out):
    """(rank, class index, name) rows of a classify listing."""
    return [(int(m[1]), int(m[3]), m[4]) for m in re.finditer(r"^\s+(\d+)\.\s+([\d.]+)%\s+(\d+)\s+(.+)$", out, re.M)]


def test_classify_default_image_is_matplotlibs_grace_hopper(weights_path, capsys):
    assert main(["classify", "--weights", str(weights_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("grace_hopper.jpg")
    rows = ranked(out)
    assert [r[1] for r in rows] == [457, 834, 667, 906, 652]  # the PyTorch reference's top-5
    assert rows[0][2] == "bow tie, bow-tie, bowtie"


def test_classify_several_images_with_topk(weights_path, data_file, capsys):
    kitten = data_file("images/kitten.jpg")
    assert main(["classify", str(kitten), str(kitten), "--topk", "2", "--weights", str(weights_path)]) == 0
    rows = ranked(capsys.readouterr().out)
    assert len(rows) == 4 and rows[0] == rows[2]
    assert "cat" in rows[0][2]


def test_classify_errors_are_one_line(tmp_path, capsys):
    assert main(["classify", str(tmp_path / "missing.jpg")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("npnet classify: error:") and "missing.jpg" in err
    assert main(["classify", "--topk", "0"]) == 1
    assert "--topk must be in 1..1000" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["no-such-verb"])


def test_caption_train_then_sample_on_a_synthetic_set(tmp_path, data_file, capsys):
    data_file("coco/coco2014_vocab.json")  # the synthetic set uses the real vocabulary
    out = tmp_path / "run"
    args = ["caption", "train", "--synthetic", "--out", str(out), "--max-train", "20", "--epochs", "2",
            "--hidden", "16", "--wordvec", "8", "--batch-size", "10"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert (out / "caption_rnn.npz").is_file() and (out / "caption_rnn_loss.png").is_file()
    assert str(out / "caption_rnn.npz") in printed
    assert main(["caption", "sample", "--out", str(out), "--num", "3", "--beam", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("  truth:") for line in lines) == 3
    assert sum(line.startswith("  sample:") for line in lines) == 3
    assert main(["caption", "sample", "--out", str(out), "--num", "0"]) == 1
    assert "--num must be at least 1" in capsys.readouterr().err
    # The default checkpoint follows --cell, the name train gave it.
    assert main(["caption", "sample", "--out", str(out), "--cell", "lstm"]) == 1
    assert "caption_lstm.npz" in capsys.readouterr().err
