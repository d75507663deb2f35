"""Transformer layers: naive loops, hand-computed values, numerical gradients and the CS231n notebook's
published check values (tests/data/attention_reference.npz, made by tests/data/make_attention_reference.py)."""
import os

import numpy as np
import pytest

from npnet import nn
from npnet.errors import NpnetValueError
from npnet.layers import attention as A
from gradcheck.numeric import eval_numerical_gradient_array, rel_error
from gradcheck.registry import CHECKS, load_all, run_check



class _Reference:
    """tests/data/attention_reference.npz, loaded on first use (a student release ships no tests/data:
    the tests that need it skip there)."""

    def __getitem__(self, key):
        path = os.path.join(os.path.dirname(__file__), "data", "attention_reference.npz")
        if not os.path.isfile(path):
            pytest.skip("tests/data/attention_reference.npz is not here (a student release)")
        return np.load(path)[key]


REF = _Reference()


def naive_attention(q, k, v, mask=None, keep=None):
    """Attention one (sample, head, query) at a time, with an explicit softmax over the allowed keys."""
    n, h, s, d = q.shape
    out = np.zeros(q.shape[:3] + v.shape[-1:])
    for b in range(n):
        for j in range(h):
            for i in range(s):
                scores = np.array([q[b, j, i] @ k[b, j, t] / np.sqrt(d) for t in range(k.shape[2])])
                allowed = np.ones(len(scores), bool) if mask is None else (mask if mask.ndim == 2 else mask[b])[i]
                w = np.where(allowed, np.exp(scores - scores[allowed].max()), 0.0)
                w /= w.sum()
                if keep is not None:
                    w = w * keep[b, j, i]
                out[b, j, i] = sum(w[t] * v[b, j, t] for t in range(len(w)))
    return out


def naive_multihead(query, key, value, weights, h, mask=None):
    """Multi-head attention head by head with slices of the projections, then the output projection."""
    Wq, bq, Wk, bk, Wv, bv, Wo, bo = weights
    e = query.shape[2]
    d = e // h
    heads = []
    for j in range(h):
        cols = slice(j * d, (j + 1) * d)
        q = (query @ Wq[:, cols] + bq[cols])[:, None]
        k = (key @ Wk[:, cols] + bk[cols])[:, None]
        v = (value @ Wv[:, cols] + bv[cols])[:, None]
        heads.append(naive_attention(q, k, v, mask)[:, 0])
    return np.concatenate(heads, axis=2) @ Wo + bo


def _weights(rng, e):
    return [a for _ in range(4) for a in (rng.standard_normal((e, e)) / np.sqrt(e), rng.standard_normal(e))]


def test_attention_matches_naive_loops_with_masks():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 6, 2))
    out, _ = A.scaled_dot_product_attention_forward(q, k, v)
    assert rel_error(out, naive_attention(q, k, v)) < 1e-12
    mask = rng.random((2, 4, 6)) < 0.5
    mask[..., 2] = True
    out, cache = A.scaled_dot_product_attention_forward(q, k, v, mask)
    assert rel_error(out, naive_attention(q, k, v, mask)) < 1e-12
    assert np.all(cache[3][~np.broadcast_to(mask[:, None], cache[3].shape)] == 0)  # masked weights are 0
    assert np.allclose(cache[3].sum(axis=-1), 1)


def test_attention_dropout_is_seeded_and_scales_kept_weights():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((1, 2, 3, 4)), rng.standard_normal((1, 2, 5, 4)), rng.standard_normal((1, 2, 5, 3))
    param = {"mode": "train", "p": 0.6, "seed": 7}
    out1, cache = A.scaled_dot_product_attention_forward(q, k, v, None, param)
    out2, _ = A.scaled_dot_product_attention_forward(q, k, v, None, param)
    keep = cache[4][0]  # dropout's mask: 1/p for kept weights, 0 for dropped ones
    assert set(np.unique(keep)) == {0.0, 1 / 0.6}
    assert np.array_equal(out1, out2)
    assert rel_error(out1, naive_attention(q, k, v, keep=keep)) < 1e-12
    test_out, _ = A.scaled_dot_product_attention_forward(q, k, v, None, {"mode": "test", "p": 0.6})
    assert rel_error(test_out, naive_attention(q, k, v)) < 1e-12


def test_causal_mask_hides_the_future():
    assert np.array_equal(A.causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 4, 6))
    weights = _weights(rng, 6)
    out, _ = A.multihead_attention_forward(x, x, x, *weights, 2, A.causal_mask(4))
    changed = x.copy()
    changed[0, 3] += 5  # the last word: no earlier position may see it
    out2, _ = A.multihead_attention_forward(changed, changed, changed, *weights, 2, A.causal_mask(4))
    assert np.allclose(out[0, :3], out2[0, :3]) and not np.allclose(out[0, 3], out2[0, 3])


def test_multihead_matches_naive_per_head_loop():
    rng = np.random.default_rng(3)
    query, key = rng.standard_normal((2, 3, 6)), rng.standard_normal((2, 5, 6))
    weights = _weights(rng, 6)
    mask = np.ones((3, 5), bool)
    mask[0, 1:] = False
    for h in (1, 2, 3, 6):
        out, _ = A.multihead_attention_forward(query, key, key, *weights, h, mask)
        assert rel_error(out, naive_multihead(query, key, key, weights, h, mask)) < 1e-12


def test_softmax_is_stable_for_large_scores():
    q = np.full((1, 1, 2, 2), 1e4)
    k = np.array([[[[1e4, 1e4], [-1e4, -1e4]]]])
    out, _ = A.scaled_dot_product_attention_forward(q, k, np.eye(2)[None, None])
    assert np.allclose(out, [[[[1, 0], [1, 0]]]])


def test_positional_encoding_hand_values():
    pe = A.positional_encoding(3, 4)
    # columns: sin(i), cos(i), sin(i / 100), cos(i / 100) for E = 4 (10000^(-2/4) = 1/100)
    i = np.arange(3.0)
    assert np.allclose(pe, np.stack([np.sin(i), np.cos(i), np.sin(i / 100), np.cos(i / 100)], axis=1), atol=1e-15)
    x = np.zeros((2, 3, 4))
    out, _ = A.positional_encoding_forward(x)
    assert np.allclose(out, pe[None].repeat(2, axis=0))
    odd = A.positional_encoding(2, 3)  # an odd E ends with a sine
    assert np.isclose(odd[1, 2], np.sin(10000 ** (-2 / 3)))


def test_feedforward_matches_formula():
    rng = np.random.default_rng(4)
    x, W1, b1, W2, b2 = (rng.standard_normal(s) for s in ((2, 3, 4), (4, 7), (7,), (7, 4), (4,)))
    out, _ = A.feedforward_forward(x, W1, b1, W2, b2)
    assert rel_error(out, np.maximum(x @ W1 + b1, 0) @ W2 + b2) < 1e-12


@pytest.mark.parametrize("mask", [None, "causal"])
def test_decoder_layer_matches_its_definition(mask):
    from gradcheck.cases_attention import decoder_layer_params
    rng = np.random.default_rng(5)
    p = decoder_layer_params(rng, 4, 6)
    tgt, memory = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 2, 4))
    m = A.causal_mask(3) if mask else None
    out, _ = A.transformer_decoder_layer_forward(tgt, memory, p, 2, m)

    def norm(x, i):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * p[f"norm{i}.gamma"] + p[f"norm{i}.beta"]

    sa = [p[f"self_attn.{n}"] for n in ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")]
    ca = [p[f"cross_attn.{n}"] for n in ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")]
    x = norm(tgt + naive_multihead(tgt, tgt, tgt, sa, 2, m), 1)
    x = norm(x + naive_multihead(x, memory, memory, ca, 2), 2)
    x = norm(x + np.maximum(x @ p["ffn.W1"] + p["ffn.b1"], 0) @ p["ffn.W2"] + p["ffn.b2"], 3)
    assert rel_error(out, x) < 1e-10


def test_every_attention_gradient_check_passes():
    load_all()
    names = [n for n in CHECKS if n.startswith("attention.") or n == "captioning.transformer"]
    assert len(names) == 9
    for name in names:
        assert run_check(CHECKS[name]) < CHECKS[name].threshold, name


def test_gradient_checks_fail_on_a_broken_backward(monkeypatch):
    """The checks can fail: a softmax backward without the row-sum term, or without the scale."""
    load_all()
    real = A._attention_backward

    def no_row_sum(dout, cache):
        q, k, v, weights, drop_cache, scale = cache
        dscores = weights * (dout @ v.swapaxes(-1, -2)) * scale
        return dscores @ k, dscores.swapaxes(-1, -2) @ q, real(dout, cache)[2]

    def no_scale(dout, cache):
        dq, dk, dv = real(dout, cache)
        return dq / cache[5], dk / cache[5], dv

    for broken in (no_row_sum, no_scale):
        monkeypatch.setattr(A, "_attention_backward", broken)
        for name in ("attention.scaled_dot_product", "attention.multihead", "attention.decoder_layer"):
            assert run_check(CHECKS[name]) > 1e-3, (broken.__name__, name)


def test_bad_arguments_are_named():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 3, 4))
    weights = _weights(rng, 4)
    with pytest.raises(NpnetValueError, match="num_heads must divide"):
        A.multihead_attention_forward(x, x, x, *weights, 3)
    with pytest.raises(NpnetValueError, match="hides every key"):
        A.multihead_attention_forward(x, x, x, *weights, 2, np.array([[1, 0, 0], [0, 0, 0], [1, 1, 1]]))
    with pytest.raises(NpnetValueError, match=r"attn_mask must have shape \(S, T\)"):
        A.multihead_attention_forward(x, x, x, *weights, 2, np.ones((3, 4)))
    with pytest.raises(NpnetValueError, match="key must have shape"):
        A.multihead_attention_forward(x, x[..., :3], x, *weights, 2)
    with pytest.raises(NpnetValueError, match="dropout_param"):
        A.multihead_attention_forward(x, x, x, *weights, 2, dropout_param={"mode": "train", "keep": 0.5})


# --- the notebook's published values -------------------------------------------------------------

def _replay(monkeypatch, masks, keep_prob=0.9):
    """Make npnet's attention layers use ``masks`` (keep masks, in call order) as their dropout."""
    queue = list(masks)

    def replayed(x, param):
        mask = queue.pop(0).astype(x.dtype) / keep_prob
        return x * mask, (mask, x.shape, x.dtype)

    monkeypatch.setattr(A, "dropout_forward", replayed)
    return queue


def _course_weights():
    # PyTorch's nn.Linear stores (out, in); npnet multiplies from the right, so transpose.
    return [a for part in ("query", "key", "value", "proj")
            for a in (REF[f"mha_{part}_weight"].astype(np.float64).T, REF[f"mha_{part}_bias"].astype(np.float64))]


def test_multihead_attention_reproduces_the_notebook(monkeypatch):
    data, other = REF["mha_data"].astype(np.float64), REF["mha_other"].astype(np.float64)
    train = {"mode": "train", "p": 0.9}
    queue = _replay(monkeypatch, [REF[f"mha_dropout{i}"] for i in range(3)])
    out, _ = A.multihead_attention_forward(data, data, data, *_course_weights(), 2, None, train)
    assert rel_error(out, REF["mha_self_published"]) < 1e-3  # the notebook's tolerance
    out, _ = A.multihead_attention_forward(data, data, data, *_course_weights(), 2, REF["mha_mask"], train)
    assert rel_error(out, REF["mha_masked_published"]) < 1e-3
    out, _ = A.multihead_attention_forward(data, other, other, *_course_weights(), 2, None, train)
    assert rel_error(out, REF["mha_cross_published"]) < 1e-3
    assert not queue


def test_multihead_module_uses_the_course_state_dict(monkeypatch):
    attn = nn.MultiHeadAttention(8, 2, dtype=np.float64)
    assert list(attn.state_dict()) == [f"{p}.{w}" for p in ("key", "query", "value", "proj") for w in ("weight", "bias")]
    attn.load_state_dict({k: REF[f"mha_{k.replace('.', '_')}"] for k in attn.state_dict()})
    _replay(monkeypatch, [REF["mha_dropout1"]])
    data = REF["mha_data"].astype(np.float64)
    out = attn.train().forward(data, data, data, attn_mask=REF["mha_mask"])
    assert rel_error(out, REF["mha_masked_published"]) < 1e-3


def test_positional_encoding_reproduces_the_notebook(monkeypatch):
    _replay(monkeypatch, [REF["pe_dropout0"]])
    out, _ = A.positional_encoding_forward(REF["pe_x"].astype(np.float64), {"mode": "train", "p": 0.9})
    assert rel_error(out, REF["pe_published"]) < 1e-3


# --- modules ----------------------------------------------------------------------------------------

def _module_grads_error(module, inputs, backward_to_inputs):
    """Max relative error of a multi-input module's input and parameter gradients (float64)."""
    rng = np.random.default_rng(8)
    out = module.forward(*inputs)
    dout = rng.standard_normal(out.shape)
    grads = backward_to_inputs(module.backward(dout))
    errors = []
    for i, g in enumerate(grads):
        def f(xi, i=i):
            args = list(inputs)
            args[i] = xi
            return module.forward(*args)
        errors.append(rel_error(g, eval_numerical_gradient_array(f, inputs[i].copy(), dout)))
    analytic = dict(module.named_grads())
    for name, param in module.named_parameters():
        numeric = eval_numerical_gradient_array(lambda _: module.forward(*inputs), param, dout)
        if name.endswith("key.bias"):
            errors.append(0.0 if np.abs(analytic[name]).max() < 1e-8 else 1.0)
        else:
            errors.append(rel_error(analytic[name], numeric))
    return max(errors)


def test_multihead_module_gradients():
    rng = np.random.default_rng(9)
    attn = nn.MultiHeadAttention(6, 3, dropout=0.0, dtype=np.float64, rng=1)
    q, kv = rng.standard_normal((2, 3, 6)), rng.standard_normal((2, 4, 6))
    err = _module_grads_error(attn, [q, kv, kv.copy()], lambda g: g)
    assert err < 1e-6


def test_decoder_layer_module_gradients_and_names():
    rng = np.random.default_rng(10)
    layer = nn.TransformerDecoderLayer(4, 2, dim_feedforward=5, dropout=0.0, dtype=np.float64, rng=2)
    for name, value in layer.params.items():
        layer.params[name] = value + 0.3 * rng.standard_normal(value.shape)
    names = list(layer.state_dict())
    assert names[:2] == ["self_attn.key.weight", "self_attn.key.bias"] and "multihead_attn.proj.bias" in names
    assert layer.params["linear1.weight"].shape == (5, 4)
    tgt, memory = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 2, 4))
    err = _module_grads_error(layer, [tgt, memory], lambda g: g)
    assert err < 1e-5


def test_modules_drop_only_in_training():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 5, 8))
    pe = nn.PositionalEncoding(8, dropout=0.5, rng=0)
    assert np.allclose(pe.forward(x), x + A.positional_encoding(5, 8))
    dropped = pe.train().forward(x)
    assert 0 < np.mean(dropped == 0) < 1
    with pytest.raises(NpnetValueError, match="max_len"):
        nn.PositionalEncoding(8, max_len=4).forward(x)
