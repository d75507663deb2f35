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
    """The handout's filters, plus drawn transposed convolutions: channels in != out, non-square
    kernels and inputs, any stride, crop and output padding (so a window clipped at the wrong border, or
    two axes swapped, shows); the sub-pixel filters (O = 3, r = 2, C = 4, k = 3: no two sizes equal) have biases."""
    stride = int(rng.integers(1, 4))
    kh, kw = int(rng.integers(3, 5)), int(rng.integers(3, 5))
    r, kt = int(rng.integers(2, 4)), int(rng.integers(2, 6))
    return {"w": rng.standard_normal((2, 2)), "wt": rng.standard_normal((3, 3)),
            "w_subpixel": rng.standard_normal((12, 4, 3, 3)), "b_subpixel": np.repeat(rng.standard_normal(3), 4),
            "pad": int(rng.integers(0, 2)),
            "wt_drawn": rng.standard_normal((2, 3, kh, kw)),
            # pad 1 > output padding 0: the last window's taps fall past the output and must be dropped
            "transposed_param": np.array([stride, 1, 0, int(rng.integers(2, 5)), int(rng.integers(2, 5))]),
            "wt_subpixel": rng.standard_normal((2, 3, kt, kt)), "bt_subpixel": rng.standard_normal(3),
            "subpixel_param": np.array([r, int(rng.integers(0, kt)), int(rng.integers(0, r))])}


def _conv_matrix(inputs, out):
    out["matrix"] = linalg.conv_matrix(inputs["w"], (3, 3), stride=3, pad=1)  # (4, 9)


def _transposed_matrix(inputs, out):
    out["matrix"] = linalg.conv_transpose_matrix(inputs["wt"], (2, 2), stride=2, pad=1, output_padding=1)  # (16, 4)
    stride, pad, op, h, w = (int(v) for v in inputs["transposed_param"])
    out["drawn_matrix"] = linalg.conv_transpose_matrix(inputs["wt_drawn"], (h, w), stride=stride, pad=pad,
                                                       output_padding=op)


def _subpixel(inputs, out):
    wt, bt, param = linalg.subpixel_to_transposed(inputs["w_subpixel"], inputs["b_subpixel"], 2, int(inputs["pad"]))
    out["transposed"] = np.concatenate([wt.ravel(), bt])
    out["transposed_param"] = np.array([param["stride"], param["pad"], param["output_padding"], *wt.shape])
    w, _, param, trim = linalg.transposed_to_subpixel(inputs["wt"][None, None], None, 2, pad=1, output_padding=1)
    r, q, op = (int(v) for v in inputs["subpixel_param"])
    w2, b2, param2, trim2 = linalg.transposed_to_subpixel(inputs["wt_subpixel"], inputs["bt_subpixel"], r, pad=q,
                                                          output_padding=op)
    out["subpixel"] = np.concatenate([w.ravel(), w2.ravel(), b2])
    out["subpixel_param"] = np.array([param["stride"], param["pad"], trim, *w.shape, param2["stride"], param2["pad"],
                                      trim2, *w2.shape])


def _units(rng):
    return {"X": rng.standard_normal((6, 3)), "w": rng.standard_normal(3), "b": float(rng.standard_normal()),
            "points": rng.standard_normal((8, 2)), "labels": rng.integers(0, 2, 8),
            # small integers: many inputs sit exactly on the threshold, where ">= 0" decides
            "X_int": rng.integers(-1, 2, (12, 3)).astype(float), "w_int": rng.choice([-1.0, 1.0], 3),
            "b_int": float(rng.integers(-1, 2))}


def _threshold(inputs, out):
    out["and"] = rn.threshold_unit(rn.BOOLEAN_INPUTS, *rn.AND_UNIT)
    out["or"] = rn.threshold_unit(rn.BOOLEAN_INPUTS, *rn.OR_UNIT)
    out["unit"] = rn.threshold_unit(inputs["X"], inputs["w"], inputs["b"])
    out["ties"] = rn.threshold_unit(inputs["X_int"], inputs["w_int"], inputs["b_int"])


def _xor(inputs, out):
    # only the verdicts are graded: any separating (w, b) is a right answer
    labelled = [(rn.BOOLEAN_INPUTS, XOR), (rn.BOOLEAN_INPUTS, AND), (rn.BOOLEAN_INPUTS, OR),
                (inputs["points"], inputs["labels"]), (inputs["points"], (inputs["points"][:, 0] > 0).astype(int))]
    answers = [rn.linearly_separable(X, y) for X, y in labelled]
    out["separable"] = np.array([float(ok) for ok, _, _ in answers])
    # the (w, b) returned with a "yes" must separate the labels (checked here, not with threshold_unit)
    out["separator"] = np.array([float(not ok or np.array_equal(np.asarray(X) @ w + b >= 0, np.asarray(y) == 1))
                                 for (X, y), (ok, w, b) in zip(labelled, answers)])
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
        Item("q1_2_transposed_matrix", {"matrix": 2, "drawn_matrix": 1}, _filters, _transposed_matrix,
             ("conv_transpose_matrix",)),
        Item("q1_3_subpixel", {"transposed": 2, "transposed_param": 1, "subpixel": 2, "subpixel_param": 1},
             _filters, _subpixel, ("subpixel_to_transposed", "transposed_to_subpixel")),
        Item("q2_threshold_units", {"and": 1, "or": 1, "unit": 1, "ties": 1}, _units, _threshold,
             ("threshold_unit",)),
        Item("q2_xor", {"separable": 2, "separator": 1, "xor_network": 1}, _units, _xor,
             ("linearly_separable", "threshold_unit", "xor_threshold_network")),
        Item("q3_local_linear", {"w": 2, "b": 2}, _point, _local_linear, ("local_linear",)),
        Item("q4_linear_regions", {"folds": 1, "composition": 1, "grid": 1}, _sizes, _regions,
             ("count_regions_line", "count_regions_grid")),
    ),
)
