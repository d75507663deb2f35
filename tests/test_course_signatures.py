"""The course notebooks' calls work with only their import lines changed (issue 13 §4): each call is
written here as the notebook writes it."""
import numpy as np
import pytest

from gradcheck import rel_error
from npnet.image import deprocess, preprocess, rescale
from npnet.models import SqueezeNet, extract_features, features_from_img
from npnet.style import content_loss, style_loss, tv_loss
from npnet.vis import create_class_visualization, make_fool_image, make_fooling_image


def test_rel_error_compares_a_length_1_answer_with_a_0d_result():
    assert rel_error(np.array([2.0]), np.float64(2.0)) == 0.0
    assert rel_error(np.array([1.0]), np.array(1.1)) == pytest.approx(0.1 / 2.1)
    assert rel_error(np.ones((3, 1)), np.ones(3)) == 0.0
    with pytest.raises(ValueError, match=r"rel_error: x and y must have the same shape; got \(3, 1\) and \(3, 2\)"):
        rel_error(np.ones((3, 1)), np.ones((3, 2)))  # broadcasting would compare 6 pairs and pass


def test_extract_features_accepts_model_features_as_the_course_passes_it():
    net = SqueezeNet(dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((1, 3, 40, 40))
    from_model = extract_features(x, net)
    from_features = extract_features(x, net.features)  # the course: extract_features(x, cnn), cnn = model.features
    assert len(from_model) == len(from_features) == 13
    for a, b in zip(from_model, from_features):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="extract_features: model must be a SqueezeNet or its .features"):
        extract_features(x, "cnn")


def test_features_from_img(tmp_path):
    from npnet.image import save_image

    save_image(tmp_path / "a.png", np.full((30, 45, 3), 120, np.uint8))
    net = SqueezeNet(dtype=np.float32)
    feats, img = features_from_img(tmp_path / "a.png", 20, net.features)
    assert img.shape == (1, 3, 20, 30) and img.dtype == np.float32
    np.testing.assert_array_equal(feats[3], extract_features(img, net)[3])


def test_preprocess_defaults_to_224_and_deprocess_takes_should_rescale():
    img = np.random.default_rng(0).integers(0, 256, (300, 250, 3), dtype=np.uint8)
    x = preprocess(img)
    assert x.shape == (1, 3, 268, 224)
    plain = deprocess(x)
    stretched = deprocess(x, should_rescale=True)
    assert stretched.min() == 0 and stretched.max() == 255
    assert plain.min() > 0 or plain.max() < 255 or not np.array_equal(plain, stretched)
    np.testing.assert_allclose(rescale(np.array([-1.0, 0.0, 3.0])), [0.0, 0.25, 1.0])


def test_losses_return_loss_and_gradient():
    rng = np.random.default_rng(0)
    F, P = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((1, 2, 3, 3))
    loss, grad = content_loss(0.5, F, P)  # the course: loss = content_loss(...); here loss, _ = ...
    assert loss == pytest.approx(0.5 * np.sum((F - P) ** 2)) and grad.shape == F.shape
    assert isinstance(style_loss([F], [0], [np.zeros((1, 2, 2))], [1.0]), tuple)
    assert isinstance(tv_loss(F, 1.0), tuple)


class _Tiny:
    """A two-class linear 'network' on 8x8 images: score_c = sum(W_c * X)."""
    num_classes, dtype = 2, np.dtype(np.float32)

    def __init__(self):
        self.W = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)

    def check_input(self, fn, X):
        return X

    def forward(self, X):
        self.X = X
        return np.einsum("nchw,kchw->nk", X, self.W)

    def backward(self, dscores):
        return np.einsum("nk,kchw->nchw", dscores, self.W).astype(self.X.dtype)


def test_create_class_visualization_takes_dtype_third():
    net = _Tiny()
    kw = dict(num_iterations=3, max_jitter=1, image_size=8, seed=0)
    img = create_class_visualization(1, net, np.float64, **kw)  # the course: (target_y, model, dtype, **kwargs)
    assert img.dtype == np.float64 and img.shape == (1, 3, 8, 8)
    assert create_class_visualization(1, net, **kw).dtype == np.float32
    with pytest.raises(TypeError, match="create_class_visualization: dtype must be float32 or float64"):
        create_class_visualization(1, net, "torch.FloatTensor", **kw)
    with pytest.raises(TypeError):
        create_class_visualization(1, net, np.float32, 1e-3)  # l2_reg is keyword-only, so no silent misbinding


def test_make_fool_image_is_the_seed_notebooks_name():
    assert make_fool_image is make_fooling_image
