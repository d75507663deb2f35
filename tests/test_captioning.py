"""CaptioningRNN: the course's fixed-parameter losses, decoding, and the overfitting sanity check."""
import itertools

import numpy as np
import pytest

from npnet.data.coco import load_coco_data, make_synthetic_coco
from npnet.models.captioning import CaptioningRNN
from npnet.solver import CaptioningSolver
from conftest import require_data

TINY = {"<NULL>": 0, "cat": 2, "dog": 3}  # the course's vocabulary: no <START>/<END>, index 3 >= V


@pytest.mark.parametrize("cell, feature_range, expected", [
    ("rnn", (-1.5, 0.3), 9.83235591003),  # RNN_Captioning.ipynb
    ("lstm", (-0.5, 1.7), 9.82445935443),  # LSTM_Captioning.ipynb
])
def test_fixed_parameter_loss_matches_course_value(cell, feature_range, expected):
    N, D, W, H, T = 10, 20, 30, 40, 13
    model = CaptioningRNN(TINY, input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type=cell, dtype=np.float64)
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    features = np.linspace(*feature_range, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % len(TINY)).reshape(N, T)
    loss, grads = model.loss(features, captions)
    assert abs(loss - expected) < 1e-10
    assert set(grads) == set(model.params)
    assert all(grads[k].shape == v.shape and grads[k].dtype == np.float64 for k, v in model.params.items())


@pytest.mark.parametrize("cell, gates", [("rnn", 1), ("lstm", 4)])
def test_parameter_shapes_dtype_and_initial_scales(cell, gates):
    V = 1000
    w2i = {"<NULL>": 0, **{f"w{i}": i for i in range(1, V)}}
    model = CaptioningRNN(w2i, input_dim=256, wordvec_dim=64, hidden_dim=128, cell_type=cell,
                          rng=np.random.default_rng(0))
    shapes = {"W_proj": (256, 128), "b_proj": (128,), "W_embed": (V, 64), "Wx": (64, gates * 128),
              "Wh": (128, gates * 128), "b": (gates * 128,), "W_vocab": (128, V), "b_vocab": (V,)}
    assert {k: v.shape for k, v in model.params.items()} == shapes
    assert all(v.dtype == np.float32 for v in model.params.values())
    stds = {k: float(v.std()) for k, v in model.params.items()}
    for name, fan in (("W_proj", 256), ("Wx", 64), ("Wh", 128), ("W_vocab", 128)):
        assert stds[name] == pytest.approx(1 / np.sqrt(fan), rel=0.05)
    assert stds["W_embed"] == pytest.approx(0.01, rel=0.05)
    assert stds["b"] == stds["b_proj"] == stds["b_vocab"] == 0


def test_course_seed_reproduces_global_random_state_init():
    np.random.seed(231)
    a = CaptioningRNN(TINY, input_dim=3, wordvec_dim=2, hidden_dim=4)
    np.random.seed(231)
    expected = (np.random.randn(3, 4) / np.sqrt(3)).astype(np.float32)
    np.testing.assert_array_equal(a.params["W_proj"], expected)


def test_masked_targets_do_not_count():
    model = CaptioningRNN(TINY, input_dim=3, wordvec_dim=2, hidden_dim=4, dtype=np.float64,
                          rng=np.random.default_rng(0))
    feats = np.random.default_rng(1).standard_normal((2, 3))
    caps = np.array([[2, 1, 0, 0], [1, 2, 2, 0]])
    loss, grads = model.loss(feats, caps)
    # the loss of each caption counted alone, halved (mean over the batch of 2)
    one = model.loss(feats[:1], caps[:1, :2])[0] / 2
    two = model.loss(feats[1:], caps[1:, :3])[0] / 2
    assert loss == pytest.approx(one + two, rel=1e-12)
    # all targets <NULL>: nothing is scored, so no gradient anywhere
    loss2, grads2 = model.loss(feats, np.array([[2, 0, 0, 0], [1, 0, 0, 0]]))
    assert loss2 == 0 and not any(g.any() for g in grads2.values())


def test_bad_inputs_raise():
    model = CaptioningRNN(TINY, input_dim=3, wordvec_dim=2, hidden_dim=4)
    with pytest.raises(ValueError, match=r"features must have shape \(\*, 3\)"):
        model.loss(np.zeros((2, 4)), np.zeros((2, 5), dtype=int))
    with pytest.raises(ValueError, match=r"captions must have shape \(2, T \+ 1\)"):
        model.loss(np.zeros((2, 3)), np.zeros((2, 1), dtype=int))
    with pytest.raises(TypeError, match="captions must hold integer"):
        model.loss(np.zeros((2, 3)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"CaptioningRNN.loss: captions must hold word indices in \[0, 3\)"):
        model.loss(np.zeros((2, 3)), np.full((2, 5), 3))
    with pytest.raises(ValueError, match="cell_type must be 'rnn' or 'lstm'"):
        CaptioningRNN(TINY, cell_type="gru")
    with pytest.raises(ValueError, match="no '<START>' word"):
        model.sample(np.zeros((1, 3)))


VOCAB = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "b": 4}


def _decoder(cell, seed=0):
    model = CaptioningRNN(VOCAB, input_dim=3, wordvec_dim=4, hidden_dim=6, cell_type=cell, dtype=np.float64,
                          rng=np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 100)
    for k, v in model.params.items():  # scale up so the distributions are far from uniform
        model.params[k] = 1.5 * rng.standard_normal(v.shape)
    return model, rng.standard_normal((4, 3))


def _log_prob(model, feature, words):
    """Total log-probability of a word sequence by running the model one step at a time."""
    p = model.params
    h = feature @ p["W_proj"] + p["b_proj"]
    c = np.zeros_like(h)
    total, prev = 0.0, VOCAB["<START>"]
    for w in words:
        x = p["W_embed"][prev]
        a = x @ p["Wx"] + h @ p["Wh"] + p["b"]
        if model.cell_type == "rnn":
            h = np.tanh(a)
        else:
            H = h.size
            sig = 1 / (1 + np.exp(-a[:3 * H]))
            c = sig[H:2 * H] * c + sig[:H] * np.tanh(a[3 * H:])
            h = sig[2 * H:] * np.tanh(c)
        s = h @ p["W_vocab"] + p["b_vocab"]
        total += s[w] - np.log(np.exp(s).sum())
        prev = w
    return total


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_greedy_sample_picks_the_argmax_word_each_step(cell):
    model, feats = _decoder(cell)
    caps = model.sample(feats, max_length=5)
    assert caps.shape == (4, 5) and caps.dtype == np.int32
    for f, cap in zip(feats, caps):
        prefix = []
        for w in cap:
            if prefix and prefix[-1] == VOCAB["<END>"]:
                assert w == VOCAB["<NULL>"]
                continue
            best = max(range(5), key=lambda v: _log_prob(model, f, prefix + [v]))
            assert w == best
            prefix.append(int(w))


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_beam_search_of_width_one_is_greedy(cell):
    model, feats = _decoder(cell, seed=1)
    np.testing.assert_array_equal(model.beam_search(feats, beam_size=1, max_length=6),
                                  model.sample(feats, max_length=6))


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_wide_beam_search_finds_the_most_probable_caption(cell):
    model, feats = _decoder(cell, seed=2)
    L, V = 3, 5
    caps, scores = model.beam_search(feats, beam_size=V ** L, max_length=L, return_scores=True)
    for f, cap, score in zip(feats, caps, scores):
        # every caption: ends at its first <END>, or runs L words
        best, best_score = None, -np.inf
        for seq in itertools.product(range(V), repeat=L):
            seq = list(seq)
            if VOCAB["<END>"] in seq:
                seq = seq[:seq.index(VOCAB["<END>"]) + 1]
            s = _log_prob(model, f, seq)
            if s > best_score:
                best, best_score = seq, s
        assert score == pytest.approx(best_score, rel=1e-10)
        assert cap[:len(best)].tolist() == best and (cap[len(best):] == VOCAB["<NULL>"]).all()
    # a narrower beam can only do as well or worse
    assert (model.beam_search(feats, beam_size=2, max_length=L, return_scores=True)[1] <= scores + 1e-12).all()


def test_vocabulary_without_end_decodes_to_max_length():
    model = CaptioningRNN({"<NULL>": 0, "<START>": 1, "x": 2}, input_dim=2, wordvec_dim=3, hidden_dim=4,
                          rng=np.random.default_rng(0))
    feats = np.ones((2, 2), dtype=np.float32)
    assert model.sample(feats, max_length=4).shape == (2, 4)
    assert model.beam_search(feats, beam_size=2, max_length=4).shape == (2, 4)


@pytest.fixture(scope="module")
def overfit_data(tmp_path_factory):
    vocab = require_data("coco/coco2014_vocab.json")
    # one caption per image, like the course's 50 random captions of 400k (almost surely 50 images)
    out = make_synthetic_coco(tmp_path_factory.mktemp("coco"), vocab, num_train=50, num_val=5,
                              num_train_images=50, seed=0)
    return load_coco_data(out)


@pytest.mark.parametrize("cell, threshold", [("rnn", 0.1), ("lstm", 0.5)])
def test_overfits_50_captions_in_100_iterations(overfit_data, cell, threshold):
    """The course's sanity check (float32; takes a few seconds per cell)."""
    np.random.seed(231)
    model = CaptioningRNN(overfit_data["word_to_idx"], input_dim=512, wordvec_dim=256, hidden_dim=512,
                          cell_type=cell, dtype=np.float32)
    solver = CaptioningSolver(model, overfit_data, update_rule="adam", num_epochs=50, batch_size=25,
                              optim_config={"learning_rate": 5e-3}, lr_decay=0.995, verbose=False)
    solver.train()
    assert len(solver.loss_history) == 100
    assert solver.loss_history[0] > 30
    assert solver.loss_history[-1] < threshold
    # and the model now reproduces a training caption greedily
    caps = overfit_data["train_captions"][:5]
    feats = overfit_data["train_features"][overfit_data["train_image_idxs"][:5]]
    sampled = model.sample(feats, max_length=16)
    assert (sampled[:, :caps.shape[1] - 1] == caps[:, 1:17]).mean() > 0.9
