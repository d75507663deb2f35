"""Assignment ``understanding``: the methods of the "Visualizing and Understanding" lecture: receptive
fields, maximally activating patches, nearest neighbours, occlusion, integrated gradients, gradient
ascent on one unit with Yosinski et al.'s regularisers, and a DeepDream step.

Graded on the tiny seeded network of ``_models.TinyNet`` (SqueezeNet's interface, no downloaded weights)
and on stacks of seeded convolutions for the receptive fields, so each input set tests other windows.
It builds on ``layers`` and ``network_visualization`` (the ReLU's backward modes, the class-score
gradient), whose solutions ship with its release.
"""
import numpy as np

from npnet.course.assignments._models import LAST, TinyNet
from npnet.course.manifest import Assignment, Item
from npnet.nn import Conv2d, MaxPool2d, ReLU, Sequential
from npnet.style import dream
from npnet.vis import activations, attribution, neurons


def _stack(rng):
    """Three (kernel, stride, padding) windows of a conv - ReLU - pool - conv stack; the first stride is
    at least 2, so the layers above see the input through a jump (the part a wrong rule gets wrong)."""
    return {"windows": np.array([[rng.integers(1, 6), rng.integers(2, 4), rng.integers(0, 3)],
                                 [rng.integers(2, 4), rng.integers(1, 3), 0],
                                 [rng.integers(1, 6), rng.integers(1, 4), rng.integers(0, 3)]])}


def _receptive_fields(inputs, out):
    (k1, s1, p1), (k2, s2, _), (k3, s3, p3) = inputs["windows"].tolist()
    features = Sequential(Conv2d(3, 2, k1, stride=s1, padding=p1, dtype=np.float64), ReLU(),
                          MaxPool2d(k2, stride=s2), Conv2d(2, 2, k3, stride=s3, padding=p3, dtype=np.float64))
    out["fields"] = np.array([tuple(activations.receptive_field(features, layer)) for layer in range(4)])
    out["tiny_net"] = np.array([tuple(activations.receptive_field(TinyNet(), layer)) for layer in range(LAST + 1)])


def _images(rng):
    return {"X": rng.standard_normal((4, 3, 8, 8)), "y": rng.integers(0, 5, 4), "net": int(rng.integers(1000)),
            "channel": int(rng.integers(0, 8)), "F": rng.standard_normal((6, 5)), "Q": rng.standard_normal((3, 5))}


def _patches(inputs, out):
    net = TinyNet(seed=int(inputs["net"]))
    p = activations.max_activating_patches(net, inputs["X"], LAST, int(inputs["channel"]), k=5)
    out["values"], out["positions"], out["patches"] = p.values, np.column_stack([p.images, p.positions]), p.patches
    best = activations.max_activating_patches(net, inputs["X"], LAST, int(inputs["channel"]), k=3, per_image=True)
    out["per_image"] = np.column_stack([best.images, best.positions])


def _neighbours(inputs, out):
    for metric in ("l2", "cosine"):
        idx, dist = activations.nearest_neighbours(inputs["Q"], inputs["F"], k=3, metric=metric)
        out[metric] = np.concatenate([idx.ravel(), dist.ravel()])
    idx, _ = activations.nearest_neighbours(inputs["F"], inputs["F"], k=2, exclude_self=True)
    out["exclude_self"] = idx
    # queries on or next to database rows: distances 0 (rounding can make the squared one negative) and < 1
    near = np.concatenate([inputs["F"][:2], inputs["F"][2:4] + 0.01 * inputs["Q"][:2]])
    idx, dist = activations.nearest_neighbours(near, inputs["F"], k=2)
    out["near"] = np.concatenate([idx.ravel(), dist.ravel()])


def _occlusion(inputs, out):
    net = TinyNet(seed=int(inputs["net"]))
    out["score"] = attribution.occlusion(inputs["X"], inputs["y"], net, window=3, stride=2)
    out["probability"] = attribution.occlusion(inputs["X"], inputs["y"], net, window=4, stride=3, fill=0.5,
                                               output="probability")


def _integrated_gradients(inputs, out):
    net = TinyNet(seed=int(inputs["net"]))
    out["attributions"], out["delta"] = attribution.integrated_gradients(inputs["X"], inputs["y"], net, steps=5,
                                                                         batch_size=7)
    out["baseline"], _ = attribution.integrated_gradients(inputs["X"][:2], inputs["y"][:2], net, baseline=0.3,
                                                          steps=3, method="right")


def _unit_gradient(inputs, out):
    net = TinyNet(seed=int(inputs["net"]))
    out["gradient"], out["positions"] = neurons.unit_gradient(inputs["X"], net, 3, int(inputs["channel"]))
    out["guided"], _ = neurons.unit_gradient(inputs["X"], net, LAST, int(inputs["channel"]), position=(1, 2),
                                             guided=True)


def _unit_ascent(inputs, out):
    net = TinyNet(seed=int(inputs["net"]))
    x, g = inputs["X"][:2], inputs["X"][2:]
    # percentile 100: the cut is the largest value, which ">=" keeps; 0.5: a percentile below 1
    out["regularisers"] = np.stack([neurons.clip_small_norm(x, 30), neurons.clip_small_contribution(x, g, 40),
                                    neurons.clip_small_norm(x, 100), neurons.clip_small_contribution(x, g, 100),
                                    neurons.clip_small_norm(x, 0.5)])
    out["objective"], out["objective_gradient"] = neurons.unit_objective_gradient(
        inputs["X"][:1], net, 3, int(inputs["channel"]), None)
    # one unit, and the channel's mean on a non-square image (H' != W')
    value, gradient = neurons.unit_objective_gradient(inputs["X"][1:2], net, 3, int(inputs["channel"]), (1, 2))
    wide, wide_gradient = neurons.unit_objective_gradient(inputs["X"][1:2, :, :, :6], net, 3,
                                                          int(inputs["channel"]), None)
    out["unit_objective"] = np.concatenate([[value, wide], gradient.ravel(), wide_gradient.ravel()])
    img, objective = neurons.unit_visualization(net, 3, int(inputs["channel"]), image_size=8, num_iterations=3,
                                                learning_rate=2.0, l2_decay=0.1, blur_every=2,
                                                norm_percentile=20, contribution_percentile=20, init="noise",
                                                seed=int(inputs["net"]))
    out["image"], out["ascent_objective"] = img, objective


def _dream(inputs, out):
    net = TinyNet(seed=int(inputs["net"]))
    out["objective"], out["objective_gradient"] = dream.dream_objective(net, inputs["X"][:1], 3)
    out["loss"], out["image"] = dream.dream_step(net, inputs["X"][:1], 3, 0.05, ox=1, oy=-2)


ASSIGNMENT = Assignment(
    name="understanding",
    title="Understanding CNNs: receptive fields, top patches, neighbours, occlusion, integrated gradients, "
          "unit visualisation, DeepDream",
    strip={
        "npnet/vis/activations.py": ("receptive_field", "max_activating_patches", "nearest_neighbours"),
        "npnet/vis/attribution.py": ("integrated_gradients", "occlusion"),
        "npnet/vis/neurons.py": ("unit_gradient", "clip_small_norm", "clip_small_contribution",
                                 "unit_objective_gradient", "unit_visualization"),
        "npnet/style/dream.py": ("dream_objective", "dream_step"),
    },
    exercises=("understanding_cnns",),
    public_tests=("test_vis_activations.py", "test_vis_attribution.py", "test_dream.py"),
    requires=("layers", "network_visualization"),
    items=(
        Item("receptive_field", {"fields": 2, "tiny_net": 1}, _stack, _receptive_fields, ("receptive_field",),
             rtol=0),
        Item("max_activating_patches", {"values": 1, "positions": 1, "patches": 1, "per_image": 1}, _images,
             _patches, ("max_activating_patches", "receptive_field")),
        Item("nearest_neighbours", {"l2": 1, "cosine": 1, "exclude_self": 1, "near": 1}, _images, _neighbours,
             ("nearest_neighbours",)),
        Item("occlusion", {"score": 2, "probability": 1}, _images, _occlusion, ("occlusion",)),
        Item("integrated_gradients", {"attributions": 2, "delta": 1, "baseline": 1}, _images,
             _integrated_gradients, ("integrated_gradients",)),
        Item("unit_gradient", {"gradient": 1, "positions": 1, "guided": 1}, _images, _unit_gradient,
             ("unit_gradient",)),
        Item("unit_ascent", {"regularisers": 1, "objective": 1, "objective_gradient": 1, "unit_objective": 1, "image": 2,
                             "ascent_objective": 1}, _images, _unit_ascent,
             ("clip_small_norm", "clip_small_contribution", "unit_objective_gradient", "unit_visualization")),
        Item("deepdream_step", {"objective": 1, "objective_gradient": 1, "loss": 1, "image": 2}, _images, _dream,
             ("dream_objective", "dream_step")),
    ),
)
