"""Assignment ``rnn_captioning``: vanilla RNN and LSTM (step and sequence), word embedding, temporal
affine and softmax layers, and the CaptioningRNN's loss and greedy sampling (CS231n assignment 3)."""
import numpy as np

from npnet.course.assignments._configs import Config, configured
from npnet.course.manifest import Assignment, Item, layer_pair
from npnet.layers import losses, rnn
from npnet.models.captioning import CaptioningRNN

N, T, D, H, V, WORDS = 3, 4, 5, 6, 8, 4
VOCAB = {"<NULL>": 0, "<START>": 1, "<END>": 2, **{f"w{i}": i for i in range(3, V)}}
PARAMS = {"W_proj": (D, H), "b_proj": (H,), "W_embed": (V, WORDS), "Wx": (WORDS, H), "Wh": (H, H), "b": (H,),
          "W_vocab": (H, V), "b_vocab": (V,)}


def _step(gates):
    def inputs(rng):
        return {"x": rng.standard_normal((N, D)), "h": rng.standard_normal((N, H)), "c": rng.standard_normal((N, H)),
                "Wx": rng.standard_normal((D, gates * H)) / 2, "Wh": rng.standard_normal((H, gates * H)) / 2,
                "b": rng.standard_normal(gates * H), "dh": rng.standard_normal((N, H)),
                "dc": rng.standard_normal((N, H)),
                "xs": rng.standard_normal((N, T, D)), "dhs": rng.standard_normal((N, T, H))}
    return inputs


def _rnn_step(inputs, out):
    run = layer_pair(lambda *a: rnn.rnn_step_forward(*a), lambda *a: rnn.rnn_step_backward(*a),
                     ("x", "h", "Wx", "Wh", "b"), ("dx", "dprev_h", "dWx", "dWh", "db"), upstream="dh")
    run(inputs, out)


def _rnn_seq(inputs, out):
    run = layer_pair(lambda *a: rnn.rnn_forward(*a), lambda *a: rnn.rnn_backward(*a),
                     ("xs", "h", "Wx", "Wh", "b"), ("dx", "dh0", "dWx", "dWh", "db"), upstream="dhs")
    run(inputs, out)


def _lstm(inputs, out):
    args = [inputs[k] for k in ("x", "h", "c", "Wx", "Wh", "b")]
    out["step_h"], out["step_c"], cache = rnn.lstm_step_forward(*args)
    names = ("step_dx", "step_dprev_h", "step_dprev_c", "step_dWx", "step_dWh", "step_db")
    out.update(zip(names, rnn.lstm_step_backward(inputs["dh"], inputs["dc"], cache)))
    out["h"], cache = rnn.lstm_forward(inputs["xs"], inputs["h"], inputs["Wx"], inputs["Wh"], inputs["b"])
    out.update(zip(("dx", "dh0", "dWx", "dWh", "db"), rnn.lstm_backward(inputs["dhs"], cache)))


def _embedding(rng):
    # repeated words, so the backward must accumulate (np.add.at), not assign
    return {"x": rng.integers(0, V, (N, T)), "W": rng.standard_normal((V, WORDS)),
            "dout": rng.standard_normal((N, T, WORDS))}


def _temporal(rng, scale=1.0):
    y = rng.integers(0, V, (N, T))
    return {"x": rng.standard_normal((N, T, D)), "w": rng.standard_normal((D, V)), "b": rng.standard_normal(V),
            "dout": rng.standard_normal((N, T, V)), "scores": scale * rng.standard_normal((N, T, V)), "y": y,
            "mask": rng.random((N, T)) > 0.3}


def _softmax(inputs, out):
    out["loss"], out["dx"] = rnn.temporal_softmax_loss(inputs["scores"], inputs["y"], inputs["mask"])


def _classes(scale):
    return lambda rng: {"x": scale * rng.standard_normal((N * T, V)), "y": rng.integers(0, V, N * T)}


def _softmax_flat(inputs, out):
    out["loss"], out["dx"] = losses.softmax_loss(inputs["x"], inputs["y"])


# Scores of magnitude ~1000: exp overflows unless the largest score is subtracted first (numerical care
# the course asks for), and most probabilities underflow to exactly 0.
SOFTMAX = [Config("scores ~ 3", _classes(3.0), _softmax_flat, {"loss": 1, "dx": 1}),
           Config("scores of magnitude 1000", _classes(1000.0), _softmax_flat, {"loss": 1, "dx": 1})]
TEMPORAL_SOFTMAX = [Config("scores ~ 1, masked", _temporal, _softmax, {"loss": 1, "dx": 1}),
                    Config("scores of magnitude 1000, masked", lambda rng: _temporal(rng, 1000.0), _softmax,
                           {"loss": 1, "dx": 1})]


def _saturated_step(rng):
    """LSTM step inputs whose gate pre-activations reach +-50: the sigmoids saturate to 0 and 1."""
    inputs = _step(4)(rng)
    inputs["b"] = rng.choice([-50.0, 50.0], 4 * H) + rng.standard_normal(4 * H)
    return inputs


def _lstm_step(inputs, out):
    args = [inputs[k] for k in ("x", "h", "c", "Wx", "Wh", "b")]
    out["h"], out["c"], cache = rnn.lstm_step_forward(*args)
    out.update(zip(("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"),
                   rnn.lstm_step_backward(inputs["dh"], inputs["dc"], cache)))


def _captioning(rng):
    params = {k: rng.standard_normal(shape) / 2 for k, shape in PARAMS.items()}
    captions = rng.integers(3, V, (N, T + 1))
    captions[:, 0] = VOCAB["<START>"]
    captions[0, -2:] = VOCAB["<NULL>"]  # a shorter caption: masked targets
    return {"features": rng.standard_normal((N, D)), "captions": captions, **params}


def _model(inputs):
    model = CaptioningRNN(VOCAB, input_dim=D, wordvec_dim=WORDS, hidden_dim=H, cell_type="rnn", dtype=np.float64,
                          rng=np.random.default_rng(0))
    model.set_params({k: inputs[k] for k in PARAMS})
    return model


def _caption_loss(inputs, out):
    out["loss"], grads = _model(inputs).loss(inputs["features"], inputs["captions"])
    out["grads"] = np.concatenate([np.ravel(grads[k]) for k in sorted(PARAMS)])


def _sample(inputs, out):
    out["captions"] = _model(inputs).sample(inputs["features"], max_length=6)


ASSIGNMENT = Assignment(
    name="rnn_captioning",
    requires=("layers",),
    title="RNN captioning: RNN and LSTM layers, word embedding, temporal layers, CaptioningRNN",
    strip={
        "npnet/layers/rnn.py": ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
                                "lstm_step_forward", "lstm_step_backward", "_lstm_cell", "_lstm_cell_backward",
                                "lstm_forward", "lstm_backward", "word_embedding_forward", "word_embedding_backward",
                                "temporal_affine_forward", "temporal_affine_backward", "temporal_softmax_loss"),
        "npnet/models/captioning.py": ("CaptioningRNN.loss", "CaptioningRNN.sample"),
        # the same log-softmax as temporal_softmax_loss: shipped filled in, it would give that one away
        "npnet/layers/losses.py": ("softmax_loss",),
    },
    exercises=("rnn_captioning",),
    public_tests=("test_rnn.py", "test_captioning.py", "test_losses.py"),
    gradcheck=("rnn", "lstm", "word_embedding", "temporal_affine", "temporal_softmax_loss", "softmax_loss",
               "captioning"),
    items=(
        Item("rnn_step", {"out": 1, "dx": 1, "dprev_h": 1, "dWx": 1, "dWh": 1, "db": 1}, _step(1), _rnn_step,
             ("rnn_step_forward", "rnn_step_backward"), batch="x"),
        Item("rnn_sequence", {"out": 1, "dx": 1, "dh0": 1, "dWx": 1, "dWh": 1, "db": 1}, _step(1), _rnn_seq,
             ("rnn_forward", "rnn_backward"), batch="x"),
        Item("lstm", {"step_h": 1, "step_c": 1, "step_dx": 1, "step_dprev_h": 1, "step_dprev_c": 1, "step_dWx": 1,
                      "step_dWh": 1, "step_db": 1, "h": 1, "dx": 1, "dh0": 1, "dWx": 1, "dWh": 1, "db": 1},
             _step(4), _lstm, ("lstm_step_forward", "lstm_step_backward", "_lstm_cell", "_lstm_cell_backward",
                               "lstm_forward", "lstm_backward"), batch="x"),
        configured("lstm_saturated", [Config("gate pre-activations of magnitude ~50", _saturated_step, _lstm_step,
                                             {p: 1 for p in ("h", "c", "dx", "dprev_h", "dprev_c", "dWx", "dWh",
                                                             "db")})],
                   ("lstm_step_forward", "lstm_step_backward", "_lstm_cell", "_lstm_cell_backward"), batch="x"),
        Item("word_embedding", {"out": 1, "dW": 1}, _embedding,
             layer_pair(lambda *a: rnn.word_embedding_forward(*a), lambda *a: rnn.word_embedding_backward(*a),
                        ("x", "W"), ("dW",)),
             ("word_embedding_forward", "word_embedding_backward")),
        Item("temporal_affine", {"out": 1, "dx": 1, "dw": 1, "db": 1}, _temporal,
             layer_pair(lambda *a: rnn.temporal_affine_forward(*a), lambda *a: rnn.temporal_affine_backward(*a),
                        ("x", "w", "b"), ("dx", "dw", "db")),
             ("temporal_affine_forward", "temporal_affine_backward"), batch="x"),
        configured("temporal_softmax_loss", TEMPORAL_SOFTMAX, ("temporal_softmax_loss",), batch="scores"),
        configured("softmax_loss", SOFTMAX, ("softmax_loss",), batch="x"),
        Item("captioning_loss", {"loss": 2, "grads": 2}, _captioning, _caption_loss,
             ("CaptioningRNN.loss", "rnn_forward", "rnn_backward", "word_embedding_forward",
              "word_embedding_backward", "temporal_affine_forward", "temporal_affine_backward",
              "temporal_softmax_loss"), batch="features"),
        Item("captioning_sample", {"captions": 2}, _captioning, _sample,
             ("CaptioningRNN.sample", "rnn_step_forward")),
    ),
)
