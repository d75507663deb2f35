"""Style-transfer losses: hand-computed values, naive loops, numerical gradients, the course's reference
numbers (style-transfer-checks*.npz) and argument errors."""
import numpy as np
import pytest

from conftest import require_data, require_weights
from gradcheck import eval_numerical_gradient, rel_error
from npnet.style import (content_loss, gram_matrix, gram_matrix_backward, gram_matrix_naive, style_loss, tv_loss,
                         tv_loss_naive)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _numerical(f, x):
    return eval_numerical_gradient(lambda v: f(v)[0], x.copy(), verbose=False)


# ---------------------------------------------------------------- content

def test_content_loss_hand_computed():
    F = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    P = np.array([1.0, 0.0, 5.0, 4.0]).reshape(1, 1, 2, 2)
    loss, dF = content_loss(0.5, F, P)
    assert loss == pytest.approx(0.5 * (4 + 4), rel=1e-15)
    np.testing.assert_allclose(dF, [[[[0.0, 2.0], [-2.0, 0.0]]]], rtol=1e-15)


def test_content_loss_dtype_follows_current(rng):
    F = rng.standard_normal((1, 4, 3, 3)).astype(np.float32)
    loss, dF = content_loss(1.0, F, rng.standard_normal((1, 4, 3, 3)))
    assert isinstance(loss, float) and dF.dtype == np.float32


# ---------------------------------------------------------------- gram

def test_gram_hand_computed():
    # two channels over 3 positions: G = F F^T / (C H W)
    F = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]]).reshape(1, 2, 1, 3)
    expected = np.array([[5.0, 2.0], [2.0, 10.0]])
    np.testing.assert_allclose(gram_matrix(F, normalize=False)[0], expected, rtol=1e-15)
    np.testing.assert_allclose(gram_matrix(F)[0], expected / 6, rtol=1e-15)


@pytest.mark.parametrize("normalize", [True, False])
def test_gram_fast_equals_naive(rng, normalize):
    F = rng.standard_normal((3, 5, 4, 6))
    G = gram_matrix(F, normalize)
    assert G.shape == (3, 5, 5)
    np.testing.assert_allclose(G, gram_matrix_naive(F, normalize), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(G, G.transpose(0, 2, 1), rtol=0, atol=0)


def test_gram_backward_numerical(rng):
    F = rng.standard_normal((2, 3, 2, 4))
    dG = rng.standard_normal((2, 3, 3))  # deliberately not symmetric
    dF = gram_matrix_backward(dG, F)
    numeric = eval_numerical_gradient(lambda v: np.sum(gram_matrix(v) * dG), F.copy(), verbose=False)
    assert rel_error(numeric, dF) < 1e-7


def test_gram_float32(rng):
    F = rng.standard_normal((1, 8, 5, 5)).astype(np.float32)
    assert gram_matrix(F).dtype == np.float32
    assert gram_matrix_backward(np.ones((1, 8, 8)), F).dtype == np.float32


# ---------------------------------------------------------------- style

def test_style_loss_hand_computed():
    F0 = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]]).reshape(1, 2, 1, 3)
    F1 = np.ones((1, 1, 2, 2))
    feats = [F0, np.zeros((1, 1, 1, 1)), F1]
    A0, A1 = np.zeros((1, 2, 2)), np.full((1, 1, 1), 0.5)
    loss, grads = style_loss(feats, [0, 2], [A0, A1], [2.0, 3.0])
    G0 = np.array([[5.0, 2.0], [2.0, 10.0]]) / 6
    assert loss == pytest.approx(2.0 * np.sum(G0 ** 2) + 3.0 * 0.25, rel=1e-14)
    assert len(grads) == 2 and grads[0].shape == F0.shape and grads[1].shape == F1.shape
    # G1 = sum(F1^2) / 4 = 1; dloss/dF1 = 3 * 2 (G1 - A1) * 2 F1 / 4
    np.testing.assert_allclose(grads[1], np.full((1, 1, 2, 2), 1.5), rtol=1e-14)


def test_style_loss_numerical(rng):
    feats = [rng.standard_normal((1, 3, 4, 4)), rng.standard_normal((1, 4, 3, 2))]
    targets = [gram_matrix(rng.standard_normal(f.shape)) for f in feats]
    for k in range(2):
        def f(v, k=k):
            fs = list(feats)
            fs[k] = v
            return style_loss(fs, [0, 1], targets, [5.0, 7.0])
        assert rel_error(_numerical(f, feats[k]), style_loss(feats, [0, 1], targets, [5.0, 7.0])[1][k]) < 1e-6


def test_style_loss_zero_when_targets_match(rng):
    feats = [rng.standard_normal((1, 3, 4, 4))]
    loss, grads = style_loss(feats, [0], [gram_matrix(feats[0])], [10.0])
    assert loss == 0.0 and not grads[0].any()


# ---------------------------------------------------------------- tv

def test_tv_hand_computed():
    x = np.array([[0.0, 1.0], [3.0, 5.0]]).reshape(1, 1, 2, 2)
    loss, dx = tv_loss(x, 0.5)
    # vertical diffs 3, 4; horizontal 1, 2
    assert loss == pytest.approx(0.5 * (9 + 16 + 1 + 4), rel=1e-15)
    # d/dx00 = 2w(-(3) - (1)) = -4; x01: 2w(-4 + 1) = -3; x10: 2w(3 - 2) = 1; x11: 2w(4 + 2) = 6
    np.testing.assert_allclose(dx, [[[[-4.0, -3.0], [1.0, 6.0]]]], rtol=1e-15)


def test_tv_fast_equals_naive_and_numerical(rng):
    x = rng.standard_normal((2, 3, 5, 4))
    loss, dx = tv_loss(x, 0.3)
    loss_n, dx_n = tv_loss_naive(x, 0.3)
    assert loss == pytest.approx(loss_n, rel=1e-12)
    np.testing.assert_allclose(dx, dx_n, rtol=1e-12, atol=1e-14)
    assert rel_error(_numerical(lambda v: tv_loss(v, 0.3), x), dx) < 1e-5


def test_tv_constant_image_is_zero():
    loss, dx = tv_loss(np.full((1, 3, 4, 4), 2.5, dtype=np.float32), 1.0)
    assert loss == 0.0 and dx.dtype == np.float32 and not dx.any()


# ---------------------------------------------------------------- errors

def test_style_loss_layer_out_of_range(rng):
    feats = [rng.standard_normal((1, 2, 3, 3))] * 3
    with pytest.raises(ValueError, match=r"style_loss: style_layers\[1\] = 3 is out of range for 3 feature maps"):
        style_loss(feats, [0, 3], [np.zeros((1, 2, 2))] * 2, [1.0, 1.0])


def test_style_loss_length_mismatch(rng):
    feats = [rng.standard_normal((1, 2, 3, 3))] * 3
    with pytest.raises(ValueError, match="same length .* got 2, 2 and 3"):
        style_loss(feats, [0, 1], [np.zeros((1, 2, 2))] * 2, [1.0, 1.0, 1.0])


def test_style_loss_target_shape(rng):
    feats = [rng.standard_normal((1, 2, 3, 3))]
    with pytest.raises(ValueError, match=r"style_targets\[0\].*must have shape \(1, 2, 2\); got \(1, 3, 3\)"):
        style_loss(feats, [0], [np.zeros((1, 3, 3))], [1.0])


@pytest.mark.parametrize("w", [-1.0, float("nan"), "1", True])
def test_bad_weights(rng, w):
    x = rng.standard_normal((1, 2, 3, 3))
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        tv_loss(x, w)
    with pytest.raises(ValueError, match="content_weight must be a finite number >= 0"):
        content_loss(w, x, x)


def test_shape_and_type_errors(rng):
    x = rng.standard_normal((1, 2, 3, 3))
    with pytest.raises(ValueError, match="content_loss: content_original must have the shape of content_current"):
        content_loss(1.0, x, x[:, :1])
    with pytest.raises(TypeError, match="gram_matrix: features must be a floating-point array"):
        gram_matrix(np.ones((1, 2, 3, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"gram_matrix: features must have 4 dims \(N, C, H, W\)"):
        gram_matrix(x[0])
    with pytest.raises(ValueError, match="gram_matrix_backward: dout must have the shape"):
        gram_matrix_backward(np.ones((1, 3, 3)), x)


# ---------------------------------------------------------------- course reference values

@pytest.fixture(scope="module")
def course_features():
    """Features of Tuebingen, of a zero image and of Starry Night, all at 192 px, as in the notebook."""
    require_weights()
    from npnet.image import load_image, preprocess
    from npnet.models.squeezenet import extract_features, squeezenet1_1

    model = squeezenet1_1()
    content = preprocess(load_image(require_data("styles/tubingen.jpg")), size=192)  # the course's call
    style = preprocess(load_image(require_data("styles/starry_night.jpg")), size=192)
    return {"img": content, "content": extract_features(content, model),
            "zero": extract_features(np.zeros_like(content), model), "style": extract_features(style, model)}


def _answers(name):
    return np.load(require_data(f"checks/{name}"))


def _rel(expected, value):
    return rel_error(np.ravel(expected), np.ravel(value))


# Measured (float32 npnet, the shared fp16-rounded weights): cl 7.3e-4, gm 4.3e-3, sl 3.5e-3 against
# both files; tv 1.6e-8 against the 2018 file (T.Resize, which load_image reproduces) and 4.1e-4
# against the 2017 file (T.Scale). The thresholds leave about 2.5x margin.
def test_content_loss_matches_course(course_features):
    loss, _ = content_loss(6e-2, course_features["content"][3], course_features["zero"][3])
    assert _rel(_answers("style-transfer-checks.npz")["cl_out"], loss) < 2e-3


def test_gram_matches_course(course_features):
    assert _rel(_answers("style-transfer-checks.npz")["gm_out"], gram_matrix(course_features["style"][5])) < 1e-2


def test_style_loss_matches_course(course_features):
    layers = [1, 4, 6, 7]
    targets = [gram_matrix(course_features["style"][k]) for k in layers]
    loss, grads = style_loss(course_features["content"], layers, targets, [300000, 1000, 15, 3])
    assert _rel(_answers("style-transfer-checks.npz")["sl_out"], loss) < 1e-2
    assert [g.shape for g in grads] == [course_features["content"][k].shape for k in layers]


def test_tv_loss_matches_course(course_features):
    loss, _ = tv_loss(course_features["img"], 2e-2)
    assert _rel(_answers("style-transfer-checks_2018.npz")["tv_out"], loss) < 1e-6
    assert _rel(_answers("style-transfer-checks.npz")["tv_out"], loss) < 1e-3
