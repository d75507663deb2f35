"""Closed-form checks of the gradient maps on a tiny hand-built conv net (the Captum style of test).

The net: features = [Conv2d(3 -> 2, kernel 2, stride 2), ReLU], classifier = [Conv2d(2 -> 2, 1x1),
global average pool], on one 3x4x4 image whose 2x2 blocks are constant. Every expected value below
is worked out by hand in the comments; no map is computed by npnet to check npnet.
"""
import numpy as np
import pytest

from npnet import _check
from npnet.nn import Conv2d, GlobalAvgPool2d, Module, ReLU, Sequential
from npnet.vis import (compute_saliency_maps, grad_cam, grad_cam_plus_plus, guided_backprop, guided_grad_cam,
                       integrated_gradients, integration_nodes, occlusion, resize_bilinear, smoothgrad)

# conv 1: weight[k, c] is w[k][c] on all four kernel taps, so z[k, i, j] = sum_c w[k][c] * (block sum of
# channel c at block (i, j)) + b[k]; the block sum is 4 * B[c, i, j].
W1 = np.array([[1.0, 0.0, -1.0], [0.0, 2.0, 1.0]])
B1 = np.array([0.0, -1.0])
V = np.array([[1.0, -1.0], [2.0, 1.0]])  # classifier 1x1 conv: s_c = mean_ij sum_k V[c, k] A[k, i, j]
BLOCKS = np.array([[[1.0, -1.0], [0.5, 2.0]],
                   [[0.0, 1.0], [-1.0, 0.5]],
                   [[0.5, 0.5], [1.0, -1.0]]])
# z0 = 4 (B0 - B2)       = [[2, -6], [-2, 12]]  -> A0 = [[2, 0], [0, 12]], gate0 = [[1, 0], [0, 1]]
# z1 = 4 (2 B1 + B2) - 1 = [[1, 9], [-5, -1]]   -> A1 = [[1, 9], [0, 0]],  gate1 = [[1, 1], [0, 0]]
# s0 = (sum A0 - sum A1) / 4 = (14 - 10) / 4 = 1;  s1 = (2 * 14 + 10) / 4 = 9.5


def up2(blocks):
    """(..., 2, 2) block values -> (..., 4, 4) image with constant 2x2 blocks."""
    return np.repeat(np.repeat(blocks, 2, axis=-2), 2, axis=-1)


class TinyNet(Module):
    """Implements the interface npnet.vis needs (the SqueezeNet one) on the hand-built net."""

    num_classes = 2
    min_size = 2

    def __init__(self):
        super().__init__()
        conv1 = Conv2d(3, 2, 2, stride=2, dtype=np.float64)
        conv1.params["weight"] = np.repeat(np.repeat(W1[:, :, None, None], 2, axis=2), 2, axis=3)
        conv1.params["bias"] = B1.copy()
        conv2 = Conv2d(2, 2, 1, dtype=np.float64)
        conv2.params["weight"] = V[:, :, None, None].copy()
        conv2.params["bias"] = np.zeros(2)
        self.features = Sequential(conv1, ReLU())
        self.classifier = Sequential(conv2, GlobalAvgPool2d())
        self.requires_grad_(False)

    dtype = np.dtype(np.float64)

    def check_input(self, fn, X):
        X = _check.float_array(fn, "X", X, ndim=4, layout="(N, 3, H, W)")
        _check.shape(fn, "X", X, (None, 3, None, None))
        return X

    def forward(self, X):
        return self.classifier.forward(self.features.forward(X)).reshape(len(X), 2)

    def backward(self, dscores):
        return self.features.backward(self.classifier.backward(dscores.reshape(-1, 2, 1, 1)))


@pytest.fixture
def tiny():
    return TinyNet(), up2(BLOCKS)[None], np.array([0])


def test_tiny_net_scores(tiny):
    model, X, _ = tiny
    np.testing.assert_allclose(model.forward(X), [[1.0, 9.5]])


def test_saliency_by_hand(tiny):
    model, X, y = tiny
    # d s0 / d x[c] on block (i, j) = (gate0 * w[0][c] - gate1 * w[1][c]) / 4 (V[0] = [1, -1], the 1/4
    # of the average pool; each pixel of a block enters its z once):
    # (0,0) both open: [1, -2, -2] / 4 -> max |.| 0.5;  (0,1) only gate1: [0, -2, -1] / 4 -> 0.5
    # (1,0) none: 0;  (1,1) only gate0: [1, 0, -1] / 4 -> 0.25
    expected = up2(np.array([[0.5, 0.5], [0.0, 0.25]]))[None]
    np.testing.assert_allclose(compute_saliency_maps(X, y, model), expected, rtol=0, atol=1e-15)
    # No noise: SmoothGrad is the saliency map whatever the number of samples.
    np.testing.assert_allclose(smoothgrad(X, y, model, n_samples=3, noise_level=0.0), expected, atol=1e-15)


def test_guided_backprop_by_hand(tiny):
    model, X, y = tiny
    # Into the ReLU arrive V[0, k] / 4 = +0.25 (k=0) and -0.25 (k=1): the guided rule drops channel 1
    # everywhere and keeps channel 0 where z0 > 0, so dx[c] = 0.25 * gate0 * w[0][c].
    expected = np.stack([up2(0.25 * w * np.array([[1.0, 0.0], [0.0, 1.0]])) for w in W1[0]])[None]
    np.testing.assert_allclose(guided_backprop(X, y, model), expected, atol=1e-15)


# Bilinear 2 -> 4 (half-pixel centres): output i samples input position (i + 0.5) / 2 - 0.5, clamped:
# 0, 0.25, 0.75, 1 -> weight rows [1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1].
R = np.array([[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]])


def test_resize_bilinear_by_hand():
    cam = np.array([[[0.25, 0.0], [0.0, 3.0]]])
    expected = np.array([[0.25, 0.1875, 0.0625, 0.0],
                         [0.1875, 0.328125, 0.609375, 0.75],
                         [0.0625, 0.609375, 1.703125, 2.25],
                         [0.0, 0.75, 2.25, 3.0]])
    np.testing.assert_allclose(resize_bilinear(cam, (4, 4))[0], expected, atol=1e-15)
    np.testing.assert_allclose(expected, R @ cam[0] @ R.T, atol=1e-15)
    # Same size: the identity.
    np.testing.assert_allclose(resize_bilinear(cam, (2, 2)), cam)


def test_grad_cam_by_hand(tiny):
    model, X, y = tiny
    # Layer 1 (after the ReLU): dS/dA_k = V[0, k] / 4 everywhere -> alpha = [0.25, -0.25];
    # cam = ReLU(0.25 A0 - 0.25 A1) = ReLU([[0.5 - 0.25, -2.25], [0, 3]]) = [[0.25, 0], [0, 3]].
    low = np.array([[0.25, 0.0], [0.0, 3.0]])
    np.testing.assert_allclose(grad_cam(X, y, model, layer=1, upsample=False)[0], low, atol=1e-15)
    np.testing.assert_allclose(grad_cam(X, y, model, layer=1)[0], R @ low @ R.T, atol=1e-15)
    # Layer 0 (the conv output z): the gradient is V[0, k] / 4 through the gates, so
    # alpha0 = mean(0.25 * gate0) = 0.125, alpha1 = mean(-0.25 * gate1) = -0.125, and
    # cam = ReLU(0.125 (z0 - z1)) = ReLU(0.125 * [[1, -15], [3, 13]]).
    np.testing.assert_allclose(grad_cam(X, y, model, layer=0, upsample=False)[0],
                               [[0.125, 0.0], [0.375, 1.625]], atol=1e-15)
    # Guided Grad-CAM: the guided gradient times the upsampled map.
    gbp = np.stack([up2(0.25 * w * np.array([[1.0, 0.0], [0.0, 1.0]])) for w in W1[0]])
    np.testing.assert_allclose(guided_grad_cam(X, y, model, layer=1)[0], gbp * (R @ low @ R.T), atol=1e-15)


def test_grad_cam_plus_plus_by_hand(tiny):
    model, X, y = tiny
    # g = +0.25 on channel 0, -0.25 on channel 1; sum A0 = 14. Channel 0: alpha = g^2 / (2 g^2 + 14 g^3)
    # = 1 / (2 + 14 * 0.25) = 2 / 11 at each of 4 positions, weight = 4 * (2 / 11) * 0.25 = 2 / 11;
    # channel 1 has no positive gradient: weight 0. cam = (2 / 11) * A0.
    expected = (2 / 11) * np.array([[2.0, 0.0], [0.0, 12.0]])
    np.testing.assert_allclose(grad_cam_plus_plus(X, y, model, layer=1, upsample=False)[0], expected, rtol=1e-14)


def test_occlusion_by_hand(tiny):
    model, X, y = tiny
    # Zeroing block (i, j) sets z there to the bias: z0 = 0, z1 = -1 -> A = 0, so the score loses
    # that block's (A0 - A1) / 4: (0,0) (2 - 1) / 4, (0,1) (0 - 9) / 4, (1,0) 0, (1,1) 12 / 4.
    expected = np.array([[0.25, -2.25], [0.0, 3.0]])
    np.testing.assert_allclose(occlusion(X, y, model, window=2, stride=2)[0], expected, atol=1e-14)


def test_integrated_gradients_on_linear_region(tiny):
    model, _, y = tiny
    # Baseline and image both with every gate open -> the path stays in one linear region, so IG is
    # exactly (x - b) * gradient and completeness holds to rounding for any rule.
    X = up2(np.array([[[1.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]]))[None]
    base = 0.5 * X
    # z0 = 4 (B0 - B2) = 4 > 0 and z1 = 4 (2 B1 + B2) - 1 = 7 > 0 at x; 2 and 3 at the baseline.
    grad = np.stack([np.full((4, 4), (W1[0, c] - W1[1, c]) / 4) for c in range(3)])[None]
    for method in ("trapezoid", "right", "middle", "gausslegendre"):
        attr, delta = integrated_gradients(X, y, model, baseline=base, steps=3, method=method)
        np.testing.assert_allclose(attr, (X - base) * grad, atol=1e-14)
        assert abs(delta[0]) < 1e-13


def test_integration_nodes():
    a, w = integration_nodes(5, "trapezoid")
    np.testing.assert_allclose(a, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(w, [0.125, 0.25, 0.25, 0.25, 0.125])
    a, w = integration_nodes(4, "right")
    np.testing.assert_allclose(a, [0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(w, 0.25)
    a, w = integration_nodes(2, "middle")
    np.testing.assert_allclose(a, [0.25, 0.75])
    # Two-point Gauss-Legendre on [0, 1]: 1/2 -+ 1/(2 sqrt 3), equal weights; exact for cubics.
    a, w = integration_nodes(2)  # Gauss-Legendre is the default
    np.testing.assert_allclose(a, [0.5 - 0.5 / np.sqrt(3), 0.5 + 0.5 / np.sqrt(3)])
    assert np.isclose(np.sum(w * a ** 3), 0.25)
