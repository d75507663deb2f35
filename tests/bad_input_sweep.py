"""The bad-input sweep behind tests/test_bad_input_sweep.py (issue 9 §4), runnable on its own:

    python tests/bad_input_sweep.py            # prints one line per case, then the totals

Every public function and class of the modules in ``MODULES`` gets malformed input: wrong shapes and
dtypes, NaN/Inf, zero sizes, wrong types and bad hyper-parameters. A *spec* (see ``SPECS``) gives one
valid call and the kind of each argument; each argument is then replaced, one at a time, by every
bad value of its kind (``MUTATIONS``). Names without a spec still get the generic cases: every
required argument ``None``, then every required argument a string. Each case is classified:

- ``clear``: an ``NpnetError``, ``ValueError`` or ``TypeError`` whose message names the function;
- ``warned``: the call returned with a ``PrecisionWarning`` naming the function (a float32 point of a
  numerical gradient is checked as given, and its precision stated);
- ``propagated``: NaN/Inf given to a pure layer came back as NaN/Inf (IEEE arithmetic, as in
  PyTorch; the losses, optimisers and techniques refuse non-finite input instead);
- ``unclear``: any other exception, or a message that does not name the function;
- ``silent``: the call returned although the input was invalid;
- ``crash``: the interpreter died (counted by the test, which runs this file in a subprocess).

Each case runs in a fresh temporary working directory, so nothing is written next to the caller.
"""
import contextlib
import importlib
import inspect
import io
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

MODULES = ["npnet.layers", "npnet.optim", "npnet.vis", "npnet.style", "npnet.image", "npnet.models", "npnet.data",
           "npnet.data.coco", "npnet.nn", "npnet.solver", "npnet.linalg", "gradcheck", "npnet.vis.figures",
           "npnet.style.figures"]

# Public names the sweep does not call, and why.
SKIPPED = {
    "relu_mode": "a context manager; its one argument is checked in tests/test_affine_activations.py",
    "get_relu_mode": "takes no argument",
    "imagenet_class_names": "takes no argument",
    "Module": "abstract base class with no argument",
    "ReLU": "takes no argument", "GlobalAvgPool2d": "takes no argument",
    "StyleResult": "a NamedTuple of results, not an entry point", "DreamResult": "a NamedTuple of results",
    "register": "a decorator for gradcheck's own cases",
    "run_check": "runs a registered Check object (tests/test_gradcheck.py)",
    "squeezenet1_0": "loads pretrained weights (slow; the weights' own tests cover it)",
    "squeezenet1_1": "loads pretrained weights (slow; the weights' own tests cover it)",
    "load_imagenet_val": "reads the real data set (tests/test_squeezenet.py)",
    "find_weights": "path handling is helper 'weights' work (issue 9 §1); tests/test_lookup.py",
    "StyleObjective": "internal callable object built by style_transfer, whose arguments are checked",
    "Flatten": "no required argument; its dims are checked at forward (tests/test_modules*.py)",
    "LeakyReLU": "no required argument; the slope is checked by leaky_relu_forward",
    "Sigmoid": "takes no argument", "Tanh": "takes no argument",
    "no_grad": "a context manager without arguments", "grad_enabled": "takes no argument",
    "FastStyleResult": "a NamedTuple of results", "Facets": "a NamedTuple of results",
    "content_photos": "takes no argument (finds the photographs through NPNET_DATA)",
}

# Functions that hand their arguments to another public function, whose name their errors carry.
# Composite layers (sandwiches) report the layer inside that refused the input.
ALIASES = {"feature_inversion": ("style_transfer",), "texture_synthesis": ("style_transfer",),
           "multifaceted_visualization": ("class_facets",),
           "style_mix": ("bad",),  # its messages name the caller passed as fn (here the generic case's "bad")
           "affine_relu_forward": ("affine_forward",), "conv_relu_forward": ("conv_forward",),
           "conv_relu_pool_forward": ("conv_forward",)}

# Arguments for which any string is a plausible value (a file name), so "all strings" is not invalid.
PATHLIKE = {"path", "out_dir", "relpath", "base_dir", "image", "content_image", "style_image", "filename"}

# Mutations of each kind of argument: (label, function of the valid value -> bad value).
_nan = ("nan", lambda v: _poke(v, np.nan))
_inf = ("inf", lambda v: _poke(v, np.inf))
_SHAPES = [("int dtype", lambda v: np.asarray(v).astype(np.int64)), ("bool dtype", lambda v: np.asarray(v) > 0),
           ("extra dim", lambda v: np.asarray(v)[None]), ("empty", lambda v: np.asarray(v)[:0]),
           ("string", lambda v: "bad"), ("None", lambda v: None)]
_NUMBER = [("string", lambda v: "bad"), ("nan", lambda v: float("nan")), ("inf", lambda v: float("inf")),
           ("bool", lambda v: True), ("list", lambda v: [v])]
MUTATIONS = {
    "data": [_nan, _inf] + _SHAPES,            # input of a pure layer: NaN/Inf may propagate
    "any": [_nan, _inf] + _SHAPES[:2] + _SHAPES[3:],   # the same, for layers that take any shape
    "finite": [_nan, _inf] + _SHAPES,          # input that must be finite (losses, techniques, ...)
    "param": [("int dtype", _SHAPES[0][1]), ("extra dim", _SHAPES[2][1]), ("string", lambda v: "bad"),
              ("None", lambda v: None), ("wrong size", lambda v: np.concatenate([np.ravel(v), np.ravel(v)]))],
    # gamma/beta of the norms: integer arrays are fine (CS231n passes np.asarray([3, 4, 5]))
    "scale": [("extra dim", _SHAPES[2][1]), ("string", lambda v: "bad"), ("None", lambda v: None),
              ("wrong size", lambda v: np.concatenate([np.ravel(v), np.ravel(v)])), _nan],
    "param_opt": [("int dtype", _SHAPES[0][1]), ("extra dim", _SHAPES[2][1]), ("string", lambda v: "bad"),
                  ("wrong size", lambda v: np.concatenate([np.ravel(v), np.ravel(v)]))],
    "axis": [("too large", lambda v: 5), ("too negative", lambda v: -5), ("float", lambda v: 1.0), ("string", lambda v: "1"),
             ("None", lambda v: None), ("bool", lambda v: True)],
    "uint8img": [("int64", lambda v: np.asarray(v).astype(np.int64)), ("float", lambda v: np.asarray(v) / 255.0),
                 ("4-D", lambda v: np.asarray(v)[None]), ("None", lambda v: None), ("string", lambda v: "bad")],
    "real": _NUMBER + [("None", lambda v: None)],
    "pos": _NUMBER + [("zero", lambda v: 0.0), ("negative", lambda v: -1.5), ("None", lambda v: None)],
    "nonneg": _NUMBER + [("negative", lambda v: -1.5), ("None", lambda v: None)],
    "pos_or_none": _NUMBER + [("zero", lambda v: 0.0), ("negative", lambda v: -1.5)],
    "count": [("zero", lambda v: 0), ("negative", lambda v: -1), ("float", lambda v: 2.5), ("string", lambda v: "3"),
              ("bool", lambda v: True), ("None", lambda v: None)],
    "count_nn": [("zero", lambda v: 0), ("negative", lambda v: -1), ("float", lambda v: 2.5), ("string", lambda v: "3"),
                 ("bool", lambda v: True)],
    "count0": [("negative", lambda v: -1), ("float", lambda v: 2.5), ("string", lambda v: "3"), ("bool", lambda v: True)],
    "bool": [("string 'False'", lambda v: "False"), ("None", lambda v: None), ("int", lambda v: 2)],
    "labels": [("float", lambda v: np.asarray(v, dtype=float)), ("too large", lambda v: np.asarray(v) + 100),
               ("negative", lambda v: np.asarray(v) * 0 - 1), ("too many", lambda v: np.concatenate([v, v])),
               ("string", lambda v: "bad")],
    "model": [("None", lambda v: None), ("string", lambda v: "squeezenet")],
    "dict": [("string", lambda v: "bad"), ("misspelt key", lambda v: {**v, "sride": 1}), ("None", lambda v: None)],
    "dict_opt": [("string", lambda v: "bad"), ("misspelt key", lambda v: {**v, "sride": 1})],
    "model_opt": [("string", lambda v: "squeezenet"), ("int", lambda v: 3)],
    "path": [("None", lambda v: None), ("int", lambda v: 123), ("missing file", lambda v: "no/such/file.png")],
    "callable": [("None", lambda v: None), ("string", lambda v: "f")],
    "layer": [("too large", lambda v: 99), ("negative", lambda v: -1), ("float", lambda v: 2.0), ("string", lambda v: "3")],
}


def _poke(v, value):
    a = np.array(v, dtype=float, copy=True)
    a.flat[0] = value
    return a


# ------------------------------------------------------------------------------------- valid inputs
R = np.random.default_rng(0)


def rn(*shape):
    return R.standard_normal(shape)


def tiny_squeezenet():
    """A randomly initialised SqueezeNet 1.1 with 3 classes in float64: no weights file, fast at 17x17."""
    from npnet.models.squeezenet import SqueezeNet
    return SqueezeNet("1_1", num_classes=3, dtype=np.float64, seed=0)


def _fwd(name, *args):
    import npnet.layers as L
    return getattr(L, name)(*args)


def _word_to_idx():
    return {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "cat": 4}


def specs(model):
    """name -> list of (call, {arg: (valid value, kind)}, propagates, names accepted in the message)."""
    import npnet.layers as L
    x4, conv_p = rn(2, 3, 5, 5), {"stride": 1, "pad": 1}
    pool_p = {"pool_height": 2, "pool_width": 2, "stride": 2}
    X = rn(1, 3, 17, 17)
    S = {}

    def add(name, args, propagates=False, call=None, also=(), positional=False):
        # positional: the arguments are the function's leading parameters in order, and are passed by
        # position, so the spec survives a renamed parameter (the course's names differ in places).
        S.setdefault(name, []).append((call, args, propagates, (name,) + tuple(also), positional))

    def layer(name, args, backward=None, dout_kind="data"):
        add(name, args, propagates=True)
        if backward:
            *douts, cache = _fwd(name, *[v for v, _ in args.values()])
            bargs = {f"d{i}": (np.ones_like(d), dout_kind) for i, d in enumerate(douts)}
            add(backward, {**bargs, "cache": (cache, "fixed")}, propagates=True)

    # layers -----------------------------------------------------------------------------------
    layer("affine_forward", {"x": (rn(2, 3, 2), "data"), "w": (rn(6, 4), "data"), "b": (rn(4), "data")},
          "affine_backward")
    for act in ("relu", "sigmoid", "tanh"):
        layer(f"{act}_forward", {"x": (rn(3, 4), "any")}, f"{act}_backward")
    add("sigmoid", {"x": (rn(3, 4), "any")}, propagates=True)
    add("relu_backward_from_output", {"dout": (rn(3, 4), "data"), "out": (np.maximum(rn(3, 4), 0), "fixed")},
        propagates=True)
    layer("leaky_relu_forward", {"x": (rn(3, 4), "any"), "alpha": (0.1, "real")}, "leaky_relu_backward")
    layer("dropout_forward", {"x": (rn(3, 4), "any"), "dropout_param": ({"mode": "train", "p": 0.5, "seed": 0}, "dict")},
          "dropout_backward")
    for bad in (0.0, 1.5, float("nan"), "0.5"):
        add("dropout_forward", {"x": (rn(3, 4), "fixed"), "dropout_param": ({"mode": "train", "p": bad}, "invalid")})
    bn = {"x": (rn(4, 3), "data"), "gamma": (rn(3), "scale"), "beta": (rn(3), "scale"),
          "bn_param": ({"mode": "train"}, "dict")}
    layer("batchnorm_forward", bn, "batchnorm_backward")
    for bad in ({"mode": "train", "eps": 0}, {"mode": "train", "momentum": 1.5}, {"mode": "eval"},
                {"mode": "train", "eps": "1e-5"}):
        add("batchnorm_forward", {**bn, "x": (rn(4, 3), "fixed"), "bn_param": (bad, "invalid")})
    add("batchnorm_forward", {**bn, "x": (np.array([[1e200], [-1e200]]), "invalid"), "gamma": (np.ones(1), "fixed"),
                              "beta": (np.zeros(1), "fixed")})
    layer("spatial_batchnorm_forward", {**bn, "x": (rn(2, 3, 2, 2), "data")}, "spatial_batchnorm_backward")
    layer("instance_norm_forward", {"x": (rn(2, 3, 2, 2), "data"), "gamma": (rn(3), "scale"),
                                    "beta": (rn(3), "scale"), "eps": (1e-5, "pos")}, "instance_norm_backward")
    add("instance_norm_forward", {"x": (np.array([[[[1e200, -1e200]]]]), "invalid"), "gamma": (np.ones(1), "fixed"),
                                  "beta": (np.zeros(1), "fixed")})
    conv = {"x": (x4, "data"), "w": (rn(4, 3, 3, 3), "data"), "b": (rn(4), "param_opt"), "conv_param": (conv_p, "dict")}
    layer("conv_forward", conv, "conv_backward")
    layer("conv_forward_naive", conv, "conv_backward_naive")
    layer("conv_transpose_forward", {**conv, "w": (rn(3, 4, 3, 3), "data"), "b": (rn(4), "param_opt")},
          "conv_transpose_backward")
    for bad in ({"stride": 0, "pad": 1}, {"stride": 1, "pad": -1}, {"stride": 1.5, "pad": 0}, {"stride": "1", "pad": 0}):
        add("conv_forward", {**conv, "x": (x4, "fixed"), "conv_param": (bad, "invalid")})
    pool = {"x": (rn(2, 3, 4, 4), "data"), "pool_param": (pool_p, "dict")}
    layer("max_pool_forward", pool, "max_pool_backward")
    layer("max_pool_forward_naive", pool, "max_pool_backward_naive")
    layer("avg_pool_forward", pool, "avg_pool_backward")
    for name in ("max_pool_forward", "avg_pool_forward", "max_pool_forward_naive"):
        for bad in ({**pool_p, "ceil_mode": "False"}, {**pool_p, "stride": 0}, {**pool_p, "pool_height": 9},
                    {**pool_p, "pad": 2}):
            add(name, {"x": (rn(2, 3, 4, 4), "fixed"), "pool_param": (bad, "invalid")})
    add("avg_pool_forward", {"x": (rn(2, 3, 4, 4), "fixed"), "pool_param": ({**pool_p, "count_include_pad": "False"},
                                                                          "invalid")})
    layer("global_avg_pool_forward", {"x": (rn(2, 3, 4, 4), "data")}, "global_avg_pool_backward")
    layer("pixel_shuffle_forward", {"x": (rn(1, 4, 2, 2), "data"), "upscale_factor": (2, "count")},
          "pixel_shuffle_backward")
    layer("pixel_unshuffle_forward", {"x": (rn(1, 1, 4, 4), "data"), "downscale_factor": (2, "count")},
          "pixel_unshuffle_backward")
    add("concat_forward", {"xs": ([rn(2, 3), rn(2, 2)], "fixed"), "axis": (1, "axis")})
    for bad in ([], [rn(2, 3), rn(3, 3)], "bad", [rn(2, 3), None], [rn(2, 3), np.ones((2, 3), int)]):
        add("concat_forward", {"xs": (bad, "invalid"), "axis": (1, "fixed")})
    out, cache = L.concat_forward([rn(2, 3), rn(2, 2)], 1)
    add("concat_backward", {"dout": (np.ones_like(out), "data"), "cache": (cache, "fixed")}, propagates=True)
    for loss in ("softmax_loss", "svm_loss"):
        add(loss, {"x": (rn(3, 4), "finite"), "y": (np.array([0, 3, 1]), "labels")})
    for loss in ("bce_with_logits", "mse"):
        add(loss, {"x": (rn(3, 4), "finite"), "y": (R.random((3, 4)), "finite")})
    rnn = {"x": (rn(2, 3, 4), "data"), "h0": (rn(2, 5), "data"), "Wx": (rn(4, 5), "data"), "Wh": (rn(5, 5), "data"),
           "b": (rn(5), "param")}
    layer("rnn_forward", rnn, "rnn_backward")
    layer("rnn_step_forward", {"x": (rn(2, 4), "data"), "prev_h": (rn(2, 5), "data"), "Wx": (rn(4, 5), "data"),
                               "Wh": (rn(5, 5), "data"), "b": (rn(5), "param")}, "rnn_step_backward")
    lstm = {**rnn, "Wx": (rn(4, 20), "data"), "Wh": (rn(5, 20), "data"), "b": (rn(20), "param")}
    layer("lstm_forward", lstm, "lstm_backward")
    layer("lstm_step_forward", {"x": (rn(2, 4), "data"), "prev_h": (rn(2, 5), "data"), "prev_c": (rn(2, 5), "data"),
                                "Wx": (rn(4, 20), "data"), "Wh": (rn(5, 20), "data"), "b": (rn(20), "param")},
          "lstm_step_backward")
    layer("word_embedding_forward", {"x": (np.array([[0, 2], [1, 1]]), "labels_fixed"), "W": (rn(3, 4), "data")},
          "word_embedding_backward")
    for bad in (np.array([[0, 3]]), np.array([[-1, 0]]), np.array([[0.0, 1.0]]), "bad"):
        add("word_embedding_forward", {"x": (bad, "invalid"), "W": (rn(3, 4), "fixed")})
    layer("temporal_affine_forward", {"x": (rn(2, 3, 4), "data"), "w": (rn(4, 5), "data"), "b": (rn(5), "param")},
          "temporal_affine_backward")
    tsl = {"x": (rn(2, 3, 4), "finite"), "y": (np.array([[0, 1, 3], [2, 2, 0]]), "labels_fixed"),
           "mask": (np.array([[1, 1, 0], [1, 0, 0]], dtype=bool), "fixed")}
    add("temporal_softmax_loss", tsl)
    for bad in (np.full((2, 3), 0.5), np.full((2, 3), 2), np.ones((3, 2), bool), np.array("x"), None):
        add("temporal_softmax_loss", {**tsl, "x": (rn(2, 3, 4), "fixed"), "mask": (bad, "invalid")})
    for bad in (np.array([[0, 1, 4], [2, 2, 0]]), np.array([[0, 1, -1], [2, 2, 0]]), np.zeros((2, 3))):
        add("temporal_softmax_loss", {**tsl, "x": (rn(2, 3, 4), "fixed"), "y": (bad, "invalid")})

    # optimisers ---------------------------------------------------------------------------------
    hyper = {"sgd": {"learning_rate": "nonneg"}, "sgd_momentum": {"learning_rate": "nonneg", "momentum": "unit"},
             "rmsprop": {"learning_rate": "nonneg", "decay_rate": "unit", "epsilon": "pos"},
             "adam": {"learning_rate": "nonneg", "beta1": "unit", "beta2": "unit", "epsilon": "pos"}}
    for rule, keys in hyper.items():
        add(rule, {"w": (rn(3, 2), "finite"), "dw": (rn(3, 2), "finite"), "config": ({"learning_rate": 1e-2}, "dict_opt")})
        for key, kind in keys.items():
            bads = MUTATIONS["real"][:-1] + [("negative", lambda v: -0.5)] + (
                [("one", lambda v: 1.0), ("above one", lambda v: 1.5)] if kind == "unit" else []) + (
                [("zero", lambda v: 0.0)] if kind == "pos" else [])
            for label, mutate in bads:
                add(rule, {"w": (rn(3, 2), "fixed"), "dw": (rn(3, 2), "fixed"),
                           "config": ({key: mutate(0.5)}, f"invalid:config[{key}] {label}")})

    # vis ----------------------------------------------------------------------------------------
    y = np.array([1])
    base = {"X": (X, "finite"), "y": (y, "labels"), "model": (model, "model")}
    for name in ("compute_saliency_maps", "guided_backprop"):
        add(name, base)
    add("smoothgrad", {**base, "n_samples": (2, "count"), "noise_level": (0.1, "nonneg"), "seed": (0, "fixed"),
                       "batch_size": (2, "count_nn")})
    for name in ("grad_cam", "grad_cam_plus_plus"):
        add(name, {**base, "layer": (12, "layer"), "upsample": (True, "bool")})
    add("guided_grad_cam", {**base, "layer": (12, "layer")})
    add("integrated_gradients", {**base, "baseline": (0.0, "real_or_array"), "steps": (2, "count"),
                                 "batch_size": (2, "count_nn"), "method": ("gausslegendre", "choice")})
    add("integration_nodes", {"steps": (3, "count"), "method": ("gausslegendre", "choice")})
    add("occlusion", {**base, "window": (8, "count"), "stride": (8, "count"), "fill": (0.0, "real"),
                      "batch_size": (4, "count_nn")})
    add("model_randomization_test", {**base, "methods": (("saliency",), "choices"), "seed": (0, "fixed"),
                                     "max_stages": (1, "count_nn")})
    add("resize_bilinear", {"maps": (rn(1, 3, 3), "finite"), "size": ((6, 6), "size")}, propagates=True)
    add("format_randomization_table", {"result": ({"methods": ["saliency"], "stages": ["a"],
                                                   "correlations": {"saliency": np.zeros((1, 1))}}, "fixed")})
    for bad in (None, "bad", {}, {"stages": None}):
        add("format_randomization_table", {"result": (bad, "invalid")})
    add("make_fooling_image", {"X": (X, "finite"), "target_y": (0, "labels1"), "model": (model, "model"),
                               "learning_rate": (1.0, "pos"), "max_iter": (1, "count0"), "return_info": (False, "bool"),
                               "progress": (False, "bool"), "objective": ("score", "choice")})
    add("class_visualization_update_step", {"img": (X, "finite"), "model": (model, "model"), "target_y": (1, "labels1"),
                                            "l2_reg": (1e-3, "nonneg"), "learning_rate": (1.0, "pos")})
    add("create_class_visualization", {"target_y": (1, "labels1"), "model": (model, "model"), "l2_reg": (1e-3, "nonneg"),
                                       "learning_rate": (1.0, "pos"), "num_iterations": (1, "count"),
                                       "blur_every": (1, "count"), "max_jitter": (1, "count0"),
                                       "show_every": (1, "count"), "seed": (0, "fixed"), "callback": (None, "fixed"),
                                       "image_size": (17, "count"), "progress": (False, "bool")})

    # style --------------------------------------------------------------------------------------
    F = rn(1, 3, 4, 4)
    add("content_loss", {"content_weight": (1.0, "nonneg"), "content_current": (F, "finite"),
                         "content_original": (rn(1, 3, 4, 4), "finite")})
    for name in ("gram_matrix", "gram_matrix_naive"):
        add(name, {"features": (F, "finite"), "normalize": (True, "bool")}, propagates=True)
    add("gram_matrix_backward", {"dgram": (rn(1, 3, 3), "finite"), "features": (F, "finite"), "normalize": (True, "bool")},
        propagates=True)
    add("style_loss", {"feats": ([F, F], "fixed"), "style_layers": ([1], "fixed"), "style_targets": ([rn(1, 3, 3)], "fixed"),
                       "style_weights": ([1.0], "fixed")})
    for field, bad in (("style_layers", [2]), ("style_layers", ["1"]), ("style_weights", [float("nan")]),
                       ("style_weights", [-1.0]), ("style_targets", [rn(1, 2, 2)]), ("feats", "bad"),
                       ("style_targets", [np.full((1, 3, 3), np.nan)])):
        args = {"feats": ([F, F], "fixed"), "style_layers": ([1], "fixed"), "style_targets": ([rn(1, 3, 3)], "fixed"),
                "style_weights": ([1.0], "fixed")}
        args[field] = (bad, "invalid")
        add("style_loss", args)
    for name in ("tv_loss", "tv_loss_naive"):
        add(name, {"img": (F, "finite"), "tv_weight": (1.0, "nonneg")})
    add("features_backward", {"model": (model, "model"), "layer_grads": ({3: rn(1, 128, 4, 4)}, "fixed")})
    for bad in ("bad", {99: rn(1, 3, 4, 4)}, {3: "bad"}):
        add("features_backward", {"model": (model, "fixed"), "layer_grads": (bad, "invalid")})
    img = R.integers(0, 256, (20, 20, 3)).astype(np.uint8)
    st = {"content_image": (img, "image"), "style_image": (img, "image"), "image_size": (20, "count_nn"),
          "style_size": (20, "count_nn"), "content_layer": (3, "layer"), "content_weight": (1.0, "nonneg"),
          "style_layers": ((1, 4), "fixed"), "style_weights": ((1.0, 1.0), "fixed"), "tv_weight": (1.0, "nonneg"),
          "init_random": (False, "bool"), "num_iterations": (1, "count0"), "learning_rate": (1.0, "pos"),
          "final_lr": (0.1, "pos"), "clamp": (1.5, "pos_or_none"),
          "model": (model, "model_opt"), "progress": (False, "bool")}
    add("style_transfer", st)
    add("feature_inversion", {"content_image": (img, "image"), "image_size": (20, "count_nn"), "content_layer": (3, "layer"),
                              "content_weight": (1.0, "nonneg"), "tv_weight": (1.0, "nonneg"),
                              "num_iterations": (1, "count0"), "model": (model, "model_opt"), "progress": (False, "fixed")},
        also=("style_transfer",))
    add("texture_synthesis", {"style_image": (img, "image"), "image_size": (20, "count_nn"), "style_size": (20, "count_nn"),
                              "style_layers": ((1, 4), "fixed"), "style_weights": ((1.0, 1.0), "fixed"),
                              "tv_weight": (1.0, "nonneg"), "num_iterations": (1, "count0"), "model": (model, "model_opt"),
                              "progress": (False, "fixed")}, also=("style_transfer",))
    add("deep_dream", {"image": (img, "image"), "layer": (3, "layer"), "image_size": (20, "count_nn"),
                       "num_octaves": (1, "count"), "octave_scale": (1.4, "above_one"), "iterations": (1, "count"),
                       "step_size": (0.05, "pos"), "max_jitter": (1, "count0"), "model": (model, "model_opt"),
                       "progress": (False, "bool")})

    # image --------------------------------------------------------------------------------------
    add("preprocess", {"img": (img, "uint8img"), "size": (20, "count_nn")}, positional=True)
    add("deprocess", {"x": (X, "finite"), "rescale": (False, "bool")}, positional=True)
    add("center_crop", {"img": (img, "fixed"), "size": (8, "count")})
    for bad in (2.5, (8, 0), (8, 8, 8), 100, "8"):
        add("center_crop", {"img": (img, "fixed"), "size": (bad, "invalid")})
    add("blur_image", {"X": (X, "finite"), "sigma": (1.0, "pos")}, propagates=True)
    add("jitter", {"X": (X, "fixed"), "ox": (1, "int"), "oy": (1, "int")})
    add("load_image", {"path": ("no/such/file.png", "invalid"), "size": (None, "fixed")})
    add("save_image", {"path": ("out.png", "fixed"), "img": (img, "uint8img")})
    for bad in ("out", "out.xyz", None):
        add("save_image", {"path": (bad, "invalid"), "img": (img, "fixed")})
    from matplotlib.figure import Figure
    add("save_figure", {"fig": (Figure(), "fixed"), "path": ("fig.png", "fixed")})
    for bad in ("fig.xyz", "fig", None):
        add("save_figure", {"fig": (Figure(), "fixed"), "path": (bad, "invalid")})
    add("save_figure", {"fig": (None, "invalid"), "path": ("fig.png", "fixed")})

    # models and modules -------------------------------------------------------------------------
    add("CaptioningRNN", {"word_to_idx": (_word_to_idx(), "fixed"), "input_dim": (3, "count"), "wordvec_dim": (2, "count"),
                          "hidden_dim": (2, "count"), "cell_type": ("lstm", "choice"), "dtype": (np.float64, "dtype")})
    for bad in ({"<NULL>": 0, "a": 0, "b": 2}, {"<NULL>": -1, "a": 0}, {"<NULL>": 5, "a": 0}, {"a": 0, "b": 1},
                {"<NULL>": 0, "a": "1"}, "bad", {}):
        add("CaptioningRNN", {"word_to_idx": (bad, "invalid"), "input_dim": (3, "fixed")})
    from npnet.models import CaptioningRNN
    cap = CaptioningRNN(_word_to_idx(), input_dim=3, wordvec_dim=2, hidden_dim=2, dtype=np.float64,
                        rng=np.random.default_rng(0))
    captions = np.array([[1, 3, 4, 2, 0], [1, 4, 2, 0, 0]])
    add("CaptioningRNN.loss", {"features": (rn(2, 3), "finite"), "captions": (captions, "labels_fixed")},
        call=cap.loss, also=("CaptioningRNN",))
    add("CaptioningRNN.sample", {"features": (rn(2, 3), "finite"), "max_length": (3, "count")},
        call=cap.sample, also=("CaptioningRNN",))
    add("Fire", {"inplanes": (4, "count"), "squeeze_planes": (2, "count"), "expand1x1_planes": (2, "count"),
                 "expand3x3_planes": (2, "count"), "dtype": (np.float64, "dtype")})
    add("SqueezeNet", {"version": ("1_1", "choice"), "num_classes": (3, "count"), "dtype": (np.float64, "dtype")})
    add("extract_features", {"X": (X, "finite"), "model": (model, "model")}, positional=True)
    add("Conv2d", {"in_channels": (3, "count"), "out_channels": (2, "count"), "kernel_size": (3, "count"),
                   "stride": (1, "count"), "padding": (0, "count0"), "bias": (True, "bool"), "dtype": (np.float64, "dtype")})
    add("Linear", {"in_features": (3, "count"), "out_features": (2, "count"), "bias": (True, "bool"),
                   "dtype": (np.float64, "dtype")})
    add("MaxPool2d", {"kernel_size": (2, "count"), "stride": (2, "count_nn"), "padding": (0, "count0"),
                      "ceil_mode": (False, "bool")})
    add("Dropout", {"p": (0.5, "unit")})
    for bad in (None, "bad", object()):
        add("Sequential", {"layer": (bad, "invalid")})
    from npnet.nn import Linear
    lin = Linear(3, 2, dtype=np.float64, rng=0)
    add("Linear.forward", {"x": (rn(4, 3), "data")}, propagates=True, call=lin.forward, also=("affine_forward",))
    add("SqueezeNet.forward", {"X": (X, "data")}, propagates=True, call=model.forward,
        also=("SqueezeNet", "max_pool_forward"))

    # data -----------------------------------------------------------------------------------------
    add("find_data", {"relpath": ("no/such/file.png", "invalid"), "download": (False, "fixed")})
    for bad in (None, "../../etc/passwd", "/etc/passwd", 3):
        add("find_data", {"relpath": (bad, "invalid"), "download": (False, "fixed")})
    add("decode_captions", {"captions": (captions, "fixed"), "idx_to_word": (["<NULL>", "<START>", "<END>", "a", "cat"],
                                                                             "fixed")})
    for bad in (np.array([-1]), np.array([5]), np.array([0.5]), "bad", np.zeros((1, 1, 1), int)):
        add("decode_captions", {"captions": (bad, "invalid"), "idx_to_word": (["<NULL>", "a"], "fixed")})
    add("decode_captions", {"captions": (np.array([0]), "fixed"), "idx_to_word": (None, "invalid")})
    add("load_coco_data", {"base_dir": ("no/such/folder", "invalid")})
    add("load_coco_data", {"base_dir": (None, "fixed"), "max_train": ("bad", "invalid")})
    data = {"train_captions": captions, "train_image_idxs": np.array([0, 1]), "train_features": rn(2, 3),
            "train_urls": np.array(["u0", "u1"])}
    add("sample_coco_minibatch", {"data": (data, "fixed"), "batch_size": (2, "count"), "split": ("train", "choice")})
    add("make_synthetic_coco", {"out_dir": ("coco", "fixed"), "vocab_json": ("no/such/vocab.json", "invalid")})
    for field, bad in (("out_dir", None), ("num_train", -1), ("caption_length", 2), ("pca_dim", 0), ("seed", "bad")):
        add("make_synthetic_coco", {"out_dir": ("coco", "fixed"), field: (bad, "invalid")})

    # solver --------------------------------------------------------------------------------------
    for field, bad in (("update_rule", "adagrad"), ("optim_config", {"learning_rate": float("nan")}),
                       ("optim_config", {"learning_rate": "bad"}), ("optim_config", {"beta1": 1.0}),
                       ("optim_config", "bad"), ("lr_decay", 0), ("lr_decay", "bad"), ("batch_size", 0),
                       ("num_epochs", -1), ("verbose", "False"), ("bogus", 1)):
        add("CaptioningSolver", {"model": (cap, "fixed"), "data": (data, "fixed"), field: (bad, "invalid")})
    for bad in (None, "bad"):
        add("CaptioningSolver", {"model": (cap, "fixed"), "data": (bad, "invalid")})
    add("read_checkpoint", {"path": ("no/such/ckpt.npz", "invalid")})
    for content in (b"", b"PK\x03\x04garbage", b"not a zip at all"):
        add("read_checkpoint", {"path": (content, "file")})
    add("plot_loss_history", {"loss_history": ([1.0, 0.5], "fixed"), "path": ("loss.png", "fixed")})
    for bad in ([], "bad", [[1.0]], None):
        add("plot_loss_history", {"loss_history": (bad, "invalid"), "path": ("loss.png", "fixed")})

    # linalg ----------------------------------------------------------------------------------------
    add("conv_matrix", {"w": (rn(2, 1, 2, 2), "finite"), "input_hw": ((3, 3), "size"), "stride": (1, "count"),
                        "pad": (0, "count0")}, propagates=True)
    add("conv_transpose_matrix", {"w": (rn(1, 2, 2, 2), "finite"), "input_hw": ((3, 3), "size"), "stride": (1, "count"),
                                  "pad": (0, "count0"), "output_padding": (0, "count0")}, propagates=True)

    # gradcheck ------------------------------------------------------------------------------------
    f = np.sin
    add("rel_error", {"x": (rn(3), "fixed"), "y": (rn(4), "invalid")})
    add("eval_numerical_gradient", {"f": (lambda z: float(np.sum(z)), "fixed"), "x": (rn(2), "grad_point"),
                                    "verbose": (False, "fixed"), "h": (1e-5, "pos")})
    add("eval_numerical_gradient_array", {"f": (f, "fixed"), "x": (rn(2), "grad_point"), "df": (rn(2), "fixed"),
                                          "h": (1e-5, "pos")})
    add("grad_check_sparse", {"f": (lambda z: float(np.sum(z)), "fixed"), "x": (rn(2), "grad_point"),
                              "analytic_grad": (np.ones(2), "fixed"), "num_checks": (2, "count0"), "h": (1e-5, "pos"),
                              "verbose": (False, "fixed")})
    add("check_backward", {"forward": (f, "fixed"), "inputs": ([rn(2)], "fixed"), "dout": (rn(2), "fixed"),
                           "grads": ([rn(2)], "fixed"), "h": (1e-6, "pos"), "num_directions": (2, "count")})
    for bad in ([rn(2).astype(int)], [rn(2), rn(2)], "bad"):
        add("check_backward", {"forward": (f, "fixed"), "inputs": (bad, "invalid"), "dout": (rn(2), "fixed"),
                               "grads": ([rn(2)], "fixed")})
    add("layer_error", {"forward": (L.relu_forward, "fixed"), "backward": (lambda d, c: np.full(d.shape, np.nan), "fixed"),
                        "inputs": ([rn(3)], "fixed"), "rng": (np.random.default_rng(0), "fixed")})
    add("loss_error", {"loss_fn": (L.mse, "fixed"), "x": (rn(2, 2), "finite"), "y": (rn(2, 2), "fixed")},
        call=lambda loss_fn, x, y: __import__("gradcheck").loss_error(loss_fn, x, y), also=("mse",))
    add("select", {"names": (["relu"], "fixed")})
    add("select", {"names": ([5], "invalid")})
    residue_specs(add, model)
    lecture_specs(add, model)
    return S


# ------------------------------------------------------------ issue 28 and issue 22 part 6, case by case
def _read_only(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


def _read_only_folder():
    """A folder no process can create files in, root included: /sys (sysfs), else /proc."""
    return "/sys" if os.path.isdir("/sys") else "/proc"


def _with_folder(name, call):
    """``call`` after making the folder ``name`` in the case's working folder (a file's path taken by it)."""
    def run(**kwargs):
        os.makedirs(name, exist_ok=True)
        return call(**kwargs)
    return run


def _write_through(path):
    from npnet.data.lookup import atomic_output
    with atomic_output(path) as tmp:
        Path(tmp).write_bytes(b"x")


def _coco_with_nan_features(base_dir):
    """load_coco_data on a small synthetic set whose train features hold one NaN."""
    import h5py
    from npnet.data.coco import load_coco_data, make_synthetic_coco
    words = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog", "sits"]
    Path("vocab.json").write_text(json.dumps({"idx_to_word": words, "word_to_idx": {w: i for i, w in enumerate(words)}}))
    make_synthetic_coco(base_dir, vocab_json="vocab.json", num_train=20, num_val=10, pca_dim=4, fc7_dim=8,
                        caption_length=6)
    with h5py.File(Path(base_dir) / "train2014_vgg16_fc7_pca.h5", "r+") as f:
        f["features"][0, 0] = np.nan
    return load_coco_data(base_dir)


def _imagenet_with_labels(y):
    """load_imagenet_val(2) from an imagenet_val_25.npz (found through NPNET_DATA) whose labels are ``y``."""
    from npnet.data.imagenet import load_imagenet_val
    folder = Path("data") / "imagenet"
    folder.mkdir(parents=True)
    np.savez(folder / "imagenet_val_25.npz", X=np.zeros((25, 224, 224, 3), np.uint8), y=np.asarray(y))
    old = os.environ.get("NPNET_DATA")
    os.environ["NPNET_DATA"] = str(Path("data").resolve())
    try:
        return load_imagenet_val(2)
    finally:
        os.environ.pop("NPNET_DATA") if old is None else os.environ.__setitem__("NPNET_DATA", old)


def _checkpoint_with_nan(model, data):
    """A CaptioningSolver checkpoint whose first parameter holds a NaN, loaded back."""
    from npnet.solver import CaptioningSolver
    solver = CaptioningSolver(model, data, verbose=False)
    solver._reset()
    solver.save_checkpoint("ok.npz")
    with np.load("ok.npz") as f:
        arrays = dict(f)
    key = next(k for k in arrays if k.startswith("params/"))
    arrays[key] = np.full_like(arrays[key], np.nan)
    np.savez("nan.npz", **arrays)
    return solver.load_checkpoint("nan.npz")


def _valid_pth(name="ok.pth"):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import pth_craft
    Path(name).write_bytes(pth_craft.valid_zip())
    return name


def _backward_after_forward(model):
    def backward(dscores):
        model.forward(rn(1, 3, 17, 17))
        return model.backward(dscores)
    return backward


def _npz_weights(name="w.npz"):
    np.savez(name, a=np.zeros(2, np.float32))
    return name


def residue_specs(add, model):
    """The cases of issue 28 (bad input answered silently or by a raw exception at ed53f3c) and of
    issue 22 part 6 (the gradient helpers): each must now end in npnet's one-line error naming the
    function, or (kind "fixed" only) be a valid call whose right result tests/test_hardening.py shows."""
    import npnet.layers as L
    from matplotlib.figure import Figure
    from npnet import image, solver, weights
    from npnet.data import lookup
    from npnet.models import CaptioningRNN
    from npnet.nn import Linear, Sequential
    from npnet.style import transfer
    from npnet.vis import figures

    ro, square = _read_only_folder(), (lambda z: float(np.sum(z ** 2)))
    # gradcheck: the point x is perturbed in place, f must give a scalar (or an array shaped like df)
    for bad in (rn(2).astype(np.float32), [0.5, -1.0], _read_only(rn(2)), np.zeros(0)):
        add("eval_numerical_gradient", {"f": (square, "fixed"), "x": (bad, "invalid"), "verbose": (False, "fixed")})
        add("eval_numerical_gradient_array", {"f": (lambda z: 2 * z, "fixed"), "x": (bad, "invalid"),
                                              "df": (np.ones(np.shape(bad)), "fixed")})
    add("eval_numerical_gradient", {"f": (np.sin, "invalid"), "x": (rn(2), "fixed"), "verbose": (False, "fixed")})
    add("eval_numerical_gradient_array", {"f": (lambda z: (2 * z, None), "invalid"), "x": (rn(2), "fixed"),
                                          "df": (np.ones(2), "fixed")})
    add("grad_check_sparse", {"f": (square, "fixed"), "x": (np.zeros(0), "invalid"), "analytic_grad": (np.zeros(0), "fixed"),
                              "verbose": (False, "fixed")})
    add("rel_error", {"x": (np.array([1 + 1j]), "invalid"), "y": (np.array([1 + 2j]), "fixed")})
    add("layer_error", {"forward": (L.relu_forward, "fixed"), "backward": (L.relu_backward, "fixed"),
                        "inputs": ([rn(3)], "fixed"), "rng": (0, "rng"), "wrt": ([0], "fixed")})
    add("layer_error", {"forward": (L.relu_forward, "fixed"), "backward": (L.relu_backward, "fixed"),
                        "inputs": ([rn(3)], "fixed"), "rng": (0, "fixed"), "wrt": ([5], "invalid")})
    add("grad_check_sparse", {"f": (square, "fixed"), "x": (rn(2), "fixed"), "analytic_grad": (np.ones(2), "fixed"),
                              "seed": (0, "rng"), "verbose": (False, "fixed")})

    # files written: a folder, a read-only folder, a folder under a missing one; files read: none there
    for path in ("", "adir", f"{ro}/npnet_x.bin", f"{ro}/no/such/x.bin"):
        add("atomic_output", {"path": (path, "invalid")}, call=_with_folder("adir", _write_through))
    for path in ("adir", "missing"):
        add("sha256_file", {"path": (path, "invalid")}, call=_with_folder("adir", lookup.sha256_file))
    img = R.integers(0, 256, (20, 20, 3)).astype(np.uint8)
    for path in ("adir.png", f"{ro}/npnet_x.png"):
        add("save_image", {"path": (path, "invalid"), "img": (img, "fixed")},
            call=_with_folder("adir.png", image.save_image))
        add("save_figure", {"fig": (Figure(), "fixed"), "path": (path, "invalid")},
            call=_with_folder("adir.png", image.save_figure))
        add("plot_loss_history", {"loss_history": ([1.0, 0.5], "fixed"), "path": (path, "invalid")},
            call=_with_folder("adir.png", solver.plot_loss_history))
        add("attribution_figure", {"path": (path, "invalid"), "X": (rn(1, 3, 17, 17), "fixed"),
                                   "rows": ([("saliency", np.ones((1, 17, 17)), "heat")], "fixed")},
            call=_with_folder("adir.png", figures.attribution_figure))
        add("convert_pth", {"src": ("ok.pth", "fixed"), "dst": (path.replace(".png", ".npz"), "invalid")},
            call=_with_folder("adir.npz", lambda src, dst: weights.convert_pth(_valid_pth(src), dst)))
    add("save_image", {"path": ("empty.png", "fixed"), "img": (np.zeros((0, 0, 3), np.uint8), "invalid")})

    # images: an empty one, a resize far beyond memory, float16 (blurred in float64: a right result)
    add("preprocess", {"img": (np.zeros((0, 0, 3), np.uint8), "invalid"), "size": (None, "fixed")})
    add("load_image", {"path": ("k.png", "fixed"), "size": (10 ** 5, "invalid")},
        call=lambda path, size: image.load_image(image.save_image(path, img), size))
    add("blur_image", {"X": (rn(1, 3, 8, 8).astype(np.float16), "fixed"), "sigma": (1.0, "fixed")})

    # sizes that cannot fit in memory, refused before NumPy allocates
    x4, w4 = rn(1, 2, 5, 5), rn(3, 2, 3, 3)
    for name in ("conv_forward", "conv_forward_naive"):
        add(name, {"x": (x4, "fixed"), "w": (w4, "fixed"), "b": (rn(3), "fixed"),
                   "conv_param": ({"stride": 1, "pad": 2 ** 20}, "invalid")})
    add("conv_matrix", {"w": (rn(1, 1, 3, 3), "fixed"), "input_hw": ((2000, 2000), "invalid")})
    add("conv_transpose_matrix", {"w": (rn(1, 1, 3, 3), "fixed"), "input_hw": ((2000, 2000), "invalid")})
    add("integration_nodes", {"steps": (10 ** 6, "invalid")})

    # statistics, parameters, features and labels that no data can give
    bn = {"x": (rn(4, 5), "fixed"), "gamma": (np.ones(5), "fixed"), "beta": (np.zeros(5), "fixed")}
    for key, bad in (("running_var", -np.ones(5)), ("running_mean", np.full(5, np.nan))):
        add("batchnorm_forward", {**bn, "bn_param": ({"mode": "test", key: bad}, "invalid")})
    add("rmsprop", {"w": (rn(3, 4), "fixed"), "dw": (rn(3, 4), "fixed"), "config": ({"cache": -np.ones((3, 4))}, "invalid")})
    cap = CaptioningRNN({"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "cat": 4}, input_dim=3, wordvec_dim=2,
                        hidden_dim=2, dtype=np.float64, rng=0)
    nan_params = {k: np.full_like(v, np.nan) for k, v in cap.params.items()}
    add("CaptioningRNN.set_params", {"params": (nan_params, "invalid")}, call=cap.set_params, also=("CaptioningRNN",))
    data = {"train_captions": np.array([[1, 3, 4, 2, 0], [1, 4, 2, 0, 0]]), "train_image_idxs": np.array([0, 1]),
            "train_features": rn(2, 3), "train_urls": np.array(["u0", "u1"])}
    add("CaptioningSolver.load_checkpoint", {"model": (cap, "fixed"), "data": (data, "invalid")},
        call=_checkpoint_with_nan, also=("read_checkpoint",))
    add("load_coco_data", {"base_dir": ("coco", "invalid")}, call=_coco_with_nan_features)
    add("load_imagenet_val", {"y": (np.full(25, 1000), "invalid")}, call=_imagenet_with_labels)

    # rng / seed: what NumPy takes (an int >= 0, None, a Generator), anything else refused in one line
    add("sample_coco_minibatch", {"data": (data, "fixed"), "batch_size": (2, "fixed"), "rng": (5, "rng")})
    add("CaptioningRNN", {"word_to_idx": ({"<NULL>": 0, "a": 1}, "fixed"), "input_dim": (3, "fixed"), "rng": (42, "rng")})
    add("Conv2d", {"in_channels": (3, "fixed"), "out_channels": (4, "fixed"), "kernel_size": (3, "fixed"),
                   "rng": (0, "rng")})
    add("Linear", {"in_features": (3, "fixed"), "out_features": (2, "fixed"), "rng": (0, "rng")})
    add("smoothgrad", {"X": (rn(1, 3, 17, 17), "fixed"), "y": (np.array([1]), "fixed"), "model": (model, "fixed"),
                       "n_samples": (1, "fixed"), "seed": (0, "rng")})
    add("create_class_visualization", {"target_y": (1, "fixed"), "model": (model, "fixed"), "num_iterations": (1, "fixed"),
                                       "image_size": (17, "fixed"), "seed": (0, "rng")})
    img20 = R.integers(0, 256, (20, 20, 3)).astype(np.uint8)
    add("style_transfer", {"content_image": (img20, "fixed"), "style_image": (img20, "fixed"), "image_size": (20, "fixed"),
                           "style_size": (20, "fixed"), "content_layer": (3, "fixed"), "style_layers": ((1, 4), "fixed"),
                           "style_weights": ((1.0, 1.0), "fixed"), "num_iterations": (1, "fixed"),
                           "init_random": (True, "fixed"), "model": (model, "fixed"), "seed": (0, "rng")})

    # everything else of the residue
    add("Sequential.forward", {"x": (rn(2, 3), "fixed"), "start": (True, "invalid")},
        call=Sequential(Linear(3, 2, dtype=np.float64, rng=0)).forward, also=("Sequential",))
    add("SqueezeNet.backward", {"dscores": (np.zeros((1, 3)).tolist(), "fixed")}, call=_backward_after_forward(model))
    F = rn(1, 3, 4, 4)
    add("style_loss", {"feats": ([F, F], "fixed"), "style_layers": (None, "invalid"), "style_targets": ([], "fixed"),
                       "style_weights": ([], "fixed")})
    for layers, kind in (([], "fixed"), (None, "invalid"), ([99], "invalid")):
        add("extract_targets", {"model": (model, "fixed"), "x": (rn(1, 3, 17, 17), "fixed"), "layers": (layers, kind)},
            call=transfer.extract_targets)
    for bad in (rn(1, 3, 17, 17).tolist(), _read_only(rn(1, 3, 17, 17))):
        add("class_visualization_update_step", {"img": (bad, "invalid"), "model": (model, "fixed"),
                                                "target_y": (1, "fixed"), "l2_reg": (1e-3, "fixed"),
                                                "learning_rate": (1.0, "fixed")})
    add("format_randomization_table", {"result": ({"methods": [], "stages": ["a"], "correlations": {}}, "invalid")})
    for bad in ({"a": "text"}, [1, 2]):
        add("content_sha256", {"arrays": (bad, "invalid")}, call=weights.content_sha256)
    add("load_model_weights", {"model": (None, "invalid"), "name": ("squeezenet1_1", "fixed")},
        call=weights.load_model_weights)
    for field, bad in (("sha256", 123), ("expected", [1, 2]), ("path", None)):
        args = {"path": ("w.npz", "fixed"), field: (bad, "invalid")}
        add("load_npz_weights", args, call=lambda path, **kw: weights.load_npz_weights(
            path if path is None else _npz_weights(path), **kw))
    add("read_pth", {"path": (None, "invalid")}, call=weights.read_pth)


# Extra mutations of kinds that only appear in one place.
MUTATIONS.update({
    "unit": _NUMBER + [("one", lambda v: 1.0), ("negative", lambda v: -0.5), ("None", lambda v: None)],
    "above_one": _NUMBER + [("one", lambda v: 1.0), ("zero", lambda v: 0.0)],
    "labels1": [("too large", lambda v: 100), ("negative", lambda v: -1), ("float", lambda v: 1.5), ("string", lambda v: "1"),
                ("None", lambda v: None)],
    "labels_fixed": [("float", lambda v: np.asarray(v, dtype=float)), ("too large", lambda v: np.asarray(v) + 100),
                     ("negative", lambda v: np.asarray(v) * 0 - 1), ("string", lambda v: "bad")],
    "real_or_array": [("nan", lambda v: float("nan")), ("inf", lambda v: float("inf")), ("string", lambda v: "bad"),
                      ("wrong shape", lambda v: np.zeros((2, 2)))],
    "choice": [("unknown", lambda v: "no-such-choice"), ("None", lambda v: None), ("int", lambda v: 3)],
    "choices": [("unknown", lambda v: ("no-such-method",)), ("empty", lambda v: ()), ("string", lambda v: 3)],
    "size": [("zero", lambda v: (0, 6)), ("negative", lambda v: (-1, 6)), ("float", lambda v: (2.5, 6)),
             ("string", lambda v: "bad"), ("None", lambda v: None)],
    "image": [("nan float", lambda v: np.full((1, 3, 20, 20), np.nan)), ("missing file", lambda v: "no/such/image.png"),
              ("int array", lambda v: np.asarray(v).astype(np.int64)), ("2-D uint8", lambda v: np.asarray(v)[..., 0]),
              ("None", lambda v: None), ("number", lambda v: 3)],
    "dtype": [("int", lambda v: np.int64), ("string", lambda v: "bad"), ("bool", lambda v: bool)],
    "int": [("float", lambda v: 1.5), ("string", lambda v: "1"), ("None", lambda v: None)],
    "grad_point": [("int dtype", lambda v: np.asarray(v).astype(np.int64)), ("bool dtype", lambda v: np.asarray(v) > 0),
                   ("string", lambda v: "bad")],
    # an rng / seed argument: NumPy's int >= 0, None and Generator are valid, nothing else
    "rng": [("string", lambda v: "seed"), ("negative", lambda v: -5), ("float", lambda v: 1.5), ("bool", lambda v: True),
            ("list of str", lambda v: ["a"])],
})


# ------------------------------------------------------------------------------------- running
def public_callables():
    """(module, name, object) of every public callable defined in npnet or gradcheck, deduplicated."""
    seen, found = set(), []
    for mod_name in MODULES:
        mod = importlib.import_module(mod_name)
        names = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
        for name in names:
            obj = getattr(mod, name)
            if (inspect.ismodule(obj) or not callable(obj) or isinstance(obj, type) and issubclass(obj, BaseException)
                    or not getattr(obj, "__module__", "").startswith(mod_name)):
                continue
            if name not in seen:
                seen.add(name)
                found.append((mod_name, name, obj))
    return found


def _required(obj):
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def classify(call, kwargs, names, must_fail, propagates):
    """Run one case; returns (outcome, detail)."""
    out = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(out), np.errstate(all="ignore"):
            warnings.simplefilter("always")
            result = call(**kwargs) if isinstance(kwargs, dict) else call(*kwargs)
    except Exception as err:  # noqa: BLE001 - classifying every exception is the point
        from npnet.errors import NpnetError
        if not must_fail:
            return "broken", f"the valid call failed: {type(err).__name__}: {err}"[:300]
        message = str(err).splitlines()[0] if str(err) else ""
        if isinstance(err, (NpnetError, ValueError, TypeError)) and _names_any(message, names):
            return "clear", f"{type(err).__name__}: {message[:150]}"
        return "unclear", f"{type(err).__name__}: {message[:200]}"
    if not must_fail:
        return "valid", ""
    from npnet.errors import PrecisionWarning
    told = [str(w.message) for w in caught if issubclass(w.category, PrecisionWarning) and _names_any(str(w.message), names)]
    if told:
        return "warned", told[0].splitlines()[0][:150]
    # NaN must come back as NaN; an infinity may also have a finite limit (sigmoid(inf) = 1).
    if propagates == "inf" or propagates == "nan" and _has_nonfinite(result):
        return "propagated", ""
    return "silent", f"returned {type(result).__name__}"


def _names_any(message, names):
    return any(n.split(".")[-1] in message or n in message for n in names)


def _has_nonfinite(result):
    items = result if isinstance(result, (tuple, list)) else (result,)
    for r in items:
        try:
            a = np.asarray(r, dtype=float)
        except (TypeError, ValueError):
            continue
        if not np.isfinite(a).all():
            return True
    return False


def cases(model):
    """Yield (name, label, call, kwargs, names, must_fail, propagates)."""
    objects = {name: obj for _, name, obj in public_callables()}
    all_specs = specs(model)
    for name, spec_list in all_specs.items():
        for call, args, propagates, names, positional in spec_list:
            fn = call or objects[name.split(".")[0]]
            names = names + (getattr(fn, "__name__", name),)  # an alias's errors name the original
            valid = {k: v for k, (v, _) in args.items()}
            if name == "Sequential":
                yield name, "layer " + repr(valid["layer"])[:30], fn, [valid["layer"]], names, True, False
                continue
            kinds = {k: kind for k, (_, kind) in args.items()}
            if "cache" in valid:
                douts = [k for k in valid if k.startswith("d")]
                fn_b = fn
                for dname in douts:
                    for label, mutate in MUTATIONS["data"]:
                        bad = [mutate(valid[d]) if d == dname else valid[d] for d in douts]
                        yield name, f"{dname} {label}", fn_b, bad + [valid["cache"]], names, True, label
                continue
            if any(kind == "invalid" or kind.startswith("invalid:") for kind in kinds.values()):
                label = ", ".join(f"{k}={'...' if kind == 'invalid' else kind[8:]}" for k, kind in kinds.items()
                                  if kind.startswith("invalid"))
                yield name, f"{label} {_short(valid)}", fn, valid, names, True, False
                continue
            if any(kind == "file" for kind in kinds.values()):
                yield name, f"file {_short(valid)}", fn, valid, names, True, False
                continue
            if positional:
                fn = _by_position(fn)
            yield name, "valid call", fn, valid, names, False, False
            for arg, kind in kinds.items():
                for label, mutate in MUTATIONS.get(kind, []):
                    bad = dict(valid)
                    bad[arg] = mutate(valid[arg])
                    prop = label if propagates else None
                    yield name, f"{arg} {label}", fn, bad, names, True, prop
    for _, name, obj in public_callables():
        required = _required(obj)
        if name in SKIPPED or not required:
            continue
        for label, value in (("None", None), ("string", "bad")):
            if value == "bad" and PATHLIKE & set(required):
                continue  # a string is a valid path or image name: the spec's cases cover these
            names = (name, getattr(obj, "__name__", name)) + ALIASES.get(name, ())
            yield name, f"all required args {label}", obj, {r: value for r in required}, names, True, None


def _by_position(fn):
    """``fn`` called with a dict's values in order (see ``positional`` in ``specs``)."""
    return lambda **kwargs: fn(*kwargs.values())


def _short(valid):
    return ", ".join(f"{k}={v!r}"[:40] for k, v in valid.items() if isinstance(v, (str, int, float, dict, type(None))))[:120]


def _materialise(kwargs, workdir):
    """Turn 'file' arguments (bytes) into real files in the work folder."""
    if not isinstance(kwargs, dict):
        return kwargs
    out = dict(kwargs)
    for k, v in kwargs.items():
        if isinstance(v, bytes):
            path = Path(workdir) / f"case_{k}.npz"
            path.write_bytes(v)
            out[k] = path
    return out


def main():
    os.environ.setdefault("NPNET_OFFLINE", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib
    matplotlib.use("Agg")
    model = tiny_squeezenet()
    totals = dict.fromkeys(("cases", "clear", "warned", "propagated", "valid", "unclear", "silent", "broken"), 0)
    for name, label, call, kwargs, names, must_fail, propagates in cases(model):
        with tempfile.TemporaryDirectory() as work:
            os.chdir(work)
            # A case that crashes the interpreter leaves this line as the last one printed.
            print(f"RUN\t{name}\t{' '.join(label.split())}", flush=True)
            # a dict argument is copied: a layer updates its bn_param in place, which must not carry
            # one case's NaN running mean into the next case
            fresh = {k: dict(v) if type(v) is dict else v for k, v in kwargs.items()} if isinstance(kwargs, dict) \
                else kwargs
            outcome, detail = classify(call, _materialise(fresh, work), names, must_fail, propagates)
            os.chdir("/")
        totals["cases"] += 1
        totals[outcome] += 1
        label, detail = (" ".join(str(v).split()) for v in (label, detail))  # one line per case
        print(f"{outcome}\t{name}\t{label}\t{detail}", flush=True)
    print("TOTALS " + json.dumps(totals), flush=True)



# ------------------------------------------------------------ issue 26's lecture methods and fast style
def _fast_net(num_styles=2):
    from npnet.models.fast_style import TransformNet
    return TransformNet(num_styles, channels=(2, 2, 2), num_residual=1, kernel=3, dtype=np.float64, seed=0)


def _fast_checkpoint(path):
    """A valid fast-style checkpoint at ``path`` (the case's working folder), returned as its path."""
    from npnet.style.fast import save_fast_style
    return save_fast_style(path, _fast_net(), {"styles": ["a", "b"]})


def lecture_specs(add, model):
    """TV^beta, Efros-Leung, fast style transfer and multifaceted visualisation (issue 26 and the fast
    style exercise): the generic cases of every argument plus the values only these functions refuse."""
    from npnet.style import fast

    # TV^beta: beta < 2 needs eps > 0
    F = rn(1, 3, 4, 4)
    for name in ("tv_beta_loss", "tv_beta_loss_naive"):
        add(name, {"img": (F, "finite"), "tv_weight": (1.0, "nonneg"), "beta": (1.5, "pos"), "eps": (1e-6, "nonneg")})
        add(name, {"img": (F, "fixed"), "tv_weight": (1.0, "fixed"), "beta": (1.0, "fixed"), "eps": (0.0, "invalid")})

    # Efros-Leung: windows of a sample, the (1 + eps) rule, the synthesis
    sample, template = R.random((8, 8, 3)), R.random((3, 3, 3))
    weight = np.ones((3, 3))
    add("gaussian_window", {"size": (3, "count"), "sigma": (1.0, "pos_or_none")})
    for name in ("window_distances", "window_distances_naive"):
        add(name, {"sample": (sample, "finite"), "template": (template, "finite"), "weight": (weight, "finite")})
        for field, bad in (("template", R.random((3, 2, 3))), ("template", R.random((3, 3, 2))),
                           ("template", R.random((9, 9, 3))), ("weight", np.ones((2, 2))),
                           ("weight", np.zeros((3, 3))), ("weight", -np.ones((3, 3)))):
            args = {"sample": (sample, "fixed"), "template": (template, "fixed"), "weight": (weight, "fixed")}
            args[field] = (bad, "invalid")
            add(name, args)
    add("match_candidates", {"distances": (R.random((3, 3)), "any"), "eps": (0.1, "nonneg")})  # any shape
    add("match_candidates", {"distances": (-R.random((3, 3)), "invalid"), "eps": (0.1, "fixed")})
    pixels = R.integers(0, 256, (8, 8, 3)).astype(np.uint8)
    el = {"sample": (pixels, "finite"), "size": (4, "count"), "window": (3, "count"), "eps": (0.1, "nonneg"),
          "seed": (0, "rng"), "sigma": (None, "pos_or_none"), "kernel": ("numba", "choice"), "progress": (False, "bool")}
    add("efros_leung", el)
    for field, bad in (("size", (2, 4)), ("size", (4, 4, 4)), ("size", (4, "4")), ("window", 4), ("window", 9),
                       ("window", 1),
                       ("sample", pixels[:2]), ("sample", pixels[..., None])):
        add("efros_leung", {**{k: (v, "fixed") for k, (v, _) in el.items()}, field: (bad, "invalid")})

    # fast style transfer: a two-style network of two channels, photographs of 40 px, 32 px crops
    img = R.integers(0, 256, (20, 20, 3)).astype(np.uint8)
    photo = R.integers(0, 256, (40, 40, 3)).astype(np.uint8)
    small = {"content_layer": 3, "style_layers": (1, 4), "style_weights": (1.0, 1.0)}
    add("random_crops", {"photos": ([photo], "fixed"), "crop": (32, "count"), "n": (2, "count"),
                         "rng": (np.random.default_rng(0), "rng")})
    for bad in ([], "bad", None, [photo.astype(float)], [photo[..., :1]], [photo, None]):
        add("random_crops", {"photos": (bad, "invalid"), "crop": (32, "fixed"), "n": (2, "fixed"), "rng": (0, "fixed")})
    train = {"styles": ([img], "fixed"), "iterations": (1, "count"), "batch_size": (1, "count"), "crop": (32, "count"),
             "style_size": (20, "count"), "learning_rate": (1e-3, "pos"), "channels": ((2, 2, 2), "fixed"),
             "num_residual": (1, "fixed"), "kernel": (3, "fixed"), "content_layer": (3, "layer"),
             "content_weight": (1.0, "nonneg"), "style_layers": ((1, 4), "fixed"), "style_weights": ((1.0, 1.0), "fixed"),
             "tv_weight": (1.0, "nonneg"), "photos": ([photo], "fixed"), "seed": (0, "rng"), "model": (model, "model_opt"),
             "checkpoint_every": (1, "count"), "progress": (False, "bool")}
    add("train_fast_style", train, also=("TransformNet",))
    for field, bad in (("styles", []), ("styles", "starry_night"), ("styles", [None]), ("crop", 30), ("crop", 16),
                       ("photos", []), ("photos", [img.astype(float)]), ("style_layers", (1, 99)),
                       ("style_weights", (1.0,)), ("channels", (2, 2)), ("checkpoint", 3), ("checkpoint", "net.png")):
        add("train_fast_style", {**{k: (v, "fixed") for k, (v, _) in train.items()}, field: (bad, "invalid")},
            also=("TransformNet",))
    net = _fast_net()
    add("stylize", {"net": (net, "model"), "image": (img, "image"), "style": (0, "labels1"), "size": (20, "count_nn")})
    for bad in (np.array([0.5, 0.5, 0.5]), np.array([np.nan, 1.0]), np.array([-1.0, 2.0]), "b"):
        add("stylize", {"net": (net, "fixed"), "image": (img, "fixed"), "style": (bad, "invalid")})
    add("stylize", {"net": (net, "fixed"), "image": (img[:6, :6], "invalid")})
    add("style_mix", {"fn": ("apply", "fixed"), "spec": ({0: 1.0, "b": 1.0}, "fixed"), "styles": (["a", "b"], "fixed")},
        also=("apply",))
    for field, bad in (("spec", 5), ("spec", "zz"), ("spec", {}), ("spec", {0: -1.0}), ("spec", {0: 0.0}),
                       ("spec", {0: float("nan")}), ("spec", None), ("spec", 1.5), ("styles", "ab"), ("styles", [])):
        args = {"fn": ("apply", "fixed"), "spec": (0, "fixed"), "styles": (["a", "b"], "fixed")}
        args[field] = (bad, "invalid")
        add("style_mix", args, also=("apply",))
    add("save_fast_style", {"path": ("net.npz", "fixed"), "net": (net, "model"), "info": ({"styles": ["a", "b"]}, "fixed")})
    for field, bad in (("path", None), ("path", "net.png"), ("info", "bad"), ("info", {"styles": ["a"]}),
                       ("info", {"styles": ["a", "b"], "x": object()}), ("losses", {"total": "bad"})):
        args = {"path": ("net.npz", "fixed"), "net": (net, "fixed"), "info": ({"styles": ["a", "b"]}, "fixed")}
        args[field] = (bad, "invalid")
        add("save_fast_style", args)
    add("load_fast_style", {"path": ("net.npz", "fixed")}, call=lambda path: fast.load_fast_style(_fast_checkpoint(path)))
    for bad in (None, 123, "no/such/net.npz"):
        add("load_fast_style", {"path": (bad, "invalid")})
    for content in (b"", b"PK\x03\x04garbage", b"not a zip at all"):
        add("load_fast_style", {"path": (content, "file")})
    add("fast_style_losses", {"net": (net, "model"), "content_image": (img, "image"), "style_image": (img, "image"),
                              "style": (0, "labels1"), "image_size": (20, "count_nn"), "style_size": (20, "count_nn"),
                              "model": (model, "model_opt"), **{k: (v, "fixed") for k, v in small.items()}},
        also=("stylize",))
    for field, bad in (("content_wieght", 1.0), ("content_weight", -1.0), ("style_layers", (1, 99))):
        add("fast_style_losses", {"net": (net, "fixed"), "content_image": (img, "fixed"), "style_image": (img, "fixed"),
                                  "model": (model, "fixed"), **{k: (v, "fixed") for k, v in small.items()},
                                  field: (bad, "invalid")}, also=("stylize",))
    curves = {"total": np.array([2.0, 1.0]), "style": np.array([1.0, 0.5])}
    add("loss_figure", {"path": ("loss.png", "fixed"), "losses": (curves, "fixed"), "title": ("t", "fixed")})
    for field, bad in (("path", None), ("path", "adir"), ("losses", "bad"), ("losses", {}),
                       ("losses", {"total": "bad"}), ("losses", {"total": np.array([1.0, np.nan])}),
                       ("losses", {"total": np.ones((2, 2))}), ("title", None)):
        args = {"path": ("loss.png", "fixed"), "losses": (curves, "fixed")}
        args[field] = (bad, "invalid")
        add("loss_figure", args, call=_with_folder("adir", fast.loss_figure))

    # multifaceted visualisation: k-means, the centre mask, one facet, the facets of a class
    P = rn(6, 2)
    add("kmeans_plus_plus", {"X": (P, "finite"), "k": (2, "count"), "seed": (0, "rng")})
    add("kmeans", {"X": (P, "finite"), "k": (2, "count"), "seed": (0, "rng"), "max_iter": (3, "count")})
    for name in ("kmeans_plus_plus", "kmeans"):
        add(name, {"X": (P, "fixed"), "k": (7, "invalid")})
    add("assign_naive", {"X": (P, "finite"), "centres": (P[:2], "finite")})
    add("assign_naive", {"X": (P, "fixed"), "centres": (rn(2, 3), "invalid")})
    add("centre_mask", {"shape": ((8, 8), "size"), "t": (2, "count0"), "num_iterations": (4, "count"),
                        "start_fraction": (0.5, "pos"), "grow_fraction": (0.75, "nonneg")})
    for field, bad in (("start_fraction", 1.5), ("grow_fraction", 1.5), ("shape", (8, 8, 8)), ("shape", 8)):
        add("centre_mask", {"shape": ((8, 8), "fixed"), "t": (2, "fixed"), "num_iterations": (4, "fixed"),
                            field: (bad, "invalid")})
    X = rn(1, 3, 17, 17)
    facet = {"target_y": (1, "labels1"), "model": (model, "model"), "init": (X, "finite"), "l2_reg": (1e-3, "nonneg"),
             "learning_rate": (1.0, "pos"), "num_iterations": (2, "count"), "blur_every": (1, "count"),
             "max_jitter": (1, "count0"), "centre_bias": (True, "bool"), "start_fraction": (0.5, "pos"),
             "grow_fraction": (0.75, "nonneg"), "seed": (0, "rng"), "progress": (False, "bool")}
    add("facet_visualization", facet)
    start = {"target_y": (1, "fixed"), "model": (model, "fixed"), "num_iterations": (1, "fixed"), "init": (X, "fixed"),
             "region": (lambda t: np.ones((17, 17)), "fixed")}
    add("create_class_visualization", start)
    for field, bad in (("init", _poke(X, np.nan)), ("init", X.astype(int)), ("init", rn(2, 3, 17, 17)), ("init", "bad"),
                       ("region", "centre"), ("region", np.ones((17, 17)))):
        add("create_class_visualization", {**start, field: (bad, "invalid")})
    for field, bad in (("init", rn(2, 3, 17, 17)), ("init", rn(1, 1, 17, 17)), ("start_fraction", 1.5),
                       ("grow_fraction", 1.5)):
        add("facet_visualization", {**{k: (v, "fixed") for k, (v, _) in facet.items()}, field: (bad, "invalid")})
    pool = {"target_y": (1, "labels1"), "model": (model, "model"), "X": (rn(4, 3, 17, 17), "finite"), "k": (2, "count"),
            "pool_size": (3, "count"), "seed": (0, "rng")}
    add("class_facets", pool)
    for field, bad in (("k", 4), ("pool_size", 5)):
        add("class_facets", {**{k: (v, "fixed") for k, (v, _) in pool.items()}, field: (bad, "invalid")})
    add("multifaceted_visualization", {**pool, "progress": (False, "bool"), "num_iterations": (1, "count")},
        also=("class_facets", "facet_visualization"))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
