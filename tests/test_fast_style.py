"""Fast style transfer (issue 26 part 1): conditional instance norm against hand-computed cases and its
naive loops, nearest upsampling, the transformation network's whole backward against numerical
gradients, a short training run whose style loss falls, checkpoints, and the CLI's ``train`` / ``apply``.
"""
import numpy as np
import pytest

from conftest import require_data, require_weights
from gradcheck.registry import run_check, select
from npnet.errors import FileFormatError
from npnet.layers import (conditional_instance_norm_backward, conditional_instance_norm_forward,
                          conditional_instance_norm_forward_naive, instance_norm_backward, instance_norm_forward)
from npnet.models import fast_style as fs


def _cin_inputs(seed=0, n=3, s=3):
    rng = np.random.default_rng(seed)
    return (1 + 2 * rng.standard_normal((n, 4, 3, 5)), 1 + rng.standard_normal((s, 4)), rng.standard_normal((s, 4)))


def test_one_hot_style_is_instance_norm_with_that_row():
    x, gammas, betas = _cin_inputs()
    dout = np.random.default_rng(1).standard_normal(x.shape)
    for k in range(3):
        out, cache = conditional_instance_norm_forward(x, gammas, betas, k)
        ref, ref_cache = instance_norm_forward(x, gammas[k], betas[k])
        np.testing.assert_array_equal(out, ref)
        dx, dgammas, dbetas = conditional_instance_norm_backward(dout, cache)
        rdx, rdgamma, rdbeta = instance_norm_backward(dout, ref_cache)
        np.testing.assert_allclose(dx, rdx, rtol=1e-12, atol=1e-12)
        # only the chosen style's row learns
        others = [j for j in range(3) if j != k]
        np.testing.assert_allclose(dgammas[k], rdgamma, rtol=1e-12)
        np.testing.assert_allclose(dbetas[k], rdbeta, rtol=1e-12)
        assert not dgammas[others].any() and not dbetas[others].any()


def test_hand_computed_plane():
    # one 1x2 plane [1, 3]: mean 2, variance 1, xhat [-1, 1]; style 1 of gammas [[1], [10]], betas [[0], [5]]
    x = np.array([[[[1.0, 3.0]]]])
    out, _ = conditional_instance_norm_forward(x, np.array([[1.0], [10.0]]), np.array([[0.0], [5.0]]), 1, eps=1e-12)
    np.testing.assert_allclose(out.ravel(), [-5.0, 15.0])
    # a 30/70 blend: gamma 0.3 + 7 = 7.3, beta 3.5
    out, _ = conditional_instance_norm_forward(x, np.array([[1.0], [10.0]]), np.array([[0.0], [5.0]]),
                                               np.array([0.3, 0.7]), eps=1e-12)
    np.testing.assert_allclose(out.ravel(), [3.5 - 7.3, 3.5 + 7.3])


def test_blend_is_the_linear_mix_of_the_rows():
    x, gammas, betas = _cin_inputs()
    w = np.array([0.2, 0.5, 0.3])
    out, _ = conditional_instance_norm_forward(x, gammas, betas, w)
    ref, _ = instance_norm_forward(x, w @ gammas, w @ betas)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    # the output is affine in the mixing weights: the blend of two one-hot outputs, for weights summing to 1
    a, _ = conditional_instance_norm_forward(x, gammas, betas, 0)
    b, _ = conditional_instance_norm_forward(x, gammas, betas, 2)
    mixed, _ = conditional_instance_norm_forward(x, gammas, betas, np.array([0.25, 0.0, 0.75]))
    np.testing.assert_allclose(mixed, 0.25 * a + 0.75 * b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("style", [2, np.array([0.1, 0.6, 0.3]), "rows"])
def test_naive_loops_equal_the_vectorised_layer(style):
    x, gammas, betas = _cin_inputs(seed=3)
    if isinstance(style, str):
        style = np.random.default_rng(4).random((3, 3))
    out, _ = conditional_instance_norm_forward(x, gammas, betas, style)
    np.testing.assert_allclose(conditional_instance_norm_forward_naive(x, gammas, betas, style), out,
                               rtol=1e-12, atol=1e-12)


def test_per_sample_rows_give_each_sample_its_style():
    x, gammas, betas = _cin_inputs()
    out, _ = conditional_instance_norm_forward(x, gammas, betas, np.eye(3)[[2, 0, 1]])
    for n, k in enumerate([2, 0, 1]):
        np.testing.assert_array_equal(out[n], conditional_instance_norm_forward(x[n:n + 1], gammas, betas, k)[0][0])


@pytest.mark.parametrize("style, match", [
    (3, r"style must be a style index in 0..2"), (True, r"style must be an int"),
    (-1, r"style must be a style index in 0..2 \(gammas has 3 rows\); got -1"),
    ("a", r"style must be an int"), (np.ones(2), r"style \(a blend of the styles\) must have shape \(3,\)"),
    (np.ones((2, 3)), r"style \(per-sample style weights\) must have shape \(3, 3\)"),
    (np.array([np.nan, 0, 1]), r"style contains 1 NaN/Inf"),
])
def test_bad_style_is_refused(style, match):
    x, gammas, betas = _cin_inputs()
    with pytest.raises((ValueError, TypeError), match="conditional_instance_norm_forward: " + match):
        conditional_instance_norm_forward(x, gammas, betas, style)


def test_bad_parameters_are_refused():
    x, gammas, betas = _cin_inputs()
    with pytest.raises(ValueError, match=r"gammas \(S styles by C channels\) must have shape \(\*, 4\); got \(4,\)"):
        conditional_instance_norm_forward(x, gammas[0], betas, 0)
    with pytest.raises(ValueError, match=r"betas \(like gammas\) must have shape \(3, 4\); got \(2, 4\)"):
        conditional_instance_norm_forward(x, gammas, betas[:2], 0)


def test_upsample_hand_case():
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out, cache = fs.upsample_nearest_forward(x, 2)
    np.testing.assert_array_equal(out[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    dout = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(fs.upsample_nearest_backward(dout, cache)[0, 0],
                                  [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]])


@pytest.mark.parametrize("name", ["conditional_instance_norm", "conditional_instance_norm.blend",
                                  "conditional_instance_norm.per_sample", "fast_style.upsample",
                                  "fast_style.residual_block", "fast_style.transform_net"])
def test_gradient_checks_pass(name):
    (check,) = [c for c in select([name]) if c.name == name]
    assert run_check(check, seed=1) <= check.threshold


def test_whole_network_check_fails_without_the_skip_connection(monkeypatch):
    (check,) = select(["fast_style.transform_net"])
    monkeypatch.setattr(fs.ResidualBlock, "backward", lambda self, dout: self.body.backward(dout))
    assert run_check(check, seed=1) > 1e-2


def test_whole_network_check_fails_when_styles_share_gradients(monkeypatch):
    right = fs.conditional_instance_norm_backward

    def every_style_learns_everything(dout, cache):
        dx, _, dbetas = right(dout, cache)
        xhat, mix = cache[0], cache[3]
        return dx, np.ones_like(mix.T) @ (dout * xhat).sum(axis=(2, 3)), dbetas

    monkeypatch.setattr(fs, "conditional_instance_norm_backward", every_style_learns_everything)
    (check,) = select(["fast_style.transform_net"])
    assert run_check(check, seed=1) > 1e-2


def test_network_shapes_and_errors():
    net = fs.TransformNet(2, channels=(4, 4, 8), num_residual=1)
    assert net.forward(np.zeros((1, 3, 12, 16), np.float32), 1).shape == (1, 3, 12, 16)
    with pytest.raises(ValueError, match=r"TransformNet.forward: x must be \(N, 3, H, W\) images with H and W "
                                         r"multiples of 4"):
        net.forward(np.zeros((1, 3, 10, 16), np.float32))
    with pytest.raises(ValueError, match="TransformNet: kernel must be odd"):
        fs.TransformNet(2, kernel=4)
    with pytest.raises(ValueError, match="channels must be three widths"):
        fs.TransformNet(2, channels=(4, 8))


# ------------------------------------------------------------------------------- training and applying

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny network trained for a few steps on two styles (about 10 s on 2 loaded cores)."""
    from npnet.models.squeezenet import squeezenet1_1
    from npnet.style.fast import content_photos, train_fast_style

    for rel in ("styles/starry_night.jpg", "styles/the_scream.jpg", "imagenet/imagenet_val_25.npz"):
        require_data(rel)
    weights = require_weights()
    path = tmp_path_factory.mktemp("fast") / "net.npz"
    result = train_fast_style(["starry_night", "the_scream"], iterations=24, batch_size=2, crop=48, style_size=64,
                              learning_rate=1e-2, channels=(8, 8, 16), num_residual=1, kernel=3,
                              photos=content_photos()[:6], model=squeezenet1_1(weights=weights), checkpoint=path,
                              checkpoint_every=10, progress=False)
    return result, path


def test_training_lowers_the_style_loss(trained):
    result, _ = trained
    style = result.losses["style"]
    assert style.shape == (24,) and np.isfinite(style).all()
    # the batch alternates styles, so compare whole windows of steps
    assert style[-6:].mean() < 0.7 * style[:6].mean(), style


def test_checkpoint_round_trip_and_apply_determinism(trained, tmp_path):
    from npnet.style.fast import load_fast_style, stylize

    result, path = trained
    net, info, losses = load_fast_style(path)
    assert info["styles"] == ["starry_night", "the_scream"] and info["iterations"] == 24
    np.testing.assert_array_equal(losses["style"], result.losses["style"])
    x = np.random.default_rng(0).standard_normal((1, 3, 30, 26)).astype(np.float32)
    a = stylize(result.net, x, 1)
    assert a.shape == x.shape  # padded to multiples of 4 and cropped back
    np.testing.assert_array_equal(a, stylize(net, x, 1))
    np.testing.assert_array_equal(a, stylize(net, x, np.array([0.0, 1.0])))
    assert np.abs(a - stylize(net, x, 0)).max() > 1e-3  # the two styles differ


def test_checkpoint_errors(tmp_path, trained):
    from npnet.style.fast import load_fast_style

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(FileFormatError, match="load_fast_style: .*bad.npz is not an npnet fast-style checkpoint"):
        load_fast_style(bad)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_fast_style(tmp_path / "missing.npz")
    arrays = dict(np.load(trained[1]))
    arrays["net.layers.0.weight"] = arrays["net.layers.0.weight"][:, :, :1]
    np.savez(tmp_path / "cut.npz", **arrays)
    with pytest.raises(FileFormatError, match="layers.0.weight"):
        load_fast_style(tmp_path / "cut.npz")


def test_style_mix():
    from npnet.style.fast import style_mix

    names = ["starry_night", "styles/the_scream.jpg", "muse"]
    np.testing.assert_array_equal(style_mix("f", 1, names), [0, 1, 0])
    np.testing.assert_array_equal(style_mix("f", "the_scream", names), [0, 1, 0])
    np.testing.assert_allclose(style_mix("f", {"0": 1, "muse": 3}, names), [0.25, 0, 0.75])
    with pytest.raises(ValueError, match="no style 'kitten' in this network; its styles are 0=starry_night"):
        style_mix("f", "kitten", names)
    with pytest.raises(ValueError, match="must not all be 0"):
        style_mix("f", {"0": 0}, names)


def test_cli_apply_is_deterministic_and_atomic(trained, tmp_path, capsys):
    from npnet.cli import main

    require_data("images/kitten.jpg")
    _, path = trained
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        assert main(["style", "apply", str(path), "kitten", "--size", "64", "--blend", "0=1,the_scream=1",
                     "-o", str(out)]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert "0.5 starry_night, 0.5 the_scream" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]  # no temporary file left
    assert main(["style", "apply", str(path), "kitten", "--style", "7", "-o", str(tmp_path / "c.png")]) == 1
    err = capsys.readouterr().err
    assert "style 7 is out of range; this network has 2 styles" in err and err.count("\n") == 1
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize("kwargs, match", [
    (dict(styles=[]), r"train_fast_style: styles must be a non-empty list"),
    (dict(styles=["starry_night"], crop=30), r"crop must be a multiple of 4 and at least 32 \(SqueezeNet's layers need it\); got 30"),
    (dict(styles=["starry_night"], iterations=0), r"iterations must be a positive integer"),
    (dict(styles=["no_such_style"]), r"train_fast_style: no image 'no_such_style'"),
])
def test_training_arguments_are_checked_before_any_work(kwargs, match):
    from npnet.style.fast import train_fast_style

    with pytest.raises((ValueError, TypeError, FileNotFoundError), match=match):
        train_fast_style(**kwargs, model=object())  # a model is never reached: the checks come first


@pytest.mark.parametrize("argv, words", [
    (["style", "train"], "train needs --styles S1 [S2 ...]"),
    (["style", "train", "--styles", "starry_night", "--crop", "30"], "--crop must be a multiple of 4"),
    (["style", "train", "--styles", "starry_night", "-o", "net.png"], "--out must end in .npz; got net.png"),
    (["style", "apply", "net.npz"], "apply takes CHECKPOINT IMAGE; got 1 argument(s)"),
    (["style", "apply", "a.npz", "b.jpg", "--style", "0", "--blend", "0=1"], "give --style or --blend, not both"),
    (["style", "apply", "a.npz", "b.jpg", "--blend", "0=x"], "--blend must look like K1=W1,K2=W2"),
])
def test_cli_errors_are_one_line(argv, words, capsys, tmp_path, monkeypatch):
    from npnet.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1, err
    assert not list(tmp_path.iterdir())
