"""Assignment ``transformer_captioning``: scaled dot-product and multi-head attention (forward and the
backward written out, through masks and heads), positional encoding, the feed-forward block, a
Transformer decoder layer, and the CaptioningTransformer's loss and greedy sampling (CS231n
assignment 3, Transformer_Captioning, with NumPy backward passes)."""
import numpy as np

from npnet.course.assignments._configs import Config, configured
from npnet.course.manifest import Assignment, Item, layer_pair
from npnet.layers import attention as A
from npnet.models.transformer import CaptioningTransformer

N, S, T, E, HEADS, F = 2, 4, 3, 6, 2, 5
VOCAB = {"<NULL>": 0, "<START>": 1, "<END>": 2, **{f"w{i}": i for i in range(3, 8)}}
ATTN = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")


def _mask(rng, s, t):
    """A random attention mask in which every query sees at least one key."""
    mask = rng.random((s, t)) < 0.6
    mask[np.arange(s), rng.integers(0, t, s)] = True
    return mask


def _attention_inputs(masked, scale=1.0):
    """q scaled by ``scale`` (1000: scores in the thousands, where exp overflows unless each row's maximum
    is subtracted first)."""
    def inputs(rng):
        out = {"q": scale * rng.standard_normal((N, HEADS, S, 3)), "k": rng.standard_normal((N, HEADS, T, 3)),
               "v": rng.standard_normal((N, HEADS, T, 2)), "dout": rng.standard_normal((N, HEADS, S, 2))}
        if masked:
            out["mask"] = _mask(rng, S, T)
        return out
    return inputs


def _attention_run(dropout):
    def run(inputs, out):
        param = {"mode": "train", "p": 0.7, "seed": 5} if dropout else None
        out["out"], cache = A.scaled_dot_product_attention_forward(inputs["q"], inputs["k"], inputs["v"],
                                                                   inputs.get("mask"), param)
        out["dq"], out["dk"], out["dv"] = A.scaled_dot_product_attention_backward(inputs["dout"], cache)
    return run


PARTS = {"out": 1, "dq": 1, "dk": 1, "dv": 1}
ATTENTION = [Config("no mask", _attention_inputs(False), _attention_run(False), PARTS),
             Config("random mask", _attention_inputs(True), _attention_run(False), PARTS),
             Config("random mask, dropout keep 0.7 (seed 5)", _attention_inputs(True), _attention_run(True), PARTS),
             Config("random mask, scores in the thousands", _attention_inputs(True, 1000.0), _attention_run(False),
                    PARTS)]


def _weights(rng, prefix=""):
    return {f"{prefix}{n}": rng.standard_normal((E, E)) / np.sqrt(E) if n[0] == "W" else 0.3 * rng.standard_normal(E)
            for n in ATTN}


def _mha_inputs(rng):
    return {"query": rng.standard_normal((N, S, E)), "kv": rng.standard_normal((N, S, E)),
            "dout": rng.standard_normal((N, S, E)), **_weights(rng)}


def _mha(inputs, out):
    args = [inputs[n] for n in ATTN]
    out["out"], cache = A.multihead_attention_forward(inputs["query"], inputs["kv"], inputs["kv"], *args, HEADS,
                                                      A.causal_mask(S))
    grads = A.multihead_attention_backward(inputs["dout"], cache)
    out["dquery"], out["dkv"] = grads[0], grads[1] + grads[2]
    out.update({f"d{n}": g for n, g in zip(ATTN, grads[3:])})


def _pe_inputs(rng):
    return {"x": rng.standard_normal((N, S, 7)), "dout": rng.standard_normal((N, S, 7))}


def _pe(inputs, out):
    out["pe"] = A.positional_encoding(9, 7)
    layer_pair(lambda x: A.positional_encoding_forward(x, {"mode": "train", "p": 0.8, "seed": 3}),
               lambda *a: A.positional_encoding_backward(*a), ("x",), ("dx",))(inputs, out)


def _ffn_inputs(rng):
    return {"x": rng.standard_normal((N, S, E)), "W1": rng.standard_normal((E, F)), "b1": rng.standard_normal(F),
            "W2": rng.standard_normal((F, E)), "b2": rng.standard_normal(E), "dout": rng.standard_normal((N, S, E))}


def _decoder_inputs(rng):
    p = {}
    for prefix in ("self_attn.", "cross_attn."):
        p.update(_weights(rng, prefix))
    p.update({"ffn.W1": rng.standard_normal((E, F)) / np.sqrt(E), "ffn.b1": rng.standard_normal(F),
              "ffn.W2": rng.standard_normal((F, E)) / np.sqrt(F), "ffn.b2": rng.standard_normal(E)})
    for i in (1, 2, 3):
        p[f"norm{i}.gamma"], p[f"norm{i}.beta"] = 1 + 0.3 * rng.standard_normal(E), 0.3 * rng.standard_normal(E)
    return {"tgt": rng.standard_normal((N, S, E)), "memory": rng.standard_normal((N, 2, E)),
            "dout": rng.standard_normal((N, S, E)), **p}


def _decoder_run(dropout):
    def run(inputs, out):
        params = {n: inputs[n] for n in A.DECODER_LAYER_PARAMS}
        out["out"], cache = A.transformer_decoder_layer_forward(inputs["tgt"], inputs["memory"], params, HEADS,
                                                                A.causal_mask(S), dropout)
        out["dtgt"], out["dmemory"], grads = A.transformer_decoder_layer_backward(inputs["dout"], cache)
        out["grads"] = np.concatenate([np.ravel(grads[n]) for n in A.DECODER_LAYER_PARAMS])
    return run


# with dropout each sublayer's output (not the residual) is dropped, and the mask and dropout arguments
# of the attention calls can no longer be swapped unseen
DECODER_PARTS = {"out": 1, "dtgt": 1, "dmemory": 1, "grads": 2}
DECODER_CONFIGS = [Config("no dropout", _decoder_inputs, _decoder_run(None), DECODER_PARTS),
                   Config("dropout keep 0.8 (seed 7)", _decoder_inputs,
                          _decoder_run({"mode": "train", "p": 0.8, "seed": 7}), DECODER_PARTS)]


def _ffn_run(dropout):
    def run(inputs, out):
        layer_pair(lambda *a: A.feedforward_forward(*a, dropout), lambda *a: A.feedforward_backward(*a),
                   ("x", "W1", "b1", "W2", "b2"), ("dx", "dW1", "db1", "dW2", "db2"))(inputs, out)
    return run


FFN_PARTS = {"out": 1, "dx": 1, "dW1": 1, "db1": 1, "dW2": 1, "db2": 1}
FFN_CONFIGS = [Config("no dropout", _ffn_inputs, _ffn_run(None), FFN_PARTS),
               Config("dropout keep 0.7 (seed 3)", _ffn_inputs, _ffn_run({"mode": "train", "p": 0.7, "seed": 3}),
                      FFN_PARTS)]


def _model(inputs=None, dropout=0.0):
    model = CaptioningTransformer(VOCAB, input_dim=4, wordvec_dim=E, num_heads=HEADS, num_layers=2, max_length=8,
                                  dim_feedforward=F, dropout=dropout, dtype=np.float64, rng=0)
    if inputs is not None:
        model.set_params({k: inputs[f"param:{k}"] for k in model.params})
    return model


def _captioning(rng):
    params = {f"param:{k}": (".norm" in k and k.endswith("weight")) + 0.5 * rng.standard_normal(v.shape)
              for k, v in _model().params.items()}
    captions = rng.integers(3, len(VOCAB), (N, 6))
    captions[:, 0] = VOCAB["<START>"]
    captions[0, -2:] = VOCAB["<NULL>"]  # a shorter caption: masked targets
    return {"features": rng.standard_normal((N, 4)), "captions": captions, **params}


def _caption_loss(inputs, out):
    model = _model(inputs)
    out["loss"], grads = model.loss(inputs["features"], inputs["captions"])
    out["grads"] = np.concatenate([np.ravel(grads[k]) for k in sorted(model.params)])


def _sample(inputs, out):
    """Greedy captions of the model as drawn, and of the same model with its <END> logit raised by 1, 1.7
    and 2.5 (so that captions end at several steps and the rest must be <NULL>). The model has dropout
    0.3: sampling runs in test mode."""
    model = _model(inputs, dropout=0.3)
    bias = model.params["output.bias"]
    captions = []
    for boost in (0.0, 1.0, 1.7, 2.5):
        model.params["output.bias"] = bias + boost * (np.arange(len(VOCAB)) == VOCAB["<END>"])
        captions.append(model.sample(inputs["features"], max_length=6))
    out["captions"] = np.concatenate(captions)


LAYERS = ("_attention", "_attention_backward")
MHA = LAYERS + ("multihead_attention_forward", "multihead_attention_backward")
FFN = ("feedforward_forward", "feedforward_backward")
DECODER = MHA + FFN + ("transformer_decoder_layer_forward", "transformer_decoder_layer_backward")
PE = ("positional_encoding", "positional_encoding_forward", "positional_encoding_backward")

ASSIGNMENT = Assignment(
    name="transformer_captioning",
    # rnn_captioning: the embedding, temporal affine and loss layers it builds on; classifiers: it owns
    # softmax_loss too, whose lines the filled-in temporal_softmax_loss repeats (so it must ship solved)
    requires=("layers", "rnn_captioning", "classifiers"),
    title="Transformer captioning: attention, multi-head attention, positional encoding, decoder layer, "
          "CaptioningTransformer",
    strip={
        "npnet/layers/attention.py": LAYERS + MHA[2:] + PE + FFN + DECODER[-2:],
        "npnet/models/transformer.py": ("CaptioningTransformer._forward", "CaptioningTransformer._backward",
                                        "CaptioningTransformer.sample"),
    },
    exercises=("transformer_captioning",),
    public_tests=("test_attention.py", "test_transformer.py"),
    gradcheck=("attention", "captioning.transformer"),
    items=(
        configured("attention", ATTENTION, LAYERS, batch="q"),
        Item("multihead_attention", {"out": 1, "dquery": 1, "dkv": 1, **{f"d{n}": 1 for n in ATTN}}, _mha_inputs,
             _mha, MHA, batch="query"),
        Item("positional_encoding", {"pe": 1, "out": 1, "dx": 1}, _pe_inputs, _pe, PE, batch="x"),
        configured("feedforward", FFN_CONFIGS, FFN, batch="x"),
        configured("decoder_layer", DECODER_CONFIGS, DECODER, batch="tgt"),
        Item("captioning_loss", {"loss": 2, "grads": 2}, _captioning, _caption_loss,
             DECODER + PE[1:] + ("CaptioningTransformer._forward", "CaptioningTransformer._backward"),
             batch="features"),
        Item("captioning_sample", {"captions": 2}, _captioning, _sample,
             DECODER[:4] + FFN + ("transformer_decoder_layer_forward", "positional_encoding",
                                  "positional_encoding_forward", "CaptioningTransformer._forward",
                                  "CaptioningTransformer.sample")),
    ),
)
