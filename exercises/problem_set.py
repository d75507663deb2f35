# %% [markdown]
# # The problem set, as code
#
# Each question of the written problem set is a function you complete (the blocks marked `# TODO` in
# `npnet/linalg.py` and `npnet/relu_networks.py`); this script prints the answers the grader checks.
# Run it as a script (`python exercises/problem_set.py`) or cell by cell (`# %%`). Seconds on a CPU.

# %%
import numpy as np

from npnet import linalg
from npnet.layers import conv_forward, conv_transpose_forward
from npnet.relu_networks import (AND_UNIT, BOOLEAN_INPUTS, OR_UNIT, count_regions_grid, count_regions_line,
                                 fold_network, linearly_separable, local_linear, problem_set_network,
                                 threshold_unit, xor_threshold_network, zigzag_network)

np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## Q1.1 A convolution is a matrix
# A 2x2 filter on a 3x3 input with stride 3 and padding 1 gives a 2x2 output: the convolution is a 4x9
# matrix A with `out.ravel() == A @ x.ravel()`. Each row holds the filter's taps that land inside the
# image (the padding contributes nothing).

# %%
w = np.array([[1.0, 2.0], [3.0, 4.0]])
A = linalg.conv_matrix(w, (3, 3), stride=3, pad=1)
print(A)
x = np.arange(9.0).reshape(1, 1, 3, 3)
out, _ = conv_forward(x, w[None, None], None, {"stride": 3, "pad": 1})
print("A @ x == conv(x):", np.allclose(A @ x.ravel(), out.ravel()))

# %% [markdown]
# ## Q1.2 The transposed convolution is the transposed matrix
# A stride-2 transposed convolution of a 2x2 input with a 3x3 kernel (pad 1, output padding 1) gives a
# 4x4 output: a 16x4 matrix, and it is the transpose of the 4x16 matrix of the stride-2 convolution of a
# 4x4 image with the same kernel.

# %%
wt = np.arange(1.0, 10.0).reshape(3, 3)
B = linalg.conv_transpose_matrix(wt, (2, 2), stride=2, pad=1, output_padding=1)
print(B.shape)
print(B)
print("B == conv_matrix(4x4, stride 2).T:", np.array_equal(B, linalg.conv_matrix(wt, (4, 4), stride=2, pad=1).T))

# %% [markdown]
# ## Q1.3 A sub-pixel convolution is a transposed convolution
# `pixel_shuffle(conv(x, w), r)` (Shi et al. 2016) computes the same map as one stride-r transposed
# convolution whose k*r kernel interleaves the r*r filters, flipped; and every stride-r transposed
# convolution is a sub-pixel convolution.

# %%
rng = np.random.default_rng(0)
w_sub = rng.standard_normal((4, 1, 3, 3))  # one output channel, r = 2: 4 filters
wt2, _, param = linalg.subpixel_to_transposed(w_sub, None, 2, pad=1)
print("transposed kernel", wt2.shape, param)
x = rng.standard_normal((1, 1, 5, 5))
sub, _ = conv_forward(x, w_sub, None, {"stride": 1, "pad": 1})
shuffled = sub.reshape(1, 1, 2, 2, 5, 5).transpose(0, 1, 4, 2, 5, 3).reshape(1, 1, 10, 10)
trans, _ = conv_transpose_forward(x, wt2, None, param)
print("same output:", np.allclose(shuffled, trans))

# %% [markdown]
# ## Q2 Threshold units, AND, OR and XOR
# A unit `1[w.x + b >= 0]` computes AND with (w, b) = ((1, 1), -1.5) and OR with ((1, 1), -0.5). No single
# unit computes XOR; `linearly_separable` decides it with a linear program. Two layers do: OR and not AND.

# %%
print("AND:", threshold_unit(BOOLEAN_INPUTS, *AND_UNIT), " OR:", threshold_unit(BOOLEAN_INPUTS, *OR_UNIT))
xor = np.array([0, 1, 1, 0])
print("XOR linearly separable:", linearly_separable(BOOLEAN_INPUTS, xor)[0])
print("two layers of threshold units:", xor_threshold_network(BOOLEAN_INPUTS))

# %% [markdown]
# **Question.** Why can no single threshold unit compute XOR?

# %% [markdown]
# BEGIN ANSWER
# **Answer.** A unit outputs 1 on one side of the line w.x + b = 0. XOR needs (0, 1) and (1, 0) on the
# 1 side and (0, 0) and (1, 1) on the 0 side. Adding the two inequalities for (0, 1) and (1, 0) gives
# w1 + w2 + 2b >= 0, while those for (0, 0) and (1, 1) give w1 + w2 + 2b < 0: a contradiction. (The
# midpoint (1/2, 1/2) of both diagonals would have to be on both sides.)
# END ANSWER

# %% [markdown]
# ## Q3 The local linear piece of a ReLU network
# The problem set's network h(x) = W3 relu(W2 relu(W1 x + b1) + b2) + b3 (the handout's weights) is
# piecewise linear. At each point, `local_linear` gives the (w, b) of the piece: h(1) = 5 with w = 2,
# b = 3; h(-1) = 2 and h(-0.5) = 2.5, both with w = 1, b = 3.

# %%
h = problem_set_network()
for x0 in (1.0, -1.0, -0.5, -3.0):
    w_loc, b_loc = local_linear(h, np.array([x0]))
    print(f"h({x0:+}) = {h.forward(np.array([[x0]]))[0, 0]:g}: w = {w_loc[0]:g}, b = {b_loc:g}")
print("linear pieces on [-4, 2]:", count_regions_line(h, -4, 2))

# %% [markdown]
# ## Q4 Counting linear regions
# Folding [0, 1] with |2x - 1| doubles the pieces: 2^L after L folds. Composing f after g multiplies the
# counts, n_f * n_g. Folding each of d coordinates L times gives 2^(L*d) regions.

# %%
print("folds 1..4:", [count_regions_line(fold_network(1, L), 0, 1) for L in (1, 2, 3, 4)])
print("3 pieces after 4 pieces:", count_regions_line(zigzag_network([4, 3]), 0, 1))
print("d = 2, L = 1..3:", [count_regions_grid(fold_network(2, L), [0, 0], [1, 0], [0, 1], num=64) for L in (1, 2, 3)])
