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

import numpy as np
from matplotlib.figure import Figure

from gradcheck import rel_error
from npnet.data.lookup import find_data
from npnet.display import show
from npnet.exercise import exercise_setup
from npnet.models import gan

OUT, QUICK = exercise_setup("gans")  # the figures folder, quick mode, one BLAS thread
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
# The DCGAN generator has 6,580,801 trainable parameters (the PyTorch notebook's count); the TensorFlow
# notebook prints 6,595,521 because its framework also counts batch norm's running means and variances
# (14,720 values): `count_params(model, buffers=True)` gives that count.

# %%
for name, net, expected in [("discriminator", gan.discriminator(), 267009), ("generator(4)", gan.generator(4), 1858320),
                            ("dc_discriminator", gan.dc_discriminator(), 1102721),
                            ("dc_generator(4)", gan.dc_generator(4), 6580801)]:
    count = gan.count_params(net)
    print(f"{name:17s} {count:9,d} parameters ({'correct' if count == expected else f'expected {expected:,d}'})")
count = gan.count_params(gan.dc_generator(4), buffers=True)
print(f"dc_generator(4) with batch norm's running statistics: {count:,d} "
      f"({'correct' if count == 6595521 else 'expected 6,595,521'}, the TensorFlow notebook's count)")


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
    show(samples_figure(histories[model], f"{model} GAN"), OUT / f"{model}_samples.png")

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
show(fig, OUT / "loss_curves.png")

# %% [markdown]
# ## Inline question 1: alternating gradient steps on min_x max_y xy
# Take f(x, y) = xy. What is min_x max_y f(x, y)? Then run alternating gradient steps with step size 1
# from (x_0, y_0) = (1, 1): first update y (ascent: y_{t+1} = y_t + x_t), then update x using that
# updated y (descent: x_{t+1} = x_t - y_{t+1}). Write the update in terms of x_t, y_t, x_{t+1}, y_{t+1},
# take six steps, and fill in the tables y_0..y_6 and x_0..x_6.
# `npnet.models.minimax.alternating_minimax` takes the steps (fill in its block) and `minimax_table`
# prints them in the layout of the question.

# %%
from npnet.models.minimax import alternating_minimax, minimax_table

ys, xs = alternating_minimax(1.0, 1.0, steps=6, step_size=1.0)
print(minimax_table(ys, xs))
fig = Figure(figsize=(4, 4), dpi=80)
ax = fig.add_subplot()
ax.plot(xs, ys, "o-")
for step in range(len(xs) - 1):
    ax.annotate(str(step), (xs[step], ys[step]), textcoords="offset points", xytext=(6, 6))
ax.plot([0], [0], "r*", ms=12, label="equilibrium (0, 0)")
ax.set(xlabel="x", ylabel="y", title="alternating steps on min_x max_y xy")
ax.legend()
show(fig, OUT / "minimax_cycle.png")

# %% [markdown]
# BEGIN ANSWER
# **Answer.** For a fixed x != 0, max_y xy is +infinity (y grows with the sign of x), and for x = 0 it
# is 0, so min_x max_y xy = 0, reached at x = 0 (with (0, 0) the saddle point). The steps:
#
# $y_0$ | $y_1$ | $y_2$ | $y_3$ | $y_4$ | $y_5$ | $y_6$
# ----- | ----- | ----- | ----- | ----- | ----- | -----
#   1   |   2   |   1   |  -1   |  -2   |  -1   |   1
#
# $x_0$ | $x_1$ | $x_2$ | $x_3$ | $x_4$ | $x_5$ | $x_6$
# ----- | ----- | ----- | ----- | ----- | ----- | -----
#   1   |  -1   |  -2   |  -1   |   1   |   2   |   1
# END ANSWER

# %% [markdown]
# ## Inline question 2
# With these steps, do we ever reach the optimal value? Why or why not?

# %% [markdown]
# BEGIN ANSWER
# **Answer.** No. After six steps (x, y) is back at (1, 1): the iterates orbit the equilibrium (0, 0) and
# the cycle repeats forever, never getting closer. Each player's step undoes the other's progress, so
# gradient steps on a two-player game need not converge, which is one reason GAN training oscillates.
# END ANSWER

# %% [markdown]
# ## Inline question 3
# The generator's loss falls during training while the discriminator's loss stays high and constant
# from the start. Is that a good sign? Why or why not? (A qualitative answer is enough.)

# %% [markdown]
# BEGIN ANSWER
# **Answer.** No. A discriminator that never improves gives the generator no useful signal: the generator
# "wins" against a judge that cannot tell real from fake (too weak, or broken), so a falling generator
# loss says nothing about sample quality. Healthy training keeps the two losses in balance.
# END ANSWER
