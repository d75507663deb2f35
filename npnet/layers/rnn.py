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
    """A vanilla RNN over whole sequences: :func:`rnn_step_forward` at each of the T time steps.

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
    n, t_len, _ = x.shape
    h = np.empty((n, t_len, h0.shape[1]), dtype=x.dtype)
    steps = []
    # BEGIN SOLUTION
    prev_h = h0
    for t in range(t_len):
        prev_h, step = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        steps.append(step)
    # END SOLUTION
    return h, (x.shape, steps)


def rnn_backward(dh, cache):
    """Backward pass of :func:`rnn_forward` (backpropagation through time).

    Args:
        dh: (N, T, H) upstream gradient of every hidden state (not including the gradient flowing
            from later time steps, which this function adds).
        cache: from :func:`rnn_forward`.
    Returns:
        dx: (N, T, D), dh0: (N, H), dWx: (D, H), dWh: (H, H), db: (H,).
    """
    _check.cache("rnn_backward", cache, 2)
    x_shape, steps = cache
    n, t_len, _ = x_shape
    dtype = steps[0][0].dtype
    dh = _check.dout("rnn_backward", dh, (n, t_len, steps[0][4].shape[1]), dtype, "dh")
    dx = np.empty(x_shape, dtype=dtype)
    # BEGIN SOLUTION
    dprev_h = np.zeros_like(dh[:, 0])
    dWx = dWh = db = 0
    for t in reversed(range(t_len)):
        # h_t feeds both the loss at step t and the state of step t + 1.
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, steps[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    dh0 = dprev_h
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
    H = prev_h.shape[1]
    # BEGIN SOLUTION
    a = x @ Wx + prev_h @ Wh + b
    ifo = sigmoid(a[:, :3 * H])
    i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    # END SOLUTION
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, ifo, g, tanh_c)


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
    H = prev_h.shape[1]
    # BEGIN SOLUTION
    i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]
    # The cell state reaches the loss directly (dnext_c) and through next_h = o * tanh(c).
    dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)
    da = np.empty((x.shape[0], 4 * H), dtype=x.dtype)
    dgates = np.concatenate([dc * g, dc * prev_c, dnext_h * tanh_c], axis=1)
    da[:, :3 * H] = dgates * ifo * (1 - ifo)
    da[:, 3 * H:] = dc * i * (1 - g * g)
    dprev_c = dc * f
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    # END SOLUTION
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """An LSTM over whole sequences, starting from hidden state ``h0`` and a zero cell state.

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
    n, t_len, _ = x.shape
    h = np.empty((n, t_len, h0.shape[1]), dtype=x.dtype)
    steps = []
    # BEGIN SOLUTION
    prev_h, prev_c = h0, np.zeros_like(h0)
    for t in range(t_len):
        prev_h, prev_c, step = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        steps.append(step)
    # END SOLUTION
    return h, (x.shape, steps)


def lstm_backward(dh, cache):
    """Backward pass of :func:`lstm_forward` (backpropagation through time).

    Args:
        dh: (N, T, H) upstream gradient of every hidden state.
        cache: from :func:`lstm_forward`.
    Returns:
        dx: (N, T, D), dh0: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,).
    """
    _check.cache("lstm_backward", cache, 2)
    x_shape, steps = cache
    n, t_len, _ = x_shape
    dtype = steps[0][0].dtype
    dh = _check.dout("lstm_backward", dh, (n, t_len, steps[0][1].shape[1]), dtype, "dh")
    dx = np.empty(x_shape, dtype=dtype)
    # BEGIN SOLUTION
    dprev_h = np.zeros_like(dh[:, 0])
    # The initial cell state is a constant zero, so the gradient reaching it is dropped.
    dprev_c = np.zeros_like(dprev_h)
    dWx = dWh = db = 0
    for t in reversed(range(t_len)):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t] + dprev_h, dprev_c,
                                                                             steps[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    dh0 = dprev_h
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
    # BEGIN SOLUTION
    out = x @ w + b
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
    dx = dout @ w.T
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
