"""Integrated-gradients completeness and the model randomisation test on SqueezeNet 1.1.

Run at 112x112 (2x2 block means of sample images) to keep the suite fast; bench/bench_vis.py
measures the same at 224x224 on five images.
"""
import numpy as np
import pytest

from npnet.image import preprocess
from npnet.vis import format_randomization_table, integrated_gradients, model_randomization_test


@pytest.fixture(scope="module")
def model(weights_path):
    from npnet.models.squeezenet import squeezenet1_1

    return squeezenet1_1(weights=weights_path)


@pytest.fixture(scope="module")
def small_batch(imagenet_val):
    X, y, _ = imagenet_val
    idx = [1, 20]
    X = np.concatenate([preprocess(X[i]) for i in idx])
    return X.reshape(2, 3, 112, 2, 112, 2).mean(axis=(3, 5)), y[idx]


def test_ig_completeness_at_50_steps(model, small_batch):
    X, y = small_batch
    attr, delta = integrated_gradients(X, y, model, steps=50, batch_size=25)
    assert attr.shape == X.shape and attr.dtype == np.float32 and delta.shape == (2,)
    gap = model.forward(X)[np.arange(2), y] - model.forward(np.zeros_like(X))[np.arange(2), y]
    # delta is what is left of completeness: sum of attributions minus the score gap.
    np.testing.assert_allclose(delta, attr.sum(axis=(1, 2, 3), dtype=np.float64) - gap, rtol=1e-4, atol=1e-3)
    assert np.all(np.abs(delta) <= 0.01 * np.abs(gap)), (delta, gap)
    # A non-zero baseline works the same way (completeness against s(baseline)).
    attr_b, delta_b = integrated_gradients(X[:1], y[:1], model, baseline=-0.5, steps=50, batch_size=25)
    gap_b = model.forward(X[:1])[0, y[0]] - model.forward(np.full_like(X[:1], -0.5))[0, y[0]]
    assert abs(delta_b[0]) <= 0.01 * abs(gap_b)


def test_model_randomization_test(model, small_batch):
    X, y = small_batch
    before = {k: v.copy() for k, v in model.state_dict().items()}
    result = model_randomization_test(X, y, model, methods=("saliency", "guided_backprop"))
    # The caller's model is left exactly as it was.
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert result["stages"] == ["classifier.1", "features.12", "features.11", "features.10", "features.9",
                                "features.7", "features.6", "features.4", "features.3", "features.0"]
    sal = np.nanmean(result["correlations"]["saliency"], axis=1)
    gbp = np.nanmean(result["correlations"]["guided_backprop"], axis=1)
    assert sal.shape == gbp.shape == (10,)
    # Adebayo et al.: guided backprop stays correlated with its original map while the top layers are
    # randomised; the gradient does not.
    assert np.all(gbp[:3] > 0.5) and np.all(gbp[:3] > sal[:3] + 0.2), format_randomization_table(result)
    assert sal[-1] < 0.5, format_randomization_table(result)
