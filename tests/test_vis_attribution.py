"""Integrated-gradients completeness and the model randomisation test on SqueezeNet 1.1.

IG runs on two 224x224 sample images (bench/bench_vis.py measures five); the randomisation test on
112x112 versions (2x2 block means) to keep the suite fast.
"""
import numpy as np
import pytest

from npnet.image import preprocess
from npnet.vis import format_randomization_table, integrated_gradients, model_randomization_test



@pytest.fixture(scope="module")
def batch(imagenet_val):
    X, y, _ = imagenet_val
    idx = [1, 20]
    return np.concatenate([preprocess(X[i]) for i in idx]), y[idx]


@pytest.fixture(scope="module")
def small_batch(batch):
    X, y = batch
    return X.reshape(2, 3, 112, 2, 112, 2).mean(axis=(3, 5)), y


def test_ig_completeness_at_50_steps(model, batch):
    X, y = batch
    attr, delta = integrated_gradients(X, y, model, steps=50, batch_size=25)
    assert attr.shape == X.shape and attr.dtype == np.float32 and delta.shape == (2,)
    gap = model.forward(X)[np.arange(2), y] - model.forward(np.zeros_like(X))[np.arange(2), y]
    # delta is what is left of completeness: sum of attributions minus the score gap.
    np.testing.assert_allclose(delta, attr.sum(axis=(1, 2, 3), dtype=np.float64) - gap, rtol=1e-4, atol=1e-3)
    assert np.all(np.abs(delta) <= 0.01 * np.abs(gap)), (delta, gap)
    # A non-zero baseline works the same way (completeness against s(baseline)); checked on a
    # 112x112 version to save time, where the path is rougher, hence 50 steps against 2%.
    Xs = X[:1].reshape(1, 3, 112, 2, 112, 2).mean(axis=(3, 5))
    _, delta_b = integrated_gradients(Xs, y[:1], model, baseline=-0.5, steps=50, batch_size=25)
    gap_b = model.forward(Xs)[0, y[0]] - model.forward(np.full_like(Xs, -0.5))[0, y[0]]
    assert abs(delta_b[0]) <= 0.02 * abs(gap_b), (delta_b, gap_b)


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
