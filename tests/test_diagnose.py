"""The grader's diagnoses name the cause of a planted mistake, and never fire on a correct answer.

Each planted mistake is computed the way a student's wrong code would compute it (an unbiased
variance, a padding off by one, a backward without its variance path, a reduction over the wrong
axis, a test mode on batch statistics), against npnet's own layers as the right answer.
"""
import numpy as np
import pytest

from npnet import layers as L
from npnet.course import manifest
from npnet.course.assignments import layers as items
from npnet.course.assignments._configs import part_name
from npnet.course.diagnose import Alternative, Missing, diagnose


def _bn_inputs(rng, shape=(6, 4)):
    c = shape[1]
    return {"x": 3 + 2 * rng.standard_normal(shape), "gamma": 1 + 0.5 * rng.standard_normal(c),
            "beta": rng.standard_normal(c), "dout": rng.standard_normal(shape)}


def _norm_ddof1(x, gamma, beta, axes, eps=1e-5):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=1)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


@pytest.mark.parametrize("seed", range(5))
def test_unbiased_variance_is_named_with_its_group_size(seed):
    rng = np.random.default_rng(seed)
    i = _bn_inputs(rng)
    right, _ = L.batchnorm_forward(i["x"], i["gamma"], i["beta"], {"mode": "train"})
    wrong = _norm_ddof1(i["x"], i["gamma"], i["beta"], 0)
    words = diagnose(wrong, right, 1e-5, n=6)
    assert "unbiased variance (ddof=1" in words and "m = 6" in words and "0.9129 = sqrt((m-1)/m)" in words
    right, _ = L.layernorm_forward(i["x"], i["gamma"], i["beta"], {})
    words = diagnose(_norm_ddof1(i["x"], i["gamma"], i["beta"], 1, ), right, 1e-5, n=6)
    assert "unbiased variance" in words and "m = 4" in words
    x = rng.standard_normal((3, 2, 4, 5))
    g, b = 1 + 0.5 * rng.standard_normal(2), rng.standard_normal(2)
    right, _ = L.spatial_batchnorm_forward(x, g, b, {"mode": "train"})
    wrong = _norm_ddof1(x, g.reshape(1, 2, 1, 1), b.reshape(1, 2, 1, 1), (0, 2, 3))
    assert "m = 60" in diagnose(wrong, right, 1e-5, n=3)


def _conv(x, w, b, stride, pad):
    return L.conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})[0]


@pytest.mark.parametrize("seed", range(3))
def test_padding_off_by_one_is_named(seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    right = _conv(x, w, b, 1, 1)
    assert "a border too many (padded by pad + 1?" in diagnose(_conv(x, w, b, 1, 2), right)
    assert "padded too little" in diagnose(_conv(x, w, b, 1, 0), right)


def test_a_window_starting_one_pixel_off_is_named():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    right = _conv(x, w, b, 1, 1)
    # every window one row lower (xp[oh * stride + 1:...]): the last one reads a zero row past the padding
    wrong = _conv(np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 0))), w, b, 1, 1)[:, :, 1:]
    words = diagnose(wrong, right)
    assert "shifted by one pixel (the answer's [i, j] holds the right [i+1, j+0])" in words


def test_missing_variance_path_of_the_norm_backward_is_named():
    rng = np.random.default_rng(1)
    i = _bn_inputs(rng)
    out, cache = L.batchnorm_forward(i["x"], i["gamma"], i["beta"], {"mode": "train"})
    right = L.batchnorm_backward(i["dout"], cache)[0]
    xhat, inv_std = items._normalised(i["x"], (0,))
    dxhat = i["dout"] * i["gamma"]
    wrong = inv_std * (dxhat - dxhat.mean(axis=0))  # the mean path only
    terms = items._norm_terms(items._axes)(i)
    assert diagnose(wrong, right, 1e-5, factors=terms).startswith("the variance path of the backward")
    wrong = inv_std * (dxhat - xhat * (dxhat * xhat).mean(axis=0))  # the variance path only
    assert diagnose(wrong, right, 1e-5, factors=terms).startswith("the mean path of the backward")


def test_reductions_over_the_wrong_axes_are_named():
    rng = np.random.default_rng(2)
    dout = rng.standard_normal((5, 3))
    words = diagnose(dout.sum(axis=1), dout.sum(axis=0), upstream=dout)
    assert "the sum of the upstream gradient over axes (1,) instead of its sum over axes (0,)" in words
    d4 = rng.standard_normal((2, 3, 4, 5))
    words = diagnose(d4.sum(axis=(0, 2)), d4.sum(axis=(0, 2, 3)), upstream=d4)
    assert "over axes (0, 2) instead of its sum over axes (0, 2, 3)" in words
    # the normalisation statistics over the wrong axis: layer norm where batch norm is due
    i = _bn_inputs(rng)
    right, _ = L.batchnorm_forward(i["x"], i["gamma"], i["beta"], {"mode": "train"})
    wrong = i["gamma"] * items._normalised(i["x"], (1,))[0] + i["beta"]
    assert "normalised over axes (1,) instead of (0,)" in diagnose(wrong, right, 1e-5, factors=items._norm_terms(
        items._axes)(i))


def test_test_mode_on_batch_statistics_is_named():
    rng = np.random.default_rng(3)
    i = _bn_inputs(rng)
    param = {"mode": "test", "running_mean": rng.standard_normal(4), "running_var": rng.uniform(1, 2, 4)}
    right, _ = L.batchnorm_forward(i["x"], i["gamma"], i["beta"], param)
    wrong, _ = L.batchnorm_forward(i["x"], i["gamma"], i["beta"], {"mode": "train"})
    words = diagnose(wrong, right, 1e-5, factors=items._batch_statistics(i))
    assert words.startswith("test mode normalised with the batch's own mean and variance")


def test_named_causes_need_their_evidence():
    """A term or an alternative that does not explain the answer is not named."""
    rng = np.random.default_rng(4)
    r = rng.standard_normal((3, 4))
    s = r + 0.1 * rng.standard_normal((3, 4))
    terms = {Missing("a term", rng.standard_normal((3, 4))): "", Alternative("another answer", s + 1): ""}
    assert diagnose(s, r, factors=terms) is None
    assert diagnose(r - 0.5 * r, r, factors={Missing("a term", 0.5 * r): ""}).startswith("a term is missing")


def test_no_diagnosis_fires_on_a_correct_answer():
    """Every part of every layers item, over 40 seeds: the right answer (exactly, and computed another
    way to rounding) gets no diagnosis, with the item's own context (batch, upstream, terms)."""
    a = manifest.load("layers")
    checked = 0
    for seed in range(40):
        for k, item in enumerate(a.items):
            inputs = item.inputs(np.random.default_rng([seed, k]))
            out = {}
            item.run({n: np.copy(v) for n, v in inputs.items()}, out)
            other = {}
            if item.name == "conv_naive":  # the same answers computed by the fast convolution
                for j, config in enumerate(items.CONV_FAST[:len(items.CONV_SHAPES)]):
                    own = {}
                    config.run({n[3:]: np.copy(v) for n, v in inputs.items() if n.startswith(f"c{j}.")}, own)
                    other.update({part_name(p, config): v for p, v in own.items()})
                assert set(other) == set(out)
            factors = item.factors(inputs) if item.factors else None
            n = np.shape(inputs[item.batch])[0] if item.batch else None
            for part, value in out.items():
                upstream = inputs.get(item.upstream[part]) if part in item.upstream else None
                for student in (value, other.get(part, value),
                                np.asarray(value) * (1 + 1e-12 * np.random.default_rng(seed).standard_normal(
                                    np.shape(value)))):
                    assert diagnose(student, value, item.rtol, n=n, upstream=upstream, factors=factors) is None, \
                        (seed, item.name, part)
                    checked += 1
    assert checked > 5000
