"""The batched passes of SmoothGrad, integrated gradients and occlusion give what their definitions give
computed one image at a time, whatever the chunk size (including chunks that straddle images and sizes
that do not divide the work), on the hand-built float64 net of test_vis_closed_form."""
import numpy as np
import pytest

from npnet.vis import integrated_gradients, integration_nodes, occlusion, smoothgrad
from npnet.vis.saliency import CHUNK_PIXELS, chunk_size
from test_vis_closed_form import BLOCKS, TinyNet, up2


@pytest.fixture
def three():
    """The tiny net and three different 4x4 images (N=3) with their classes."""
    rng = np.random.default_rng(5)
    X = np.concatenate([up2(BLOCKS)[None], rng.standard_normal((2, 3, 4, 4))])
    return TinyNet(), X, np.array([0, 1, 1])


def _gradient(model, x, y):
    """d s_y / d x for one image (1, 3, H, W), straight from forward and backward."""
    scores = model.forward(x)
    d = np.zeros_like(scores)
    d[0, y] = 1
    return model.backward(d)


def test_smoothgrad_equals_the_sample_by_sample_definition(three):
    model, X, y = three
    n_samples, level = 5, 0.3
    # the docstring's definition: draw k is rng.standard_normal(X.shape), scaled per image
    rng = np.random.default_rng(7)
    sigma = level * (X.max(axis=(1, 2, 3)) - X.min(axis=(1, 2, 3)))
    expected = np.zeros((3, 4, 4))
    for _ in range(n_samples):
        noisy = X + rng.standard_normal(X.shape) * sigma[:, None, None, None]
        for i in range(3):
            expected[i] += np.abs(_gradient(model, noisy[i:i + 1], y[i])[0]).max(axis=0)
    expected /= n_samples
    for batch_size in (1, 2, 3, 7, 100, None):  # 7: two whole samples (6 images) per pass, then the rest
        got = smoothgrad(X, y, model, n_samples=n_samples, noise_level=level, seed=7, batch_size=batch_size)
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    assert not np.allclose(expected, smoothgrad(X, y, model, n_samples=n_samples, noise_level=level, seed=8))


def test_integrated_gradients_equal_the_image_by_image_quadrature(three):
    model, X, y = three
    steps = 6
    alphas, weights = integration_nodes(steps)
    expected = np.zeros_like(X)
    for i in range(3):
        for a, w in zip(alphas, weights):
            expected[i] += w * _gradient(model, a * X[i:i + 1], y[i])[0]
    expected *= X
    for batch_size in (1, 4, 5, 18, None):  # 4 and 5 straddle images (6 steps each)
        attr, delta = integrated_gradients(X, y, model, steps=steps, batch_size=batch_size)
        np.testing.assert_allclose(attr, expected, rtol=1e-13, atol=1e-15)
        gap = np.array([model.forward(X[i:i + 1])[0, y[i]] - model.forward(0 * X[i:i + 1])[0, y[i]] for i in range(3)])
        np.testing.assert_allclose(delta, expected.sum(axis=(1, 2, 3)) - gap, rtol=1e-12, atol=1e-14)


def test_occlusion_equals_one_window_at_a_time(three):
    model, X, y = three
    expected = np.zeros((3, 3, 3))
    for i in range(3):
        base = model.forward(X[i:i + 1])[0, y[i]]
        for r in range(3):
            for c in range(3):
                Xo = X[i:i + 1].copy()
                Xo[:, :, r:r + 2, c:c + 2] = 0.5
                expected[i, r, c] = base - model.forward(Xo)[0, y[i]]
    for batch_size in (1, 4, 9, None):
        got = occlusion(X, y, model, window=2, stride=1, fill=0.5, batch_size=batch_size)
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)


def test_default_chunk_follows_the_image_size():
    assert chunk_size((1, 3, 224, 224)) == CHUNK_PIXELS // 224 ** 2
    assert chunk_size((5, 3, 112, 112)) == 4 * chunk_size((1, 3, 224, 224))
    assert chunk_size((1, 3, 5000, 5000)) == 1
