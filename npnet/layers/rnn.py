"""Recurrent layers: vanilla RNN and LSTM (one step and a whole sequence), word embedding, and the
temporal (per-time-step) affine layer and softmax loss used by a captioning model.

Sequences are batch-major, ``(N, T, ...)``: N sequences of T time steps. Hidden states have size H,
inputs size D. Weights multiply from the right (``x @ Wx``), so ``Wx`` is (D, H) for an RNN and
(D, 4H) for an LSTM, exactly as in the CS231n assignment.

Vanilla RNN (Elman 1990): ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``.

LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000): the activation
vector ``a = x_t Wx + h_{t-1} Wh + b`` of size 4H holds the gates in the order i, f, o, g::

    i = sigmoid(a[:, 0:H])    f = sigmoid(a[:, H:2H])    o = sigmoid(a[:, 2H:3H])    g = tanh(a[:, 3H:4H])
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)
"""
import numpy as np

from .. import _check
from .activations import sigmoid
from ..errors import NpnetTypeError, NpnetValueError

__all__ = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
           "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
           "word_embedding_forward", "word_embedding_backward",
           "temporal_affine_forward", "temporal_affine_backward", "temporal_softmax_loss"]


def _recurrent_args(fn, x, prev, Wx, Wh, b, gates, x_layout):
    """Validate the arguments of a recurrent layer and cast them to the dtype of ``x``.

    ``prev`` is a list of (name, array) state inputs, each (N, H); ``gates`` is 1 for an RNN and 4 for
    an LSTM (the width of Wx, Wh and b is ``gates * H``). Returns ``x, [states...], Wx, Wh, b``.
    """
    x = _check.float_array(fn, "x", x, ndim=len(x_layout.split(",")), layout=x_layout)
    n, d = x.shape[0], x.shape[-1]
    states = []
    for name, s in prev:
        s = _check.float_array(fn, name, s, ndim=2, layout="(N, H)")
        _check.shape(fn, name, s, (n, states[0].shape[1] if states else None))
        states.append(s.astype(x.dtype, copy=False))
    h = states[0].shape[1]
    width = f"{gates}H" if gates > 1 else "H"
    Wx = _check.float_array(fn, "Wx", Wx, ndim=2, layout=f"(D, {width})")
    _check.shape(fn, "Wx", Wx, (d, gates * h))
    Wh = _check.float_array(fn, "Wh", Wh, ndim=2, layout=f"(H, {width})")
    _check.shape(fn, "Wh", Wh, (h, gates * h))
    b = _check.float_array(fn, "b", b, ndim=1, layout=f"({width},)")
    _check.shape(fn, "b", b, (gates * h,))
    cast = [a.astype(x.dtype, copy=False) for a in (Wx, Wh, b)]
    return (x, states, *cast)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a vanilla RNN, ``next_h = tanh(x @ Wx + prev_h @ Wh + b)``.

    Args:
        x: (N, D) inputs of this time step.
        prev_h: (N, H) hidden state of the previous time step.
        Wx: (D, H) input-to-hidden weights.
        Wh: (H, H) hidden-to-hidden weights.
        b: (H,) biases.
    Returns:
        next_h: (N, H), dtype of ``x``.
        cache: for :func:`rnn_step_backward`.
    """
    x, (prev_h,), Wx, Wh, b = _recurrent_args("rnn_step_forward", x, [("prev_h", prev_h)], Wx, Wh, b,
                                              gates=1, x_layout="(N, D)")
    # BEGIN SOLUTION
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    # END SOLUTION
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """Backward pass of :func:`rnn_step_forward`.

    Args:
        dnext_h: (N, H) gradient of the loss with respect to ``next_h``.
        cache: from :func:`rnn_step_forward`.
    Returns:
        dx: (N, D), dprev_h: (N, H), dWx: (D, H), dWh: (H, H), db: (H,).
    """
    _check.cache("rnn_step_backward", cache, 5)
    x, prev_h, Wx, Wh, next_h = cache
    dnext_h = _check.dout("rnn_step_backward", dnext_h, next_h.shape, x.dtype, "dnext_h")
    # BEGIN SOLUTION
    # tanh' = 1 - tanh^2, so the saved output is all the backward pass needs.
    da = dnext_h * (1 - next_h * next_h)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    # END SOLUTION
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """A vanilla RNN over whole sequences: the recurrence of :func:`rnn_step_forward` at each of the T
    time steps, with the arguments checked once for the whole sequence.

    Only the recurrent term ``h_{t-1} Wh`` has to wait for the previous step; the input term
    ``x_t Wx + b`` of every step is one matrix product over all N * T rows, far faster than T thin ones.

    Args:
        x: (N, T, D) input sequences.
        h0: (N, H) initial hidden state.
        Wx: (D, H), Wh: (H, H), b: (H,) as in :func:`rnn_step_forward`.
    Returns:
        h: (N, T, H) hidden states of every time step, dtype of ``x``.
        cache: for :func:`rnn_backward`.
    """
    x, (h0,), Wx, Wh, b = _recurrent_args("rnn_forward", x, [("h0", h0)], Wx, Wh, b,
                                          gates=1, x_layout="(N, T, D)")
    n, t_len, d = x.shape
    h = np.empty((n, t_len, h0.shape[1]), dtype=x.dtype)
    # BEGIN SOLUTION
    a_x = (x.reshape(n * t_len, d) @ Wx + b).reshape(n, t_len, -1)
    prev_h = h0
    for t in range(t_len):
        prev_h = h[:, t] = np.tanh(a_x[:, t] + prev_h @ Wh)
    # END SOLUTION
    return h, (x, h0, Wx, Wh, h)


def _previous_states(h0, h):
    """(N * T, H) rows of the state each time step started from: h0, h_1, ..., h_{T-1}."""
    return np.concatenate([h0[:, None], h[:, :-1]], axis=1).reshape(-1, h.shape[2])


def rnn_backward(dh, cache):
    """Backward pass of :func:`rnn_forward` (backpropagation through time).

    The loop over time carries only what is sequential (each step's activation gradient and the
    gradient reaching the previous state); the weights are shared by every step, so their gradients
    are sums over time, each one matrix product over all N * T rows.

    Args:
        dh: (N, T, H) upstream gradient of every hidden state (not including the gradient flowing
            from later time steps, which this function adds).
        cache: from :func:`rnn_forward`.
    Returns:
        dx: (N, T, D), dh0: (N, H), dWx: (D, H), dWh: (H, H), db: (H,).
    """
    _check.cache("rnn_backward", cache, 5)
    x, h0, Wx, Wh, h = cache
    n, t_len, d = x.shape
    dh = _check.dout("rnn_backward", dh, h.shape, x.dtype, "dh")
    # BEGIN SOLUTION
    da = np.empty_like(h)
    dprev_h = np.zeros_like(h0)
    for t in reversed(range(t_len)):
        # h_t feeds both the loss at step t and the state of step t + 1; tanh' = 1 - tanh^2.
        da[:, t] = (dh[:, t] + dprev_h) * (1 - h[:, t] * h[:, t])
        dprev_h = da[:, t] @ Wh.T
    dh0 = dprev_h
    da = da.reshape(n * t_len, -1)
    dx = (da @ Wx.T).reshape(x.shape)
    dWx = x.reshape(n * t_len, d).T @ da
    dWh = _previous_states(h0, h).T @ da
    db = da.sum(axis=0)
    # END SOLUTION
    return dx, dh0, dWx, dWh, db


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One time step of an LSTM; gates ordered i, f, o, g in the 4H activation vector.

    Args:
        x: (N, D) inputs of this time step.
        prev_h: (N, H) previous hidden state.
        prev_c: (N, H) previous cell state.
        Wx: (D, 4H) input-to-hidden weights.
        Wh: (H, 4H) hidden-to-hidden weights.
        b: (4H,) biases.
    Returns:
        next_h: (N, H), next_c: (N, H), both dtype of ``x``.
        cache: for :func:`lstm_step_backward`.
    """
    x, (prev_h, prev_c), Wx, Wh, b = _recurrent_args(
        "lstm_step_forward", x, [("prev_h", prev_h), ("prev_c", prev_c)], Wx, Wh, b,
        gates=4, x_layout="(N, D)")
    # BEGIN SOLUTION
    a = x @ Wx + prev_h @ Wh + b
    # END SOLUTION
    next_h, next_c, ifo, g, tanh_c = _lstm_cell(a, prev_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, ifo, g, tanh_c)


def _lstm_cell(a, prev_c):
    """The gates and states of one LSTM step from its activation vector (arguments not checked: the
    step and sequence functions call it with checked arrays).

    Args:
        a: (N, 4H) activations ``x Wx + prev_h Wh + b``, gates ordered i, f, o, g.
        prev_c: (N, H) previous cell state.
    Returns:
        next_h, next_c: (N, H); ifo: (N, 3H) the sigmoid gates i, f, o; g: (N, H); tanh_c: (N, H)
        ``tanh(next_c)`` (the last three are what :func:`_lstm_cell_backward` needs).
    """
    H = prev_c.shape[1]
    # BEGIN SOLUTION
    ifo = sigmoid(a[:, :3 * H])
    i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    # END SOLUTION
    return next_h, next_c, ifo, g, tanh_c


def _lstm_cell_backward(dnext_h, dnext_c, prev_c, ifo, g, tanh_c):
    """Backward pass of :func:`_lstm_cell`: ``(da (N, 4H), dprev_c (N, H))`` (arguments not checked)."""
    H = prev_c.shape[1]
    # BEGIN SOLUTION
    i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]
    # The cell state reaches the loss directly (dnext_c) and through next_h = o * tanh(c).
    dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)
    dsig = ifo * (1 - ifo)  # sigmoid' of the i, f, o gates
    da = np.empty((prev_c.shape[0], 4 * H), dtype=prev_c.dtype)
    da[:, :H] = dc * g * dsig[:, :H]
    da[:, H:2 * H] = dc * prev_c * dsig[:, H:2 * H]
    da[:, 2 * H:3 * H] = dnext_h * tanh_c * dsig[:, 2 * H:]
    da[:, 3 * H:] = dc * i * (1 - g * g)
    dprev_c = dc * f
    # END SOLUTION
    return da, dprev_c


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of :func:`lstm_step_forward`.

    Args:
        dnext_h: (N, H) gradient with respect to ``next_h``.
        dnext_c: (N, H) gradient with respect to ``next_c``.
        cache: from :func:`lstm_step_forward`.
    Returns:
        dx: (N, D), dprev_h: (N, H), dprev_c: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,).
    """
    fn = "lstm_step_backward"
    _check.cache("lstm_step_backward", cache, 8)
    x, prev_h, prev_c, Wx, Wh, ifo, g, tanh_c = cache
    dnext_h = _check.dout(fn, dnext_h, prev_h.shape, x.dtype, "dnext_h")
    dnext_c = _check.dout(fn, dnext_c, prev_c.shape, x.dtype, "dnext_c")
    da, dprev_c = _lstm_cell_backward(dnext_h, dnext_c, prev_c, ifo, g, tanh_c)
    # BEGIN SOLUTION
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    # END SOLUTION
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """An LSTM over whole sequences, starting from hidden state ``h0`` and a zero cell state; the
    arguments are checked once, and as in :func:`rnn_forward` the input term ``x_t Wx + b`` of every
    step is one matrix product.

    Args:
        x: (N, T, D) input sequences.
        h0: (N, H) initial hidden state.
        Wx: (D, 4H), Wh: (H, 4H), b: (4H,) as in :func:`lstm_step_forward`.
    Returns:
        h: (N, T, H) hidden states of every time step, dtype of ``x``.
        cache: for :func:`lstm_backward`.
    """
    x, (h0,), Wx, Wh, b = _recurrent_args("lstm_forward", x, [("h0", h0)], Wx, Wh, b,
                                          gates=4, x_layout="(N, T, D)")
    n, t_len, d = x.shape
    H = h0.shape[1]
    h = np.empty((n, t_len, H), dtype=x.dtype)
    # what _lstm_cell_backward needs at every step: the cell state each step starts from (c[:, 0] = 0)
    c = np.zeros((n, t_len + 1, H), dtype=x.dtype)
    ifo = np.empty((n, t_len, 3 * H), dtype=x.dtype)
    g, tanh_c = np.empty_like(h), np.empty_like(h)
    # BEGIN SOLUTION
    a_x = (x.reshape(n * t_len, d) @ Wx + b).reshape(n, t_len, -1)
    prev_h = h0
    for t in range(t_len):
        a = a_x[:, t] + prev_h @ Wh
        h[:, t], c[:, t + 1], ifo[:, t], g[:, t], tanh_c[:, t] = _lstm_cell(a, c[:, t])
        prev_h = h[:, t]
    # END SOLUTION
    return h, (x, h0, Wx, Wh, h, c, ifo, g, tanh_c)


def lstm_backward(dh, cache):
    """Backward pass of :func:`lstm_forward` (backpropagation through time); as in
    :func:`rnn_backward`, the weight gradients are one matrix product each over all time steps.

    Args:
        dh: (N, T, H) upstream gradient of every hidden state.
        cache: from :func:`lstm_forward`.
    Returns:
        dx: (N, T, D), dh0: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,).
    """
    _check.cache("lstm_backward", cache, 9)
    x, h0, Wx, Wh, h, c, ifo, g, tanh_c = cache
    n, t_len, d = x.shape
    dh = _check.dout("lstm_backward", dh, h.shape, x.dtype, "dh")
    # BEGIN SOLUTION
    da = np.empty((n, t_len, Wx.shape[1]), dtype=x.dtype)
    dprev_h = np.zeros_like(h0)
    dprev_c = np.zeros_like(h0)
    for t in reversed(range(t_len)):
        da[:, t], dprev_c = _lstm_cell_backward(dh[:, t] + dprev_h, dprev_c, c[:, t], ifo[:, t], g[:, t],
                                               tanh_c[:, t])
        dprev_h = da[:, t] @ Wh.T
    # The initial cell state is a constant zero, so the gradient reaching it (dprev_c) is dropped.
    dh0 = dprev_h
    da = da.reshape(n * t_len, -1)
    dx = (da @ Wx.T).reshape(x.shape)
    dWx = x.reshape(n * t_len, d).T @ da
    dWh = _previous_states(h0, h).T @ da
    db = da.sum(axis=0)
    # END SOLUTION
    return dx, dh0, dWx, dWh, db


def _indices(fn, name, idx, num, ndim_layout):
    """Return ``idx`` as an integer array of the given dims with every value in [0, num), or raise."""
    idx = np.asarray(idx)
    if not np.issubdtype(idx.dtype, np.integer):
        raise NpnetTypeError(f"{fn}: {name} must hold integer word indices; got dtype {idx.dtype}")
    ndim = len(ndim_layout.split(","))
    if idx.ndim != ndim:
        raise NpnetValueError(f"{fn}: {name} must have {ndim} dims {ndim_layout}; got shape {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise NpnetValueError(f"{fn}: {name} must lie in [0, {num}); got values from {idx.min()} to {idx.max()}")
    return idx


def word_embedding_forward(x, W):
    """Look up the vector of every word: ``out[n, t] = W[x[n, t]]``.

    Args:
        x: (N, T) integer word indices, each in [0, V).
        W: (V, D) word vectors, one row per vocabulary entry.
    Returns:
        out: (N, T, D), dtype of ``W``.
        cache: for :func:`word_embedding_backward`.
    """
    fn = "word_embedding_forward"
    W = _check.float_array(fn, "W", W, ndim=2, layout="(V, D)")
    x = _indices(fn, "x", x, W.shape[0], "(N, T)")
    # BEGIN SOLUTION
    out = W[x]
    # END SOLUTION
    return out, (x, W.shape, W.dtype)


def word_embedding_backward(dout, cache):
    """Backward pass of :func:`word_embedding_forward`: the gradient of the word vectors only.

    A word used several times receives the sum of the gradients of all its uses (``np.add.at``
    semantics; plain fancy-index assignment would keep only one of them).

    Args:
        dout: (N, T, D) upstream gradient.
        cache: from :func:`word_embedding_forward`.
    Returns:
        dW: (V, D).
    """
    _check.cache("word_embedding_backward", cache, 3)
    x, w_shape, dtype = cache
    dout = _check.dout("word_embedding_backward", dout, x.shape + (w_shape[1],), dtype)
    # BEGIN SOLUTION
    dW = np.zeros(w_shape, dtype=dtype)
    np.add.at(dW, x.ravel(), dout.reshape(-1, w_shape[1]))
    # END SOLUTION
    return dW


def temporal_affine_forward(x, w, b):
    """The same affine map at every time step: ``out[n, t] = x[n, t] @ w + b``.

    Args:
        x: (N, T, D) inputs.
        w: (D, M) weights.
        b: (M,) biases.
    Returns:
        out: (N, T, M), dtype of ``x``.
        cache: for :func:`temporal_affine_backward`.
    """
    fn = "temporal_affine_forward"
    x = _check.float_array(fn, "x", x, ndim=3, layout="(N, T, D)")
    w = _check.float_array(fn, "w", w, ndim=2, layout="(D, M)")
    _check.shape(fn, "w", w, (x.shape[2], None))
    b = _check.float_array(fn, "b", b, ndim=1, layout="(M,)")
    _check.shape(fn, "b", b, (w.shape[1],))
    w, b = w.astype(x.dtype, copy=False), b.astype(x.dtype, copy=False)
    n, t_len, d = x.shape
    # BEGIN SOLUTION
    # (N * T, D) rows in one matrix product: x @ w on the 3-D array would run N separate ones.
    out = (x.reshape(n * t_len, d) @ w).reshape(n, t_len, -1) + b
    # END SOLUTION
    return out, (x, w)


def temporal_affine_backward(dout, cache):
    """Backward pass of :func:`temporal_affine_forward`.

    Args:
        dout: (N, T, M) upstream gradient.
        cache: from :func:`temporal_affine_forward`.
    Returns:
        dx: (N, T, D), dw: (D, M), db: (M,).
    """
    _check.cache("temporal_affine_backward", cache, 2)
    x, w = cache
    n, t_len, d = x.shape
    dout = _check.dout("temporal_affine_backward", dout, (n, t_len, w.shape[1]), x.dtype)
    # BEGIN SOLUTION
    dx = (dout.reshape(n * t_len, -1) @ w.T).reshape(x.shape)
    dw = x.reshape(n * t_len, d).T @ dout.reshape(n * t_len, -1)
    db = dout.sum(axis=(0, 1))
    # END SOLUTION
    return dx, dw, db


def temporal_softmax_loss(x, y, mask, verbose=False):
    """Softmax cross-entropy at every time step, summed over time and averaged over the batch.

    ``loss = -(1/N) * sum_{n,t} mask[n, t] * log softmax(x[n, t])[y[n, t]]``; masked-out entries (the
    ``<NULL>`` padding of short captions) contribute neither loss nor gradient.

    Args:
        x: (N, T, V) scores.
        y: (N, T) integer targets, each in [0, V).
        mask: (N, T) booleans (or numbers that are all 0 or 1): which entries count.
        verbose: print the shape of the flattened gradient (as the course's version does).
    Returns:
        loss: scalar of the dtype of ``x``.
        dx: (N, T, V) gradient of the loss with respect to ``x``.
    """
    fn = "temporal_softmax_loss"
    x = _check.float_array(fn, "x", x, ndim=3, layout="(N, T, V)")
    _check.finite(fn, "x", x)
    n, t_len, v = x.shape
    y = _indices(fn, "y", y, v, "(N, T)")
    _check.shape(fn, "y", y, (n, t_len))
    mask = np.asarray(mask)
    _check.shape(fn, "mask", mask, (n, t_len))
    if not (mask.dtype == bool or np.issubdtype(mask.dtype, np.number)):
        raise NpnetTypeError(f"{fn}: mask must be a boolean or numeric array; got dtype {mask.dtype}")
    if mask.dtype != bool and not np.isin(mask, (0, 1)).all():
        raise NpnetValueError(f"{fn}: mask must hold only 0 and 1 (or booleans); got values such as "
                              f"{mask[~np.isin(mask, (0, 1))].ravel()[0].item()!r}")
    # BEGIN SOLUTION
    x_flat, y_flat = x.reshape(n * t_len, v), y.ravel()
    weight = mask.reshape(n * t_len).astype(x.dtype)
    shifted = x_flat - x_flat.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n * t_len)
    loss = -np.sum(weight * log_probs[rows, y_flat]) / n
    dx_flat = np.exp(log_probs)
    dx_flat[rows, y_flat] -= 1
    dx_flat *= weight[:, None] / n
    # END SOLUTION
    if verbose:
        print("dx_flat: ", dx_flat.shape)
    return x.dtype.type(loss), dx_flat.reshape(n, t_len, v)
