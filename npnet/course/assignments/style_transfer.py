"""Assignment ``style_transfer``: the content, Gram/style and total-variation losses with their
gradients, and the backward pass that turns feature gradients into the image update (CS231n
assignment 3). The update step is graded on a tiny seeded network instead of SqueezeNet.

The optional part (exercise ``fast_style_transfer``, item ``optional_conditional_instance_norm``) is
conditional instance norm, the layer that lets one feed-forward network hold several styles (Johnson
et al. 2016, Dumoulin et al. 2017). The manifest has no notion of extra credit, so it is an ordinary
item of few points (3 of 20); an instructor who wants it ungraded deletes the item here."""
import numpy as np

from npnet.course.assignments._models import TinyNet
from npnet.course.manifest import Assignment, Item
from npnet.layers import norm
from npnet.style import losses, transfer


def _content(rng):
    return {"w": 0.3, "F": rng.standard_normal((2, 4, 5, 6)), "P": rng.standard_normal((2, 4, 5, 6))}


def _style(rng):
    return {"F": rng.standard_normal((2, 4, 5, 6)), "dG": rng.standard_normal((2, 4, 4)),
            "f0": rng.standard_normal((2, 3, 4, 4)), "f1": rng.standard_normal((2, 5, 3, 3)),
            "A0": rng.standard_normal((2, 3, 3)) / 10, "A1": rng.standard_normal((2, 5, 5)) / 10}


def _tv(rng):
    return {"img": rng.standard_normal((2, 3, 5, 6)), "w": 0.7}


def _update(rng):
    # three taps, so that each backward segment starts where the next tap's ends (two taps would hide
    # an index off by one in the list of taps)
    return {"X": rng.standard_normal((1, 3, 8, 8)), "g0": rng.standard_normal((1, 6, 8, 8)),
            "g2": rng.standard_normal((1, 6, 4, 4)), "g3": rng.standard_normal((1, 8, 4, 4)),
            "net": int(rng.integers(1000))}


def _conditional_norm(rng):
    # gammas away from 1, so that a backward forgetting gamma shows
    return {"x": 1 + 2 * rng.standard_normal((3, 4, 3, 5)), "gammas": 1 + rng.standard_normal((2, 4)),
            "betas": rng.standard_normal((2, 4)), "k": int(rng.integers(2)), "blend": rng.random(2),
            "rows": rng.random((3, 2)), "dout": rng.standard_normal((3, 4, 3, 5))}


def _content_run(inputs, out):
    out["loss"], out["grad"] = losses.content_loss(float(inputs["w"]), inputs["F"], inputs["P"])


def _style_run(inputs, out):
    out["gram"] = losses.gram_matrix(inputs["F"])
    out["gram_naive"] = losses.gram_matrix_naive(inputs["F"])
    out["gram_backward"] = losses.gram_matrix_backward(inputs["dG"], inputs["F"])
    feats = [inputs["f0"], inputs["f1"]]
    out["style_loss"], grads = losses.style_loss(feats, [0, 1], [inputs["A0"], inputs["A1"]], [2.0, 0.5])
    out["style_grads"] = np.concatenate([np.ravel(g) for g in grads])


def _tv_run(inputs, out):
    out["loss"], out["grad"] = losses.tv_loss(inputs["img"], float(inputs["w"]))
    out["naive_loss"], out["naive_grad"] = losses.tv_loss_naive(inputs["img"], float(inputs["w"]))


def _update_run(inputs, out):
    net = TinyNet(seed=int(inputs["net"]))
    net.features.forward(inputs["X"])
    out["dx"] = transfer.features_backward(net, {0: inputs["g0"], 3: inputs["g3"]})
    net.features.forward(inputs["X"])
    out["dx_three_taps"] = transfer.features_backward(net, {0: inputs["g0"], 2: inputs["g2"], 3: inputs["g3"]})


def _conditional_norm_run(inputs, out):
    x, gammas, betas = inputs["x"], inputs["gammas"], inputs["betas"]
    out["out_one_style"] = norm.conditional_instance_norm_forward(x, gammas, betas, int(inputs["k"]))[0]
    out["out_blend"] = norm.conditional_instance_norm_forward(x, gammas, betas, inputs["blend"])[0]
    out["naive"] = norm.conditional_instance_norm_forward_naive(x, gammas, betas, inputs["rows"])
    _, cache = norm.conditional_instance_norm_forward(x, gammas, betas, inputs["rows"])
    out["dx"], out["dgammas"], out["dbetas"] = norm.conditional_instance_norm_backward(inputs["dout"], cache)


def _gram_factors(inputs):
    _, c, h, w = np.shape(inputs["F"])
    return {float(c * h * w): "the Gram matrix is not divided by C*H*W (normalize=True)"}


ASSIGNMENT = Assignment(
    name="style_transfer",
    requires=("layers", "network_visualization"),  # its networks backpropagate through relu_backward
    # TV^beta at beta = 2 is tv_loss (the lecture-methods prior, issue 26)
    shortcuts={"npnet/style/priors.py": ("tv_beta_loss", "tv_beta_loss_naive")},
    title="Style transfer: content, Gram/style and total-variation losses, and the image gradient",
    strip={
        "npnet/style/losses.py": ("content_loss", "gram_matrix", "gram_matrix_naive", "gram_matrix_backward",
                                  "style_loss", "tv_loss", "tv_loss_naive"),
        "npnet/style/transfer.py": ("features_backward",),
        "npnet/layers/norm.py": ("conditional_instance_norm_forward", "conditional_instance_norm_forward_naive",
                                 "conditional_instance_norm_backward"),
    },
    exercises=("style_transfer", "fast_style_transfer"),
    public_tests=("test_style_losses.py",),
    gradcheck=("style", "conditional_instance_norm"),
    items=(
        Item("content_loss", {"loss": 1, "grad": 1}, _content, _content_run, ("content_loss",),
             factors=lambda inputs: {0.5: "the gradient of w*sum(d**2) is 2*w*d"}),
        Item("gram_and_style", {"gram": 2, "gram_naive": 1, "gram_backward": 2, "style_loss": 1, "style_grads": 2},
             _style, _style_run, ("gram_matrix", "gram_matrix_naive", "gram_matrix_backward", "style_loss"),
             factors=_gram_factors),
        Item("tv_loss", {"loss": 1, "grad": 2, "naive_loss": 1, "naive_grad": 1}, _tv, _tv_run,
             ("tv_loss", "tv_loss_naive")),
        Item("update_step", {"dx": 1, "dx_three_taps": 1}, _update, _update_run, ("features_backward",)),
        Item("optional_conditional_instance_norm",
             {"out_one_style": 0.5, "out_blend": 0.5, "naive": 0.5, "dx": 0.5, "dgammas": 0.5, "dbetas": 0.5},
             _conditional_norm, _conditional_norm_run,
             ("conditional_instance_norm_forward", "conditional_instance_norm_forward_naive",
              "conditional_instance_norm_backward"), upstream={"dx": "dout"}),
    ),
)
