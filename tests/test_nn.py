"""Modules: caches, parameter gradients, names, taps and sub-range forward/backward."""
import numpy as np
import pytest

from gradcheck import check_backward, eval_numerical_gradient_array, rel_error
from npnet.layers import conv_forward, max_pool_forward, relu_forward, relu_mode
from npnet.nn import Conv2d, Dropout, GlobalAvgPool2d, Linear, MaxPool2d, Module, ReLU, Sequential


def small_net(dtype=np.float64, seed=0):
    return Sequential(Conv2d(3, 4, 3, padding=1, dtype=dtype, rng=seed), ReLU(),
                      MaxPool2d(2), Conv2d(4, 5, 3, stride=2, dtype=dtype, rng=seed + 1), ReLU(),
                      GlobalAvgPool2d())


def test_sequential_forward_matches_the_functional_layers():
    net = small_net()
    x = np.random.default_rng(1).standard_normal((2, 3, 10, 10))
    p0, p3 = net[0].params, net[3].params
    h = relu_forward(conv_forward(x, p0["weight"], p0["bias"], {"stride": 1, "pad": 1})[0])[0]
    h = max_pool_forward(h, {"pool_height": 2, "pool_width": 2, "stride": 2})[0]
    h = relu_forward(conv_forward(h, p3["weight"], p3["bias"], {"stride": 2, "pad": 0})[0])[0]
    expected = h.mean(axis=(2, 3), keepdims=True)
    out = net.forward(x)
    assert out.shape == (2, 5, 1, 1)
    assert rel_error(out, expected) < 1e-12
    assert net.outputs[2].shape == (2, 4, 5, 5)  # taps keep every layer's output


def test_parameter_and_input_gradients_match_numerical_ones():
    rng = np.random.default_rng(2)
    net = small_net()
    x = rng.standard_normal((2, 3, 6, 6))
    out = net.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = net.backward(dout)
    assert rel_error(dx, eval_numerical_gradient_array(lambda z: net.forward(z), x.copy(), dout)) < 1e-7
    grads = dict(net.named_grads())
    assert sorted(grads) == ["0.bias", "0.weight", "3.bias", "3.weight"]
    w = net[3].params["weight"]
    numeric = eval_numerical_gradient_array(lambda _: net.forward(x), w, dout)
    assert rel_error(grads["3.weight"], numeric) < 1e-7


def test_subrange_backward_starts_anywhere_with_a_chosen_gradient():
    rng = np.random.default_rng(3)
    net = small_net()
    x = rng.standard_normal((1, 3, 8, 8))
    net.forward(x)
    g = rng.standard_normal(net.outputs[2].shape)
    dx = net.backward(g, 0, 3)  # g is dL/d(output of layer 2)
    numeric = eval_numerical_gradient_array(lambda z: net.forward(z, 0, 3), x.copy(), g)
    assert rel_error(dx, numeric) < 1e-7
    # The upper half alone, from the stored tap, gives the same output as the full forward.
    full = net.forward(x)
    assert np.array_equal(net.forward(net.outputs[2], 3), full)


def test_sequential_range_errors_name_the_bounds():
    net = small_net()
    with pytest.raises(IndexError, match=r"0 <= start <= end <= 6"):
        net.forward(np.zeros((1, 3, 8, 8)), 4, 2)


def test_linear_uses_pytorch_layout_and_has_exact_gradients():
    rng = np.random.default_rng(4)
    lin = Linear(6, 3, dtype=np.float64, rng=0)
    assert lin.params["weight"].shape == (3, 6)
    x = rng.standard_normal((4, 2, 3))
    out = lin.forward(x)
    assert rel_error(out, x.reshape(4, 6) @ lin.params["weight"].T + lin.params["bias"]) < 1e-14
    dout = rng.standard_normal(out.shape)
    lin.backward(dout)
    assert rel_error(lin.grads["weight"], dout.T @ x.reshape(4, 6)) < 1e-12


def test_linear_without_bias_has_no_bias_parameter_or_gradient():
    lin = Linear(6, 3, bias=False, dtype=np.float64, rng=0)
    assert list(lin.state_dict()) == ["weight"]  # as PyTorch's state_dict
    x = np.random.default_rng(5).standard_normal((4, 6))
    assert rel_error(lin.forward(x), x @ lin.params["weight"].T) < 1e-14
    lin.backward(np.ones((4, 3)))
    assert sorted(lin.grads) == ["weight"]


class _Refuses(Module):
    """A parameter-free layer whose backward must not run."""

    def forward(self, x):
        return x

    def backward(self, dout):
        raise AssertionError("backward of a layer below every trained layer ran")


@pytest.mark.parametrize("make", [
    lambda: Sequential(_Refuses(), *small_net().layers),
    lambda: Sequential(_Refuses(), Linear(12, 7, rng=0), ReLU(), Linear(7, 3, rng=1)),
])
def test_backward_without_input_gradient_gives_the_same_parameter_gradients(make):
    rng = np.random.default_rng(11)
    net = make()
    x = rng.standard_normal((3, 3, 6, 6) if isinstance(net[1], Conv2d) else (3, 12))
    dout = rng.standard_normal(net.forward(x).shape)
    net[0].backward = lambda d: d  # the full backward may pass through it
    net.backward(dout)
    full = {k: v.copy() for k, v in net.named_grads()}
    del net[0].backward
    net.zero_grad()
    assert net.backward(dout, input_grad=False) is None
    got = dict(net.named_grads())
    assert sorted(got) == sorted(full) and len(full) >= 2
    for k in full:
        np.testing.assert_allclose(got[k], full[k], rtol=1e-12, atol=1e-14)
    # With the first trained layer frozen, the next one is the first that needs a backward.
    net.zero_grad()
    net[1].requires_grad_(False)
    assert net.backward(dout, input_grad=False) is None
    assert sorted(dict(net.named_grads())) == sorted(k for k in full if not k.startswith("1."))
    # Nothing trains: nothing runs.
    net.requires_grad_(False)
    assert net.backward(dout, input_grad=False) is None


def test_layers_skip_the_input_gradient_on_request():
    from npnet.layers import affine_backward, affine_forward, conv_backward
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((4, 2, 7, 7)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    out, cache = conv_forward(x, w, b, {"stride": 2, "pad": 1})
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward(dout, cache)
    none, dw2, db2 = conv_backward(dout, cache, input_grad=False)
    assert none is None and np.array_equal(dw2, dw) and np.array_equal(db2, db)
    x, w, b = rng.standard_normal((5, 6)), rng.standard_normal((6, 4)), rng.standard_normal(4)
    out, cache = affine_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    none, dw, db = affine_backward(dout, cache, input_grad=False)
    assert none is None
    np.testing.assert_allclose(dw, x.T @ dout, rtol=1e-13)
    np.testing.assert_allclose(db, dout.sum(axis=0), rtol=1e-13)
    with pytest.raises(TypeError, match="affine_backward.*input_grad"):
        affine_backward(dout, cache, input_grad="no")


def test_frozen_modules_return_only_the_input_gradient():
    net = small_net().requires_grad_(False)
    net.forward(np.ones((1, 3, 8, 8)))
    net.backward(np.ones((1, 5, 1, 1)))
    assert dict(net.named_grads()) == {}


def test_state_dict_names_and_loading_errors():
    class Block(Module):
        def __init__(self):
            super().__init__()
            self.squeeze = Conv2d(3, 2, 1, rng=0)
            self.expand = Sequential(ReLU(), Conv2d(2, 4, 3, padding=1, rng=1))

    net = Sequential(Block(), Block.__new__(Block))
    Block.__init__(net[1])
    names = list(net.state_dict())
    assert names == ["0.squeeze.weight", "0.squeeze.bias", "0.expand.1.weight", "0.expand.1.bias",
                     "1.squeeze.weight", "1.squeeze.bias", "1.expand.1.weight", "1.expand.1.bias"]
    state = {k: np.full(v.shape, 0.5) for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    assert net[1].expand[1].params["weight"].dtype == np.float32  # cast to the module's dtype
    assert np.all(net[1].expand[1].params["weight"] == 0.5)
    bad = dict(state)
    del bad["0.squeeze.bias"]
    bad["1.expand.1.weight"] = np.zeros((4, 2, 1, 1))
    bad["extra"] = np.zeros(1)
    with pytest.raises(ValueError) as err:
        net.load_state_dict(bad, source="my.npz")
    msg = str(err.value)
    assert "my.npz" in msg and "missing key '0.squeeze.bias'" in msg and "unexpected key 'extra'" in msg
    assert "'1.expand.1.weight': expected shape (4, 2, 3, 3), got (4, 2, 1, 1)" in msg


def test_dropout_module_is_identity_in_eval_and_drops_p_in_train():
    drop = Dropout(0.25, seed=0)
    x = np.ones((200, 200))
    assert np.array_equal(drop.forward(x), x)
    drop.train()
    out = drop.forward(x)
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.01
    assert np.allclose(out[kept], 1 / 0.75)
    assert np.array_equal(drop.backward(np.ones_like(x)), out)


def test_guided_mode_reaches_every_relu_of_a_network():
    rng = np.random.default_rng(5)
    net = small_net()
    x = rng.standard_normal((1, 3, 8, 8))
    net.forward(x)
    dout = rng.standard_normal((1, 5, 1, 1))
    with relu_mode("guided"):
        guided = net.backward(dout)
    # Guided backprop by hand: at each ReLU pass only positive gradients where the input was positive.
    g = net[5].backward(dout)
    g = net[4].cache  # ReLU input
    g = np.where((net[4].cache > 0) & (net[5].backward(dout) > 0), net[5].backward(dout), 0)
    g = net[2].backward(net[3].backward(g))
    g = np.where((net[1].cache > 0) & (g > 0), g, 0)
    assert rel_error(guided, net[0].backward(g)) < 1e-12
    assert rel_error(guided, net.backward(dout)) > 1e-3  # and it differs from the true gradient


def test_whole_network_directional_check_in_float64():
    rng = np.random.default_rng(6)
    net = small_net()
    x = rng.standard_normal((2, 3, 9, 9))
    out = net.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = net.backward(dout)
    assert check_backward(lambda z: net.forward(z), [x], dout, [dx]) < 1e-6


def test_astype_switches_precision_and_rejects_integers():
    net = small_net(dtype=np.float32).astype(np.float64)
    assert all(v.dtype == np.float64 for _, v in net.named_parameters())
    with pytest.raises(TypeError, match="float32 or float64"):
        net.astype(np.int32)


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="call forward first"):
        Conv2d(3, 2, 1).backward(np.zeros((1, 2, 4, 4), np.float32))


def test_no_grad_forward_equals_the_normal_one_keeps_no_cache_and_backward_then_raises():
    from npnet.nn import no_grad

    net = small_net()
    x = np.random.default_rng(2).standard_normal((2, 3, 10, 10))
    expected = net.forward(x)
    taps = [o.copy() for o in net.outputs]
    net.outputs = [None] * len(net)
    with no_grad():
        out = net.forward(x)
    assert np.array_equal(out, expected)
    assert all(np.array_equal(a, b) for a, b in zip(net.outputs, taps))  # taps still filled
    assert not any(isinstance(layer.cache, (tuple, np.ndarray)) for layer in net.layers)
    for layer, name in ((net, "GlobalAvgPool2d"), (net[0], "Conv2d"), (net[1], "ReLU"), (net[2], "MaxPool2d")):
        with pytest.raises(RuntimeError, match=rf"{name}.backward: the last forward ran inside npnet.nn.no_grad\(\)"):
            layer.backward(np.ones(1))
    # a forward outside the block caches again
    net.forward(x)
    assert net.backward(np.ones_like(out)).shape == x.shape


def test_no_grad_drops_the_cache_of_a_module_written_by_a_user():
    from npnet.nn import no_grad

    class Double(Module):
        def forward(self, x):
            self.cache = x.shape
            return 2 * x

        def backward(self, dout):
            self._need_cache()
            return 2 * dout

    m = Double()
    with no_grad():
        m.forward(np.ones(3))
    with pytest.raises(RuntimeError, match="Double.backward: the last forward ran inside"):
        m.backward(np.ones(3))
    m.forward(np.ones(3))
    assert np.array_equal(m.backward(np.ones(3)), [2, 2, 2])


def test_frozen_conv_keeps_no_columns_and_refuses_weight_gradients_it_cannot_compute():
    rng = np.random.default_rng(3)
    conv = Conv2d(3, 4, 3, padding=1, dtype=np.float64, rng=0)
    x = rng.standard_normal((2, 3, 9, 7))
    dout = rng.standard_normal((2, 4, 9, 7))
    conv.forward(x)
    dx_trainable = conv.backward(dout)
    conv.requires_grad_(False)
    conv.forward(x)
    kept = sum(a.nbytes for a in conv.cache if isinstance(a, np.ndarray))
    assert kept == conv.params["weight"].nbytes + conv.params["bias"].nbytes  # no 9x-the-input columns
    assert np.array_equal(conv.backward(dout), dx_trainable)
    conv.requires_grad_(True)
    with pytest.raises(ValueError, match=r"conv_backward: the forward pass ran with weight_grads=False"):
        conv.backward(dout)


def test_max_pool_module_skips_the_argmax_inside_no_grad(monkeypatch):
    import npnet.nn as nn_module
    from npnet.nn import no_grad

    asked = []

    def spy(x, pool_param, need_argmax=True):
        asked.append(need_argmax)
        return max_pool_forward(x, pool_param, need_argmax=need_argmax)

    monkeypatch.setattr(nn_module, "max_pool_forward", spy)
    pool, x = MaxPool2d(3, stride=2, ceil_mode=True), np.random.default_rng(5).standard_normal((2, 3, 8, 9))
    expected = pool.forward(x)
    with no_grad():
        assert np.array_equal(pool.forward(x), expected)
    assert asked == [True, False]

