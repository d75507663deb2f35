"""The gradient-check toolkit: numerical gradients on known functions, and every registered check."""
import numpy as np
import pytest

import gradcheck
from gradcheck import (check_backward, eval_numerical_gradient, eval_numerical_gradient_array,
                       grad_check_sparse, rel_error)
from gradcheck.__main__ import main
from gradcheck.registry import CHECKS, layer_error, register, run_check, select


@pytest.mark.parametrize("check", select(), ids=lambda c: c.name)
def test_registered_check_passes(check):
    err = run_check(check, seed=0)
    assert err <= check.threshold, f"{check.name}: max rel error {err:.3e} > {check.threshold:.0e}"


def test_every_layer_family_is_registered():
    names = set(CHECKS)
    for family in ["affine", "relu", "leaky_relu", "sigmoid", "tanh", "dropout", "batchnorm",
                   "spatial_batchnorm", "instance_norm", "concat", "pixel_shuffle", "pixel_unshuffle",
                   "conv", "conv_transpose", "max_pool", "max_pool.relu_below", "avg_pool", "global_avg_pool",
                   "softmax_loss", "bce_with_logits", "mse", "rnn", "lstm", "word_embedding", "temporal_affine",
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


# ---------------------------------------------------------------- a broken backward is reported as broken
def _affine(x, w):
    return x @ w, (x, w)


def _right(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout


BROKEN_BACKWARDS = {
    "nan": lambda dout, cache: (np.full_like(_right(dout, cache)[0], np.nan), _right(dout, cache)[1]),
    "one_nan": lambda dout, cache: (np.where(np.arange(_right(dout, cache)[0].size).reshape(-1, 3) == 4, np.nan,
                                             _right(dout, cache)[0]), _right(dout, cache)[1]),
    "inf": lambda dout, cache: (_right(dout, cache)[0], np.full_like(_right(dout, cache)[1], np.inf)),
    "wrong_sign": lambda dout, cache: tuple(-g for g in _right(dout, cache)),
    "zero": lambda dout, cache: tuple(np.zeros_like(g) for g in _right(dout, cache)),
}


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((4, 3)), rng.standard_normal((3, 2))]


def test_layer_error_passes_a_right_backward():
    assert layer_error(_affine, _right, _inputs(), np.random.default_rng(1)) < 1e-8


@pytest.mark.parametrize("kind", sorted(BROKEN_BACKWARDS))
def test_layer_error_reports_a_broken_backward(kind):
    err = layer_error(_affine, BROKEN_BACKWARDS[kind], _inputs(), np.random.default_rng(1))
    # NaN compares false with every threshold; `max(0.0, nan)` used to turn it into a perfect 0.0.
    assert not err <= 1e-2, f"{kind}: error {err} would pass"


@pytest.mark.parametrize("kind", sorted(BROKEN_BACKWARDS))
def test_check_backward_reports_a_broken_backward(kind):
    x, w = _inputs()
    dout = np.random.default_rng(2).standard_normal((4, 2))
    grads = BROKEN_BACKWARDS[kind](dout, (x, w))
    err = check_backward(lambda a, b: a @ b, [x, w], dout, list(grads))
    assert not err <= 1e-2, f"{kind}: error {err} would pass"
    assert check_backward(lambda a, b: a @ b, [x, w], dout, list(_right(dout, (x, w)))) < 1e-6


def test_sparse_check_reports_nan():
    x = np.ones((2, 2))
    errors = grad_check_sparse(lambda z: float(np.sum(z)), x, np.full((2, 2), np.nan), num_checks=3, verbose=False)
    assert all(np.isnan(errors))


@pytest.mark.parametrize("kind", sorted(BROKEN_BACKWARDS))
def test_command_line_fails_a_broken_backward(kind, capsys):
    name = f"broken_{kind}"

    @register(name, threshold=1e-7)
    def _(rng):
        return layer_error(_affine, BROKEN_BACKWARDS[kind], _inputs(), rng)

    try:
        assert main([name, "relu"]) == 1
        rows = {line.split(" | ")[0].strip(): line.split(" | ")[-1].strip()
                for line in capsys.readouterr().out.splitlines()[2:-1]}
        assert rows == {name: "FAIL", "relu": "ok"}
    finally:
        del CHECKS[name]


@pytest.mark.parametrize("call, match", [
    (lambda x: eval_numerical_gradient(np.sum, x, verbose=False, h=0), r"eval_numerical_gradient: h must be a positive"),
    (lambda x: eval_numerical_gradient_array(np.sin, x, x, h=-1e-5), r"eval_numerical_gradient_array: h must be a pos"),
    (lambda x: eval_numerical_gradient_array(np.sin, x, x, h=float("nan")), r"h must be a positive finite number"),
    (lambda x: eval_numerical_gradient_array(np.sin, x.astype(int), x), r"x must be a floating-point array"),
    (lambda x: eval_numerical_gradient(np.sum, x > 0, verbose=False), r"x must be a floating-point array.*got dtype bool"),
    (lambda x: grad_check_sparse(np.sum, x, x, num_checks=-1, verbose=False), r"num_checks must be a non-negative int"),
    (lambda x: grad_check_sparse(np.sum, x, x[:1], verbose=False), r"analytic_grad must have the shape of x"),
    (lambda x: check_backward(np.sin, [x], x, [x], h=0), r"check_backward: h must be a positive finite number"),
    (lambda x: check_backward(np.sin, [x], x, [x], num_directions=0), r"num_directions must be a positive integer"),
    (lambda x: check_backward(np.sin, [x.astype(int)], x, [x]), r"check_backward: inputs\[0\] must be a floating"),
    (lambda x: check_backward(np.sin, [x], x, [x, x]), r"check_backward: grads must hold one gradient"),
])
def test_numerical_gradient_arguments_are_checked(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(np.ones((2, 3)))


def _read_only(x):
    x.flags.writeable = False
    return x


# Issue 22 part 6: what students pass by mistake gets one line naming the helper and the argument.
@pytest.mark.parametrize("call, match", [
    (lambda x: eval_numerical_gradient(np.sum, _read_only(x), verbose=False),
     r"^eval_numerical_gradient: x must be a writable array .* read-only array of shape \(2, 3\); pass x.copy\(\)$"),
    (lambda x: eval_numerical_gradient_array(np.sin, _read_only(x), x),
     r"^eval_numerical_gradient_array: x must be a writable array"),
    (lambda x: eval_numerical_gradient(np.sum, x[:0], verbose=False), r"^eval_numerical_gradient: x is empty \(shape"),
    (lambda x: eval_numerical_gradient_array(np.sin, x[:0], x[:0]), r"^eval_numerical_gradient_array: x is empty"),
    (lambda x: eval_numerical_gradient(np.sin, x, verbose=False),
     r"^eval_numerical_gradient: f must return a scalar .*; got an array of shape \(2, 3\)$"),
    (lambda x: eval_numerical_gradient(lambda z: (np.sum(z), z), x, verbose=False),
     r"^eval_numerical_gradient: f must return a scalar"),
    (lambda x: eval_numerical_gradient(np.sum, x.tolist(), verbose=False),
     r"^eval_numerical_gradient: x must be a NumPy array \(it is updated in place\); got list"),
    (lambda x: eval_numerical_gradient_array(lambda z: 2 * z, [1.0, 2.0], np.ones(2)),
     r"^eval_numerical_gradient_array: x must be a NumPy array \(it is updated in place\); got list"),
    (lambda x: eval_numerical_gradient_array(np.sin, x, x[:1]),
     r"^eval_numerical_gradient_array: f\(x\) must be a real array of df's shape \(1, 3\); got float64 array of "
     r"shape \(2, 3\)$"),
    (lambda x: eval_numerical_gradient_array(lambda z: (np.sin(z), None), x, x),
     r"f\(x\) must be a real array of df's shape \(2, 3\); got a tuple of 2 \(if it is \(out, cache\), take \[0\]\)"),
    (lambda x: eval_numerical_gradient_array(np.sin, x, "ones"), r"^eval_numerical_gradient_array: df must be"),
    (lambda x: grad_check_sparse(np.sum, x[:0], x[:0], verbose=False), r"^grad_check_sparse: x is empty"),
    (lambda x: grad_check_sparse(np.sum, x, x, seed="abc", verbose=False),
     r"^grad_check_sparse: seed must be an int >= 0 \(a seed\), None or a np.random.Generator; got 'abc'$"),
    (lambda x: layer_error(*_RELU, [x], np.random.default_rng(0), wrt=[5]),
     r"^layer_error: wrt must list, for each returned gradient, the index of its input \(an int in 0..0\); got \[5\]$"),
    (lambda x: layer_error(*_RELU, [x], np.random.default_rng(0), wrt=[0, 0]),
     r"^layer_error: backward returned 1 gradient\(s\) for 1 input\(s\) and wrt \[0, 0\]"),
    (lambda x: layer_error(*_RELU, [x], "seed"), r"^layer_error: rng must be an int >= 0 \(a seed\)"),
    (lambda x: select([5]), r"^select: names must be a list of check names or families \(str\).*; got \[5\]$"),
    (lambda x: rel_error(np.array([1j]), np.array([1j])), r"^rel_error: x must be a real number or array"),
])
def test_gradient_helpers_name_the_bad_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match) as info:
        call(np.random.default_rng(0).standard_normal((2, 3)))
    assert "\n" not in str(info.value)


def _relu_pair():
    from npnet.layers import relu_backward, relu_forward
    return relu_forward, relu_backward


_RELU = _relu_pair()


def test_gradient_helpers_take_any_numpy_seed_and_a_single_name():
    x = np.array([0.5, -1.0, 2.0])
    # an int seed, a Generator and None all give a passing check (the int is the same as its Generator)
    assert layer_error(*_RELU, [x], 3) == layer_error(*_RELU, [x], np.random.default_rng(3)) < 1e-9
    assert layer_error(*_RELU, [x], None) < 1e-9
    assert grad_check_sparse(np.sum, x.copy(), np.ones(3), num_checks=2, seed=np.random.default_rng(0),
                             verbose=False) == grad_check_sparse(np.sum, x.copy(), np.ones(3), num_checks=2, seed=0,
                                                                 verbose=False)
    assert [c.name for c in select("relu")] == [c.name for c in select(["relu"])] != []


def test_float32_point_is_checked_as_given_with_a_warning():
    """A float32 x is perturbed in place as a float32 (f may read it through a closure, so a float64 copy
    would leave f unmoved); the numbers carry float32 rounding / 2h, which the warning says."""
    from npnet.errors import PrecisionWarning

    x = np.random.default_rng(0).standard_normal(50).astype(np.float32)
    with pytest.warns(PrecisionWarning, match=r"^eval_numerical_gradient: x is float32, so the numerical gradient is "
                                               r"only good to about 1e-2 with h=1e-05"):
        g32 = eval_numerical_gradient(lambda z: float(np.sum(z.astype(np.float64) ** 2)), x, verbose=False)
    assert g32.dtype == np.float32
    err32 = np.abs(g32 - 2 * x.astype(np.float64)).max()
    assert 1e-3 < err32 < 0.1                      # the size the warning states
    with pytest.warns(PrecisionWarning, match="eval_numerical_gradient_array: x is float32"):
        eval_numerical_gradient_array(lambda z: 2 * z, x, np.ones(50))
    x64 = x.astype(np.float64)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning in float64, and the float64 answer is good to 1e-9
        g64 = eval_numerical_gradient(lambda z: float(np.sum(z ** 2)), x64, verbose=False)
    assert np.abs(g64 - 2 * x64).max() < 1e-8


def test_numerical_gradient_restores_a_point_read_through_a_closure():
    w = np.array([1.0, -2.0, 3.0])
    before = w.copy()
    g = eval_numerical_gradient(lambda _: float(np.sum(w ** 3)), w, verbose=False)
    assert np.allclose(g, 3 * before ** 2, rtol=1e-8) and np.array_equal(w, before)


def test_module_and_model_errors_report_nan_gradients():
    from gradcheck.registry import model_error, module_error
    from npnet.nn import Linear

    class NanLinear(Linear):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["bias"] = np.full_like(self.grads["bias"], np.nan)
            return dx

    x = np.random.default_rng(0).standard_normal((2, 3))
    assert module_error(Linear(3, 2, dtype=np.float64, rng=0), x.copy(), np.random.default_rng(1)) < 1e-7
    assert np.isnan(module_error(NanLinear(3, 2, dtype=np.float64, rng=0), x.copy(), np.random.default_rng(1)))

    class NanModel:
        params = {"w": np.ones(2), "b": np.zeros(2)}

        def loss(self, X, y):
            return float(np.sum(self.params["w"] * X)), {"w": X.copy(), "b": np.full(2, np.nan)}

    X = np.array([1.0, 2.0])
    assert not model_error(NanModel(), X, None) <= 1e-7            # NaN, not 0
    assert model_error(NanModel(), X, None, zero=("b",)) == 1.0     # a NaN "zero" gradient is an error of 1
