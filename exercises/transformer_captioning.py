# %% [markdown]
# # Image captioning with a Transformer (CS231n) with npnet
#
# The Transformer_Captioning assignment with the backward passes written in NumPy: check the gradients
# of attention (through a causal mask), multi-head attention and a decoder layer, look at the
# positional encoding, overfit a CaptioningTransformer on a small batch of captions, and look at what
# its self-attention heads attend to while it writes a caption. Run it as a script
# (`python exercises/transformer_captioning.py`) or cell by cell. Figures go to
# `$NPNET_FIGURES/transformer_captioning/`. Uses the COCO features when the data lookup finds them,
# else a small synthetic set in the same layout with the real vocabulary. About a minute on 2 CPU
# cores; `NPNET_EXERCISE_QUICK=1` trains 40 epochs instead of 100.

# %%
import numpy as np
from matplotlib.figure import Figure

from gradcheck import eval_numerical_gradient_array, rel_error
from npnet.data.coco import decode_captions, load_coco_data, make_synthetic_coco
from npnet.display import show
from npnet.exercise import exercise_setup
from npnet.layers import (causal_mask, multihead_attention_backward, multihead_attention_forward,
                          positional_encoding, scaled_dot_product_attention_backward,
                          scaled_dot_product_attention_forward)
from npnet.models.transformer import CaptioningTransformer
from npnet.solver import CaptioningSolver, plot_loss_history

OUT, QUICK = exercise_setup("transformer_captioning")  # the figures folder, quick mode, one BLAS thread

# %% [markdown]
# ## Scaled dot-product attention
# `softmax(q k^T / sqrt(d)) v`, with a mask that hides the future from each query. The backward pass
# goes through the softmax's Jacobian: `dscores = A * (dA - sum_j dA * A)` row by row.

# %%
rng = np.random.default_rng(231)
q, k, v = rng.standard_normal((2, 2, 4, 3)), rng.standard_normal((2, 2, 4, 3)), rng.standard_normal((2, 2, 4, 5))
out, cache = scaled_dot_product_attention_forward(q, k, v, causal_mask(4))
dout = rng.standard_normal(out.shape)
grads = scaled_dot_product_attention_backward(dout, cache)
for i, name in enumerate(("dq", "dk", "dv")):
    def f(x, i=i):
        args = [q, k, v]
        args[i] = x
        return scaled_dot_product_attention_forward(*args, causal_mask(4))[0]
    print(f"{name} relative error: {rel_error(eval_numerical_gradient_array(f, [q, k, v][i].copy(), dout), grads[i]):.2e}")
print("attention weights of the first query (it may only see itself):", cache[3][0, 0, 0])

# %% [markdown]
# ## Multi-head attention
# Project, split E features into H heads, attend, merge, project again. In self-attention one sequence
# is the query, the key and the value, so its gradient is the sum of the three.

# %%
E, H = 6, 3
x = rng.standard_normal((2, 4, E))
weights = [rng.standard_normal((E, E)) / np.sqrt(E) if i % 2 == 0 else 0.1 * rng.standard_normal(E) for i in range(8)]
out, cache = multihead_attention_forward(x, x, x, *weights, H, causal_mask(4))
dout = rng.standard_normal(out.shape)
dquery, dkey, dvalue, *dweights = multihead_attention_backward(dout, cache)
numeric = eval_numerical_gradient_array(lambda z: multihead_attention_forward(z, z, z, *weights, H, causal_mask(4))[0],
                                        x.copy(), dout)
print(f"self-attention dx relative error: {rel_error(numeric, dquery + dkey + dvalue):.2e}")
print(f"dbk is {np.abs(dweights[3]).max():.1e}: a key bias shifts a whole row of scores, which softmax ignores")

# %% [markdown]
# ## Positional encoding
# Each pair of features rotates at its own frequency, `sin(i 10000^(-j/E))` and `cos(...)`.

# %%
fig = Figure(figsize=(8, 3.5))
ax = fig.subplots()
im = ax.imshow(positional_encoding(50, 64).T, aspect="auto", cmap="RdBu")
ax.set_xlabel("position")
ax.set_ylabel("feature")
fig.colorbar(im, ax=ax)
show(fig, OUT / "positional_encoding.png")

# %% [markdown]
# ## Overfitting a small batch
# As in the course: a CaptioningTransformer trained on a few captions must drive the loss close to 0.

# %%
try:
    data = load_coco_data(max_train=50, pca_features=True)
except FileNotFoundError:
    base_dir = make_synthetic_coco(OUT / "synthetic_coco", num_train=50, num_val=10, num_train_images=50, seed=0)
    data = load_coco_data(base_dir)
    print(f"COCO captioning data not found: using a synthetic set (real vocabulary) written to {base_dir}")
small = dict(data, train_captions=data["train_captions"][:20], train_image_idxs=data["train_image_idxs"][:20])
model = CaptioningTransformer(data["word_to_idx"], input_dim=data["train_features"].shape[1], wordvec_dim=64,
                              num_heads=2, num_layers=2, max_length=30, dim_feedforward=128, rng=231)
solver = CaptioningSolver(model, small, update_rule="adam", num_epochs=40 if QUICK else 100, batch_size=10,
                          optim_config={"learning_rate": 5e-3}, verbose=False, rng=np.random.default_rng(0))
solver.train()
print(f"loss {solver.loss_history[0]:.2f} -> {solver.loss_history[-1]:.3f}")
show(plot_loss_history(solver.loss_history, OUT / "loss_history.png"))

# %% [markdown]
# ## What the heads look at
# Greedy decoding of a training image's caption, then one pass over the generated words: the weights
# of each head of the first layer's masked self-attention (row: the word being predicted from; column:
# the earlier words it attends to). The image enters through cross-attention to its single feature
# token, whose weights are all 1.

# %%
features = small["train_features"][small["train_image_idxs"][:1]]
sampled = model.sample(features, max_length=12)
words = decode_captions(sampled, model.idx_to_word)
print("truth: ", decode_captions(small["train_captions"][:1], data["idx_to_word"]))
print("sample:", words)
tokens = np.concatenate([[model.word_to_idx["<START>"]], sampled[0]])
length = int(np.argmax(tokens == model.word_to_idx["<END>"])) or len(tokens)
tokens = tokens[:length]
_, (_, _, _, layer_caches, _) = model._forward(features.astype(model.dtype), tokens[None], train=False)
self_attention_cache = layer_caches[0][0]   # the first layer's masked self-attention
attention = self_attention_cache[3][3][0]   # its scaled dot-product cache's weights: (H, T, T)
labels = [model.idx_to_word[int(t)] for t in tokens]
fig = Figure(figsize=(10, 4.5))
for h, ax in enumerate(fig.subplots(1, attention.shape[0])):
    ax.imshow(attention[h], cmap="magma", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_title(f"layer 1, head {h + 1}")
show(fig, OUT / "attention_maps.png")

# %% [markdown]
# ## Inline question 1
# Why is the dot product divided by sqrt(d) before the softmax?

# %% [markdown]
# BEGIN ANSWER
# **Answer.** For queries and keys with independent unit-variance entries, q . k is a sum of d terms with
# variance d, so its typical size grows like sqrt(d). Large scores push the softmax into saturation: one
# weight near 1, the others near 0, and gradients near 0 for all of them. Dividing by sqrt(d) keeps the
# scores' variance near 1 whatever the head size, so attention stays soft and trainable.
# END ANSWER
