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
attribute is named after the attribute, a layer of a ``Sequential`` after its index. Buffers (batch
norm's ``running_mean``, ``running_var``, ``num_batches_tracked``) are saved and loaded with the
parameters but never trained.

Training a module: ``forward`` in train mode, a loss, ``backward``, then one step of an update rule
over every named parameter with :class:`npnet.optim.Optimizer`::

    net.train()
    scores = net.forward(x)
    loss, dscores = softmax_loss(scores, y)
    net.backward(dscores)
    opt.step()                      # opt = Optimizer(net, "adam", {"learning_rate": 1e-3})
"""
import contextlib
import contextvars
from collections.abc import Mapping

import numpy as np

from . import _check, kernels, threads
from .errors import NpnetIndexError, NpnetTypeError, NpnetValueError
from .layers.norm import _finite_variance
from .layers import (affine_backward, affine_forward, avg_pool_backward, avg_pool_forward, batchnorm_backward,
                     batchnorm_forward, conv_backward, conv_forward, conv_transpose_backward,
                     conv_transpose_forward, dropout_backward, dropout_forward, global_avg_pool_backward,
                     global_avg_pool_forward, instance_norm_backward, instance_norm_forward, layernorm_backward,
                     layernorm_forward, leaky_relu_backward, leaky_relu_forward, max_pool_backward,
                     max_pool_forward, relu_backward, relu_forward, relu_max_pool_backward,
                     sigmoid_backward, sigmoid_forward, spatial_batchnorm_backward, spatial_batchnorm_forward,
                     tanh_backward, tanh_forward)


_grad_enabled = contextvars.ContextVar("npnet_grad_enabled", default=True)


@contextlib.contextmanager
def no_grad():
    """Forward passes inside this block are for their outputs only, as in PyTorch's ``torch.no_grad``:
    modules may skip what only a backward pass needs (caches, argmax bookkeeping), so calling
    ``backward`` after such a forward raises. Scores, occlusion and the score passes of attribution
    methods use it to save time and memory."""
    token = _grad_enabled.set(False)
    try:
        yield
    finally:
        _grad_enabled.reset(token)


def grad_enabled():
    """False inside a :func:`no_grad` block, True otherwise."""
    return _grad_enabled.get()


class _Dropped:
    """What a module's ``cache`` holds after a forward inside :func:`no_grad`."""

    def __repr__(self):
        return "<cache dropped by no_grad>"


_DROPPED = _Dropped()


class Module:
    """Base class. Subclasses fill ``self.params`` and implement ``forward(x)`` and ``backward(dout)``.

    Attributes:
        params: dict local name -> array (e.g. ``'weight'``), this module's own parameters.
        buffers: dict local name -> array of state that is saved but not trained (running statistics).
        grads: dict local name -> array, filled by ``backward`` when ``requires_grad`` is True.
        training: dropout and batch norm behave differently in training; False (inference) by default.
        requires_grad: when False, ``backward`` returns only the input gradient and skips parameter
            gradients (a frozen pretrained network; this also makes it faster).
        cache: what ``forward`` saved for ``backward``. Inside :func:`no_grad` an assignment to it
            keeps nothing, so every module (also one you write) frees its cache there and a later
            ``backward`` raises ``RuntimeError`` saying why.
    """

    def __init__(self):
        object.__setattr__(self, "_children", {})
        self.params = {}
        self.buffers = {}
        self.grads = {}
        self.training = False
        self.requires_grad = True
        object.__setattr__(self, "_cache", None)

    @property
    def cache(self):
        return self._cache

    @cache.setter
    def cache(self, value):
        object.__setattr__(self, "_cache", value if _grad_enabled.get() else _DROPPED)

    def __setattr__(self, name, value):
        # A Module assigned as an attribute becomes a named child, as in PyTorch.
        if isinstance(value, Module):
            self._children[name] = value
        object.__setattr__(self, name, value)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def param_backward(self, dout):
        """Backward pass when no gradient w.r.t. the input is wanted (the input is data): fills
        ``grads`` and returns None. Layers that can skip the input gradient's work (Conv2d, Linear)
        override this; the default runs ``backward`` and drops its result."""
        self.backward(dout)

    def output_is_relu(self):
        """Whether the output of the last forward (with its cache kept) is a ReLU's output, so that a
        max pooling after this module may take the gradient through that ReLU itself
        (:func:`npnet.layers.relu_max_pool_backward`) and hand the rest to :meth:`backward_from_gate`.
        ``Sequential`` asks this. SqueezeNet's frozen ``Fire`` says yes; the ``ReLU`` module says no,
        because its backward must run ``relu_backward``, the code students write."""
        return False

    def backward_from_gate(self, dgate):
        """The backward pass given the gradient w.r.t. the INPUT of the final ReLU (see :meth:`output_is_relu`)."""
        raise NotImplementedError(f"{type(self).__name__} does not end in a ReLU")

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

    def named_buffers(self):
        """Yield ``(full_name, array)`` for every buffer (e.g. ``bn.running_mean``)."""
        for prefix, module in self.named_modules():
            for name, value in module.buffers.items():
                yield (f"{prefix}.{name}" if prefix else name), value

    def _state_entries(self):
        # PyTorch's state_dict order: each module's parameters, then its buffers, parents first.
        for prefix, module in self.named_modules():
            for store in (module.params, module.buffers):
                for name in store:
                    yield (f"{prefix}.{name}" if prefix else name), store, name

    def state_dict(self):
        """Dict full name -> array (the arrays themselves, not copies): parameters and buffers."""
        return {key: store[name] for key, store, name in self._state_entries()}

    def load_state_dict(self, state, source="state dict"):
        """Copy arrays from ``state`` into the parameters and buffers, cast to each one's dtype.

        Every key must be present with the right shape and no extra keys are allowed, and every value
        must be real numbers that are finite in the parameter's dtype (no NaN/Inf, complex, strings);
        otherwise one ``NpnetValueError`` lists all the problems (naming ``source``, e.g. the weights
        file). Nothing is changed unless everything fits.
        """
        if not isinstance(state, Mapping):
            raise NpnetTypeError(f"load_state_dict: state must be a mapping name -> array; got "
                                 f"{type(state).__name__}")
        own = {key: (store, name) for key, store, name in self._state_entries()}
        problems = [f"missing key {k!r} (expected shape {own[k][0][own[k][1]].shape})"
                    for k in own if k not in state]
        problems += [f"unexpected key {k!r}" for k in state if k not in own]
        present = {k: state[k] for k in own if k in state}
        unusable = _check.weight_problems(present, {k: own[k][0][own[k][1]].dtype for k in present})
        for key, value in present.items():
            store, name = own[key]
            if key in unusable:
                problems.append(f"key {key!r}: {unusable[key]}")
            elif np.shape(value) != store[name].shape:
                problems.append(f"key {key!r}: expected shape {store[name].shape}, got {np.shape(value)}")
        if problems:
            raise NpnetValueError(f"load_state_dict: {source} does not fit {type(self).__name__}:\n  "
                                  + "\n  ".join(problems))
        for key, (store, name) in own.items():
            store[name] = np.array(state[key], dtype=store[name].dtype)
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
            # integer buffers (a batch counter) stay integers
            module.buffers = {k: v.astype(dtype) if np.issubdtype(v.dtype, np.floating) else v
                              for k, v in module.buffers.items()}
            module.grads = {}
        return self

    def zero_grad(self):
        """Forget the parameter gradients of the last backward."""
        for _, module in self.named_modules():
            module.grads = {}

    def _keep_grads(self, **grads):
        """Store the gradients of the parameters this module has, unless gradients are switched off."""
        if self.requires_grad:
            self.grads.update({k: v for k, v in grads.items() if k in self.params})

    def _need_cache(self):
        if self.cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward: call forward first (no cached forward pass)")
        if self.cache is _DROPPED:
            raise RuntimeError(f"{type(self).__name__}.backward: the last forward ran inside npnet.nn.no_grad(), "
                               f"which keeps nothing for a backward pass; run the forward again outside no_grad")
        return self.cache


class Sequential(Module):
    """Layers applied in order; layer ``i`` is named ``str(i)`` and ``outputs[i]`` is its last output."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Module):
                raise NpnetTypeError(f"Sequential: layer {i} must be a Module; got {type(layer).__name__}")
            self._children[str(i)] = layer
        self.outputs = [None] * len(self.layers)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def _range(self, fn, start, end):
        n = len(self.layers)
        end = n if end is None else end
        if any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) for v in (start, end)):
            raise NpnetTypeError(f"Sequential.{fn}: start and end must be integer layer indices (end may be "
                                 f"None); got start={start!r:.30}, end={end!r:.30}")
        if not 0 <= start <= end <= n:
            raise NpnetIndexError(f"Sequential.{fn}: need 0 <= start <= end <= {n} (the number of layers); "
                                  f"got start={start}, end={end}")
        return int(start), int(end)

    def forward(self, x, start=0, end=None):
        """Run ``layers[start:end]`` on ``x`` (the input of layer ``start``); keep every output."""
        start, end = self._range("forward", start, end)
        threads.adapt()  # BLAS's thread count follows the free cores (npnet.threads); cheap between looks
        for i in range(start, end):
            x = self.layers[i].forward(x)
            self.outputs[i] = x
        return x

    def backward(self, dout, start=0, end=None, input_grad=True):
        """Backpropagate ``dout`` (gradient w.r.t. the output of layer ``end - 1``) through
        ``layers[start:end]`` in reverse; returns the gradient w.r.t. the input of layer ``start``.

        With ``input_grad=False`` (the input is data, e.g. a discriminator's own training step) only
        the parameter gradients are made and None is returned: the first layer that trains runs
        :meth:`Module.param_backward`, and the layers below it, which have nothing to train, run
        nothing (as PyTorch's autograd skips what no parameter needs)."""
        start, end = self._range("backward", start, end)
        input_grad = _check.boolean("Sequential.backward", "input_grad", input_grad)
        if input_grad:
            return self._backward_layers(dout, start, end)
        first = next((i for i in range(start, end) if _trains(self.layers[i])), end)
        dout = self._backward_layers(dout, first + 1, end)
        if first < end:
            self.layers[first].param_backward(dout)
        return None

    def _backward_layers(self, dout, start, end):
        """``layers[end - 1]`` down to ``layers[start]``. A max pooling over the output of a module
        ending in a ReLU (:meth:`Module.output_is_relu`) takes the gradient through both in one pass."""
        i = end - 1
        while i >= start:
            layer, below = self.layers[i], self.layers[i - 1] if i > start else None
            if isinstance(layer, MaxPool2d) and below is not None and below.output_is_relu():
                dout = below.backward_from_gate(layer.backward_through_relu(dout))
                i -= 2
            else:
                dout = layer.backward(dout)
                i -= 1
        return dout


def _trains(module):
    """Whether ``module`` or a module inside it has parameters that get gradients."""
    return any(m.requires_grad and m.params for _, m in module.named_modules())


def _uniform_init(rng, shape, fan_in, dtype):
    # PyTorch's default for conv and linear layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class Conv2d(Module):
    """2-D convolution, PyTorch's ``nn.Conv2d`` layout: weight (out, in, k, k), bias (out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 dtype=np.float32, rng=None):
        super().__init__()
        fn = "Conv2d"
        rng = _check.rng(fn, "rng", rng)
        in_channels = _check.positive_int(fn, "in_channels", in_channels)
        out_channels = _check.positive_int(fn, "out_channels", out_channels)
        k = _check.positive_int(fn, "kernel_size", kernel_size)
        stride = _check.positive_int(fn, "stride", stride)
        padding = _check.nonnegative_int(fn, "padding", padding)
        bias = _check.boolean(fn, "bias", bias)
        dtype = _check.float_dtype(fn, dtype)
        fan_in = in_channels * k * k
        self.params["weight"] = _uniform_init(rng, (out_channels, in_channels, k, k), fan_in, dtype)
        if bias:
            self.params["bias"] = _uniform_init(rng, (out_channels,), fan_in, dtype)
        self.conv_param = {"stride": stride, "pad": padding}

    def forward(self, x):
        # Frozen weights need no im2col columns (60 MiB for SqueezeNet at N=8): dx needs w alone.
        out, self.cache = conv_forward(x, self.params["weight"], self.params.get("bias"), self.conv_param,
                                       weight_grads=self.requires_grad)
        return out

    def backward(self, dout, input_grad=True):
        dx, dw, db = conv_backward(dout, self._need_cache(), weight_grads=self.requires_grad,
                                   input_grad=input_grad)
        if self.requires_grad:
            self.grads["weight"] = dw
            if "bias" in self.params:
                self.grads["bias"] = db
        return dx

    def param_backward(self, dout):
        self.backward(dout, input_grad=False)


class Linear(Module):
    """Fully connected layer, PyTorch's ``nn.Linear`` layout: weight (out, in), bias (out,)."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, rng=None):
        super().__init__()
        fn = "Linear"
        rng = _check.rng(fn, "rng", rng)
        in_features = _check.positive_int(fn, "in_features", in_features)
        out_features = _check.positive_int(fn, "out_features", out_features)
        bias = _check.boolean(fn, "bias", bias)
        dtype = _check.float_dtype(fn, dtype)
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

    def backward(self, dout, input_grad=True):
        dx, dw, db = affine_backward(dout, self._need_cache(), weight_grads=self.requires_grad,
                                     input_grad=input_grad)
        if self.requires_grad:
            self.grads["weight"] = dw.T
            if "bias" in self.params:
                self.grads["bias"] = db
        return dx

    def param_backward(self, dout):
        self.backward(dout, input_grad=False)


class ReLU(Module):
    """ReLU. Its backward follows the current ``relu_mode`` (standard, guided or deconvnet)."""

    def forward(self, x):
        out, self.cache = relu_forward(x)
        return out

    def backward(self, dout):
        # Always relu_backward, never a fused or compiled twin: it is the code students write, and the
        # course grades it through whole networks (guided backprop, saliency) built from this module.
        return relu_backward(dout, self._need_cache())


class MaxPool2d(Module):
    """Max pooling with PyTorch's arguments (square kernel; ``stride`` defaults to the kernel size)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        fn = "MaxPool2d"
        kernel_size = _check.positive_int(fn, "kernel_size", kernel_size)
        self.pool_param = {"pool_height": kernel_size, "pool_width": kernel_size,
                           "stride": kernel_size if stride is None else _check.positive_int(fn, "stride", stride),
                           "pad": _check.nonnegative_int(fn, "padding", padding),
                           "ceil_mode": _check.boolean(fn, "ceil_mode", ceil_mode)}

    def forward(self, x):
        # Inside no_grad no backward follows: the max-only kernel skips the argmax bookkeeping.
        out, cache = max_pool_forward(x, self.pool_param, need_argmax=_grad_enabled.get())
        self.cache = (cache, out)  # out: the maxima, for backward_through_relu
        return out

    def backward(self, dout):
        return max_pool_backward(dout, self._need_cache()[0])

    def backward_through_relu(self, dout):
        """The gradient at the input of the ReLU whose output this pooled (:func:`relu_max_pool_backward`)."""
        cache, out = self._need_cache()
        return relu_max_pool_backward(dout, cache, out)


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
        # p is the probability of DROPPING a unit here.
        self.p = _check.number("Dropout", "p", p, low=0, high=1, high_open=True)
        self.rng = _check.rng("Dropout", "seed", seed)

    def forward(self, x):
        param = {"mode": "train" if self.training else "test", "p": 1.0 - self.p,
                 "seed": int(self.rng.integers(2**31))}
        out, self.cache = dropout_forward(x, param)
        return out

    def backward(self, dout):
        return dropout_backward(dout, self._need_cache())


class LeakyReLU(Module):
    """Leaky ReLU, PyTorch's ``nn.LeakyReLU(negative_slope)``: ``x`` if ``x > 0`` else ``negative_slope * x``."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        out, self.cache = leaky_relu_forward(x, self.negative_slope)
        return out

    def backward(self, dout):
        return leaky_relu_backward(dout, self._need_cache())


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x):
        out, self.cache = tanh_forward(x)
        return out

    def backward(self, dout):
        return tanh_backward(dout, self._need_cache())


class Sigmoid(Module):
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""

    def forward(self, x):
        out, self.cache = sigmoid_forward(x)
        return out

    def backward(self, dout):
        return sigmoid_backward(dout, self._need_cache())


class ConvTranspose2d(Module):
    """Transposed convolution, PyTorch's ``nn.ConvTranspose2d`` layout: weight (in, out, k, k), bias (out,).

    Output size ``(H - 1) * stride - 2 * padding + k + output_padding``; e.g. k=4, stride=2, padding=1
    doubles H and W (the DCGAN generator's upsampling step).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, bias=True,
                 dtype=np.float32, rng=None):
        super().__init__()
        rng = _check.rng("ConvTranspose2d", "rng", rng)
        k = _check.positive_int("ConvTranspose2d", "kernel_size", kernel_size)
        # PyTorch computes fan_in from the weight's second axis, which is out_channels here.
        fan_in = out_channels * k * k
        self.params["weight"] = _uniform_init(rng, (in_channels, out_channels, k, k), fan_in, dtype)
        if bias:
            self.params["bias"] = _uniform_init(rng, (out_channels,), fan_in, dtype)
        self.conv_param = {"stride": stride, "pad": padding, "output_padding": output_padding}

    def forward(self, x):
        out, self.cache = conv_transpose_forward(x, self.params["weight"], self.params.get("bias"),
                                                 self.conv_param)
        return out

    def backward(self, dout):
        dx, dw, db = conv_transpose_backward(dout, self._need_cache())
        self._keep_grads(weight=dw, bias=db)
        return dx


class AvgPool2d(Module):
    """Average pooling with PyTorch's arguments and divisors (``stride`` defaults to the kernel size)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        fn = "AvgPool2d"
        kernel_size = _check.positive_int(fn, "kernel_size", kernel_size)
        self.pool_param = {"pool_height": kernel_size, "pool_width": kernel_size,
                           "stride": kernel_size if stride is None else _check.positive_int(fn, "stride", stride),
                           "pad": _check.nonnegative_int(fn, "padding", padding),
                           "ceil_mode": _check.boolean(fn, "ceil_mode", ceil_mode),
                           "count_include_pad": _check.boolean(fn, "count_include_pad", count_include_pad)}

    def forward(self, x):
        out, self.cache = avg_pool_forward(x, self.pool_param)
        return out

    def backward(self, dout):
        return avg_pool_backward(dout, self._need_cache())


def _axis(fn, name, axis, ndim):
    """``axis`` (negative counts from the end, as in PyTorch) as an index into ``ndim`` dims, or raise."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise NpnetValueError(f"{fn}: {name} must be a dimension of the {ndim}-dim input, in "
                              f"{-ndim}..{ndim - 1}; got {axis!r}")
    return int(axis) % ndim


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one, PyTorch's ``nn.Flatten`` (default: all but the batch)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        x = _check.float_array("Flatten", "x", x)
        start = _axis("Flatten", "start_dim", self.start_dim, x.ndim)
        end = _axis("Flatten", "end_dim", self.end_dim, x.ndim)
        if start > end:
            raise NpnetValueError(f"Flatten: start_dim must not come after end_dim; got {self.start_dim} "
                                  f"and {self.end_dim} for a {x.ndim}-dim input")
        out = x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])
        self.cache = (x.shape, out.shape, x.dtype)
        return out

    def backward(self, dout):
        in_shape, out_shape, dtype = self._need_cache()
        return _check.dout("Flatten.backward", dout, out_shape, dtype).reshape(in_shape)


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``, PyTorch's ``nn.Unflatten`` (e.g. (N, 1024) -> (N, 64, 4, 4))."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = dim
        if not isinstance(unflattened_size, (tuple, list)):
            raise NpnetTypeError(f"Unflatten: unflattened_size must be a tuple of sizes; got {unflattened_size!r}")
        self.unflattened_size = tuple(_check.positive_int("Unflatten", "unflattened_size", s)
                                      for s in unflattened_size)

    def forward(self, x):
        x = _check.float_array("Unflatten", "x", x)
        d = _axis("Unflatten", "dim", self.dim, x.ndim)
        if int(np.prod(self.unflattened_size)) != x.shape[d]:
            raise NpnetValueError(f"Unflatten: unflattened_size {self.unflattened_size} must multiply to the "
                                  f"size {x.shape[d]} of dim {self.dim} of x {x.shape}")
        out = x.reshape(x.shape[:d] + self.unflattened_size + x.shape[d + 1:])
        self.cache = (x.shape, out.shape, x.dtype)
        return out

    def backward(self, dout):
        in_shape, out_shape, dtype = self._need_cache()
        return _check.dout("Unflatten.backward", dout, out_shape, dtype).reshape(in_shape)


class _Norm(Module):
    """Shared setup: ``weight`` (ones) and ``bias`` (zeros) of ``shape`` when ``affine``."""

    def __init__(self, shape, eps, affine, dtype):
        super().__init__()
        if not isinstance(eps, (int, float, np.floating)) or isinstance(eps, bool) or not 0 < eps < np.inf:
            raise NpnetValueError(f"{type(self).__name__}: eps must be a positive finite number; got {eps!r}")
        self.eps = float(eps)
        self.shape = tuple(shape)
        if affine:
            self.params["weight"] = np.ones(shape, dtype=dtype)
            self.params["bias"] = np.zeros(shape, dtype=dtype)

    def _channels(self, x):
        if x.shape[1] != self.shape[0]:
            raise NpnetValueError(f"{type(self).__name__}: x has {x.shape[1]} channels (dim 1 of {x.shape}) but "
                                  f"the module was built for num_features={self.shape[0]}")

    def _scale_shift(self, dtype):
        if "weight" in self.params:
            return self.params["weight"], self.params["bias"]
        return np.ones(self.shape, dtype=dtype), np.zeros(self.shape, dtype=dtype)


class _BatchNorm(_Norm):
    """PyTorch's batch norm: batch statistics in training, running statistics in eval mode.

    The buffers follow PyTorch, not CS231n: ``running_var`` starts at ones, ``momentum`` weighs the NEW
    batch (``running = (1 - momentum) * running + momentum * batch``) and the variance folded into
    ``running_var`` is the unbiased one (times m / (m - 1) for m values per channel), so a state_dict
    moves between npnet and PyTorch with the same eval-mode outputs.
    """

    ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, dtype=np.float32):
        c = _check.positive_int(type(self).__name__, "num_features", num_features)
        super().__init__((c,), eps, affine, dtype)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise NpnetValueError(f"{type(self).__name__}: momentum must be in [0, 1]; got {momentum!r}")
        self.momentum = float(momentum)
        self.buffers["running_mean"] = np.zeros(c, dtype=dtype)
        self.buffers["running_var"] = np.ones(c, dtype=dtype)
        self.buffers["num_batches_tracked"] = np.array(0, dtype=np.int64)

    def forward(self, x):
        name = type(self).__name__
        x = _check.float_array(name, "x", x, ndim=self.ndims, layout=self.layout)
        self._channels(x)
        gamma, beta = self._scale_shift(x.dtype)
        # (N, C, L) is spatial batch norm over a 1-pixel-wide image.
        x4 = x[..., None] if x.ndim == 3 else x
        functional = batchnorm_forward if x.ndim == 2 else spatial_batchnorm_forward
        m = x4.size // x4.shape[1]
        fast = None
        if self.training and x.ndim > 2 and m > 1:
            try:
                fast = self._train_forward(name, x, gamma, beta)
            except NotImplementedError:  # a course release with the kernels stubbed: the student's layer runs
                pass
        if fast is not None:
            out, cache, mean, var = fast
        elif self.training:
            # With momentum 0 the functional layer hands back the batch mean and (biased) variance
            # themselves as its "running" statistics; PyTorch's update is applied to those here.
            batch = {"mode": "train", "eps": self.eps, "momentum": 0.0}
            out, cache = functional(x4, gamma, beta, batch)
            mean, var = batch["running_mean"], batch["running_var"]
        else:
            out, cache = functional(x4, gamma, beta, {"mode": "test", "eps": self.eps,
                                                      "running_mean": self.buffers["running_mean"],
                                                      "running_var": self.buffers["running_var"]})
        if self.training:
            b, mom = self.buffers, self.momentum
            b["running_mean"] = ((1 - mom) * b["running_mean"] + mom * mean).astype(b["running_mean"].dtype)
            b["running_var"] = ((1 - mom) * b["running_var"] + mom * var * (m / (m - 1))).astype(
                b["running_var"].dtype)
            b["num_batches_tracked"] = b["num_batches_tracked"] + 1
        self.cache = (cache, x.ndim)
        return out.reshape(x.shape)

    def _train_forward(self, name, x, gamma, beta):
        """Training-mode batch norm of (N, C, L) or (N, C, H, W) ``x`` through npnet.kernels: the numbers
        of the functional layer (``spatial_batchnorm_forward``) up to float rounding, the statistics
        summed in float64, in 3 passes over memory instead of about 12 (the MnistJudge's two batch norms
        took 30% of its training step). Returns ``(out, cache, mean, biased var)``."""
        N, C = x.shape[:2]
        x3 = np.ascontiguousarray(x).reshape(N, C, -1)
        mean, var = np.empty(C), np.empty(C)
        kernels.split(kernels.channel_moments, C, x3.size, x3, mean, var)
        _finite_variance(name, var, x.dtype)
        inv_std = 1 / np.sqrt(var + self.eps)
        out = np.empty_like(x3)
        kernels.split(kernels.channel_normalize, C, out.size, x3, mean, gamma * inv_std, beta.astype(np.float64), out)
        return out, ("kernels", x3, mean, inv_std, gamma, x.shape), mean, var

    def _train_backward(self, dout, cache):
        """The functional layer's batch-norm backward (``spatial_batchnorm_backward``) for
        :meth:`_train_forward`'s cache, in 2 passes: with xhat = (x - mean) * inv_std and m values per
        channel, ``dx = inv_std * gamma * (dout - sum(dout) / m - xhat * sum(dout * xhat) / m)``, a
        per-channel combination of dout and x - mean once the two sums are known."""
        _, x3, mean, inv_std, gamma, shape = cache
        dout = _check.dout(f"{type(self).__name__}.backward", dout, shape, x3.dtype)
        d3 = np.ascontiguousarray(dout).reshape(x3.shape)
        N, C, P = x3.shape
        sums = np.empty((C, 2))
        kernels.split(kernels.channel_gradient_sums, C, x3.size, d3, x3, mean, sums)
        total, centred = sums[:, 0], sums[:, 1]
        a = inv_std * gamma
        dx = np.empty_like(x3)
        kernels.split(kernels.channel_combine, C, dx.size, d3, x3, mean, a, -a * inv_std ** 2 * centred / (N * P),
                      -a * total / (N * P), dx)
        return dx.reshape(shape), (inv_std * centred).astype(x3.dtype), total.astype(x3.dtype)

    def backward(self, dout):
        cache, ndim = self._need_cache()
        if ndim == 2:
            dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        elif cache[0] == "kernels":
            dx, dgamma, dbeta = self._train_backward(dout, cache)
        else:
            shape = cache[1].shape  # xhat, 4-D also for an (N, C, L) input
            dout = _check.dout(f"{type(self).__name__}.backward", dout, shape[:ndim], cache[1].dtype)
            dx, dgamma, dbeta = spatial_batchnorm_backward(dout.reshape(shape), cache)
            dx = dx.reshape(shape[:ndim])
        self._keep_grads(weight=dgamma, bias=dbeta)
        return dx


class BatchNorm1d(_BatchNorm):
    """Batch normalisation (Ioffe & Szegedy 2015) of (N, C) or (N, C, L) inputs, PyTorch's ``nn.BatchNorm1d``.

    state_dict: ``weight``, ``bias`` (C,) and buffers ``running_mean``, ``running_var`` (C,),
    ``num_batches_tracked`` (int64 scalar).
    """

    ndims = (2, 3)
    layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Spatial batch normalisation of (N, C, H, W) inputs, PyTorch's ``nn.BatchNorm2d`` (see BatchNorm1d)."""

    ndims = (4,)
    layout = "(N, C, H, W)"


class LayerNorm(_Norm):
    """Layer normalisation (Ba et al. 2016) over the trailing dims ``normalized_shape``, PyTorch's ``nn.LayerNorm``.

    ``weight`` and ``bias`` have shape ``normalized_shape``; every leading index is one sample.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, dtype=np.float32):
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        if not isinstance(normalized_shape, (tuple, list)):
            raise NpnetTypeError(f"LayerNorm: normalized_shape must be an int or a tuple of sizes; "
                                 f"got {normalized_shape!r}")
        shape = tuple(_check.positive_int("LayerNorm", "normalized_shape", s) for s in normalized_shape)
        super().__init__(shape, eps, elementwise_affine, dtype)

    def forward(self, x):
        x = _check.float_array("LayerNorm", "x", x)
        k = len(self.shape)
        if x.shape[x.ndim - k:] != self.shape or x.ndim <= k:
            raise NpnetValueError(f"LayerNorm: x must end in normalized_shape {self.shape} after a batch dim; "
                                  f"got shape {x.shape}")
        gamma, beta = self._scale_shift(x.dtype)
        out, cache = layernorm_forward(x.reshape(-1, gamma.size), gamma.ravel(), beta.ravel(), {"eps": self.eps})
        self.cache = (cache, x.shape)
        return out.reshape(x.shape)

    def backward(self, dout):
        cache, shape = self._need_cache()
        dout = _check.dout("LayerNorm.backward", dout, shape, cache[0].dtype)
        dx, dgamma, dbeta = layernorm_backward(dout.reshape(cache[0].shape), cache)
        self._keep_grads(weight=dgamma.reshape(self.shape), bias=dbeta.reshape(self.shape))
        return dx.reshape(shape)


class InstanceNorm2d(_Norm):
    """Instance normalisation (Ulyanov et al. 2016), PyTorch's ``nn.InstanceNorm2d`` (no running statistics).

    As in PyTorch, ``affine`` is False by default (no parameters); with ``affine=True`` it has
    ``weight`` and ``bias`` of shape (C,).
    """

    def __init__(self, num_features, eps=1e-5, affine=False, dtype=np.float32):
        c = _check.positive_int("InstanceNorm2d", "num_features", num_features)
        super().__init__((c,), eps, affine, dtype)

    def forward(self, x):
        x = _check.float_array("InstanceNorm2d", "x", x, ndim=4, layout="(N, C, H, W)")
        self._channels(x)
        gamma, beta = self._scale_shift(x.dtype)
        out, self.cache = instance_norm_forward(x, gamma, beta, self.eps)
        return out

    def backward(self, dout):
        dx, dgamma, dbeta = instance_norm_backward(dout, self._need_cache())
        self._keep_grads(weight=dgamma, bias=dbeta)
        return dx


# Transformer modules (Vaswani et al. 2017), the CS231n captioning assignment's classes over the
# functional layers of npnet.layers.attention. Parameters keep the course's PyTorch names and layouts.
from .layers.attention import (TORCH_NAMES, multihead_attention_backward, multihead_attention_forward,  # noqa: E402
                               positional_encoding_backward, positional_encoding_forward,
                               transformer_decoder_layer_backward, transformer_decoder_layer_forward)


def _dropout_seed_param(module):
    """The ``dropout_param`` of one forward of a module with ``self.dropout`` (drop probability) and
    ``self.rng``: None in eval mode or without dropout, else a fresh seed per call."""
    if not module.training or module.dropout == 0:
        return None
    return {"mode": "train", "p": 1.0 - module.dropout, "seed": int(module.rng.integers(2**31))}


def _attention_setup(module, fn, dim_name, dim, num_heads, dropout, dtype, rng):
    """Check and keep the settings the attention modules share (``num_heads``, ``dropout``, ``rng``);
    returns the model width and the parameter dtype."""
    e = _check.positive_int(fn, dim_name, dim)
    module.num_heads = _check.positive_int(fn, "num_heads", num_heads)
    if e % module.num_heads:
        raise NpnetValueError(f"{fn}: num_heads must divide {dim_name} = {e}; got {num_heads}")
    module.dropout = _check.number(fn, "dropout", dropout, low=0, high=1, high_open=True)
    dtype = _check.float_dtype(fn, dtype)
    module.rng = np.random.default_rng(rng)
    return e, dtype


class MultiHeadAttention(Module):
    """Multi-head attention, the course's ``MultiHeadAttention(embed_dim, num_heads, dropout=0.1)``.

    Parameters ``key``, ``query``, ``value``, ``proj`` ``.weight`` (E, E) and ``.bias`` (E,), PyTorch
    layout, initialised like ``nn.Linear``. ``dropout`` is the probability of DROPPING an attention
    weight in training mode. ``forward(query, key, value, attn_mask)`` returns (N, S, E);
    ``backward(dout)`` returns ``(dquery, dkey, dvalue)`` (sum them for self-attention).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.1, dtype=np.float32, rng=None):
        super().__init__()
        e, dtype = _attention_setup(self, "MultiHeadAttention", "embed_dim", embed_dim, num_heads, dropout, dtype, rng)
        for part in ("key", "query", "value", "proj"):  # the course's creation order
            self.params[f"{part}.weight"] = _uniform_init(self.rng, (e, e), e, dtype)
            self.params[f"{part}.bias"] = _uniform_init(self.rng, (e,), e, dtype)

    def _arrays(self):
        p = self.params
        # C-contiguous transposes: OpenBLAS is slow with transposed views on a busy machine
        return [a for part in ("query", "key", "value", "proj")
                for a in (np.ascontiguousarray(p[f"{part}.weight"].T), p[f"{part}.bias"])]

    def forward(self, query, key=None, value=None, attn_mask=None):
        key = query if key is None else key
        value = key if value is None else value
        out, self.cache = multihead_attention_forward(query, key, value, *self._arrays(), self.num_heads,
                                                      attn_mask, _dropout_seed_param(self))
        return out

    def backward(self, dout):
        dquery, dkey, dvalue, *grads = multihead_attention_backward(dout, self._need_cache())
        named = {}
        for part, (dw, db) in zip(("query", "key", "value", "proj"), zip(grads[::2], grads[1::2])):
            named[f"{part}.weight"], named[f"{part}.bias"] = dw.T, db
        self._keep_grads(**named)
        return dquery, dkey, dvalue


class PositionalEncoding(Module):
    """Sinusoidal positional encoding plus dropout, the course's ``PositionalEncoding(embed_dim, dropout, max_len)``
    (:func:`npnet.layers.positional_encoding`). No parameters."""

    def __init__(self, embed_dim, dropout=0.1, max_len=5000, rng=None):
        super().__init__()
        fn = "PositionalEncoding"
        self.embed_dim = _check.positive_int(fn, "embed_dim", embed_dim)
        self.max_len = _check.positive_int(fn, "max_len", max_len)
        self.dropout = _check.number(fn, "dropout", dropout, low=0, high=1, high_open=True)
        self.rng = np.random.default_rng(rng)

    def forward(self, x):
        x = _check.float_array("PositionalEncoding", "x", x, ndim=3, layout="(N, S, E)")
        if x.shape[2] != self.embed_dim or x.shape[1] > self.max_len:
            raise NpnetValueError(f"PositionalEncoding: x must be (N, S, {self.embed_dim}) with S <= "
                                  f"max_len={self.max_len}; got shape {x.shape}")
        out, self.cache = positional_encoding_forward(x, _dropout_seed_param(self))
        return out

    def backward(self, dout):
        return positional_encoding_backward(dout, self._need_cache())


class TransformerDecoderLayer(Module):
    """One post-norm Transformer decoder layer, the course's
    ``TransformerDecoderLayer(input_dim, num_heads, dim_feedforward=2048, dropout=0.1)``
    (:func:`npnet.layers.transformer_decoder_layer_forward`).

    Parameters under PyTorch's names: ``self_attn.*`` and ``multihead_attn.*`` (as
    :class:`MultiHeadAttention`), ``linear1`` (F, E), ``linear2`` (E, F), ``norm1..3`` (E,).
    ``forward(tgt, memory, tgt_mask)`` returns (N, T, E); ``backward(dout)`` returns ``(dtgt, dmemory)``.
    """

    def __init__(self, input_dim, num_heads, dim_feedforward=2048, dropout=0.1, dtype=np.float32, rng=None):
        super().__init__()
        fn = "TransformerDecoderLayer"
        e, dtype = _attention_setup(self, fn, "input_dim", input_dim, num_heads, dropout, dtype, rng)
        f = _check.positive_int(fn, "dim_feedforward", dim_feedforward)
        fan_in = {"linear2": f}
        shapes = {"linear1.weight": (f, e), "linear1.bias": (f,), "linear2.weight": (e, f)}
        for name in TORCH_NAMES.values():
            if name.startswith("norm"):
                self.params[name] = (np.ones if name.endswith("weight") else np.zeros)(e, dtype=dtype)
            else:
                shape = shapes.get(name, (e, e) if name.endswith("weight") else (e,))
                self.params[name] = _uniform_init(self.rng, shape, fan_in.get(name.split(".")[0], e), dtype)

    def forward(self, tgt, memory, tgt_mask=None):
        functional = {ours: np.ascontiguousarray(self.params[theirs].T) if ours.split(".")[1][0] == "W"
                      else self.params[theirs] for ours, theirs in TORCH_NAMES.items()}
        out, self.cache = transformer_decoder_layer_forward(tgt, memory, functional, self.num_heads, tgt_mask,
                                                            _dropout_seed_param(self))
        return out

    def backward(self, dout):
        dtgt, dmemory, grads = transformer_decoder_layer_backward(dout, self._need_cache())
        if self.requires_grad:
            self.grads.update({theirs: grads[ours].T if ours.split(".")[1][0] == "W" else grads[ours]
                               for ours, theirs in TORCH_NAMES.items()})
        return dtgt, dmemory
