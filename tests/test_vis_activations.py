"""Activation-based methods (npnet.vis.activations) and neuron-level gradients (npnet.vis.neurons).

References: hand-computed grids and receptive fields, an exact dependency oracle for the receptive
field (positive weights, zero biases: a unit is > 0 iff a lit pixel lies in its window), brute-force
loops for top-k and nearest neighbours, an eigendecomposition of the covariance for PCA, numerical
gradients for the unit gradients, and a hand-worked softmax for occlusion by probability.
"""
import numpy as np
import pytest
from PIL import Image

from gradcheck import eval_numerical_gradient_array, rel_error
from npnet.layers import conv_backward
from npnet.models.squeezenet import SqueezeNet
from npnet.nn import AvgPool2d, BatchNorm2d, Conv2d, Flatten, LeakyReLU, MaxPool2d, ReLU, Sequential
from npnet.vis import occlusion
from npnet.vis.activations import (activation_grid, filter_grid, layer_activations, load_image_folder,
                                   max_activating_patches, nearest_neighbours, pca, pooled_features, receptive_field,
                                   tile, tsne)
from npnet.vis.neurons import clip_small_contribution, clip_small_norm, unit_gradient, unit_visualization
from npnet.vis.synthesis import _pixel_range
from test_vis_closed_form import BLOCKS, TinyNet, up2


@pytest.fixture(scope="module")
def squeezenet_random():
    return SqueezeNet()  # the geometry does not depend on the weights


def small_net(seed=0):
    """conv 3x3 stride 2 pad 1 -> ReLU -> max pool 2: receptive field 5, jump 4, start -1 (by hand:
    1 + 2*1 = 3 then 3 + 1*2 = 5; jump 2*2; start -1*1)."""
    rng = np.random.default_rng(seed)
    return Sequential(Conv2d(3, 4, 3, stride=2, padding=1, dtype=np.float64, rng=rng), ReLU(), MaxPool2d(2))


# -- receptive fields --------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer, channel, expected", [
    (0, None, (3, 2, 0)), (2, None, (7, 4, 0)),
    # fire 3: squeeze 1x1, then 3x3 pad 1 for the expand3x3 channels (64..127), 1x1 for channels 0..63
    (3, None, (15, 4, -4)), (3, 100, (15, 4, -4)), (3, 0, (7, 4, 0)),
    # the max pool after fire 4 keeps channels: channel 0 is still fire 4's 1x1 branch
    (5, None, (31, 8, -8)), (5, 0, (23, 8, -4)),
    (12, None, (207, 16, -88)), ("features.12", 0, (175, 16, -72)),
])
def test_squeezenet_receptive_fields_by_hand(squeezenet_random, layer, channel, expected):
    assert tuple(receptive_field(squeezenet_random, layer, channel)) == expected


def test_small_net_receptive_field_by_hand():
    assert tuple(receptive_field(small_net(), 2)) == (5, 4, -1)
    # batch norm and leaky ReLU keep the window; an average pool 3/2 pad 1 adds (3 - 1) * 4, start -1 - 4
    net = Sequential(*small_net(), BatchNorm2d(4), LeakyReLU(), AvgPool2d(3, stride=2, padding=1))
    assert tuple(receptive_field(net, 4)) == (5, 4, -1)
    assert tuple(receptive_field(net, 5)) == (13, 8, -5)
    with pytest.raises(ValueError, match="cannot work out the window of a Flatten layer"):
        receptive_field(Sequential(*small_net(), Flatten()), 3)


@pytest.mark.parametrize("layer, channel", [(2, None), (3, 0), (3, 100), (5, 0), (6, 200)])
def test_receptive_field_is_exactly_what_a_unit_depends_on(layer, channel):
    net = SqueezeNet(dtype=np.float64)
    for _, module in net.named_modules():
        module.params = {k: np.abs(v) if k == "weight" else np.zeros_like(v) for k, v in module.params.items()}
    size, row = 47, 20
    X = np.zeros((size, 3, size, size))
    X[np.arange(size), :, row, np.arange(size)] = 1  # image c lights pixel (row, c)
    A = net.features.forward(X, 0, layer + 1)
    field = receptive_field(net, layer, channel)
    channels = slice(None) if channel is None else channel
    i = -(-(row - field.start - field.size + 1) // field.jump)  # first unit row whose window holds `row`
    for j in range(A.shape[3]):
        top, left, bottom, right = field.box(i, j, (size, size))
        assert top <= row < bottom
        lit = np.flatnonzero((A[:, channels, i, j].reshape(size, -1) > 0).any(axis=1))
        assert lit.tolist() == list(range(left, right)), (j, field)


# -- grids ----------------------------------------------------------------------------------------------

def test_tile_by_hand():
    grid = tile(np.array([[[0.0]], [[0.5]], [[1.0]]]), columns=2, pad=1, background=0.25)
    assert grid.tolist() == [[0.0, 0.25, 0.5], [0.25, 0.25, 0.25], [1.0, 0.25, 0.25]]


def test_filter_grid_by_hand():
    w = np.zeros((2, 3, 1, 1))
    w[0, :, 0, 0] = [-1.0, 0.0, 1.0]  # stretched to 0, 0.5, 1
    w[1, :, 0, 0] = [2.0, 4.0, 3.0]   # stretched to 0, 1, 0.5
    grid = filter_grid(w, upsample=2, pad=1)
    assert grid.shape == (2, 5, 3)
    np.testing.assert_allclose(grid[:, :2], np.broadcast_to([0.0, 0.5, 1.0], (2, 2, 3)))
    np.testing.assert_allclose(grid[:, 2], 1.0)  # the gap
    np.testing.assert_allclose(grid[:, 3:], np.broadcast_to([0.0, 1.0, 0.5], (2, 2, 3)))
    # per channel: one row per filter, one grey tile per input channel, stretched per filter
    grey = filter_grid(w, upsample=1, per_channel=True, pad=0)
    np.testing.assert_allclose(grey, [[0.0, 0.5, 1.0], [0.0, 1.0, 0.5]])


def test_activation_grid_uses_one_scale_for_the_layer():
    A = np.array([[[0.0, 2.0]], [[4.0, 1.0]], [[0.0, 0.0]]])
    grid = activation_grid(A, pad=1, columns=3)
    np.testing.assert_allclose(grid, [[0.0, 0.5, 1.0, 1.0, 0.25, 1.0, 0.0, 0.0]])


# -- maximally activating patches ---------------------------------------------------------------------------

def test_max_activating_patches_against_brute_force():
    net = small_net()
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 3, 12, 12))
    A = net.forward(X)[:, 2]  # (4, 3, 3)
    ranked = sorted(((A[n, i, j], n, i, j) for n in range(4) for i in range(3) for j in range(3)),
                    key=lambda t: (-t[0], t[1], t[2], t[3]))
    got = max_activating_patches(net, X, 2, 2, k=5)
    assert got.values.tolist() == [r[0] for r in ranked[:5]]
    assert got.images.tolist() == [r[1] for r in ranked[:5]]
    assert got.positions.tolist() == [[r[2], r[3]] for r in ranked[:5]]
    padded = np.pad(X, ((0, 0), (0, 0), (1, 4), (1, 4)))  # the field starts 1 pixel before the image
    for m, (_, n, i, j) in enumerate(ranked[:5]):
        np.testing.assert_array_equal(got.patches[m], padded[n, :, 4 * i:4 * i + 5, 4 * j:4 * j + 5])
        assert got.boxes[m].tolist() == [max(4 * i - 1, 0), max(4 * j - 1, 0), 4 * i + 4, 4 * j + 4]
    best = max_activating_patches(net, X, "features.2", 2, k=4, per_image=True)
    assert sorted(best.images.tolist()) == [0, 1, 2, 3]
    np.testing.assert_allclose(best.values, np.sort(A.reshape(4, -1).max(axis=1))[::-1])


def test_nearest_neighbours_against_brute_force():
    rng = np.random.default_rng(2)
    F = rng.standard_normal((7, 5))
    for metric, dist in (("l2", lambda a, b: np.sqrt(np.sum((a - b) ** 2))),
                         ("cosine", lambda a, b: 1 - a @ b / np.linalg.norm(a) / np.linalg.norm(b))):
        idx, d = nearest_neighbours(F, F, k=3, metric=metric, exclude_self=True)
        for q in range(7):
            ref = sorted((dist(F[q], F[m]), m) for m in range(7) if m != q)[:3]
            assert idx[q].tolist() == [m for _, m in ref]
            np.testing.assert_allclose(d[q], [v for v, _ in ref], atol=1e-12)
    # with itself allowed, every point is its own nearest neighbour at distance 0
    idx, d = nearest_neighbours(F, F, k=1)
    assert idx.ravel().tolist() == list(range(7)) and np.allclose(d, 0, atol=1e-7)


def test_pca_matches_the_covariance_eigenvectors():
    rng = np.random.default_rng(3)
    F = rng.standard_normal((30, 6)) @ rng.standard_normal((6, 6))
    Z, comps, var = pca(F, 3)
    evals, evecs = np.linalg.eigh(np.cov(F, rowvar=False))
    np.testing.assert_allclose(var, evals[::-1][:3], rtol=1e-10)
    for c, e in zip(comps, evecs[:, ::-1].T):
        assert abs(abs(c @ e) - 1) < 1e-10
    np.testing.assert_allclose(Z, (F - F.mean(0)) @ comps.T)


def test_pca_by_hand_on_a_line():
    t = np.array([-1.0, 0.0, 1.0, 2.0])
    Z, comps, var = pca(np.stack([t, t], axis=1), 1)
    np.testing.assert_allclose(comps, [[1 / np.sqrt(2), 1 / np.sqrt(2)]])
    np.testing.assert_allclose(Z[:, 0], (t - 0.5) * np.sqrt(2))
    np.testing.assert_allclose(var, [2 * np.var(t, ddof=1)])


def test_tsne_separates_two_clusters():
    pytest.importorskip("sklearn", reason="t-SNE needs the optional extra: pip install 'npnet[tsne]'")
    rng = np.random.default_rng(4)
    F = np.concatenate([rng.standard_normal((10, 8)), rng.standard_normal((10, 8)) + 20])
    E = tsne(F, perplexity=4, seed=0)
    idx, _ = nearest_neighbours(E, E, k=3, exclude_self=True)
    assert np.all((idx < 10) == (np.arange(20) < 10)[:, None])


def test_pooled_features_are_the_mean_activation():
    net = small_net()
    X = np.random.default_rng(5).standard_normal((3, 3, 12, 12))
    np.testing.assert_allclose(pooled_features(net, X), net.forward(X).mean(axis=(2, 3)))
    np.testing.assert_allclose(layer_activations(net, X, 0, batch_size=2), net.forward(X, 0, 1))


# -- neuron-level gradients -------------------------------------------------------------------------------

def two_conv_net():
    rng = np.random.default_rng(6)
    return Sequential(Conv2d(3, 4, 3, padding=1, dtype=np.float64, rng=rng), ReLU(),
                      Conv2d(4, 3, 3, stride=2, dtype=np.float64, rng=rng), ReLU())


def test_unit_gradient_matches_the_numerical_gradient():
    net = two_conv_net()
    X = np.random.default_rng(7).standard_normal((1, 3, 7, 7))
    out = net.forward(X)
    c = int(np.argmax(out[0].reshape(3, -1).max(axis=1)))
    grad, pos = unit_gradient(X, net, 3, c)
    i, j = pos[0]
    assert out[0, c, i, j] == out[0, c].max()
    unit = np.zeros_like(out)
    unit[0, c, i, j] = 1
    numeric = eval_numerical_gradient_array(lambda x: net.forward(x), X, unit)
    assert rel_error(grad, numeric) < 1e-8
    grad2, _ = unit_gradient(X, net, 3, c, position=(int(i), int(j)))
    np.testing.assert_array_equal(grad, grad2)


def test_guided_unit_gradient_against_the_rule_spelled_out():
    net = two_conv_net()
    X = np.random.default_rng(8).standard_normal((1, 3, 7, 7))
    z1 = net.forward(X, 0, 1)
    z2 = net.forward(X, 0, 3)
    c, i, j = np.unravel_index(np.argmax(z2[0]), z2.shape[1:])  # a unit that is on
    g = np.zeros_like(z2)
    g[0, c, i, j] = 1
    # guided ReLU: pass where the forward input AND the upstream gradient are positive
    g = g * (z2 > 0) * (g > 0)
    g, _, _ = conv_backward(g, net[2].cache)
    g = g * (z1 > 0) * (g > 0)
    expected, _, _ = conv_backward(g, net[0].cache)
    got, _ = unit_gradient(X, net, 3, int(c), position=(int(i), int(j)), guided=True)
    assert np.count_nonzero(expected) > 10
    np.testing.assert_allclose(got, expected, atol=1e-14)
    plain, _ = unit_gradient(X, net, 3, int(c), position=(int(i), int(j)))
    assert np.any(plain < 0) and not np.allclose(plain, got)


def test_clip_small_norm_and_contribution_by_hand():
    x = np.zeros((1, 2, 1, 4))
    x[0, :, 0] = [[3.0, 0.0, 1.0, 0.5], [4.0, 1.0, 0.0, 0.0]]  # pixel norms 5, 1, 1, 0.5
    np.testing.assert_array_equal(clip_small_norm(x, 50)[0, :, 0], [[3.0, 0.0, 1.0, 0.0], [4.0, 1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(clip_small_norm(x, 0), x)
    grad = np.zeros_like(x)
    grad[0, :, 0] = [[0.0, 0.0, -4.0, 1.0], [0.1, 3.0, 0.0, 0.0]]  # |sum_c x*g| = 0.4, 3, 4, 0.5
    np.testing.assert_array_equal(clip_small_contribution(x, grad, 50)[0, :, 0],
                                  [[0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]])


def test_unit_visualization_first_step_and_ascent():
    net = two_conv_net()
    # one unregularised step from zero is a normalised gradient step (then the pixel-range clip)
    img, objective = unit_visualization(net, 3, 0, position=(1, 1), image_size=7, num_iterations=1,
                                        learning_rate=0.5, l2_decay=0, blur_every=0)
    net.forward(np.zeros((1, 3, 7, 7)))
    unit = np.zeros((1, 3, 3, 3))
    unit[0, 0, 1, 1] = 1
    g = net.backward(unit)
    assert np.any(g != 0), "the unit must be on for the mean image"
    lo, hi = _pixel_range(np.float64)
    np.testing.assert_allclose(img, np.clip(0.5 * g / np.linalg.norm(g), lo, hi), atol=1e-14)
    # with every regulariser on, the channel's mean activation still rises
    _, objective = unit_visualization(net, "features.3", 0, image_size=9, num_iterations=15, learning_rate=0.5,
                                      l2_decay=0.01, blur_every=4, norm_percentile=10, contribution_percentile=10)
    assert objective[-1] > objective[0] + 0.1
    # a unit that is off for the zero image cannot move: the caller is told
    dead = two_conv_net()
    dead[2].params["bias"][:] = -100.0
    with pytest.warns(RuntimeWarning, match="features.3 channel 1 is inactive for the start image"):
        _, objective = unit_visualization(dead, 3, 1, image_size=7, num_iterations=2, blur_every=0)
    assert np.all(objective == 0)


def test_occlusion_by_probability_by_hand():
    model, X, y = TinyNet(), up2(BLOCKS)[None], np.array([0])
    # scores (1, 9.5); zeroing block (i, j) removes its share of each score, (A0 - A1)/4 and (2 A0 + A1)/4
    # with A0 = [[2, 0], [0, 12]], A1 = [[1, 9], [0, 0]] (see test_vis_closed_form)
    s0 = 1.0 - np.array([[0.25, -2.25], [0.0, 3.0]])
    s1 = 9.5 - np.array([[1.25, 2.25], [0.0, 6.0]])
    expected = 1 / (1 + np.exp(s1 - s0))
    np.testing.assert_allclose(occlusion(X, y, model, window=2, stride=2, output="probability")[0], expected,
                               rtol=1e-12)


# -- bad input ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda net, X: layer_activations(net, X, "conv1"),
     r"no layer named 'conv1'; the layers are 'features.0' .. 'features.2'"),
    (lambda net, X: layer_activations(net, X, 3), r"layer must be an index of model.features, an integer in 0..2"),
    (lambda net, X: max_activating_patches(net, X, 2, 4), r"channel must be an integer in 0..3 \(features.2 has 4"),
    (lambda net, X: max_activating_patches(net, X, 2, 0, k=19), r"k = 19 is larger than the number of candidate "
                                                                r"units \(18: 2 image\(s\) x 3x3 positions\)"),
    (lambda net, X: max_activating_patches(net, X, 2, 0, k=3, per_image=True), r"k = 3 is larger .* \(2: 2 image"),
    (lambda net, X: unit_gradient(X, net, 2, 0, position=(3, 0)), r"position must be a pair .* map is 3x3"),
    (lambda net, X: unit_gradient(X, net, 2, -1), r"channel must be an integer in 0..3"),
    (lambda net, X: unit_visualization(net, 2, 0, image_size=12, learning_rate=0), "learning_rate must be"),
    (lambda net, X: unit_visualization(net, 2, 0, init="noise!"), "init must be 'zero' or 'noise'"),
    (lambda net, X: nearest_neighbours(X.reshape(2, -1), X.reshape(2, -1), k=2, exclude_self=True),
     r"k = 2 is larger than the 1 database rows"),
    (lambda net, X: nearest_neighbours(X.reshape(2, -1), X.reshape(2, -1), metric="l1"), "metric must be one of"),
    (lambda net, X: pca(X.reshape(2, -1), 3), r"n_components must be at most min\(N, D\) = 2"),
    (lambda net, X: filter_grid(np.zeros((4, 2, 3, 3))), "an RGB grid needs 3 input channels"),
    (lambda net, X: clip_small_norm(X, 101), "percentile must be"),
    (lambda net, X: layer_activations(net, np.full_like(X, np.nan), 0), "NaN"),
    (lambda net, X: occlusion(X, np.array([0, 1]), TinyNet(), window=2, output="prob"), "output must be one of"),
])
def test_bad_input_is_named(call, match):
    X = np.random.default_rng(9).standard_normal((2, 3, 12, 12))
    with pytest.raises((ValueError, TypeError), match=match):
        call(small_net(), X)


def test_image_folder_errors(tmp_path):
    with pytest.raises(ValueError, match=r"no images \(.jpg.*\) in"):
        max_activating_patches(small_net(), tmp_path, 2, 0)
    with pytest.raises(ValueError, match="is not a folder"):
        max_activating_patches(small_net(), tmp_path / "missing", 2, 0)


# -- the real network ---------------------------------------------------------------------------------------

def test_patches_of_sample_images_from_a_folder(model, imagenet_val, tmp_path):
    X_raw, _, _ = imagenet_val
    for n in range(3):
        Image.fromarray(X_raw[n]).save(tmp_path / f"img{n}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    got = max_activating_patches(model, tmp_path, 3, 100, k=4)
    assert got.field == receptive_field(model, 3, 100) == (15, 4, -4)
    assert got.patches.shape == (4, 3, 15, 15)
    X, paths = load_image_folder(tmp_path)
    assert [p.name for p in paths] == ["img0.png", "img1.png", "img2.png"]
    A = model.features.forward(X, 0, 4)[:, 100]
    assert got.values[0] == A.max()
    for value, n, (i, j) in zip(got.values, got.images, got.positions):
        assert A[n, i, j] == value


def test_activation_figures_write_pngs(tmp_path):
    from npnet.vis.figures import (activation_figure, embedding_figure, grid_figure, neighbours_figure,
                                   patches_figure)

    def size(path):
        with Image.open(path) as img:
            return img.size

    net = small_net()
    X = np.random.default_rng(10).standard_normal((4, 3, 12, 12))
    w = net[0].params["weight"]
    assert size(grid_figure(tmp_path / "g.png", filter_grid(w, upsample=4), width=4)) == (400, 410)
    assert size(activation_figure(tmp_path / "a.png", X[:1], activation_grid(net.forward(X[:1])[0]))) == (1200, 550)
    found = max_activating_patches(net, X, 2, 0, k=3)
    assert size(patches_figure(tmp_path / "p.png", [("c0", found), ("c1", found)])) == (510, 300)
    idx, _ = nearest_neighbours(X.reshape(4, -1), X.reshape(4, -1), k=2, exclude_self=True)
    assert size(neighbours_figure(tmp_path / "n.png", X, [0, 1], [("pixels", idx[:2])])) == (450, 340)
    Z, _, _ = pca(X.reshape(4, -1))
    assert size(embedding_figure(tmp_path / "e.png", Z, X, "pca", labels=list("abcd"))) == (900, 900)
    with pytest.raises(ValueError, match=r"embedding_figure: Z must be \(N, 2\) with N = 4"):
        embedding_figure(tmp_path / "bad.png", Z[:3], X)
    with pytest.raises(ValueError, match="grid_figure: grid must be an"):
        grid_figure(tmp_path / "bad.png", np.zeros(3))
    assert not (tmp_path / "bad.png").exists()
