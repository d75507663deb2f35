"""Gradient checks of the Transformer layers (float64): attention through causal, padding and random
masks, several heads, seeded dropout on the attention weights and the residual branches."""
import numpy as np

from npnet.layers import attention as A

from .registry import layer_error, register

_TRAIN = {"mode": "train", "p": 0.7, "seed": 3}


def _random_mask(rng, shape):
    """A random boolean mask in which every query row sees at least one key."""
    mask = rng.random(shape) < 0.6
    mask[..., 0] = True
    return mask


def _error_with_zero(forward, backward, inputs, rng, zero):
    """:func:`layer_error` over the inputs whose index is not in ``zero``; the gradients of those in
    ``zero`` must vanish instead (below 1e-8; a relative error cannot judge a true 0). The key bias is
    one: it adds the same ``q . bk`` to every score of a query row, which the softmax ignores."""
    out, cache = forward(*inputs)
    grads = backward(rng.standard_normal(out.shape), cache)
    if not max(np.abs(grads[i]).max() for i in zero) < 1e-8:  # NaN fails too
        return 1.0
    keep = [i for i in range(len(inputs)) if i not in zero]

    def forward_kept(*kept):
        args = list(inputs)
        for i, x in zip(keep, kept):
            args[i] = x
        return forward(*args)

    def backward_kept(dout, cache):
        g = backward(dout, cache)
        return tuple(g[i] for i in keep)

    return layer_error(forward_kept, backward_kept, [inputs[i] for i in keep], rng)


@register("attention.scaled_dot_product", threshold=1e-6)
def _(rng):
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)))
    return layer_error(A.scaled_dot_product_attention_forward, A.scaled_dot_product_attention_backward,
                       [q, k, v], rng)


@register("attention.scaled_dot_product.padding_mask_dropout", threshold=1e-6)
def _(rng):
    mask = _random_mask(rng, (2, 4, 6))
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)))
    return layer_error(lambda q, k, v: A.scaled_dot_product_attention_forward(q, k, v, mask, _TRAIN),
                       A.scaled_dot_product_attention_backward, [q, k, v], rng)


_BK = 6  # the index of bk among multihead_attention_forward's arrays


def _mha_inputs(rng, s=4, t=5, e=6):
    weights = []
    for _ in range(4):
        weights += [rng.standard_normal((e, e)) / np.sqrt(e), 0.1 * rng.standard_normal(e)]
    return [rng.standard_normal((2, s, e)), rng.standard_normal((2, t, e)), rng.standard_normal((2, t, e))] + weights


@register("attention.multihead", threshold=1e-6)
def _(rng):
    return _error_with_zero(lambda *a: A.multihead_attention_forward(*a, num_heads=3),
                            A.multihead_attention_backward, _mha_inputs(rng), rng, zero=(_BK,))


@register("attention.multihead.causal_dropout", threshold=1e-6)
def _(rng):
    mask = A.causal_mask(4)
    return _error_with_zero(lambda *a: A.multihead_attention_forward(*a, num_heads=2, attn_mask=mask,
                                                                     dropout_param=_TRAIN),
                            A.multihead_attention_backward, _mha_inputs(rng, t=4), rng, zero=(_BK,))


@register("attention.positional_encoding")
def _(rng):
    return layer_error(lambda x: A.positional_encoding_forward(x, _TRAIN), A.positional_encoding_backward,
                       [rng.standard_normal((2, 5, 6))], rng)


@register("attention.feedforward", threshold=1e-6)
def _(rng):
    e, f = 4, 7
    inputs = [rng.standard_normal((2, 3, e)), rng.standard_normal((e, f)), rng.standard_normal(f),
              rng.standard_normal((f, e)), rng.standard_normal(e)]
    return layer_error(lambda *a: A.feedforward_forward(*a, dropout_param=_TRAIN), A.feedforward_backward,
                       inputs, rng)


def decoder_layer_params(rng, e, f):
    """Random parameters of :func:`transformer_decoder_layer_forward` (unit-scale, so no gradient is tiny)."""
    shapes = {"W": (e, e), "b": (e,), "ffn.W1": (e, f), "ffn.b1": (f,), "ffn.W2": (f, e), "ffn.b2": (e,)}
    params = {}
    for name in A.DECODER_LAYER_PARAMS:
        if name.startswith("norm"):
            params[name] = (1.0 if name.endswith("gamma") else 0.0) + 0.3 * rng.standard_normal(e)
        else:
            params[name] = rng.standard_normal(shapes.get(name, shapes[name.split(".")[1][0]])) / np.sqrt(e)
    return params


def _decoder_error(rng, tgt_mask, dropout_param):
    e, f, names = 4, 6, A.DECODER_LAYER_PARAMS
    params = decoder_layer_params(rng, e, f)

    def forward(tgt, memory, *values):
        return A.transformer_decoder_layer_forward(tgt, memory, dict(zip(names, values)), 2, tgt_mask, dropout_param)

    def backward(dout, cache):
        dtgt, dmemory, grads = A.transformer_decoder_layer_backward(dout, cache)
        return (dtgt, dmemory) + tuple(grads[n] for n in names)

    inputs = [rng.standard_normal((2, 3, e)), rng.standard_normal((2, 2, e))] + [params[n] for n in names]
    zero = [2 + names.index(f"{a}.bk") for a in ("self_attn", "cross_attn")]
    return _error_with_zero(forward, backward, inputs, rng, zero)


@register("attention.decoder_layer", threshold=1e-5)
def _(rng):
    return _decoder_error(rng, A.causal_mask(3), None)


@register("attention.decoder_layer.dropout", threshold=1e-5)
def _(rng):
    return _decoder_error(rng, A.causal_mask(3), _TRAIN)


# Some entries of the self-attention key/query gradients are ~1e-7 while the array's largest is ~1e-3,
# so the numerical gradient's own error (~1e-11 absolute) shows as up to ~1e-4 relative (seeds 0-3).
@register("captioning.transformer", threshold=5e-4)
def _(rng):
    from npnet.models.transformer import CaptioningTransformer
    from .registry import model_error

    word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3, "dog": 4}
    model = CaptioningTransformer(word_to_idx, input_dim=3, wordvec_dim=4, num_heads=2, num_layers=2, max_length=5,
                                  dim_feedforward=6, dropout=0.0, dtype=np.float64, rng=rng)
    # Unit-scale weights: the course's N(0, 0.02) leaves gradients near the numerical error.
    for name, value in model.params.items():
        model.params[name] = (name.endswith("norm1.weight") or name.endswith("norm2.weight") or
                              name.endswith("norm3.weight")) + rng.standard_normal(value.shape) / 2
    captions = np.array([[1, 3, 4, 2, 0], [1, 4, 4, 3, 2]])
    # Exactly zero: every key bias (softmax ignores a shift of a row), and the cross-attention's query
    # and key, whose softmax over the single image token is always 1.
    zero = [n for n in model.params if n.endswith("attn.key.bias") or ".multihead_attn.query." in n
            or ".multihead_attn.key." in n]
    return model_error(model, rng.standard_normal((2, 3)), captions, zero=zero)
