# %% [markdown]
# # Self-supervised learning with SimCLR (CS231n) with npnet
#
# The Self_Supervised_Learning assignment in NumPy: the cosine similarity and the SimCLR (NT-Xent)
# loss, naive and vectorised, with its gradient checked numerically; augmentations for MNIST; a short
# contrastive pre-training of a small conv encoder on the MNIST sample without labels; and the linear
# probe that compares its frozen features with those of a random encoder. Run it as a script
# (`python exercises/self_supervised.py`) or cell by cell. Figures go to `$NPNET_FIGURES/self_supervised/`.
# About a minute and a half on 2 CPU cores; `NPNET_EXERCISE_QUICK=1` pre-trains on 1,000 images for one epoch.

# %%
import numpy as np
from matplotlib.figure import Figure

from gradcheck import eval_numerical_gradient_array, rel_error
from npnet.data.mnist import load_mnist
from npnet.display import show
from npnet.exercise import exercise_setup
from npnet.models.simclr import (SimCLR, augment, compute_sim_matrix, extract_features, make_encoder, sim,
                                 sim_positive_pairs, simclr_loss_naive, simclr_loss_vectorized,
                                 train_linear_probe)

OUT, QUICK = exercise_setup("self_supervised")  # the figures folder, quick mode, one BLAS thread

# %% [markdown]
# ## The similarity and the loss
# `sim(z_i, z_j)` is the cosine similarity. For 2N augmented examples (two views of N images), the loss
# of row i with partner p(i) is `-log(exp(sim(z_i, z_p(i))/tau) / sum_{k != i} exp(sim(z_i, z_k)/tau))`,
# averaged over the 2N rows. The naive version loops; the vectorised one builds the (2N, 2N)
# similarity matrix once, and returns the gradient too.

# %%
rng = np.random.default_rng(231)
left, right = rng.standard_normal((6, 8)), rng.standard_normal((6, 8))
print("sim of the first pair:", sim(left[0], right[0]), "=", sim_positive_pairs(left, right)[0, 0])
matrix = compute_sim_matrix(np.concatenate([left, right]))
print("similarity matrix", matrix.shape, "diagonal all 1:", np.allclose(np.diag(matrix), 1))
loss, dleft, dright = simclr_loss_vectorized(left, right, 0.5)
print(f"loss naive {simclr_loss_naive(left, right, 0.5):.10f}, vectorised {loss:.10f}")
for name, z, analytic in (("dleft", left, dleft), ("dright", right, dright)):
    def f(zz, name=name):
        pair = (zz, right) if name == "dleft" else (left, zz)
        return np.array(simclr_loss_vectorized(*pair, 0.5)[0])
    print(f"{name} relative error: {rel_error(eval_numerical_gradient_array(f, z.copy(), np.array(1.0)), analytic):.2e}")

# %% [markdown]
# ## Augmentations
# Two random views of each digit: a random crop resized back to 28 x 28, a small rotation, zoom and
# shift, and pixel noise. The encoder must map both views of a digit close together and away from the
# other digits' views.

# %%
X, y = load_mnist("train")
X_test, y_test = load_mnist("test")
views = [augment(X[:8], rng) for _ in range(2)]
fig = Figure(figsize=(8, 3.2))
axes = fig.subplots(3, 8)
for j in range(8):
    for row, image in enumerate((X[j], views[0][j], views[1][j])):
        axes[row, j].imshow(image[0], cmap="gray", vmin=0, vmax=1)
        axes[row, j].axis("off")
fig.suptitle("an image (top) and two random views of it")
show(fig, OUT / "augmentations.png")

# %% [markdown]
# ## Contrastive pre-training
# A conv encoder (two conv-ReLU-pool stages, 64 features) and a projection head, trained with Adam on
# batches of 128 images (256 views) without any label.

# %%
train_images = X[:1000] if QUICK else X
model = SimCLR(tau=0.5, rng=0)
history = model.fit(train_images, epochs=1 if QUICK else 5, batch_size=128, learning_rate=1e-3, verbose=True)
print(f"{len(history)} steps: loss {np.mean(history[:3]):.3f} -> {np.mean(history[-3:]):.3f}")

# %% [markdown]
# The similarity matrix of 16 images' two views after training: row k's partner is column k + 16
# (the bright off-diagonals); a random encoder does not single it out as well.

# %%
batch = X_test[:16]
pair = np.concatenate([augment(batch, rng), augment(batch, rng)])
fig = Figure(figsize=(9, 4.2))
for ax, (title, encoder) in zip(fig.subplots(1, 2), (("SimCLR encoder", model.encoder),
                                                     ("random encoder", make_encoder(rng=1)))):
    model.head.eval()
    z = model.head.forward(extract_features(encoder, pair)) if encoder is model.encoder else \
        extract_features(encoder, pair)
    im = ax.imshow(compute_sim_matrix(z), cmap="viridis", vmin=-1, vmax=1)
    ax.set_title(title)
fig.colorbar(im, ax=fig.axes)
show(fig, OUT / "similarity_matrix.png")

# %% [markdown]
# ## Linear probe
# Freeze the encoder, train a softmax classifier on its features with the labels, and test it on the
# held-out digits; the same probe on a randomly initialised encoder is the baseline.

# %%
features, features_test = extract_features(model.encoder, X), extract_features(model.encoder, X_test)
probe = train_linear_probe(features, y, features_test, y_test, epochs=30 if QUICK else 100, rng=0)
random_encoder = make_encoder(rng=1)
baseline = train_linear_probe(extract_features(random_encoder, X), y, extract_features(random_encoder, X_test),
                              y_test, epochs=30 if QUICK else 100, rng=0)
print(f"linear probe: SimCLR encoder {probe:.3f}, random encoder {baseline:.3f}")

# %% [markdown]
# The learned features of the held-out digits, projected on their first two principal components and
# coloured by the (unused) label.

# %%
centred = features_test - features_test.mean(axis=0)
_, _, vt = np.linalg.svd(centred, full_matrices=False)
xy = centred @ vt[:2].T
fig = Figure(figsize=(6, 5))
ax = fig.subplots()
points = ax.scatter(xy[:, 0], xy[:, 1], c=y_test, cmap="tab10", s=6)
fig.colorbar(points, ax=ax, label="digit")
ax.set_title("SimCLR features of held-out digits (PCA)")
show(fig, OUT / "features_pca.png")

# %% [markdown]
# ## Inline question 1
# Why does SimCLR compute the loss on the projection head's output z but evaluate (and keep) the
# encoder's features h?

# %% [markdown]
# BEGIN ANSWER
# **Answer.** The contrastive loss asks z to be invariant to the augmentations, so the head learns to
# throw away what the augmentations change (position, scale, colour, noise). Placing that loss after
# a projection lets h keep more information than z needs for the pretext task, which transfers better
# to downstream tasks; SimCLR found the probe on h much better than on z.
# END ANSWER
