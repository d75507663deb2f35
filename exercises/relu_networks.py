# %% [markdown]
# # What ReLU networks compute (problem set, questions 1.3-4)
#
# Threshold units and XOR, sub-pixel convolution vs transposed convolution, the affine piece a ReLU
# network computes at a point, and how depth multiplies the number of linear regions. Pure NumPy, no
# data needed; run it as a script (`python exercises/relu_networks.py`) or cell by cell (`# %%`).
# Figures go to `$NPNET_FIGURES/relu_networks/` (default `./figures/...`). A few seconds on one core;
# `NPNET_EXERCISE_QUICK=1` uses coarser grids.

# %%
import os

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gradcheck import rel_error  # noqa: E402
from npnet.display import show  # noqa: E402
from npnet.exercise import exercise_setup  # noqa: E402
from npnet.layers import conv_forward, conv_transpose_forward, pixel_shuffle_forward  # noqa: E402
from npnet.linalg import subpixel_to_transposed, transposed_to_subpixel  # noqa: E402
from npnet.nn import Linear, ReLU, Sequential  # noqa: E402
from npnet.relu_networks import (AND_UNIT, BOOLEAN_INPUTS, OR_UNIT, count_regions_grid,  # noqa: E402
                                 count_regions_line, fold_network, linearly_separable, local_linear,
                                 problem_set_network, threshold_unit, xor_relu_network, xor_threshold_network,
                                 zigzag_network)

OUT, QUICK = exercise_setup("relu_networks")  # the figures folder, quick mode, one BLAS thread
rng = np.random.default_rng(0)


def save(fig, name):
    """Write ``fig`` to OUT/name, show it under the cell in a notebook (print the path in a script), close it."""
    show(fig, OUT / name)
    plt.close(fig)


# %% [markdown]
# ## Threshold units: AND and OR, but not XOR
# A unit outputs 1 when w.x + b >= 0. AND and OR are each one unit; XOR is not linearly separable,
# which a linear program decides (no (w, b) puts (0,1), (1,0) above the line and (0,0), (1,1) below).
# Two layers solve it: XOR = OR and not AND, or with ReLUs relu(x1 + x2) - 2 relu(x1 + x2 - 1).

# %%
XOR = [0, 1, 1, 0]
print("x1 x2 | AND OR | XOR (threshold net) XOR (ReLU net)")
and_out, or_out = threshold_unit(BOOLEAN_INPUTS, *AND_UNIT), threshold_unit(BOOLEAN_INPUTS, *OR_UNIT)
xor_t, xor_r = xor_threshold_network(BOOLEAN_INPUTS), xor_relu_network().forward(BOOLEAN_INPUTS).ravel()
for x, a, o, t, r in zip(BOOLEAN_INPUTS.astype(int), and_out, or_out, xor_t, xor_r):
    print(f" {x[0]}  {x[1]} |  {a}   {o} |  {t}  {r:.0f}")
for name, labels in (("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1]), ("XOR", XOR)):
    ok, w, b = linearly_separable(BOOLEAN_INPUTS, labels)
    print(f"{name}: linearly separable: {ok}" + (f" (w = {np.round(w, 2)}, b = {b:.2f})" if ok else ""))

g = np.linspace(-0.5, 1.5, 201 if QUICK else 401)
G1, G2 = np.meshgrid(g, g)
grid = np.stack([G1.ravel(), G2.ravel()], axis=1)
panels = [("AND unit", threshold_unit(grid, *AND_UNIT), [0, 0, 0, 1]),
          ("OR unit", threshold_unit(grid, *OR_UNIT), [0, 1, 1, 1]),
          ("XOR, two threshold layers", xor_threshold_network(grid), XOR),
          ("XOR, ReLU net (value)", xor_relu_network().forward(grid).ravel(), XOR)]
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
for ax, (title, out, labels) in zip(axes, panels):
    im = ax.imshow(out.reshape(G1.shape), origin="lower", extent=(-0.5, 1.5, -0.5, 1.5), cmap="coolwarm")
    ax.scatter(*BOOLEAN_INPUTS.T, c=labels, cmap="coolwarm", edgecolors="k", s=120, vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xlabel("x1")
fig.colorbar(im, ax=axes[-1], shrink=0.8)
axes[0].set_ylabel("x2")
fig.tight_layout()
save(fig, "xor.png")

# %% [markdown]
# ## Sub-pixel convolution = transposed convolution
# A conv with O*r*r filters of size k followed by a pixel shuffle (Shi et al. 2016) computes exactly a
# stride-r transposed convolution with a kernel of size k*r: filter o*r*r + i*r + j provides the taps
# (k-1-a)*r + i, (k-1-b)*r + j of the big kernel. The other way round works for any transposed kernel
# size, crop and output padding (some sub-pixel taps are then zero).

# %%
for k, r, pad in [(1, 2, 0), (3, 2, 1), (3, 3, 0), (5, 2, 2)]:
    w = rng.standard_normal((2 * r * r, 3, k, k))
    x = rng.standard_normal((1, 3, 6, 6))
    sub = pixel_shuffle_forward(conv_forward(x, w, None, {"pad": pad})[0], r)[0]
    wt, _, param = subpixel_to_transposed(w, None, r, pad)
    err = rel_error(sub, conv_transpose_forward(x, wt, None, param)[0])
    print(f"sub-pixel conv k={k}, r={r}, pad={pad} -> transposed conv {wt.shape[2]}x{wt.shape[3]} {param}: "
          f"rel error {err:.1e}")
for kt, r, q, op in [(4, 2, 1, 0), (3, 2, 1, 1), (5, 3, 2, 2)]:
    wt = rng.standard_normal((3, 2, kt, kt))
    x = rng.standard_normal((1, 3, 5, 5))
    ref = conv_transpose_forward(x, wt, None, {"stride": r, "pad": q, "output_padding": op})[0]
    w, _, param, trim = transposed_to_subpixel(wt, None, r, q, op)
    sub = pixel_shuffle_forward(conv_forward(x, w, None, param)[0], r)[0][:, :, :ref.shape[2], :ref.shape[3]]
    print(f"transposed conv {kt}x{kt}, stride {r}, crop {q}, output_padding {op} -> sub-pixel filters "
          f"{w.shape}, pad {param['pad']}, trim {trim}: rel error {rel_error(sub, ref):.1e}")

k, r = 3, 2
w = rng.standard_normal((r * r, 1, k, k))
wt, _, _ = subpixel_to_transposed(w, None, r, 1)
fig, axes = plt.subplots(1, r * r + 1, figsize=(14, 3.2), gridspec_kw={"width_ratios": [1] * r * r + [2]})
for f in range(r * r):
    axes[f].imshow(w[f, 0], cmap="RdBu", vmin=-2.5, vmax=2.5)
    axes[f].set_title(f"sub-pixel filter {f} (i={f // r}, j={f % r})", fontsize=9)
axes[-1].imshow(wt[0, 0], cmap="RdBu", vmin=-2.5, vmax=2.5)
axes[-1].set_title(f"transposed kernel {k * r}x{k * r}: the filters interleaved, flipped", fontsize=9)
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
save(fig, "subpixel_transposed.png")

# %% [markdown]
# ## The affine piece at a point
# `local_linear(model, x)` is the Jacobian at x (one backward pass per output) and b = f(x) - w.x. The
# problem set's network (the handout's W1..b3, three pieces: 1, x + 3, 2x + 3) gives h(1) = 5 (w = 2, b = 3),
# h(-1) = 2, h(-0.5) = 2.5 (both w = 1, b = 3: the same piece) and h(-3) = 1.

# %%
h = problem_set_network()
xs = np.linspace(-4, 2, 601)
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.plot(xs, h.forward(xs[:, None]).ravel(), lw=2.5, color="k", label="h(x)")
for x0, colour in ((1.0, "tab:red"), (-1.0, "tab:blue"), (-0.5, "tab:green")):
    w, b = local_linear(h, np.array([x0]))
    print(f"h({x0}) = {h.forward(np.array([[x0]]))[0, 0]:g}, local piece w = {w[0]:g}, b = {b:g}")
    ax.plot(xs, w[0] * xs + b, "--", color=colour, label=f"piece at x = {x0}: {w[0]:g} x + {b:g}")
    ax.plot([x0], [w[0] * x0 + b], "o", color=colour)
ax.set_xlabel("x")
ax.legend(fontsize=8)
ax.set_title("local_linear on the problem set's network")
fig.tight_layout()
save(fig, "local_linear.png")

# %% [markdown]
# ## Counting linear regions
# Each activation pattern is one region (for a fixed pattern the network is affine, and the inputs with
# that pattern form a convex set). Folding [0, 1] with |2x - 1| maps each half onto all of [0, 1], so
# every further fold doubles the pieces: 2^L for L folds; composing f after g multiplies the counts;
# folding each of d coordinates L times gives 2^(L*d) regions (Montufar et al. 2014).

# %%
num = 4001 if QUICK else 20001
print("network                         regions  closed form")
for depth in (1, 2, 3, 4, 5):
    print(f"|2x-1| folded {depth} times{'':12s}{count_regions_line(fold_network(1, depth), 0, 1, num):6d}  "
          f"2^{depth} = {2 ** depth}")
for n_f, n_g in ((3, 5), (4, 6)):
    print(f"zig-zag {n_f} after zig-zag {n_g}{'':8s}{count_regions_line(zigzag_network([n_g, n_f]), 0, 1, num):6d}  "
          f"n_f * n_g = {n_f * n_g}")
for L, d in ((2, 2), (3, 2)):
    got = count_regions_line(zigzag_network([2 ** d] * L), 0, 1, num)
    print(f"{L} layers of 2^{d} pieces{'':10s}{got:6d}  2^(L*d) = {2 ** (L * d)}")
side = 128 if QUICK else 256
for L in (1, 2, 3):
    got = count_regions_grid(fold_network(2, L), [0, 0], [1, 0], [0, 1], side)
    print(f"[0,1]^2, both coordinates folded {L}x {got:4d}  2^(L*d) = {2 ** (2 * L)}")
width = 8
shallow = Sequential(Linear(2, width, dtype=np.float64, rng=1), ReLU(), Linear(width, 1, dtype=np.float64, rng=2))
deep = Sequential(*[m for i in range(3) for m in (Linear(2 if i == 0 else width, width, dtype=np.float64, rng=10 + i),
                                                  ReLU())], Linear(width, 1, dtype=np.float64, rng=20))
print(f"random nets on [-1, 1]^2: one layer of {width} ReLUs "
      f"{count_regions_grid(shallow, [-1, -1], [2, 0], [0, 2], side)} regions (at most 1 + 8 + 28 = 37), "
      f"three layers of {width}: {count_regions_grid(deep, [-1, -1], [2, 0], [0, 2], side)}")

fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
t = np.linspace(0, 1, 2001)
for depth in (1, 2, 3):
    axes[0].plot(t, fold_network(1, depth).forward(t[:, None])[:, 0], label=f"{depth} fold(s): {2 ** depth} pieces")
axes[0].set_title("|2x - 1| composed with itself")
axes[0].legend(fontsize=8)
for ax, (title, net, origin, extent) in zip(axes[1:], [
        ("both coordinates folded twice", fold_network(2, 2), [0, 0], 1),
        (f"random net, 1 layer of {width}", shallow, [-1, -1], 2),
        (f"random net, 3 layers of {width}", deep, [-1, -1], 2)]):
    count, labels = count_regions_grid(net, origin, [extent, 0], [0, extent], side, return_labels=True)
    shuffled = np.random.default_rng(0).permutation(count)[labels]  # neighbours get unrelated colours
    ax.imshow(shuffled, origin="lower", cmap="tab20", interpolation="nearest",
              extent=(origin[0], origin[0] + extent, origin[1], origin[1] + extent))
    ax.set_title(f"{title}: {count} regions", fontsize=10)
fig.tight_layout()
save(fig, "regions.png")
