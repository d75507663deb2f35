"""Course tooling without grading: solution markers, releases (nothing leaks), the student's gradcheck
and notebooks, collect, the Gradescope bundle, the diagnoses, and the command line."""
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from npnet.cli import main
from npnet.course import manifest, markers
from npnet.course.bundle import collect, gradescope_bundle, remaining_stubs
from npnet.course.diagnose import diagnose, describe
from npnet.course.release import build_release, find_leaks, public_lines, secret_lines, source_root
from npnet.errors import FileFormatError, NpnetValueError

ROOT = source_root()


# ------------------------------------------------------------------------------------------ markers

def test_every_marker_in_npnet_is_well_formed():
    blocks = [b for p in sorted((ROOT / "npnet").rglob("*.py")) if "course" not in p.relative_to(ROOT).parts
              for b in markers.find_blocks(p.read_text(), p)]
    assert len(blocks) >= 82
    assert {"affine_forward", "CaptioningRNN.loss", "CaptioningRNN.sample", "_cam"} <= {b.function for b in blocks}


BAD = {
    "never closed": ("def f():\n    # BEGIN SOLUTION\n    x = 1\n", 2, "is never closed"),
    "end alone": ("def f():\n    x = 1\n    # END SOLUTION\n", 3, "without a '# BEGIN SOLUTION'"),
    "nested": ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    x = 1\n    # END SOLUTION\n", 3,
               "do not nest"),
    "end indent": ("def f():\n    # BEGIN SOLUTION\n    x = 1\n  # END SOLUTION\n", 4, "is indented 2 columns"),
    "body indent": ("def f():\n    if True:\n        # BEGIN SOLUTION\n        x = 1\n    y = 2\n"
                    "        # END SOLUTION\n", 5, "indented less than the solution markers"),
    "module level": ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", 1, "outside any function"),
    "syntax": ("def f(:\n    pass\n", 1, "cannot parse"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_markers_are_refused_naming_file_and_line(case):
    text, line, words = BAD[case]
    with pytest.raises(FileFormatError, match=f"^mod.py:{line}: .*{words}"):
        markers.find_blocks(text, "mod.py")


def test_fill_stubs_puts_back_exactly_the_stubbed_blocks():
    """Stubs get the instructor's block of their function (two blocks of one function in order); a block
    the student wrote stays; ``functions`` limits what is filled; a stub with no instructor block is an
    error naming file and line."""
    solution = ("def f(x):\n    # BEGIN SOLUTION\n    y = x + 1\n    # END SOLUTION\n"
                "    # BEGIN SOLUTION\n    y = y * 2\n    # END SOLUTION\n    return y\n\n\n"
                "def g(x):\n    # BEGIN SOLUTION\n    return -x\n    # END SOLUTION\n")
    release, _ = markers.strip(solution, "m.py", {"f", "g"})
    assert markers.fill_stubs(release, solution, "m.py") == solution
    student = release.replace('    # TODO: g:', '    return 5 * x\n    # TODO: g:', 1)
    student = student.replace('    raise NotImplementedError("g: not implemented yet (the TODO block)")\n', "")
    filled = markers.fill_stubs(student, solution, "m.py")
    assert "return 5 * x" in filled and "return -x" not in filled and filled.count("y = ") == 2
    only_g = markers.fill_stubs(release, solution, "m.py", functions={"g"})
    assert "return -x" in only_g and "y = x + 1" not in only_g and markers.STUB_SIGNATURE in only_g
    with pytest.raises(FileFormatError, match=r"^m.py:\d+: the stub of g has no block"):
        markers.fill_stubs(release, solution.split("def g")[0] + "def g(x):\n    return -x\n", "m.py")


def test_strip_keeps_signature_docstring_and_outside_lines():
    text = (ROOT / "npnet/layers/affine.py").read_text()
    new, stripped = markers.strip(text, "npnet/layers/affine.py", {"affine_backward"})
    assert [b.function for b, _ in stripped] == ["affine_backward"]
    assert "dw = x_flat.T @ dout" not in new and "dw = x_flat.T @ dout" in text
    kept = [line for line in text.split("\n") if line not in sum((body for _, body in stripped), [])]
    assert all(line in new.split("\n") for line in kept)
    assert 'raise NotImplementedError("affine_backward: not implemented yet (the TODO block)")' in new
    assert "# TODO: affine_backward:" in new
    compile(new, "affine.py", "exec")


# ------------------------------------------------------------------------------------------ releases

@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    out = {}
    for name in manifest.names():
        dest = tmp_path_factory.mktemp(name) / "release"
        out[name] = (dest, build_release(manifest.load(name), dest))
    return out


@pytest.mark.parametrize("name", manifest.names())
def test_release_is_complete_and_leaks_nothing(releases, name):
    a = manifest.load(name)
    dest, stripped = releases[name]
    assert {(b.path, b.function) for b, _ in stripped} == {(p, f) for p, fs in manifest.stubbed(a).items()
                                                           for f in fs}
    files = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    assert {"setup.py", "README.md", "course.json", "tests/conftest.py", "gradcheck/__main__.py"} <= files
    assert set(a.submit) <= files
    assert not any("__pycache__" in f or f.endswith(".pyc") or f.startswith(".git/") for f in files)
    for ex in a.exercises:
        nb = json.loads((dest / "exercises" / f"{ex}.ipynb").read_text())
        assert nb["nbformat"] == 4 and all(not c.get("outputs") for c in nb["cells"])
        assert sum(c["cell_type"] == "code" for c in nb["cells"]) >= 3
    assert json.loads((dest / "course.json").read_text())["submit"] == list(a.submit)
    secrets = secret_lines(stripped, public_lines(ROOT, a))
    assert len(secrets) >= len(stripped) // 2
    assert find_leaks(dest, secrets) == []
    # The scanner does find a line that slipped through, also inside a notebook cell.
    leaked = sorted(secrets)[0]
    nb = json.loads((dest / "exercises" / f"{a.exercises[0]}.ipynb").read_text())
    nb["cells"][-1]["source"] += "\n" + leaked
    (dest / "leak.ipynb").write_text(json.dumps(nb))
    try:
        assert [(f, s) for f, _, s in find_leaks(dest, secrets)] == [("leak.ipynb", leaked)]
    finally:
        (dest / "leak.ipynb").unlink()


def test_release_refuses_a_folder_with_files_and_writes_nothing_on_error(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("student work")
    assert main(["course", "release", "layers", "-o", str(tmp_path / "out")]) == 1
    assert (tmp_path / "out" / "mine.txt").read_text() == "student work"
    assert main(["course", "release", "no_such", "-o", str(tmp_path / "x")]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_release_stubs_the_assignments_it_does_not_build_on_and_ships_its_prerequisites(releases):
    def stubs(name, path):
        return remaining_stubs((releases[name][0] / path).read_text(), path)
    # Week 2's release gives away nothing of week 8: captioning, saliency, style losses, GANs are stubs.
    assert len(stubs("layers", "npnet/layers/rnn.py")) == 15
    assert "compute_saliency_maps" in stubs("layers", "npnet/vis/saliency.py")
    assert {"gram_matrix", "style_loss"} <= set(stubs("layers", "npnet/style/losses.py"))
    assert "discriminator_loss" in stubs("layers", "npnet/models/gan.py")
    # network_visualization builds on layers: its solutions ship, the later assignments' do not.
    assert "affine_forward" not in stubs("network_visualization", "npnet/layers/affine.py")
    # ... but relu_backward is its own, and the library's other ReLU gates are its shortcuts.
    assert stubs("network_visualization", "npnet/layers/activations.py") == [
        "relu_backward", "relu_backward_from_output", "leaky_relu_backward"]
    assert len(stubs("network_visualization", "npnet/layers/rnn.py")) == 15
    assert manifest.prerequisites(manifest.load("gans")) == {"layers", "network_visualization"}
    # Each stub says what to do: its own check, or whose assignment it is.
    rnn = (releases["layers"][0] / "npnet/layers/rnn.py").read_text()
    assert "# TODO: rnn_forward: part of the assignment 'rnn_captioning', handed out with it." in rnn
    pool = (releases["layers"][0] / "npnet/layers/pool.py").read_text()
    assert "then check it with python -m gradcheck max_pool.naive." in pool


def _broken(*args, **kwargs):
    raise LookupError("broken by test_each_stub_hint_names_a_check_that_runs_the_function")


def test_ship_and_strip_override_the_prerequisites(tmp_path):
    a = manifest.load("gans")
    shipped = manifest.stubbed(a, ship=["rnn_captioning"])
    assert "rnn_forward" not in shipped.get("npnet/layers/rnn.py", set())
    assert "rnn_forward" in manifest.stubbed(a)["npnet/layers/rnn.py"]
    stripped = manifest.stubbed(a, strip=["layers"])
    assert {"affine_forward", "affine_backward"} <= stripped["npnet/layers/affine.py"]
    assert "npnet/layers/affine.py" not in manifest.stubbed(a)
    with pytest.raises(NpnetValueError, match="--ship/--strip take another assignment"):
        manifest.stubbed(a, ship=["gans"])
    assert main(["course", "release", "gans", "-o", str(tmp_path / "r"), "--strip", "layers", "--quiet"]) == 0
    assert "affine_forward" in remaining_stubs((tmp_path / "r/npnet/layers/affine.py").read_text(), "affine.py")


def test_each_stub_hint_names_a_check_that_runs_the_function():
    """Break the instructor's function (its code object, so every reference to it breaks), run the
    gradient check its stub names: the check must hit the break."""
    import importlib

    from gradcheck.registry import run_check, select
    from npnet.course.release import check_for

    tried = 0
    for name in manifest.names():
        a = manifest.load(name)
        for path, functions in a.strip.items():
            module = importlib.import_module(path[:-3].replace("/", "."))
            for function in functions:
                check = check_for(a, ROOT, path, function)
                assert check, f"{name}: no check, public test or exercise runs {function}"
                if not check.startswith("python -m gradcheck "):
                    assert check.startswith(("python -m pytest -q tests/", "python exercises/")), check
                    continue
                target = module
                for part in function.split("."):
                    target = getattr(target, part)
                code, target.__code__ = target.__code__, _broken.__code__
                try:
                    with pytest.raises(LookupError, match="broken by test_each_stub_hint"):
                        for c in select([check.split()[-1]]):
                            run_check(c)
                finally:
                    target.__code__ = code
                tried += 1
    assert tried >= 30


def test_students_gradcheck_shows_only_the_assignments_checks(releases):
    dest, _ = releases["network_visualization"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-m", "gradcheck"], cwd=dest, env=env, capture_output=True, text=True,
                         timeout=300)
    lines = run.stdout.splitlines()
    assert lines[0].startswith("assignment network_visualization: its checks only"), run.stdout
    rows = [line.split("|")[0].strip() for line in lines[3:-1]]
    assert rows and all(r.split(".")[0] in manifest.load("network_visualization").gradcheck for r in rows)
    run_all = subprocess.run([sys.executable, "-m", "gradcheck", "--all"], cwd=dest, env=env, capture_output=True,
                             text=True, timeout=600)
    assert len(run_all.stdout.splitlines()) > len(lines) + 20


def test_students_gradcheck_reports_todo(releases):
    dest, _ = releases["layers"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-m", "gradcheck", "affine", "relu", "max_pool"], cwd=dest, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("affine ") and "todo  (affine_forward: not implemented yet" in line for line in lines)
    # The fast pooling is a shortcut of the naive one the student writes: a stub in this release.
    assert any(line.startswith("max_pool.fast_overlap") and "todo  (max_pool_forward: not implemented yet" in line
               for line in lines)
    assert any(line.startswith("max_pool.relu_below") and "todo" in line for line in lines)
    assert "0 of 9 implemented, 0 pass" in lines[-1]  # with affine.partial and max_pool.naive.tall_pad


def test_grading_inside_a_release_says_it_needs_the_instructors_repository(releases):
    dest, _ = releases["conv_as_matrix"]
    run = subprocess.run([sys.executable, "-m", "npnet", "course", "grade", "conv_as_matrix", "."], cwd=dest,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert run.stderr.strip().endswith("grade with the instructor's repository, not a release"), run.stderr


def _kernel_available():
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        return "python3" in KernelSpecManager().find_kernel_specs()
    except ImportError:
        return False


# ------------------------------------------------------------------------------------------ collect, bundle

def test_collect_zips_exactly_the_submitted_files_and_warns_about_stubs(releases, tmp_path, capsys, monkeypatch):
    dest, _ = releases["style_transfer"]
    files, warnings = collect(dest, tmp_path / "sub.zip")
    assert files == ["npnet/layers/norm.py", "npnet/style/losses.py", "npnet/style/transfer.py"]
    assert sorted(zipfile.ZipFile(tmp_path / "sub.zip").namelist()) == files
    assert warnings == ["npnet/layers/norm.py: not implemented yet: conditional_instance_norm_forward, "
                        "conditional_instance_norm_forward_naive, conditional_instance_norm_backward",
                        "npnet/style/losses.py: not implemented yet: content_loss, gram_matrix, gram_matrix_naive, "
                        "gram_matrix_backward, style_loss, tv_loss, tv_loss_naive",
                        "npnet/style/transfer.py: not implemented yet: features_backward"]
    monkeypatch.chdir(dest)
    assert main(["course", "collect", "-o", str(tmp_path / "cli.zip")]) == 0
    assert "warning: npnet/style/transfer.py: not implemented yet: features_backward" in capsys.readouterr().err
    with pytest.raises(NpnetValueError, match="is not a student release"):
        collect(tmp_path, tmp_path / "x.zip")


def test_gradescope_bundle_grades_a_submission_on_its_own(tmp_path):
    a = manifest.load("conv_as_matrix")
    gradescope_bundle(a, tmp_path / "autograder.zip", ["--no-print"], seed=7)
    with zipfile.ZipFile(tmp_path / "autograder.zip") as zf:
        names = zf.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        run_script = zf.read("run_autograder").decode()
        zf.extractall(tmp_path / "source")
    wheels = [n for n in names if n.endswith(".whl")]
    assert {"setup.sh", "run_autograder", "references.npz"} <= set(names) and len(wheels) == 1
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111 and modes["references.npz"] == 0o100600
    assert "course grade conv_as_matrix /autograder/submission --one" in run_script and "--no-print" in run_script
    assert f"pip install -q /autograder/source/{wheels[0]}" in (tmp_path / "source" / "setup.sh").read_text()
    # Run what run_autograder runs, with the bundle's wheel installed (unpacked onto the path) and its references.
    with zipfile.ZipFile(tmp_path / "source" / wheels[0]) as zf:
        zf.extractall(tmp_path / "site")
    sub = tmp_path / "submission" / "npnet"
    sub.mkdir(parents=True)
    (sub / "linalg.py").write_text((ROOT / "npnet/linalg.py").read_text())
    results = tmp_path / "results.json"
    run = subprocess.run([sys.executable, "-m", "npnet", "course", "grade", "conv_as_matrix", str(sub.parent), "--one",
                          "--references", str(tmp_path / "source" / "references.npz"), "--json", str(results),
                          "--no-print"], cwd=tmp_path / "source", capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(tmp_path / "site")))
    assert run.returncode == 0, run.stderr
    doc = json.loads(results.read_text())
    assert doc["score"] == doc["max_score"] == a.max_score and len(doc["tests"]) == len(a.items)


def test_grade_cli_folder_of_submissions_in_parallel(tmp_path, capsys):
    for k, text in enumerate([(ROOT / "npnet/linalg.py").read_text(), "x = (\n"]):
        (tmp_path / "class" / f"student{k}" / "npnet").mkdir(parents=True)
        (tmp_path / "class" / f"student{k}" / "npnet" / "linalg.py").write_text(text)
    assert main(["course", "grade", "conv_as_matrix", str(tmp_path / "class"), "--jobs", "2", "--isolation",
                 "submission", "--json", str(tmp_path / "r.json"), "-o", str(tmp_path / "table.txt")]) == 0
    out = capsys.readouterr().out
    assert "student0: 5 / 5" in out and "student1: 0 / 5" in out
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [(d["submission"], d["score"]) for d in doc] == [("student0", 5.0), ("student1", 0.0)]
    assert "SyntaxError" in (tmp_path / "table.txt").read_text()


@pytest.mark.parametrize("argv,words", [
    (["grade", "layers", "/no/such/dir"], "no such submission"),
    (["grade", "layers", ".", "--jobs", "0"], "--jobs must be a positive integer"),
    (["grade", "layers", ".", "--timeout", "-1"], "--timeout must be a positive number"),
    (["grade", "nope", "."], "unknown assignment 'nope'"),
    (["gradescope", "layers", "-o", "bundle.txt"], "--out must name a .zip file"),
])
def test_cli_refuses_bad_arguments_in_one_line(argv, words, capsys):
    assert main(["course"] + argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err


# ------------------------------------------------------------------------------------------ diagnoses

def test_each_diagnosis_fires_on_its_mistake_and_not_otherwise():
    rng = np.random.default_rng(0)
    r = rng.standard_normal((4, 3))
    assert "sign is flipped" in diagnose(-r, r)
    assert "missing 1/N" in diagnose(4 * r, r, n=4)
    assert "extra 1/N" in diagnose(r / 4, r, n=4)
    assert "dropout" in diagnose(0.7 * r, r, factors={0.7: "dropout's 1/p"})
    assert "a factor 2" in diagnose(2 * r, r)
    assert "transposed" in diagnose(r.T, r)
    sq = rng.standard_normal((3, 3))
    assert "transposed" in diagnose(sq.T, sq)
    assert "missing sum over the batch" in diagnose(np.stack([r, r, -r]), r)
    assert "exactly zero" in diagnose(np.zeros_like(r), r)
    up = rng.standard_normal((4, 3))
    masked = up * (r > 0)
    assert "equals the upstream gradient" in diagnose(up, masked, upstream=up)
    loose = masked + (r <= 0) * 0.5
    assert "too loose" in diagnose(loose, masked)
    assert "too strict" in diagnose(masked * (np.arange(12).reshape(4, 3) % 2), masked)
    assert "NaN/Inf" in diagnose(np.full_like(r, np.nan), r)
    assert "wrong shape (5,)" in diagnose(np.ones(5), r)
    assert diagnose(rng.standard_normal((4, 3)), r) is None
    assert diagnose(r * 1.5, r) == "1.5 times the right value everywhere: a constant factor is off"
    # a single number is some factor off whatever the mistake: only a known factor is named
    assert diagnose(np.float64(1.5), np.float64(1.0)) is None
    assert "a factor 2" in diagnose(np.float64(2.0), np.float64(1.0))
    text = describe(-r, r)
    assert text.startswith("wrong (rel error 1.0e+00; worst at [") and text.endswith("Diagnosis: the sign is flipped.")
