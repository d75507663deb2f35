"""nn modules for training and GANs: PyTorch's numbers and state_dict names, and the Optimizer.

Reference outputs come from tests/data/modules_reference.npz (PyTorch 2.13.0, see tests/data/README.md);
gradients are checked numerically by the gradcheck registry (``modules.*``).
"""
from pathlib import Path

import numpy as np
import pytest

from gradcheck import rel_error
from npnet import nn, optim
from npnet.layers import softmax_loss

REF = np.load(Path(__file__).parent / "data" / "modules_reference.npz")


def test_batchnorm2d_matches_pytorch_in_training_and_eval():
    bn = nn.BatchNorm2d(3, dtype=np.float64)
    bn.params["weight"], bn.params["bias"] = REF["bn_weight"].copy(), REF["bn_bias"].copy()
    bn.train()
    for i in range(2):
        assert rel_error(bn.forward(REF[f"bn_x{i}"]), REF[f"bn_y{i}"]) < 1e-12
    # PyTorch's running statistics: momentum 0.1 on the new batch, unbiased variance.
    assert rel_error(bn.buffers["running_mean"], REF["bn_running_mean"]) < 1e-12
    assert rel_error(bn.buffers["running_var"], REF["bn_running_var"]) < 1e-12
    assert int(bn.buffers["num_batches_tracked"]) == int(REF["bn_num_batches_tracked"]) == 2
    bn.eval()
    assert rel_error(bn.forward(REF["bn_x_eval"]), REF["bn_y_eval"]) < 1e-12


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (6, 2, 9), (1, 5, 2, 2)])
def test_batchnorm_training_kernels_equal_the_functional_layer(shape, dtype, tol):
    """nn.BatchNorm in training mode runs npnet.kernels' passes, not spatial_batchnorm_*: the out, dx,
    dgamma, dbeta and running statistics of the functional layer in float64 (to ``tol`` of each
    result's largest value), for 4-D and (N, C, L) inputs of a large mean (the variance's second pass
    is over x - mean), and a NaN that must reach the output."""
    from npnet.layers import spatial_batchnorm_backward, spatial_batchnorm_forward

    def close(a, b):
        return a.dtype == dtype and np.abs(a - b).max() <= tol * np.abs(b).max()

    rng = np.random.default_rng(0)
    # every input rounded to dtype first, so the float64 reference sees the same numbers
    x, dout = (rng.standard_normal(shape) * 2 + 300).astype(dtype), rng.standard_normal(shape).astype(dtype)
    gamma, beta = rng.uniform(0.5, 2, shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    bn = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(shape[1], dtype=dtype).train()
    bn.params["weight"], bn.params["bias"] = gamma, beta
    out = bn.forward(x)
    dx = bn.backward(dout)
    assert bn.cache[0][0] == "kernels" and out.shape == dx.shape == shape
    x4, d4 = (x, dout) if len(shape) == 4 else (x[..., None], dout[..., None])
    param = {"mode": "train", "eps": bn.eps, "momentum": 0.0}
    ref, cache = spatial_batchnorm_forward(x4.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64),
                                           param)
    rdx, rdgamma, rdbeta = spatial_batchnorm_backward(d4.astype(np.float64), cache)
    assert close(out, ref.reshape(shape)) and close(dx, rdx.reshape(shape))
    assert close(bn.grads["weight"], rdgamma) and close(bn.grads["bias"], rdbeta)
    m = x.size // shape[1]
    assert close(bn.buffers["running_mean"], 0.1 * param["running_mean"])
    assert close(bn.buffers["running_var"], 0.9 + 0.1 * param["running_var"] * m / (m - 1))
    x[0, 0] = np.nan
    out = bn.forward(x)
    assert np.isnan(out[:, 0]).all() and np.isfinite(out[:, 1:]).all()


def test_batchnorm_runs_the_functional_layer_where_a_release_stubs_the_kernels(monkeypatch):
    """In a course release the kernels are the layers assignment's shortcuts, stubbed: the module then
    trains through the student's spatial_batchnorm_* with the same numbers (the kernels' own stand-in)."""
    from npnet import kernels

    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((3, 2, 4, 5)), rng.standard_normal((3, 2, 4, 5))
    fast = nn.BatchNorm2d(2, dtype=np.float64).train()
    out, dx = fast.forward(x), fast.backward(dout)

    def stub(*args):
        raise NotImplementedError("channel_moments: not implemented yet (the TODO block)")

    monkeypatch.setattr(kernels, "channel_moments", stub)
    slow = nn.BatchNorm2d(2, dtype=np.float64).train()
    assert rel_error(slow.forward(x), out) < 1e-12 and slow.cache[0][0] == "train"
    assert rel_error(slow.backward(dout), dx) < 1e-12
    assert rel_error(slow.grads["weight"], fast.grads["weight"]) < 1e-12
    assert rel_error(slow.buffers["running_var"], fast.buffers["running_var"]) < 1e-12


def test_batchnorm1d_on_sequences_matches_pytorch():
    bn = nn.BatchNorm1d(2, dtype=np.float64).train()
    assert rel_error(bn.forward(REF["bn1_x"]), REF["bn1_y"]) < 1e-12
    assert rel_error(bn.buffers["running_var"], REF["bn1_running_var"]) < 1e-12


def test_batchnorm_state_dict_has_pytorch_names_order_and_dtypes():
    net = nn.Sequential(nn.BatchNorm1d(2))
    assert list(net.state_dict()) == list(REF["bn_state_dict_keys"])
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias"]  # buffers are not trained
    state = {k: np.full(np.shape(v), 3) for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    assert net[0].buffers["num_batches_tracked"].dtype == np.int64
    assert net[0].buffers["running_var"].dtype == np.float32
    net.astype(np.float64)
    assert net[0].buffers["running_mean"].dtype == np.float64
    assert net[0].buffers["num_batches_tracked"].dtype == np.int64
    with pytest.raises(ValueError, match="missing key '0.running_var'"):
        net.load_state_dict({k: v for k, v in state.items() if k != "0.running_var"})


def test_conv_transpose2d_matches_pytorch_and_doubles_the_size():
    ct = nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1, dtype=np.float64)
    assert ct.params["weight"].shape == (3, 2, 4, 4)
    # PyTorch's default init bound 1/sqrt(fan_in) with fan_in = out_channels * k * k = 32
    assert np.abs(ct.params["weight"]).max() <= 1 / np.sqrt(32)
    ct.params["weight"], ct.params["bias"] = REF["ct_w"], REF["ct_b"]
    y = ct.forward(REF["ct_x"])
    assert y.shape == (2, 2, 6, 6)
    assert rel_error(y, REF["ct_y"]) < 1e-12


def test_layernorm_and_instancenorm_match_pytorch():
    ln = nn.LayerNorm((2, 3), dtype=np.float64)
    ln.params["weight"], ln.params["bias"] = REF["ln_g"], REF["ln_b"]
    assert rel_error(ln.forward(REF["ln_x"]), REF["ln_y"]) < 1e-12
    inorm = nn.InstanceNorm2d(3)
    assert inorm.state_dict() == {}  # affine=False by default, as in PyTorch
    assert rel_error(inorm.forward(REF["in_x"]), REF["in_y"]) < 1e-10


def test_pooling_activations_flatten_match_pytorch():
    x = REF["pool_x"]
    assert rel_error(nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False).forward(x), REF["pool_y"]) < 1e-12
    assert rel_error(nn.LeakyReLU(0.2).forward(x), REF["lrelu_y"]) < 1e-14
    assert np.array_equal(nn.Tanh().forward(x), np.tanh(x))
    assert rel_error(nn.Sigmoid().forward(x), 1 / (1 + np.exp(-x))) < 1e-14
    flat = nn.Flatten()
    assert flat.forward(x).shape == (2, 75)
    assert nn.Flatten(2).forward(x).shape == (2, 3, 25)
    assert nn.Unflatten(1, (3, 5, 5)).forward(flat.forward(x)).shape == x.shape
    assert np.array_equal(flat.backward(np.ones((2, 75))), np.ones(x.shape))


@pytest.mark.parametrize("make, x, match", [
    (lambda: nn.Unflatten(1, (4, 4)), np.zeros((2, 15)), r"Unflatten: unflattened_size \(4, 4\) must multiply to"),
    (lambda: nn.Flatten(3, 1), np.zeros((2, 3, 4, 5)), "Flatten: start_dim must not come after end_dim"),
    (lambda: nn.Flatten(5), np.zeros((2, 3)), "Flatten: start_dim must be a dimension"),
    (lambda: nn.BatchNorm2d(3), np.zeros((2, 3)), r"BatchNorm2d: x must have 4 dims \(N, C, H, W\)"),
    (lambda: nn.BatchNorm1d(3).train(), np.zeros((1, 3)), "more than 1 value per feature"),
    (lambda: nn.LayerNorm(4), np.zeros((2, 3)), r"LayerNorm: x must end in normalized_shape \(4,\)"),
    (lambda: nn.InstanceNorm2d(3), np.zeros((2, 4, 3, 3)), "InstanceNorm2d: x has 4 channels .* num_features=3"),
    (lambda: nn.BatchNorm1d(3), np.zeros((2, 4)), "BatchNorm1d: x has 4 channels .* num_features=3"),
])
def test_module_input_errors_name_the_module(make, x, match):
    with pytest.raises(ValueError, match=match):
        make().forward(x)


@pytest.mark.parametrize("make, match", [
    (lambda: nn.BatchNorm2d(3, momentum=1.5), r"BatchNorm2d: momentum must be in \[0, 1\]"),
    (lambda: nn.BatchNorm1d(0), "BatchNorm1d: num_features must be a positive integer"),
    (lambda: nn.LayerNorm(4, eps=-1), "LayerNorm: eps must be a positive finite number"),
    (lambda: nn.ConvTranspose2d(2, 2, 0), "ConvTranspose2d: kernel_size must be a positive integer"),
])
def test_module_constructor_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def _tiny_classifier(seed=0):
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 16, dtype=np.float64, rng=seed), nn.BatchNorm1d(16, dtype=np.float64),
                         nn.LeakyReLU(0.1), nn.Linear(16, 3, dtype=np.float64, rng=seed + 1))


def test_optimizer_step_is_the_update_rule_on_every_named_parameter():
    rng = np.random.default_rng(0)
    net = _tiny_classifier().train()
    x, y = rng.standard_normal((6, 2, 2, 2)), rng.integers(0, 3, 6)
    before = {k: v.copy() for k, v in net.named_parameters()}
    opt = optim.Optimizer(net, "sgd_momentum", {"learning_rate": 0.1})
    _, dscores = softmax_loss(net.forward(x), y)
    net.backward(dscores)
    grads = dict(net.named_grads())
    assert opt.step() == 6
    for name, w in net.named_parameters():
        # first momentum step: v = -lr * dw
        np.testing.assert_allclose(w, before[name] - 0.1 * grads[name], rtol=1e-12, atol=1e-15)
    assert set(opt.configs) == set(before) and "velocity" in opt.configs["1.weight"]
    # buffers are untouched by the optimiser (only by the forward pass)
    assert "2.running_mean" not in opt.configs


def test_optimizer_leaves_frozen_parameters_and_fails_without_gradients():
    rng = np.random.default_rng(1)
    net = _tiny_classifier().train()
    net[1].requires_grad_(False)
    frozen = net[1].params["weight"].copy()
    opt = optim.Optimizer(net, "adam", {"learning_rate": 1e-2})
    net.backward(rng.standard_normal(net.forward(rng.standard_normal((4, 8))).shape))
    assert opt.step() == 4
    assert np.array_equal(net[1].params["weight"], frozen)
    opt.zero_grad()
    with pytest.raises(ValueError, match="Optimizer.step: no parameter has a gradient"):
        opt.step()
    with pytest.raises(ValueError, match="Optimizer: invalid update_rule 'adamw'"):
        optim.Optimizer(net, "adamw")
    with pytest.raises(TypeError, match="Optimizer: module must be an npnet.nn.Module"):
        optim.Optimizer({"w": np.zeros(2)})


def test_a_sequential_learns_a_separable_problem_with_adam():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 2, 2, 2))
    y = (x.reshape(60, -1) @ rng.standard_normal((8, 3))).argmax(axis=1)
    net = _tiny_classifier(3).train()
    opt = optim.Optimizer(net, "adam", {"learning_rate": 2e-2})
    losses = []
    for _ in range(60):
        loss, dscores = softmax_loss(net.forward(x), y)
        net.backward(dscores)
        opt.step()
        losses.append(loss)
    assert losses[0] > 0.8 and losses[-1] < 0.1
    opt.decay_learning_rate(0.5)
    assert opt.configs["1.weight"]["learning_rate"] == pytest.approx(1e-2)
    assert (net.eval().forward(x).argmax(axis=1) == y).mean() > 0.95
