"""Fooling images and class visualisation: the update rules by hand on the tiny net, then SqueezeNet
on a representative subset of what the issue measures (the full sweeps are in bench/bench_vis.py).
"""
from pathlib import Path

import numpy as np
import pytest

from npnet.image import SQUEEZENET_MEAN, SQUEEZENET_STD, preprocess
from npnet.vis import class_visualization_update_step, create_class_visualization, make_fooling_image
from test_vis_closed_form import BLOCKS, TinyNet, up2

REF = Path(__file__).parent / "data" / "vis_reference.npz"

# d s0 / d X of the tiny net, by hand (see test_vis_closed_form.test_saliency_by_hand), per block:
# (0,0) [1, -2, -2] / 4, (0,1) [0, -2, -1] / 4, (1,0) 0, (1,1) [1, 0, -1] / 4.
# Its squared norm: 4 pixels per block * (9 + 5 + 0 + 2) / 16 = 4, so ||g|| = 2.
G0 = up2(np.array([[[1, 0], [0, 1]], [[-2, -2], [0, 0]], [[-2, -1], [0, -1]]]) / 4.0)[None]


def test_fooling_step_by_hand():
    model, X = TinyNet(), up2(BLOCKS)[None]  # scores [1, 9.5]: predicts class 1
    with pytest.warns(RuntimeWarning, match=r"1 of 1 image\(s\) not classified as the target after max_iter=1"):
        X1, info = make_fooling_image(X, 0, model, learning_rate=0.5, max_iter=1, return_info=True)
    np.testing.assert_allclose(X1, X + 0.5 * G0 / 2.0, atol=1e-15)
    assert info["iterations"].tolist() == [1] and info["success"].tolist() == [False]
    # Already the target: no step at all, and the plain return value of the notebook's function.
    X0 = make_fooling_image(X, 1, model)
    np.testing.assert_array_equal(X0, X)
    assert X0 is not X


def test_class_visualization_update_step_by_hand():
    model = TinyNet()
    img = up2(BLOCKS)[None].copy()
    start = img.copy()
    out = class_visualization_update_step(img, model, 0, 0.0, 3.0)
    assert out is img  # updated in place, like the notebook's tensor
    np.testing.assert_allclose(img, start + 3.0 * G0 / 2.0, atol=1e-15)
    # With the L2 penalty the ascent direction is g - 2 * lambda * I, normalised.
    img = start.copy()
    d = G0 - 2 * 0.1 * start
    class_visualization_update_step(img, model, 0, 0.1, 3.0)
    np.testing.assert_allclose(img, start + 3.0 * d / np.sqrt(np.sum(d ** 2)), atol=1e-14)


def test_create_class_visualization_schedule_on_tiny_net():
    calls = []
    img = create_class_visualization(0, TinyNet(), num_iterations=10, show_every=4, max_jitter=2, seed=1,
                                     image_size=6, callback=lambda t, im: calls.append((t, im.shape)))
    assert [t for t, _ in calls] == [0, 3, 7, 9] and all(s == (1, 3, 6, 6) for _, s in calls)
    lo, hi = -SQUEEZENET_MEAN / SQUEEZENET_STD, (1 - SQUEEZENET_MEAN) / SQUEEZENET_STD
    # Every iteration clips to the range of real pixels (blur of a clipped image stays inside it).
    assert np.all(img >= lo[None, :, None, None] - 1e-6) and np.all(img <= hi[None, :, None, None] + 1e-6)
    # Same seed, same image.
    np.testing.assert_array_equal(img, create_class_visualization(0, TinyNet(), num_iterations=10, max_jitter=2,
                                                                  seed=1, image_size=6))



@pytest.fixture(scope="module")
def torch_fool_iters():
    with np.load(REF) as f:
        return dict(zip(f["fool_targets"].tolist(), f["fool_iters"]))


def test_fooling_matches_pytorch_on_a_subset(model, imagenet_val, torch_fool_iters):
    # Five images of the sample toward each class of the issue, including image 20 toward stingray,
    # the slowest PyTorch still fools within 100 steps; the full 3 x 25 sweep is in bench/bench_vis.py.
    X_raw, _, _ = imagenet_val
    idx = [0, 3, 10, 20, 24]
    X = np.concatenate([preprocess(X_raw[i]) for i in idx])
    for target in (6, 76, 366):
        X_fool, info = make_fooling_image(X, target, model, max_iter=100, return_info=True)
        assert info["success"].all() and np.all(model.forward(X_fool).argmax(axis=1) == target)
        expected = torch_fool_iters[target][idx]
        # Float32 rounding may move the step at which the top-1 flips by a step or two.
        assert np.all(np.abs(info["iterations"] - expected) <= np.maximum(2, 0.1 * expected)), \
            (target, info["iterations"], expected)
        # Each step moves an image by exactly lr = 1 in L2, so k steps move it at most k.
        dist = np.sqrt(np.sum((X_fool - X).astype(np.float64) ** 2, axis=(1, 2, 3)))
        assert np.all(dist <= info["iterations"] + 1e-3) and np.all(dist[info["iterations"] > 0] > 0)


def test_fooling_log_prob_objective_fools_image_13(model, imagenet_val, torch_fool_iters):
    # Toward stingray, image 13's raw-score ascent drags class 397 along and is still not fooled after
    # 200 steps, in PyTorch as in npnet; ascending the log-probability pushes 397 down too.
    assert torch_fool_iters[6][13] == -1
    X = preprocess(imagenet_val[0][13])
    X_fool, info = make_fooling_image(X, 6, model, max_iter=20, return_info=True, objective="log_prob")
    assert info["success"][0] and model.forward(X_fool)[0].argmax() == 6


def test_class_visualization_reaches_target(model):
    # One of the six classes of the issue with the defaults (all six: bench/bench_vis.py).
    img = create_class_visualization(366, model, seed=0)
    scores = model.forward(img)[0]
    assert img.shape == (1, 3, 224, 224) and scores.argmax() == 366, (scores.argmax(), scores[366])
