"""SqueezeNet 1.1 against PyTorch reference numbers (tests/data/squeezenet_reference.npz, see README there)."""
from pathlib import Path

import numpy as np
import pytest

from gradcheck import check_backward, grad_check_sparse, rel_error
from npnet.image import MIN_SIDE, SQUEEZENET_MEAN, SQUEEZENET_STD, center_crop, load_image, preprocess
from npnet.layers import relu_mode
from npnet.models import SqueezeNet, extract_features, squeezenet1_0

REF = np.load(Path(__file__).parent / "data" / "squeezenet_reference.npz")

# torchvision's state_dict keys of squeezenet1_1, in order (52 arrays).
TORCHVISION_KEYS = (["features.0.weight", "features.0.bias"]
                    + [f"features.{i}.{conv}.{p}" for i in (3, 4, 6, 7, 9, 10, 11, 12)
                       for conv in ("squeeze", "expand1x1", "expand3x3") for p in ("weight", "bias")]
                    + ["classifier.1.weight", "classifier.1.bias"])


def norm_rel(a, ref):
    """Largest deviation relative to the reference's largest magnitude (robust to near-zero entries)."""
    return float(np.max(np.abs(a - ref)) / np.max(np.abs(ref)))




@pytest.fixture(scope="module")
def sample(imagenet_val):
    """The 25 images through npnet's float32 preprocessing, and (for float64 checks) through the same
    formula in float64, as the reference did: float32 input rounding alone moves logits by ~1e-6."""
    X, y, _ = imagenet_val
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    assert np.allclose(mean, SQUEEZENET_MEAN) and np.allclose(std, SQUEEZENET_STD)
    x64 = (X / 255.0 - mean) / std
    return np.concatenate([preprocess(img) for img in X]), x64.transpose(0, 3, 1, 2), y


def test_structure_names_and_shapes_follow_torchvision():
    net = SqueezeNet(dtype=np.float32)
    assert list(net.state_dict()) == TORCHVISION_KEYS
    assert sum(v.size for v in net.state_dict().values()) == 1_235_496
    feats = extract_features(np.zeros((1, 3, 224, 224), np.float32), net)
    channels = [64, 64, 64, 128, 128, 128, 256, 256, 256, 384, 384, 512, 512]
    sizes = [111, 111, 55, 55, 55, 27, 27, 27, 13, 13, 13, 13, 13]
    assert [f.shape for f in feats] == [(1, c, s, s) for c, s in zip(channels, sizes)]
    assert SqueezeNet("1_0").state_dict()["features.0.weight"].shape == (96, 3, 7, 7)


def test_pretrained_model_is_frozen_and_in_inference_mode(model):
    assert not model.training and not any(m.requires_grad for _, m in model.named_modules())
    assert model.dtype == np.float32


def test_logits_equal_pytorch_on_the_imagenet_sample(model, model64, sample):
    X, X64, y = sample
    ref = REF["logits64"]
    logits = model.forward(X)
    assert logits.dtype == np.float32
    assert norm_rel(logits, ref) < 1e-4
    assert rel_error(model64.forward(X64), ref) < 1e-12  # measured 3e-15
    assert np.array_equal(logits.argmax(1), ref.argmax(1))


def test_logits_equal_pytorch_on_a_photo_with_torchvision_preprocessing(model, data_file):
    img = center_crop(load_image(data_file("images/grace_hopper.jpg"), size=256), 224)
    scores = model.forward(preprocess(img))[0]
    assert norm_rel(scores, REF["grace_logits64"]) < 1e-4
    assert list(np.argsort(-scores)[:5]) == [457, 834, 667, 906, 652]  # bow tie, suit, mortarboard, ...


def test_input_gradient_of_a_class_score_equals_pytorch(model, model64, sample):
    X, X64, _ = sample
    for i, label, ref in zip(REF["grad_images"], REF["grad_labels"], REF["grads"]):
        # Image 5 holds a max-pool near-tie that float32 rounding flips (PyTorch's own float32 gradient
        # differs from its float64 one by 3e-2 there), so float32 is compared on the other two only.
        nets = ((model64, X64, 1e-5),) if i == 5 else ((model64, X64, 1e-5), (model, X, 1e-4))
        for net, x, tol in nets:
            scores = net.forward(x[i:i + 1])
            dscores = np.zeros_like(scores)
            dscores[0, label] = 1
            dx = net.backward(dscores)[0]
            err = rel_error(dx, ref) if net is model64 else norm_rel(dx, ref)
            assert err < tol, (i, net.dtype, err)


def test_whole_network_gradient_check_in_float64(model64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 40, 40))
    scores = model64.forward(x)
    dscores = rng.standard_normal(scores.shape)
    dx = model64.backward(dscores)
    assert check_backward(lambda z: model64.forward(z), [x], dscores, [dx], num_directions=3) < 1e-6
    errors = grad_check_sparse(lambda z: float(np.sum(model64.forward(z) * dscores)), x.copy(), dx,
                               num_checks=10, seed=1, verbose=False)
    assert max(errors) < 1e-6


def test_guided_backward_keeps_only_positive_influence(model, sample):
    X, _, y = sample
    x = X[:1]
    scores = model.forward(x)
    dscores = np.zeros_like(scores)
    dscores[0, y[0]] = 1
    plain = model.backward(dscores)
    with relu_mode("guided"):
        guided = model.backward(dscores)
    assert rel_error(guided, plain) > 0.1
    # A guided map of a ReLU net with non-negative upstream gradient differs from the gradient only
    # where negative gradients were cut; the first conv then spreads them, so check a property that
    # must hold at the first ReLU: the gradient reaching it is non-negative.
    with relu_mode("guided"):
        g = model.classifier.backward(dscores.reshape(1, -1, 1, 1))
        g = model.features.backward(g, 1)
    assert g.min() >= 0


def test_forward_and_backward_over_a_subrange_of_features(model, sample):
    X, _, _ = sample
    x = X[:1]
    feats = extract_features(x, model)
    assert np.array_equal(model.features.forward(feats[4], 5, 8), feats[7])
    g = np.ones_like(feats[7])
    d_full = model.features.backward(g, 0, 8)
    model.features.forward(x, 0, 8)
    assert np.array_equal(model.features.backward(model.features.backward(g, 5, 8), 0, 5), d_full)


def test_min_input_size_and_bad_inputs():
    net = SqueezeNet()
    assert net.min_size == 17 == MIN_SIDE  # conv 3/2 -> 8, pools (ceil) -> 4 -> 2 -> 1, as in PyTorch
    net.forward(np.zeros((1, 3, 17, 17), np.float32))
    with pytest.raises(ValueError, match=r"SqueezeNet.forward: X must have shape \(N, 3, H, W\) with H, W >= 17"):
        net.forward(np.zeros((1, 3, 16, 40), np.float32))
    with pytest.raises(ValueError, match="must have 4 dims"):
        net.forward(np.zeros((3, 32, 32), np.float32))
    with pytest.raises(ValueError, match=r"got \(1, 1, 32, 32\)"):
        net.forward(np.zeros((1, 1, 32, 32), np.float32))
    with pytest.raises(TypeError, match="floating-point"):
        net.forward(np.zeros((1, 3, 32, 32), np.uint8))
    net.forward(np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(ValueError, match=r"dscores must have the shape of the scores \(2, 1000\)"):
        net.backward(np.zeros((1, 1000)))
    with pytest.raises(TypeError, match=r"SqueezeNet.backward: dscores must be a floating-point array.*int64"):
        net.backward(np.zeros((2, 1000), np.int64))


def test_missing_weights_give_one_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("NPNET_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("NPNET_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError) as err:
        squeezenet1_0()
    assert "squeezenet1_0.npz" in str(err.value) and str(tmp_path) in str(err.value)
