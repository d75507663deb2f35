# %% [markdown]
# # Network visualization (CS231n) with npnet
#
# Saliency maps, guided backprop, Grad-CAM, integrated gradients, occlusion, fooling images and class
# visualization on a pretrained SqueezeNet 1.1, every gradient computed by npnet's own layers.
# Run it as a script (`python exercises/network_visualization.py`) or cell by cell (`# %%`) in an
# editor. Figures go to `$NPNET_FIGURES/network_visualization/` (default `./figures/...`).
# Needs the weights and the ImageNet sample (`NPNET_WEIGHTS`, `NPNET_DATA`). On 2 idle CPU cores the
# whole script takes about half a minute, mostly the class visualizations; `NPNET_EXERCISE_QUICK=1` runs
# every cell on 2 images with far fewer steps, in seconds.

# %%
import os
from pathlib import Path

import numpy as np

from npnet.data.imagenet import load_imagenet_val
from npnet.display import show
from npnet.image import preprocess
from npnet.models.squeezenet import squeezenet1_1
from npnet.vis import (compute_saliency_maps, create_class_visualization, format_randomization_table, grad_cam,
                       guided_backprop, integrated_gradients, make_fooling_image, model_randomization_test,
                       occlusion, resize_bilinear, smoothgrad)
from npnet.vis.figures import (attribution_figure, class_visualization_figure, fooling_figure,
                               randomization_figure)

QUICK = os.environ.get("NPNET_EXERCISE_QUICK") == "1"  # a short run that still executes every cell
OUT = Path(os.environ.get("NPNET_FIGURES", "figures")) / "network_visualization"
model = squeezenet1_1()
X_raw, y, class_names = load_imagenet_val(num=2 if QUICK else 5)
X = np.concatenate([preprocess(img) for img in X_raw])
titles = [class_names[c].split(",")[0] for c in y]

# %% [markdown]
# ## Saliency maps (Simonyan et al. 2014)
# The gradient of the correct class score with respect to the pixels, absolute value, max over the
# colour channels. SmoothGrad averages it over noisy copies of the image.

# %%
saliency = compute_saliency_maps(X, y, model)
smooth = smoothgrad(X, y, model, n_samples=4 if QUICK else 25, seed=0)
show(attribution_figure(OUT / "saliency.png", X, [("saliency", saliency, "heat"), ("SmoothGrad", smooth, "heat")],
                        titles))

# %% [markdown]
# ## Guided backprop, Grad-CAM and guided Grad-CAM ("example outputs part 1")

# %%
gbp = guided_backprop(X, y, model)
cam = grad_cam(X, y, model)  # features[12], the last fire module
rows = [("saliency", saliency, "heat"), ("guided backprop", gbp, "rgb"), ("Grad-CAM", cam, "overlay"),
        ("guided Grad-CAM", gbp * cam[:, None], "rgb")]
show(attribution_figure(OUT / "attribution.png", X, rows, titles))

# %% [markdown]
# ## Integrated gradients and occlusion
# IG's completeness: the attributions add up to s(X) - s(baseline), up to the quadrature error delta.

# %%
ig, delta = integrated_gradients(X, y, model, steps=8 if QUICK else 50)
gap = model.forward(X)[np.arange(len(y)), y] - model.forward(np.zeros_like(X))[np.arange(len(y)), y]
print("IG |delta| / |s(X) - s(0)|:", np.round(np.abs(delta) / np.abs(gap), 4))
occ = occlusion(X, y, model, window=32, stride=64 if QUICK else 16)
occ_full = resize_bilinear(np.maximum(occ, 0), (224, 224))  # the 13x13 grid of drops, stretched to the image
show(attribution_figure(OUT / "ig_occlusion.png", X,
                        [("integrated gradients", ig, "rgb"), ("occlusion (score drop)", occ_full, "overlay")],
                        titles))

# %% [markdown]
# ## Fooling images
# Normalised gradient ascent on the target score until the network predicts it.

# %%
target_y = 6  # stingray
X_fooling, info = make_fooling_image(X[:1], target_y, model, max_iter=10 if QUICK else 100, return_info=True,
                                       progress=True)
print(f"fooled: {info['success'][0]}, after {info['iterations'][0]} steps; "
      f"prediction now {class_names[model.forward(X_fooling)[0].argmax()]}")
show(fooling_figure(OUT / "fooling.png", X[:1], X_fooling, titles[0], class_names[target_y].split(",")[0]))

# %% [markdown]
# ## Class visualization (Simonyan et al. 2014; Yosinski et al. 2015)

# %%
classes = [76, 78, 187, 683, 366, 604]  # tarantula, tick, Yorkshire terrier, oboe, gorilla, hourglass
if QUICK:
    classes = classes[:2]
images = []
for c in classes:
    img = create_class_visualization(c, model, num_iterations=10 if QUICK else 100, image_size=112 if QUICK else 224,
                                     seed=0, progress=True, generate_plots=False)  # the grid below shows them
    scores = model.forward(img)[0]
    print(f"{class_names[c]}: score {scores[c]:.1f}, top-1 {class_names[scores.argmax()]}")
    images.append(img)
show(class_visualization_figure(OUT / "class_visualization.png", images,
                                [class_names[c].split(",")[0] for c in classes]))

# %% [markdown]
# ## Class visualization as it runs, and for a random class
# The tarantula image at iterations 1, 25, 50, 75 and 100 (the course's snapshots), then a class drawn
# at random.

# %%
iters = 8 if QUICK else 100
snapshots = []
create_class_visualization(76, model, num_iterations=iters, show_every=max(1, iters // 4), seed=0,
                           image_size=112 if QUICK else 224, progress=True,
                           callback=lambda t, img: snapshots.append((t + 1, img.copy())))
random_class = int(np.random.default_rng(231).integers(model.num_classes))
img = create_class_visualization(random_class, model, num_iterations=iters, image_size=112 if QUICK else 224, seed=0,
                                 progress=True, generate_plots=False)
print(f"random class {random_class} ({class_names[random_class]}): score {model.forward(img)[0, random_class]:.1f}")
show(class_visualization_figure(OUT / "class_visualization_iterations.png", [im for _, im in snapshots] + [img],
                                [f"tarantula, iteration {t}" for t, _ in snapshots]
                                + [f"random class: {class_names[random_class].split(',')[0]}"], columns=6))

# %% [markdown]
# ## Sanity check: cascading model randomization (Adebayo et al. 2018)
# Re-initialise the layers from the top down; a map that explains the model should decorrelate from
# the original. Guided backprop barely changes.

# %%
result = model_randomization_test(X, y, model, max_stages=3 if QUICK else None)
print(format_randomization_table(result))
show(randomization_figure(OUT / "randomization.png", result))

# %% [markdown]
# ## Inline question 1
# A friend suggests: to find an image that maximises the correct class's score, do gradient ascent on the
# image, but step along the saliency map instead of the gradient. Is that a sound idea? Why or why not?

# %% [markdown]
# BEGIN ANSWER
# **Answer.** No. The saliency map is the absolute value of the gradient, maximised over the colour
# channels: it throws away the sign (whether raising a pixel raises or lowers the score) and which channel
# matters, and it is the same for every channel. Stepping along it raises every salient pixel in all
# three channels, including those whose gradient is negative, so the score can go down; it is not an
# ascent direction. It answers "which pixels matter", not "which way to change them".
# END ANSWER

# %% [markdown]
# ## Inline question 2
# The fooling images above change the predicted class, yet differ from the originals by changes too small
# to see. What does that say about the classifier?

# %% [markdown]
# BEGIN ANSWER
# **Answer.** The network's decision depends on directions in pixel space that carry no visible meaning:
# in a very high-dimensional input, many tiny per-pixel changes aligned with the gradient add up to a large
# change of the score (the network is close to linear locally). So high accuracy does not mean the model
# uses the features a person would, and its predictions are not robust to small adversarial perturbations.
# END ANSWER
