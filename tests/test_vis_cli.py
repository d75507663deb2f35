"""Figures (written atomically as real PNGs) and the CLI verbs saliency / gradcam / fool / classviz / demo."""
import numpy as np
import pytest
from PIL import Image

from npnet.cli import main
from npnet.vis.figures import (attribution_figure, class_visualization_figure, fooling_figure, randomization_figure,
                               render_map)


def png_size(path):
    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


def test_render_map_styles():
    image = np.full((2, 2, 3), 255, np.uint8)
    m = np.array([[0.0, 1.0], [2.0, 4.0]])
    heat = render_map(image, m, "heat")
    # 'hot' runs from black at the minimum to white at the maximum.
    np.testing.assert_allclose(heat[0, 0], [0.0416, 0, 0], atol=1e-3)
    np.testing.assert_allclose(heat[1, 1], 1.0)
    # The overlay is half colormap, half image (white here).
    over = render_map(image, m, "overlay")
    assert np.all(over >= 0.5) and np.all(over <= 1.0)
    # rgb: 0.5 + 0.1 * (v - mean) / std; these 12 values have mean 7/6 and std 3.02306.
    rgb = render_map(image, np.stack([m, -m, 2 * m]), "rgb")
    v = np.stack([m, -m, 2 * m]).transpose(1, 2, 0)
    np.testing.assert_allclose(rgb, 0.5 + 0.1 * (v - 7 / 6) / np.sqrt(np.mean((v - 7 / 6) ** 2)))
    np.testing.assert_allclose(rgb[1, 1], [0.5 + 0.1 * (4 - 7 / 6) / 3.0230595, 0.5 + 0.1 * (-4 - 7 / 6) / 3.0230595,
                                           0.5 + 0.1 * (8 - 7 / 6) / 3.0230595], rtol=1e-5)


def test_figures_write_pngs(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 3, 32, 32)).astype(np.float32)
    rows = [("saliency", np.abs(rng.standard_normal((3, 32, 32))), None),
            ("guided", rng.standard_normal((3, 3, 32, 32)), None), ("cam", rng.random((3, 32, 32)), "overlay")]
    path = attribution_figure(tmp_path / "sub" / "a.png", X, rows, ["a", "b", "c"])
    assert png_size(path) == (660, 880)  # 2.2 inch per image and row at 100 dpi
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.png"]  # no temporary file left behind
    assert png_size(fooling_figure(tmp_path / "f.png", X[:1], X[:1] + 0.01)) == (1200, 340)
    assert png_size(class_visualization_figure(tmp_path / "c.png", [X[:1]] * 4, list("abcd"))) == (960, 680)
    result = {"stages": ["classifier.1", "features.12"], "methods": ["saliency"],
              "correlations": {"saliency": np.array([[0.5, 0.4], [0.1, np.nan]])}}
    assert png_size(randomization_figure(tmp_path / "r.png", result)) == (800, 400)
    with pytest.raises(ValueError, match=r"attribution_figure: row 'bad' must hold one map per image"):
        attribution_figure(tmp_path / "x.png", X, [("bad", np.zeros((2, 32, 32)), None)])
    with pytest.raises(ValueError, match=r"attribution_figure: style of row 's' must be one of"):
        attribution_figure(tmp_path / "x.png", X, [("s", np.zeros((3, 32, 32)), "jet")])
    assert not (tmp_path / "x.png").exists()


def test_attribution_figures_wrap_to_rows_of_five(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, 3, 32, 32)).astype(np.float32)
    rows = [("saliency", np.abs(rng.standard_normal((7, 32, 32))), None)]
    # 7 images: two blocks (image row + map row) of five columns
    assert png_size(attribution_figure(tmp_path / "w.png", X, rows, list("abcdefg"))) == (1100, 880)
    # one image: a single row, image then each map, 2.4 inches per panel
    one = [(label, maps[:1], style) for label, maps, style in rows * 3]
    assert png_size(attribution_figure(tmp_path / "one.png", X[:1], one, ["a"])) == (960, 270)


@pytest.fixture
def cli_env(weights_path, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_gradcam_and_saliency_verbs(cli_env, capsys, data_file):
    data_file("imagenet/imagenet_val_25.npz")
    assert main(["gradcam", "--sample", "2", "--out", "g.png"]) == 0
    assert main(["saliency", "--sample", "2", "--smooth-samples", "2", "--seed", "1", "--out", "s.png"]) == 0
    assert png_size(cli_env / "g.png") == (440, 880) and png_size(cli_env / "s.png") == (440, 880)
    assert capsys.readouterr().out.split() == ["g.png", "s.png"]
    assert main(["gradcam", "--sample", "1", "--layer", "13"]) == 1
    assert capsys.readouterr().err == "npnet gradcam: error: --layer must be in 0..12; got 13\n"


def test_verbs_refuse_to_overwrite_an_input(cli_env, capsys):
    img = cli_env / "cat.png"
    Image.new("RGB", (64, 64), (200, 100, 50)).save(img)
    assert main(["saliency", str(img), "--out", str(img)]) == 1
    assert "is one of the input files" in capsys.readouterr().err
    assert png_size(img) == (64, 64)


def test_fool_and_classviz_verbs(cli_env, capsys, data_file):
    data_file("imagenet/imagenet_val_25.npz")
    # Three steps are not enough: the verb says so and exits 1, but still draws the figure.
    assert main(["fool", "--sample-index", "0", "--target", "6", "--max-iter", "3", "--out", "f.png"]) == 1
    out = capsys.readouterr().out
    assert "not fooled after 3 steps" in out and png_size(cli_env / "f.png") == (1200, 340)
    assert main(["classviz", "--classes", "76", "--iterations", "2", "--out", "c.png"]) == 0
    assert "76 tarantula: score" in capsys.readouterr().out and (cli_env / "c.png").exists()


def test_demo_writes_the_attribution_figure(cli_env, capsys):
    assert main(["demo", "--out", "demo"]) == 0
    out = capsys.readouterr().out
    assert "457  bow tie" in out  # the classification part is unchanged
    assert out.strip().endswith("saliency / Grad-CAM figure: demo/saliency_gradcam.png")
    assert png_size(cli_env / "demo" / "saliency_gradcam.png") == (1200, 270)  # one image: one row of 5 panels
