"""Gradient checks of the recurrent layers, the temporal loss and the captioning model (float64)."""
import numpy as np

from npnet.layers import rnn as L
from npnet.models.captioning import CaptioningRNN

from .numeric import eval_numerical_gradient, rel_error
from .registry import layer_error, loss_error, register


def _recurrent(rng, gates, n=3, t=None, d=4, h=5):
    """Random inputs of a recurrent layer: x (N, D) or (N, T, D), a state (N, H), Wx, Wh, b."""
    x = rng.standard_normal((n, d) if t is None else (n, t, d))
    return [x, rng.standard_normal((n, h)), rng.standard_normal((d, gates * h)) / 2,
            rng.standard_normal((h, gates * h)) / 2, rng.standard_normal(gates * h)]


@register("rnn.step")
def _(rng):
    return layer_error(L.rnn_step_forward, L.rnn_step_backward, _recurrent(rng, 1), rng)


@register("rnn", threshold=1e-6)
def _(rng):
    return layer_error(L.rnn_forward, L.rnn_backward, _recurrent(rng, 1, t=6), rng)


@register("lstm.step")
def _(rng):
    x, prev_h, Wx, Wh, b = _recurrent(rng, 4)
    prev_c = rng.standard_normal(prev_h.shape)
    H = prev_h.shape[1]

    # Both outputs in one array, so one upstream gradient covers dnext_h and dnext_c.
    def forward(x, prev_h, prev_c, Wx, Wh, b):
        next_h, next_c, cache = L.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
        return np.concatenate([next_h, next_c], axis=1), cache

    def backward(dout, cache):
        return L.lstm_step_backward(dout[:, :H], dout[:, H:], cache)

    return layer_error(forward, backward, [x, prev_h, prev_c, Wx, Wh, b], rng)


@register("lstm", threshold=1e-5)
def _(rng):
    return layer_error(L.lstm_forward, L.lstm_backward, _recurrent(rng, 4, t=6), rng)


@register("word_embedding")
def _(rng):
    V, D = 5, 4
    # Repeated words, so the accumulation of np.add.at is exercised.
    x = rng.integers(V, size=(6, 3))
    return layer_error(lambda W: L.word_embedding_forward(x, W), L.word_embedding_backward,
                       [rng.standard_normal((V, D))], rng)


@register("temporal_affine")
def _(rng):
    return layer_error(L.temporal_affine_forward, L.temporal_affine_backward,
                       [rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)], rng)


@register("temporal_softmax_loss")
def _(rng):
    N, T, V = 5, 4, 6
    y = rng.integers(V, size=(N, T))
    mask = rng.random((N, T)) > 0.4
    return loss_error(L.temporal_softmax_loss, rng.standard_normal((N, T, V)), y, mask)


def _captioning_error(rng, cell_type):
    word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3, "dog": 4}
    model = CaptioningRNN(word_to_idx, input_dim=4, wordvec_dim=5, hidden_dim=6, cell_type=cell_type,
                          dtype=np.float64, rng=rng)
    # The course's initial scales (W_embed / 100) leave gradient entries near 1e-7, where the
    # numerical gradient's own error (~1e-11) dominates the relative error; unit-scale weights do not.
    for name, value in model.params.items():
        model.params[name] = 0.5 * rng.standard_normal(value.shape)
    features = rng.standard_normal((2, 4))
    captions = rng.integers(5, size=(2, 4))
    _, grads = model.loss(features, captions)
    worst = 0.0
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(features, captions)[0], param, verbose=False)
        worst = max(worst, rel_error(numeric, grads[name]))
    return worst


@register("captioning.rnn", threshold=1e-6)
def _(rng):
    return _captioning_error(rng, "rnn")


# Saturated LSTM gates leave some gradient entries near 1e-7, where the numerical error shows.
@register("captioning.lstm", threshold=1e-5)
def _(rng):
    return _captioning_error(rng, "lstm")
