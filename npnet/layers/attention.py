"""Transformer layers (Vaswani et al. 2017, "Attention Is All You Need"): scaled dot-product and
multi-head attention, sinusoidal positional encoding, the position-wise feed-forward block and a
(post-norm) Transformer decoder layer, each with its backward pass written out.

Sequences are batch-major, as in the CS231n Transformer captioning assignment: queries are (N, S, E),
keys and values (N, T, E), with E the embedding size split into H heads of E/H features. Projection
weights multiply from the right (``x @ W``, W of shape (E, E)), like :func:`temporal_affine_forward`.

Masks follow the course: ``attn_mask[i, j]`` false (0) means query i may NOT look at key j. A mask is
(S, T), shared by every sample (the causal mask of a decoder, :func:`causal_mask`), or (N, S, T), one
per sample (padding). A query row with every key masked has no attention distribution at all, so it
is refused instead of giving NaN.

Softmax backward. With ``A = softmax(scores)`` along the keys and an upstream ``dA``,

    dscores = A * (dA - sum_j(dA * A))

per query row (the Jacobian ``diag(A) - A A^T`` applied to ``dA``); a masked score has ``A = 0`` and so
gets no gradient, exactly as if it were a constant ``-inf``.
"""
import numpy as np

from .. import _check
from ..errors import NpnetValueError
from .activations import dropout_backward, dropout_forward, relu_backward, relu_forward
from .norm import layernorm_backward, layernorm_forward
from .rnn import temporal_affine_backward, temporal_affine_forward

__all__ = ["causal_mask", "scaled_dot_product_attention_forward", "scaled_dot_product_attention_backward",
           "multihead_attention_forward", "multihead_attention_backward", "positional_encoding",
           "positional_encoding_forward", "positional_encoding_backward", "feedforward_forward",
           "feedforward_backward", "transformer_decoder_layer_forward", "transformer_decoder_layer_backward",
           "DECODER_LAYER_PARAMS", "TORCH_NAMES"]


def causal_mask(t):
    """(T, T) boolean mask of a decoder: position i may attend to positions 0..i only (lower triangle)."""
    t = _check.positive_int("causal_mask", "t", t)
    return np.tril(np.ones((t, t), dtype=bool))


def _mask(fn, attn_mask, n, s, t):
    """``attn_mask`` as a boolean array broadcasting against (N, 1, S, T) scores, or None."""
    if attn_mask is None:
        return None
    mask = np.asarray(attn_mask)
    if mask.dtype != bool and not np.issubdtype(mask.dtype, np.number):
        raise NpnetValueError(f"{fn}: attn_mask must be boolean or 0/1 numbers; got dtype {mask.dtype}")
    if mask.shape not in ((s, t), (n, s, t)):
        raise NpnetValueError(f"{fn}: attn_mask must have shape (S, T) = ({s}, {t}) or (N, S, T) = ({n}, {s}, {t}); "
                              f"got {mask.shape}")
    mask = mask != 0
    blind = ~mask.any(axis=-1)
    if blind.any():
        raise NpnetValueError(f"{fn}: attn_mask hides every key from {int(blind.sum())} query row(s) (e.g. row "
                              f"{np.argwhere(blind)[0].tolist()}); each query must see at least one key")
    return mask[None, None] if mask.ndim == 2 else mask[:, None]


def _attention(q, k, v, mask, dropout_param):
    """Scaled dot-product attention of validated (N, H, S, d), (N, H, T, d), (N, H, T, dv) arrays and a
    broadcastable boolean mask (or None); returns ``out, (q, k, v, weights, drop_cache, scale)``."""
    scale = q.dtype.type(1 / np.sqrt(q.shape[-1]))
    # BEGIN SOLUTION
    scores = (q @ k.swapaxes(-1, -2)) * scale
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores -= scores.max(axis=-1, keepdims=True)  # every row keeps one finite score (checked)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    dropped, drop_cache = (weights, None) if dropout_param is None else dropout_forward(weights, dropout_param)
    out = dropped @ v
    # END SOLUTION
    return out, (q, k, v, weights, drop_cache, scale)


def _attention_backward(dout, cache):
    """Gradients (dq, dk, dv) of :func:`_attention` for an upstream (N, H, S, dv) gradient."""
    q, k, v, weights, drop_cache, scale = cache
    # BEGIN SOLUTION
    dropped = weights if drop_cache is None or drop_cache[0] is None else weights * drop_cache[0]
    dv = dropped.swapaxes(-1, -2) @ dout
    dweights = dout @ v.swapaxes(-1, -2)
    if drop_cache is not None:
        dweights = dropout_backward(dweights, drop_cache)
    dscores = weights * (dweights - (dweights * weights).sum(axis=-1, keepdims=True))
    dscores *= scale
    dq = dscores @ k
    dk = dscores.swapaxes(-1, -2) @ q
    # END SOLUTION
    return dq, dk, dv


def _dropout_param(fn, dropout_param):
    """None (no dropout) or the dict of :func:`dropout_forward` (``'mode'``, keep probability ``'p'``,
    optional ``'seed'``), checked here so that a typo fails before any work."""
    if dropout_param is None:
        return None
    return _check.params(fn, "dropout_param", dropout_param, required=("mode", "p"), defaults={"seed": None})


def scaled_dot_product_attention_forward(q, k, v, attn_mask=None, dropout_param=None):
    """Scaled dot-product attention, ``softmax(q k^T / sqrt(d) + mask) v`` (Vaswani et al. 2017, eq. 1).

    Each query takes a convex combination of the values, weighted by the softmax of its dot products
    with the keys. Dividing by sqrt(d) keeps the scores' variance near 1 for unit-variance inputs, so
    the softmax does not saturate as the head size grows.

    Args:
        q: (N, H, S, d) queries (H heads; a 3-D (N, S, d) array is one head).
        k: (N, H, T, d) keys.
        v: (N, H, T, dv) values.
        attn_mask: optional (S, T) or (N, S, T) boolean (or 0/1) array; false = may not attend.
        dropout_param: optional dict of :func:`dropout_forward` applied to the attention weights
            (``'p'`` is the KEEP probability; ``'seed'`` makes it reproducible).
    Returns:
        out: (N, H, S, dv), dtype of ``q``.
        cache: for :func:`scaled_dot_product_attention_backward`; ``cache[3]`` holds the (N, H, S, T)
        attention weights (before dropout), e.g. to plot them.
    """
    fn = "scaled_dot_product_attention_forward"
    q = _check.float_array(fn, "q", q, ndim=(3, 4), layout="(N, H, S, d)")
    lead = q.shape[:-2]
    k = _check.float_array(fn, "k", k, ndim=q.ndim, layout="(N, H, T, d)")
    _check.shape(fn, "k", k, lead + (None, q.shape[-1]))
    v = _check.float_array(fn, "v", v, ndim=q.ndim, layout="(N, H, T, dv)")
    _check.shape(fn, "v", v, lead + (k.shape[-2], None))
    k, v = k.astype(q.dtype, copy=False), v.astype(q.dtype, copy=False)
    mask = _mask(fn, attn_mask, q.shape[0], q.shape[-2], k.shape[-2])
    if mask is not None and q.ndim == 3:
        mask = mask[:, 0]
    return _attention(q, k, v, mask, _dropout_param(fn, dropout_param))


def scaled_dot_product_attention_backward(dout, cache):
    """Backward pass of :func:`scaled_dot_product_attention_forward`.

    Args:
        dout: (N, H, S, dv) upstream gradient.
        cache: from the forward pass.
    Returns:
        dq: (N, H, S, d), dk: (N, H, T, d), dv: (N, H, T, dv).
    """
    fn = "scaled_dot_product_attention_backward"
    _check.cache(fn, cache, 6)
    q, _, v = cache[:3]
    dout = _check.dout(fn, dout, q.shape[:-1] + v.shape[-1:], q.dtype)
    return _attention_backward(dout, cache)


def _split_heads(x, h):
    """(N, L, E) -> (N, H, L, E/H): head i takes features [i E/H, (i+1) E/H)."""
    n, length, e = x.shape
    return x.reshape(n, length, h, e // h).transpose(0, 2, 1, 3)


def _merge_heads(x):
    """(N, H, L, d) -> (N, L, H d), the inverse of :func:`_split_heads`."""
    n, h, length, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(n, length, h * d)


def multihead_attention_forward(query, key, value, Wq, bq, Wk, bk, Wv, bv, Wo, bo, num_heads, attn_mask=None,
                                dropout_param=None):
    """Multi-head attention (Vaswani et al. 2017, sec. 3.2.2), the CS231n ``MultiHeadAttention``.

    The queries, keys and values are projected to E features, split into ``num_heads`` heads of E/H
    features that attend independently (:func:`scaled_dot_product_attention_forward`, with dropout on
    the attention weights), merged back and projected once more::

        head_i = attention(query Wq_i, key Wk_i, value Wv_i)      out = concat(head_1..head_H) Wo + bo

    Self-attention passes one sequence as query, key and value; cross-attention takes keys and values
    from another (e.g. image features).

    Args:
        query: (N, S, E). key: (N, T, E). value: (N, T, E).
        Wq, Wk, Wv, Wo: (E, E) projections (``x @ W``; PyTorch stores their transposes).
        bq, bk, bv, bo: (E,) biases.
        num_heads: H, a divisor of E.
        attn_mask: optional (S, T) or (N, S, T); false = query may not attend to that key.
        dropout_param: optional dropout on the attention weights (see :func:`dropout_forward`).
    Returns:
        out: (N, S, E), dtype of ``query``.
        cache: for :func:`multihead_attention_backward`.
    """
    fn = "multihead_attention_forward"
    query = _check.float_array(fn, "query", query, ndim=3, layout="(N, S, E)")
    n, s, e = query.shape
    key = _check.float_array(fn, "key", key, ndim=3, layout="(N, T, E)")
    _check.shape(fn, "key", key, (n, None, e))
    value = _check.float_array(fn, "value", value, ndim=3, layout="(N, T, E)")
    _check.shape(fn, "value", value, key.shape)
    for name, w, b in (("q", Wq, bq), ("k", Wk, bk), ("v", Wv, bv), ("o", Wo, bo)):
        _check.shape(fn, f"W{name}", _check.float_array(fn, f"W{name}", w, ndim=2, layout="(E, E)"), (e, e))
        _check.shape(fn, f"b{name}", _check.float_array(fn, f"b{name}", b, ndim=1, layout="(E,)"), (e,))
    h = _check.positive_int(fn, "num_heads", num_heads)
    if e % h:
        raise NpnetValueError(f"{fn}: num_heads must divide the embedding size E = {e}; got {h}")
    mask = _mask(fn, attn_mask, n, s, key.shape[1])
    dropout_param = _dropout_param(fn, dropout_param)
    key, value = key.astype(query.dtype, copy=False), value.astype(query.dtype, copy=False)
    # BEGIN SOLUTION
    q, q_cache = temporal_affine_forward(query, Wq, bq)
    k, k_cache = temporal_affine_forward(key, Wk, bk)
    v, v_cache = temporal_affine_forward(value, Wv, bv)
    heads, attn_cache = _attention(_split_heads(q, h), _split_heads(k, h), _split_heads(v, h), mask, dropout_param)
    out, o_cache = temporal_affine_forward(_merge_heads(heads), Wo, bo)
    # END SOLUTION
    return out, (q_cache, k_cache, v_cache, attn_cache, o_cache)


def multihead_attention_backward(dout, cache):
    """Backward pass of :func:`multihead_attention_forward`.

    For self-attention (one sequence as query, key and value) its gradient is
    ``dquery + dkey + dvalue``.

    Args:
        dout: (N, S, E) upstream gradient.
        cache: from the forward pass.
    Returns:
        dquery (N, S, E), dkey (N, T, E), dvalue (N, T, E), dWq, dbq, dWk, dbk, dWv, dbv, dWo, dbo.
    """
    fn = "multihead_attention_backward"
    _check.cache(fn, cache, 5)
    q_cache, k_cache, v_cache, attn_cache, o_cache = cache
    h = attn_cache[0].shape[1]
    # BEGIN SOLUTION
    dheads, dWo, dbo = temporal_affine_backward(dout, o_cache)
    dq, dk, dv = _attention_backward(_split_heads(dheads, h), attn_cache)
    dquery, dWq, dbq = temporal_affine_backward(_merge_heads(dq), q_cache)
    dkey, dWk, dbk = temporal_affine_backward(_merge_heads(dk), k_cache)
    dvalue, dWv, dbv = temporal_affine_backward(_merge_heads(dv), v_cache)
    # END SOLUTION
    return dquery, dkey, dvalue, dWq, dbq, dWk, dbk, dWv, dbv, dWo, dbo


def positional_encoding(max_len, embed_dim, dtype=np.float64):
    """The sinusoidal position table of Vaswani et al. 2017 (sec. 3.5), in the course's form.

    ``pe[i, j] = sin(i * 10000^(-j / E))`` for even j and ``cos(i * 10000^(-(j - 1) / E))`` for odd j:
    each pair of features is a rotation at its own frequency, so a fixed offset between positions is
    a linear map of the encodings.

    Args:
        max_len: number of positions. embed_dim: E.
        dtype: of the table.
    Returns:
        pe: (max_len, E).
    """
    fn = "positional_encoding"
    max_len = _check.positive_int(fn, "max_len", max_len)
    e = _check.positive_int(fn, "embed_dim", embed_dim)
    dtype = _check.float_dtype(fn, dtype)
    # BEGIN SOLUTION
    j = np.arange(e)
    rate = 10000.0 ** (-(j - j % 2) / e)
    angles = np.arange(max_len)[:, None] * rate
    pe = np.where(j % 2 == 0, np.sin(angles), np.cos(angles))
    # END SOLUTION
    return pe.astype(dtype)


def positional_encoding_forward(x, dropout_param=None):
    """Add the positional encoding to a batch of sequences, then dropout (the course's ``PositionalEncoding``).

    Args:
        x: (N, S, E) embeddings.
        dropout_param: optional dict of :func:`dropout_forward`.
    Returns:
        out: (N, S, E), dtype of ``x``.
        cache: for :func:`positional_encoding_backward`.
    """
    fn = "positional_encoding_forward"
    x = _check.float_array(fn, "x", x, ndim=3, layout="(N, S, E)")
    dropout_param = _dropout_param(fn, dropout_param)
    # BEGIN SOLUTION
    out = x + positional_encoding(x.shape[1], x.shape[2], x.dtype)
    out, drop_cache = dropout_forward(out, dropout_param) if dropout_param is not None else (out, None)
    # END SOLUTION
    return out, (x.shape, x.dtype, drop_cache)


def positional_encoding_backward(dout, cache):
    """Backward pass of :func:`positional_encoding_forward`: the table is a constant, so only dropout acts.

    Returns:
        dx: (N, S, E).
    """
    fn = "positional_encoding_backward"
    _check.cache(fn, cache, 3)
    shape, dtype, drop_cache = cache
    dout = _check.dout(fn, dout, shape, dtype)
    # BEGIN SOLUTION
    dx = dout.copy() if drop_cache is None else dropout_backward(dout, drop_cache)
    # END SOLUTION
    return dx


def _sub_dropout(dropout_param, site):
    """The dropout of site ``site`` of a composite layer: its own seed (seed + site) when one is given,
    so no two sites drop the same pattern."""
    if dropout_param is None:
        return None
    sub = dict(dropout_param)
    if sub["seed"] is not None:
        sub["seed"] = (sub["seed"] + site) % 2**32
    return sub


def feedforward_forward(x, W1, b1, W2, b2, dropout_param=None):
    """The position-wise feed-forward block (Vaswani et al. 2017, eq. 2), with dropout on the hidden layer
    as in PyTorch's decoder layer: ``out = dropout(relu(x W1 + b1)) W2 + b2`` at every position.

    Args:
        x: (N, T, E). W1: (E, F), b1: (F,), W2: (F, E), b2: (E,).
        dropout_param: optional dict of :func:`dropout_forward` for the hidden layer.
    Returns:
        out: (N, T, E). cache: for :func:`feedforward_backward`.
    """
    fn = "feedforward_forward"
    x = _check.float_array(fn, "x", x, ndim=3, layout="(N, T, E)")
    e = x.shape[2]
    W1 = _check.float_array(fn, "W1", W1, ndim=2, layout="(E, F)")
    _check.shape(fn, "W1", W1, (e, None))
    f = W1.shape[1]
    for name, value, shape, layout in (("b1", b1, (f,), "(F,)"), ("W2", W2, (f, e), "(F, E)"), ("b2", b2, (e,), "(E,)")):
        _check.shape(fn, name, _check.float_array(fn, name, value, ndim=len(shape), layout=layout), shape)
    dropout_param = _dropout_param(fn, dropout_param)
    # BEGIN SOLUTION
    a, cache1 = temporal_affine_forward(x, W1, b1)
    hidden, relu_cache = relu_forward(a)
    hidden, drop_cache = dropout_forward(hidden, dropout_param) if dropout_param is not None else (hidden, None)
    out, cache2 = temporal_affine_forward(hidden, W2, b2)
    # END SOLUTION
    return out, (cache1, relu_cache, drop_cache, cache2)


def feedforward_backward(dout, cache):
    """Backward pass of :func:`feedforward_forward`.

    Returns:
        dx: (N, T, E), dW1: (E, F), db1: (F,), dW2: (F, E), db2: (E,).
    """
    _check.cache("feedforward_backward", cache, 4)
    cache1, relu_cache, drop_cache, cache2 = cache
    # BEGIN SOLUTION
    dhidden, dW2, db2 = temporal_affine_backward(dout, cache2)
    if drop_cache is not None:
        dhidden = dropout_backward(dhidden, drop_cache)
    da = relu_backward(dhidden, relu_cache)
    dx, dW1, db1 = temporal_affine_backward(da, cache1)
    # END SOLUTION
    return dx, dW1, db1, dW2, db2


_ATTN = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")
DECODER_LAYER_PARAMS = tuple(f"self_attn.{p}" for p in _ATTN) + tuple(f"cross_attn.{p}" for p in _ATTN) + (
    "ffn.W1", "ffn.b1", "ffn.W2", "ffn.b2",
    "norm1.gamma", "norm1.beta", "norm2.gamma", "norm2.beta", "norm3.gamma", "norm3.beta")


def _torch_names():
    """Each functional parameter's name in a PyTorch state_dict of the course's TransformerDecoderLayer."""
    names = {}
    for ours, theirs in (("self_attn", "self_attn"), ("cross_attn", "multihead_attn")):
        # the course's creation order: key, query, value, proj
        for w, b, linear in (("Wk", "bk", "key"), ("Wq", "bq", "query"), ("Wv", "bv", "value"), ("Wo", "bo", "proj")):
            names[f"{ours}.{w}"] = f"{theirs}.{linear}.weight"
            names[f"{ours}.{b}"] = f"{theirs}.{linear}.bias"
    names.update({"ffn.W1": "linear1.weight", "ffn.b1": "linear1.bias", "ffn.W2": "linear2.weight",
                  "ffn.b2": "linear2.bias"})
    for i in (1, 2, 3):
        names.update({f"norm{i}.gamma": f"norm{i}.weight", f"norm{i}.beta": f"norm{i}.bias"})
    return names


# Weights named W... are stored transposed there, (out, in), as nn.Linear keeps them.
TORCH_NAMES = _torch_names()


def _add_norm(x, sublayer_out, gamma, beta, dropout_param):
    """``layernorm(x + dropout(sublayer_out))`` over the last axis; returns ``out, cache``."""
    branch, drop_cache = ((sublayer_out, None) if dropout_param is None
                          else dropout_forward(sublayer_out, dropout_param))
    y, ln_cache = layernorm_forward((x + branch).reshape(-1, x.shape[-1]), gamma, beta, {})
    return y.reshape(x.shape), (drop_cache, ln_cache)


def _add_norm_backward(dout, cache):
    """Gradients (dx, dsublayer_out, dgamma, dbeta) of :func:`_add_norm`."""
    drop_cache, ln_cache = cache
    dsum, dgamma, dbeta = layernorm_backward(dout.reshape(-1, dout.shape[-1]), ln_cache)
    dsum = dsum.reshape(dout.shape)
    dbranch = dsum if drop_cache is None else dropout_backward(dsum, drop_cache)
    return dsum, dbranch, dgamma, dbeta


def transformer_decoder_layer_forward(tgt, memory, params, num_heads, tgt_mask=None, dropout_param=None):
    """One post-norm Transformer decoder layer (Vaswani et al. 2017, sec. 3.1; the course's and PyTorch's
    ``TransformerDecoderLayer``)::

        x = norm1(tgt + dropout(self_attn(tgt, tgt, tgt, tgt_mask)))      masked self-attention
        x = norm2(x + dropout(cross_attn(x, memory, memory)))              attend to the image
        out = norm3(x + dropout(ffn(x)))                                  feed-forward

    Args:
        tgt: (N, T, E) target sequence (caption embeddings).
        memory: (N, M, E) sequence to attend to (projected image features; M = 1 for one vector).
        params: dict with every name in :data:`DECODER_LAYER_PARAMS`: ``self_attn.Wq`` ... ``self_attn.bo``
            and ``cross_attn.*`` as in :func:`multihead_attention_forward`, ``ffn.W1`` (E, F),
            ``ffn.b1`` (F,), ``ffn.W2`` (F, E), ``ffn.b2`` (E,), ``norm{1,2,3}.gamma`` / ``.beta`` (E,).
        num_heads: heads of both attentions.
        tgt_mask: optional (T, T) or (N, T, T) mask of the self-attention (:func:`causal_mask`).
        dropout_param: optional dict of :func:`dropout_forward` used at all six dropout sites (attention
            weights of both attentions, the three residual branches and the feed-forward hidden layer),
            each with its own seed when a seed is given.
    Returns:
        out: (N, T, E). cache: for :func:`transformer_decoder_layer_backward`.
    """
    fn = "transformer_decoder_layer_forward"
    p = _check.params(fn, "params", params, required=DECODER_LAYER_PARAMS)
    dropout_param = _dropout_param(fn, dropout_param)
    tgt = _check.float_array(fn, "tgt", tgt, ndim=3, layout="(N, T, E)")
    memory = _check.float_array(fn, "memory", memory, ndim=3, layout="(N, M, E)")
    _check.shape(fn, "memory", memory, (tgt.shape[0], None, tgt.shape[2]))
    sa = [p[f"self_attn.{k}"] for k in _ATTN]
    ca = [p[f"cross_attn.{k}"] for k in _ATTN]
    d = [_sub_dropout(dropout_param, site) for site in range(6)]
    # BEGIN SOLUTION
    a, sa_cache = multihead_attention_forward(tgt, tgt, tgt, *sa, num_heads, tgt_mask, d[0])
    x, norm1_cache = _add_norm(tgt, a, p["norm1.gamma"], p["norm1.beta"], d[1])
    a, ca_cache = multihead_attention_forward(x, memory, memory, *ca, num_heads, None, d[2])
    x, norm2_cache = _add_norm(x, a, p["norm2.gamma"], p["norm2.beta"], d[3])
    a, ffn_cache = feedforward_forward(x, p["ffn.W1"], p["ffn.b1"], p["ffn.W2"], p["ffn.b2"], d[4])
    out, norm3_cache = _add_norm(x, a, p["norm3.gamma"], p["norm3.beta"], d[5])
    # END SOLUTION
    return out, (sa_cache, norm1_cache, ca_cache, norm2_cache, ffn_cache, norm3_cache)


def transformer_decoder_layer_backward(dout, cache):
    """Backward pass of :func:`transformer_decoder_layer_forward`.

    Returns:
        dtgt: (N, T, E), dmemory: (N, M, E), grads: dict with the keys of ``params``.
    """
    fn = "transformer_decoder_layer_backward"
    _check.cache(fn, cache, 6)
    sa_cache, norm1_cache, ca_cache, norm2_cache, ffn_cache, norm3_cache = cache
    tgt = sa_cache[0][0]  # the input of the query projection
    dout = _check.dout(fn, dout, tgt.shape, tgt.dtype)
    g = {}
    # BEGIN SOLUTION
    dx, da, g["norm3.gamma"], g["norm3.beta"] = _add_norm_backward(dout, norm3_cache)
    dffn_x, g["ffn.W1"], g["ffn.b1"], g["ffn.W2"], g["ffn.b2"] = feedforward_backward(da, ffn_cache)
    dx, da, g["norm2.gamma"], g["norm2.beta"] = _add_norm_backward(dx + dffn_x, norm2_cache)
    dq, dk, dv, *ca_grads = multihead_attention_backward(da, ca_cache)
    dmemory = dk + dv
    dx, da, g["norm1.gamma"], g["norm1.beta"] = _add_norm_backward(dx + dq, norm1_cache)
    dq, dk, dv, *sa_grads = multihead_attention_backward(da, sa_cache)
    dtgt = dx + dq + dk + dv
    # END SOLUTION
    g.update({f"cross_attn.{k}": v for k, v in zip(_ATTN, ca_grads)})
    g.update({f"self_attn.{k}": v for k, v in zip(_ATTN, sa_grads)})
    return dtgt, dmemory, g
