"""Every map of npnet.vis against PyTorch autograd on the same weights (tests/data/vis_reference.npz,
made by tests/data/make_vis_reference.py; see tests/data/README.md).

Five sample images at 112x112 (2x2 block means of the normalised 224x224 sample, rebuilt here the
same way), the float64 network; a map matches when ``max|npnet - torch| <= 1e-4 * max|torch|``.
"""
from pathlib import Path

import numpy as np
import pytest

from npnet.vis import (compute_saliency_maps, grad_cam, grad_cam_plus_plus, guided_backprop, guided_grad_cam,
                       integrated_gradients, occlusion, smoothgrad)

REF = Path(__file__).parent / "data" / "vis_reference.npz"
TOL = 1e-4


def rel_to_max(a, ref):
    ref = np.asarray(ref, dtype=np.float64)
    assert a.shape == ref.shape
    return float(np.max(np.abs(a - ref)) / np.max(np.abs(ref)))


def normalise(X_uint8):
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    return ((X_uint8.astype(np.float64) / 255.0 - mean) / std).transpose(0, 3, 1, 2)


def halve(X):
    n, c, h, w = X.shape
    return X.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


@pytest.fixture(scope="module")
def ref():
    with np.load(REF) as f:
        return dict(f)



@pytest.fixture(scope="module")
def batch(ref, imagenet_val):
    X, y, _ = imagenet_val
    np.testing.assert_array_equal(y[ref["images"]], ref["labels"])
    X224 = normalise(X[ref["images"]])
    return X224, halve(X224), ref["labels"]


def test_saliency_and_smoothgrad(ref, model64, batch):
    _, X, y = batch
    assert rel_to_max(compute_saliency_maps(X, y, model64), ref["saliency"]) < TOL
    # The reference drew its noise with NumPy exactly as smoothgrad documents it.
    assert rel_to_max(smoothgrad(X, y, model64, n_samples=4, noise_level=0.15, seed=0), ref["smoothgrad"]) < TOL


def test_saliency_at_224_matches_squeezenet_reference(model64, imagenet_val):
    # The lead's reference stores d s_y / d x of three full-size sample images (float64, stored float32).
    with np.load(Path(__file__).parent / "data" / "squeezenet_reference.npz") as f:
        idx, labels, grads = f["grad_images"], f["grad_labels"], f["grads"]
    X, _, _ = imagenet_val
    sal = compute_saliency_maps(normalise(X[idx]), labels, model64)
    assert rel_to_max(sal, np.abs(grads.astype(np.float64)).max(axis=1)) < TOL


def test_guided_backprop_and_guided_grad_cam(ref, model64, batch):
    _, X, y = batch
    assert rel_to_max(guided_backprop(X, y, model64), ref["guided"]) < TOL
    expected = ref["guided"].astype(np.float64) * ref["cam12"][:, None]
    assert rel_to_max(guided_grad_cam(X, y, model64), expected) < TOL


def test_grad_cam(ref, model64, batch):
    X224, X, y = batch
    assert rel_to_max(grad_cam(X, y, model64), ref["cam12"]) < TOL
    assert rel_to_max(grad_cam(X, y, model64, upsample=False), ref["cam12_lowres"]) < TOL
    assert rel_to_max(grad_cam(X, y, model64, layer=7, upsample=False), ref["cam7_lowres"]) < TOL
    assert rel_to_max(grad_cam_plus_plus(X, y, model64, upsample=False), ref["campp12_lowres"]) < TOL
    assert rel_to_max(grad_cam(X224, y, model64, upsample=False), ref["cam12_224_lowres"]) < TOL
    # Maps come back in the dtype of X (here computed by the float64 network from float32 input).
    cam32 = grad_cam(X.astype(np.float32), y, model64)
    assert cam32.dtype == np.float32 and rel_to_max(cam32, ref["cam12"]) < TOL


def test_integrated_gradients(ref, model64, batch):
    _, X, y = batch
    attr, delta = integrated_gradients(X, y, model64, steps=8, batch_size=7)
    assert rel_to_max(attr, ref["ig"]) < TOL
    np.testing.assert_allclose(delta, ref["ig_delta"], rtol=1e-4, atol=1e-4)


def test_occlusion(ref, model64, batch):
    _, X, y = batch
    assert rel_to_max(occlusion(X, y, model64, window=32, stride=16, fill=0, batch_size=12), ref["occlusion"]) < TOL
