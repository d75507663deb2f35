"""Efros-Leung texture synthesis: the Numba matching loop equals the NumPy reference, a periodic sample
gives a result with the same period, results are copies of sample pixels and reproducible by seed,
and the CLI option."""
import numpy as np
import pytest
from PIL import Image

from npnet.cli import main
from npnet.errors import NpnetValueError
from npnet.style.efros_leung import (efros_leung, gaussian_window, match_candidates, window_distances,
                                     window_distances_naive)


def test_gaussian_window_hand_values():
    g = gaussian_window(3, sigma=1.0)
    assert g[1, 1] == 1 and g[0, 1] == pytest.approx(np.exp(-0.5)) and g[0, 0] == pytest.approx(np.exp(-1))
    assert gaussian_window(11)[5, 0] == pytest.approx(np.exp(-25 / (2 * (11 / 6.4) ** 2)))


def test_distance_of_one_known_pixel_by_hand():
    sample = np.arange(5 * 4 * 2, dtype=float).reshape(5, 4, 2)
    template = np.zeros((3, 3, 2))
    template[0, 2] = [1.0, 2.0]
    weight = np.zeros((3, 3))
    weight[0, 2] = 0.5  # only the top-right pixel is known: d(a, b) = ||S[a, b+2] - (1, 2)||^2
    d = window_distances(sample, template, weight)
    expected = ((sample[:3, 2:4] - [1.0, 2.0]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(d, expected)


def test_candidates_within_one_plus_eps_of_the_best():
    d = np.array([[2.0, 1.05, 1.2], [1.0, 1.1, 5.0]])
    np.testing.assert_array_equal(match_candidates(d, 0.1), [1, 3, 4])  # 1.05 and 1.1 <= 1.1; 1.2 is not
    np.testing.assert_array_equal(match_candidates(d, 0.0), [3])
    np.testing.assert_array_equal(match_candidates(d, 0.25), [1, 2, 3, 4])
    np.testing.assert_array_equal(match_candidates(np.array([0.0, 1e-12, 0.0]), 10.0), [0, 2])


@pytest.mark.parametrize("seed", range(5))
def test_numba_distances_equal_the_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    sample, template = rng.random((13, 11, 3)), rng.random((5, 5, 3))
    weight = gaussian_window(5) * (rng.random((5, 5)) < 0.6)
    weight[2, 1] = 0.3  # at least one known pixel
    np.testing.assert_allclose(window_distances(sample, template, weight),
                               window_distances_naive(sample, template, weight), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("seed", range(3))
def test_numba_synthesis_equals_the_numpy_reference(seed):
    sample = np.random.default_rng(seed).integers(0, 256, (10, 12, 3)).astype(np.uint8)
    fast = efros_leung(sample, (9, 11), window=5, seed=seed)
    naive = efros_leung(sample, (9, 11), window=5, seed=seed, kernel="naive")
    np.testing.assert_array_equal(fast, naive)


def _period_holds(out, pi, pj):
    return np.array_equal(out[pi:], out[:-pi]) and np.array_equal(out[:, pj:], out[:, :-pj])


@pytest.mark.parametrize("seed", range(3))
def test_a_periodic_sample_gives_its_period(seed):
    # every known neighbourhood is a piece of the periodic pattern, so the best matches are exact
    # (distance 0) and only they are within (1 + eps) * 0: the result repeats with the sample's period
    rng = np.random.default_rng(seed)
    tile = rng.integers(0, 256, (4, 5, 3)).astype(np.uint8)
    sample = np.tile(tile, (5, 4, 1))
    out = efros_leung(sample, (17, 19), window=5, seed=seed)
    assert _period_holds(out, 4, 5)
    # a control: a sample with no period gives a result with none
    assert not _period_holds(efros_leung(rng.integers(0, 256, (20, 20, 3)).astype(np.uint8), (17, 19),
                                         window=5, seed=seed), 4, 5)


def test_pixels_are_copies_and_the_seed_decides():
    sample = np.random.default_rng(7).integers(0, 256, (14, 14, 3)).astype(np.uint8)
    a = efros_leung(sample, 12, window=5, seed=1)
    assert a.dtype == np.uint8 and a.shape == (12, 12, 3)
    colours = {tuple(p) for p in sample.reshape(-1, 3)}
    assert all(tuple(p) in colours for p in a.reshape(-1, 3))
    np.testing.assert_array_equal(a, efros_leung(sample, 12, window=5, seed=1))
    assert not np.array_equal(a, efros_leung(sample, 12, window=5, seed=2))


def test_float_samples_keep_their_dtype():
    sample = np.random.default_rng(3).random((8, 8, 1))
    out = efros_leung(sample, 6, window=3, seed=0)
    assert out.dtype == np.float64 and np.isin(out, sample).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(window=4), "window must be odd, >= 3 and at most the sample's shorter side"),
    (dict(window=13), "window must be odd, >= 3 and at most the sample's shorter side"),
    (dict(window=1), "window must be odd, >= 3"),
    (dict(size=2), "the result must be at least 3x3"),
    (dict(kernel="fast"), "kernel must be one of"),
    (dict(eps=-1), "eps must be"),
])
def test_bad_arguments_name_the_function(kwargs, message):
    sample = np.zeros((10, 12, 3), np.uint8)
    with pytest.raises(NpnetValueError, match="^efros_leung: " + message):
        efros_leung(sample, **{"size": 8, "window": 5, **kwargs})


def test_cli_method_efros_leung(tmp_path, capsys):
    sample = np.tile(np.random.default_rng(0).integers(0, 256, (6, 6, 3)).astype(np.uint8), (4, 4, 1))
    Image.fromarray(sample).save(tmp_path / "tile.png")
    out = tmp_path / "el.png"
    assert main(["texture", str(tmp_path / "tile.png"), "--method", "efros-leung", "--size", "24", "--style-size",
                 "24", "--window", "7", "--quiet", "-o", str(out)]) == 0
    assert "a 24x24 texture in" in capsys.readouterr().out
    result = np.asarray(Image.open(out))
    assert result.shape == (24, 24, 3) and _period_holds(result, 6, 6)
    assert (tmp_path / "el_figure.png").stat().st_size > 5000
    assert main(["texture", str(tmp_path / "tile.png"), "--method", "efros-leung", "--window", "8"]) == 1
    assert capsys.readouterr().err == "npnet texture: error: --window must be an odd number >= 3; got 8\n"
