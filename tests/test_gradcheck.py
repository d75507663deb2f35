"""The gradient-check toolkit: numerical gradients on known functions, and every registered check."""
import numpy as np
import pytest

import gradcheck
from gradcheck import (check_backward, eval_numerical_gradient, eval_numerical_gradient_array,
                       grad_check_sparse, rel_error)
from gradcheck.__main__ import main
from gradcheck.registry import CHECKS, register, run_check, select


@pytest.mark.parametrize("check", select(), ids=lambda c: c.name)
def test_registered_check_passes(check):
    err = run_check(check, seed=0)
    assert err <= check.threshold, f"{check.name}: max rel error {err:.3e} > {check.threshold:.0e}"


def test_every_layer_family_is_registered():
    names = set(CHECKS)
    for family in ["affine", "relu", "leaky_relu", "sigmoid", "tanh", "dropout", "batchnorm",
                   "spatial_batchnorm", "instance_norm", "concat", "pixel_shuffle", "pixel_unshuffle",
                   "conv", "conv_transpose", "max_pool", "avg_pool", "global_avg_pool", "softmax_loss",
                   "bce_with_logits", "mse", "rnn", "lstm", "word_embedding", "temporal_affine",
                   "temporal_softmax_loss", "fire", "squeezenet", "layernorm", "spatial_groupnorm",
                   "modules.batchnorm1d", "modules.batchnorm2d", "modules.layernorm", "modules.instancenorm2d",
                   "modules.leaky_relu", "modules.tanh", "modules.sigmoid", "modules.conv_transpose2d",
                   "modules.avg_pool2d", "modules.flatten_unflatten", "affine_relu", "conv_relu", "conv_relu_pool",
                   "two_layer_net", "fully_connected_net.batchnorm", "fully_connected_net.layernorm",
                   "fully_connected_net.dropout", "three_layer_convnet", "gan.discriminator_loss", "gan.generator_loss",
                   "gan.ls_discriminator_loss", "gan.ls_generator_loss", "gan.discriminator", "gan.generator",
                   "gan.dc_discriminator", "gan.dc_generator"]:
        assert any(n == family or n.startswith(family + ".") for n in names), family


def test_rel_error_is_cs231n_elementwise():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.1, 2.0])) == pytest.approx(0.1 / 2.1)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1e-9]), np.array([0.0])) == pytest.approx(1e-9 / 1e-8)
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.zeros(2), np.zeros(3))


def test_numerical_gradients_of_known_functions():
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    grad = eval_numerical_gradient(lambda z: np.sum(z ** 3), x.copy(), verbose=False)
    assert rel_error(grad, 3 * x ** 2) < 1e-8
    df = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert rel_error(eval_numerical_gradient_array(lambda z: np.sin(z), x.copy(), df), np.cos(x) * df) < 1e-8


def test_sparse_and_directional_checks_tell_right_from_wrong():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4))
    w = rng.standard_normal((4, 3))
    dout = rng.standard_normal((5, 3))
    right = dout @ w.T
    wrong = right * (1 + 0.01 * rng.standard_normal(right.shape))
    f = lambda z: float(np.sum((z @ w) * dout))  # noqa: E731
    assert max(grad_check_sparse(f, x.copy(), right, num_checks=8, seed=1, verbose=False)) < 1e-8
    assert max(grad_check_sparse(f, x.copy(), wrong, num_checks=8, seed=1, verbose=False)) > 1e-4
    assert check_backward(lambda z: z @ w, [x], dout, [right]) < 1e-6
    assert check_backward(lambda z: z @ w, [x], dout, [wrong]) > 1e-4
    # A None gradient means "not checked": only the other input is perturbed.
    assert check_backward(lambda z, v: z @ v, [x, w], dout, [right, None]) < 1e-6


def test_command_line_table_and_exit_codes(capsys):
    assert main(["relu", "conv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split(" | ") == ["name".ljust(len(out.splitlines()[2].split(" | ")[0])),
                                                 "max rel error", "threshold", "ok"]
    assert "conv.fast" in out and "relu" in out
    n = len(out.splitlines()) - 3  # header, rule, summary
    assert f"{n} of {n} implemented, {n} pass" in out
    assert main(["no_such_layer"]) == 2
    assert "no check named 'no_such_layer'" in capsys.readouterr().err

    @register("broken.always", threshold=1e-8)
    def _(rng):
        return 0.5

    try:
        assert main(["broken"]) == 1
        assert "FAIL" in capsys.readouterr().out
    finally:
        del CHECKS["broken.always"]


def test_command_line_reports_stubs_as_todo_and_keeps_going(capsys):
    @register("student.stub", threshold=1e-8)
    def _(rng):
        raise NotImplementedError("affine_forward: not implemented yet")

    @register("student.crash", threshold=1e-8)
    def _(rng):
        raise IndexError("index 3 is out of bounds")

    try:
        assert main(["student.stub"]) == 0  # only todo: nothing implemented is wrong
        out = capsys.readouterr().out
        assert "| todo  (affine_forward: not implemented yet)" in out
        assert "0 of 1 implemented, 0 pass" in out
        assert main(["student", "relu"]) == 1  # the crash fails the run, the others still run
        out = capsys.readouterr().out
        assert "error (IndexError: index 3 is out of bounds)" in out
        assert "2 of 3 implemented, 1 pass" in out
    finally:
        del CHECKS["student.stub"], CHECKS["student.crash"]


def test_registry_refuses_duplicate_names():
    with pytest.raises(ValueError, match="exists already"):
        register("relu")(lambda rng: 0.0)
    assert gradcheck.CHECKS is CHECKS
