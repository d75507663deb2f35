"""Recurrent layers: the values printed by CS231n's RNN/LSTM captioning notebooks, plus checks of our own.

The expected arrays below are the numbers the course's notebooks (RNN_Captioning.ipynb,
LSTM_Captioning.ipynb) print for their deterministic np.linspace set-ups; the set-ups are reproduced
exactly. Gradients are checked by the gradcheck registry (gradcheck/cases_rnn.py).
"""
import numpy as np
import pytest

from gradcheck import eval_numerical_gradient_array, rel_error
from npnet.layers import (lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward, rnn_backward,
                          rnn_forward, rnn_step_backward, rnn_step_forward, temporal_affine_backward,
                          temporal_affine_forward, temporal_softmax_loss, word_embedding_backward,
                          word_embedding_forward)


def lin(lo, hi, *shape):
    return np.linspace(lo, hi, num=int(np.prod(shape))).reshape(shape)


def test_rnn_step_forward_matches_course_values():
    N, D, H = 3, 10, 4
    next_h, _ = rnn_step_forward(lin(-0.4, 0.7, N, D), lin(-0.2, 0.5, N, H), lin(-0.1, 0.9, D, H),
                                 lin(-0.3, 0.7, H, H), lin(-0.2, 0.4, H))
    expected = np.array([[-0.58172089, -0.50182032, -0.41232771, -0.31410098],
                         [0.66854692, 0.79562378, 0.87755553, 0.92795967],
                         [0.97934501, 0.99144213, 0.99646691, 0.99854353]])
    assert rel_error(expected, next_h) < 1e-8


def test_rnn_forward_matches_course_values():
    N, T, D, H = 2, 3, 4, 5
    h, _ = rnn_forward(lin(-0.1, 0.3, N, T, D), lin(-0.3, 0.1, N, H), lin(-0.2, 0.4, D, H),
                       lin(-0.4, 0.1, H, H), lin(-0.7, 0.1, H))
    expected = np.array([
        [[-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
         [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
         [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525]],
        [[-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
         [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
         [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043]]])
    assert rel_error(expected, h) < 1e-7


def test_lstm_step_forward_matches_course_values():
    N, D, H = 3, 4, 5
    next_h, next_c, _ = lstm_step_forward(lin(-0.4, 1.2, N, D), lin(-0.3, 0.7, N, H), lin(-0.4, 0.9, N, H),
                                          lin(-2.1, 1.3, D, 4 * H), lin(-0.7, 2.2, H, 4 * H), lin(0.3, 0.7, 4 * H))
    expected_h = np.array([[0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
                           [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
                           [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299]])
    expected_c = np.array([[0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
                           [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
                           [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676]])
    assert rel_error(expected_h, next_h) < 1e-7
    assert rel_error(expected_c, next_c) < 1e-7


def test_lstm_forward_matches_course_values():
    N, D, H, T = 2, 5, 4, 3
    h, _ = lstm_forward(lin(-0.4, 0.6, N, T, D), lin(-0.4, 0.8, N, H), lin(-0.2, 0.9, D, 4 * H),
                        lin(-0.3, 0.6, H, 4 * H), lin(0.2, 0.7, 4 * H))
    expected = np.array([
        [[0.01764008, 0.01823233, 0.01882671, 0.0194232],
         [0.11287491, 0.12146228, 0.13018446, 0.13902939],
         [0.31358768, 0.33338627, 0.35304453, 0.37250975]],
        [[0.45767879, 0.4761092, 0.4936887, 0.51041945],
         [0.6704845, 0.69350089, 0.71486014, 0.7346449],
         [0.81733511, 0.83677871, 0.85403753, 0.86935314]]])
    assert rel_error(expected, h) < 1e-7


def test_word_embedding_forward_matches_course_values():
    x = np.array([[0, 3, 1, 2], [2, 1, 0, 3]])
    out, _ = word_embedding_forward(x, lin(0, 1, 5, 3))
    rows = {0: [0., 0.07142857, 0.14285714], 1: [0.21428571, 0.28571429, 0.35714286],
            2: [0.42857143, 0.5, 0.57142857], 3: [0.64285714, 0.71428571, 0.78571429]}
    expected = np.array([[rows[i] for i in r] for r in x])
    assert rel_error(expected, out) < 1e-7  # the printed values have 8 decimals


def test_word_embedding_backward_sums_repeated_words():
    x = np.array([[1, 1, 1], [0, 1, 3]])
    W = np.zeros((5, 2))
    _, cache = word_embedding_forward(x, W)
    dout = np.arange(12, dtype=np.float64).reshape(2, 3, 2)
    dW = word_embedding_backward(dout, cache)
    expected = np.zeros((5, 2))
    for n in range(2):
        for t in range(3):
            expected[x[n, t]] += dout[n, t]
    np.testing.assert_array_equal(dW, expected)
    assert dW[1].tolist() == [0 + 2 + 4 + 8, 1 + 3 + 5 + 9] and not dW[4].any()


def test_temporal_affine_matches_per_step_affine():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    out, cache = temporal_affine_forward(x, w, b)
    for t in range(3):
        np.testing.assert_allclose(out[:, t], x[:, t] @ w + b, rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = temporal_affine_backward(dout, cache)
    num = eval_numerical_gradient_array(lambda w_: temporal_affine_forward(x, w_, b)[0], w.copy(), dout)
    assert rel_error(num, dw) < 1e-8


@pytest.mark.parametrize("N, T, p, expected", [(100, 1, 1.0, np.log(10)), (100, 10, 1.0, 10 * np.log(10)),
                                               (5000, 10, 0.1, np.log(10))])
def test_temporal_softmax_loss_course_sanity_values(N, T, p, expected):
    # Near-uniform scores: each counted step costs log(10) ~ 2.3, so ~2.3, ~23 and ~2.3 (10 steps at p=0.1).
    rng = np.random.default_rng(0)
    x = 0.001 * rng.standard_normal((N, T, 10))
    y = rng.integers(10, size=(N, T))
    mask = rng.random((N, T)) <= p
    loss, _ = temporal_softmax_loss(x, y, mask)
    assert abs(loss - expected) < 0.05 * expected


def test_temporal_softmax_loss_matches_naive_loop_and_ignores_masked_steps():
    rng = np.random.default_rng(1)
    N, T, V = 3, 4, 5
    x, y = rng.standard_normal((N, T, V)), rng.integers(V, size=(N, T))
    mask = rng.random((N, T)) > 0.5
    loss, dx = temporal_softmax_loss(x, y, mask)
    naive = 0.0
    for n in range(N):
        for t in range(T):
            if mask[n, t]:
                naive -= x[n, t, y[n, t]] - np.log(np.exp(x[n, t]).sum())
    assert loss == pytest.approx(naive / N, rel=1e-12)
    assert not dx[~mask].any()
    # changing a masked-out score changes nothing
    x2 = x.copy()
    x2[~mask] += 100.0
    assert temporal_softmax_loss(x2, y, mask)[0] == pytest.approx(loss, rel=1e-12)


def test_temporal_softmax_loss_verbose_prints_shape(capsys):
    temporal_softmax_loss(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int), np.ones((2, 3), bool), verbose=True)
    assert "(6, 4)" in capsys.readouterr().out


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_float32_in_float32_out_and_close_to_float64(cell):
    rng = np.random.default_rng(2)
    g = 1 if cell == "rnn" else 4
    args = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5)), rng.standard_normal((4, g * 5)) / 2,
            rng.standard_normal((5, g * 5)) / 2, rng.standard_normal(g * 5)]
    fwd, bwd = (rnn_forward, rnn_backward) if cell == "rnn" else (lstm_forward, lstm_backward)
    h64, _ = fwd(*args)
    # float32 input with float64 weights: everything is computed in float32
    h32, cache = fwd(args[0].astype(np.float32), *args[1:])
    assert h32.dtype == np.float32
    np.testing.assert_allclose(h32, h64, atol=1e-5)
    grads = bwd(np.ones_like(h32), cache)
    assert all(gr.dtype == np.float32 for gr in grads)


def _sequence_by_steps(cell, x, h0, Wx, Wh, b, dh):
    """The sequence functions' definition: the public step functions one time step after another."""
    n, t_len, _ = x.shape
    h, c, caches = h0, np.zeros_like(h0), []
    hs = np.empty(dh.shape)
    for t in range(t_len):
        if cell == "rnn":
            h, cache = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        else:
            h, c, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        hs[:, t] = h
        caches.append(cache)
    dx = np.empty(x.shape)
    dW = [0 * Wx, 0 * Wh, 0 * b]
    carry_h, carry_c = 0 * h0, 0 * h0  # the gradients flowing back from step t + 1
    for t in reversed(range(t_len)):
        if cell == "rnn":
            dx[:, t], carry_h, *dw = rnn_step_backward(dh[:, t] + carry_h, caches[t])
        else:
            dx[:, t], carry_h, carry_c, *dw = lstm_step_backward(dh[:, t] + carry_h, carry_c, caches[t])
        dW = [a + g for a, g in zip(dW, dw)]
    return hs, (dx, carry_h, *dW)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("n, t_len, d, h", [(1, 1, 3, 2), (2, 5, 3, 4), (3, 4, 7, 5)])
def test_sequences_equal_the_step_functions_one_step_at_a_time(cell, n, t_len, d, h):
    # rnn_forward/lstm_forward compute the input term of all steps at once and the backward passes the
    # weight gradients as one product over all steps: the same numbers as the step-by-step definition.
    rng = np.random.default_rng(n * 100 + t_len)
    g = 1 if cell == "rnn" else 4
    x, h0 = rng.standard_normal((n, t_len, d)), rng.standard_normal((n, h))
    Wx, Wh, b = rng.standard_normal((d, g * h)), rng.standard_normal((h, g * h)), rng.standard_normal(g * h)
    dh = rng.standard_normal((n, t_len, h))
    forward, backward = (rnn_forward, rnn_backward) if cell == "rnn" else (lstm_forward, lstm_backward)
    hs, cache = forward(x, h0, Wx, Wh, b)
    expected_h, expected_grads = _sequence_by_steps(cell, x, h0, Wx, Wh, b, dh)
    np.testing.assert_allclose(hs, expected_h, rtol=1e-12, atol=1e-14)
    for got, want in zip(backward(dh, cache), expected_grads):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


def test_lstm_step_backward_matches_numerical_gradient_of_both_outputs():
    rng = np.random.default_rng(3)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    Wx, Wh, b = rng.standard_normal((3, 16)), rng.standard_normal((4, 16)), rng.standard_normal(16)
    _, _, cache = lstm_step_forward(x, h, c, Wx, Wh, b)
    dh, dc = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    dprev_c = lstm_step_backward(dh, dc, cache)[2]
    num = (eval_numerical_gradient_array(lambda c_: lstm_step_forward(x, h, c_, Wx, Wh, b)[0], c.copy(), dh)
           + eval_numerical_gradient_array(lambda c_: lstm_step_forward(x, h, c_, Wx, Wh, b)[1], c.copy(), dc))
    assert rel_error(num, dprev_c) < 1e-8


def test_rnn_step_backward_gate_derivative_uses_output():
    # one unit, no recurrence: d tanh(a)/da = 1 - tanh(a)^2
    x, Wx = np.array([[0.5]]), np.array([[2.0]])
    _, cache = rnn_step_forward(x, np.zeros((1, 1)), Wx, np.zeros((1, 1)), np.zeros(1))
    dx = rnn_step_backward(np.ones((1, 1)), cache)[0]
    assert dx[0, 0] == pytest.approx(2.0 * (1 - np.tanh(1.0) ** 2), rel=1e-14)


def test_bad_arguments_raise_clear_errors():
    x, h = np.zeros((2, 3)), np.zeros((2, 4))
    Wx, Wh, b = np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4)
    with pytest.raises(ValueError, match=r"rnn_step_forward: Wx must have shape \(3, 4\)"):
        rnn_step_forward(x, h, np.zeros((5, 4)), Wh, b)
    with pytest.raises(ValueError, match=r"rnn_step_forward: prev_h must have shape \(2, \*\)"):
        rnn_step_forward(x, np.zeros((3, 4)), Wx, Wh, b)
    with pytest.raises(TypeError, match="rnn_forward: x must be a floating-point array"):
        rnn_forward(np.zeros((2, 1, 3), dtype=int), h, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"rnn_forward: x is empty \(shape \(2, 0, 3\)"):
        rnn_forward(np.zeros((2, 0, 3)), h, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"lstm_step_forward: Wx must have shape \(3, 16\)"):
        lstm_step_forward(x, h, h, Wx, Wh, b)
    _, cache = rnn_step_forward(x, h, Wx, Wh, b)
    with pytest.raises(ValueError, match="rnn_step_backward: dnext_h must have the shape"):
        rnn_step_backward(np.zeros((2, 5)), cache)
    with pytest.raises(ValueError, match=r"word_embedding_forward: x must lie in \[0, 5\)"):
        word_embedding_forward(np.array([[0, 5]]), np.zeros((5, 2)))
    with pytest.raises(TypeError, match="integer word indices"):
        word_embedding_forward(np.array([[0.0, 1.0]]), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"temporal_softmax_loss: mask must have shape \(2, 3\)"):
        temporal_softmax_loss(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int), np.ones((3, 2), bool))
    with pytest.raises(ValueError, match=r"temporal_softmax_loss: y must lie in \[0, 4\)"):
        temporal_softmax_loss(np.zeros((2, 3, 4)), np.full((2, 3), 4), np.ones((2, 3), bool))
