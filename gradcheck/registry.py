"""The registry of gradient checks behind ``python -m gradcheck`` and the test suite.

A check is a function ``check(rng) -> float`` returning the largest relative error it saw between an
analytic and a numerical gradient, registered under a name ``family`` or ``family.variant`` with the
threshold it must stay under. Checks live in the ``gradcheck/cases_*.py`` modules, one per layer family;
adding a layer to npnet means adding a check there.
"""
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .numeric import _worst, eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from npnet import _check
from npnet.errors import NpnetTypeError, NpnetValueError


@dataclass(frozen=True)
class Check:
    name: str
    fn: Callable
    threshold: float


CHECKS = {}


def register(name, threshold=1e-7):
    """Decorator: add ``fn(rng) -> max relative error`` to the registry under ``name``."""
    def deco(fn):
        if name in CHECKS:
            raise NpnetValueError(f"register: a gradient check named {name!r} exists already")
        CHECKS[name] = Check(name, fn, threshold)
        return fn
    return deco


def load_all():
    """Import every ``gradcheck.cases_*`` module so that its checks register themselves."""
    import gradcheck
    for info in pkgutil.iter_modules(gradcheck.__path__):
        if info.name.startswith("cases_"):
            importlib.import_module(f"gradcheck.{info.name}")
    return CHECKS


def select(names=()):
    """Checks whose name is one of ``names`` or starts with ``name + '.'``; all of them if none given."""
    names = (names,) if isinstance(names, str) else names
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise NpnetTypeError(f"select: names must be a list of check names or families (str), e.g. ['conv', "
                             f"'relu']; got {names!r:.60}")
    checks = load_all()
    if not names:
        return list(checks.values())
    chosen, unknown = [], []
    for want in names:
        hits = [c for n, c in checks.items() if n == want or n.startswith(want + ".")]
        if not hits:
            unknown.append(want)
        chosen += [c for c in hits if c not in chosen]
    if unknown:
        raise KeyError(f"gradcheck: no check named {', '.join(map(repr, unknown))}; "
                       f"known families: {', '.join(sorted({n.split('.')[0] for n in checks}))}")
    return chosen


def run_check(check, seed=0):
    """Run one check with a fixed seed; returns its max relative error."""
    return float(check.fn(np.random.default_rng(seed)))


def layer_error(forward, backward, inputs, rng, wrt=None):
    """Max relative error of a CS231n-style forward/backward pair against numerical gradients.

    Args:
        forward: ``forward(*inputs) -> (out, cache)`` (bind any non-array arguments beforehand).
        backward: ``backward(dout, cache) -> grad`` or a tuple of grads.
        inputs: list of float64 arrays.
        wrt: for each returned grad, the index of the input it belongs to (default 0, 1, 2, ...).
    Returns:
        The largest relative error over all gradients; NaN if any gradient (or the forward) gives NaN.
    """
    fn = "layer_error"
    _check.function(fn, "forward", forward)
    _check.function(fn, "backward", backward)
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise NpnetTypeError(f"{fn}: inputs must be a non-empty list of float64 arrays; got {inputs!r:.60}")
    inputs = [_check.float_array(fn, f"inputs[{i}]", x) for i, x in enumerate(inputs)]
    rng = _check.rng(fn, "rng", rng)
    if wrt is not None:
        if not isinstance(wrt, (list, tuple, range)) or not all(
                type(i) is int and 0 <= i < len(inputs) for i in wrt):
            raise NpnetValueError(f"{fn}: wrt must list, for each returned gradient, the index of its input "
                                  f"(an int in 0..{len(inputs) - 1}); got {wrt!r:.60}")
    out, cache = forward(*inputs)
    dout = rng.standard_normal(np.shape(out))
    grads = backward(dout, cache)
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    wrt = range(len(grads)) if wrt is None else wrt
    if len(wrt) != len(grads) or len(grads) > len(inputs):
        raise NpnetValueError(f"{fn}: backward returned {len(grads)} gradient(s) for {len(inputs)} input(s) "
                              f"and wrt {list(wrt)}; give wrt one input index per gradient")
    errors = []
    for grad, i in zip(grads, wrt):
        def f(xi, i=i):
            args = list(inputs)
            args[i] = xi
            return forward(*args)[0]
        errors.append(rel_error(eval_numerical_gradient_array(f, inputs[i], dout), grad))
    return _worst(errors)


def loss_error(loss_fn, x, *args):
    """Max relative error of ``loss_fn(x, *args) -> (loss, dx)`` against numerical gradients of the loss."""
    _check.function("loss_error", "loss_fn", loss_fn)
    x = _check.float_array("loss_error", "x", x)
    _, dx = loss_fn(x, *args)
    numeric = eval_numerical_gradient_array(lambda z: np.array(loss_fn(z, *args)[0]), x, np.array(1.0))
    return rel_error(numeric, dx)


def module_error(module, x, rng):
    """Max relative error of an ``npnet.nn`` module's input and parameter gradients against numerical ones."""
    fn = "module_error"
    _check.model(fn, module, ("forward", "backward", "named_grads", "named_parameters"))
    x = _check.float_array(fn, "x", x)
    out = module.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = module.backward(dout)
    errors = [rel_error(dx, eval_numerical_gradient_array(module.forward, x.copy(), dout))]
    analytic = dict(module.named_grads())
    for name, param in module.named_parameters():
        numeric = eval_numerical_gradient_array(lambda _: module.forward(x), param, dout)
        errors.append(rel_error(analytic[name], numeric))
    return _worst(errors)  # NaN if any gradient is NaN (max(0.0, nan) would be 0.0)


def model_error(model, X, y, zero=()):
    """Max relative error of a CS231n model's ``loss(X, y) -> (loss, grads)`` against numerical gradients
    of the loss with respect to every entry of ``model.params``.

    ``zero`` names parameters whose true gradient is exactly 0 (a bias just before batch norm, which
    subtracts it again); a relative error cannot judge those, so both gradients must be below 1e-8
    in absolute value instead (else the error is 1).
    """
    _check.model("model_error", model, ("loss", "params"))
    _, grads = model.loss(X, y)
    errors = []
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param, verbose=False)
        if name in zero:
            # np.max propagates NaN and NaN < 1e-8 is False, so a NaN gradient counts as an error of 1
            largest = np.max([np.abs(numeric).max(), np.abs(grads[name]).max()])
            errors.append(0.0 if largest < 1e-8 else 1.0)
        else:
            errors.append(rel_error(numeric, grads[name]))
    return _worst(errors)
