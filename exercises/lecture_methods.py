# %% [markdown]
# # The lecture's remaining methods: the TV^beta prior, Efros-Leung textures, multifaceted visualisation
#
# Three methods from the "Visualizing and understanding CNNs" lecture on a pretrained SqueezeNet 1.1:
# Mahendran & Vedaldi's TV^beta prior for feature inversion (with its gradient checked), Efros & Leung's
# non-parametric texture synthesis beside Gatys' Gram-matrix synthesis from the same sample, and Nguyen
# et al.'s multifaceted class visualisation with its centre-biased regulariser. Run it as a script
# (`python exercises/lecture_methods.py`) or cell by cell (`# %%`). Figures go to
# `$NPNET_FIGURES/lecture_methods/` (default `./figures/...`). Needs the weights, the style images and the
# ImageNet sample (`NPNET_WEIGHTS`, `NPNET_DATA`). The whole script takes a few minutes on 2 CPU cores;
# `NPNET_EXERCISE_QUICK=1` runs every cell on small images with few steps.

# %%
import os
import time
from pathlib import Path

import numpy as np

from gradcheck import eval_numerical_gradient_array, rel_error
from npnet.data.imagenet import load_imagenet_val
from npnet.display import show
from npnet.image import load_image, preprocess
from npnet.models.squeezenet import squeezenet1_1
from npnet.style import feature_inversion, texture_synthesis, tv_loss
from npnet.style.efros_leung import efros_leung
from npnet.style.figures import image_grid, image_row
from npnet.style.priors import tv_beta_loss
from npnet.style.transfer import find_image, load_input
from npnet.vis.multifaceted import centre_mask, multifaceted_visualization

QUICK = os.environ.get("NPNET_EXERCISE_QUICK") == "1"  # a short run that still executes every cell
OUT = Path(os.environ.get("NPNET_FIGURES", "figures")) / "lecture_methods"
model = squeezenet1_1()

# %% [markdown]
# ## The TV^beta prior (Mahendran & Vedaldi 2015)
# `R(x) = w * sum_{c,i,j} ((x[i+1,j] - x[i,j])**2 + (x[i,j+1] - x[i,j])**2) ** (beta/2)`, the two
# differences of a pixel taken together (isotropic). beta = 2 is the course's `tv_loss`; smaller beta
# penalises one large jump less than many small ones, so edges survive. For beta < 2 the gradient is
# infinite where both differences are 0; `tv_beta_loss` adds eps = 1e-6 under the power (a sixteenth
# of a grey level in normalised units). First the checks: beta = 2 against `tv_loss`, then the gradient
# against centred differences in float64.

# %%
x = np.random.default_rng(0).standard_normal((1, 3, 6, 7))
print("beta = 2 vs tv_loss, loss:", rel_error(tv_beta_loss(x, 0.3, 2)[0], tv_loss(x, 0.3)[0]),
      "gradient:", rel_error(tv_beta_loss(x, 0.3, 2)[1], tv_loss(x, 0.3)[1]))
ramp = np.arange(6)[:, None] + 0.8 * np.arange(7)[None, :]  # keeps the border differences away from 0
x = 0.2 * np.random.default_rng(1).standard_normal((1, 3, 6, 7)) + ramp
for beta in (1, 1.5, 2, 3):
    numeric = eval_numerical_gradient_array(lambda z: np.array(tv_beta_loss(z, 0.3, beta)[0]), x, np.array(1.0))
    print(f"beta {beta}: gradient relative error {rel_error(numeric, tv_beta_loss(x, 0.3, beta)[1]):.1e}")

# %% [markdown]
# ### How beta changes an inverted image
# Inverting features[6] of the Tuebingen photograph from noise with beta = 1, 1.5, 2, 3. To compare the
# priors and not their scales, each weight is set so that the prior costs the ORIGINAL image the same as
# beta = 2 with weight 1.5 does (`w_beta = 1.5 * TV^2(x0) / TV^beta(x0)`: a strong prior, so that it shows). Expect beta = 1 to keep the
# sharpest edges (and some speckle), beta = 3 the smoothest, blob-like picture.

# %%
SIZE, ITERS = (64, 10) if QUICK else (128, 100)
x0 = load_input("exercise", "styles/tubingen.jpg", SIZE)
images, titles = [x0], ["original"]
for beta in (1, 1.5, 2, 3):
    weight = 1.5 * tv_beta_loss(x0, 1.0, 2)[0] / tv_beta_loss(x0, 1.0, beta)[0]
    result = feature_inversion("styles/tubingen.jpg", image_size=SIZE, content_layer=6, tv_weight=weight,
                               tv_beta=beta, num_iterations=ITERS, model=model, progress=False)
    images.append(result.image)
    titles.append(f"TV^{beta:g}, w = {weight:.3g}")
    print(f"beta {beta}: content loss {result.losses['content'][-1]:.4g}, prior {result.losses['tv'][-1]:.4g}")
show(image_row(OUT / "tv_beta.png", images, titles, suptitle="feature inversion of features[6] under TV^beta"))

# %% [markdown]
# ## Efros-Leung texture synthesis (1999) beside Gatys' Gram matrices (2015)
# Efros & Leung grow the texture one pixel at a time: the known pixels around an empty one are compared
# with every window of the sample (Gaussian-weighted SSD over the known pixels only), and the centre of
# one of the windows within (1 + 0.1) of the best match is copied. No network, no statistics: it copies
# the sample's local structure exactly, and wanders or repeats when the sample is not a stationary
# texture. Gatys et al. match SqueezeNet's Gram matrices instead, from noise. Same sample, both timed.

# %%
SAMPLE, TEXTURE, WINDOW, GATYS_ITERS = (32, 40, 7, 10) if QUICK else (64, 96, 11, 200)
sample = load_image(find_image("starry_night"), SAMPLE)
start = time.perf_counter()
el = efros_leung(sample, TEXTURE, window=WINDOW, seed=0)
el_seconds = time.perf_counter() - start
start = time.perf_counter()
gatys = texture_synthesis(preprocess(sample, None), image_size=TEXTURE, style_size=None, num_iterations=GATYS_ITERS,
                          model=model, progress=False)
gatys_seconds = time.perf_counter() - start
print(f"Efros-Leung {el_seconds:.1f} s, Gatys {gatys_seconds:.1f} s for a {TEXTURE}x{TEXTURE} texture "
      f"from a {sample.shape[0]}x{sample.shape[1]} sample")
show(image_row(OUT / "texture_methods.png", [preprocess(sample, None), preprocess(el, None), gatys.image],
               ["sample", f"Efros-Leung {WINDOW}x{WINDOW} ({el_seconds:.1f} s)",
                f"Gatys, {GATYS_ITERS} steps ({gatys_seconds:.1f} s)"],
               suptitle="texture synthesis from one sample"))

# %% [markdown]
# ## Multifaceted class visualisation (Nguyen et al. 2016), simplified
# npnet reaches 25 ImageNet images of 25 different classes, not the 1300 training images of one class.
# So the pool of "images of the class" is every sample image ranked by P(class), the best ten kept; their
# 512-d penultimate codes (SqueezeNet's pooled last fire module) are clustered by k-means (k-means++
# start, seeded), and class visualisation starts from each cluster's mean image. For "collie" the pool
# holds the dog photos and then images the network finds vaguely dog-like: the clusters separate them.
#
# The centre-biased regulariser confines each update to a centred square that grows from half the image
# to all of it over the first 3/4 of the steps, so the object is built in the middle first instead of
# as fragments all over the image. The masks at a few steps:

# %%
show(image_row(OUT / "centre_masks.png",
               [np.repeat(centre_mask((64, 64), t, 100)[None, None], 3, axis=1) for t in (0, 25, 50, 75)],
               [f"step {t} of 100" for t in (0, 25, 50, 75)], rescale=[True] * 4, height=1.8))

# %%
FACET_SIZE, FACET_ITERS, POOL = (64, 4, 6) if QUICK else (160, 60, 10)
X_raw, y, class_names = load_imagenet_val()
X = np.concatenate([preprocess(img, FACET_SIZE) for img in X_raw])
rows, labels = [], []
for c in (231, 817):  # collie, sports car
    for bias in (True, False):
        f = multifaceted_visualization(c, model, X, k=3, pool_size=POOL, seed=0, num_iterations=FACET_ITERS,
                                       centre_bias=bias)
        members = [[class_names[y[i]].split(",")[0] for i in f.pool[f.labels == j]] for j in range(3)]
        scores = [float(model.forward(img)[0, c]) for img in f.images]
        print(f"{class_names[c].split(',')[0]}, centre bias {bias}: facets {members}; scores "
              + ", ".join(f"{s:.1f}" for s in scores))
        rows.append(f.means + f.images)
        labels.append(f"{class_names[c].split(',')[0]}" + (", centre bias" if bias else ", no bias"))
show(image_grid(OUT / "facets.png", rows, labels, [f"mean {j + 1}" for j in range(3)]
                + [f"facet {j + 1}" for j in range(3)], suptitle="multifaceted class visualisation", height=2.0))
