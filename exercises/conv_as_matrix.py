# %% [markdown]
# # A convolution is a matrix
#
# For fixed filters, a convolution is linear in its input, so it is a matrix A acting on the flattened
# image; the transposed convolution is the map with matrix A^T. A network of convolutions and ReLUs is
# then a matrix that changes only where a ReLU switches: piecewise linear. Run it as a script
# (`python exercises/conv_as_matrix.py`) or cell by cell (`# %%`) in an editor. Figures go to
# `$NPNET_FIGURES/conv_as_matrix/` (default `./figures/...`). Needs no data; takes seconds
# (`NPNET_EXERCISE_QUICK=1` samples the line more coarsely).

# %%
import matplotlib.pyplot as plt
import numpy as np

from gradcheck import rel_error
from npnet import nn
from npnet.display import show
from npnet.exercise import exercise_setup
from npnet.layers import conv_forward, conv_transpose_forward
from npnet.linalg import conv_matrix, conv_transpose_matrix

OUT, QUICK = exercise_setup("conv_as_matrix")  # the figures folder, quick mode, one BLAS thread
rng = np.random.default_rng(0)


def save(fig, name):
    """Write ``fig`` to OUT/name atomically, show it under the cell in a notebook (print the path in a
    script) and close it."""
    show(fig, OUT / name)
    plt.close(fig)


# %% [markdown]
# ## The matrix of a 3x3 convolution on a 5x5 image
# Row r of A is output pixel r; it holds the 9 filter taps in the columns of the input pixels under
# that window. Every row is the same taps shifted: A is a (doubly) block-Toeplitz matrix, mostly zeros.
# With padding the border rows lose the taps that fall outside the image; with stride 2 only every
# other window remains.

# %%
w = np.arange(1.0, 10.0).reshape(3, 3)  # distinct taps, so each one can be followed through A
settings = [(1, 0), (1, 1), (2, 1)]
fig, axes = plt.subplots(1, 1 + len(settings), figsize=(14, 4.2), layout="constrained",
                         gridspec_kw={"width_ratios": [0.5] + [1.4] * len(settings)})
axes[0].imshow(w, cmap="viridis")
axes[0].set_title("filter w (3x3)")
for (i, j), v in np.ndenumerate(w):
    axes[0].text(j, i, f"{v:.0f}", ha="center", va="center", color="w")
for ax, (stride, pad) in zip(axes[1:], settings):
    A = conv_matrix(w, (5, 5), stride=stride, pad=pad)
    shown = np.ma.masked_equal(A, 0)  # zeros stay white, so the band structure shows
    im = ax.imshow(shown, cmap="viridis", vmin=1, vmax=9, interpolation="nearest")
    ax.set_title(f"stride {stride}, pad {pad}\nA: {A.shape[0]}x{A.shape[1]}, {np.count_nonzero(A)} non-zeros")
    ax.set_xlabel("input pixel (row-major, 5x5)")
    ax.set_ylabel("output pixel")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(im, ax=axes[1:], shrink=0.8, label="filter tap value")
save(fig, "conv_matrix.png")

# %% [markdown]
# ## conv(x) == A x and conv_transpose(y) == A^T y
# For several channels, strides and paddings: the fast im2col convolution against the dense matrix,
# and the transposed convolution against A^T. `output_padding` picks the one of the `stride` input
# sizes that all give the same output size, so the transposed convolution lands on x's size.

# %%
N, C, F, H, W = 2, 2, 3, 7, 7
x = rng.standard_normal((N, C, H, W))
w = rng.standard_normal((F, C, 3, 3))
for stride, pad in [(1, 0), (1, 1), (2, 0), (2, 1), (3, 1)]:
    A = conv_matrix(w, (H, W), stride=stride, pad=pad)
    out, _ = conv_forward(x, w, None, {"stride": stride, "pad": pad})
    conv_err = rel_error(out.reshape(N, -1), x.reshape(N, -1) @ A.T)
    output_padding = (H + 2 * pad - 3) % stride
    param = {"stride": stride, "pad": pad, "output_padding": output_padding}
    y = rng.standard_normal(out.shape)
    back, _ = conv_transpose_forward(y, w, None, param)
    transpose_err = rel_error(back.reshape(N, -1), y.reshape(N, -1) @ A)
    matrix_err = rel_error(conv_transpose_matrix(w, out.shape[2:], **param), A.T)
    # the adjoint identity <A x, y> == <x, A^T y>, with the layers alone
    adjoint_err = rel_error(np.sum(out * y), np.sum(x * back))
    print(f"stride {stride} pad {pad}: A {A.shape}, conv vs A x {conv_err:.1e}, conv_transpose vs A^T y "
          f"{transpose_err:.1e}, conv_transpose_matrix vs A^T {matrix_err:.1e}, <Ax,y> vs <x,A^T y> {adjoint_err:.1e}")

# %% [markdown]
# ## A ReLU conv net is piecewise linear
# Along a random line x0 + t v through input space, each ReLU is either on or off, so between the
# values of t where some ReLU switches, the network is one matrix and f(t) is exactly linear. The
# second difference f(t + h) - 2 f(t) + f(t - h) is therefore zero (to rounding) except next to a
# kink. Every kink must sit where the on/off pattern changes; the pattern may also change without a
# visible kink, when the unit that switched does not reach the output.

# %%
layer_rng = np.random.default_rng(1)
net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, dtype=np.float64, rng=layer_rng), nn.ReLU(),
                    nn.Conv2d(3, 3, 3, stride=2, padding=1, dtype=np.float64, rng=layer_rng), nn.ReLU(),
                    nn.Conv2d(3, 1, 3, padding=1, dtype=np.float64, rng=layer_rng), nn.GlobalAvgPool2d())
relu_inputs = [0, 2]  # the layers whose outputs feed a ReLU: their sign is the on/off pattern
size = 5
x0, v = rng.standard_normal((2, 1, 1, size, size))
t = np.linspace(-0.5, 0.5, 501 if QUICK else 2001)
h = t[1] - t[0]
f = net.forward(x0 + t[:, None, None, None] * v).ravel()  # one batch: every t at once
pattern = np.concatenate([net.outputs[i].reshape(len(t), -1) > 0 for i in relu_inputs], axis=1)
d2 = f[2:] - 2 * f[1:-1] + f[:-2]  # second difference at t[1:-1]

# A kink inside (t[k], t[k+1]) bends the second differences at t[k] and t[k+1]; each run of
# consecutive non-zero ones is one kink (or several closer than the grid can separate).
bent = np.abs(d2) > 1e-9 * np.abs(f).max()
runs = np.flatnonzero(np.diff(np.concatenate([[0], bent.astype(int), [0]])))
starts, ends = runs[::2], runs[1::2]  # bent[starts[k]:ends[k]] is run k
kinks = [(t[1 + s] + t[e]) / 2 for s, e in zip(starts, ends)]  # midpoint of the run's t interval
switches = np.flatnonzero((pattern[1:] != pattern[:-1]).any(axis=1))  # intervals (t[k], t[k+1])
explained = all(np.any((switches > s) & (switches < e)) for s, e in zip(starts, ends))
print(f"{pattern.shape[1]} ReLUs; along t in [-0.5, 0.5] with h = {h:.0e}: {len(kinks)} kinks in f, the on/off "
      f"pattern changes in {len(switches)} of {len(t) - 1} intervals; every kink at a pattern change: {explained}")
print(f"largest |second difference| away from kinks: {np.abs(d2[~bent]).max():.1e} "
      f"(at kinks up to {np.abs(d2).max():.1e})")

fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
ax0.plot(t, f, lw=1)
for tk in kinks:
    ax0.axvline(tk, color="r", lw=0.4, alpha=0.5)
ax0.set_ylabel("f(x0 + t v)")
ax0.set_title(f"ReLU conv net along a random line: {len(kinks)} kinks (red), linear in between")
ax1.plot(t[1:-1], d2, lw=1)
ax1.plot(t[1 + switches], np.zeros(len(switches)), "|", color="gray", ms=8, label="ReLU on/off pattern changes")
ax1.set_ylabel("f(t+h) - 2 f(t) + f(t-h)")
ax1.set_xlabel("t")
ax1.legend(loc="lower left")
fig.tight_layout()
save(fig, "piecewise_linear.png")
