"""npnet.image: loading (modes, EXIF, resize, errors), crop, pre/deprocessing, blur, jitter, saving."""
import numpy as np
import pytest
from PIL import Image

from npnet.image import (SQUEEZENET_MEAN, SQUEEZENET_STD, blur_image, center_crop, deprocess, jitter, load_image,
                         preprocess, rescale, save_image, to_input)

RNG = np.random.default_rng(0)


def rgb(h, w):
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def saved(tmp_path, img, name, **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


# --- modes -------------------------------------------------------------------------------------

def test_grey_and_bilevel_become_rgb(tmp_path):
    a = np.full((30, 25), 77, np.uint8)
    a[0, 0] = 200
    got = load_image(saved(tmp_path, Image.fromarray(a), "l.png"))
    assert got.shape == (30, 25, 3) and got.dtype == np.uint8
    assert got[0, 0].tolist() == [200] * 3 and got[5, 5].tolist() == [77] * 3
    bits = Image.fromarray(a > 100)  # mode "1"
    assert bits.mode == "1"
    got = load_image(saved(tmp_path, bits, "b.png"))
    assert got[0, 0].tolist() == [255] * 3 and got[5, 5].tolist() == [0] * 3


def test_alpha_is_composited_on_white(tmp_path):
    a = np.zeros((21, 21, 4), np.uint8)
    a[0, 0] = (200, 100, 50, 0)      # fully transparent -> white
    a[0, 1] = (200, 100, 50, 255)    # opaque -> unchanged
    a[0, 2] = (0, 0, 0, 128)         # half -> 255 * (1 - 128/255) = 127
    got = load_image(saved(tmp_path, Image.fromarray(a, "RGBA"), "a.png"))
    assert got[0, 0].tolist() == [255, 255, 255]
    assert got[0, 1].tolist() == [200, 100, 50]
    assert got[0, 2].tolist() == [127, 127, 127]
    la = Image.fromarray(a[..., [0, 3]], "LA")
    got = load_image(saved(tmp_path, la, "la.png"))
    assert got[0, 0].tolist() == [255] * 3 and got[0, 1].tolist() == [200] * 3


def test_palette_with_and_without_transparency(tmp_path):
    idx = np.zeros((22, 23), np.uint8)
    idx[1, 1] = 1
    p = Image.fromarray(idx, "P")
    p.putpalette([10, 20, 30, 40, 50, 60] + [0] * 762)
    got = load_image(saved(tmp_path, p, "p.png"))
    assert got[0, 0].tolist() == [10, 20, 30] and got[1, 1].tolist() == [40, 50, 60]
    got = load_image(saved(tmp_path, p, "pt.png", transparency=0))
    assert got[0, 0].tolist() == [255, 255, 255] and got[1, 1].tolist() == [40, 50, 60]


def test_cmyk_becomes_rgb(tmp_path):
    a = np.zeros((21, 21, 4), np.uint8)
    a[0, 1] = (255, 0, 0, 0)   # full cyan
    a[0, 2] = (0, 0, 0, 255)   # full black
    got = load_image(saved(tmp_path, Image.fromarray(a, "CMYK"), "c.tif"))
    assert got[0, 0].tolist() == [255, 255, 255]
    assert got[0, 1].tolist() == [0, 255, 255]
    assert got[0, 2].tolist() == [0, 0, 0]


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    a = np.zeros((21, 21), np.uint16)
    a[0, :3] = (65535, 257 * 100, 300)  # 300 / 257 = 1.17 -> 1
    img = Image.fromarray(a)
    assert img.mode.startswith("I;16")
    got = load_image(saved(tmp_path, img, "g16.png"))
    assert got[0, :4, 0].tolist() == [255, 100, 1, 0]


# --- EXIF and resizing ---------------------------------------------------------------------------

@pytest.mark.parametrize("orientation, undo", [(3, lambda a: np.rot90(a, 2)), (6, lambda a: np.rot90(a, -1)),
                                               (8, lambda a: np.rot90(a, 1))])
def test_exif_orientation_is_applied(tmp_path, orientation, undo):
    a = rgb(24, 32)  # stored 32 wide, 24 high
    exif = Image.Exif()
    exif[0x0112] = orientation
    got = load_image(saved(tmp_path, Image.fromarray(a), "o.png", exif=exif))
    np.testing.assert_array_equal(got, undo(a))


def test_exif_orientation_in_jpeg(tmp_path):
    a = np.zeros((24, 40, 3), np.uint8)
    a[:, :20] = 255  # left half white: after a 90-degree clockwise turn the top half is white
    exif = Image.Exif()
    exif[0x0112] = 6
    got = load_image(saved(tmp_path, Image.fromarray(a), "o.jpg", exif=exif, quality=95))
    assert got.shape == (40, 24, 3)
    assert got[:15].min() > 230 and got[25:].max() < 25


@pytest.mark.parametrize("w, h, size, want_hw", [(512, 600, 256, (300, 256)), (600, 512, 256, (256, 300)),
                                                  (333, 500, 224, (336, 224)), (40, 40, 21, (21, 21))])
def test_resize_matches_torchvision_arithmetic_and_pil_bilinear(tmp_path, w, h, size, want_hw):
    a = rgb(h, w)
    got = load_image(saved(tmp_path, Image.fromarray(a), "r.png"), size=size)
    assert got.shape == want_hw + (3,)
    want = np.asarray(Image.fromarray(a).resize(want_hw[::-1], Image.BILINEAR))
    np.testing.assert_array_equal(got, want)


def test_grace_hopper_at_256(data_file):
    img = load_image(data_file("images/grace_hopper.jpg"))
    assert img.shape == (600, 512, 3)
    assert load_image(data_file("images/grace_hopper.jpg"), size=256).shape == (300, 256, 3)


# --- errors --------------------------------------------------------------------------------------

def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="folder"):
        load_image(tmp_path)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="notes.png is not an image"):
        load_image(tmp_path / "notes.png")
    with pytest.raises(ValueError, match=r"16x30 pixels.*>= 17"):
        load_image(saved(tmp_path, Image.fromarray(rgb(30, 16)), "tiny.png"))
    assert load_image(saved(tmp_path, Image.fromarray(rgb(30, 17)), "small.png")).shape == (30, 17, 3)
    with pytest.raises(ValueError, match="size must be at least 17"):
        load_image(saved(tmp_path, Image.fromarray(rgb(30, 30)), "ok.png"), size=16)


@pytest.mark.parametrize("name", ["t.jpg", "t.png"])
def test_truncated_and_corrupt_files(tmp_path, name):
    full = saved(tmp_path, Image.fromarray(rgb(64, 64)), name).read_bytes()
    (tmp_path / name).write_bytes(full[: len(full) // 2])
    with pytest.raises(ValueError, match=f"{name} could not be decoded"):
        load_image(tmp_path / name)
    (tmp_path / name).write_bytes(full[:40] + b"\x00" * (len(full) - 40))
    with pytest.raises(ValueError, match=name):
        load_image(tmp_path / name)


# --- crop, preprocess, deprocess -----------------------------------------------------------------

def test_center_crop_arithmetic():
    a = np.arange(300 * 256).reshape(300, 256)
    np.testing.assert_array_equal(center_crop(a, 224), a[38:262, 16:240])
    b = np.arange(7 * 9).reshape(7, 9)
    # (7-2)/2 = 2.5 -> 2 and (9-2)/2 = 3.5 -> 4: Python's round, as torchvision's CenterCrop
    np.testing.assert_array_equal(center_crop(b, 2), b[2:4, 4:6])
    np.testing.assert_array_equal(center_crop(b, (3, 5)), b[2:5, 2:7])
    with pytest.raises(ValueError, match="cannot crop 8x2"):
        center_crop(b, (8, 2))


def test_preprocess_values():
    img = np.zeros((21, 22, 3), np.uint8)
    img[0, 0] = (255, 0, 51)
    x = preprocess(img, size=None)
    assert x.shape == (1, 3, 21, 22) and x.dtype == np.float32
    want = (np.array([1.0, 0.0, 0.2]) - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(x[0, :, 0, 0], want, rtol=1e-6)
    assert preprocess(Image.fromarray(rgb(50, 40)), size=32).shape == (1, 3, 40, 32)
    assert preprocess(rgb(50, 40)).shape == (1, 3, 280, 224)  # the course's default: shorter side 224


def test_to_input_is_load_resize_preprocess(tmp_path):
    img = rgb(30, 40)
    save_image(tmp_path / "a.png", img)
    want = preprocess(load_image(tmp_path / "a.png", size=24), size=None)
    np.testing.assert_array_equal(to_input(tmp_path / "a.png", size=24), want)
    np.testing.assert_array_equal(to_input(str(tmp_path / "a.png"), size=24), want)
    np.testing.assert_array_equal(to_input(img, size=24), want)
    assert to_input(img, size=30).shape == (1, 3, 30, 40)
    with pytest.raises(FileNotFoundError, match="load_image: no such file"):
        to_input(tmp_path / "missing.png")


def test_rescale_stretches_to_unit_range():
    np.testing.assert_allclose(rescale(np.array([2.0, 3.0, 6.0])), [0.0, 0.25, 1.0])
    np.testing.assert_array_equal(rescale(np.full(3, 7.0)), np.zeros(3))


def test_preprocess_rejects_bad_input():
    with pytest.raises(TypeError, match="uint8"):
        preprocess(np.zeros((21, 21, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape \(\*, \*, 3\)"):
        preprocess(np.zeros((21, 21), np.uint8))


def test_preprocess_deprocess_round_trip_is_exact():
    img = np.concatenate([rgb(21, 30), np.broadcast_to(np.arange(256, dtype=np.uint8)[None, :, None], (21, 256, 3))], 1)
    back = deprocess(preprocess(img, size=None))
    assert back.dtype == np.uint8 and back.shape == img.shape
    np.testing.assert_array_equal(back, img)  # every grey level survives (float32 error << half a level)
    np.testing.assert_array_equal(deprocess(preprocess(img, size=None)[0].astype(np.float64)), img)


def test_deprocess_clips_and_rescales():
    x = np.zeros((1, 3, 2, 2), np.float32)
    x[0, :, 0, 0] = 100.0
    x[0, :, 0, 1] = -100.0
    got = deprocess(x)
    assert got[0, 0].tolist() == [255] * 3 and got[0, 1].tolist() == [0] * 3
    assert got[1, 1].tolist() == np.round(SQUEEZENET_MEAN * 255).tolist()
    y = np.stack([np.array([[0.0, 1.0], [2.0, 4.0]])] * 3)  # all channels span 0..4 after unnormalising
    y = ((y.transpose(1, 2, 0) - SQUEEZENET_MEAN) / SQUEEZENET_STD).transpose(2, 0, 1)
    got = deprocess(y, should_rescale=True)
    assert got[..., 0].tolist() == [[0, 64], [128, 255]]


def test_deprocess_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(1, 3, \*, \*\)"):
        deprocess(np.zeros((2, 3, 4, 4)))
    with pytest.raises(TypeError, match="floating"):
        deprocess(np.zeros((3, 4, 4), np.uint8))


# --- blur, jitter, save ----------------------------------------------------------------------------

def test_blur_is_a_separable_gaussian_per_channel():
    X = np.zeros((1, 2, 21, 21))
    X[0, 0, 10, 10] = 1.0
    out = blur_image(X, sigma=1)
    t = np.arange(-4, 5)
    k = np.exp(-t ** 2 / 2.0)
    k /= k.sum()  # scipy truncates at 4 sigma and normalises
    want = np.zeros((21, 21))
    want[6:15, 6:15] = np.outer(k, k)
    np.testing.assert_allclose(out[0, 0], want, atol=1e-15)
    assert not out[0, 1].any()  # channels do not mix
    assert blur_image(X.astype(np.float32)).dtype == np.float32


def test_jitter_rolls_w_then_h():
    X = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    J = jitter(X, 2, 1)
    assert J[0, 0, 1, 2] == X[0, 0, 0, 0]  # moved down 1 and right 2
    assert J[1, 2, 0, 0] == X[1, 2, 3, 3]  # wrapped around
    np.testing.assert_array_equal(jitter(J, -2, -1), X)
    with pytest.raises(TypeError, match="ox"):
        jitter(X, 1.5, 0)


def test_save_image_round_trip(tmp_path):
    img = rgb(30, 40)
    path = save_image(tmp_path / "out.png", img)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), img)
    save_image(tmp_path / "out.png", img[::-1])  # overwriting an output is fine
    np.testing.assert_array_equal(load_image(path), img[::-1])
    save_image(tmp_path / "out.jpg", np.full((30, 40, 3), 128, np.uint8))
    assert np.abs(load_image(tmp_path / "out.jpg").astype(int) - 128).max() <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg", "out.png"]
    with pytest.raises(ValueError, match="suffix"):
        save_image(tmp_path / "out.xyz", img)
    with pytest.raises(TypeError, match="deprocess"):
        save_image(tmp_path / "f.png", img.astype(np.float32))
