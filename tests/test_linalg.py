"""Convolution matrices: hand-written small cases, agreement with the layers, and A_transpose == A.T."""
import numpy as np
import pytest

from npnet.layers import conv_forward_naive, conv_transpose_forward
from npnet.linalg import conv_matrix, conv_transpose_matrix


def test_conv_matrix_hand_computed():
    w = np.array([[1.0, 2.0], [3.0, 4.0]])
    # 3x3 image, 2x2 kernel, stride 1: output (0, 0) reads pixels 0, 1, 3, 4 of the flattened image.
    A = conv_matrix(w, (3, 3))
    assert A.shape == (4, 9)
    np.testing.assert_array_equal(A, [[1, 2, 0, 3, 4, 0, 0, 0, 0],
                                      [0, 1, 2, 0, 3, 4, 0, 0, 0],
                                      [0, 0, 0, 1, 2, 0, 3, 4, 0],
                                      [0, 0, 0, 0, 1, 2, 0, 3, 4]])
    # 2x2 image, pad 1, stride 2: four windows, each sees one pixel through one tap.
    A = conv_matrix(w, (2, 2), stride=2, pad=1)
    np.testing.assert_array_equal(A, [[4, 0, 0, 0], [0, 3, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]])


# (C, F, H, W, HH, WW, stride, pad)
CONFIGS = [
    (1, 1, 5, 5, 3, 3, 1, 0),
    (2, 3, 5, 6, 3, 3, 1, 1),
    (2, 2, 7, 5, 3, 2, 2, 1),
    (1, 2, 8, 7, 2, 2, 3, 0),  # stride larger than the kernel: some pixels are never read
    (3, 2, 6, 6, 1, 1, 2, 2),
    (2, 1, 4, 5, 4, 3, 3, 2),
]


@pytest.mark.parametrize("C,F,H,W,HH,WW,stride,pad", CONFIGS)
def test_conv_matrix_matches_layer(C, F, H, W, HH, WW, stride, pad):
    rng = np.random.default_rng(H * W + stride)
    x = rng.standard_normal((2, C, H, W))
    w = rng.standard_normal((F, C, HH, WW))
    out, _ = conv_forward_naive(x, w, None, {"stride": stride, "pad": pad})
    A = conv_matrix(w, (H, W), stride, pad)
    assert A.shape == (out[0].size, x[0].size)
    for n in range(2):
        np.testing.assert_allclose(A @ x[n].ravel(), out[n].ravel(), atol=1e-12)


def test_conv_matrix_2d_weights_equal_single_channel():
    w = np.random.default_rng(0).standard_normal((3, 2))
    np.testing.assert_array_equal(conv_matrix(w, (5, 4), 2, 1), conv_matrix(w[None, None], (5, 4), 2, 1))


@pytest.mark.parametrize("C,F,H,W,HH,WW,stride,pad", CONFIGS)
def test_conv_transpose_matrix(C, F, H, W, HH, WW, stride, pad):
    rng = np.random.default_rng(H + W * stride)
    w = rng.standard_normal((F, C, HH, WW))  # a convolution from C to F channels; its transpose F -> C
    op = (H + 2 * pad - HH) % stride
    W -= (W + 2 * pad - WW) % stride - op  # one output_padding serves both axes: match W's remainder to H's
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    At = conv_transpose_matrix(w, (Ho, Wo), stride, pad, op)
    np.testing.assert_array_equal(At, conv_matrix(w, (H, W), stride, pad).T)
    y = rng.standard_normal((2, F, Ho, Wo))
    out, _ = conv_transpose_forward(y, w, None, {"stride": stride, "pad": pad, "output_padding": op})
    for n in range(2):
        np.testing.assert_allclose(At @ y[n].ravel(), out[n].ravel(), atol=1e-12)


def test_conv_transpose_matrix_hand_computed():
    # One input pixel stamps the 3x3 kernel; pad 1 crops a row and column on each side, and
    # output_padding 1 gives back one row and column at the bottom/right: a 2x2 output.
    A = conv_transpose_matrix(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]), (1, 1), 2, 1, 1)
    np.testing.assert_array_equal(A, [[5], [6], [8], [9]])


@pytest.mark.parametrize("call,err,match", [
    (lambda: conv_matrix(np.zeros((2, 2, 2)), (3, 3)), ValueError, r"conv_matrix: w must have 2 or 4 dims"),
    (lambda: conv_matrix(np.zeros((2, 2), dtype=int), (3, 3)), TypeError, r"conv_matrix: w must be a floating"),
    (lambda: conv_matrix(np.zeros((4, 4)), (3, 3)), ValueError, r"conv_matrix: kernel 4x4 is larger than the "
                                                                r"padded input 3x3"),
    (lambda: conv_matrix(np.zeros((2, 2)), (3,)), ValueError, r"conv_matrix: input_hw must be a pair"),
    (lambda: conv_matrix(np.zeros((2, 2)), (3, 3), stride=0), ValueError, r"conv_matrix: stride must be a positive"),
    (lambda: conv_transpose_matrix(np.zeros((2, 2)), (3, 3), 2, 0, 2), ValueError,
     r"conv_transpose_matrix: output_padding must be smaller than the stride 2; got 2"),
])
def test_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()
