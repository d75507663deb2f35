"""Image classifiers of the CS231n assignments, and a small MNIST convnet to judge generated digits.

The three CS231n models keep the course's contract: parameters in ``model.params`` under the course's
names (``W1``, ``b1``, ``gamma1``, ...), created in the course's order from the global ``np.random``
(so ``np.random.seed(231)`` before building a model reproduces the notebooks' numbers), and

    scores = model.loss(X)              # test time: (N, C) class scores
    loss, grads = model.loss(X, y)      # training: a float and a dict shaped like model.params

which is what :class:`npnet.solver.Solver` trains. Weights are drawn from ``weight_scale * N(0, 1)``,
biases start at zero, batch/layer norm scales at one and shifts at zero. The L2 penalty is
``0.5 * reg * sum(W ** 2)`` over the weight matrices only.

:func:`mnist_judge` returns a trained :class:`MnistJudge` (an ``npnet.nn`` network), training and
caching it on first use.
"""
import numbers
import time
from pathlib import Path

import numpy as np

from .. import _check, nn, optim
from .._io import read_npz
from ..errors import NpnetTypeError, NpnetValueError
from ..layers import (affine_backward, affine_forward, affine_relu_backward, affine_relu_forward,
                      batchnorm_backward, batchnorm_forward, conv_relu_pool_backward, conv_relu_pool_forward,
                      dropout_backward, dropout_forward, layernorm_backward, layernorm_forward, relu_backward,
                      relu_forward, softmax_loss)

__all__ = ["TwoLayerNet", "FullyConnectedNet", "ThreeLayerConvNet", "MnistJudge", "mnist_judge", "judge_path",
           "MNIST_RECIPES", "mnist_classifier"]


def _real(fn, name, v, low=0.0, inclusive=True):
    ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)
    if not ok or v < low or (v == low and not inclusive):
        raise NpnetValueError(f"{fn}: {name} must be a finite number {'>=' if inclusive else '>'} {low}; got {v!r}")
    return float(v)


def _inputs(fn, X, y, num_classes, ndim=None, layout=None):
    """Validate a batch and its optional labels; returns X cast to the model's dtype and y (or None)."""
    X = _check.float_array(fn, "X", X, ndim=ndim, layout=layout)
    if X.shape[0] == 0:
        raise NpnetValueError(f"{fn}: X is empty (shape {X.shape}); need at least one sample")
    if y is not None:
        y = _check.labels(fn, "y", y, X.shape[0], num_classes)
    return X, y


def _l2(reg, params, grads, names):
    """Add ``0.5 * reg * sum(W**2)`` for each weight in ``names``; its gradient ``reg * W`` goes into grads."""
    penalty = 0.0
    for name in names:
        w = params[name]
        penalty += 0.5 * reg * float(np.sum(w * w))
        grads[name] = grads[name] + reg * w
    return penalty


class TwoLayerNet:
    """Two-layer fully connected network: affine - ReLU - affine - softmax (CS231n assignment 1).

    Args:
        input_dim: D, the size of a flattened input.
        hidden_dim: H, the hidden layer's width.
        num_classes: C.
        weight_scale: standard deviation of the initial weights.
        reg: L2 regularisation strength.
    Parameters: ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,).
    """

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
        fn = "TwoLayerNet"
        D, H = _check.positive_int(fn, "input_dim", input_dim), _check.positive_int(fn, "hidden_dim", hidden_dim)
        self.num_classes = C = _check.positive_int(fn, "num_classes", num_classes)
        weight_scale = _real(fn, "weight_scale", weight_scale)
        self.reg = _real(fn, "reg", reg)
        self.params = {"W1": weight_scale * np.random.randn(D, H), "b1": np.zeros(H),
                       "W2": weight_scale * np.random.randn(H, C), "b2": np.zeros(C)}

    def loss(self, X, y=None):
        """Scores (N, C) if ``y`` is None, else ``(loss, grads)`` for a batch X (N, d_1, ..., d_k)."""
        X, y = _inputs("TwoLayerNet.loss", X, y, self.num_classes)
        p = self.params
        # BEGIN SOLUTION
        hidden, cache1 = affine_relu_forward(X, p["W1"], p["b1"])
        scores, cache2 = affine_forward(hidden, p["W2"], p["b2"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dhidden, grads["W2"], grads["b2"] = affine_backward(dscores, cache2)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, cache1)
        loss += _l2(self.reg, p, grads, ("W1", "W2"))
        # END SOLUTION
        return loss, grads


class FullyConnectedNet:
    """Fully connected network of any depth (CS231n assignment 2).

    ``{affine - [batch/layer norm] - ReLU - [dropout]} x (L - 1) - affine - softmax``.

    Args:
        hidden_dims: list of the hidden layers' widths.
        input_dim: D. num_classes: C.
        dropout_keep_ratio: probability of keeping a unit; 1 means no dropout.
        normalization: None, ``'batchnorm'`` or ``'layernorm'``.
        reg: L2 regularisation strength.
        weight_scale: standard deviation of the initial weights.
        dtype: float32 (training) or float64 (gradient checks); every parameter has it.
        seed: if given, dropout masks are deterministic (the CS231n dropout checks rely on it).
    Parameters: ``W1..WL``, ``b1..bL``, and ``gamma1..gamma{L-1}``, ``beta1..beta{L-1}`` with normalization.
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1, normalization=None,
                 reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        fn = "FullyConnectedNet"
        if isinstance(hidden_dims, (numbers.Integral, str)) or not hasattr(hidden_dims, "__iter__"):
            raise NpnetTypeError(f"{fn}: hidden_dims must be a list of layer widths; got {hidden_dims!r}")
        hidden_dims = [_check.positive_int(fn, "hidden_dims[i]", h) for h in hidden_dims]
        if normalization not in (None, "batchnorm", "layernorm"):
            raise NpnetValueError(f"{fn}: normalization must be None, 'batchnorm' or 'layernorm'; got {normalization!r}")
        keep = _real(fn, "dropout_keep_ratio", dropout_keep_ratio, 0.0, inclusive=False)
        if keep > 1:
            raise NpnetValueError(f"{fn}: dropout_keep_ratio must be in (0, 1]; got {dropout_keep_ratio!r}")
        self.normalization = normalization
        self.use_dropout = keep != 1
        self.reg = _real(fn, "reg", reg)
        weight_scale = _real(fn, "weight_scale", weight_scale)
        self.num_layers = 1 + len(hidden_dims)
        self.num_classes = _check.positive_int(fn, "num_classes", num_classes)
        self.dtype = _check.float_dtype(fn, dtype)
        dims = [_check.positive_int(fn, "input_dim", input_dim)] + hidden_dims + [self.num_classes]
        self.params = {}
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = weight_scale * np.random.randn(dims[i - 1], dims[i])
            self.params[f"b{i}"] = np.zeros(dims[i])
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])
        self.params = {k: v.astype(self.dtype) for k, v in self.params.items()}
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": keep}
            if seed is not None:
                self.dropout_param["seed"] = seed
        # One dict per normalisation layer: batch norm keeps its running statistics there.
        self.bn_params = [{"mode": "train"} if normalization == "batchnorm" else {}
                          for _ in range(self.num_layers - 1)] if normalization else []

    def loss(self, X, y=None):
        """Scores (N, C) if ``y`` is None (test mode), else ``(loss, grads)`` (train mode)."""
        X, y = _inputs("FullyConnectedNet.loss", X, y, self.num_classes)
        X = X.astype(self.dtype, copy=False)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        p, caches, h = self.params, [], X
        # BEGIN SOLUTION
        for i in range(1, self.num_layers):
            h, fc_cache = affine_forward(h, p[f"W{i}"], p[f"b{i}"])
            norm_cache = drop_cache = None
            if self.normalization == "batchnorm":
                h, norm_cache = batchnorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
            elif self.normalization == "layernorm":
                h, norm_cache = layernorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
            h, relu_cache = relu_forward(h)
            if self.use_dropout:
                h, drop_cache = dropout_forward(h, self.dropout_param)
            caches.append((fc_cache, norm_cache, relu_cache, drop_cache))
        L = self.num_layers
        scores, last_cache = affine_forward(h, p[f"W{L}"], p[f"b{L}"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        norm_backward = {"batchnorm": batchnorm_backward, "layernorm": layernorm_backward}.get(self.normalization)
        for i in range(L - 1, 0, -1):
            fc_cache, norm_cache, relu_cache, drop_cache = caches[i - 1]
            if self.use_dropout:
                dh = dropout_backward(dh, drop_cache)
            dh = relu_backward(dh, relu_cache, mode="standard")
            if norm_backward is not None:
                dh, grads[f"gamma{i}"], grads[f"beta{i}"] = norm_backward(dh, norm_cache)
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dh, fc_cache)
        loss += _l2(self.reg, p, grads, [f"W{i}" for i in range(1, L + 1)])
        # END SOLUTION
        return loss, grads


class ThreeLayerConvNet:
    """conv - ReLU - 2x2 max pool - affine - ReLU - affine - softmax (CS231n assignment 2).

    The convolution keeps the spatial size (stride 1, padding ``(filter_size - 1) // 2``, odd filter
    sizes); the pool halves it.

    Args:
        input_dim: (C, H, W) of one image, H and W even.
        num_filters: F. filter_size: odd kernel size. hidden_dim: H_fc. num_classes: number of classes.
        weight_scale: standard deviation of the initial weights. reg: L2 strength. dtype: of the parameters.
    Parameters: ``W1`` (F, C, k, k), ``b1`` (F,), ``W2`` (F * H/2 * W/2, H_fc), ``b2``, ``W3`` (H_fc, classes), ``b3``.
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0, dtype=np.float32):
        fn = "ThreeLayerConvNet"
        if len(tuple(input_dim)) != 3:
            raise NpnetValueError(f"{fn}: input_dim must be (C, H, W); got {input_dim!r}")
        C, H, W = (_check.positive_int(fn, "input_dim", d) for d in input_dim)
        if H % 2 or W % 2:
            raise NpnetValueError(f"{fn}: input height and width must be even for the 2x2 pool; got {H}x{W}")
        F = _check.positive_int(fn, "num_filters", num_filters)
        k = _check.positive_int(fn, "filter_size", filter_size)
        if k % 2 == 0:
            raise NpnetValueError(f"{fn}: filter_size must be odd so that padding keeps the size; got {k}")
        hidden = _check.positive_int(fn, "hidden_dim", hidden_dim)
        self.num_classes = _check.positive_int(fn, "num_classes", num_classes)
        weight_scale = _real(fn, "weight_scale", weight_scale)
        self.reg = _real(fn, "reg", reg)
        self.dtype = _check.float_dtype(fn, dtype)
        self.input_dim = (C, H, W)
        self.params = {"W1": weight_scale * np.random.randn(F, C, k, k), "b1": np.zeros(F),
                       "W2": weight_scale * np.random.randn(F * (H // 2) * (W // 2), hidden), "b2": np.zeros(hidden),
                       "W3": weight_scale * np.random.randn(hidden, self.num_classes), "b3": np.zeros(self.num_classes)}
        self.params = {name: v.astype(self.dtype) for name, v in self.params.items()}

    def loss(self, X, y=None):
        """Scores (N, classes) if ``y`` is None, else ``(loss, grads)``, for images X (N, C, H, W)."""
        fn = "ThreeLayerConvNet.loss"
        X, y = _inputs(fn, X, y, self.num_classes, ndim=4, layout="(N, C, H, W)")
        if X.shape[1:] != self.input_dim:
            raise NpnetValueError(f"{fn}: X must hold images of shape {self.input_dim}; got {X.shape}")
        X = X.astype(self.dtype, copy=False)
        p = self.params
        k = p["W1"].shape[2]
        conv_param = {"stride": 1, "pad": (k - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        # BEGIN SOLUTION
        h1, cache1 = conv_relu_pool_forward(X, p["W1"], p["b1"], conv_param, pool_param)
        h2, cache2 = affine_relu_forward(h1, p["W2"], p["b2"])
        scores, cache3 = affine_forward(h2, p["W3"], p["b3"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh2, grads["W3"], grads["b3"] = affine_backward(dscores, cache3)
        dh1, grads["W2"], grads["b2"] = affine_relu_backward(dh2, cache2)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dh1, cache1)
        loss += _l2(self.reg, p, grads, ("W1", "W2", "W3"))
        # END SOLUTION
        return loss, grads


# The recipes behind `npnet train mnist --model fc|conv`, exercises/classifiers.py and bench/: the model's
# arguments and the Solver's. Adam, no augmentation, mean image subtracted, seeded 4,000/1,000 split;
# bench/torch_reference.py trains the same models with the same recipe in PyTorch.
MNIST_RECIPES = {
    "fc": {"model": {"hidden_dims": [512, 256], "input_dim": 784, "weight_scale": 5e-2, "reg": 3e-3},
           "solver": {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3}, "lr_decay": 0.9,
                      "batch_size": 100, "num_epochs": 20}},
    "conv": {"model": {"input_dim": (1, 28, 28), "num_filters": 32, "filter_size": 7, "hidden_dim": 100,
                       "weight_scale": 1e-2, "reg": 1e-3},
             "solver": {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3}, "lr_decay": 0.9,
                        "batch_size": 100, "num_epochs": 15}},
}


def mnist_classifier(name, seed=0):
    """A fresh model of recipe ``name`` (``'fc'`` or ``'conv'``), initialised from ``np.random.seed(seed)``,
    and a copy of the recipe's Solver options."""
    if name not in MNIST_RECIPES:
        raise NpnetValueError(f"mnist_classifier: name must be one of {', '.join(MNIST_RECIPES)}; got {name!r}")
    recipe = MNIST_RECIPES[name]
    np.random.seed(_check.nonnegative_int("mnist_classifier", "seed", seed))
    model = FullyConnectedNet(**recipe["model"]) if name == "fc" else ThreeLayerConvNet(**recipe["model"])
    return model, {**recipe["solver"], "optim_config": dict(recipe["solver"]["optim_config"])}


class MnistJudge(nn.Sequential):
    """A small convnet that classifies 28x28 digits, to judge what a GAN generates (≥ 97% on MNIST).

    conv 3x3 (16) - BN - ReLU - pool - conv 3x3 (32) - BN - ReLU - pool - flatten - linear 128 - ReLU -
    linear 10, with PyTorch layer names (``0.weight``, ``1.running_mean``, ...). Input: (N, 1, 28, 28)
    or (N, 784) images with values in [0, 1] (white digit on black, as MNIST); output: (N, 10) scores.
    """

    def __init__(self, dtype=np.float32, seed=0):
        rng = np.random.default_rng(seed)
        super().__init__(nn.Conv2d(1, 16, 3, padding=1, dtype=dtype, rng=rng), nn.BatchNorm2d(16, dtype=dtype),
                         nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1, dtype=dtype, rng=rng), nn.BatchNorm2d(32, dtype=dtype),
                         nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 128, dtype=dtype, rng=rng), nn.ReLU(),
                         nn.Linear(128, 10, dtype=dtype, rng=rng))

    @staticmethod
    def images(X, fn="MnistJudge"):
        """``X`` as (N, 1, 28, 28) floats, from (N, 1, 28, 28), (N, 28, 28) or (N, 784) images in [0, 1]."""
        X = _check.float_array(fn, "images", X)
        if X.shape[1:] not in ((1, 28, 28), (28, 28), (784,)) or X.shape[0] == 0:
            raise NpnetValueError(f"{fn}: images must be (N, 1, 28, 28), (N, 28, 28) or (N, 784) with N >= 1; "
                                  f"got shape {X.shape}")
        return X.reshape(-1, 1, 28, 28)

    def predict(self, X, batch_size=500):
        """Predicted digits (N,) of images in [0, 1] (eval mode, in batches)."""
        X = self.images(X, "MnistJudge.predict")
        was_training = self.training
        self.eval()
        try:
            return np.concatenate([self.forward(X[i:i + batch_size]).argmax(axis=1)
                                   for i in range(0, X.shape[0], batch_size)])
        finally:
            self.train(was_training)

    def fit(self, X, y, epochs=8, batch_size=100, learning_rate=2e-3, seed=0, verbose=False):
        """Train with Adam on images X in [0, 1] and labels y, halving the learning rate every 2 epochs.

        Each training image is shifted by up to 2 pixels in x and y (a random translation, MNIST's
        classic augmentation), which makes the judge robust to off-centre generated digits.

        Returns the loss of every iteration.
        """
        fn = "MnistJudge.fit"
        X = self.images(X, fn)
        y = _check.labels(fn, "y", y, X.shape[0], 10)
        epochs = _check.positive_int(fn, "epochs", epochs)
        batch_size = _check.positive_int(fn, "batch_size", batch_size)
        rng = np.random.default_rng(seed)
        opt = optim.Optimizer(self, "adam", {"learning_rate": _real(fn, "learning_rate", learning_rate, inclusive=False)})
        self.train()
        losses = []
        for epoch in range(epochs):
            order = rng.permutation(X.shape[0])
            for i in range(0, X.shape[0] - batch_size + 1, batch_size):
                idx = order[i:i + batch_size]
                loss, dscores = softmax_loss(self.forward(_shifted(X[idx], rng)), y[idx])
                self.backward(dscores)
                opt.step()
                losses.append(loss)
            if epoch % 2 == 1:
                opt.decay_learning_rate(0.5)
            if verbose:
                print(f"(Epoch {epoch + 1} / {epochs}) loss: {np.mean(losses[-(X.shape[0] // batch_size):]):f}")
        self.eval()
        return losses


def _shifted(X, rng, max_shift=2):
    """Each image of X (N, 1, 28, 28) translated by its own random (dy, dx) in [-max_shift, max_shift], zero-filled."""
    n, _, h, w = X.shape
    m = max_shift
    padded = np.zeros((n, 1, h + 2 * m, w + 2 * m), dtype=X.dtype)
    padded[:, :, m:m + h, m:m + w] = X
    dy, dx = rng.integers(0, 2 * m + 1, (2, n))
    return np.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def judge_path():
    """Where :func:`mnist_judge` caches its trained weights: ``<user cache>/models/mnist_judge.npz``."""
    from ..data.lookup import cache_dir
    return cache_dir() / "models" / "mnist_judge.npz"


def train_mnist_judge(seed=0, verbose=True):
    """Train a :class:`MnistJudge` on the MNIST sample's 4,000 training images (split ``seed``) and
    measure it on the 1,000 held-out ones (``judge.heldout_accuracy``); about a minute on one core."""
    from ..data.mnist import load_mnist

    X, y = load_mnist("train", seed=seed)
    judge = MnistJudge(seed=seed)
    start = time.time()
    judge.fit(X, y, seed=seed, verbose=verbose)
    X_test, y_test = load_mnist("test", seed=seed)
    judge.heldout_accuracy = float((judge.predict(X_test) == y_test).mean())
    judge.train_seconds = time.time() - start
    return judge


def save_judge(judge, path):
    """Write the judge's state_dict and held-out accuracy to ``path`` (.npz, atomically); returns the Path."""
    from ..data.lookup import atomic_output

    arrays = {**judge.state_dict(), "heldout_accuracy": np.array(getattr(judge, "heldout_accuracy", np.nan))}
    with atomic_output(path) as tmp:
        np.savez(tmp, **arrays)
    return Path(path)


def mnist_judge(path=None, train_if_missing=True, verbose=True, seed=0):
    """The trained :class:`MnistJudge` (eval mode), loaded from ``path`` (default :func:`judge_path`).

    When the file is missing and ``train_if_missing`` is True, trains one with :func:`train_mnist_judge`
    and saves it atomically to ``path``. ``judge.heldout_accuracy`` holds its held-out accuracy.
    """
    from ..errors import DataNotFoundError, FileFormatError

    path = judge_path() if path is None else Path(path)
    if path.is_file():
        judge = MnistJudge()
        try:
            state = read_npz(path)
        except (OSError, ValueError) as err:
            raise FileFormatError(f"mnist_judge: {path} is not a readable .npz file ({err})") from None
        accuracy_ = float(state.pop("heldout_accuracy", np.nan))
        judge.load_state_dict(state, source=str(path))
        judge.heldout_accuracy = accuracy_
        return judge.eval()
    if not train_if_missing:
        raise DataNotFoundError(f"mnist_judge: no trained judge at {path}; call mnist_judge(train_if_missing=True) "
                                f"or `npnet train mnist --model judge`")
    judge = train_mnist_judge(seed=seed, verbose=verbose)
    save_judge(judge, path)
    if verbose:
        print(f"mnist_judge: held-out accuracy {judge.heldout_accuracy:.2%} after {judge.train_seconds:.0f} s; "
              f"saved to {path}")
    return judge
