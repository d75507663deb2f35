"""SqueezeNet 1.1 and 1.0 (Iandola et al. 2016, "SqueezeNet: AlexNet-level accuracy with 50x fewer
parameters and <0.5MB model size"), laid out exactly like torchvision's ``models.squeezenet``.

``model.features[i]`` means what it means in torchvision and in the course notebooks: for 1.1, index 0
is the first conv, 1 its ReLU, 2 a max pool, 3 and 4 fire modules (the style-transfer content layer is
3, the style layers 1, 4, 6, 7), 12 the last fire module. Parameter names are torchvision's
(``features.3.squeeze.weight``), so torchvision's weight file loads unchanged.
"""
import numpy as np

from .. import _check
from ..errors import NpnetTypeError
from ..layers import concat_backward, concat_forward, relu_backward_from_output
from ..layers.conv import _col2im_of_product, _conv_without_columns, conv_output_size, fast_dtype
from ..layers.pool import pool_output_size
from ..nn import Conv2d, Dropout, GlobalAvgPool2d, MaxPool2d, Module, ReLU, Sequential
from ..errors import NpnetValueError

NUM_CLASSES = 1000


_FIRE_CONVS = ("squeeze", "expand1x1", "expand3x3")


class Fire(Module):
    """Fire module: a 1x1 "squeeze" conv + ReLU feeding two "expand" convs (1x1 and 3x3 with padding 1),
    each + ReLU, whose outputs are concatenated along channels.

    Input (N, inplanes, H, W) -> output (N, expand1x1_planes + expand3x3_planes, H, W).

    With frozen weights (``requires_grad`` False, the pretrained network) the module runs a fused
    path: both expand products are written straight into one preallocated output, whose bias and ReLU
    are applied in place, and the backward reads the two branches as views of ``dout`` (no concat copy,
    no split) and gates all ReLUs from their outputs. It keeps the squeeze output and its own output
    for backward, nothing else. With trainable weights it runs the submodules one by one
    (:meth:`forward_modules`), which also fills their parameter gradients. Both give the same numbers;
    only the second runs the layer functions of ``npnet.layers`` (``conv_forward``, ``relu_backward``...).
    """

    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes, dtype=np.float32,
                 rng=None):
        super().__init__()
        fn = "Fire"
        inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes = (
            _check.positive_int(fn, name, v) for name, v in (
                ("inplanes", inplanes), ("squeeze_planes", squeeze_planes), ("expand1x1_planes", expand1x1_planes),
                ("expand3x3_planes", expand3x3_planes)))
        dtype = _check.float_dtype(fn, dtype)
        rng = np.random.default_rng(rng)
        self.squeeze = Conv2d(inplanes, squeeze_planes, 1, dtype=dtype, rng=rng)
        self.squeeze_activation = ReLU()
        self.expand1x1 = Conv2d(squeeze_planes, expand1x1_planes, 1, dtype=dtype, rng=rng)
        self.expand1x1_activation = ReLU()
        self.expand3x3 = Conv2d(squeeze_planes, expand3x3_planes, 3, padding=1, dtype=dtype, rng=rng)
        self.expand3x3_activation = ReLU()
        # What the fused path checks the three convolutions against: (weight shape, bias shape, conv_param).
        self._layout = tuple((conv.params["weight"].shape, conv.params["bias"].shape, dict(conv.conv_param))
                             for conv in self._convs())

    def _convs(self):
        return self.squeeze, self.expand1x1, self.expand3x3

    def forward(self, x):
        if any(conv.requires_grad for conv in self._convs()):
            return self.forward_modules(x)
        return self._forward_fused(x)

    def backward(self, dout):
        fused, cache = self._need_cache()
        if fused:
            return self._backward_fused(dout, cache)
        return self.backward_modules(dout)

    def output_is_relu(self):
        # Only the fused path can start its backward below the ReLUs (backward_from_gate).
        cache = self.cache
        return isinstance(cache, tuple) and cache[0] is True

    def backward_from_gate(self, dgate):
        fused, cache = self._need_cache()
        return self._backward_fused(dgate, cache, gated=True)

    def forward_modules(self, x):
        """The Fire module as its six submodules, one after the other (each keeps its own cache)."""
        s = self.squeeze_activation.forward(self.squeeze.forward(x))
        e1 = self.expand1x1_activation.forward(self.expand1x1.forward(s))
        e3 = self.expand3x3_activation.forward(self.expand3x3.forward(s))
        out, cache = concat_forward([e1, e3], axis=1)
        self.cache = (False, cache)
        return out

    def backward_modules(self, dout):
        """Backward pass of :meth:`forward_modules`; fills the submodules' parameter gradients."""
        de1, de3 = concat_backward(dout, self._need_cache()[1])
        # The squeeze output feeds both branches, so its gradient is the sum of theirs.
        ds = self.expand1x1.backward(self.expand1x1_activation.backward(de1))
        ds = ds + self.expand3x3.backward(self.expand3x3_activation.backward(de3))
        return self.squeeze.backward(self.squeeze_activation.backward(ds))

    def _forward_fused(self, x):
        """x (N, C, H, W) -> (N, E1 + E3, H, W); caches the squeeze output and the output, nothing else."""
        fn = "Fire.forward"
        x = _check.float_array(fn, "x", x, 4, "(N, C, H, W)")
        fast_dtype(fn, x)
        (squeeze, b_s), (expand1x1, b_1), (expand3x3, b_3) = self._checked_convs(fn, x)
        N, _, H, W = x.shape
        S, e1, e3 = squeeze.shape[0], expand1x1.shape[0], expand3x3.shape[0]
        # Checked once for the module above, not by conv_forward for each of its three convolutions (24
        # of SqueezeNet's 26 convolution calls; most of what the checks cost): the compute step runs directly.
        s = _conv_without_columns(x, squeeze.reshape(S, -1), b_s, True, 1, 1, 1, 0, H, W).reshape(N, S, H, W)
        out = np.empty((N, e1 + e3, H * W), dtype=x.dtype)
        # Both expands write their half of the output with bias and ReLU applied: no concatenation.
        _conv_without_columns(s, expand1x1.reshape(e1, -1), b_1, True, 1, 1, 1, 0, H, W, out=out[:, :e1])
        _conv_without_columns(s, expand3x3.reshape(e3, -1), b_3, True, 3, 3, 1, 1, H, W, out=out[:, e1:])
        out = out.reshape(N, e1 + e3, H, W)
        # The two ReLU outputs are all the backward pass needs: their positive entries are the gates.
        self.cache = (True, (x.shape, s, out))
        return out

    def _checked_convs(self, fn, x):
        """(weight, bias) of the squeeze and the two expands in x's dtype, after checking that they are
        still floating arrays of the shapes this module was built with (a user may replace them), that
        the convolutions keep their kernel geometry, and that x has ``inplanes`` channels."""
        params = []
        for name, conv, (w_shape, b_shape, geometry) in zip(_FIRE_CONVS, self._convs(), self._layout):
            w, b = conv.params.get("weight"), conv.params.get("bias")
            # One combined test for the usual case; the detailed checks below only when it fails.
            if not (type(w) is np.ndarray and type(b) is np.ndarray and w.shape == w_shape and b.shape == b_shape
                    and w.dtype.kind == "f" and b.dtype.kind == "f" and conv.conv_param == geometry):
                if conv.conv_param != geometry:
                    raise NpnetValueError(f"{fn}: {name}.conv_param must stay {geometry}; got {conv.conv_param}")
                for key, a, shape in (("weight", w, w_shape), ("bias", b, b_shape)):
                    a = _check.float_array(fn, f"{name}.{key}", a)
                    if a.shape != shape:
                        raise NpnetValueError(f"{fn}: {name}.{key} must have shape {shape}; got {a.shape}")
            params.append((w if w.dtype == x.dtype else w.astype(x.dtype),
                           b if b.dtype == x.dtype else b.astype(x.dtype)))
        if x.shape[1] != self._layout[0][0][1]:
            raise NpnetValueError(f"{fn}: x must have {self._layout[0][0][1]} channels (inplanes) in dim 1; "
                                  f"got shape {x.shape}")
        return params

    def _backward_fused(self, dout, cache, gated=False):
        """dout (N, E1 + E3, H, W) -> dx (N, C, H, W), in the ReLU mode in effect. ``gated``: dout is
        already the gradient at the expands' ReLU inputs (a max pool after this module applied their gate)."""
        x_shape, s, out = cache
        N, C, H, W = x_shape
        squeeze, expand1x1, expand3x3 = (conv.params["weight"].astype(out.dtype, copy=False) for conv in self._convs())
        S, e1 = squeeze.shape[0], expand1x1.shape[0]
        dout = _check.dout("Fire.backward", dout, out.shape, out.dtype)
        dz = (dout if gated else relu_backward_from_output(dout, out)).reshape(N, -1, H * W)
        # The squeeze output feeds both expands: its gradient is the sum of theirs, read as views of dz.
        ds = np.matmul(expand1x1.reshape(e1, S).T, dz[:, :e1])
        ds += _col2im_of_product(expand3x3.reshape(-1, 9 * S).T, dz[:, e1:].transpose(1, 0, 2),
                                 S, H, W, 3, 3, 1, 1, H, W, "numba").reshape(N, S, H * W)
        ds = relu_backward_from_output(ds.reshape(s.shape), s).reshape(N, S, H * W)
        return np.matmul(squeeze.reshape(S, C).T, ds).reshape(x_shape)


# (inplanes, squeeze, expand1x1, expand3x3) of each fire module, "M" a 3x3/2 ceil-mode max pool.
_FEATURES = {
    "1_1": [("conv", 3, 64, 3), "relu", "M", (64, 16, 64, 64), (128, 16, 64, 64), "M",
            (128, 32, 128, 128), (256, 32, 128, 128), "M", (256, 48, 192, 192), (384, 48, 192, 192),
            (384, 64, 256, 256), (512, 64, 256, 256)],
    "1_0": [("conv", 3, 96, 7), "relu", "M", (96, 16, 64, 64), (128, 16, 64, 64), (128, 32, 128, 128),
            "M", (256, 32, 128, 128), (256, 48, 192, 192), (384, 48, 192, 192), (384, 64, 256, 256), "M",
            (512, 64, 256, 256)],
}


class SqueezeNet(Module):
    """SqueezeNet with torchvision's structure: ``features`` (a Sequential) then ``classifier`` =
    [Dropout(0.5), conv 512 -> num_classes 1x1, ReLU, global average pool].

    ``forward(X)``: X (N, 3, H, W) normalised images -> scores (N, num_classes).
    ``backward(dscores)``: dscores (N, num_classes) -> dX (N, 3, H, W), the gradient w.r.t. the image;
    the ReLUs follow the current ``relu_mode`` (standard / guided / deconvnet).

    For anything in between use the two Sequentials: ``model.features.outputs[i]`` is an activation,
    ``model.features.forward(x, start, end)`` / ``model.features.backward(g, start, end)`` a sub-range,
    and ``model.classifier.backward(dscores4d)`` the gradient at the last feature map.
    """

    def __init__(self, version="1_1", num_classes=NUM_CLASSES, dtype=np.float32, seed=0):
        super().__init__()
        if version not in _FEATURES:
            raise NpnetValueError(f"SqueezeNet: version must be one of {sorted(_FEATURES)}; got {version!r}")
        num_classes = _check.positive_int("SqueezeNet", "num_classes", num_classes)
        dtype = _check.float_dtype("SqueezeNet", dtype)
        rng = np.random.default_rng(seed)
        layers = []
        for spec in _FEATURES[version]:
            if spec == "relu":
                layers.append(ReLU())
            elif spec == "M":
                layers.append(MaxPool2d(3, stride=2, ceil_mode=True))
            elif spec[0] == "conv":
                layers.append(Conv2d(spec[1], spec[2], spec[3], stride=2, dtype=dtype, rng=rng))
            else:
                layers.append(Fire(*spec, dtype=dtype, rng=rng))
        self.version = version
        self.num_classes = num_classes
        self.features = Sequential(*layers)
        # torchvision draws the final conv from N(0, 0.01) so that the initial scores are small.
        final_conv = Conv2d(512, num_classes, 1, dtype=dtype, rng=rng)
        final_conv.params["weight"] = (rng.standard_normal(final_conv.params["weight"].shape) * 0.01).astype(dtype)
        final_conv.params["bias"][:] = 0
        self.classifier = Sequential(Dropout(0.5, seed=seed), final_conv, ReLU(), GlobalAvgPool2d())
        self.min_size = _min_input_size(self.features)
        self.eval()

    @property
    def dtype(self):
        return self.features[0].params["weight"].dtype

    def check_input(self, fn, X):
        """Validate an image batch for this network: (N, 3, H, W) floats, H and W >= ``min_size``."""
        X = _check.float_array(fn, "X", X, ndim=4, layout="(N, 3, H, W)")
        if X.shape[1] != 3 or min(X.shape[2:]) < self.min_size:
            raise NpnetValueError(f"{fn}: X must have shape (N, 3, H, W) with H, W >= {self.min_size} "
                                  f"(the smallest image SqueezeNet {self.version} takes); got {X.shape}")
        return X

    def forward(self, X):
        """X (N, 3, H, W) -> class scores (N, num_classes), in the model's dtype (X is cast to it)."""
        X = self.check_input("SqueezeNet.forward", X).astype(self.dtype, copy=False)
        scores = self.classifier.forward(self.features.forward(X))
        return scores.reshape(X.shape[0], self.num_classes)

    def backward(self, dscores):
        """dscores (N, num_classes), the gradient w.r.t. the scores -> dX (N, 3, H, W)."""
        out = self.classifier.outputs[-1]
        if out is None:
            raise RuntimeError("SqueezeNet.backward: call forward first")
        fn = "SqueezeNet.backward"
        dscores = _check.float_array(fn, "dscores", dscores).astype(self.dtype, copy=False)
        _check.same_shape(fn, "dscores", dscores, out.shape[:2], "the scores")
        final = self.classifier[1]
        live = np.flatnonzero(np.any(dscores, axis=0))
        if final.requires_grad or 2 * live.size > dscores.shape[1]:
            return self.features.backward(self.classifier.backward(dscores.reshape(out.shape)))
        # A saliency map asks for one class score per image: only the final 1x1 convolution's rows
        # of the classes with a gradient contribute to dX (a 1000x smaller product for one class).
        g = self.classifier.backward(dscores.reshape(out.shape), 2)  # at the final conv's output
        N, _, h, w = g.shape
        rows = final.params["weight"][live].reshape(live.size, -1)
        d = np.matmul(rows.T, g[:, live].reshape(N, live.size, h * w)).reshape(N, -1, h, w)
        return self.features.backward(self.classifier.backward(d, 0, 1))


def feature_count(version="1_1"):
    """``len(model.features)`` of SqueezeNet ``version`` (13 for 1.1), known without building it."""
    return len(_FEATURES[version])


def _min_input_size(features):
    """Smallest square input for which every layer of ``features`` has a non-empty output."""
    for size in range(1, 256):
        h, ok = size, True
        for layer in features.layers:
            if isinstance(layer, Conv2d):
                k = layer.params["weight"].shape[-1]
                pad, stride = layer.conv_param["pad"], layer.conv_param["stride"]
                if h + 2 * pad < k:
                    ok = False
                    break
                h = conv_output_size(h, k, stride, pad)
            elif isinstance(layer, MaxPool2d):
                p = layer.pool_param
                h = pool_output_size(h, p["pool_height"], p["stride"], p["pad"], p["ceil_mode"])
                if h < 1:
                    ok = False
                    break
        if ok:
            return size
    raise RuntimeError("SqueezeNet: no input size up to 255 fits the network")


def squeezenet1_1(pretrained=True, weights=None, dtype=np.float32):
    """SqueezeNet 1.1 (torchvision ``squeezenet1_1``), in inference mode.

    Args:
        pretrained: load the ImageNet weights found by ``npnet.data.lookup.find_weights`` (explicit
            ``weights`` path, then ``$NPNET_WEIGHTS``, the ``weights/`` folder, the user cache, and a
            download of torchvision's file when online). Parameters are frozen (``requires_grad``
            False), so ``backward`` computes only the input gradient.
        weights: path of an ``.npz`` (torchvision key names) or a torchvision ``.pth`` file.
        dtype: float32 (default) or float64 (for gradient checks).
    """
    return _build("1_1", pretrained, weights, dtype)


def squeezenet1_0(pretrained=True, weights=None, dtype=np.float32):
    """SqueezeNet 1.0 (torchvision ``squeezenet1_0``); see ``squeezenet1_1`` for the arguments."""
    return _build("1_0", pretrained, weights, dtype)


def _build(version, pretrained, weights, dtype):
    # checked here too, so the message names the function the user called
    model = SqueezeNet(version, dtype=_check.float_dtype(f"squeezenet{version}", dtype))
    if pretrained:
        from ..weights import load_model_weights
        load_model_weights(model, f"squeezenet{version}", weights)
        model.requires_grad_(False)
    return model


def extract_features(X, model):
    """The output of every module of ``model.features`` for images X, as a list (index i = features[i]).

    ``model`` is a SqueezeNet or, as the course passes it (``extract_features(x, cnn)`` with
    ``cnn = model.features``), its ``features`` Sequential.
    """
    fn = "extract_features"
    if isinstance(model, Sequential):
        X, features = _check.float_array(fn, "X", X, ndim=4, layout="(N, 3, H, W)"), model
    elif isinstance(model, SqueezeNet):
        X, features = model.check_input(fn, X).astype(model.dtype, copy=False), model.features
    else:
        raise NpnetTypeError(f"{fn}: model must be a SqueezeNet or its .features (a Sequential); "
                             f"got {type(model).__name__}")
    _check.finite(fn, "X", X)
    features.forward(X)
    return list(features.outputs)


def features_from_img(imgpath, imgsize, model=None):
    """The course's helper: load ``imgpath`` with its shorter side resized to ``imgsize`` and return
    ``(extract_features(img, model), img)``, img the normalised (1, 3, H, W) float32 input.

    ``model`` is a SqueezeNet or its ``features`` (default: the pretrained SqueezeNet 1.1; the
    course's version reads a global ``cnn``).
    """
    from ..image import to_input

    imgsize = _check.positive_int("features_from_img", "imgsize", imgsize)
    if model is None:
        model = squeezenet1_1()
    img = to_input(imgpath, imgsize)
    return extract_features(img, model), img
