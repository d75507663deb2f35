"""SimCLR: the loss against loops, hand values and numerical gradients; the augmentations; a short run."""
import numpy as np
import pytest

from npnet.errors import NpnetValueError
from npnet.models import simclr as S
from gradcheck.registry import CHECKS, load_all, run_check


def test_sim_hand_values():
    assert np.isclose(S.sim(np.array([1.0, 0.0]), np.array([1.0, 1.0])), 1 / np.sqrt(2))
    assert np.isclose(S.sim(np.array([2.0, 0.0]), np.array([-3.0, 0.0])), -1)


def test_one_pair_has_zero_loss_and_orthogonal_pairs_a_hand_value():
    rng = np.random.default_rng(0)
    left, right = rng.standard_normal((1, 3)), rng.standard_normal((1, 3))
    # N = 1: the only other row is the positive, so the softmax is 1 whatever the similarity.
    assert np.isclose(S.simclr_loss_vectorized(left, right, 0.5)[0], 0)
    # N = 2, each view equal to its partner, the two images orthogonal: per row
    # -log(e^(1/tau) / (e^(1/tau) + 2 e^0)).
    left = np.array([[1.0, 0.0], [0.0, 1.0]])
    tau = 0.5
    expected = -np.log(np.exp(1 / tau) / (np.exp(1 / tau) + 2))
    assert np.isclose(S.simclr_loss_naive(left, left.copy(), tau), expected)
    assert np.isclose(S.simclr_loss_vectorized(left, left.copy(), tau)[0], expected)


@pytest.mark.parametrize("n, d, tau", [(2, 3, 1.0), (5, 4, 0.5), (8, 16, 0.1)])
def test_vectorized_equals_naive(n, d, tau):
    rng = np.random.default_rng(n)
    left, right = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    assert np.isclose(S.simclr_loss_vectorized(left, right, tau)[0], S.simclr_loss_naive(left, right, tau), rtol=1e-12)


def test_similarity_helpers_match_sim():
    rng = np.random.default_rng(1)
    left, right = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    out = np.concatenate([left, right])
    matrix = S.compute_sim_matrix(out)
    assert np.allclose(matrix, [[S.sim(a, b) for b in out] for a in out])
    assert np.allclose(S.sim_positive_pairs(left, right)[:, 0], [S.sim(a, b) for a, b in zip(left, right)])


def test_gradient_check_passes_and_fails_on_a_broken_backward(monkeypatch):
    load_all()
    assert run_check(CHECKS["simclr.loss"]) < 1e-6
    real = S.simclr_loss_vectorized

    def without_temperature(left, right, tau):
        # the gradient without the chain rule's 1/tau (a common slip)
        loss, dleft, dright = real(left, right, tau)
        return loss, dleft * tau, dright * tau

    import gradcheck.cases_simclr as cases
    monkeypatch.setattr(cases, "simclr_loss_vectorized", without_temperature)
    assert run_check(CHECKS["simclr.loss"]) > 1e-3


def test_aligned_views_give_a_lower_loss():
    rng = np.random.default_rng(2)
    left = rng.standard_normal((16, 8))
    aligned = S.simclr_loss_vectorized(left, left + 0.01 * rng.standard_normal(left.shape), 0.5)[0]
    unrelated = S.simclr_loss_vectorized(left, rng.standard_normal(left.shape), 0.5)[0]
    assert aligned < unrelated - 1


def test_bad_inputs_are_named():
    with pytest.raises(NpnetValueError, match="simclr_loss_vectorized: out_right must have shape"):
        S.simclr_loss_vectorized(np.ones((2, 3)), np.ones((3, 3)), 0.5)
    with pytest.raises(NpnetValueError, match="nonzero norm"):
        S.simclr_loss_vectorized(np.ones((2, 3)), np.zeros((2, 3)), 0.5)
    with pytest.raises(NpnetValueError, match="tau"):
        S.simclr_loss_naive(np.ones((2, 3)), np.ones((2, 3)), 0.0)


def _digits(n=4):
    x = np.zeros((n, 1, 28, 28), np.float32)
    x[:, :, 8:20, 12:16] = 1  # a bar, like a "1"
    return x


def test_identity_augmentations_leave_images_alone():
    rng = np.random.default_rng(3)
    x = _digits()
    assert np.allclose(S.random_affine(x, rng, max_rotation=0, scale=(1, 1), max_shift=0), x, atol=1e-6)
    assert np.allclose(S.random_crop_resize(x, rng, scale=(1, 1)), x, atol=1e-6)
    assert np.array_equal(S.add_noise(x, rng, std=0), x)


def test_augmentations_change_images_within_range():
    rng = np.random.default_rng(4)
    x = _digits()
    views = S.augment(x, rng), S.augment(x, rng)
    for v in views:
        assert v.shape == x.shape and v.dtype == x.dtype and v.min() >= 0 and v.max() <= 1
    assert not np.allclose(views[0], views[1])


def test_a_short_pretraining_lowers_the_loss():
    rng = np.random.default_rng(5)
    # two kinds of image: bars at different places, so the views of one image are closer than others
    x = np.zeros((32, 1, 28, 28), np.float32)
    for i in range(32):
        r, c = rng.integers(4, 20, size=2)
        x[i, 0, r:r + 6, c:c + 6] = 1
    model = S.SimCLR(feature_dim=16, projection_dim=8, tau=0.5, rng=0)
    history = model.fit(x, epochs=6, batch_size=16, learning_rate=3e-3)
    assert len(history) == 12
    assert np.mean(history[-3:]) < np.mean(history[:3]) - 0.1
    features = S.extract_features(model.encoder, x)
    assert features.shape == (32, 16)


def test_linear_probe_on_separable_features():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 3, 300)
    centres = 3 * rng.standard_normal((3, 5))
    feats = (centres[y] + rng.standard_normal((300, 5))).astype(np.float32)
    acc = S.train_linear_probe(feats[:200], y[:200], feats[200:], y[200:], epochs=30, rng=0)
    assert acc > 0.9
    assert S.train_linear_probe(rng.standard_normal((200, 5)), y[:200], rng.standard_normal((100, 5)), y[200:],
                                epochs=30, rng=0) < 0.6


def test_loss_and_gradient_match_pytorch_autograd():
    """tests/data/simclr_reference.npz: the course's loss by PyTorch (make_simclr_reference.py)."""
    import os
    path = os.path.join(os.path.dirname(__file__), "data", "simclr_reference.npz")
    if not os.path.isfile(path):
        pytest.skip("tests/data/simclr_reference.npz is not here (a student release)")
    ref = np.load(path)
    for case in range(3):
        left, right, tau = ref[f"case{case}_left"], ref[f"case{case}_right"], float(ref[f"case{case}_tau"])
        loss, dleft, dright = S.simclr_loss_vectorized(left, right, tau)
        assert np.isclose(loss, ref[f"case{case}_loss"], rtol=1e-12)
        assert np.isclose(S.simclr_loss_naive(left, right, tau), ref[f"case{case}_loss"], rtol=1e-12)
        assert np.allclose(dleft, ref[f"case{case}_dleft"], rtol=1e-10, atol=1e-14)
        assert np.allclose(dright, ref[f"case{case}_dright"], rtol=1e-10, atol=1e-14)


def test_the_notebooks_sanity_checks():
    """The notebook's key file values (tests/data/simclr_reference.npz, notebook_*), to its tolerances."""
    import os
    from gradcheck.numeric import rel_error
    path = os.path.join(os.path.dirname(__file__), "data", "simclr_reference.npz")
    if not os.path.isfile(path):
        pytest.skip("tests/data/simclr_reference.npz is not here (a student release)")
    ref = np.load(path)
    left, right = ref["notebook_left"].astype(np.float64), ref["notebook_right"].astype(np.float64)
    for i in range(2):
        assert rel_error(ref["notebook_sim"][i, 0], S.sim(left[i], right[i])) < 1e-7
    assert rel_error(ref["notebook_sim"].ravel(), np.ravel(S.sim_positive_pairs(left, right))) < 1e-7
    # the notebook's torch.isclose defaults
    assert np.isclose(S.compute_sim_matrix(np.concatenate([left, right])), ref["notebook_sim_matrix"],
                      rtol=1e-5, atol=1e-8).all()
    for tau in (5, 1):
        expected = float(ref[f"notebook_loss_tau{tau}"])
        assert rel_error(expected, S.simclr_loss_naive(left, right, float(tau))) < 1e-7
        assert rel_error(expected, S.simclr_loss_vectorized(left, right, float(tau))[0]) < 1e-7


def test_cli_train_then_probe(tmp_path, capsys):
    from conftest import require_data
    from npnet.cli import main
    require_data("mnist/mnist_5k.npz")
    assert main(["simclr", "train", "--epochs", "1", "--batch-size", "1000", "-o", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "simclr_encoder.npz").is_file() and (tmp_path / "simclr_loss.png").is_file()
    assert main(["simclr", "probe", "--labels", "0.05", "-o", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    accuracies = [float(line.rsplit(" ", 1)[1]) for line in printed.splitlines() if "test accuracy" in line]
    assert len(accuracies) == 2 and all(0.3 < a <= 1 for a in accuracies)
    assert main(["simclr", "probe", "-o", str(tmp_path / "none")]) == 1
    assert main(["simclr", "train", "--tau", "0", "-o", str(tmp_path)]) == 1
