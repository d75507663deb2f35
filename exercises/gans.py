# %% [markdown]
# # Generative adversarial networks (CS231n) with npnet
#
# A vanilla GAN (Goodfellow et al. 2014), a least-squares GAN (Mao et al. 2017) and a DCGAN (Radford et
# al. 2016) on the MNIST sample, every gradient hand-written: the losses in `npnet.models.gan`, the layers
# in `npnet.layers`. Run it as a script (`python exercises/gans.py`) or cell by cell (`# %%`). Figures go to
# `$NPNET_FIGURES/gans/` (default `./figures/gans/`). Needs the MNIST sample and the course's check file
# (`NPNET_DATA`). The full run trains 1,500 steps of each fully connected GAN and 300 of the DCGAN: tens of
# minutes on 2 CPU cores. `NPNET_GAN_ITERS` sets the fully connected GANs' steps (the DCGAN gets a fifth),
# and `NPNET_EXERCISE_QUICK=1` runs every cell with a handful of steps.

# %%
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from gradcheck import rel_error
from npnet.data.lookup import find_data
from npnet.image import save_figure
from npnet.models import gan

QUICK = os.environ.get("NPNET_EXERCISE_QUICK") == "1"  # a short run that still executes every cell
OUT = Path(os.environ.get("NPNET_FIGURES", "figures")) / "gans"
ITERS = int(os.environ.get("NPNET_GAN_ITERS", "6" if QUICK else "1500"))
DC_ITERS = max(ITERS // 5, 3)

# %% [markdown]
# ## The losses against the course's reference values
# Each loss returns the loss and its gradient with respect to its inputs (checked numerically by
# `python -m gradcheck gan`). The notebook asks for errors below 1e-7.

# %%
checks = np.load(find_data("checks/gan-checks.npz"))
real, fake = checks["logits_real"], checks["logits_fake"]
print(f"discriminator_loss    rel error {rel_error(checks['d_loss_true'], gan.discriminator_loss(real, fake)[0]):.1e}")
print(f"generator_loss        rel error {rel_error(checks['g_loss_true'], gan.generator_loss(fake)[0]):.1e}")
print(f"ls_discriminator_loss rel error "
      f"{rel_error(checks['d_loss_lsgan_true'], gan.ls_discriminator_loss(real, fake)[0]):.1e}")
print(f"ls_generator_loss     rel error {rel_error(checks['g_loss_lsgan_true'], gan.ls_generator_loss(fake)[0]):.1e}")

# %% [markdown]
# ## The networks and their parameter counts
# The notebook checks its networks by their number of parameters (generators with a noise dimension of 4).

# %%
for name, net, expected in [("discriminator", gan.discriminator(), 267009), ("generator(4)", gan.generator(4), 1858320),
                            ("dc_discriminator", gan.dc_discriminator(), 1102721),
                            ("dc_generator(4)", gan.dc_generator(4), 6580801)]:
    count = gan.count_params(net)
    print(f"{name:17s} {count:9,d} parameters ({'correct' if count == expected else f'expected {expected:,d}'})")


# %% [markdown]
# ## Training the three GANs
# `run_a_gan` alternates one discriminator step (fake images are constants there) with one generator
# step (the generator loss flows back through the discriminator into the fake images and on into G).
# It keeps 16 samples from a fixed noise batch every `show_every` steps.

# %%
def samples_figure(history, title):
    steps = sorted(history["samples"])
    fig = Figure(figsize=(8, 1.05 * len(steps) + 0.4), dpi=80)
    for r, step in enumerate(steps):
        for c, img in enumerate(history["samples"][step][:8]):
            ax = fig.add_subplot(len(steps), 8, r * 8 + c + 1)
            ax.imshow(img.reshape(28, 28), cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"{step}", rotation=0, ha="right", va="center")
    fig.suptitle(f"{title}: samples by iteration")
    return fig


histories = {}
for model, iters in [("vanilla", ITERS), ("ls", ITERS), ("dc", DC_ITERS)]:
    make_d, make_g, d_loss, g_loss = gan.MODELS[model]
    D, G = make_d(seed=0), make_g(seed=1)
    histories[model] = gan.run_a_gan(D, G, gan.get_solver(D), gan.get_solver(G), d_loss, g_loss,
                                     show_every=max(iters // 5, 1), num_iters=iters, seed=0)
    print(f"{model}: D loss {histories[model]['d_loss'][-1]:.3f}, G loss {histories[model]['g_loss'][-1]:.3f} "
          f"after {iters} steps")
    print(save_figure(samples_figure(histories[model], f"{model} GAN"), OUT / f"{model}_samples.png"))

# %% [markdown]
# ## Loss curves
# A GAN's losses do not fall to zero: each network's loss is the other's progress. A discriminator loss
# near 2 log 2 = 1.39 (vanilla) means D cannot tell real from fake.

# %%
fig = Figure(figsize=(10, 3), dpi=80)
for i, (model, history) in enumerate(histories.items()):
    ax = fig.add_subplot(1, 3, i + 1)
    ax.plot(history["d_loss"], lw=0.7, label="D")
    ax.plot(history["g_loss"], lw=0.7, label="G")
    ax.set(title=f"{model} GAN", xlabel="iteration")
    ax.legend()
fig.tight_layout()
print(save_figure(fig, OUT / "loss_curves.png"))

# %% [markdown]
# ## Inline question: alternating gradient steps on min_x max_y xy
# Start at (x, y) = (1, 1) with step size 1. Alternating updates: first x takes a gradient DEscent
# step on xy (x <- x - y), then y takes a gradient AScent step with the new x (y <- y + x).
# Write out the first six steps. What happens, and what does it tell you about GAN training?

# %%
x, y = 1.0, 1.0
trajectory = [(x, y)]
for _ in range(6):
    # BEGIN SOLUTION
    x = x - y
    y = y + x
    # END SOLUTION
    trajectory.append((x, y))
for step, (x, y) in enumerate(trajectory):
    print(f"step {step}: x = {x:+.0f}, y = {y:+.0f}")
fig = Figure(figsize=(4, 4), dpi=80)
ax = fig.add_subplot()
xs, ys = zip(*trajectory)
ax.plot(xs, ys, "o-")
for step, (x, y) in enumerate(trajectory[:-1]):
    ax.annotate(str(step), (x, y), textcoords="offset points", xytext=(6, 6))
ax.plot([0], [0], "r*", ms=12, label="equilibrium (0, 0)")
ax.set(xlabel="x", ylabel="y", title="alternating steps on min_x max_y xy")
ax.legend()
print(save_figure(fig, OUT / "minimax_cycle.png"))

# %% [markdown]
# **Answer.** (1, 1) -> (0, 1) -> (-1, 0) -> (-1, -1) -> (0, -1) -> (1, 0) -> (1, 1): after six steps the
# players are back where they started. Alternating gradient steps orbit the equilibrium (0, 0) instead of
# converging to it, so falling losses are not guaranteed in a two-player game: GAN training can cycle
# (the samples of a GAN on one digit sharpen and blur again), and the final losses say little about quality.
