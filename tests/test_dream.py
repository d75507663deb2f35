"""DeepDream: the objective's gradient (numerical, float64), one step by hand, the octave schedule,
determinism, the pixel clip, the CLI verb and argument errors."""
import numpy as np
import pytest

from gradcheck import check_backward
from npnet.image import SQUEEZENET_MEAN, SQUEEZENET_STD, jitter
from npnet.style.dream import deep_dream, dream_objective, dream_step




def _image(rng, h, w, dtype=np.float32):
    return rng.uniform(-1.5, 1.5, (1, 3, h, w)).astype(dtype)


def test_objective_gradient_float64(model64):
    x = _image(np.random.default_rng(0), 36, 40, np.float64)
    loss, dx = dream_objective(model64, x, 7)
    a = model64.features.forward(x, 0, 8)
    assert loss == pytest.approx(0.5 * np.sum(a ** 2), rel=1e-12)
    err = check_backward(lambda z: np.array(dream_objective(model64, z, 7)[0]), [x], np.array(1.0), [dx])
    assert err < 1e-6  # measured 4e-9


def test_step_by_hand(model):
    x = _image(np.random.default_rng(1), 40, 40) * 0.2
    _, g = dream_objective(model, jitter(x, 3, -2), 4)
    g = jitter(g, -3, 2)
    expected = np.clip(x + 0.01 / np.abs(g).mean() * g, (-SQUEEZENET_MEAN / SQUEEZENET_STD)[None, :, None, None],
                       ((1 - SQUEEZENET_MEAN) / SQUEEZENET_STD)[None, :, None, None])
    _, new = dream_step(model, x, 4, 0.01, ox=3, oy=-2)
    np.testing.assert_allclose(new, expected, rtol=1e-5, atol=1e-6)
    assert new.dtype == np.float32


def test_dream_amplifies_layer(model):
    x = _image(np.random.default_rng(2), 48, 56) * 0.3
    result = deep_dream(x, layer=6, num_octaves=2, octave_scale=1.3, iterations=5, model=model, progress=False)
    assert [o.shape for o in result.octaves] == [(1, 3, 37, 43), (1, 3, 48, 56)]
    assert result.image.shape == x.shape and result.image.dtype == np.float32
    assert len(result.losses) == 10
    # each octave raises the objective (measured x1.68 over the first octave's 4 steps, x2.48 over the
    # second's, x6.4 from start to end)
    assert result.losses[4] > 1.3 * result.losses[0] and result.losses[9] > 1.8 * result.losses[5]
    assert result.losses[9] > 4 * result.losses[0]
    low = (-SQUEEZENET_MEAN / SQUEEZENET_STD)[None, :, None, None]
    high = ((1 - SQUEEZENET_MEAN) / SQUEEZENET_STD)[None, :, None, None]
    assert np.all(result.image >= low - 1e-6) and np.all(result.image <= high + 1e-6)


def test_dream_deterministic(model):
    x = _image(np.random.default_rng(3), 40, 40) * 0.3
    kw = dict(layer=4, num_octaves=1, iterations=3, model=model, progress=False)
    a, b = deep_dream(x, seed=1, **kw).image, deep_dream(x, seed=1, **kw).image
    c = deep_dream(x, seed=2, **kw).image
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dream_errors(model):
    x = np.zeros((1, 3, 30, 30), np.float32)
    # 30 / 2**2 -> 8 (rounded), below the smallest side layer 7 takes (min_side(model, 7) = 9)
    with pytest.raises(ValueError, match=r"deep_dream: the smallest octave .* is 8x8 pixels, too small for layer 7"):
        deep_dream(x, layer=7, num_octaves=3, octave_scale=2.0, model=model)
    with pytest.raises(ValueError, match=r"deep_dream: layer must be an index of model.features, an integer in 0..12"):
        deep_dream(x, layer=13, model=model)
    with pytest.raises(ValueError, match="octave_scale must be a finite number > 1"):
        deep_dream(x, octave_scale=1.0, model=model)
    with pytest.raises(ValueError, match="step_size must be a positive finite number; got -0.1"):
        deep_dream(x, step_size=-0.1, model=model)
    with pytest.raises(FileNotFoundError, match="no image"):
        deep_dream("no/such/image.jpg", model=model)


def test_cli_dream(model, tmp_path):
    from PIL import Image

    from conftest import require_data
    from npnet.cli import main

    require_data("images/sky.jpg")  # DeepDream's default image, a course file

    out = tmp_path / "d.png"
    assert main(["dream", "sky", "--size", "40", "--layer", "4", "--octaves", "2", "--iters", "2", "-o", str(out),
                 "--quiet"]) == 0
    with Image.open(out) as img:
        assert img.size[1] == 40
    assert (tmp_path / "d_figure.png").is_file()
