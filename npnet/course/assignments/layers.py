"""Assignment ``layers``: the forward and backward passes of the basic layers (CS231n assignment 2)."""
import numpy as np

from npnet import layers as L
from npnet.course.manifest import Assignment, Item, layer_pair

CONV = {"stride": 2, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def _affine(rng):
    return {"x": rng.standard_normal((4, 3, 2, 2)), "w": rng.standard_normal((12, 5)),
            "b": rng.standard_normal(5), "dout": rng.standard_normal((4, 5))}


def _relu(rng):
    x = rng.standard_normal((5, 6))
    return {"x": np.where(x >= 0, x + 0.1, x - 0.1), "dout": rng.standard_normal((5, 6))}


def _conv(rng):
    # F (4) != C (3), so a transposed dw has the wrong shape; stride 2 and pad 1 as in the course.
    return {"x": rng.standard_normal((2, 3, 5, 5)), "w": rng.standard_normal((4, 3, 3, 3)),
            "b": rng.standard_normal(4), "dout": rng.standard_normal((2, 4, 3, 3))}


def _pool(rng):
    # Small integers: most windows hold ties, which the backward must route to the first maximum.
    return {"x": rng.integers(0, 3, (2, 2, 4, 4)).astype(np.float64), "dout": rng.standard_normal((2, 2, 2, 2))}


def _batchnorm(rng):
    return {"x": 3 + 2 * rng.standard_normal((6, 4)), "gamma": 1 + 0.5 * rng.standard_normal(4),
            "beta": rng.standard_normal(4), "dout": rng.standard_normal((6, 4))}


def _dropout(rng):
    x = rng.standard_normal((20, 30))
    return {"x": np.where(x >= 0, x + 0.1, x - 0.1), "dout": rng.standard_normal((20, 30)), "p": 0.7,
            "seed": int(rng.integers(1000))}


def _batchnorm_run(inputs, out):
    param = {"mode": "train"}
    out["out"], cache = L.batchnorm_forward(inputs["x"], inputs["gamma"], inputs["beta"], param)
    out["running_mean"] = param.get("running_mean")
    out["dx"], out["dgamma"], out["dbeta"] = L.batchnorm_backward(inputs["dout"], cache)


def _dropout_forward(x, p, seed):
    return L.dropout_forward(x, {"mode": "train", "p": float(p), "seed": int(seed)})


ASSIGNMENT = Assignment(
    name="layers",
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
        Item("affine", {"out": 1, "dx": 1, "dw": 1, "db": 1}, _affine,
             layer_pair(lambda *a: L.affine_forward(*a), lambda *a: L.affine_backward(*a),
                        ("x", "w", "b"), ("dx", "dw", "db")),
             ("affine_forward", "affine_backward"), batch="x", upstream={"dx": "dout"}),
        Item("relu", {"out": 1, "dx": 1}, _relu,
             layer_pair(lambda x: L.relu_forward(x), lambda d, c: L.relu_backward(d, c, mode="standard"),
                        ("x",), ("dx",)),
             ("relu_forward", "relu_backward"), batch="x", upstream={"dx": "dout"}),
        Item("conv_naive", {"out": 2, "dx": 2, "dw": 2, "db": 1}, _conv,
             layer_pair(lambda x, w, b: L.conv_forward_naive(x, w, b, dict(CONV)),
                        lambda *a: L.conv_backward_naive(*a), ("x", "w", "b"), ("dx", "dw", "db")),
             ("conv_forward_naive", "conv_backward_naive"), batch="x"),
        Item("conv_fast", {"out": 2, "dx": 2, "dw": 2, "db": 1}, _conv,
             layer_pair(lambda x, w, b: L.conv_forward(x, w, b, dict(CONV)),
                        lambda *a: L.conv_backward(*a), ("x", "w", "b"), ("dx", "dw", "db")),
             ("conv_forward", "conv_backward"), batch="x"),
        Item("max_pool_naive", {"out": 2, "dx": 2}, _pool,
             layer_pair(lambda x: L.max_pool_forward_naive(x, dict(POOL)),
                        lambda *a: L.max_pool_backward_naive(*a), ("x",), ("dx",)),
             ("max_pool_forward_naive", "max_pool_backward_naive"), batch="x"),
        Item("batchnorm", {"out": 2, "running_mean": 1, "dx": 2, "dgamma": 1, "dbeta": 1}, _batchnorm,
             _batchnorm_run, ("_normalize", "_normalize_backward", "_batchnorm_forward", "_batchnorm_backward"),
             rtol=1e-5, batch="x"),
        Item("layernorm", {"out": 1, "dx": 2, "dgamma": 1, "dbeta": 1}, _batchnorm,
             layer_pair(lambda x, g, b: L.layernorm_forward(x, g, b, {}), lambda *a: L.layernorm_backward(*a),
                        ("x", "gamma", "beta"), ("dx", "dgamma", "dbeta")),
             ("_normalize", "_normalize_backward", "layernorm_forward", "layernorm_backward"), rtol=1e-5,
             batch="x"),
        Item("dropout", {"out": 1, "dx": 1}, _dropout,
             layer_pair(_dropout_forward, lambda *a: L.dropout_backward(*a), ("x", "p", "seed"), ("dx",)),
             ("dropout_forward", "dropout_backward"), batch="x", upstream={"dx": "dout"},
             factors=lambda inputs: {float(inputs["p"]): "the 1/p scaling of inverted dropout is missing",
                                     1 / float(inputs["p"]): "scaled by 1/p twice"}),
    ),
)
