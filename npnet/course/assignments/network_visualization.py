"""Assignment ``network_visualization``: saliency, guided backpropagation, Grad-CAM, fooling images and
class visualisation (CS231n assignment 3), graded on a tiny seeded network instead of SqueezeNet."""
import warnings

import numpy as np

from npnet.course.assignments._models import LAST, TinyNet
from npnet.course.assignments._configs import Config, configured
from npnet.course.manifest import Assignment, Item
from npnet.layers import activations
from npnet.vis import saliency, synthesis


def _batch(rng):
    return {"X": rng.standard_normal((3, 3, 8, 8)), "y": rng.integers(0, 5, 3), "net": int(rng.integers(1000))}


def _relu(rng, zeros=True):
    x, dout = rng.standard_normal((6, 7)), rng.standard_normal((6, 7))
    x = np.where(x >= 0, x + 0.1, x - 0.1)
    if zeros:  # every mode passes nothing where x (or, but for 'standard', dout) is exactly 0
        x.flat[::3], dout.flat[1::4] = 0.0, 0.0
    return {"x": x, "dout": dout}


def _saliency(inputs, out):
    out["map"] = saliency.compute_saliency_maps(inputs["X"], inputs["y"], TinyNet(seed=int(inputs["net"])))


def _smoothgrad(inputs, out):
    out["map"] = saliency.smoothgrad(inputs["X"], inputs["y"], TinyNet(seed=int(inputs["net"])), n_samples=3,
                                     noise_level=0.2, seed=int(inputs["net"]))


def _relu_modes(inputs, out):
    for mode in ("standard", "deconvnet"):
        _, cache = activations.relu_forward(inputs["x"])
        out[mode] = activations.relu_backward(inputs["dout"], cache, mode=mode)


def _guided(inputs, out):
    _, cache = activations.relu_forward(inputs["x"])
    out["relu_guided"] = activations.relu_backward(inputs["dout"], cache, mode="guided")
    out["gradient"] = saliency.guided_backprop(inputs["X"], inputs["y"], TinyNet(seed=int(inputs["net"])))


def _grad_cam(layer):
    def run(inputs, out):
        net = TinyNet(seed=int(inputs["net"]))
        out["cam"] = saliency.grad_cam(inputs["X"], inputs["y"], net, layer=layer, upsample=False)
        out["cam_plus_plus"] = saliency.grad_cam_plus_plus(inputs["X"], inputs["y"], net, layer=layer,
                                                           upsample=False)
    return run


# At the last ReLU the tiny net's gradient is the same at every pixel (a 1x1 convolution, then a global
# average), so an average over the wrong axes goes unseen there; the first ReLU (before the pooling) has
# gradients that vary over the image.
GRAD_CAM = [Config(f"layer {layer} ({where})", _batch, _grad_cam(layer), {"cam": cam, "cam_plus_plus": 1})
            for layer, where, cam in ((LAST, "the last ReLU", 2), (1, "the first ReLU, 8x8", 1))]


def _fooling(objective):
    def run(inputs, out):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # not fooled within 3 steps is fine here
            net = TinyNet(seed=int(inputs["net"]))
            out["image"] = synthesis.make_fooling_image(inputs["X"], (inputs["y"] + 1) % 5, net, learning_rate=0.5,
                                                        max_iter=3, objective=objective)
    return run


RELU_MODES = [Config(label, lambda rng, z=zeros: _relu(rng, z), _relu_modes, {"standard": 1, "deconvnet": 1},
                     upstream={"standard": "dout", "deconvnet": "dout"})
              for label, zeros in (("x, dout away from 0", False), ("x, dout with exact zeros", True))]
FOOLING = [Config(f"objective {objective!r}", _batch, _fooling(objective), {"image": points})
           for objective, points in (("score", 1), ("log_prob", 1))]


def _class_vis(inputs, out):
    net = TinyNet(seed=int(inputs["net"]))
    img = inputs["X"][:1].copy()
    out["step"] = synthesis.class_visualization_update_step(img, net, int(inputs["y"][0]), 1e-2, 0.5)
    out["image"] = synthesis.create_class_visualization(int(inputs["y"][0]), net, num_iterations=3, blur_every=2,
                                                        max_jitter=2, seed=int(inputs["net"]), image_size=8)


ASSIGNMENT = Assignment(
    name="network_visualization",
    # The ReLU gate in library form (the fused SqueezeNet path): stubs in this release.
    shortcuts={
        "npnet/layers/activations.py": ("relu_backward_from_output", "leaky_relu_backward"),
        "npnet/kernels.py": ("_relu_gate", "relu_backward_rows"),
    },
    requires=("layers",),
    title="Network visualisation: saliency, guided backprop, Grad-CAM, fooling images, class visualisation",
    strip={
        "npnet/layers/activations.py": ("relu_backward",),
        "npnet/vis/saliency.py": ("compute_saliency_maps", "smoothgrad", "_guided", "_cam"),
        "npnet/vis/synthesis.py": ("make_fooling_image", "_objective_gradient", "class_visualization_update_step",
                                   "create_class_visualization"),
    },
    exercises=("network_visualization",),
    public_tests=("test_vis_closed_form.py",),
    gradcheck=("relu",),
    items=(
        configured("relu_backward", RELU_MODES, ("relu_backward",)),
        Item("saliency", {"map": 2}, _batch, _saliency, ("relu_backward", "compute_saliency_maps")),
        Item("smoothgrad", {"map": 1}, _batch, _smoothgrad, ("relu_backward", "smoothgrad")),
        Item("guided_backprop", {"relu_guided": 2, "gradient": 2},
             lambda rng: {**_relu(rng), **_batch(rng)}, _guided, ("relu_backward", "_guided"),
             upstream={"relu_guided": "dout"}),
        configured("grad_cam", GRAD_CAM, ("relu_backward", "_cam")),
        configured("fooling", FOOLING, ("relu_backward", "make_fooling_image", "_objective_gradient")),
        Item("class_visualization", {"step": 2, "image": 1}, _batch, _class_vis,
             ("relu_backward", "class_visualization_update_step", "create_class_visualization")),
    ),
)
