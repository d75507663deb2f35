"""Gradient checks of the CS231n classifiers (whole-model loss against numerical gradients of every
parameter) and of the sandwich layers they are built from. All in float64 with a nonzero L2 penalty,
so the regularisation gradient is checked too."""
import numpy as np

from npnet import layers as L
from npnet.models.classifiers import FullyConnectedNet, ThreeLayerConvNet, TwoLayerNet

from .registry import layer_error, model_error, register


def _seeded(rng):
    # The models draw their weights from the global np.random, as in CS231n.
    np.random.seed(int(rng.integers(2**31)))


def _error(model, X, y, rng, zero=()):
    # Zero-initialised biases put ReLU inputs exactly on the kink (e.g. a row that dropout emptied), where
    # finite differences are meaningless: give every bias and shift a random value first.
    for name, value in model.params.items():
        if name.startswith(("b", "beta")):
            value[...] = 0.1 * rng.standard_normal(value.shape)
    return model_error(model, X, y, zero=zero)


@register("affine_relu", threshold=1e-7)
def _(rng):
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 6)), rng.standard_normal(6)
    return layer_error(L.affine_relu_forward, L.affine_relu_backward, [x, w, b], rng)


@register("conv_relu", threshold=1e-6)
def _(rng):
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    fwd = lambda x, w, b: L.conv_relu_forward(x, w, b, {"stride": 1, "pad": 1})  # noqa: E731
    return layer_error(fwd, L.conv_relu_backward, [x, w, b], rng)


@register("conv_relu_pool", threshold=1e-6)
def _(rng):
    x, w, b = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    fwd = lambda x, w, b: L.conv_relu_pool_forward(  # noqa: E731
        x, w, b, {"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2})
    return layer_error(fwd, L.conv_relu_pool_backward, [x, w, b], rng)


@register("two_layer_net", threshold=1e-6)
def _(rng):
    _seeded(rng)
    model = TwoLayerNet(input_dim=5, hidden_dim=6, num_classes=3, weight_scale=0.5, reg=0.3)
    return _error(model, rng.standard_normal((4, 5)), rng.integers(0, 3, 4), rng)


@register("fully_connected_net", threshold=1e-5)
def _(rng):
    _seeded(rng)
    model = FullyConnectedNet([6, 5], input_dim=4, num_classes=3, reg=0.2, weight_scale=0.5, dtype=np.float64)
    return _error(model, rng.standard_normal((3, 4)), rng.integers(0, 3, 3), rng)


@register("fully_connected_net.batchnorm", threshold=1e-4)
def _(rng):
    _seeded(rng)
    model = FullyConnectedNet([6, 5], input_dim=4, num_classes=3, normalization="batchnorm", reg=0.1,
                              weight_scale=0.5, dtype=np.float64)
    return _error(model, rng.standard_normal((5, 4)), rng.integers(0, 3, 5), rng, zero=("b1", "b2"))


@register("fully_connected_net.layernorm", threshold=1e-4)
def _(rng):
    _seeded(rng)
    model = FullyConnectedNet([6, 5], input_dim=4, num_classes=3, normalization="layernorm", reg=0.1,
                              weight_scale=0.5, dtype=np.float64)
    return _error(model, rng.standard_normal((3, 4)), rng.integers(0, 3, 3), rng)


@register("fully_connected_net.dropout", threshold=1e-5)
def _(rng):
    _seeded(rng)
    model = FullyConnectedNet([6, 5], input_dim=4, num_classes=3, dropout_keep_ratio=0.7, seed=123, reg=0.1,
                              weight_scale=0.5, dtype=np.float64)
    return _error(model, rng.standard_normal((3, 4)), rng.integers(0, 3, 3), rng)


@register("three_layer_convnet", threshold=1e-5)
def _(rng):
    _seeded(rng)
    model = ThreeLayerConvNet(input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=5, num_classes=3,
                              weight_scale=0.3, reg=0.05, dtype=np.float64)
    return _error(model, rng.standard_normal((2, 2, 6, 6)), rng.integers(0, 3, 2), rng)
