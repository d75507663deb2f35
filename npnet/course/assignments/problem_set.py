"""Assignment ``problem_set``: the written problem set's questions as graded code.

Q1.1 a convolution as a matrix (2x2 filter, 3x3 input, stride 3, pad 1: 4x9), Q1.2 the 16x4 matrix of a
stride-2 transposed convolution, Q1.3 a sub-pixel convolution as a transposed convolution and back, Q2
threshold units (AND, OR, why XOR is not linearly separable, two layers that compute it), Q3 the local
(w, b) of the problem set's ReLU network at x = 1, -1, -0.5, Q4 counting linear regions (2^L folds,
n_f * n_g for a composition, 2^(L*d) in d dimensions). Every answer is graded as numbers or matrices, on
the handout's own cases and on seeded ones, so an answer that is right only for the printed case fails.
"""
import numpy as np

from npnet import linalg, relu_networks as rn
from npnet.course.manifest import Assignment, Item
from npnet.nn import Linear, ReLU, Sequential

XOR = np.array([0, 1, 1, 0])
AND = np.array([0, 0, 0, 1])
OR = np.array([0, 1, 1, 1])
HANDOUT_POINTS = (1.0, -1.0, -0.5)  # Q3's points


def _filters(rng):
    return {"w": rng.standard_normal((2, 2)), "wt": rng.standard_normal((3, 3)),
            "w_subpixel": rng.standard_normal((8, 3, 2, 2)), "pad": int(rng.integers(0, 2))}


def _conv_matrix(inputs, out):
    out["matrix"] = linalg.conv_matrix(inputs["w"], (3, 3), stride=3, pad=1)  # (4, 9)


def _transposed_matrix(inputs, out):
    out["matrix"] = linalg.conv_transpose_matrix(inputs["wt"], (2, 2), stride=2, pad=1, output_padding=1)  # (16, 4)


def _subpixel(inputs, out):
    wt, _, param = linalg.subpixel_to_transposed(inputs["w_subpixel"], None, 2, int(inputs["pad"]))
    out["transposed"] = wt
    out["transposed_param"] = np.array([param["stride"], param["pad"], param["output_padding"]])
    w, _, param, trim = linalg.transposed_to_subpixel(inputs["wt"][None, None], None, 2, pad=1, output_padding=1)
    out["subpixel"] = w
    out["subpixel_param"] = np.array([param["stride"], param["pad"], trim])


def _units(rng):
    return {"X": rng.standard_normal((6, 3)), "w": rng.standard_normal(3), "b": float(rng.standard_normal()),
            "points": rng.standard_normal((8, 2)), "labels": rng.integers(0, 2, 8)}


def _threshold(inputs, out):
    out["and"] = rn.threshold_unit(rn.BOOLEAN_INPUTS, *rn.AND_UNIT)
    out["or"] = rn.threshold_unit(rn.BOOLEAN_INPUTS, *rn.OR_UNIT)
    out["unit"] = rn.threshold_unit(inputs["X"], inputs["w"], inputs["b"])


def _xor(inputs, out):
    # only the verdicts are graded: any separating (w, b) is a right answer
    labelled = [(rn.BOOLEAN_INPUTS, XOR), (rn.BOOLEAN_INPUTS, AND), (rn.BOOLEAN_INPUTS, OR),
                (inputs["points"], inputs["labels"]), (inputs["points"], (inputs["points"][:, 0] > 0).astype(int))]
    out["separable"] = np.array([float(rn.linearly_separable(X, y)[0]) for X, y in labelled])
    out["xor_network"] = rn.xor_threshold_network(rn.BOOLEAN_INPUTS)


def _point(rng):
    return {"x": float(rng.uniform(0.1, 2.0)) * rng.choice([-1, 1]), "net": int(rng.integers(1000)),
            "z": rng.standard_normal(3)}


def _local_linear(inputs, out):
    net = rn.problem_set_network()
    pieces = [rn.local_linear(net, np.array([x])) for x in HANDOUT_POINTS + (inputs["x"],)]
    rng = np.random.default_rng(int(inputs["net"]))
    other = Sequential(Linear(3, 4, dtype=np.float64, rng=rng), ReLU(), Linear(4, 2, dtype=np.float64, rng=rng))
    w, b = rn.local_linear(other, inputs["z"])
    out["w"] = np.concatenate([np.ravel([p[0] for p in pieces]), w.ravel()])
    out["b"] = np.concatenate([[p[1] for p in pieces], b])


def _sizes(rng):
    return {"n_f": int(rng.integers(2, 5)), "n_g": int(rng.integers(2, 5)), "depth": int(rng.integers(1, 4))}


def _regions(inputs, out):
    depth, n_f, n_g = int(inputs["depth"]), int(inputs["n_f"]), int(inputs["n_g"])
    out["folds"] = np.array([rn.count_regions_line(rn.fold_network(1, L), 0, 1) for L in (1, 2, depth + 2)])
    out["composition"] = np.array([rn.count_regions_line(rn.zigzag_network([n_g, n_f]), 0, 1),
                                   rn.count_regions_line(rn.zigzag_network([2 ** 2] * depth), 0, 1)])
    out["grid"] = np.array([rn.count_regions_grid(rn.fold_network(2, L), [0, 0], [1, 0], [0, 1], num=48)
                            for L in (1, depth)])


ASSIGNMENT = Assignment(
    name="problem_set",
    title="Problem set: convolutions as matrices, threshold units and XOR, local linear pieces, linear regions",
    strip={
        "npnet/linalg.py": ("conv_matrix", "conv_transpose_matrix", "subpixel_to_transposed",
                            "transposed_to_subpixel"),
        "npnet/relu_networks.py": ("threshold_unit", "linearly_separable", "xor_threshold_network", "local_linear",
                                   "count_regions_line", "count_regions_grid"),
    },
    exercises=("problem_set",),
    public_tests=("test_linalg.py", "test_relu_networks.py"),
    # the networks of Q3 and Q4 run on the affine and ReLU layers; relu_backward's block (with its guided
    # modes) belongs to network_visualization too, so it ships filled in only after that assignment
    requires=("layers", "network_visualization"),
    items=(
        Item("q1_1_conv_matrix", {"matrix": 2}, _filters, _conv_matrix, ("conv_matrix",)),
        Item("q1_2_transposed_matrix", {"matrix": 2}, _filters, _transposed_matrix, ("conv_transpose_matrix",)),
        Item("q1_3_subpixel", {"transposed": 2, "transposed_param": 1, "subpixel": 2, "subpixel_param": 1},
             _filters, _subpixel, ("subpixel_to_transposed", "transposed_to_subpixel")),
        Item("q2_threshold_units", {"and": 1, "or": 1, "unit": 1}, _units, _threshold, ("threshold_unit",)),
        Item("q2_xor", {"separable": 2, "xor_network": 1}, _units, _xor,
             ("linearly_separable", "threshold_unit", "xor_threshold_network")),
        Item("q3_local_linear", {"w": 2, "b": 2}, _point, _local_linear, ("local_linear",)),
        Item("q4_linear_regions", {"folds": 1, "composition": 1, "grid": 1}, _sizes, _regions,
             ("count_regions_line", "count_regions_grid")),
    ),
)
