"""Assignment ``conv_as_matrix``: a convolution and a transposed convolution as dense matrices."""
from npnet.course.manifest import Assignment, Item
from npnet import linalg


def _conv(rng):
    return {"w": rng.standard_normal((2, 3, 3, 3)), "wt": rng.standard_normal((3, 2, 3, 3))}


def _run(inputs, out):
    out["conv_matrix"] = linalg.conv_matrix(inputs["w"], (5, 6), stride=2, pad=1)
    out["conv_matrix_no_pad"] = linalg.conv_matrix(inputs["w"], (4, 4), stride=1, pad=0)
    # stride 1, pad 1: the windows reach the right and bottom padding
    out["conv_matrix_same"] = linalg.conv_matrix(inputs["w"], (5, 4), stride=1, pad=1)


def _run_transpose(inputs, out):
    out["matrix"] = linalg.conv_transpose_matrix(inputs["wt"], (3, 4), stride=2, pad=1, output_padding=1)
    # stride 1, pad 1: the stamps cross the cropped border on every side
    out["matrix_same"] = linalg.conv_transpose_matrix(inputs["wt"], (4, 3), stride=1, pad=1)


ASSIGNMENT = Assignment(
    name="conv_as_matrix",
    requires=("layers",),
    title="A convolution is a matrix: conv_matrix and conv_transpose_matrix",
    strip={"npnet/linalg.py": ("conv_matrix", "conv_transpose_matrix")},
    exercises=("conv_as_matrix",),
    public_tests=("test_linalg.py",),
    items=(
        Item("conv_matrix", {"conv_matrix": 1, "conv_matrix_no_pad": 1, "conv_matrix_same": 1}, _conv, _run,
             ("conv_matrix",)),
        Item("conv_transpose_matrix", {"matrix": 1, "matrix_same": 1}, _conv, _run_transpose,
             ("conv_transpose_matrix",)),
    ),
)
