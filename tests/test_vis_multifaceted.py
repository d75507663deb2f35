"""Multifaceted visualisation: k-means (k-means++ seeding) on points with known clusters, the assignment
against loops, the centre-biased mask by hand and its effect (the border keeps the start image), the
facets of a class on the ImageNet sample, and the CLI."""
import numpy as np
import pytest

from conftest import require_data
from npnet.cli import main
from npnet.errors import NpnetValueError
from npnet.vis.multifaceted import (assign_naive, centre_mask, class_facets, facet_visualization, kmeans,
                                    kmeans_plus_plus)
from npnet.vis.multifaceted import _squared_distances


def _blobs(rng, centres, n=20, spread=0.1):
    X = np.concatenate([c + spread * rng.standard_normal((n, len(c))) for c in centres])
    return X, np.repeat(np.arange(len(centres)), n)


@pytest.mark.parametrize("seed", range(5))
def test_kmeans_finds_separated_clusters_and_their_means(seed):
    rng = np.random.default_rng(seed)
    X, truth = _blobs(rng, np.array([[0.0, 0, 0], [5, 0, 0], [0, 5, 0], [0, 0, 5]]))
    centres, labels, inertia = kmeans(X, 4, seed=seed)
    # the same partition (cluster numbers may differ)
    pairs = set(zip(truth.tolist(), labels.tolist()))
    assert len(pairs) == 4 and len({a for a, _ in pairs}) == len({b for _, b in pairs}) == 4
    for t, j in pairs:
        np.testing.assert_allclose(centres[j], X[truth == t].mean(axis=0), rtol=0, atol=1e-12)
    assert inertia == pytest.approx(sum(np.sum((X[truth == t] - X[truth == t].mean(0)) ** 2) for t in range(4)))


def test_lloyd_moves_centres_from_a_poor_start():
    # k-means++'s first draw inside the big blob and a 2-cluster split of 3 blobs: the update step must
    # still end at a fixed point where every centre is the mean of its points
    rng = np.random.default_rng(3)
    X, _ = _blobs(rng, np.array([[0.0, 0], [1, 0], [10, 0]]), n=30, spread=0.3)
    centres, labels, _ = kmeans(X, 2, seed=0)
    for j in range(2):
        np.testing.assert_allclose(centres[j], X[labels == j].mean(axis=0), atol=1e-12)
    np.testing.assert_array_equal(labels, assign_naive(X, centres))


def test_assignment_matches_loops():
    rng = np.random.default_rng(4)
    X, C = rng.standard_normal((50, 7)), rng.standard_normal((5, 7))
    np.testing.assert_array_equal(_squared_distances(X, C).argmin(1), assign_naive(X, C))
    np.testing.assert_allclose(_squared_distances(X, C), ((X[:, None] - C[None]) ** 2).sum(-1), atol=1e-12)


def test_kmeans_plus_plus_never_repeats_a_chosen_point():
    distinct = np.array([[0.0, 0], [1, 0], [0, 1], [3, 3]])
    X = np.repeat(distinct, 10, axis=0)
    for seed in range(10):
        centres = kmeans_plus_plus(X, 4, seed=seed)
        assert len({tuple(c) for c in centres}) == 4
    np.testing.assert_array_equal(kmeans_plus_plus(X, 3, seed=1), kmeans_plus_plus(X, 3, seed=1))
    with pytest.raises(NpnetValueError, match="^kmeans: k must be"):
        kmeans(X, 41)


def test_centre_mask_by_hand():
    m0 = centre_mask((8, 6), 0, 10, start_fraction=0.5, grow_fraction=0.8)
    expected = np.zeros((8, 6))
    expected[2:6, 1:4] = 1  # 4 of 8 rows, 3 of 6 columns, centred
    np.testing.assert_array_equal(m0, expected)
    assert centre_mask((8, 6), 8, 10, 0.5, 0.8).all() and centre_mask((8, 6), 9, 10, 0.5, 0.8).all()
    m4 = centre_mask((8, 8), 4, 10, 0.5, 0.8)  # halfway: 0.75 of the side, the middle 6 rows and columns
    assert m4.sum() == 36 and m4[1:7, 1:7].all()


@pytest.fixture(scope="module")
def sample64(imagenet_val):
    from npnet.image import preprocess
    X_raw, y, _ = imagenet_val
    return np.concatenate([preprocess(img, 64) for img in X_raw]), y


def test_centre_bias_leaves_the_border_at_the_start_image(model, sample64):
    X, _ = sample64
    init = X[:1].copy()
    common = dict(num_iterations=1, blur_every=1, max_jitter=0, learning_rate=5, seed=0)
    biased = facet_visualization(231, model, init, start_fraction=0.5, **common)
    free = facet_visualization(231, model, init, centre_bias=False, **common)
    inside = centre_mask((64, 64), 0, 1, 0.5).astype(bool)
    np.testing.assert_array_equal(biased[..., ~inside], init[..., ~inside])
    np.testing.assert_array_equal(biased[..., inside], free[..., inside])
    assert np.abs(free[..., ~inside] - init[..., ~inside]).max() > 1e-3
    np.testing.assert_array_equal(init, X[:1])  # the start image is not modified
    # the class score rises from the facet's start
    assert model.forward(free)[0, 231] > model.forward(init)[0, 231]


def test_class_facets_pool_clusters_and_means(model, sample64):
    X, y = sample64
    f = class_facets(231, model, X, k=3, pool_size=8, seed=0)
    scores = model.forward(X).astype(np.float64)
    p = np.exp(scores - scores.max(1, keepdims=True))
    p = p[:, 231] / p.sum(1)
    np.testing.assert_array_equal(f.pool, np.argsort(-p, kind="stable")[:8])
    np.testing.assert_allclose(f.probabilities, p[f.pool], rtol=1e-5)
    assert f.labels[0] == 0 and set(f.labels.tolist()) == {0, 1, 2}
    for j in range(3):
        np.testing.assert_allclose(f.means[j], X[f.pool[f.labels == j]].mean(0, keepdims=True), rtol=1e-6)
    assert 231 in y[f.pool[:3]]  # at 64 px the collie photo is among the three most collie-like images


def test_classviz_facets_arguments_are_checked_first(capsys):
    assert main(["classviz", "--facets", "11", "--pool-size", "10"]) == 1
    assert capsys.readouterr().err == "npnet classviz: error: --facets must be in 1..10; got 11\n"
    assert main(["classviz", "--facets", "2", "--size", "8"]) == 1
    assert "--size must be at least 17; got 8" in capsys.readouterr().err


def test_classviz_facets_writes_the_grid(tmp_path, weights_path, capsys):
    require_data("imagenet/imagenet_val_25.npz")
    out = tmp_path / "facets.png"
    assert main(["classviz", "--classes", "collie", "--facets", "2", "--pool-size", "4", "--size", "48",
                 "--iterations", "2", "--quiet", "--weights", str(weights_path), "-o", str(out)]) == 0
    assert "231 collie: facets of" in capsys.readouterr().out
    assert out.stat().st_size > 5000
