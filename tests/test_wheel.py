"""npnet shipped as a library: the sdist builds a wheel, and a wheel runs the course with no checkout.

The wheel is built from this checkout (``pip wheel --no-build-isolation``: no network), unpacked, and
put first on ``PYTHONPATH`` of subprocesses that run outside the checkout, as an installed wheel runs.
"""
import filecmp
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from npnet.course import manifest
from npnet.course.release import build_release, source_root

ROOT = source_root()


def _build(what, out, *args):
    run = subprocess.run([sys.executable, "-m", "pip", what, "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                          *args], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    return next(Path(out).glob("npnet-*.whl"))


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory):
    """The wheel, unpacked: what pip puts into site-packages."""
    if not (ROOT / "setup.py").is_file():
        pytest.skip("needs npnet's checkout (setup.py) to build the wheel")
    top = tmp_path_factory.mktemp("wheel")
    wheel = _build("wheel", top / "dist", str(ROOT))
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(top / "site")
    return top / "site"


def run_installed(site, args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("NPNET_DATA", "NPNET_WEIGHTS")}
    env.update(PYTHONPATH=str(site), NPNET_OFFLINE="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "npnet", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


def test_the_wheel_carries_the_course_and_the_embedded_data(wheel_site):
    course = wheel_site / "npnet" / "_course"
    for a in map(manifest.load, manifest.names()):
        assert all((course / "exercises" / f"{e}.py").is_file() for e in a.exercises), a.name
        assert all((course / "tests" / t).is_file() for t in a.public_tests), a.name
    assert (course / "setup.py").is_file() and (course / "tests" / "conftest.py").is_file()
    assert list((wheel_site / "npnet" / "data" / "embedded").rglob("*.npz"))


@pytest.mark.parametrize("name", ["layers", "gans"])
def test_a_release_from_the_wheel_equals_one_from_the_checkout(wheel_site, tmp_path, name):
    (tmp_path / "elsewhere").mkdir()
    run = run_installed(wheel_site, ["course", "release", name, "-o", str(tmp_path / "from_wheel")],
                        tmp_path / "elsewhere")
    assert run.returncode == 0, run.stderr
    build_release(manifest.load(name), tmp_path / "from_checkout")
    left, right = tmp_path / "from_wheel", tmp_path / "from_checkout"
    files = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file())
    _, mismatch, errors = filecmp.cmpfiles(left, right, [str(f) for f in files], shallow=False)
    assert mismatch == [] and errors == []


def test_the_wheel_grades_without_a_checkout(wheel_site, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    sub = tmp_path / "honest" / "npnet"
    sub.mkdir(parents=True)
    (sub / "linalg.py").write_text((wheel_site / "npnet" / "linalg.py").read_text())
    run = run_installed(wheel_site, ["course", "grade", "conv_as_matrix", str(sub.parent), "--isolation",
                                     "submission"], tmp_path / "elsewhere")
    assert run.returncode == 0, run.stderr
    a = manifest.load("conv_as_matrix")
    assert f"{a.max_score:g} / {a.max_score:g}" in run.stdout.splitlines()[-1], run.stdout


def test_the_sdist_holds_the_course_files_and_builds_the_same_wheel(tmp_path):
    if not (ROOT / "setup.py").is_file():
        pytest.skip("needs npnet's checkout (setup.py) to build the sdist")
    run = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    sdist = next(tmp_path.glob("npnet-*.tar.gz"))
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"setup.py", "MANIFEST.in", "exercises/layers.py", "tests/conftest.py"} <= names
    assert any(n.startswith("npnet/data/embedded/") and n.endswith(".npz") for n in names)
    wheel = _build("wheel", tmp_path / "dist", str(sdist))
    with zipfile.ZipFile(wheel) as zf:
        assert "npnet/_course/exercises/layers.py" in zf.namelist()
