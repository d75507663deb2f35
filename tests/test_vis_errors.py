"""Bad input to npnet.vis ends in a clear error naming the function, what it expected and what it got.

Runs on the tiny hand-built net of test_vis_closed_form (no weights needed) except where SqueezeNet's
own size limit is the point.
"""
import re

import numpy as np
import pytest

from npnet.vis import (class_visualization_update_step, compute_saliency_maps, create_class_visualization, grad_cam,
                       grad_cam_plus_plus, guided_backprop, guided_grad_cam, integrated_gradients,
                       make_fooling_image, model_randomization_test, occlusion, resize_bilinear, smoothgrad)
from npnet.vis.attribution import integration_nodes
from test_vis_closed_form import BLOCKS, TinyNet, up2

MAP_FUNCTIONS = [compute_saliency_maps, smoothgrad, guided_backprop, grad_cam, grad_cam_plus_plus, guided_grad_cam,
                 lambda X, y, m: integrated_gradients(X, y, m, steps=2), lambda X, y, m: occlusion(X, y, m, window=2)]
IDS = ["saliency", "smoothgrad", "guided_backprop", "grad_cam", "grad_cam_pp", "guided_grad_cam", "ig", "occlusion"]


@pytest.fixture
def model():
    return TinyNet()


@pytest.fixture
def X():
    return up2(BLOCKS)[None]


@pytest.mark.parametrize("f", MAP_FUNCTIONS, ids=IDS)
def test_wrong_image_shape(f, model, X):
    with pytest.raises(ValueError, match=r"X must have .*\(N, 3, H, W\).*got shape \(3, 4, 4\)"):
        f(X[0], np.array([0]), model)
    with pytest.raises(ValueError, match=r"X must have shape \(\*, 3, \*, \*\); got \(1, 2, 4, 4\)"):
        f(X[:, :2], np.array([0]), model)


@pytest.mark.parametrize("f", MAP_FUNCTIONS, ids=IDS)
def test_label_out_of_range_or_wrong_count(f, model, X):
    with pytest.raises(ValueError, match=r"y must lie in \[0, 2\); got values from 2 to 2"):
        f(X, np.array([2]), model)
    with pytest.raises(ValueError, match=r"y must lie in \[0, 2\); got values from -1 to -1"):
        f(X, np.array([-1]), model)
    with pytest.raises(ValueError, match=r"y must have shape \(1,\), one label per sample; got \(2,\)"):
        f(X, np.array([0, 1]), model)
    with pytest.raises(TypeError, match="y must hold integer class labels; got dtype float64"):
        f(X, np.array([0.0]), model)


@pytest.mark.parametrize("f", MAP_FUNCTIONS, ids=IDS)
def test_nan_image(f, model, X):
    X = X.copy()
    X[0, 1, 2, 3] = np.nan
    X[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"X contains 2 NaN/Inf value\(s\) of 48"):
        f(X, np.array([0]), model)


def test_integer_image(model, X):
    with pytest.raises(TypeError, match="compute_saliency_maps: X must be a floating-point array"):
        compute_saliency_maps(X.astype(np.int64), np.array([0]), model)


@pytest.mark.parametrize("f", [grad_cam, grad_cam_plus_plus, guided_grad_cam])
@pytest.mark.parametrize("layer", [2, -1, 1.0, "features.1", True])
def test_layer_that_does_not_exist(f, layer, model, X):
    message = f"{f.__name__}: layer must be an index of model.features, an integer in 0..1; got {layer!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        f(X, np.array([0]), model, layer=layer)


def test_too_small_for_squeezenet(weights_path):
    from npnet.models.squeezenet import squeezenet1_1

    model = squeezenet1_1(weights=weights_path)
    with pytest.raises(ValueError, match=rf"compute_saliency_maps: X must have shape \(N, 3, H, W\) with H, W >= "
                                         rf"{model.min_size}.*got \(1, 3, 8, 8\)"):
        compute_saliency_maps(np.zeros((1, 3, 8, 8), np.float32), np.array([0]), model)
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1000\); got values from 1000 to 1000"):
        grad_cam(np.zeros((1, 3, 64, 64), np.float32), np.array([1000]), model)


def test_argument_errors(model, X):
    y = np.array([0])
    with pytest.raises(ValueError, match="smoothgrad: n_samples must be a positive integer; got 0"):
        smoothgrad(X, y, model, n_samples=0)
    with pytest.raises(ValueError, match="smoothgrad: noise_level must be a finite number >= 0; got -0.1"):
        smoothgrad(X, y, model, noise_level=-0.1)
    with pytest.raises(ValueError, match=r"integrated_gradients: baseline must be a number or broadcast to X's "
                                         r"shape \(1, 3, 4, 4\); got shape \(2, 2\)"):
        integrated_gradients(X, y, model, baseline=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"integrated_gradients: baseline contains 1 NaN/Inf"):
        integrated_gradients(X, y, model, baseline=np.full(1, np.nan))
    with pytest.raises(ValueError, match="integrated_gradients: method must be one of"):
        integrated_gradients(X, y, model, method="simpson")
    with pytest.raises(ValueError, match="integration_nodes: the trapezoid rule needs steps >= 2; got 1"):
        integration_nodes(1, "trapezoid")
    with pytest.raises(ValueError, match=r"occlusion: window \(5\) must fit in the image \(4x4\)"):
        occlusion(X, y, model, window=5)
    with pytest.raises(ValueError, match="occlusion: fill must be a finite number; got nan"):
        occlusion(X, y, model, window=2, fill=float("nan"))
    with pytest.raises(ValueError, match=r"model_randomization_test: methods must be a non-empty list of names"):
        model_randomization_test(X, y, model, methods=["lime"])
    with pytest.raises(ValueError, match=r"resize_bilinear: maps must have 3 dims \(N, h, w\); got shape \(4, 4\)"):
        resize_bilinear(np.zeros((4, 4)), (8, 8))
    with pytest.raises(ValueError, match=r"resize_bilinear: size must be a pair \(H, W\) of positive integers; got 8"):
        resize_bilinear(np.zeros((1, 4, 4)), 8)


def test_synthesis_errors(model, X):
    with pytest.raises(ValueError, match=r"make_fooling_image: y must lie in \[0, 2\); got values from 5 to 5"):
        make_fooling_image(X, 5, model)
    with pytest.raises(ValueError, match="make_fooling_image: learning_rate must be a positive finite number; got 0"):
        make_fooling_image(X, 1, model, learning_rate=0)
    with pytest.raises(ValueError, match=r"make_fooling_image: objective must be one of \('score', 'log_prob'\); "
                                         r"got 'margin'"):
        make_fooling_image(X, 1, model, objective="margin")
    with pytest.raises(ValueError, match="make_fooling_image: X contains 1 NaN/Inf"):
        make_fooling_image(np.where(np.arange(48).reshape(X.shape) == 7, np.nan, X), 1, model)
    with pytest.raises(ValueError, match=r"class_visualization_update_step: img must have shape \(1, 3, \*, \*\); "
                                         r"got \(2, 3, 4, 4\)"):
        class_visualization_update_step(np.concatenate([X, X]), model, 1, 1e-3, 1.0)
    with pytest.raises(ValueError, match=r"create_class_visualization: target_y must lie in \[0, 2\)"):
        create_class_visualization(7, model)
    with pytest.raises(TypeError, match="create_class_visualization: callback must be callable"):
        create_class_visualization(1, model, callback="plot")
