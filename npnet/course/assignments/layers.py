"""Assignment ``layers``: the forward and backward passes of the basic layers (CS231n assignment 2).

Every item runs several configurations (see :mod:`._configs`), so that what a student can get wrong
shows in some part: more than one shape; convolutions and pooling with stride != kernel size, odd
sizes, non-square windows, padding 0 and > 0; max pooling on ties; batch normalisation in train and
test mode with both running statistics; dropout in train and test mode; ReLU at exactly 0.
"""
import numpy as np

from npnet import layers as L
from npnet.course.assignments._configs import Config, configured
from npnet.course.diagnose import Alternative, Missing
from npnet.course.manifest import Assignment, layer_pair

N = 3  # the batch of every configuration (the "1/N" diagnoses use it)


def _away_from_zero(rng, shape):
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + 0.1, x - 0.1)


# ------------------------------------------------------------------ affine and ReLU

def _affine_inputs(x_shape, m):
    d = int(np.prod(x_shape))

    def inputs(rng):
        return {"x": rng.standard_normal((N,) + x_shape), "w": rng.standard_normal((d, m)),
                "b": rng.standard_normal(m), "dout": rng.standard_normal((N, m))}
    return inputs


AFFINE_RUN = layer_pair(lambda *a: L.affine_forward(*a), lambda *a: L.affine_backward(*a), ("x", "w", "b"),
                        ("dx", "dw", "db"))
AFFINE = [Config(label, _affine_inputs(shape, m), AFFINE_RUN, {"out": 1, "dx": 1, "dw": 1, "db": 1},
                 upstream={"dx": "dout", "db": "dout"})
          for label, shape, m in (("x (N, 3, 2, 2), 5 outputs", (3, 2, 2), 5), ("x (N, 7), 2 outputs", (7,), 2))]


def _affine_partial(input_grad, weight_grads):
    """affine_backward asked for only some gradients (a frozen layer, or the first layer's dx)."""
    def run(inputs, out):
        _, cache = L.affine_forward(inputs["x"], inputs["w"], inputs["b"])
        dx, dw, db = L.affine_backward(inputs["dout"], cache, input_grad=input_grad, weight_grads=weight_grads)
        out.update({"dx": dx} if input_grad else {"dw": dw, "db": db})
    return run


AFFINE += [Config("x (N, 7), weight_grads=False", _affine_inputs((7,), 2), _affine_partial(True, False), {"dx": 1}),
           Config("x (N, 7), input_grad=False", _affine_inputs((7,), 2), _affine_partial(False, True),
                  {"dw": 1, "db": 1})]


def _relu_inputs(shape, zeros):
    def inputs(rng):
        x, dout = _away_from_zero(rng, shape), rng.standard_normal(shape)
        if zeros:  # the gradient at exactly 0 is 0 (the docstring's rule), also where dout is 0 (guided)
            x.flat[::3], dout.flat[1::4] = 0.0, 0.0
        return {"x": x, "dout": dout}
    return inputs


def _relu_run(mode):
    return layer_pair(lambda x: L.relu_forward(x), lambda d, c: L.relu_backward(d, c, mode=mode), ("x",), ("dx",))


RELU = [Config(f"{mode}, {label}", _relu_inputs(shape, zeros), _relu_run(mode),
               {"out": 1, "dx": 1} if mode == "standard" else {"dx": 1}, upstream={"dx": "dout"})
        for mode, label, shape, zeros in (("standard", "(N, 6) with exact zeros", (N, 6), True),
                                          ("standard", "(N, 2, 3, 4)", (N, 2, 3, 4), False),
                                          ("guided", "(N, 6) with exact zeros", (N, 6), True),
                                          ("deconvnet", "(N, 6) with exact zeros", (N, 6), True))]

# ------------------------------------------------------------------ convolution and pooling

# (stride, pad, kernel HHxWW, input HxW): the course's stride and padding, an unpadded stride-1
# non-square kernel, and a stride larger than the kernel with pad 2 and a last row and column no window
# reaches. Odd sizes, and H' != W' everywhere, so swapped heights and widths show.
CONV_SHAPES = ((2, 1, (3, 3), (5, 7)), (1, 0, (2, 3), (5, 7)), (3, 2, (3, 2), (7, 9)))


def _conv_label(stride, pad, k, hw):
    return f"stride {stride}, pad {pad}, {k[0]}x{k[1]} kernel, {hw[0]}x{hw[1]} input"


def _conv_inputs(stride, pad, k, hw, f=4, c=3):
    # F (4) != C (3), so a transposed dw has the wrong shape
    ho, wo = (hw[0] + 2 * pad - k[0]) // stride + 1, (hw[1] + 2 * pad - k[1]) // stride + 1

    def inputs(rng):
        return {"x": rng.standard_normal((N, c) + hw), "w": rng.standard_normal((f, c) + k),
                "b": rng.standard_normal(f), "dout": rng.standard_normal((N, f, ho, wo)), "stride": stride, "pad": pad}
    return inputs


def _conv_run(forward, backward, **options):
    def run(inputs, out):
        param = {"stride": int(inputs["stride"]), "pad": int(inputs["pad"])}
        out["out"], cache = forward(inputs["x"], inputs["w"], inputs["b"], param, **options)
        grads = backward(inputs["dout"], cache, **options)
        names = ("dx", "dw", "db") if options.get("weight_grads", True) else ("dx",)
        out.update(zip(names, grads))
    return run


def _conv_configs(forward, backward):
    configs = [Config(_conv_label(*shape), _conv_inputs(*shape), _conv_run(forward, backward),
                      {"out": 1, "dx": 1, "dw": 1, "db": 1}, upstream={"db": "dout"}) for shape in CONV_SHAPES]
    return configs


CONV_NAIVE = _conv_configs(lambda *a: L.conv_forward_naive(*a), lambda *a: L.conv_backward_naive(*a))
# conv_forward also has a path for frozen weights (weight_grads=False) that keeps no columns
CONV_FAST = _conv_configs(lambda *a, **k: L.conv_forward(*a, **k), lambda *a, **k: L.conv_backward(*a, **k)) + [
    Config("frozen weights, " + _conv_label(*CONV_SHAPES[2]), _conv_inputs(*CONV_SHAPES[2]),
           _conv_run(lambda *a, **k: L.conv_forward(*a, **k), lambda *a, **k: L.conv_backward(*a, **k),
                     weight_grads=False), {"out": 1, "dx": 1})]

# (window HxW, stride, pad, input HxW, ties): non-overlapping windows, overlapping non-square windows
# with stride 1, padding, and a stride larger than the window (rows and columns no window covers)
POOL_SHAPES = (((2, 2), 2, 0, (4, 6), True), ((3, 2), 1, 0, (5, 6), True), ((3, 3), 2, 1, (7, 5), True),
               ((2, 2), 3, 0, (7, 8), False))


def _pool_inputs(k, stride, pad, hw, ties):
    def inputs(rng):
        # small integers: most windows hold ties, which the backward must route to the first maximum
        x = rng.integers(0, 3, (N, 2) + hw).astype(np.float64) if ties else rng.standard_normal((N, 2) + hw)
        ho, wo = (hw[0] + 2 * pad - k[0]) // stride + 1, (hw[1] + 2 * pad - k[1]) // stride + 1
        return {"x": x, "dout": rng.standard_normal((N, 2, ho, wo)), "kh": k[0], "kw": k[1], "stride": stride,
                "pad": pad}
    return inputs


def _pool_forward(x, kh, kw, stride, pad):
    return L.max_pool_forward_naive(x, {"pool_height": int(kh), "pool_width": int(kw), "stride": int(stride),
                                        "pad": int(pad)})


POOL = [Config(f"{k[0]}x{k[1]} window, stride {s}, pad {p}, {hw[0]}x{hw[1]} input" + (", ties" if ties else ""),
               _pool_inputs(k, s, p, hw, ties),
               layer_pair(_pool_forward, lambda *a: L.max_pool_backward_naive(*a), ("x", "kh", "kw", "stride", "pad"),
                          ("dx",)),
               {"out": 1, "dx": 1}) for k, s, p, hw, ties in POOL_SHAPES]

# ------------------------------------------------------------------ normalisation


def _norm_inputs(shape, scale=2.0, running=False):
    def inputs(rng):
        c = shape[1]
        out = {"x": 3 + scale * rng.standard_normal(shape), "gamma": 1 + 0.5 * rng.standard_normal(c),
               "beta": rng.standard_normal(c), "dout": rng.standard_normal(shape)}
        if running:
            out.update(running_mean=3 + rng.standard_normal(c), running_var=scale ** 2 * rng.uniform(0.5, 2, c))
        return out
    return inputs


def _view(inputs, name):
    """A per-feature input shaped to broadcast against x."""
    x = inputs["x"]
    return np.reshape(inputs[name], (1, -1) + (1,) * (x.ndim - 2))


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _normalised(x, axes, eps=1e-5):
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps), 1 / np.sqrt(var + eps)


def _norm_terms(axes_of):
    """The variance path of the backward (missing when only the mean is differentiated through) and
    the normalisation over the other axes (batch norm for layer norm and back)."""
    def factors(inputs):
        x, dxhat = inputs["x"], inputs["dout"] * _view(inputs, "gamma")
        axes = axes_of(x)
        xhat, inv_std = _normalised(x, axes)
        variance_path = -inv_std * xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)
        mean_path = np.broadcast_to(-inv_std * dxhat.mean(axis=axes, keepdims=True), x.shape)
        other = tuple(i for i in range(x.ndim) if i not in axes)
        wrong_xhat, _ = _normalised(x, other)
        return {Missing("the variance path of the backward (-xhat * mean(dxhat * xhat) / std)", variance_path): "",
                Missing("the mean path of the backward (-mean(dxhat) / std)", mean_path): "",
                Alternative(f"normalised over axes {other} instead of {axes}: statistics over the wrong axes",
                            _view(inputs, "gamma") * wrong_xhat + _view(inputs, "beta")): ""}
    return factors


def _batchnorm_run(spatial=False, mode="train"):
    forward, backward = ((L.spatial_batchnorm_forward, L.spatial_batchnorm_backward) if spatial
                         else (L.batchnorm_forward, L.batchnorm_backward))

    def run(inputs, out):
        param = {"mode": mode, "momentum": 0.8}
        for key in ("running_mean", "running_var"):
            if key in inputs:
                param[key] = np.copy(inputs[key])
        out["out"], cache = forward(inputs["x"], inputs["gamma"], inputs["beta"], param)
        if mode == "train":
            out["running_mean"], out["running_var"] = param.get("running_mean"), param.get("running_var")
        out["dx"], out["dgamma"], out["dbeta"] = backward(inputs["dout"], cache)
    return run


def _batch_statistics(inputs):
    """Test mode computed with the batch's own statistics, as in train mode."""
    xhat, _ = _normalised(inputs["x"], _axes(inputs["x"]))
    return {Alternative("test mode normalised with the batch's own mean and variance instead of running_mean and "
                        "running_var", _view(inputs, "gamma") * xhat + _view(inputs, "beta")): ""}


TRAIN_PARTS = {"out": 1, "running_mean": 1, "running_var": 1, "dx": 1, "dgamma": 1, "dbeta": 1}
BATCHNORM = [
    Config("train, (N, 4), running statistics given", _norm_inputs((N, 4), running=True), _batchnorm_run(),
           TRAIN_PARTS, upstream={"dbeta": "dout"}, factors=_norm_terms(_axes)),
    Config("train, (N, 5), no running statistics yet", _norm_inputs((N, 5)), _batchnorm_run(),
           {"out": 1, "running_mean": 1, "running_var": 1, "dx": 1}, factors=_norm_terms(_axes)),
    Config("test, (N, 4), running statistics", _norm_inputs((N, 4), running=True), _batchnorm_run(mode="test"),
           {"out": 1, "dx": 1, "dgamma": 1, "dbeta": 1}, upstream={"dbeta": "dout"}, factors=_batch_statistics),
    Config("train, spatial (N, 3, 2, 3)", _norm_inputs((N, 3, 2, 3), running=True), _batchnorm_run(spatial=True),
           TRAIN_PARTS, upstream={"dbeta": "dout"}, factors=_norm_terms(_axes)),
    # a variance of ~1e-5 against eps = 1e-5: a missing or misplaced eps changes the answer
    Config("train, (N, 4), variance close to eps", _norm_inputs((N, 4), scale=0.003), _batchnorm_run(),
           {"out": 1, "dx": 1}),
]


def _layernorm_run(inputs, out):
    run = layer_pair(lambda x, g, b: L.layernorm_forward(x, g, b, {}), lambda *a: L.layernorm_backward(*a),
                     ("x", "gamma", "beta"), ("dx", "dgamma", "dbeta"))
    run(inputs, out)


def _layer_axes(x):
    return (1,)


LAYERNORM = [Config(label, _norm_inputs(shape, scale), _layernorm_run, parts, upstream={"dbeta": "dout"},
                    factors=_norm_terms(_layer_axes))
             for label, shape, scale, parts in (
                 ("(N, 4)", (N, 4), 2.0, {"out": 1, "dx": 1, "dgamma": 1, "dbeta": 1}),
                 ("(N, 7)", (N, 7), 2.0, {"out": 1, "dx": 1, "dgamma": 1, "dbeta": 1}),
                 ("(N, 4), variance close to eps", (N, 4), 0.003, {"out": 1, "dx": 1}))]

# ------------------------------------------------------------------ dropout


def _dropout_inputs(shape, p):
    def inputs(rng):
        return {"x": _away_from_zero(rng, shape), "dout": rng.standard_normal(shape), "p": p,
                "seed": int(rng.integers(1000))}
    return inputs


def _dropout_forward(mode):
    return lambda x, p, seed: L.dropout_forward(x, {"mode": mode, "p": float(p), "seed": int(seed)})


def _dropout_run(mode):
    pair = layer_pair(_dropout_forward(mode), lambda *a: L.dropout_backward(*a), ("x", "p", "seed"), ("dx",))

    def run(inputs, out):
        if mode == "test":  # after a training pass, as a model is evaluated (the test branch is given code)
            _dropout_forward("train")(inputs["x"], inputs["p"], inputs["seed"])
        pair(inputs, out)
    return run


def _dropout_factors(inputs):
    p = float(inputs["p"])
    return {p: "p times the right value: the 1/p scaling of inverted dropout is missing (train mode), or test "
               "mode scales by p (inverted dropout's test mode is the identity)",
            1 / p: "scaled by 1/p twice, or by 1/p in test mode (inverted dropout's test mode is the identity)"}


DROPOUT = [Config(f"{mode}, p {p}, {label}", _dropout_inputs(shape, p), _dropout_run(mode), {"out": 1, "dx": 1},
                  upstream={"dx": "dout"}, factors=_dropout_factors)
           for mode, p, label, shape in (("train", 0.7, "(20, 30)", (20, 30)), ("train", 0.25, "(N, 3, 4, 4)", (N, 3, 4, 4)),
                                         ("test", 0.7, "(20, 30)", (20, 30)))]

ASSIGNMENT = Assignment(
    name="layers",
    requires=(),
    # Fast twins and kernels that would compute these items' outputs: stubs in this release.
    shortcuts={
        "npnet/layers/pool.py": ("max_pool_forward", "max_pool_backward"),
        "npnet/layers/activations.py": ("relu_backward_from_output", "leaky_relu_forward", "leaky_relu_backward"),
        "npnet/kernels.py": ("max_pool_rows", "max_pool_argmax_rows", "_argmax_2x2_stride2",
                            "_argmax_3x3_stride2", "_argmax_any", "max_pool_backward_rows", "_relu_gate",
                            "relu_backward_rows", "channel_moments", "channel_normalize", "channel_gradient_sums",
                            "channel_combine"),
    },
    title="Layers: affine, ReLU, convolution, max pooling, batch and layer normalisation, dropout",
    strip={
        "npnet/layers/affine.py": ("affine_forward", "affine_backward"),
        "npnet/layers/activations.py": ("relu_forward", "relu_backward", "dropout_forward", "dropout_backward"),
        "npnet/layers/conv.py": ("conv_forward_naive", "conv_backward_naive", "conv_forward", "conv_backward"),
        "npnet/layers/pool.py": ("max_pool_forward_naive", "max_pool_backward_naive"),
        "npnet/layers/norm.py": ("_normalize", "_normalize_backward", "_batchnorm_forward",
                                 "_batchnorm_backward", "layernorm_forward", "layernorm_backward"),
    },
    exercises=("layers",),
    public_tests=("test_affine_activations.py", "test_conv.py", "test_pool.py"),
    gradcheck=("affine", "relu", "conv.naive", "conv.fast", "max_pool.naive", "batchnorm", "layernorm", "dropout"),
    items=(
        configured("affine", AFFINE, ("affine_forward", "affine_backward"), batch="x"),
        configured("relu", RELU, ("relu_forward", "relu_backward"), batch="x"),
        configured("conv_naive", CONV_NAIVE, ("conv_forward_naive", "conv_backward_naive"), batch="x"),
        configured("conv_fast", CONV_FAST, ("conv_forward", "conv_backward"), batch="x"),
        configured("max_pool_naive", POOL, ("max_pool_forward_naive", "max_pool_backward_naive"), batch="x"),
        configured("batchnorm", BATCHNORM, ("_normalize", "_normalize_backward", "_batchnorm_forward",
                                            "_batchnorm_backward"), batch="x", rtol=1e-5),
        configured("layernorm", LAYERNORM, ("_normalize", "_normalize_backward", "layernorm_forward",
                                            "layernorm_backward"), batch="x", rtol=1e-5),
        configured("dropout", DROPOUT, ("dropout_forward", "dropout_backward"), batch="x"),
    ),
)
