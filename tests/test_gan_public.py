"""The ``gans`` assignment's public tests (shipped by ``npnet course release gans``): the losses against
the course's check file and by hand, the networks' parameter counts, state_dict names and shapes, and the
noise. Nothing here shows how a loss, a network or the training step is written."""
import numpy as np
import pytest

from conftest import require_data
from gradcheck import rel_error
from npnet.models import gan


def test_losses_reproduce_the_course_check_file():
    checks = np.load(require_data("checks/gan-checks.npz"))
    real, fake = checks["logits_real"], checks["logits_fake"]
    assert rel_error(checks["d_loss_true"], gan.discriminator_loss(real, fake)[0]) < 1e-8
    assert rel_error(checks["g_loss_true"], gan.generator_loss(fake)[0]) < 1e-8
    assert rel_error(checks["d_loss_lsgan_true"], gan.ls_discriminator_loss(real, fake)[0]) < 1e-8
    assert rel_error(checks["g_loss_lsgan_true"], gan.ls_generator_loss(fake)[0]) < 1e-8


def test_losses_by_hand():
    zeros, twos = np.zeros((4, 1)), np.full((4, 1), 2.0)
    loss, dreal, dfake = gan.discriminator_loss(zeros, zeros)  # sigmoid(0) = 1/2 for both
    assert loss == pytest.approx(2 * np.log(2))
    np.testing.assert_allclose(dreal, -0.5 / 4)
    np.testing.assert_allclose(dfake, 0.5 / 4)
    loss, dfake = gan.generator_loss(twos)
    assert loss == pytest.approx(np.log1p(np.exp(-2.0)))
    np.testing.assert_allclose(dfake, (1 / (1 + np.exp(-2.0)) - 1) / 4)
    loss, dreal, dfake = gan.ls_discriminator_loss(twos, twos)  # 0.5 * 1 + 0.5 * 4
    assert loss == pytest.approx(2.5)
    np.testing.assert_allclose(dreal, 1 / 4)
    np.testing.assert_allclose(dfake, 2 / 4)
    loss, dfake = gan.ls_generator_loss(zeros)
    assert loss == pytest.approx(0.5)
    np.testing.assert_allclose(dfake, -1 / 4)


def test_parameter_counts_and_names_match_the_course():
    assert gan.count_params(gan.discriminator()) == 267009
    assert gan.count_params(gan.generator(4)) == 1858320
    assert gan.count_params(gan.dc_discriminator()) == 1102721
    assert gan.count_params(gan.dc_generator(4)) == 6580801
    # PyTorch state_dict names of the same nn.Sequential models (buffers included for batch norm)
    assert list(gan.discriminator().state_dict()) == [f"{i}.{p}" for i in (1, 3, 5) for p in ("weight", "bias")]
    g = gan.dc_generator().state_dict()
    assert [k for k in g if k.startswith("2.")] == ["2.weight", "2.bias", "2.running_mean", "2.running_var",
                                                     "2.num_batches_tracked"]
    assert g["7.weight"].shape == (128, 64, 4, 4) and g["10.weight"].shape == (64, 1, 4, 4)


@pytest.mark.parametrize("make_d, make_g", [(gan.discriminator, gan.generator),
                                            (gan.dc_discriminator, gan.dc_generator)])
def test_shapes_and_ranges(make_d, make_g):
    G = make_g(seed=0).train()
    images = gan.generate(G, gan.sample_noise(3, gan.NOISE_DIM, seed=0))
    assert images.shape == (3, 784) and images.dtype == np.float32 and np.abs(images).max() < 1
    assert make_d(seed=0).forward(images).shape == (3, 1)


def test_sample_noise():
    z = gan.sample_noise(2000, 5, seed=3)
    assert z.shape == (2000, 5) and z.dtype == np.float32
    assert -1 <= z.min() < -0.99 and 0.99 < z.max() <= 1
    np.testing.assert_array_equal(z, gan.sample_noise(2000, 5, seed=3))
