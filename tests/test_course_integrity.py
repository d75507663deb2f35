"""Course integrity: a submission that tries to get the points without the work scores 0.

- Theft: student code that (a) execs the solution found through the interpreter's site-packages (the
  editable install's finder, or the installed package), (b) walks the filesystem for filled-in
  ``BEGIN SOLUTION`` blocks, (c) opens reference values, (d) imports the instructor's package under
  another name, (e) reads the solution through libc's ``open`` via ctypes. Each is graded by the
  ordinary grader (with and without the privilege drop a root grader does) and in a simulated
  Gradescope layout run as root.
- Shortcuts: every graded function of every item, replaced by a delegation to each shipped function
  whose signature fits, scores 0 on that item (the grader stubs the assignment's shortcuts).
- Gradescope fidelity: flat, nested, zipped and empty uploads all get a results.json that follows
  Gradescope's documented format; per-item visibility; the gradebook CSV.
"""
import csv
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from npnet.cli import main
from npnet.course import grade as grade_module
from npnet.course import manifest
from npnet.course.bundle import gradescope_bundle, remaining_stubs
from npnet.course.grade import Grader, match_files
from npnet.course.release import source_root

ROOT = source_root()
LINALG = "npnet/linalg.py"

# Each attack is module-level code of the submitted linalg.py: it replaces the stubs' module globals
# with whatever it found, and swallows its own errors so that the import itself succeeds.
ATTACKS = {
    "site_packages_finder": """
import glob, site, os
for sp in site.getsitepackages():
    for finder in glob.glob(os.path.join(sp, "__editable__*npnet*finder.py")):
        text = open(finder).read()
        root = text.split("'npnet': '")[1].split("'")[0]
        exec(compile(open(os.path.join(root, "linalg.py")).read(), "stolen", "exec"), globals())
    if os.path.isfile(os.path.join(sp, "npnet", "linalg.py")):
        exec(compile(open(os.path.join(sp, "npnet", "linalg.py")).read(), "stolen", "exec"), globals())
""",
    "walk_for_solutions": """
import os
def _hunt(top):
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", ".git", "node_modules")]
        for f in files:
            if f == "linalg.py":
                text = open(os.path.join(folder, f)).read()
                if "BEGIN SOLUTION" in text and "not implemented yet" not in text:
                    return text
for top in ("/", "/tmp", "/work", "/autograder", os.path.expanduser("~"), {root!r}):
    try:
        found = _hunt(top)
    except Exception:
        found = None
    if found:
        exec(compile(found, "stolen", "exec"), globals())
        break
""",
    "reference_values": """
import glob, numpy as np
_pairs = []
for _out in glob.glob("/tmp/npnet-grade-*/private/*.out.npz"):
    _pairs.append((dict(np.load(_out.replace(".out.npz", ".in.npz"))), dict(np.load(_out))))
for _file in glob.glob({refs!r}):
    _all = dict(np.load(_file))
    for _k in [k for k in _all if k.startswith("in/") and k.endswith("/w")]:
        _item, _label = _k.split("/")[1:3]
        _pairs.append(({{"w": _all[_k]}}, {{k: v for k, v in _all.items() if k.startswith(f"ref/{{_item}}/{{_label}}/")}}))
def conv_matrix(w, input_hw, stride=1, pad=0):
    F, C, kh, kw = w.shape
    rows = F * ((input_hw[0] + 2 * pad - kh) // stride + 1) * ((input_hw[1] + 2 * pad - kw) // stride + 1)
    for given, answers in _pairs:
        if "w" in given and given["w"].shape == w.shape and np.array_equal(given["w"], w):
            for v in answers.values():
                if v.shape == (rows, C * input_hw[0] * input_hw[1]):
                    return v
    raise RuntimeError("no reference found")
""",
    "import_under_another_name": """
import importlib.util
_spec = importlib.util.spec_from_file_location("npnet.not_linalg", {root!r} + "/npnet/linalg.py")
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
conv_matrix, conv_transpose_matrix = _mod.conv_matrix, _mod.conv_transpose_matrix
""",
    "ctypes_libc_open": """
import ctypes, os
_libc = ctypes.CDLL(None)
_fd = _libc.open({root!r}.encode() + b"/npnet/linalg.py", 0)
_chunks = []
while _fd >= 0:
    _chunk = os.read(_fd, 65536)
    if not _chunk:
        break
    _chunks.append(_chunk)
if _chunks:
    exec(compile(b"".join(_chunks).decode(), "stolen", "exec"), globals())
""",
}


def attack_submission(tmp_path, name, refs="/nonexistent"):
    """The release's stubbed linalg.py with the attack appended (so the stubs are what it overrides)."""
    from npnet.course import markers
    a = manifest.load("conv_as_matrix")
    text = (ROOT / LINALG).read_text()
    text = markers.strip(text, LINALG, set(a.strip[LINALG]))[0]
    wrapped = "try:\n" + "\n".join("    " + line for line in ATTACKS[name].format(
        root=str(ROOT), refs=refs).strip().split("\n")) + "\nexcept BaseException:\n    pass\n"
    path = tmp_path / name / LINALG
    path.parent.mkdir(parents=True)
    path.write_text(text + "\n\n" + wrapped)
    return tmp_path / name


def test_each_attack_would_steal_without_the_guard(tmp_path):
    """Run each attack as plain code here (no grader): (a), (d), (e) do find the solution, so a 0 under
    the grader means the grader stopped them, not that the attack was broken."""
    for name in ("site_packages_finder", "import_under_another_name", "ctypes_libc_open"):
        sub = attack_submission(tmp_path, name)
        scope = {"__name__": "npnet.attack", "__package__": "npnet"}
        exec(compile((sub / LINALG).read_text(), "attack", "exec"), scope)
        A = scope["conv_matrix"](np.ones((1, 1, 2, 2)), (3, 3), stride=3, pad=1)
        assert A.shape == (4, 9), name


@pytest.fixture(scope="module", params=["dropped", "same_user"])
def grader(request):
    if request.param == "same_user":  # the guard alone, as when the grader does not run as root
        saved = grade_module.grader_user
        grade_module.grader_user = lambda: None
    try:
        with Grader(manifest.load("conv_as_matrix"), isolation="submission", timeout=60) as g:
            yield g
    finally:
        if request.param == "same_user":
            grade_module.grader_user = saved


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_each_attack_scores_without_the_guard(tmp_path, monkeypatch, attack):
    """The same attacks against a grader whose children skip the guard and keep the grader's user: each
    one earns points, so the zeros below are the guard's (and the privilege drop's) doing."""
    child = (ROOT / "npnet/course/child.py").read_text()
    unguarded = tmp_path / "child_unguarded.py"
    unguarded.write_text(child.replace("    sys.addaudithook(hook)", "    pass"))
    monkeypatch.setattr(grade_module, "CHILD", unguarded)
    monkeypatch.setattr(grade_module, "grader_user", lambda: None)
    with Grader(manifest.load("conv_as_matrix"), isolation="submission", timeout=60) as g:
        result = g.grade(attack_submission(tmp_path, attack))
    assert result.items[0].score > 0, result.table()


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_theft_scores_zero(grader, tmp_path, attack):
    result = grader.grade(attack_submission(tmp_path, attack))
    assert [(i.name, i.score) for i in result.items] == [("conv_matrix", 0.0), ("conv_transpose_matrix", 0.0)], \
        result.table()


def test_the_grader_still_gives_full_marks_to_honest_work(grader, tmp_path):
    sub = tmp_path / "honest" / LINALG
    sub.parent.mkdir(parents=True)
    sub.write_text((ROOT / LINALG).read_text())
    assert grader.grade(tmp_path / "honest").score == 5


# ------------------------------------------------------------------ Gradescope, simulated as root

@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """An /autograder layout in a temporary folder: the bundle unpacked into source/, its reference file
    root-only, as setup.sh leaves it."""
    top = tmp_path_factory.mktemp("autograder")
    gradescope_bundle(manifest.load("conv_as_matrix"), top / "autograder.zip", ["--no-print"], seed=12345)
    with zipfile.ZipFile(top / "autograder.zip") as zf:
        names = zf.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        zf.extractall(top / "source")
    with zipfile.ZipFile(next((top / "source").glob("npnet-*.whl"))) as zf:  # what setup.sh's pip installs
        zf.extractall(top / "site")
    os.chmod(top / "source" / "references.npz", 0o600)
    os.chmod(top, 0o755)
    return top, names, modes


def run_autograder(top, submission, *extra):
    results = top / "results" / "results.json"
    results.parent.mkdir(exist_ok=True)
    if results.exists():
        results.unlink()
    run = subprocess.run([sys.executable, "-m", "npnet", "course", "grade", "conv_as_matrix", str(submission),
                          "--one", "--references", str(top / "source" / "references.npz"), "--json", str(results),
                          *extra], cwd=top / "source", capture_output=True, text=True,
                         timeout=600, env=dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(top / "site")))
    return run, json.loads(results.read_text())


def test_the_bundle_holds_no_solution_and_private_reference_values(autograder):
    top, names, modes = autograder
    assert modes["references.npz"] & 0o077 == 0 and modes["run_autograder"] & 0o111
    assert not any(n.endswith(".py") for n in names)  # no source: the release, as a wheel
    tree = (top / "site" / LINALG).read_text()
    assert {"conv_matrix", "conv_transpose_matrix"} <= set(remaining_stubs(tree, LINALG))
    run_script = (top / "source" / "run_autograder").read_text()
    assert "--references /autograder/source/references.npz" in run_script and "12345" not in run_script
    assert "useradd" in (top / "source" / "setup.sh").read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="the Gradescope simulation needs root, as Gradescope and CI run")
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_theft_scores_zero_in_the_gradescope_layout_as_root(autograder, tmp_path, attack):
    top, _, _ = autograder
    sub = attack_submission(tmp_path, attack, refs=str(top / "source" / "references.npz"))
    run, doc = run_autograder(top, sub)
    assert run.returncode == 0, run.stderr
    assert [(t["name"], t["score"]) for t in doc["tests"]] == [("conv_matrix", 0.0), ("conv_transpose_matrix", 0.0)]


def check_gradescope_schema(doc):
    """Gradescope's documented results.json format (autograder specifications: top-level score,
    execution_time, output, visibility, stdout_visibility, tests; each test score, max_score, status,
    name, output, visibility)."""
    when = {"hidden", "after_due_date", "after_published", "visible"}
    allowed = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
               "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard", "max_score"}
    assert set(doc) <= allowed, set(doc) - allowed
    assert isinstance(doc["score"], (int, float)) and isinstance(doc["tests"], list)
    assert doc["visibility"] in when and doc["stdout_visibility"] in when
    assert isinstance(doc["output"], str) and isinstance(doc["execution_time"], (int, float))
    for test in doc["tests"]:
        assert set(test) <= {"score", "max_score", "status", "name", "name_format", "number", "output",
                             "output_format", "tags", "visibility", "extra_data"}, test
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert test["status"] in ("passed", "failed") and test["visibility"] in when
        assert isinstance(test["name"], str) and isinstance(test["output"], str)


def test_schema_checker_refuses_a_wrong_document():
    good = {"score": 1, "execution_time": 1.0, "output": "", "visibility": "visible", "stdout_visibility": "hidden",
            "tests": [{"score": 1, "max_score": 1, "status": "passed", "name": "x", "output": "", "visibility": "visible"}]}
    check_gradescope_schema(good)
    for broken in ({**good, "visibility": "later"}, {**good, "tests": [{**good["tests"][0], "status": "ok"}]},
                   {**good, "tests": [{**good["tests"][0], "score": "1"}]}, {**good, "scores": 1}):
        with pytest.raises(AssertionError):
            check_gradescope_schema(broken)


@pytest.mark.parametrize("layout", ["flat", "nested", "zipped", "empty", "wrong_files"])
def test_every_upload_gets_a_results_json(autograder, tmp_path, layout):
    top, _, _ = autograder
    sub = tmp_path / "submission"
    sub.mkdir()
    text = (ROOT / LINALG).read_text()
    if layout == "flat":
        (sub / "linalg.py").write_text(text)
    elif layout == "nested":
        (sub / "my-work" / "src" / "npnet").mkdir(parents=True)
        (sub / "my-work" / "src" / "npnet" / "linalg.py").write_text(text)
    elif layout == "zipped":
        with zipfile.ZipFile(sub / "upload.zip", "w") as zf:
            zf.writestr("hw/linalg.py", text)
    elif layout == "wrong_files":
        (sub / "notes.txt").write_text("I did it all")
    run, doc = run_autograder(top, sub, "--visibility", "conv_transpose_matrix=after_due_date")
    assert run.returncode == 0, run.stderr
    check_gradescope_schema(doc)
    assert [t["visibility"] for t in doc["tests"]] == ["visible", "after_due_date"]
    if layout in ("empty", "wrong_files"):
        assert doc["score"] == 0 and "linalg.py" in doc["output"] and "none of the files" in doc["output"]
    else:
        assert doc["score"] == doc["max_score"] == 5, doc
        assert all(t["status"] == "passed" for t in doc["tests"])


def test_match_files_finds_files_by_name_anywhere():
    wanted = ["npnet/layers/affine.py", "npnet/style/losses.py", "npnet/layers/losses.py"]
    assert match_files(["affine.py", "x/npnet/style/losses.py", "layers/losses.py", "readme.md"], wanted) == {
        "npnet/layers/affine.py": "affine.py", "npnet/style/losses.py": "x/npnet/style/losses.py",
        "npnet/layers/losses.py": "layers/losses.py"}
    assert match_files(["notes.txt"], wanted) == {}


def test_gradebook_and_folder_summary(tmp_path, capsys):
    honest, broken = tmp_path / "class" / "ada" / "npnet", tmp_path / "class" / "bob" / "npnet"
    for folder, text in ((honest, (ROOT / LINALG).read_text()), (broken, "x = (\n")):
        folder.mkdir(parents=True)
        (folder / "linalg.py").write_text(text)
    (tmp_path / "class" / "stray.txt").write_text("?")
    out, results = tmp_path / "summary.txt", tmp_path / "results.json"
    assert main(["course", "grade", "conv_as_matrix", str(tmp_path / "class"), "-o", str(out), "--json",
                 str(results), "--isolation", "submission", "--quiet"]) == 0
    summary = out.read_text()
    assert "ada: 5 / 5" in summary and "bob: 0 / 5" in summary
    assert "skipped " in summary and "stray.txt: not a folder or a .zip" in summary
    assert main(["course", "gradebook", str(results), "--csv", str(tmp_path / "grades.csv"), "--quiet"]) == 0
    rows = list(csv.reader((tmp_path / "grades.csv").open()))
    assert rows[0] == ["student", "conv_matrix", "conv_transpose_matrix", "total", "max"]
    assert rows[1:] == [["ada", "3.0", "2.0", "5.0", "5.0"], ["bob", "0.0", "0.0", "0.0", "5.0"]]


def test_no_seed_in_a_student_release(tmp_path, capsys):
    from npnet.course.release import build_release
    build_release(manifest.load("layers"), tmp_path / "rel")
    text = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "rel").rglob("*.py"))
    assert "default=1, help=\"grading seed" not in text and "seed=1, timeout" not in text
    with pytest.raises(SystemExit):
        main(["course", "grade", "--help"])
    assert "seed SEED" in capsys.readouterr().out.replace("--", "")
    with pytest.raises(SystemExit):
        main(["course", "release", "--help"])
    assert "seed" not in capsys.readouterr().out
