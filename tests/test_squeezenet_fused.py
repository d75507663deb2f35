"""SqueezeNet's fused Fire path and inference mode against the module-by-module composition.

Random weights and small odd-sized inputs, so nothing here needs the pretrained weights.
"""
import numpy as np
import pytest

from gradcheck import rel_error
from npnet.layers import RELU_MODES, relu_mode
from npnet.models import SqueezeNet
from npnet.models.squeezenet import Fire
from npnet.nn import no_grad

TOL = {np.float64: 1e-12, np.float32: 1e-5}


def close(a, b, dtype):
    """Relative error in float64; in float32 the largest deviation relative to the largest magnitude
    (elementwise relative errors of near-zero entries reflect rounding order, not a wrong result)."""
    if dtype == np.float64:
        return rel_error(a, b) < TOL[dtype]
    return np.max(np.abs(a - b)) <= TOL[dtype] * np.max(np.abs(b))


def frozen_fire(dtype, seed=0):
    return Fire(5, 3, 4, 6, dtype=dtype, rng=seed).requires_grad_(False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 5, 7, 9), (3, 5, 4, 1), (2, 5, 1, 6)])
def test_fused_fire_equals_its_submodules_forward_and_backward_in_every_relu_mode(dtype, shape):
    rng = np.random.default_rng(sum(shape))
    fire = frozen_fire(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    dout = rng.standard_normal((shape[0], 10) + shape[2:]).astype(dtype)
    composed = fire.forward_modules(x)
    expected = {}
    for mode in RELU_MODES:
        with relu_mode(mode):
            expected[mode] = fire.backward_modules(dout)
    out = fire.forward(x)
    assert fire.cache[0] is True  # the fused path ran
    assert out.dtype == dtype and out.shape == composed.shape
    assert close(out, composed, dtype)
    for mode in RELU_MODES:
        with relu_mode(mode):
            dx = fire.backward(dout)
        assert dx.dtype == dtype and dx.shape == x.shape
        assert close(dx, expected[mode], dtype), mode
    # backward reads its cache without changing it: a second pass gives the same answer
    assert np.array_equal(fire.backward(dout), fire.backward(dout))


def test_fused_fire_keeps_only_the_squeeze_output_and_its_own_output():
    fire = frozen_fire(np.float32)
    x = np.random.default_rng(1).standard_normal((2, 5, 8, 8)).astype(np.float32)
    out = fire.forward(x)
    _, (x_shape, s, kept_out) = fire.cache
    assert x_shape == x.shape and s.shape == (2, 3, 8, 8)
    assert np.shares_memory(kept_out, out)  # the output itself, no copy
    assert all(m.cache is None for m in (fire.squeeze, fire.expand1x1, fire.expand3x3))


def test_trainable_fire_runs_its_submodules_and_fills_their_gradients():
    fire = Fire(5, 3, 4, 6, dtype=np.float64, rng=0)
    x = np.random.default_rng(2).standard_normal((2, 5, 6, 6))
    out = fire.forward(x)
    assert fire.cache[0] is False
    dx = fire.backward(np.ones_like(out))
    assert dx.shape == x.shape
    names = {name for name, _ in fire.named_grads()}
    assert names == {f"{conv}.{p}" for conv in ("squeeze", "expand1x1", "expand3x3") for p in ("weight", "bias")}


def test_fused_fire_errors_name_the_module():
    fire = frozen_fire(np.float32)
    with pytest.raises(ValueError, match=r"Fire.forward: x must have 5 channels \(inplanes\) in dim 1; "
                                         r"got shape \(1, 4, 6, 6\)"):
        fire.forward(np.zeros((1, 4, 6, 6), np.float32))
    with pytest.raises(ValueError, match=r"Fire.forward: x must have 4 dims"):
        fire.forward(np.zeros((5, 6, 6), np.float32))
    with pytest.raises(TypeError, match=r"Fire.forward: x must be float32 or float64"):
        fire.forward(np.zeros((1, 5, 6, 6), np.float16))
    # The fused path checks the three convolutions once, itself (not through conv_forward): a replaced
    # parameter or a changed geometry is named.
    good = fire.expand3x3.params["weight"]
    fire.expand3x3.params["weight"] = good[:, :, :2]
    with pytest.raises(ValueError, match=r"Fire.forward: expand3x3.weight must have shape \(6, 3, 3, 3\); "
                                         r"got \(6, 3, 2, 3\)"):
        fire.forward(np.zeros((1, 5, 6, 6), np.float32))
    fire.expand3x3.params["weight"] = good.astype(np.int32)
    with pytest.raises(TypeError, match=r"Fire.forward: expand3x3.weight must be a floating-point array"):
        fire.forward(np.zeros((1, 5, 6, 6), np.float32))
    fire.expand3x3.params["weight"] = good
    fire.squeeze.params["bias"] = None
    with pytest.raises(TypeError, match=r"Fire.forward: squeeze.bias must be a NumPy array; got NoneType"):
        fire.forward(np.zeros((1, 5, 6, 6), np.float32))
    fire.squeeze.params["bias"] = np.zeros(3, np.float32)
    fire.expand1x1.conv_param["pad"] = 1
    with pytest.raises(ValueError, match=r"Fire.forward: expand1x1.conv_param must stay \{'stride': 1, 'pad': 0\}"):
        fire.forward(np.zeros((1, 5, 6, 6), np.float32))
    fire.expand1x1.conv_param["pad"] = 0
    fire.forward(np.zeros((1, 5, 6, 6), np.float32))
    with pytest.raises(ValueError, match=r"Fire.backward: dout must have the shape .*\(1, 10, 6, 6\); "
                                         r"got \(1, 10, 6, 5\)"):
        fire.backward(np.zeros((1, 10, 6, 5), np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_frozen_squeezenet_equals_the_trainable_composition_in_every_relu_mode(dtype):
    rng = np.random.default_rng(3)
    net = SqueezeNet(dtype=dtype, seed=1)
    x = rng.standard_normal((2, 3, 35, 37)).astype(dtype)
    dscores = rng.standard_normal((2, 1000)).astype(dtype)
    scores = net.forward(x)  # trainable: every Fire runs its submodules
    taps = [o.copy() for o in net.features.outputs]
    expected = {}
    for mode in RELU_MODES:
        with relu_mode(mode):
            expected[mode] = net.backward(dscores)
    net.requires_grad_(False)
    assert close(net.forward(x), scores, dtype)
    assert all(close(a, b, dtype) for a, b in zip(net.features.outputs, taps))
    for mode in RELU_MODES:
        with relu_mode(mode):
            assert close(net.backward(dscores), expected[mode], dtype), mode
    # one class score per image: the backward reads only those rows of the final convolution
    one_hot = np.zeros_like(dscores)
    one_hot[[0, 1], [7, 999]] = 1
    net.requires_grad_(True)
    net.forward(x)
    expected = net.backward(one_hot)
    net.requires_grad_(False)
    net.forward(x)
    assert close(net.backward(one_hot), expected, dtype)


@pytest.mark.parametrize("trainable", [False, True])
def test_max_pools_take_the_relu_below_them_with_the_layer_by_layer_result(trainable):
    """Sequential.backward runs a max pool over a frozen Fire module's output (features 4->5 and 7->8)
    as one relu_max_pool_backward: the same numbers as each layer's own backward. The ReLU module
    (features 1) keeps its own backward, relu_backward, which students write."""
    net = SqueezeNet(dtype=np.float64, seed=3).requires_grad_(trainable)
    x = np.random.default_rng(6).standard_normal((2, 3, 48, 45))
    rng = np.random.default_rng(7)
    for mode in RELU_MODES:
        net.features.forward(x)
        pairs = [i for i in range(1, len(net.features)) if net.features[i - 1].output_is_relu()
                 and type(net.features[i]).__name__ == "MaxPool2d"]
        assert pairs == ([] if trainable else [5, 8])
        g = rng.standard_normal(net.features.outputs[-1].shape)
        with relu_mode(mode):
            want = g
            for layer in reversed(net.features.layers):
                want = layer.backward(want)
            got = net.features.backward(g)
        assert np.array_equal(got, want), mode


def test_feature_subranges_compose_on_the_fused_path():
    net = SqueezeNet(dtype=np.float64, seed=2).requires_grad_(False)
    x = np.random.default_rng(4).standard_normal((1, 3, 40, 40))
    net.features.forward(x)
    feats = list(net.features.outputs)
    assert np.array_equal(net.features.forward(feats[4], 5, 8), feats[7])
    g = np.random.default_rng(5).standard_normal(feats[7].shape)
    d_full = net.features.backward(g, 0, 8)
    net.features.forward(x, 0, 8)
    assert np.array_equal(net.features.backward(net.features.backward(g, 5, 8), 0, 5), d_full)


def test_squeezenet_under_no_grad_gives_the_same_scores_and_taps_and_refuses_backward():
    net = SqueezeNet(dtype=np.float32, seed=3).requires_grad_(False)
    x = np.random.default_rng(6).standard_normal((2, 3, 33, 33)).astype(np.float32)
    scores = net.forward(x)
    taps = [o.copy() for o in net.features.outputs]
    with no_grad():
        assert np.array_equal(net.forward(x), scores)
    assert all(np.array_equal(a, b) for a, b in zip(net.features.outputs, taps))
    with pytest.raises(RuntimeError, match=r"backward: the last forward ran inside npnet.nn.no_grad\(\)"):
        net.backward(np.ones_like(scores))
    with pytest.raises(RuntimeError, match=r"Fire.backward: the last forward ran inside npnet.nn.no_grad\(\)"):
        net.features.backward(np.ones_like(taps[-1]))
