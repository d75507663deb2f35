# %% [markdown]
# # Visualizing and understanding CNNs (CS231n lecture) with npnet
#
# The lecture's activation-based methods on a pretrained SqueezeNet 1.1: first-layer filters,
# activation maps, maximally activating patches cut out with each unit's exact receptive field,
# nearest neighbours and 2-D embeddings in feature space, the (guided) gradient of one neuron, gradient
# ascent on one channel with Yosinski et al.'s regularisers, and occlusion maps of P(class).
# Run it as a script (`python exercises/understanding_cnns.py`) or cell by cell (`# %%`). Figures go to
# `$NPNET_FIGURES/understanding_cnns/` (default `./figures/...`). Needs the weights and the ImageNet
# sample (`NPNET_WEIGHTS`, `NPNET_DATA`); t-SNE needs the optional extra `pip install 'npnet[tsne]'`.
# `NPNET_EXERCISE_QUICK=1` runs every cell on fewer images with fewer steps.

# %%
import os
from pathlib import Path

import numpy as np

from npnet.data.imagenet import load_imagenet_val
from npnet.display import show
from npnet.image import preprocess
from npnet.models.squeezenet import squeezenet1_1
from npnet.vis import occlusion, resize_bilinear
from npnet.vis.activations import (activation_grid, filter_grid, layer_activations, max_activating_patches,
                                   nearest_neighbours, pca, pooled_features, receptive_field, tsne)
from npnet.vis.figures import (activation_figure, attribution_figure, class_visualization_figure, embedding_figure,
                               grid_figure, neighbours_figure, patches_figure)
from npnet.vis.neurons import unit_gradient, unit_visualization

QUICK = os.environ.get("NPNET_EXERCISE_QUICK") == "1"  # a short run that still executes every cell
OUT = Path(os.environ.get("NPNET_FIGURES", "figures")) / "understanding_cnns"
model = squeezenet1_1()
X_raw, y, class_names = load_imagenet_val(num=8 if QUICK else 25)
X = np.concatenate([preprocess(img) for img in X_raw])
short = [class_names[c].split(",")[0] for c in y]

# %% [markdown]
# ## First-layer filters
# SqueezeNet's conv1 has 64 filters of 3x3x3: shown as RGB, each stretched to its own range and
# upsampled so the 3x3 taps are visible. Deeper filters see many channels, so they are drawn one grey
# tile per input channel (here the first 16 3x3 filters of fire module 3, over its 16 squeeze channels).

# %%
show(grid_figure(OUT / "filters_conv1.png", filter_grid(model.features[0].params["weight"], upsample=8),
                 "features.0 (conv1): 64 filters, 3x3x3"))
show(grid_figure(OUT / "filters_fire3.png",
                 filter_grid(model.features[3].expand3x3.params["weight"][:16], upsample=4, per_channel=True),
                 "features.3.expand3x3: 16 filters (rows) x 16 input channels (columns)", width=6))

# %% [markdown]
# ## Activation maps
# Every channel of a layer for one image, on one grey scale (black = 0): most channels of a ReLU layer
# are zero almost everywhere.

# %%
for layer in (1, 6):
    A = layer_activations(model, X[:1], layer)[0]
    show(activation_figure(OUT / f"activations_features{layer}.png", X[:1],
                           activation_grid(A, upsample=2 if layer > 3 else 1),
                           f"features.{layer}: {A.shape[0]} channels of {A.shape[1]}x{A.shape[2]} ({short[0]})"))

# %% [markdown]
# ## Maximally activating patches
# For a few channels, the units that fire most over the sample images, each cut out with the unit's
# receptive field: size = 1 + sum (k - 1) * jump, computed from every kernel, stride and padding below
# the layer (a Fire module's 1x1 channels see less than its 3x3 channels). Grey margins are padding.

# %%
rows = []
for layer, channels in ((6, (10, 140)), (10, (5, 300))):
    for c in channels:
        field = receptive_field(model, layer, c)
        found = max_activating_patches(model, X, layer, c, k=6 if QUICK else 8)
        print(f"features.{layer} channel {c}: receptive field {field.size}x{field.size} (jump {field.jump}), "
              f"top activation {found.values[0]:.1f} in image {found.images[0]} ({short[found.images[0]]})")
        rows.append((f"features.{layer}\nchannel {c}", found))
show(patches_figure(OUT / "max_patches.png", rows))

# %% [markdown]
# ## Nearest neighbours: pixels vs features
# In pixel space (L2) the neighbours share colours and layout; with the 512-d pooled features of the
# last layer (cosine) they tend to share the class.

# %%
feats = pooled_features(model, X)
pixels = X.reshape(len(X), -1)
queries = [0, 1] if QUICK else [0, 3, 9]
k = 3 if QUICK else 5
by_pixels, _ = nearest_neighbours(pixels[queries], pixels, k=k + 1)
by_features, _ = nearest_neighbours(feats[queries], feats, k=k + 1, metric="cosine")
# each query is its own nearest neighbour (distance 0): drop it
blocks = [("pixels (L2)", by_pixels[:, 1:]), ("features.12 pooled (cosine)", by_features[:, 1:])]
for q, query in enumerate(queries):
    print(f"{short[query]}: pixel neighbours {[short[i] for i in blocks[0][1][q]]}, "
          f"feature neighbours {[short[i] for i in blocks[1][1][q]]}")
show(neighbours_figure(OUT / "neighbours.png", X, queries, blocks))

# %% [markdown]
# ## 2-D embeddings of the features
# PCA (an SVD of the centred 512-d features) and, if scikit-learn is installed, t-SNE.

# %%
Z, _, variance = pca(feats, 2)
print(f"PCA: the first two components explain {variance.sum() / feats.var(axis=0, ddof=1).sum():.0%} of the variance")
show(embedding_figure(OUT / "embedding_pca.png", Z, X, "PCA of the pooled features.12", labels=short))
try:
    show(embedding_figure(OUT / "embedding_tsne.png", tsne(feats, seed=0), X, "t-SNE of the pooled features.12",
                          labels=short))
except ImportError as exc:
    print(exc)

# %% [markdown]
# ## The gradient of one neuron
# d(unit)/d(image) for the most active unit of a channel, plain and guided (Springenberg et al. 2015):
# the guided version keeps only what excites the unit, and looks like the structure it detects.

# %%
n = 2 if QUICK else 4
layer, channel = 10, 300
plain, _ = unit_gradient(X[:n], model, layer, channel)
guided, positions = unit_gradient(X[:n], model, layer, channel, guided=True)
print(f"features.{layer} channel {channel}: most active units at {positions.tolist()}")
show(attribution_figure(OUT / "unit_gradients.png", X[:n],
                        [("gradient", plain, "rgb"), ("guided backprop", guided, "rgb")], short[:n]))

# %% [markdown]
# ## Gradient ascent on one channel (Yosinski et al. 2015)
# From a zero image (the mean colour): normalised gradient steps on the channel's mean activation, each
# followed by L2 decay, a Gaussian blur every 4 steps, and clipping of the pixels with the smallest
# norm and the smallest contribution. (A channel that is off for the mean-colour image has zero gradient
# and cannot start: `unit_visualization` warns, and `init="noise"` helps.)

# %%
targets = [(3, 100), (6, 10), (10, 300), (12, 171)][:2 if QUICK else 4]
images, titles = [], []
for layer, channel in targets:
    img, objective = unit_visualization(model, layer, channel, image_size=112 if QUICK else 160,
                                        num_iterations=15 if QUICK else 100, learning_rate=10, l2_decay=0.005,
                                        norm_percentile=5, contribution_percentile=5, progress=True)
    print(f"features.{layer} channel {channel}: mean activation {objective[0]:.2f} -> {objective[-1]:.2f}")
    images.append(img)
    titles.append(f"features.{layer} channel {channel}")
show(class_visualization_figure(OUT / "unit_visualization.png", images, titles, columns=4, rescale=True))

# %% [markdown]
# ## Occlusion: P(class) as a grey square slides over the image
# Zeiler & Fergus's maps: the probability of the true class with the square in place is low where the
# square hides the object. The score drop shows the same regions without the softmax's saturation.

# %%
n = 2 if QUICK else 3
stride = 56 if QUICK else 16
prob = occlusion(X[:n], y[:n], model, window=48, stride=stride, output="probability")
drop = occlusion(X[:n], y[:n], model, window=48, stride=stride)
print("P(class) min/max per image:", [f"{p.min():.2f}/{p.max():.2f}" for p in prob])
show(attribution_figure(OUT / "occlusion_probability.png", X[:n],
                        [("P(class), occluded", resize_bilinear(prob, (224, 224)), "heat"),
                         ("score drop", resize_bilinear(np.maximum(drop, 0), (224, 224)), "overlay")], short[:n]))

# %% [markdown]
# ## Integrated gradients (Sundararajan et al. 2017)
# The class score's gradient averaged along the straight path from a baseline (the mean image, 0 after
# normalisation) to the image, times (image - baseline). Completeness: the attributions sum to the score
# gap s_y(x) - s_y(baseline), up to the quadrature error `delta`, which shrinks as `steps` grows.

# %%
from npnet.vis.attribution import integrated_gradients

for steps in (4, 16) if QUICK else (8, 32):
    attributions, delta = integrated_gradients(X[:2], y[:2], model, steps=steps)
    gap = attributions.reshape(2, -1).sum(axis=1) - delta
    print(f"{steps:2d} steps: attributions sum - score gap = {np.round(delta, 3)} (score gaps {np.round(gap, 2)})")

# %% [markdown]
# ## DeepDream steps (Mordvintsev et al. 2015)
# Gradient ascent on 0.5 * ||a||^2 of a whole layer's activation a, from a real image: each step adds
# the gradient, normalised by its mean size and jittered, so whatever the layer already sees gets
# stronger. The objective grows from step to step.

# %%
from npnet.style.dream import dream_step

img, objective = X[:1].copy(), []
for t in range(2 if QUICK else 6):
    loss, img = dream_step(model, img, 10, step_size=0.05, ox=t % 3, oy=-(t % 2))
    objective.append(loss)
print("features.10 objective before each step:", np.round(objective, 1))
