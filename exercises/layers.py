# %% [markdown]
# # Layers: forward and backward passes by hand (CS231n assignment 2)
#
# Affine, ReLU, convolution (naive loops and im2col), max pooling, batch normalisation and dropout,
# each checked against a numerical gradient, then a small convolutional network trained to overfit a
# few images. Run it as a script (`python exercises/layers.py`) or cell by cell (`# %%`) in an editor.
# The figure goes to `$NPNET_FIGURES/layers/` (default `./figures/...`). Needs no data; takes seconds
# (`NPNET_EXERCISE_QUICK=1` trains for fewer steps).

# %%
import matplotlib.pyplot as plt
import numpy as np

from gradcheck import eval_numerical_gradient_array, rel_error
from npnet import layers as L
from npnet.display import show
from npnet.exercise import exercise_setup

OUT, QUICK = exercise_setup("layers")  # the figures folder, quick mode, one BLAS thread
rng = np.random.default_rng(0)


def check(name, forward, backward, inputs):
    """Print the relative error of each analytic gradient of ``forward``/``backward`` against a
    numerical one (float64, centred differences)."""
    out, cache = forward(*inputs)
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for i, grad in enumerate(grads):
        def f(v, i=i):
            args = list(inputs)
            args[i] = v
            return forward(*args)[0]
        numeric = eval_numerical_gradient_array(f, inputs[i], dout)
        print(f"{name:>10} d{i}: rel error {rel_error(numeric, grad):.1e}")


# %% [markdown]
# ## Affine and ReLU
# Each error should be below 1e-7: a wrong gradient gives errors of 1e-3 to 1.

# %%
check("affine", L.affine_forward, L.affine_backward,
      [rng.standard_normal((4, 3, 2, 2)), rng.standard_normal((12, 5)), rng.standard_normal(5)])
check("relu", L.relu_forward, L.relu_backward, [rng.standard_normal((4, 6)) + 0.05])

# %% [markdown]
# ## Convolution and max pooling
# The naive loops first, then the im2col version, which must agree with them.

# %%
conv = {"stride": 2, "pad": 1}
x, w, b = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
check("conv", lambda x, w, b: L.conv_forward_naive(x, w, b, conv), L.conv_backward_naive, [x, w, b])
check("conv fast", lambda x, w, b: L.conv_forward(x, w, b, conv), L.conv_backward, [x, w, b])
print("naive vs fast:", rel_error(L.conv_forward_naive(x, w, b, conv)[0], L.conv_forward(x, w, b, conv)[0]))
pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
check("max pool", lambda x: L.max_pool_forward_naive(x, pool), L.max_pool_backward_naive,
      [rng.standard_normal((2, 3, 4, 4))])

# %% [markdown]
# ## Batch normalisation and dropout
# Dropout's mask is fixed by its seed, so its gradient can be checked numerically too.

# %%
check("batchnorm", lambda x, g, b: L.batchnorm_forward(x, g, b, {"mode": "train"}), L.batchnorm_backward,
      [3 + 2 * rng.standard_normal((6, 4)), 1 + rng.random(4), rng.standard_normal(4)])
drop = {"mode": "train", "p": 0.7, "seed": 1}
check("dropout", lambda x: L.dropout_forward(x, drop), L.dropout_backward, [rng.standard_normal((5, 8))])

# %% [markdown]
# ## A small network overfits a few images
# conv - relu - 2x2 max pool - affine on 8 random 8x8 images with random labels, trained with plain SGD on
# the squared error to the one-hot labels. With correct layers the loss goes to about 0.

# %%
X, y = rng.standard_normal((8, 3, 8, 8)), rng.integers(0, 4, 8)
w1, b1 = 0.3 * rng.standard_normal((6, 3, 3, 3)), np.zeros(6)
w2, b2 = 0.1 * rng.standard_normal((6 * 4 * 4, 4)), np.zeros(4)
losses = []
for step in range(60 if QUICK else 200):
    h, c1 = L.conv_forward(X, w1, b1, {"stride": 1, "pad": 1})
    a, c2 = L.relu_forward(h)
    p, c3 = L.max_pool_forward_naive(a, pool)
    scores, c4 = L.affine_forward(p, w2, b2)
    loss, dscores = L.mse(scores, np.eye(4)[y])  # the softmax loss comes with the classifiers assignment
    losses.append(loss)
    dp, dw2, db2 = L.affine_backward(dscores, c4)
    dh = L.relu_backward(L.max_pool_backward_naive(dp, c3), c2)
    _, dw1, db1 = L.conv_backward(dh, c1)
    for param, grad in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2)):
        param -= 0.02 * grad
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
ax.plot(losses)
ax.set_xlabel("SGD step")
ax.set_ylabel("mean squared error to the one-hot labels")
ax.set_title("a conv net overfitting 8 images")
show(fig, OUT / "overfit_loss.png")
plt.close(fig)
