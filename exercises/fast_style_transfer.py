# %% [markdown]
# # Fast style transfer with conditional instance norm (optional part of the style-transfer assignment)
#
# Gatys' style transfer optimises the pixels of every new image: 200 Adam steps through SqueezeNet.
# Johnson et al. (2016) instead train an image transformation network once, with the same content and
# style losses, so that one forward pass stylises any photograph. Dumoulin et al. (2017) showed that one
# network can hold several styles: only the scale and shift (gamma, beta) of its instance normalisations
# change with the style (conditional instance norm), and mixing those pairs blends the styles.
#
# Run it as a script (`python exercises/fast_style_transfer.py`) or cell by cell (`# %%`). Figures go to
# `$NPNET_FIGURES/fast_style_transfer/` (default `./figures/...`). Needs the weights and the style images
# (`NPNET_WEIGHTS`, `NPNET_DATA`). The full run trains the README's recipe (300 steps, three styles:
# about 3 CPU minutes, 6 min wall at load 4); `NPNET_FAST_STYLE_CHECKPOINT=path.npz` uses a network
# trained before (e.g. by `npnet style train`), and `NPNET_EXERCISE_QUICK=1` trains a tiny one for a
# few steps (a check that every cell runs, not pictures to keep).

# %%
import os
import time
from pathlib import Path

import numpy as np

from gradcheck import rel_error
from npnet.display import show
from npnet.layers import (conditional_instance_norm_forward, conditional_instance_norm_forward_naive,
                          instance_norm_forward)
from npnet.models.squeezenet import squeezenet1_1
from npnet.style import PRESETS, style_transfer
from npnet.style.fast import (fast_style_losses, load_fast_style, loss_figure, stylize, style_mix,
                              train_fast_style)
from npnet.style.figures import image_row
from npnet.style.transfer import load_input

QUICK = os.environ.get("NPNET_EXERCISE_QUICK") == "1"  # a short run that still executes every cell
OUT = Path(os.environ.get("NPNET_FIGURES", "figures")) / "fast_style_transfer"
CHECKPOINT = os.environ.get("NPNET_FAST_STYLE_CHECKPOINT")
STYLES = ["starry_night", "the_scream", "composition_vii"]
model = squeezenet1_1()

# %% [markdown]
# ## Conditional instance norm
# Write `conditional_instance_norm_forward` and `_backward` in `npnet/layers/norm.py`, then check them with
# `python -m gradcheck conditional_instance_norm`. A one-hot style must give plain instance norm with that
# style's row; a blend must give instance norm with the blended (gamma, beta).

# %%
rng = np.random.default_rng(0)
x, gammas, betas = rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
w = np.array([0.2, 0.5, 0.3])
one_hot = conditional_instance_norm_forward(x, gammas, betas, 1)[0]
blend = conditional_instance_norm_forward(x, gammas, betas, w)[0]
print(f"one-hot vs instance norm: rel error {rel_error(one_hot, instance_norm_forward(x, gammas[1], betas[1])[0]):.1e}")
print(f"blend vs mixed rows:      rel error {rel_error(blend, instance_norm_forward(x, w @ gammas, w @ betas)[0]):.1e}")
print(f"naive vs vectorised:      rel error "
      f"{rel_error(conditional_instance_norm_forward_naive(x, gammas, betas, w), blend):.1e}")

# %% [markdown]
# ## Training one network for three styles
# Each step stylises a batch of random crops of photographs (the ImageNet sample and the course's photos),
# the batch cycling through the styles; the loss is Gatys' (the Starry Night preset's weights), its
# gradient with respect to each output image comes from SqueezeNet's backward pass, and the network's own
# backward pass takes it to every weight.

# %%
if CHECKPOINT:
    net, info, losses = load_fast_style(CHECKPOINT)
    STYLES = info["styles"]
else:
    recipe = (dict(iterations=8, batch_size=2, crop=48, style_size=64, learning_rate=1e-2, channels=(8, 8, 16),
                   num_residual=1, kernel=3) if QUICK else dict(iterations=300, batch_size=4, crop=128))
    start = time.perf_counter()
    result = train_fast_style(STYLES, model=model, **recipe)
    print(f"trained {recipe['iterations']} steps in {time.perf_counter() - start:.0f} s")
    net, losses = result.net, result.losses
show(loss_figure(OUT / "fast_style_losses.png", losses))

# %% [markdown]
# ## One forward pass per style, and a blend
# The Tübingen photograph in each style, then half Starry Night and half The Scream: the (gamma, beta)
# pairs of the two styles averaged in every normalisation.

# %%
size = 96 if QUICK else 256
photo = load_input("exercise", "styles/tubingen.jpg", size)
images, titles = [photo], ["content"]
for k, name in enumerate(STYLES):
    start = time.perf_counter()
    images.append(stylize(net, photo, k))
    titles.append(f"{name} ({time.perf_counter() - start:.2f} s)")
images.append(stylize(net, photo, style_mix("exercise", {0: 0.5, 1: 0.5}, STYLES)))
titles.append(f"blend {STYLES[0]} + {STYLES[1]}")
show(image_row(OUT / "fast_style.png", images, titles, suptitle="fast style transfer: one network, three styles"))

# %% [markdown]
# ## Against Gatys' optimisation
# The same loss on the same image (Tübingen at 192 px, Starry Night): the trained network's single forward
# pass against 200 Adam steps on the pixels. The optimisation reaches a lower loss on its one image; the
# network trades some of it for speed and for working on any image.

# %%
_, fast = fast_style_losses(net, "styles/tubingen.jpg", "styles/starry_night.jpg", style=STYLES.index("starry_night"),
                            model=model)
start = time.perf_counter()
gatys = style_transfer(**PRESETS["starry_night"], num_iterations=10 if QUICK else 200, model=model, progress=False)
seconds = time.perf_counter() - start
print(f"style loss: content image {gatys.losses['style'][0]:.4g}, fast network {fast['style']:.4g}, "
      f"Gatys {gatys.losses['style'][-1]:.4g} ({seconds:.1f} s)")

# %% [markdown]
# ## Inline question
# Why can one network hold several styles when only the (gamma, beta) of its normalisations differ
# between them?

# %% [markdown]
# BEGIN ANSWER
# **Answer.** Instance normalisation removes each feature map's own mean and variance, so the statistics
# that the style loss's Gram matrices measure are set, layer after layer, by gamma and beta alone. The
# convolutions learn features shared by all styles (edges, textures, the layout of the content); choosing
# a style chooses how strongly and with what offset each of those features appears. Averaging two styles'
# pairs therefore moves those statistics between the two styles, which is why blending works.
# END ANSWER
