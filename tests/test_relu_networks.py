"""What ReLU networks compute (npnet.relu_networks) and sub-pixel <-> transposed convolution (npnet.linalg).

Expected values are truth tables, the problem set's numbers, finite differences, and the closed forms
for the number of linear regions (2^d, n_f * n_g, 2^(L*d); 1 + k + k(k-1)/2 for k lines in general
position in the plane).
"""
import itertools

import numpy as np
import pytest

from gradcheck import rel_error
from npnet.errors import NpnetTypeError, NpnetValueError
from npnet.layers import conv_forward, conv_transpose_forward, pixel_shuffle_forward
from npnet.linalg import subpixel_to_transposed, transposed_to_subpixel
from npnet.nn import Conv2d, Linear, ReLU, Sequential
from npnet.relu_networks import (AND_UNIT, BOOLEAN_INPUTS, OR_UNIT, activation_pattern, count_regions_grid,
                                 count_regions_line, fold_network, linearly_separable, local_linear,
                                 problem_set_network, threshold_unit, xor_relu_network, xor_threshold_network,
                                 zigzag_network)

XOR = np.array([0, 1, 1, 0])


def test_threshold_unit_and_or_truth_tables():
    assert threshold_unit(BOOLEAN_INPUTS, *AND_UNIT).tolist() == [0, 0, 0, 1]
    assert threshold_unit(BOOLEAN_INPUTS, *OR_UNIT).tolist() == [0, 1, 1, 1]
    # w.x + b == 0 counts as on
    assert threshold_unit(np.array([[1.0, 0.0]]), np.array([1.0, 1.0]), -1.0).tolist() == [1]


@pytest.mark.parametrize("labels", [[0, 0, 0, 1], [0, 1, 1, 1], [1, 1, 1, 0], [0, 0, 1, 1]])
def test_separable_labels_get_a_unit_that_separates_them(labels):
    ok, w, b = linearly_separable(BOOLEAN_INPUTS, labels)
    assert ok
    assert threshold_unit(BOOLEAN_INPUTS, w, b).tolist() == labels


def test_xor_is_not_linearly_separable():
    assert linearly_separable(BOOLEAN_INPUTS, XOR) == (False, None, None)
    # the same answer by exhaustion over a grid of units: none reproduces XOR
    grid = np.arange(-3, 3.01, 0.25)
    hits = [(w1, w2, b) for w1, w2, b in itertools.product(grid, grid, grid)
            if threshold_unit(BOOLEAN_INPUTS, np.array([w1, w2]), b).tolist() == XOR.tolist()]
    assert hits == []


def test_two_layers_solve_xor():
    assert xor_threshold_network(BOOLEAN_INPUTS).tolist() == XOR.tolist()
    assert xor_relu_network().forward(BOOLEAN_INPUTS).ravel().tolist() == XOR.tolist()


@pytest.mark.parametrize("x, h, w, b", [(1.0, 5.0, 2.0, 3.0), (-1.0, 2.0, 1.0, 3.0), (-0.5, 2.5, 1.0, 3.0)])
def test_local_linear_on_the_problem_set_network(x, h, w, b):
    net = problem_set_network()
    assert net.forward(np.array([[x]]))[0, 0] == h
    w_got, b_got = local_linear(net, np.array([x]))
    assert w_got.tolist() == [w] and b_got == b


def test_local_linear_matches_finite_differences_on_a_random_net():
    rng = np.random.default_rng(0)
    net = Sequential(Linear(4, 6, dtype=np.float64, rng=rng), ReLU(), Linear(6, 5, dtype=np.float64, rng=rng), ReLU(),
                     Linear(5, 3, dtype=np.float64, rng=rng))
    x = rng.standard_normal(4)
    w, b = local_linear(net, x)
    assert w.shape == (3, 4) and b.shape == (3,)
    eps = 1e-6  # small enough to stay inside x's linear piece
    numeric = np.stack([(net.forward((x + eps * e)[None]) - net.forward((x - eps * e)[None]))[0] / (2 * eps)
                        for e in np.eye(4)], axis=1)
    assert rel_error(w, numeric) < 1e-8
    assert rel_error(w @ x + b, net.forward(x[None])[0]) < 1e-12


def test_local_linear_on_a_conv_net_reproduces_its_output():
    rng = np.random.default_rng(1)
    net = Sequential(Conv2d(1, 2, 3, dtype=np.float64, rng=rng), ReLU(), Conv2d(2, 1, 3, dtype=np.float64, rng=rng))
    x = rng.standard_normal((1, 5, 5))
    w, b = local_linear(net, x)
    assert w.shape == x.shape  # one output (a 1x1 map): w is shaped like the input
    assert abs(np.sum(w * x) + b - net.forward(x[None]).item()) < 1e-12


def test_activation_pattern_by_hand():
    net = problem_set_network()  # first layer (x/2, x/2 + 1), second layer twice their relus' sum
    got = activation_pattern(net, np.array([[1.0], [-0.5], [-3.0]]))
    assert got.tolist() == [[True, True, True, True], [False, True, True, True], [False, False, False, False]]


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_folding_doubles_the_regions(depth):
    assert count_regions_line(fold_network(1, depth), 0, 1) == 2 ** depth


@pytest.mark.parametrize("n_f, n_g", [(2, 3), (3, 5), (4, 2)])
def test_composition_multiplies_the_pieces(n_f, n_g):
    assert count_regions_line(zigzag_network([n_g]), 0, 1) == n_g
    assert count_regions_line(zigzag_network([n_g, n_f]), 0, 1) == n_f * n_g


@pytest.mark.parametrize("depth, d", [(1, 2), (2, 2), (3, 2), (3, 3)])
def test_depth_l_with_2_to_the_d_pieces_per_layer(depth, d):
    # L layers with 2^d pieces each: 2^(L*d) regions along [0, 1]
    assert count_regions_line(zigzag_network([2 ** d] * depth), 0, 1) == 2 ** (depth * d)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_folding_both_coordinates_of_the_square(depth):
    # d = 2 coordinates folded L times: 2^(L*d) regions of [0, 1]^2
    count, labels = count_regions_grid(fold_network(2, depth), [0, 0], [1, 0], [0, 1], num=64, return_labels=True)
    assert count == 2 ** (2 * depth)
    assert labels.shape == (64, 64)


def test_lines_in_general_position_cut_the_plane_into_1_plus_k_plus_k_choose_2_regions():
    # three ReLUs = three lines, every pair crossing inside the square [-1, 1]^2
    layer = Linear(2, 3, dtype=np.float64)
    layer.params["weight"] = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    layer.params["bias"] = np.array([0.0, 0.0, -0.5])
    net = Sequential(layer, ReLU())
    assert count_regions_grid(net, [-1, -1], [2, 0], [0, 2], num=200) == 1 + 3 + 3


def test_region_errors_are_npnet_errors():
    with pytest.raises(NpnetValueError, match="num must be at least 2"):
        count_regions_grid(problem_set_network(), [0], [1], [1], num=1)
    with pytest.raises(NpnetTypeError, match="local_linear: model must be an npnet.nn Module"):
        local_linear(lambda x: x, np.zeros(1))


def test_the_problem_set_network_is_the_handouts():
    net = problem_set_network()
    # the handout: h(-3) = 1, and three linear pieces (1, x + 3, 2x + 3 with kinks at -2 and 0)
    assert net.forward(np.array([[-3.0]]))[0, 0] == 1.0
    assert count_regions_line(net, -4, 2) == 3
    assert count_regions_line(net, 0.5, 2) == 1
    xs = np.linspace(-5, 5, 41)[:, None]
    assert net.forward(xs).ravel().tolist() == np.select([xs < -2, xs < 0], [1.0, xs + 3], 2 * xs + 3).ravel().tolist()
    assert [layer.params["weight"].tolist() for layer in (net[0], net[2], net[4])] == [[[0.5], [0.5]], [[1, 1], [1, 1]],
                                                                                      [[1, 1]]]


@pytest.mark.parametrize("call, match", [
    (lambda: count_regions_line(problem_set_network(), 0, 1, num=1), "num must be at least 2"),
    (lambda: count_regions_line(problem_set_network(), [0, 0], 1), r"end must be a point \(2,\)"),
    (lambda: count_regions_grid(problem_set_network(), [0], [1], [1, 1]), r"v must be a point \(1,\)"),
    (lambda: activation_pattern(Sequential(Linear(1, 1)), np.zeros((1, 1))), "contains no ReLU"),
    (lambda: local_linear("net", np.zeros(1)), "must be an npnet.nn Module"),
    (lambda: local_linear(problem_set_network(), np.array([np.nan])), "NaN"),
    (lambda: threshold_unit(BOOLEAN_INPUTS, np.ones(3), 0.0), r"w must have shape \(2,\)"),
    (lambda: threshold_unit(BOOLEAN_INPUTS, np.ones(2), "0"), "b must be a finite number"),
    (lambda: linearly_separable(BOOLEAN_INPUTS, [0, 1, 2, 0]), r"must lie in \[0, 2\)"),
    (lambda: fold_network(2, 0), "depth must be a positive integer"),
    (lambda: zigzag_network([]), "non-empty list"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# -- sub-pixel convolution <-> transposed convolution ------------------------------------------------------

@pytest.mark.parametrize("k, r, pad", [(1, 2, 0), (2, 2, 1), (3, 2, 1), (3, 3, 0), (4, 2, 2), (5, 3, 2), (3, 1, 1)])
def test_subpixel_convolution_as_a_transposed_convolution(k, r, pad):
    rng = np.random.default_rng(k * 10 + r)
    O, C = 2, 3
    w = rng.standard_normal((O * r * r, C, k, k))
    b = np.repeat(rng.standard_normal(O), r * r)
    x = rng.standard_normal((2, C, 5, 6))
    sub, _ = pixel_shuffle_forward(conv_forward(x, w, b, {"pad": pad})[0], r)
    wt, bt, param = subpixel_to_transposed(w, b, r, pad)
    assert wt.shape == (C, O, k * r, k * r) and param == {"stride": r, "pad": (k - 1 - pad) * r, "output_padding": 0}
    out, _ = conv_transpose_forward(x, wt, bt, param)
    assert out.shape == sub.shape
    assert rel_error(out, sub) < 1e-12
    # and back: the same filters and padding
    w2, b2, param2, trim = transposed_to_subpixel(wt, bt, **param)
    assert trim == 0 and param2 == {"stride": 1, "pad": pad}
    assert np.array_equal(w2, w) and np.array_equal(b2, b)


@pytest.mark.parametrize("kt, r, q, op", [(3, 2, 1, 1), (4, 2, 1, 0), (5, 3, 2, 2), (2, 3, 0, 0), (7, 2, 3, 1),
                                          (1, 2, 0, 1), (6, 4, 5, 3)])
def test_transposed_convolution_as_a_subpixel_convolution(kt, r, q, op):
    rng = np.random.default_rng(kt * 100 + r * 10 + q)
    C, O = 2, 3
    wt = rng.standard_normal((C, O, kt, kt))
    bt = rng.standard_normal(O)
    x = rng.standard_normal((2, C, 4, 5))
    ref, _ = conv_transpose_forward(x, wt, bt, {"stride": r, "pad": q, "output_padding": op})
    w, b, param, trim = transposed_to_subpixel(wt, bt, r, q, op)
    assert w.shape[:2] == (O * r * r, C)
    sub, _ = pixel_shuffle_forward(conv_forward(x, w, b, param)[0], r)
    assert sub.shape[2:] == (ref.shape[2] + trim, ref.shape[3] + trim)
    assert rel_error(sub[:, :, :ref.shape[2], :ref.shape[3]], ref) < 1e-10


def test_subpixel_conversion_errors():
    w = np.zeros((8, 1, 3, 3))
    with pytest.raises(NpnetValueError, match="biases of each output channel must be equal"):
        subpixel_to_transposed(w, np.arange(8.0), 2, 1)
    with pytest.raises(NpnetValueError, match="pad must be at most k - 1 = 2"):
        subpixel_to_transposed(w, None, 2, 3)
    with pytest.raises(NpnetValueError, match="r\\*r = 9 dividing"):
        subpixel_to_transposed(w, None, 3, 1)
    with pytest.raises(NpnetValueError, match="output_padding must be smaller than the stride 2"):
        transposed_to_subpixel(np.zeros((1, 1, 3, 3)), None, 2, 0, 2)
