"""Image captioning with a Transformer decoder (the CS231n ``CaptioningTransformer``).

The image feature vector is projected to one "memory" token; the caption's words are embedded, given
sinusoidal positions and run through a stack of decoder layers (Vaswani et al. 2017), each with
masked self-attention over the words so far, cross-attention to the image token and a feed-forward
block; a final affine layer scores the next word. Training uses teacher forcing with a causal mask,
so all T next-word predictions of a caption come from one pass; sampling is greedy, one word per pass.

The interface is :class:`npnet.models.captioning.CaptioningRNN`'s: ``loss(features, captions)`` for
:class:`npnet.solver.CaptioningSolver`, ``sample(features, max_length)``, ``config`` and checkpoints.
Parameters keep the course's PyTorch names and layouts (``transformer.layers.0.self_attn.query.weight``
is (out, in)), so a state_dict of the course's model loads with :meth:`CaptioningTransformer.set_params`.
"""
import numpy as np

from .. import _check
from ..errors import NpnetTypeError, NpnetValueError
from ..layers.affine import affine_backward, affine_forward
from ..layers.attention import (TORCH_NAMES, causal_mask, positional_encoding_backward, positional_encoding_forward,
                                transformer_decoder_layer_backward, transformer_decoder_layer_forward)
from ..layers.rnn import (temporal_affine_backward, temporal_affine_forward, temporal_softmax_loss,
                          word_embedding_backward, word_embedding_forward)

__all__ = ["CaptioningTransformer"]


def _is_weight(functional_name):
    """Whether a decoder-layer parameter is a matrix (stored transposed, PyTorch's (out, in))."""
    return functional_name.split(".")[1][0] == "W"


def _t(w):
    """The transpose of a weight as a C-contiguous copy: OpenBLAS multiplies by a transposed view up to
    40x slower on a busy machine (its threads wait on each other for the transposed kernel)."""
    return np.ascontiguousarray(w.T)


class CaptioningTransformer:
    """Caption generator: image features -> memory token; words -> embedding + positions -> decoder layers -> scores.

    Parameters (``self.params``, PyTorch names and layouts), with D = input_dim, W = wordvec_dim,
    V = vocabulary size, F = dim_feedforward and L = num_layers:

    - ``visual_projection.weight`` (W, D), ``.bias`` (W,): image features to the memory token.
    - ``embedding.weight`` (V, W): word vectors.
    - ``transformer.layers.{i}.*`` for i < L: a decoder layer (see :class:`npnet.nn.TransformerDecoderLayer`).
    - ``output.weight`` (V, W), ``output.bias`` (V,): word scores.

    Weights start as N(0, 0.02^2), biases at 0, layer norms at scale 1 and shift 0, as the course's
    ``_init_weights``.

    Args:
        word_to_idx: dict word -> index in [0, V) with ``<NULL>`` (padding, never scored); ``<START>``
            is needed for sampling, ``<END>`` to stop a caption early.
        input_dim: D. wordvec_dim: W (divisible by num_heads). num_heads, num_layers.
        max_length: the longest caption (positions) the model reads.
        dim_feedforward: F (2048 in the course). dropout: probability of DROPPING a unit during
            :meth:`loss` (0.1 in the course; 0 for gradient checks).
        dtype: parameter dtype. rng: NumPy ``Generator`` or seed for the weights and dropout masks.
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=256, num_heads=4, num_layers=2, max_length=50,
                 dim_feedforward=2048, dropout=0.1, dtype=np.float32, rng=None):
        fn = "CaptioningTransformer"
        _check.vocabulary(fn, word_to_idx)
        self.dtype = _check.float_dtype(fn, dtype)
        self.word_to_idx = dict(word_to_idx)
        self.idx_to_word = {i: w for w, i in self.word_to_idx.items()}
        self.input_dim = _check.positive_int(fn, "input_dim", input_dim)
        self.wordvec_dim = _check.positive_int(fn, "wordvec_dim", wordvec_dim)
        self.num_heads = _check.positive_int(fn, "num_heads", num_heads)
        if self.wordvec_dim % self.num_heads:
            raise NpnetValueError(f"{fn}: num_heads must divide wordvec_dim = {self.wordvec_dim}; got {num_heads}")
        self.num_layers = _check.positive_int(fn, "num_layers", num_layers)
        self.max_length = _check.positive_int(fn, "max_length", max_length)
        self.dim_feedforward = _check.positive_int(fn, "dim_feedforward", dim_feedforward)
        self.dropout = _check.number(fn, "dropout", dropout, low=0, high=1, high_open=True)
        self._null = self.word_to_idx["<NULL>"]
        self._start = self.word_to_idx.get("<START>")
        self._end = self.word_to_idx.get("<END>")
        self.vocab_size = len(self.word_to_idx)
        self.rng = np.random.default_rng(rng)

        D, W, V, F = self.input_dim, self.wordvec_dim, self.vocab_size, self.dim_feedforward
        shapes = {"visual_projection.weight": (W, D), "visual_projection.bias": (W,), "embedding.weight": (V, W)}
        layer_shapes = {"linear1.weight": (F, W), "linear1.bias": (F,), "linear2.weight": (W, F)}
        for i in range(self.num_layers):
            for name in TORCH_NAMES.values():
                shape = layer_shapes.get(name, (W, W) if name.endswith("weight") and "norm" not in name else (W,))
                shapes[f"transformer.layers.{i}.{name}"] = shape
        shapes.update({"output.weight": (V, W), "output.bias": (V,)})
        self.params = {}
        for name, shape in shapes.items():
            if ".norm" in name:
                value = np.full(shape, 1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("weight"):
                value = 0.02 * self.rng.standard_normal(shape)
            else:
                value = np.zeros(shape)
            self.params[name] = value.astype(self.dtype)

    def config(self):
        """The constructor arguments (except ``rng``) as a JSON-serialisable dict."""
        return {"word_to_idx": self.word_to_idx, "input_dim": self.input_dim, "wordvec_dim": self.wordvec_dim,
                "num_heads": self.num_heads, "num_layers": self.num_layers, "max_length": self.max_length,
                "dim_feedforward": self.dim_feedforward, "dropout": self.dropout, "dtype": self.dtype.name}

    @classmethod
    def from_checkpoint(cls, path):
        """Rebuild a model from a checkpoint written by :class:`npnet.solver.CaptioningSolver`."""
        from ..solver import read_checkpoint
        ckpt = read_checkpoint(path)
        config = ckpt["meta"].get("model")
        if config is None or "num_heads" not in config:
            raise NpnetValueError(f"CaptioningTransformer.from_checkpoint: {path} holds no Transformer "
                                  f"captioner configuration")
        model = cls(rng=0, **config)
        model.set_params(ckpt["params"], source=str(path))
        return model

    def set_params(self, params, source="params"):
        """Replace every parameter by ``params[name]`` (checked for name and shape; cast to dtype)."""
        fn = "CaptioningTransformer.set_params"
        if set(params) != set(self.params):
            missing, extra = sorted(set(self.params) - set(params)), sorted(set(params) - set(self.params))
            raise NpnetValueError(f"{fn}: {source} does not fit the model: missing {missing[:5]}, unexpected "
                                  f"{extra[:5]}")
        for name, value in params.items():
            value = _check.float_array(fn, name, np.asarray(value))
            _check.shape(fn, f"{source}[{name!r}]", value, self.params[name].shape)
            self.params[name] = value.astype(self.dtype)

    def _layer_params(self, i):
        """Decoder layer ``i``'s parameters under the names of :func:`transformer_decoder_layer_forward`."""
        prefix = f"transformer.layers.{i}."
        return {ours: _t(self.params[prefix + theirs]) if _is_weight(ours) else self.params[prefix + theirs]
                for ours, theirs in TORCH_NAMES.items()}

    def _dropout_param(self, train):
        if not train or self.dropout == 0:
            return None
        return {"mode": "train", "p": 1.0 - self.dropout, "seed": int(self.rng.integers(2**31))}

    def _check_inputs(self, fn, features, captions):
        features = _check.float_array(fn, "features", features, ndim=2, layout="(N, D)")
        _check.shape(fn, "features", features, (None, self.input_dim))
        _check.finite(fn, "features", features)
        captions = np.asarray(captions)
        if not np.issubdtype(captions.dtype, np.integer):
            raise NpnetTypeError(f"{fn}: captions must hold integer word indices; got dtype {captions.dtype}")
        if captions.ndim != 2 or captions.shape[0] != features.shape[0]:
            raise NpnetValueError(f"{fn}: captions must have shape ({features.shape[0]}, T), one caption per "
                                  f"feature row; got {captions.shape}")
        if captions.shape[1] > self.max_length:
            raise NpnetValueError(f"{fn}: captions have {captions.shape[1]} positions; the model was built for "
                                  f"max_length={self.max_length}")
        if captions.size and (captions.min() < 0 or captions.max() >= self.vocab_size):
            raise NpnetValueError(f"{fn}: captions must hold word indices in [0, {self.vocab_size}); got values "
                                  f"from {captions.min()} to {captions.max()}")
        return features.astype(self.dtype, copy=False), captions

    def _forward(self, features, captions, train):
        """Scores (N, T, V) of every next word, and the caches of :meth:`_backward`."""
        p = self.params
        # BEGIN SOLUTION
        x, embed_cache = word_embedding_forward(captions, p["embedding.weight"])
        x, pe_cache = positional_encoding_forward(x, self._dropout_param(train))
        memory, memory_cache = affine_forward(features, _t(p["visual_projection.weight"]), p["visual_projection.bias"])
        memory = memory[:, None, :]  # one memory token per image
        mask = causal_mask(captions.shape[1])
        layer_caches = []
        for i in range(self.num_layers):
            x, cache = transformer_decoder_layer_forward(x, memory, self._layer_params(i), self.num_heads, mask,
                                                         self._dropout_param(train))
            layer_caches.append(cache)
        scores, out_cache = temporal_affine_forward(x, _t(p["output.weight"]), p["output.bias"])
        # END SOLUTION
        return scores, (embed_cache, pe_cache, memory_cache, layer_caches, out_cache)

    def _backward(self, dscores, caches):
        embed_cache, pe_cache, memory_cache, layer_caches, out_cache = caches
        grads = {}
        # BEGIN SOLUTION
        dx, dw, grads["output.bias"] = temporal_affine_backward(dscores, out_cache)
        grads["output.weight"] = _t(dw)
        dmemory = 0
        for i in reversed(range(self.num_layers)):
            dx, dmem, layer_grads = transformer_decoder_layer_backward(dx, layer_caches[i])
            dmemory = dmemory + dmem
            prefix = f"transformer.layers.{i}."
            grads.update({prefix + theirs: _t(layer_grads[ours]) if _is_weight(ours) else layer_grads[ours]
                          for ours, theirs in TORCH_NAMES.items()})
        _, dw, grads["visual_projection.bias"] = affine_backward(dmemory[:, 0, :], memory_cache, input_grad=False)
        grads["visual_projection.weight"] = _t(dw)
        grads["embedding.weight"] = word_embedding_backward(positional_encoding_backward(dx, pe_cache), embed_cache)
        # END SOLUTION
        return {name: grads[name] for name in self.params}

    def forward(self, features, captions):
        """Scores of every next word without dropout (the course's ``forward``).

        Args:
            features: (N, D). captions: (N, T) integer word indices.
        Returns:
            scores: (N, T, V), where ``scores[:, t]`` scores the word after ``captions[:, :t + 1]``.
        """
        features, captions = self._check_inputs("CaptioningTransformer.forward", features, captions)
        return self._forward(features, captions, train=False)[0]

    def loss(self, features, captions):
        """Training loss and gradients for one minibatch (teacher forcing, dropout on).

        Args:
            features: (N, D) image features.
            captions: (N, T + 1) ground-truth captions, T >= 1; input ``captions[:, :-1]``, targets
                ``captions[:, 1:]`` (targets equal to ``<NULL>`` are masked out).
        Returns:
            loss: scalar (temporal softmax loss, summed over time, averaged over N).
            grads: dict with the keys and shapes of ``self.params``.
        """
        fn = "CaptioningTransformer.loss"
        features, captions = self._check_inputs(fn, features, captions)
        if captions.shape[1] < 2:
            raise NpnetValueError(f"{fn}: captions need T + 1 >= 2 words (an input and a target); got "
                                  f"{captions.shape}")
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        scores, caches = self._forward(features, captions_in, train=True)
        loss, dscores = temporal_softmax_loss(scores, captions_out, captions_out != self._null)
        return loss, self._backward(dscores, caches)

    def sample(self, features, max_length=30):
        """Greedy decoding: from ``<START>``, append the highest-scoring next word, one pass per word.

        Once a caption has produced ``<END>`` its remaining positions are ``<NULL>``.

        Args:
            features: (N, D). max_length: words to generate (at most the model's ``max_length``).
        Returns:
            captions: (N, max_length) int32, without the ``<START>`` word.
        """
        fn = "CaptioningTransformer.sample"
        if self._start is None:
            raise NpnetValueError(f"{fn}: the vocabulary has no '<START>' word to begin a caption with")
        max_length = _check.positive_int(fn, "max_length", max_length)
        if max_length > self.max_length:
            raise NpnetValueError(f"{fn}: max_length must be at most the model's max_length={self.max_length}; "
                                  f"got {max_length}")
        n = np.shape(features)[0] if np.ndim(features) else 0
        words = np.full((n, 1), self._start, dtype=np.int64)
        features, words = self._check_inputs(fn, features, words)
        captions = np.full((n, max_length), self._null, dtype=np.int32)
        done = np.zeros(n, dtype=bool)
        for t in range(max_length):
            # BEGIN SOLUTION
            scores = self._forward(features, words, train=False)[0]
            best = scores[:, -1].argmax(axis=1)
            captions[:, t] = np.where(done, self._null, best)
            words = np.concatenate([words, best[:, None]], axis=1)
            if self._end is not None:
                done |= best == self._end
                if done.all():
                    break
            # END SOLUTION
        return captions
