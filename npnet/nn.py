"""Modules: a small object layer over the functional layers in ``npnet.layers``.

A module's ``forward`` calls a ``*_forward`` function and keeps its cache; its ``backward`` hands that
cache to the matching ``*_backward`` function, stores parameter gradients in ``grads`` and returns the
gradient for its input. That is the whole mechanism:

    conv = Conv2d(3, 8, 3, padding=1)
    out = conv.forward(x)          # caches what backward needs
    dx = conv.backward(dout)       # fills conv.grads['weight'], conv.grads['bias']

``Sequential`` adds the three things visualisation and style transfer need:

* ``seq.outputs[i]`` is the output of layer ``i`` from the last forward (read any activation);
* ``seq.forward(x, start, end)`` runs only ``layers[start:end]``;
* ``seq.backward(dout, start, end)`` runs the same range backwards, so a backward pass can start at any
  layer with a gradient of your choosing: ``seq.backward(g, 0, k + 1)`` takes ``g`` = dLoss/d(output
  of layer k) down to the input.

Parameter names follow PyTorch's ``state_dict`` (``features.3.squeeze.weight``): a child stored as an
attribute is named after the attribute, a layer of a ``Sequential`` after its index.
"""
from collections.abc import Mapping

import numpy as np

from . import _check
from .errors import NpnetTypeError, NpnetValueError
from .layers import (affine_backward, affine_forward, conv_backward, conv_forward, dropout_backward,
                     dropout_forward, global_avg_pool_backward, global_avg_pool_forward, max_pool_backward,
                     max_pool_forward, relu_backward, relu_forward)


class Module:
    """Base class. Subclasses fill ``self.params`` and implement ``forward(x)`` and ``backward(dout)``.

    Attributes:
        params: dict local name -> array (e.g. ``'weight'``), this module's own parameters.
        grads: dict local name -> array, filled by ``backward`` when ``requires_grad`` is True.
        training: dropout and batch norm behave differently in training; False (inference) by default.
        requires_grad: when False, ``backward`` returns only the input gradient and skips parameter
            gradients (a frozen pretrained network; this also makes it faster).
    """

    def __init__(self):
        object.__setattr__(self, "_children", {})
        self.params = {}
        self.grads = {}
        self.training = False
        self.requires_grad = True
        self.cache = None

    def __setattr__(self, name, value):
        # A Module assigned as an attribute becomes a named child, as in PyTorch.
        if isinstance(value, Module):
            self._children[name] = value
        object.__setattr__(self, name, value)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def __call__(self, x):
        return self.forward(x)

    def named_modules(self, prefix=""):
        """Yield ``(name, module)`` for this module and every descendant, parents first."""
        yield prefix, self
        for name, child in self._children.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self):
        """Yield ``(full_name, array)`` for every parameter, in PyTorch ``state_dict`` order."""
        for prefix, module in self.named_modules():
            for name, value in module.params.items():
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_grads(self):
        """Yield ``(full_name, gradient)`` for every parameter that has one from the last backward."""
        for prefix, module in self.named_modules():
            for name, value in module.grads.items():
                yield (f"{prefix}.{name}" if prefix else name), value

    def state_dict(self):
        """Dict full parameter name -> array (the arrays themselves, not copies)."""
        return dict(self.named_parameters())

    def load_state_dict(self, state, source="state dict"):
        """Copy arrays from ``state`` into the parameters, cast to each parameter's dtype.

        Every key must be present with the right shape and no extra keys are allowed, and every value
        must be real numbers that are finite in the parameter's dtype (no NaN/Inf, complex, strings);
        otherwise one ``NpnetValueError`` lists all the problems (naming ``source``, e.g. the weights
        file). Nothing is changed unless everything fits.
        """
        if not isinstance(state, Mapping):
            raise NpnetTypeError(f"load_state_dict: state must be a mapping name -> array; got "
                                 f"{type(state).__name__}")
        own = {}
        for prefix, module in self.named_modules():
            for name in module.params:
                own[f"{prefix}.{name}" if prefix else name] = (module, name)
        problems = [f"missing key {k!r} (expected shape {own[k][0].params[own[k][1]].shape})"
                    for k in own if k not in state]
        problems += [f"unexpected key {k!r}" for k in state if k not in own]
        present = {k: state[k] for k in own if k in state}
        unusable = _check.weight_problems(present, {k: own[k][0].params[own[k][1]].dtype for k in present})
        for key, value in present.items():
            module, name = own[key]
            if key in unusable:
                problems.append(f"key {key!r}: {unusable[key]}")
            elif np.shape(value) != module.params[name].shape:
                problems.append(f"key {key!r}: expected shape {module.params[name].shape}, got {np.shape(value)}")
        if problems:
            raise NpnetValueError(f"load_state_dict: {source} does not fit {type(self).__name__}:\n  "
                                  + "\n  ".join(problems))
        for key, (module, name) in own.items():
            module.params[name] = np.array(state[key], dtype=module.params[name].dtype)
        return self

    def train(self, mode=True):
        """Set training mode (dropout active, batch statistics) on this module and its descendants."""
        for _, module in self.named_modules():
            module.training = mode
        return self

    def eval(self):
        """Set inference mode on this module and its descendants."""
        return self.train(False)

    def requires_grad_(self, flag=True):
        """Turn parameter gradients on or off for this module and its descendants."""
        for _, module in self.named_modules():
            module.requires_grad = flag
            if not flag:
                module.grads = {}
        return self

    def astype(self, dtype):
        """Cast every parameter to ``dtype`` in place (float64 for gradient checks); returns self."""
        dtype = _check.float_dtype(f"{type(self).__name__}.astype", dtype)
        for _, module in self.named_modules():
            module.params = {k: v.astype(dtype) for k, v in module.params.items()}
            module.grads = {}
        return self

    def zero_grad(self):
        """Forget the parameter gradients of the last backward."""
        for _, module in self.named_modules():
            module.grads = {}

    def _need_cache(self):
        if self.cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward: call forward first (no cached forward pass)")
        return self.cache


class Sequential(Module):
    """Layers applied in order; layer ``i`` is named ``str(i)`` and ``outputs[i]`` is its last output."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} must be a Module; got {type(layer).__name__}")
            self._children[str(i)] = layer
        self.outputs = [None] * len(self.layers)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def _range(self, fn, start, end):
        n = len(self.layers)
        end = n if end is None else end
        if not (isinstance(start, (int, np.integer)) and isinstance(end, (int, np.integer))
                and 0 <= start <= end <= n):
            raise IndexError(f"Sequential.{fn}: need 0 <= start <= end <= {n} (the number of layers); "
                             f"got start={start}, end={end}")
        return int(start), int(end)

    def forward(self, x, start=0, end=None):
        """Run ``layers[start:end]`` on ``x`` (the input of layer ``start``); keep every output."""
        start, end = self._range("forward", start, end)
        for i in range(start, end):
            x = self.layers[i].forward(x)
            self.outputs[i] = x
        return x

    def backward(self, dout, start=0, end=None):
        """Backpropagate ``dout`` (gradient w.r.t. the output of layer ``end - 1``) through
        ``layers[start:end]`` in reverse; returns the gradient w.r.t. the input of layer ``start``."""
        start, end = self._range("backward", start, end)
        for i in reversed(range(start, end)):
            dout = self.layers[i].backward(dout)
        return dout


def _uniform_init(rng, shape, fan_in, dtype):
    # PyTorch's default for conv and linear layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class Conv2d(Module):
    """2-D convolution, PyTorch's ``nn.Conv2d`` layout: weight (out, in, k, k), bias (out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 dtype=np.float32, rng=None):
        super().__init__()
        rng = np.random.default_rng(rng)
        k = _check.positive_int("Conv2d", "kernel_size", kernel_size)
        dtype = _check.float_dtype("Conv2d", dtype)
        fan_in = in_channels * k * k
        self.params["weight"] = _uniform_init(rng, (out_channels, in_channels, k, k), fan_in, dtype)
        if bias:
            self.params["bias"] = _uniform_init(rng, (out_channels,), fan_in, dtype)
        self.conv_param = {"stride": stride, "pad": padding}

    def forward(self, x):
        out, self.cache = conv_forward(x, self.params["weight"], self.params.get("bias"), self.conv_param)
        return out

    def backward(self, dout):
        dx, dw, db = conv_backward(dout, self._need_cache(), weight_grads=self.requires_grad)
        if self.requires_grad:
            self.grads["weight"] = dw
            if "bias" in self.params:
                self.grads["bias"] = db
        return dx


class Linear(Module):
    """Fully connected layer, PyTorch's ``nn.Linear`` layout: weight (out, in), bias (out,)."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, rng=None):
        super().__init__()
        rng = np.random.default_rng(rng)
        dtype = _check.float_dtype("Linear", dtype)
        self.params["weight"] = _uniform_init(rng, (out_features, in_features), in_features, dtype)
        if bias:
            self.params["bias"] = _uniform_init(rng, (out_features,), in_features, dtype)

    def forward(self, x):
        w = self.params["weight"]
        # affine_forward needs a bias; without a "bias" parameter it gets zeros that are never trained.
        b = self.params.get("bias")
        if b is None:
            b = np.zeros(w.shape[0], dtype=w.dtype)
        # affine_forward takes w as (in, out), the transpose of PyTorch's storage.
        out, self.cache = affine_forward(x, w.T, b)
        return out

    def backward(self, dout):
        dx, dw, db = affine_backward(dout, self._need_cache())
        if self.requires_grad:
            self.grads["weight"] = dw.T
            if "bias" in self.params:
                self.grads["bias"] = db
        return dx


class ReLU(Module):
    """ReLU. Its backward follows the current ``relu_mode`` (standard, guided or deconvnet)."""

    def forward(self, x):
        out, self.cache = relu_forward(x)
        return out

    def backward(self, dout):
        return relu_backward(dout, self._need_cache())


class MaxPool2d(Module):
    """Max pooling with PyTorch's arguments (square kernel; ``stride`` defaults to the kernel size)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.pool_param = {"pool_height": kernel_size, "pool_width": kernel_size,
                           "stride": kernel_size if stride is None else stride,
                           "pad": padding, "ceil_mode": ceil_mode}

    def forward(self, x):
        out, self.cache = max_pool_forward(x, self.pool_param)
        return out

    def backward(self, dout):
        return max_pool_backward(dout, self._need_cache())


class GlobalAvgPool2d(Module):
    """Mean over H and W: (N, C, H, W) -> (N, C, 1, 1), i.e. PyTorch's ``AdaptiveAvgPool2d((1, 1))``."""

    def forward(self, x):
        out, self.cache = global_avg_pool_forward(x)
        return out

    def backward(self, dout):
        return global_avg_pool_backward(dout, self._need_cache())


class Dropout(Module):
    """Inverted dropout. ``p`` is the probability of DROPPING a unit, as in PyTorch's ``nn.Dropout``
    (``dropout_forward`` takes the keep probability ``1 - p``, as in CS231n). Identity in eval mode."""

    def __init__(self, p=0.5, seed=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p (drop probability) must be in [0, 1); got {p}")
        self.p = p
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        param = {"mode": "train" if self.training else "test", "p": 1.0 - self.p,
                 "seed": int(self.rng.integers(2**31))}
        out, self.cache = dropout_forward(x, param)
        return out

    def backward(self, dout):
        return dropout_backward(dout, self._need_cache())
