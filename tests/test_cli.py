"""The ``npnet`` command: classify, the grammar every verb shares, and how errors end (one line, an
exit status). The technique verbs are tested with their modules."""
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

import npnet
from npnet.cli import VERBS, build_parser, main


def ranked(out):
    """(rank, class index, name) rows of a classify listing."""
    return [(int(m[1]), int(m[3]), m[4]) for m in re.finditer(r"^\s+(\d+)\.\s+([\d.]+)%\s+(\d+)\s+(.+)$", out, re.M)]


def test_classify_default_image_is_matplotlibs_grace_hopper(weights_path, capsys):
    assert main(["classify", "--weights", str(weights_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("grace_hopper.jpg")
    rows = ranked(out)
    # PyTorch's top-5 under the same preprocessing (tests/data/make_classify_reference.py)
    assert [r[1] for r in rows] == [457, 652, 906, 667, 439]
    assert rows[0][2] == "bow tie, bow-tie, bowtie"


def test_classify_and_to_input_agree(model, data_file, capsys, tmp_path):
    from npnet.image import to_input

    kitten = data_file("images/kitten.jpg")
    out = tmp_path / "top.txt"
    assert main(["classify", str(kitten), "-o", str(out)]) == 0
    cli_top5 = [r[1] for r in ranked(capsys.readouterr().out)]
    api_top5 = np.argsort(-model.forward(to_input(kitten))[0])[:5].tolist()
    assert cli_top5 == api_top5 == [285, 356, 287, 722, 281]  # also PyTorch's (make_classify_reference.py)
    assert [r[1] for r in ranked(out.read_text())] == cli_top5


def test_classify_several_images_with_topk(weights_path, data_file, capsys):
    kitten = data_file("images/kitten.jpg")
    assert main(["classify", str(kitten), str(kitten), "--topk", "2", "--weights", str(weights_path)]) == 0
    rows = ranked(capsys.readouterr().out)
    assert len(rows) == 4 and rows[0] == rows[2]
    assert "cat" in rows[0][2]


@pytest.fixture
def no_weights(monkeypatch, tmp_path):
    """A machine without weights or data: any attempt to load them fails loudly."""
    for var in ("NPNET_DATA", "NPNET_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NPNET_CACHE", str(tmp_path / "empty-cache"))
    import npnet.data.lookup as lookup
    monkeypatch.setattr(lookup, "repo_weights_dir", lambda: None)
    monkeypatch.setattr(lookup, "embedded_dir", lambda: None)  # as an installation that lost its copies
    return tmp_path


def test_arguments_are_checked_before_the_weights(no_weights, capsys):
    """On a machine without weights, each bad argument is reported, not the missing weights."""
    t = no_weights
    (t / "file").write_text("x")
    cases = [
        (["classify", str(t / "missing.jpg")], "no such file"),
        (["classify", "--topk", "0"], "--topk must be in 1..1000; got 0"),
        (["classify", "-o", str(t / "file" / "top.txt")], "is a file, not a folder"),
        (["saliency", "--sample", "26"], "--sample must be in 1..25; got 26"),
        (["saliency", str(t / "missing.jpg")], "no such file"),
        (["saliency", "--out", str(t / "file" / "s.png")], "is a file, not a folder"),
        (["saliency", "--labels", "1", "2"], "--labels needs one class per image (1); got 2"),
        (["gradcam", "--layer", "13"], "--layer must be in 0..12; got 13"),
        (["fool", "--sample-index", "25"], "--sample-index must be in 0..24; got 25"),
        (["fool", "--lr", "0"], "--lr must be a finite number > 0; got 0.0"),
        (["classviz", "--iterations", "0"], "--iterations must be at least 1; got 0"),
        (["classviz", "--l2-reg", "nan"], "--l2-reg must be at least 0; got nan"),
        (["style", "--iters", "0"], "--iters must be at least 1; got 0"),
        (["style", "--content-layer", "13"], "--content-layer must be in 0..12; got 13"),
        (["style", "-o", str(t / "file" / "x.png")], "is a file, not a folder"),
        (["invert", str(t / "file"), "--layer", "13"], "--layer must be in 0..12; got 13"),
        (["texture", str(t / "file"), "--size", "3"], "--size must be at least 17; got 3"),
        (["dream", str(t / "file"), "--octaves", "0"], "--octaves must be at least 1; got 0"),
        (["caption", "train", "--epochs", "0"], "--epochs must be at least 1; got 0"),
        (["caption", "train", "--lr", "nan"], "--lr must be a finite number > 0; got nan"),
        (["caption", "sample", "--out", str(t)], "train one first with `npnet caption train"),
        (["demo", "-o", str(t / "file")], "is a file; give a folder"),
        (["train", "mnist", "-o", str(t / "file" / "run")], "is a file, not a folder"),
        (["data", "fetch", "no-such-set"], "no data file or folder 'no-such-set'"),
    ]
    for argv, message in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        verb = " ".join(argv[:2]) if argv[0] in ("caption", "data") else argv[0]
        assert err.startswith(f"npnet {verb}: error: "), (argv, err)
        assert message in err, (argv, err)
        assert err.count("\n") == 1, (argv, err)
        assert "find_weights" not in err, argv


def test_missing_weights_and_images_are_one_line_with_a_way_to_get_them(no_weights, capsys):
    assert main(["classify"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("npnet classify: error: find_weights: could not find 'squeezenet1_1.npz'")
    assert err.count("\n") == 1 and "To get it: set NPNET_WEIGHTS" in err
    assert main(["style", "no_such_style", "tubingen"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "find_image: no image 'no_such_style'" in err and "To get it:" in err


def test_class_names_are_accepted_where_class_ids_are():
    parser = build_parser()
    assert parser.parse_args(["fool", "--target", "stingray"]).target == 6
    assert parser.parse_args(["fool", "--target", "Tiger Shark"]).target == 3
    assert parser.parse_args(["classviz", "--classes", "tarantula", "366"]).classes == [76, 366]
    assert parser.parse_args(["saliency", "--labels", "tench"]).labels == [0]


def test_a_misspelt_class_name_suggests_the_closest(capsys):
    with pytest.raises(SystemExit) as info:
        main(["fool", "--target", "stingrey"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "no ImageNet class is called 'stingrey'; did you mean 'stingray' (6)" in err
    with pytest.raises(SystemExit):
        main(["fool", "--target", "1000"])
    assert "class 1000 is not an ImageNet class (0..999)" in capsys.readouterr().err


def test_every_verb_has_out_seed_quiet_and_its_own_help():
    parser = build_parser()
    subs = parser._subparsers._group_actions[0].choices
    for name in VERBS:
        p = subs[name]
        if p._subparsers is not None:  # a verb with actions (caption train|sample, ...): each has its own help
            actions = p._subparsers._group_actions[0].choices
            helps = [actions[a].format_help() for a in actions]
        else:
            helps = [p.format_help()]
        for text in helps:
            for option in ("-o OUT, --out OUT", "--seed SEED", "--quiet"):
                if name == "course" and option != "--quiet":
                    continue  # a grading seed must not show in a student's help; checked below
                assert option in text, (name, option)
    course = subs["course"]._subparsers._group_actions[0].choices
    for action, options in {"release": ["-o OUT"], "collect": ["-o OUT"], "grade": ["-o OUT", "--seed SEED"],
                            "gradescope": ["-o OUT", "--seed SEED"], "gradebook": ["--csv PATH"]}.items():
        text = course[action].format_help()
        assert all(o in text for o in options), action
        assert ("--seed" in text) == (action in ("grade", "gradescope")), action
    caption = subs["caption"]._subparsers._group_actions[0].choices
    assert sorted(caption) == ["sample", "train"]
    assert "--epochs" in caption["train"].format_help() and "--epochs" not in caption["sample"].format_help()
    assert "--beam" in caption["sample"].format_help() and "--beam" not in caption["train"].format_help()


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"npnet {npnet.__version__}"


def test_unexpected_errors_are_one_line_and_a_bug_report(monkeypatch, capsys):
    from npnet.models import commands

    def broken(args):
        """A verb with a defect."""
        raise KeyError("oops")

    monkeypatch.setattr(commands, "classify", broken)
    monkeypatch.setitem(VERBS, "classify", (commands.classify_args, broken))
    monkeypatch.delenv("NPNET_DEBUG", raising=False)
    assert main(["classify"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "KeyError" in err and "this is a bug in npnet, please report it" in err
    assert main(["--debug", "classify"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.rstrip().endswith("NPNET_DEBUG=1 for the traceback)")
    monkeypatch.setenv("NPNET_DEBUG", "1")
    assert main(["classify"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_ctrl_c_exits_130_with_one_line(monkeypatch, capsys):
    def interrupted(args):
        """A verb the user interrupts."""
        raise KeyboardInterrupt

    monkeypatch.setitem(VERBS, "classify", (VERBS["classify"][0], interrupted))
    assert main(["classify"]) == 130
    assert capsys.readouterr().err == "npnet classify: interrupted\n"


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery to a child process")
def test_sigint_on_a_real_process(tmp_path):
    """A real Ctrl-C during a verb: status 130, one line on stderr, no traceback."""
    code = ("import sys, time; from npnet import cli\n"
            "def slow(args):\n    'A slow verb.'\n    print('started', flush=True); time.sleep(30)\n"
            "cli.VERBS['classify'] = (cli.VERBS['classify'][0], slow)\n"
            "sys.exit(cli.main(['classify']))\n")
    # A shell's background job (`cmd &` without job control) ignores SIGINT, and a child inherits that:
    # Python would then install no KeyboardInterrupt handler and the signal would do nothing.
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert err == "npnet classify: interrupted\n"


def test_unknown_verb_is_argparse_usage():
    with pytest.raises(SystemExit):
        main(["no-such-verb"])


def test_caption_train_then_sample_on_a_synthetic_set(tmp_path, data_file, capsys):
    data_file("coco/coco2014_vocab.json")  # the synthetic set uses the real vocabulary
    out = tmp_path / "run"
    args = ["caption", "train", "--synthetic", "--out", str(out), "--max-train", "20", "--epochs", "2",
            "--hidden", "16", "--wordvec", "8", "--batch-size", "10", "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert (out / "caption_rnn.npz").is_file() and (out / "caption_rnn_loss.png").is_file()
    assert str(out / "caption_rnn.npz") in printed and "Iteration" not in printed
    assert main(["caption", "sample", "--out", str(out), "--num", "3", "--beam", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("  truth:") for line in lines) == 3
    assert sum(line.startswith("  sample:") for line in lines) == 3
    assert main(["caption", "sample", "--out", str(out), "--num", "0"]) == 1
    assert "npnet caption sample: error: --num must be at least 1" in capsys.readouterr().err
    # The default checkpoint follows --cell, the name train gave it.
    assert main(["caption", "sample", "--out", str(out), "--cell", "lstm"]) == 1
    assert "caption_lstm.npz" in capsys.readouterr().err


def test_caption_without_coco_suggests_synthetic(no_weights, capsys):
    assert main(["caption", "train", "--out", str(no_weights / "run")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--synthetic" in err


def test_listed_help_lines_are_the_verbs_docstrings():
    # The lazy table repeats each verb's first docstring line; it must not drift from the docstring.
    from npnet.cli import _Lazy

    for name in VERBS:
        entry = dict.__getitem__(VERBS, name)
        if isinstance(entry, _Lazy):
            assert entry.help == entry.load()[1].__doc__.splitlines()[0], name


def test_help_and_a_light_verb_do_not_import_the_heavy_modules():
    code = ("import sys\nfrom npnet.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numba', 'scipy', 'npnet.kernels', 'matplotlib') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
