"""Issue 29: a released notebook shows its pictures. Each assignment's notebook is released, its stubs
filled in with the instructor's blocks, and run headless (nbclient, a real ipykernel) with the quick
settings, one cell at a time; the PNGs each cell writes to ``$NPNET_FIGURES`` are compared with the
images the cell displayed.

Display helpers themselves (kernel detection, ``show`` in and out of a kernel) are tested at the end
with a stand-in IPython, without a kernel.
"""
import base64
import os
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from conftest import require_data, require_weights
from npnet import display
from npnet.course import manifest, markers
from npnet.course.release import build_release, package_files, source_root
from test_course import _kernel_available
from test_exercises import SCRIPTS

ROOT = source_root()
NOTEBOOKS = [(name, ex) for name in manifest.names() for ex in manifest.load(name).exercises]
# Notebooks whose loops display snapshots as they run (class visualisation, style transfer, GAN grids):
# they show more images than they write files.
LIVE = {"network_visualization", "style_transfer", "gans"}
# A line some notebooks print only when their work came out right (checked besides the figures).
PRINTS = {"conv_as_matrix": "every kink at a pattern change: True", "layers": "naive vs fast:",
          "gans": "dc_generator(4)   6,580,801 parameters (correct)"}
PATH_LINE = re.compile(r"^\S*\.(png|jpe?g|pdf|svg)$")


def restore_release(dest):
    """Put the instructor's block back into every stub of the release ``dest`` (whatever file it is in)."""
    restored = []
    for rel in package_files(dest):
        if rel.suffix != ".py":  # the embedded data and JSON files hold no solution block
            continue
        text = (dest / rel).read_text(encoding="utf-8")
        if rel.parts[:2] == ("npnet", "course") or markers.STUB_SIGNATURE not in text:
            continue  # the course tooling itself holds the stub's wording, and is never stripped
        rel = rel.as_posix()
        (dest / rel).write_text(markers.fill_stubs(text, (ROOT / rel).read_text(encoding="utf-8"), rel), encoding="utf-8")
        restored.append(rel)
    return restored


def pngs(folder):
    """{path: modification time} of the PNGs under ``folder``."""
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*.png")}


def run_cells(nb, cwd, figures):
    """Execute ``nb`` cell by cell; returns {cell index: PNG files that cell wrote or rewrote}."""
    import nbclient
    from nbclient.exceptions import CellExecutionError

    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    written = {}
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            before = pngs(figures)
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as err:
                if err.ename == "DataNotFoundError":  # a data set the precheck does not know of
                    pytest.skip(f"real data not available: {err.evalue.splitlines()[0]}")
                raise
            written[index] = sorted(p for p, t in pngs(figures).items() if before.get(p) != t)
    return written


def images_of(cell):
    """The base64 PNGs a cell displayed (display_data and execute_result outputs)."""
    return [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]


def text_lines(cell):
    """Every line of text a cell printed or returned without a picture beside it."""
    lines = []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            lines += o["text"].splitlines()
        elif o["output_type"] in ("execute_result", "display_data") and "image/png" not in o["data"]:
            lines += o["data"].get("text/plain", "").splitlines()
    return [line.strip().strip("'\"") for line in lines if line.strip()]


@pytest.mark.parametrize("name,exercise", NOTEBOOKS, ids=[n for n, _ in NOTEBOOKS])
def test_released_notebook_shows_every_figure_it_writes(name, exercise, tmp_path, monkeypatch):
    if not _kernel_available():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("no Jupyter kernel under CI: install the test extra (nbclient, ipykernel)")
        pytest.skip("no Jupyter kernel (pip install -e '.[test]' installs nbclient and ipykernel)")
    data_files, needs_weights, figure_names = SCRIPTS[exercise]
    for relpath in data_files:
        require_data(relpath)
    if needs_weights:
        require_weights()
    import nbformat

    dest = tmp_path / "release"
    build_release(manifest.load(name), dest)
    assert set(manifest.load(name).submit) <= set(restore_release(dest))
    figures = tmp_path / "figures"
    monkeypatch.setenv("NPNET_EXERCISE_QUICK", "1")  # the kernel inherits these
    monkeypatch.setenv("NPNET_FIGURES", str(figures))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # a notebook's default
    for var in ("NPNET_STYLE_ITERS", "NPNET_GAN_ITERS"):
        monkeypatch.delenv(var, raising=False)
    nb = nbformat.read(dest / "exercises" / f"{exercise}.ipynb", as_version=4)
    student_module = manifest.load(name).submit[0][:-3].replace("/", ".")
    nb.cells.append(nbformat.v4.new_code_cell(f"import {student_module} as m\nprint('student code from', m.__file__)"))
    written = run_cells(nb, dest, figures)
    printed = [line for cell in nb.cells for line in text_lines(cell)]
    assert f"student code from {dest / manifest.load(name).submit[0]}" in printed  # the release's code ran
    if name in PRINTS:
        assert any(PRINTS[name] in line for line in printed), printed[-20:]

    made = [p for ps in written.values() for p in ps]
    assert sorted({p.stem for p in made}) == sorted(figure_names), f"figures written: {[p.name for p in made]}"
    shown_total = 0
    for index, cell in enumerate(nb.cells):
        shown = images_of(cell)
        shown_total += len(shown)
        head = cell.source.split("\n")[0]
        for path in written.get(index, []):  # each figure appears under its cell, exactly as it was saved
            assert base64.b64encode(path.read_bytes()).decode() in {s.replace("\n", "") for s in shown}, \
                f"cell {index} ({head}) wrote {path.name} but did not display it"
        paths = [line for line in text_lines(cell) if PATH_LINE.match(line) and Path(line).is_file()]
        assert not paths, f"cell {index} ({head}) printed a path instead of showing the picture: {paths}"
    assert shown_total >= len(made) + (3 if exercise in LIVE else 0)


# ------------------------------------------------------------------------------------------ the helpers

@pytest.fixture
def fake_kernel(monkeypatch):
    """A stand-in IPython with a kernel attached; ``shown`` collects what it was asked to display."""
    shown = []
    ipython = types.ModuleType("IPython")
    shell = types.SimpleNamespace(kernel=object())
    ipython.get_ipython = lambda: shell
    ipython_display = types.ModuleType("IPython.display")
    ipython_display.display = shown.append
    ipython_display.Image = lambda filename: ("Image", filename)
    ipython.display = ipython_display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    return shell, shown


def test_in_notebook_needs_a_running_kernel(monkeypatch, fake_kernel):
    shell, _ = fake_kernel
    assert display.in_notebook()
    shell.kernel = None  # a terminal IPython: no kernel
    assert not display.in_notebook()
    monkeypatch.delitem(sys.modules, "ipykernel")
    shell.kernel = object()
    assert not display.in_notebook()


def test_in_notebook_is_false_in_a_script_and_never_imports_ipython(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert not display.in_notebook()
    assert "IPython" not in sys.modules


def test_figure_helpers_return_a_path_that_renders_as_its_png(tmp_path):
    from npnet.vis.figures import fooling_figure

    X = np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32)
    path = fooling_figure(tmp_path / "f.png", X, X + 0.1)
    assert isinstance(path, display.FigurePath) and str(path) == str(tmp_path / "f.png")
    assert path._repr_png_() == (tmp_path / "f.png").read_bytes()
    picture = fooling_figure(None, X, X + 0.1)  # nothing written, the picture alone
    assert isinstance(picture, display.Picture) and sorted(p.name for p in tmp_path.iterdir()) == ["f.png"]
    png = picture._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    pdf = fooling_figure(tmp_path / "f.pdf", X, X)  # not a PNG on disk: drawn again for the notebook
    assert pdf._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_show_displays_in_a_kernel_and_prints_the_path_in_a_script(tmp_path, capsys, monkeypatch, fake_kernel):
    from matplotlib.figure import Figure

    _, shown = fake_kernel
    fig = Figure(figsize=(2, 1), dpi=50)
    fig.subplots().plot([0, 1])
    assert display.show(fig, tmp_path / "a.png") is None
    assert len(shown) == 1 and shown[0]._repr_png_() == (tmp_path / "a.png").read_bytes()
    display.show(tmp_path / "a.png")  # a plain Path of a PNG: shown as the image
    assert shown[1] == ("Image", str(tmp_path / "a.png"))
    display.show_images([np.zeros((1, 3, 8, 8))], titles=["zero"])
    assert isinstance(shown[2], display.Picture)
    assert capsys.readouterr().out == ""
    with pytest.raises(TypeError, match="show: path is only for a matplotlib Figure"):
        display.show(shown[2], tmp_path / "b.png")

    monkeypatch.delitem(sys.modules, "ipykernel")  # a script: the path, and no picture drawn
    display.show(fig, tmp_path / "c.png")
    display.show_images([np.zeros((1, 3, 8, 8))])
    assert capsys.readouterr().out == f"{tmp_path / 'c.png'}\n" and len(shown) == 3


def test_loops_display_their_snapshots_in_a_kernel_only(monkeypatch, fake_kernel):
    from npnet.models import gan
    from npnet.vis import create_class_visualization
    from test_gan import _tiny_step_setup
    from test_vis_closed_form import TinyNet

    _, shown = fake_kernel

    def visualise(**kw):
        create_class_visualization(0, TinyNet(), num_iterations=10, show_every=4, image_size=6, seed=0, **kw)

    visualise()  # t = 0, 3, 7 and the last, as the callback
    assert len(shown) == 4 and all(isinstance(s, display.Picture) for s in shown)
    visualise(generate_plots=False)
    D, G, real = _tiny_step_setup()
    history = gan.run_a_gan(D, G, gan.get_solver(D), gan.get_solver(G), gan.discriminator_loss, gan.generator_loss,
                            show_every=2, batch_size=2, noise_size=8, num_iters=5, seed=0, images=real, progress=False)
    assert sorted(history["samples"]) == [0, 2, 4] and len(shown) == 7  # one grid per kept sample
    monkeypatch.delitem(sys.modules, "ipykernel")  # a script: nothing is drawn
    visualise()
    gan.run_a_gan(D, G, gan.get_solver(D), gan.get_solver(G), gan.discriminator_loss, gan.generator_loss,
                  show_every=2, batch_size=2, noise_size=8, num_iters=3, seed=0, images=real, progress=False)
    assert len(shown) == 7
