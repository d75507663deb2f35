"""The course figures added for issue 12: captions under images (with image_from_url's offline
fallback) and the style grid. Sizes are the layout's inches at 100 dpi."""
import numpy as np
import pytest
from PIL import Image

from npnet.data.coco import image_from_url
from npnet.style.figures import image_grid
from npnet.vis.figures import captions_figure


def size(path):
    with Image.open(path) as img:
        return img.size


def test_image_from_url_reads_a_file_url(tmp_path, monkeypatch):
    monkeypatch.delenv("NPNET_OFFLINE")
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "x.png")
    img, ok = image_from_url((tmp_path / "x.png").as_uri())
    assert ok and np.array_equal(img, pixels)
    # a dead link or a file that is not an image: the placeholder, not an exception
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    for url in ((tmp_path / "missing.jpg").as_uri(), (tmp_path / "bad.jpg").as_uri()):
        img, ok = image_from_url(url, placeholder_size=8)
        assert not ok and img.shape == (8, 8, 3) and np.all(img == 128)


def test_image_from_url_offline_never_touches_the_network(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "x.png")
    img, ok = image_from_url((tmp_path / "x.png").as_uri())  # NPNET_OFFLINE=1 in the tests
    assert not ok and img.shape == (224, 224, 3)
    with pytest.raises(ValueError, match="image_from_url: url must be an http"):
        image_from_url("ftp://example.com/x.jpg")
    with pytest.raises(ValueError, match="timeout must be"):
        image_from_url("http://example.com/x.jpg", timeout=0)


def test_captions_figure(tmp_path):
    images = [np.full((32, 32, 3), v, np.uint8) for v in (0, 100, 200)]
    path = captions_figure(tmp_path / "c.png", images, ["one", ["two", "lines"], "three"],
                           available=[True, False, True], columns=2)
    assert size(path) == (720, 2 * 384)  # 2 columns of 3.6 in; rows of 3.4 + 0.22 * 2 lines
    with pytest.raises(ValueError, match="captions_figure: need one caption per image"):
        captions_figure(tmp_path / "x.png", images, ["a"])
    assert not (tmp_path / "x.png").exists()


def test_style_image_grid(tmp_path):
    img = np.random.default_rng(1).standard_normal((1, 3, 24, 32)).astype(np.float32)
    path = image_grid(tmp_path / "g.png", [[img, img, img], [img, img, img]], ["a", "b"], ["x", "y", "z"],
                      suptitle="grid", height=2.0)
    assert size(path) == (860, 460)  # (2 in * 32/24 * 3 + 0.6 in) x (2 in * 2 + 0.6 in)
    with pytest.raises(ValueError, match=r"image_grid: need 2 row labels and 3 column labels"):
        image_grid(tmp_path / "x.png", [[img, img, img], [img, img, img]], ["a"], ["x", "y", "z"])
