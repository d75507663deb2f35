"""The image transformation network of fast (feed-forward) style transfer (Johnson, Alahi & Fei-Fei
2016, "Perceptual Losses for Real-Time Style Transfer and Super-Resolution"), with conditional
instance normalisation (Dumoulin, Shlens & Kudlur 2017, "A Learned Representation for Artistic
Style") so that one network holds several styles and blends of them.

Layout (``TransformNet(channels=(16, 32, 64), num_residual=3)``), for an (N, 3, H, W) normalised image
with H and W multiples of 4:

    conv 5x5, 3 -> 16            + CIN + ReLU      (N, 16, H, W)
    conv 3x3 stride 2, 16 -> 32  + CIN + ReLU      (N, 32, H/2, W/2)
    conv 3x3 stride 2, 32 -> 64  + CIN + ReLU      (N, 64, H/4, W/4)
    3 residual blocks: x + CIN(conv(ReLU(CIN(conv(x)))))
    nearest upsample x2, conv 3x3, 64 -> 32 + CIN + ReLU   (N, 32, H/2, W/2)
    nearest upsample x2, conv 3x3, 32 -> 16 + CIN + ReLU   (N, 16, H, W)
    conv 5x5, 16 -> 3                               (N, 3, H, W), a normalised image

Johnson et al. use 32/64/128 channels, 5 residual blocks and 9x9 end convolutions; half the width,
3 blocks and 5x5 ends stylise a 256 px image in about a quarter of a second on 2 CPU cores (a 9x9,
16 -> 3 convolution alone takes 0.5 s there with npnet's frozen-weight convolution). Upsampling is
"resize-convolution" (nearest neighbour, then a convolution; Odena, Dumoulin & Olah 2016,
"Deconvolution and Checkerboard Artifacts"), which avoids the checkerboard pattern of a strided
transposed convolution. The convolutions feeding a normalisation have no bias: the normalisation
subtracts it again.

Every normalisation is a :class:`ConditionalInstanceNorm2d` with one (gamma, beta) row per style;
``net.forward(x, style)`` sets the style of all of them (an int, an (S,) blend or (N, S) rows).
"""
import numpy as np

from .. import _check
from ..errors import NpnetValueError
from ..layers.norm import conditional_instance_norm_backward, conditional_instance_norm_forward
from ..nn import Conv2d, Module, ReLU, Sequential

__all__ = ["upsample_nearest_forward", "upsample_nearest_backward", "ConditionalInstanceNorm2d",
           "UpsampleNearest2d", "ResidualBlock", "TransformNet"]


def upsample_nearest_forward(x, scale=2):
    """Nearest-neighbour upsampling: every pixel becomes a ``scale`` x ``scale`` block.

    Args:
        x: (N, C, H, W) floating array.
        scale: positive int.
    Returns:
        out: (N, C, scale * H, scale * W); cache: for :func:`upsample_nearest_backward`.
    """
    fn = "upsample_nearest_forward"
    x = _check.float_array(fn, "x", x, ndim=4, layout="(N, C, H, W)")
    scale = _check.positive_int(fn, "scale", scale)
    out = np.repeat(np.repeat(x, scale, axis=2), scale, axis=3)
    return out, (x.shape, scale, x.dtype)


def upsample_nearest_backward(dout, cache):
    """Backward pass of nearest upsampling: each input pixel gets the sum of its block's gradients.

    Args:
        dout: (N, C, scale * H, scale * W).
        cache: from :func:`upsample_nearest_forward`.
    Returns:
        dx: (N, C, H, W).
    """
    fn = "upsample_nearest_backward"
    _check.cache(fn, cache, 3)
    (n, c, h, w), r, dtype = cache
    dout = _check.dout(fn, dout, (n, c, h * r, w * r), dtype)
    return dout.reshape(n, c, h, r, w, r).sum(axis=(3, 5))


class ConditionalInstanceNorm2d(Module):
    """Conditional instance normalisation (:func:`npnet.layers.conditional_instance_norm_forward`).

    Parameters ``weight`` and ``bias`` of shape (num_styles, C), initialised to ones and zeros (every
    style starts as plain instance norm). ``style`` is what the next forward uses: an int, an (S,)
    blend or (N, S) per-sample weights; :meth:`TransformNet.forward` sets it.
    """

    def __init__(self, num_features, num_styles, eps=1e-5, dtype=np.float32):
        super().__init__()
        fn = "ConditionalInstanceNorm2d"
        c = _check.positive_int(fn, "num_features", num_features)
        s = _check.positive_int(fn, "num_styles", num_styles)
        self.eps = _check.number(fn, "eps", eps, low=0, low_open=True)
        dtype = _check.float_dtype(fn, dtype)
        self.params["weight"] = np.ones((s, c), dtype=dtype)
        self.params["bias"] = np.zeros((s, c), dtype=dtype)
        self.style = 0

    def forward(self, x):
        out, self.cache = conditional_instance_norm_forward(x, self.params["weight"], self.params["bias"],
                                                            self.style, self.eps)
        return out

    def backward(self, dout):
        dx, dgammas, dbetas = conditional_instance_norm_backward(dout, self._need_cache())
        self._keep_grads(weight=dgammas, bias=dbetas)
        return dx


class UpsampleNearest2d(Module):
    """Nearest-neighbour upsampling by an integer ``scale`` (PyTorch's ``nn.Upsample(mode='nearest')``)."""

    def __init__(self, scale=2):
        super().__init__()
        self.scale = _check.positive_int("UpsampleNearest2d", "scale", scale)

    def forward(self, x):
        out, self.cache = upsample_nearest_forward(x, self.scale)
        return out

    def backward(self, dout):
        return upsample_nearest_backward(dout, self._need_cache())


def _conv_norm(c_in, c_out, k, stride, num_styles, dtype, rng, relu=True):
    """conv (no bias) + CIN (+ ReLU): the unit every stage of the network repeats."""
    layers = [Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False, dtype=dtype, rng=rng),
              ConditionalInstanceNorm2d(c_out, num_styles, dtype=dtype)]
    return layers + [ReLU()] if relu else layers


class ResidualBlock(Module):
    """``x + CIN(conv(ReLU(CIN(conv(x)))))`` with 3x3 convolutions of ``channels`` channels (Johnson et
    al.'s block, without the final ReLU, as in their supplementary material)."""

    def __init__(self, channels, num_styles, dtype=np.float32, rng=None):
        super().__init__()
        rng = _check.rng("ResidualBlock", "rng", rng)
        self.body = Sequential(*_conv_norm(channels, channels, 3, 1, num_styles, dtype, rng),
                               *_conv_norm(channels, channels, 3, 1, num_styles, dtype, rng, relu=False))

    def forward(self, x):
        return x + self.body.forward(x)

    def backward(self, dout):
        # the skip connection passes dout through unchanged, added to the body's gradient
        return dout + self.body.backward(dout)


class TransformNet(Module):
    """The image transformation network (see the module docstring for the layout).

    ``forward(x, style=0)``: x (N, 3, H, W) normalised images, H and W multiples of 4 -> (N, 3, H, W).
    ``backward(dout)``: gradient w.r.t. the output -> gradient w.r.t. x; fills every parameter's
    gradient (``named_grads``). Parameter names follow the layer indices of ``layers``.

    Args:
        num_styles: S, the number of (gamma, beta) rows of every normalisation.
        channels: widths of the three resolution levels (full, half, quarter).
        num_residual: residual blocks at the quarter resolution.
        kernel: side of the first and the last convolution (9 in Johnson et al.; 5 here, for speed).
        dtype: float32, or float64 for gradient checks.
        seed: seed of the initial weights.
    """

    def __init__(self, num_styles, channels=(16, 32, 64), num_residual=3, kernel=5, dtype=np.float32, seed=0):
        super().__init__()
        fn = "TransformNet"
        s = _check.positive_int(fn, "num_styles", num_styles)
        if not isinstance(channels, (tuple, list)) or len(channels) != 3:
            raise NpnetValueError(f"{fn}: channels must be three widths (full, half, quarter resolution); "
                                  f"got {channels!r}")
        c1, c2, c3 = (_check.positive_int(fn, "channels", c) for c in channels)
        num_residual = _check.nonnegative_int(fn, "num_residual", num_residual)
        kernel = _check.positive_int(fn, "kernel", kernel)
        if kernel % 2 == 0:
            raise NpnetValueError(f"{fn}: kernel must be odd (the output keeps the input's size); got {kernel}")
        dtype = _check.float_dtype(fn, dtype)
        rng = np.random.default_rng(seed)
        self.config = {"num_styles": s, "channels": (c1, c2, c3), "num_residual": num_residual, "kernel": kernel}
        self.layers = Sequential(
            *_conv_norm(3, c1, kernel, 1, s, dtype, rng),
            *_conv_norm(c1, c2, 3, 2, s, dtype, rng),
            *_conv_norm(c2, c3, 3, 2, s, dtype, rng),
            *(ResidualBlock(c3, s, dtype, rng) for _ in range(num_residual)),
            UpsampleNearest2d(2), *_conv_norm(c3, c2, 3, 1, s, dtype, rng),
            UpsampleNearest2d(2), *_conv_norm(c2, c1, 3, 1, s, dtype, rng),
            Conv2d(c1, 3, kernel, padding=kernel // 2, dtype=dtype, rng=rng))
        self.norms = [m for _, m in self.named_modules() if isinstance(m, ConditionalInstanceNorm2d)]

    @property
    def num_styles(self):
        return self.config["num_styles"]

    @property
    def dtype(self):
        return self.layers[0].params["weight"].dtype

    def forward(self, x, style=0):
        fn = "TransformNet.forward"
        x = _check.float_array(fn, "x", x, ndim=4, layout="(N, 3, H, W)")
        if x.shape[1] != 3 or x.shape[2] % 4 or x.shape[3] % 4 or min(x.shape[2:]) < 8:
            raise NpnetValueError(f"{fn}: x must be (N, 3, H, W) images with H and W multiples of 4 and at least "
                                  f"8 (two stride-2 convolutions, then two x2 upsamplings); got shape {x.shape}")
        for norm in self.norms:
            norm.style = style
        return self.layers.forward(x.astype(self.dtype, copy=False))

    def backward(self, dout, input_grad=True):
        """dout (N, 3, H, W) -> dx (None with ``input_grad=False``: the images are data while training)."""
        return self.layers.backward(dout, input_grad=input_grad)
