"""The API reference in docs/ (Sphinx: autodoc + napoleon, the README as its start page) builds with
warnings as errors and nitpicky cross-references, so a docstring that breaks the reST or a reference to
a name that does not exist fails here (and in CI)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx", reason="Sphinx is not installed (pip install -e '.[docs]')")
pytest.importorskip("myst_parser", reason="myst-parser is not installed (pip install -e '.[docs]')")

DOCS = Path(__file__).resolve().parents[1] / "docs"
AREAS = ("layers", "nn", "models", "vis", "style", "optim", "solver", "gradcheck", "course", "data")


def sphinx(source, out):
    """Build ``source`` with docs/conf.py as CI does: fresh, warnings are errors, every reference checked."""
    return subprocess.run([sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-n", "-q", "-b", "html",
                           "-c", str(DOCS), str(source), str(out)], capture_output=True, text=True, check=False)


def text_of(page):
    return re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8"))


# Docstrings known to break the build (each with its fix noted); the test fails once one is fixed.
PENDING = ()


def test_the_api_reference_builds_without_a_warning(tmp_path):
    result = sphinx(DOCS, tmp_path)
    warnings = [w for w in result.stderr.splitlines() if w.strip()]
    unexpected = [w for w in warnings if not any(p in w for p in PENDING)]
    assert not unexpected, "the API reference does not build clean:\n" + "\n".join(unexpected)
    fixed = [p for p in PENDING if not any(p in w for w in warnings)]
    assert not fixed, f"fixed, so remove from PENDING in tests/test_docs.py: {fixed}"
    assert (result.returncode == 0) == (not PENDING)  # --keep-going: the pages are written either way
    start = text_of(tmp_path / "index.html")
    assert "A short tour" in start and "Data and weights" in start  # the README, included
    for area in AREAS:
        assert f'href="api/{area}.html"' in (tmp_path / "index.html").read_text(encoding="utf-8")
    layers, data = text_of(tmp_path / "api" / "layers.html"), text_of(tmp_path / "api" / "data.html")
    assert "affine_forward(x, w, b)" in layers and "conv_backward(dout, cache" in layers
    assert "find_weights(filename=" in data and "weights_note(model)" in data


PLANTED = """Planted
=======

.. autofunction:: npnet.layers.conv.conv_backward

See :func:`npnet.layers.conv_backward` (its public path), and inside ``npnet.layers.sandwich``,
which imports it:

.. currentmodule:: npnet.layers.sandwich

:func:`conv_forward` and :data:`npnet.layers.activations.RELU_MODES` (no entry: shown unlinked).
"""


@pytest.mark.parametrize("broken", [None, ":func:`npnet.layers.conv_backwrd`", ":class:`npnet.nn.NoSuchModule`"])
def test_a_broken_cross_reference_fails_the_build(tmp_path, broken):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.rst").write_text(PLANTED + (f"\nA typo: {broken}.\n" if broken else ""),
                                                encoding="utf-8")
    result = sphinx(tmp_path / "src", tmp_path / "html")
    if broken is None:  # real names, by whatever path they are reached, resolve
        assert result.returncode == 0, result.stderr
    else:
        target = broken.split("`")[1]
        assert result.returncode != 0 and f"reference target not found: {target}" in result.stderr
        assert result.stderr.count("WARNING") == 1, result.stderr
