"""First-order update rules, CS231n style: ``next_w, config = rule(w, dw, config)``.

``config`` is a dict holding the hyperparameters (learning rate, ...) and the per-parameter state
the rule keeps between steps (velocity, moment estimates, ...). A rule fills in missing entries with
its defaults, updates the state in place and returns the same dict, so each parameter needs its own
config dict. ``w`` is not modified; the new weights are returned with the dtype of ``w``.

:class:`Optimizer` applies a rule to every named parameter of an :class:`npnet.nn.Module`, one config
per parameter, so a ``Sequential`` trains with exactly the rules the CS231n models use. With Adam it,
and :class:`npnet.solver.Solver`, update each parameter in place (:func:`apply_rule`, the same numbers
as :func:`adam`).
"""
import numpy as np
from numba import njit

from . import _check, kernels, threads
from .errors import NpnetTypeError, NpnetValueError
from .kernels import _u  # unsigned indices: see npnet.kernels

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam"]
UPDATE_RULES = tuple(__all__)


def resolve_update_rule(fn, rule):
    """The update function named by ``rule`` (one of :data:`UPDATE_RULES`) or ``rule`` itself if callable."""
    if isinstance(rule, str):
        if rule not in UPDATE_RULES:
            raise NpnetValueError(f"{fn}: invalid update_rule {rule!r}; expected one of {', '.join(UPDATE_RULES)}")
        return globals()[rule]
    if not callable(rule):
        raise NpnetTypeError(f"{fn}: update_rule must be a name or a function; got {type(rule).__name__}")
    return rule


class Optimizer:
    """One update rule applied to every named parameter of a module, each with its own config dict.

    ::

        opt = Optimizer(net, "adam", {"learning_rate": 1e-3})
        net.backward(dscores)      # fills the modules' grads
        opt.step()                 # w <- rule(w, dw, config[name]) for every parameter with a gradient

    Parameters without a gradient (a frozen sub-network, ``requires_grad_(False)``) are left alone.
    With the built-in ``'adam'`` the parameters (and Adam's moments) are updated in place, as
    ``torch.optim`` does, so an array taken from ``state_dict()`` moves with training: copy it to keep
    a snapshot. Other rules return new arrays.

    Args:
        module: an :class:`npnet.nn.Module`.
        update_rule: ``'sgd'``, ``'sgd_momentum'``, ``'rmsprop'``, ``'adam'`` or a function
            ``rule(w, dw, config) -> (next_w, config)``.
        config: hyperparameters (e.g. ``{'learning_rate': 1e-3, 'beta1': 0.5}``); each parameter gets a
            copy, which then also holds its optimiser state. ``configs[name]`` is that dict.
    """

    def __init__(self, module, update_rule="adam", config=None):
        fn = "Optimizer"
        if not hasattr(module, "named_modules"):
            raise NpnetTypeError(f"{fn}: module must be an npnet.nn.Module; got {type(module).__name__}")
        if config is not None and not isinstance(config, dict):
            raise NpnetTypeError(f"{fn}: config must be a dict or None; got {type(config).__name__}")
        self.module = module
        self.rule = resolve_update_rule(fn, update_rule)
        self.configs = {name: dict(config or {}) for name, _ in module.named_parameters()}

    def step(self):
        """Update every parameter that has a gradient from the last backward; returns how many."""
        updated = 0
        for prefix, mod in self.module.named_modules():
            for local, w in mod.params.items():
                dw = mod.grads.get(local)
                if dw is None:
                    continue
                name = f"{prefix}.{local}" if prefix else local
                mod.params[local], self.configs[name] = apply_rule(self.rule, w, dw, self.configs[name])
                updated += 1
        if updated == 0:
            raise NpnetValueError("Optimizer.step: no parameter has a gradient; call the module's backward "
                                  "(with requires_grad on) before step()")
        return updated

    def zero_grad(self):
        """Forget the gradients of the last backward (so a parameter not reached again is not updated)."""
        self.module.zero_grad()

    def decay_learning_rate(self, factor):
        """Multiply every parameter's learning rate by ``factor`` (e.g. once per epoch).

        A config gets its rule's default learning rate at the first ``step``; decay applies from then on.
        """
        for config in self.configs.values():
            if "learning_rate" in config:
                config["learning_rate"] *= factor


# Allowed range of every hyper-parameter (keyword arguments of _check.number). A decay or beta of 1
# would stop the running averages from ever moving (and divide by zero in Adam's bias correction).
HYPER_PARAMETERS = {
    "learning_rate": {"low": 0},
    "momentum": {"low": 0, "high": 1, "high_open": True},
    "decay_rate": {"low": 0, "high": 1, "high_open": True},
    "beta1": {"low": 0, "high": 1, "high_open": True},
    "beta2": {"low": 0, "high": 1, "high_open": True},
    "epsilon": {"low": 0, "low_open": True},
}


def _prepare(fn, w, dw, config, defaults, check_finite=True):
    """Validate ``w``/``dw`` and the hyper-parameters, fill ``config`` with ``defaults`` and return them
    (dw cast to w's dtype). Gradients must be finite: one NaN step would make every weight NaN
    (``check_finite=False`` leaves that check to the caller)."""
    w = _check.float_array(fn, "w", w)
    dw = _check.float_array(fn, "dw", dw)
    _check.same_shape(fn, "dw", dw, w.shape, ref_name="w")
    if check_finite:
        _check.finite(fn, "w", w)
        _check.finite(fn, "dw", dw)
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise NpnetTypeError(f"{fn}: config must be a dict or None; got {type(config).__name__}")
    _check.params(fn, "config", config, defaults=defaults)
    for key, value in defaults.items():
        config.setdefault(key, value)
    config.update(_check.hyper(fn, config, HYPER_PARAMETERS, prefix="config"))
    return w, dw.astype(w.dtype, copy=False), config


def _state(fn, config, key, w, squares=False, check_values=True):
    """The state array ``config[key]`` (zeros like ``w`` on the first step), checked against ``w``.

    With ``check_values``, a state no step can produce is refused: NaN/Inf, and negative values in a
    running mean of squares (``squares``: RMSProp's cache, Adam's ``v``), whose square root is NaN.
    """
    value = config.get(key)
    if value is None:
        return np.zeros_like(w)
    value = _check.float_array(fn, f"config[{key!r}]", value)
    _check.same_shape(fn, f"config[{key!r}]", value, w.shape, ref_name="w")
    if check_values:
        _check.finite(fn, f"config[{key!r}]", value)
        if squares and value.min() < 0:
            raise NpnetValueError(f"{fn}: config[{key!r}] is a running mean of squared gradients and must be >= 0; "
                                  f"got {int(np.count_nonzero(value < 0))} negative value(s), the lowest "
                                  f"{value.min():.4g}")
    return value


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent, ``w - learning_rate * dw``.

    Args:
        w: weights (any shape). dw: gradient, shaped like ``w``.
        config: ``learning_rate`` (default 1e-2).
    Returns:
        next_w: shaped like ``w``. config: the updated dict.
    """
    w, dw, config = _prepare("sgd", w, dw, config, {"learning_rate": 1e-2})
    # BEGIN SOLUTION
    next_w = w - config["learning_rate"] * dw
    # END SOLUTION
    return next_w.astype(w.dtype, copy=False), config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum (Polyak 1964): ``v = momentum * v - learning_rate * dw``, ``w + v``.

    Args:
        w: weights (any shape). dw: gradient, shaped like ``w``.
        config: ``learning_rate`` (default 1e-2), ``momentum`` (default 0.9), ``velocity`` (state,
            zeros on the first step).
    Returns:
        next_w: shaped like ``w``. config: the updated dict.
    """
    fn = "sgd_momentum"
    w, dw, config = _prepare(fn, w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9, "velocity": None})
    v = _state(fn, config, "velocity", w)
    # BEGIN SOLUTION
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    # END SOLUTION
    config["velocity"] = v
    return next_w.astype(w.dtype, copy=False), config


def rmsprop(w, dw, config=None):
    """RMSProp (Tieleman & Hinton 2012, Coursera lecture 6.5): a step scaled by a running RMS of dw.

    ``cache = decay_rate * cache + (1 - decay_rate) * dw**2``;
    ``w - learning_rate * dw / (sqrt(cache) + epsilon)``.

    Args:
        w: weights (any shape). dw: gradient, shaped like ``w``.
        config: ``learning_rate`` (default 1e-2), ``decay_rate`` (0.99), ``epsilon`` (1e-8),
            ``cache`` (state, zeros on the first step).
    Returns:
        next_w: shaped like ``w``. config: the updated dict.
    """
    fn = "rmsprop"
    w, dw, config = _prepare(fn, w, dw, config, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8,
                                                 "cache": None})
    cache = _state(fn, config, "cache", w, squares=True)
    # BEGIN SOLUTION
    cache = config["decay_rate"] * cache + (1 - config["decay_rate"]) * dw * dw
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    # END SOLUTION
    config["cache"] = cache
    return next_w.astype(w.dtype, copy=False), config


ADAM_DEFAULTS = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0, "m": None,
                 "v": None}


def adam(w, dw, config=None):
    """Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization"), with bias correction.

    ``t += 1`` first, then ``m = beta1 m + (1 - beta1) dw``, ``v = beta2 v + (1 - beta2) dw**2``,
    ``w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)`` with ``m_hat = m / (1 - beta1**t)``,
    ``v_hat = v / (1 - beta2**t)``.

    Args:
        w: weights (any shape). dw: gradient, shaped like ``w``.
        config: ``learning_rate`` (default 1e-3), ``beta1`` (0.9), ``beta2`` (0.999), ``epsilon``
            (1e-8), and the state ``m``, ``v`` (zeros on the first step) and ``t`` (0 before it).
    Returns:
        next_w: shaped like ``w``. config: the updated dict.
    """
    fn = "adam"
    w, dw, config = _prepare(fn, w, dw, config, ADAM_DEFAULTS)
    m, v = _state(fn, config, "m", w), _state(fn, config, "v", w, squares=True)
    t = _check.nonnegative_int(fn, "config['t']", config["t"])
    beta1, beta2 = config["beta1"], config["beta2"]
    # BEGIN SOLUTION
    t += 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    # END SOLUTION
    config.update(m=m, v=v, t=t)
    return next_w.astype(w.dtype, copy=False), config


_ADAM = adam  # the reference rule, even if a grader later swaps ``optim.adam`` for a student's version


def apply_rule(rule, w, dw, config):
    """``rule(w, dw, config)``; for npnet's Adam, ``w`` is updated in place when it can be
    (:func:`_adam_in_place`: the same numbers, 3-5x faster). What :class:`Optimizer` and
    :class:`npnet.solver.Solver` run for every parameter."""
    threads.adapt()  # BLAS's thread count follows the free cores (npnet.threads); cheap between looks
    if rule is _ADAM and _adam_in_place_fits(w, dw):
        return _adam_in_place(w, dw, config)
    return rule(w, dw, config)


def _adam_in_place_fits(w, dw):
    """Whether :func:`_adam_in_place` can update ``w`` (float, C-contiguous, writeable) itself."""
    return (isinstance(w, np.ndarray) and w.dtype in (np.float32, np.float64) and w.flags.c_contiguous
            and w.flags.writeable and isinstance(dw, np.ndarray))


def _adam_in_place(w, dw, config):
    """:func:`adam` updating ``w`` and its moments ``m`` and ``v`` in place, in one pass over memory.

    The same checks and the same numbers as :func:`adam` (every operation in the same order and
    dtype), without the NumPy expression's seven temporaries: for the DCGAN's 8.5 M parameters those
    took about a quarter of a training iteration. Used by :class:`Optimizer`; ``w`` must pass
    :func:`_adam_in_place_fits`. Returns ``(w, config)``.
    """
    fn = "adam"
    w, dw, config = _prepare(fn, w, dw, config, ADAM_DEFAULTS, check_finite=False)
    # The moments here are the Optimizer's or the Solver's own (made by this rule, or read from a
    # checkpoint, which refuses NaN); two more passes over them would cost what the fusion saves, and a
    # bad value still ends in the callers' check of the updated weights.
    m, v = _state(fn, config, "m", w, check_values=False), _state(fn, config, "v", w, check_values=False)
    t = _check.nonnegative_int(fn, "config['t']", config["t"]) + 1
    if not all(a.dtype == w.dtype and a.flags.c_contiguous and a.flags.writeable for a in (m, v)):
        return adam(w, dw, config)  # moments handed in from elsewhere: the reference rule copes with them
    # A Linear weight's gradient arrives as the transpose of affine_backward's C-ordered dw: the kernel
    # reads it through that C-ordered array instead of NumPy copying it (a column-by-column copy that
    # misses the cache when the rows are 4 KiB apart). Any other strided gradient is copied.
    transposed = dw.ndim == 2 and not dw.flags.c_contiguous and dw.T.flags.c_contiguous
    grad = dw.T if transposed else np.ascontiguousarray(dw)
    if not (kernels.all_finite(w.reshape(-1)) and kernels.all_finite(grad.reshape(-1))):
        _check.finite(fn, "w", w)  # raise the reference rule's message, counting the bad values
        _check.finite(fn, "dw", dw)
    beta1, beta2 = config["beta1"], config["beta2"]
    # The reference rule meets w's dtype with Python floats, which NumPy 2 rounds to that dtype: so
    # each scalar is computed in float64 as there, then rounded once.
    scalars = tuple(map(w.dtype.type, (beta1, 1 - beta1, beta2, 1 - beta2, 1 - beta1 ** t, 1 - beta2 ** t,
                                       config["learning_rate"], config["epsilon"])))
    # memory-bound: big parameters are split between npnet's kernel threads (npnet.kernels.split)
    if transposed:
        kernels.split(_adam_rows_transposed, w.shape[0], w.size, w, grad, m, v, *scalars)
    else:
        kernels.split(_adam_range, w.size, w.size, w.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1),
                      *scalars)
    config.update(m=m, v=v, t=t)
    return w, config


# error_model="numpy": a division by zero gives Inf/NaN as in NumPy instead of a Python exception,
# whose per-element test kept the loop from vectorising (12x slower).
@njit(cache=True, nogil=True, error_model="numpy")
def _adam_range(w, dw, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, correction1, correction2,
                learning_rate, epsilon, lo, hi):
    """The arithmetic of :func:`adam` value by value on the range [lo, hi) of flat ``w``, ``dw``, ``m``,
    ``v``, updating ``w``, ``m`` and ``v``; every scalar is in w's dtype, every operation in the
    reference order."""
    for k in range(lo, hi):
        i = _u(k)
        g = dw[i]
        m_i = beta1 * m[i] + one_minus_beta1 * g
        v_i = beta2 * v[i] + one_minus_beta2 * g * g
        m[i], v[i] = m_i, v_i
        w[i] = w[i] - learning_rate * (m_i / correction1) / (np.sqrt(v_i / correction2) + epsilon)


# Rows of w per block in _adam_rows_transposed: the block's gradient (8 rows of 4 KiB for a Linear with
# 1024 inputs) stays in the L1 cache between its transpose and its update.
TRANSPOSE_BLOCK = 8


@njit(cache=True, nogil=True, error_model="numpy")
def _adam_rows_transposed(w, dwt, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, correction1,
                          correction2, learning_rate, epsilon, lo, hi):
    """:func:`_adam_range` on the rows [lo, hi) of the 2-D, C-ordered ``w`` (R, C) whose gradient is
    ``dwt.T``, ``dwt`` (C, R) C-ordered. A block of rows at a time, the gradient's columns are copied
    into a small C-ordered buffer (reads of ``dwt`` a block wide, i.e. one cache line for 8 floats; the
    buffer stays in the cache), then that block is updated as flat memory: the same numbers as
    copying the whole gradient first, without a second array of the parameter's size."""
    R, C = w.shape
    block = np.empty((TRANSPOSE_BLOCK, C), w.dtype)
    for r0 in range(lo, hi, TRANSPOSE_BLOCK):
        rows = min(TRANSPOSE_BLOCK, hi - r0)
        for c in range(C):
            for k in range(rows):
                block[_u(k), _u(c)] = dwt[_u(c), _u(r0 + k)]
        _adam_range(w[r0:r0 + rows].reshape(-1), block[:rows].reshape(-1), m[r0:r0 + rows].reshape(-1),
                    v[r0:r0 + rows].reshape(-1), beta1, one_minus_beta1, beta2, one_minus_beta2, correction1,
                    correction2, learning_rate, epsilon, 0, rows * C)
