"""Image captioning with a vanilla RNN or an LSTM (the CS231n ``CaptioningRNN``).

An image feature vector (e.g. a VGG-16 fc7 activation) sets the initial hidden state through an
affine projection; the recurrent net then reads the caption one word at a time and predicts the next
word (Vinyals et al. 2015, "Show and Tell"; Karpathy & Fei-Fei 2015). Training uses teacher forcing:
the ground-truth caption shifted by one word is the target. At test time the model feeds back its own
predictions, greedily (:meth:`CaptioningRNN.sample`) or keeping the best few partial captions
(:meth:`CaptioningRNN.beam_search`).
"""
import numpy as np

from .. import _check
from ..errors import NpnetTypeError, NpnetValueError
from ..layers.affine import affine_backward, affine_forward
from ..layers.rnn import (lstm_backward, lstm_forward, lstm_step_forward, rnn_backward, rnn_forward,
                          rnn_step_forward, temporal_affine_backward, temporal_affine_forward,
                          temporal_softmax_loss, word_embedding_backward, word_embedding_forward)

__all__ = ["CaptioningRNN"]

_CELLS = {"rnn": (1, rnn_forward, rnn_backward), "lstm": (4, lstm_forward, lstm_backward)}


class CaptioningRNN:
    """Caption generator: image features -> h0 -> RNN/LSTM over word vectors -> word scores.

    Parameters (``self.params``), with D = input_dim, W = wordvec_dim, H = hidden_dim, V = vocabulary
    size and G = 1 (rnn) or 4 (lstm):

    - ``W_proj`` (D, H), ``b_proj`` (H,): image features to the initial hidden state.
    - ``W_embed`` (V, W): word vectors.
    - ``Wx`` (W, G*H), ``Wh`` (H, G*H), ``b`` (G*H,): the recurrent cell (LSTM gates ordered i, f, o, g).
    - ``W_vocab`` (H, V), ``b_vocab`` (V,): hidden state to word scores.

    Weights are drawn from a standard normal scaled by ``1/sqrt(fan_in)`` (``W_embed`` by 1/100),
    biases start at zero, as in the course.

    Args:
        word_to_idx: dict mapping each of the V words to an index in [0, V). It must contain
            ``<NULL>`` (the padding word, never scored); ``<START>`` is needed only for sampling and
            ``<END>`` only to stop a caption early.
        input_dim: D. wordvec_dim: W. hidden_dim: H.
        cell_type: ``'rnn'`` or ``'lstm'``.
        dtype: parameter dtype (float32 for training, float64 for gradient checks); inputs are cast
            to it.
        rng: NumPy ``Generator`` or ``RandomState``, or an int seed, for the initial weights; ``None``
            uses the global ``np.random`` state, so ``np.random.seed`` reproduces the course's models.
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128, cell_type="rnn",
                 dtype=np.float32, rng=None):
        fn = "CaptioningRNN"
        if cell_type not in _CELLS:
            raise NpnetValueError(f"{fn}: cell_type must be 'rnn' or 'lstm'; got {cell_type!r}")
        _check.vocabulary(fn, word_to_idx)
        self.dtype = _check.float_dtype(fn, dtype)
        self.cell_type = cell_type
        self.word_to_idx = dict(word_to_idx)
        self.idx_to_word = {i: w for w, i in self.word_to_idx.items()}
        self.input_dim = _check.positive_int(fn, "input_dim", input_dim)
        self.wordvec_dim = _check.positive_int(fn, "wordvec_dim", wordvec_dim)
        self.hidden_dim = _check.positive_int(fn, "hidden_dim", hidden_dim)
        self._null = self.word_to_idx["<NULL>"]
        self._start = self.word_to_idx.get("<START>")
        self._end = self.word_to_idx.get("<END>")
        self.vocab_size = len(self.word_to_idx)

        rng = _check.rng(fn, "rng", rng, none=np.random)
        D, W, H, V = self.input_dim, self.wordvec_dim, self.hidden_dim, self.vocab_size
        G = _CELLS[cell_type][0]
        shapes = {"W_proj": ((D, H), np.sqrt(D)), "W_embed": ((V, W), 100.0), "Wx": ((W, G * H), np.sqrt(W)),
                  "Wh": ((H, G * H), np.sqrt(H)), "W_vocab": ((H, V), np.sqrt(H))}
        self.params = {}
        for name, (shape, scale) in shapes.items():
            self.params[name] = (rng.standard_normal(shape) / scale).astype(self.dtype)
        for name, size in (("b_proj", H), ("b", G * H), ("b_vocab", V)):
            self.params[name] = np.zeros(size, dtype=self.dtype)

    def config(self):
        """The constructor arguments (except ``rng``) as a JSON-serialisable dict."""
        return {"word_to_idx": self.word_to_idx, "input_dim": self.input_dim, "wordvec_dim": self.wordvec_dim,
                "hidden_dim": self.hidden_dim, "cell_type": self.cell_type, "dtype": self.dtype.name}

    @classmethod
    def from_checkpoint(cls, path):
        """Rebuild a model from a checkpoint written by :class:`npnet.solver.CaptioningSolver`."""
        from ..solver import read_checkpoint
        ckpt = read_checkpoint(path)
        config = ckpt["meta"].get("model")
        if config is None:
            raise NpnetValueError(f"CaptioningRNN.from_checkpoint: {path} holds no model configuration")
        model = cls(rng=np.random.default_rng(0), **config)
        model.set_params(ckpt["params"], source=str(path))
        return model

    def set_params(self, params, source="params"):
        """Replace every parameter by ``params[name]``, all or none: each is checked for name, shape and
        finite values that fit the model's dtype, then cast to it. ``source`` (e.g. the checkpoint's
        path) names where the values came from in errors."""
        fn = "CaptioningRNN.set_params"
        if not isinstance(params, dict):
            raise NpnetTypeError(f"{fn}: {source} must be a dict of parameter arrays; got {type(params).__name__}")
        if set(params) != set(self.params):
            raise NpnetValueError(f"{fn}: {source} has parameters {sorted(params, key=str)}; expected "
                                  f"{sorted(self.params)}")
        checked = {}
        for name, value in params.items():
            value = _check.float_array(fn, f"{source}[{name!r}]", value)
            _check.shape(fn, f"{source}[{name!r}]", value, self.params[name].shape)
            checked[name] = value
        problems = _check.weight_problems(checked, dict.fromkeys(checked, self.dtype))
        if problems:
            raise NpnetValueError(f"{fn}: {source} has unusable parameters: "
                                  + "; ".join(f"{name}: {problem}" for name, problem in problems.items()))
        self.params.update({name: value.astype(self.dtype) for name, value in checked.items()})

    def _features(self, fn, features):
        features = _check.float_array(fn, "features", features, ndim=2, layout="(N, D)")
        _check.shape(fn, "features", features, (None, self.input_dim))
        _check.finite(fn, "features", features)
        return features.astype(self.dtype, copy=False)

    def loss(self, features, captions):
        """Training loss and gradients for one minibatch (teacher forcing).

        Args:
            features: (N, D) image features.
            captions: (N, T + 1) integer ground-truth captions, each word in [0, V), T >= 1. The input
                at step t is ``captions[:, t]`` and its target ``captions[:, t + 1]``; targets equal
                to ``<NULL>`` are masked out.
        Returns:
            loss: scalar (temporal softmax loss, summed over time, averaged over N).
            grads: dict with the same keys and shapes as ``self.params``.
        """
        fn = "CaptioningRNN.loss"
        features = self._features(fn, features)
        captions = np.asarray(captions)
        if not np.issubdtype(captions.dtype, np.integer):
            raise NpnetTypeError(f"{fn}: captions must hold integer word indices; got dtype {captions.dtype}")
        if captions.ndim != 2 or captions.shape[0] != features.shape[0] or captions.shape[1] < 2:
            raise NpnetValueError(f"{fn}: captions must have shape ({features.shape[0]}, T + 1) with T >= 1, one "
                                  f"caption per feature row; got {captions.shape}")
        if captions.min() < 0 or captions.max() >= self.vocab_size:
            raise NpnetValueError(f"{fn}: captions must hold word indices in [0, {self.vocab_size}); got values "
                                  f"from {captions.min()} to {captions.max()}")
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != self._null
        p = self.params
        _, forward, backward = _CELLS[self.cell_type]

        # BEGIN SOLUTION
        h0, proj_cache = affine_forward(features, p["W_proj"], p["b_proj"])
        x, embed_cache = word_embedding_forward(captions_in, p["W_embed"])
        h, rnn_cache = forward(x, h0, p["Wx"], p["Wh"], p["b"])
        scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, rnn_cache)
        grads["W_embed"] = word_embedding_backward(dx, embed_cache)
        _, grads["W_proj"], grads["b_proj"] = affine_backward(dh0, proj_cache, input_grad=False)
        # END SOLUTION
        return loss, grads

    def _decoding_start(self, fn, features, max_length):
        """Validated features, the initial (h, c) states and ``max_length`` for the decoders."""
        if self._start is None:
            raise NpnetValueError(f"{fn}: the vocabulary has no '<START>' word to begin a caption with")
        features = self._features(fn, features)
        max_length = _check.positive_int(fn, "max_length", max_length)
        h0 = features @ self.params["W_proj"] + self.params["b_proj"]
        return h0, np.zeros_like(h0), max_length

    def _step(self, words, h, c):
        """Feed ``words`` (M,) with states (M, H): return log-probabilities (M, V) and the new states."""
        p = self.params
        x = p["W_embed"][words]
        if self.cell_type == "rnn":
            h, _ = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
        else:
            h, c, _ = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
        scores = h @ p["W_vocab"] + p["b_vocab"]
        scores = scores - scores.max(axis=1, keepdims=True)
        return scores - np.log(np.exp(scores).sum(axis=1, keepdims=True)), h, c

    def sample(self, features, max_length=30):
        """Greedy decoding: start from ``<START>`` and feed back the most likely word at each step.

        Once a caption has produced ``<END>`` its remaining positions are ``<NULL>``.

        Args:
            features: (N, D) image features.
            max_length: number of words to generate.
        Returns:
            captions: (N, max_length) int32 word indices (the ``<START>`` word is not included).
        """
        h, c, max_length = self._decoding_start("CaptioningRNN.sample", features, max_length)
        n = h.shape[0]
        captions = np.full((n, max_length), self._null, dtype=np.int32)
        words = np.full(n, self._start, dtype=np.int64)
        done = np.zeros(n, dtype=bool)
        for t in range(max_length):
            # BEGIN SOLUTION
            log_probs, h, c = self._step(words, h, c)
            words = log_probs.argmax(axis=1)
            captions[:, t] = np.where(done, self._null, words)
            if self._end is not None:
                done |= words == self._end
                if done.all():
                    break
            # END SOLUTION
        return captions

    def beam_search(self, features, beam_size=3, max_length=30, return_scores=False):
        """Beam-search decoding (beyond the course): keep the ``beam_size`` most probable partial captions.

        At each step every unfinished caption is extended by every word and the ``beam_size`` best
        extensions by total log-probability survive; a caption that emits ``<END>`` is finished and
        leaves the beam. The result is the finished (or, at ``max_length``, unfinished) caption with the
        highest total log-probability; ``beam_size=1`` is greedy decoding. Search stops early once no
        unfinished caption can beat the best finished one (log-probabilities only decrease).
        Scores are not length-normalised, so beam search tends to prefer short captions.

        Args:
            features: (N, D) image features.
            beam_size: number of partial captions kept per image (>= 1).
            max_length: maximum number of words.
            return_scores: also return the (N,) total log-probabilities of the chosen captions.
        Returns:
            captions: (N, max_length) int32, padded with ``<NULL>`` after ``<END>``, like :meth:`sample`.
            scores: (N,) float64, only if ``return_scores``.
        """
        fn = "CaptioningRNN.beam_search"
        h0, c0, max_length = self._decoding_start(fn, features, max_length)
        beam_size = _check.positive_int(fn, "beam_size", beam_size)
        n = h0.shape[0]
        captions = np.full((n, max_length), self._null, dtype=np.int32)
        scores = np.empty(n)
        for i in range(n):
            words, score = self._beam_one(h0[i:i + 1], c0[i:i + 1], beam_size, max_length)
            captions[i, :len(words)] = words
            scores[i] = score
        return (captions, scores) if return_scores else captions

    def _beam_one(self, h, c, beam_size, max_length):
        """Beam search for one image; returns (list of words, total log-probability)."""
        seqs = np.empty((1, 0), dtype=np.int64)
        totals = np.zeros(1)
        words = np.array([self._start])
        best_words, best_score = None, -np.inf
        for _ in range(max_length):
            log_probs, h, c = self._step(words, h, c)
            cand = (totals[:, None] + log_probs).ravel()
            keep = np.argsort(-cand, kind="stable")[:beam_size]
            beam, words = np.divmod(keep, self.vocab_size)
            totals, seqs = cand[keep], np.concatenate([seqs[beam], words[:, None]], axis=1)
            h, c = h[beam], c[beam]
            ended = words == self._end if self._end is not None else np.zeros(len(words), dtype=bool)
            if ended.any():
                j = np.flatnonzero(ended)[np.argmax(totals[ended])]
                if totals[j] > best_score:
                    best_words, best_score = seqs[j], totals[j]
            alive = ~ended
            if not alive.any() or totals[alive].max() <= best_score:
                break
            seqs, totals, words, h, c = seqs[alive], totals[alive], words[alive], h[alive], c[alive]
        else:
            j = np.argmax(totals)
            if totals[j] > best_score:
                best_words, best_score = seqs[j], totals[j]
        return best_words, best_score
