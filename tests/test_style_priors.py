"""The TV^beta prior (Mahendran & Vedaldi 2015): beta = 2 is npnet's total variation, the loops and the
vectorised version agree, a hand-computed image, and the prior reaches feature inversion and the CLI."""
import numpy as np
import pytest

from npnet.cli import main
from npnet.errors import NpnetValueError
from npnet.style.losses import tv_loss
from npnet.style.priors import tv_beta_loss, tv_beta_loss_naive
from npnet.style.transfer import StyleObjective, feature_inversion


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_beta_2_is_the_course_total_variation(dtype):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 5)).astype(dtype)
    loss, dx = tv_beta_loss(x, 0.37, beta=2)
    ref_loss, ref_dx = tv_loss(x, 0.37)
    assert loss == pytest.approx(ref_loss, rel=1e-13 if dtype == np.float64 else 1e-6)
    assert dx.dtype == dtype
    # the same terms 2w * difference, added in another order: equal to rounding
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-13 if dtype == np.float64 else 1e-5, atol=1e-6 * (dtype == np.float32))


@pytest.mark.parametrize("beta", [0.7, 1.0, 1.5, 2.0, 3.0])
def test_loops_and_vectorised_agree(beta):
    x = np.random.default_rng(1).standard_normal((2, 2, 4, 6))
    loss, dx = tv_beta_loss(x, 0.5, beta)
    naive_loss, naive_dx = tv_beta_loss_naive(x, 0.5, beta)
    assert loss == pytest.approx(naive_loss, rel=1e-13)
    np.testing.assert_allclose(dx, naive_dx, rtol=1e-12, atol=1e-14)


def test_hand_computed_image_is_isotropic():
    # [[0, 3], [4, 0]]: pixel (0,0) has v = 4, h = 3 -> sqrt(25) = 5 (anisotropic TV would say 7);
    # (0,1): v = -3 -> 3; (1,0): h = -4 -> 4; (1,1): no neighbour -> sqrt(eps)
    x = np.array([[[[0.0, 3.0], [4.0, 0.0]]]])
    eps = 1e-6
    loss, dx = tv_beta_loss(x, 2.0, beta=1, eps=eps)
    expected = 2 * (np.sqrt(25 + eps) + np.sqrt(9 + eps) + np.sqrt(16 + eps) + np.sqrt(eps))
    assert loss == pytest.approx(expected, rel=1e-14)
    # d/dx(0,0) = -2 (v + h)/5; d/dx(0,1) = 2*3/5 (as the right neighbour of (0,0)) - 2*(-3)/3
    # d/dx(1,0) = 2*4/5 - 2*(-4)/4; d/dx(1,1) = 2*(-3)/3 + 2*(-4)/4 (below (0,1), right of (1,0))
    np.testing.assert_allclose(dx[0, 0], [[-2 * 7 / 5, 6 / 5 + 2], [8 / 5 + 2, -4]], rtol=1e-6)
    assert tv_beta_loss(x, 2.0, beta=2)[0] == pytest.approx(2 * (9 + 16 + 9 + 16))


def test_small_beta_has_a_finite_gradient_on_a_flat_image():
    flat = np.full((1, 3, 4, 4), 0.25)
    for beta in (0.5, 1.0, 1.5):
        loss, dx = tv_beta_loss(flat, 1.0, beta)
        assert np.all(dx == 0) and loss == pytest.approx(16 * 3 * 1e-6 ** (beta / 2))
    with pytest.raises(NpnetValueError, match=r"tv_beta_loss: beta < 2 needs eps > 0"):
        tv_beta_loss(flat, 1.0, beta=1, eps=0)
    with pytest.raises(NpnetValueError, match=r"tv_beta_loss: beta must be"):
        tv_beta_loss(flat, 1.0, beta=0)


def test_smaller_beta_prefers_one_edge_to_a_ramp():
    # one step of 1 against the same rise spread over 4 steps: TV^1 scores them equal, TV^2 prefers the
    # ramp 4 to 1, TV^3 16 to 1 -- the reason beta < 2 keeps edges sharp
    edge = np.zeros((1, 1, 1, 5))
    edge[..., 2:] = 1
    ramp = np.linspace(0, 1, 5)[None, None, None, :]
    ratio = {b: tv_beta_loss(edge, 1, b, eps=1e-12)[0] / tv_beta_loss(ramp, 1, b, eps=1e-12)[0] for b in (1, 2, 3)}
    assert ratio[1] == pytest.approx(1, rel=1e-5)
    assert ratio[2] == pytest.approx(4) and ratio[3] == pytest.approx(16)


def test_style_objective_uses_the_beta_prior():
    x = np.random.default_rng(2).standard_normal((1, 3, 6, 6))
    loss, dx, parts = StyleObjective(None, tv_weight=0.2, tv_beta=1.5)(x)
    ref_loss, ref_dx = tv_beta_loss(x, 0.2, 1.5)
    assert loss == parts["tv"] == ref_loss
    np.testing.assert_array_equal(dx, ref_dx)
    assert StyleObjective(None, tv_weight=0.2)(x)[0] == tv_loss(x, 0.2)[0]


def test_invert_checks_tv_beta_before_loading_anything(capsys):
    assert main(["invert", "no_such_image", "--tv-beta", "0"]) == 1
    err = capsys.readouterr().err
    assert err == "npnet invert: error: --tv-beta must be a finite number > 0; got 0.0\n"


def test_feature_inversion_records_the_beta_prior_of_its_result(model):
    x = np.random.default_rng(3).uniform(-1, 1, (1, 3, 40, 40)).astype(np.float32)
    result = feature_inversion(x, content_layer=1, tv_weight=0.5, tv_beta=1.0, num_iterations=3, model=model,
                               progress=False)
    # the last recorded prior is that of the returned image, so a beta dropped on the way would show here
    assert result.losses["tv"][-1] == pytest.approx(tv_beta_loss(result.image, 0.5, 1.0)[0], rel=1e-6)
    assert result.losses["tv"][-1] != pytest.approx(tv_loss(result.image, 0.5)[0], rel=1e-2)


def test_invert_cli_with_tv_beta(tmp_path, weights_path, capsys):
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48, 3)).astype(np.uint8)).save(tmp_path / "in.png")
    out = tmp_path / "inv.png"
    assert main(["invert", str(tmp_path / "in.png"), "--size", "48", "--layer", "1", "--tv-beta", "1.5", "--iters",
                 "2", "--quiet", "--weights", str(weights_path), "-o", str(out)]) == 0
    assert "content loss" in capsys.readouterr().out and out.is_file()
