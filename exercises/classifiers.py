# %% [markdown]
# # Image classifiers from scratch on MNIST
#
# The CS231n networks built from npnet's layers, checked the course's way (published values, numerical
# gradients, initial loss ln 10, overfitting a tiny set) and then trained on the MNIST sample: 4,000
# training and 1,000 held-out digits, split by a seed. Run it as a script (`python exercises/classifiers.py`)
# or cell by cell (`# %%`). Figures and the trained weights go to `$NPNET_FIGURES/classifiers/` (default
# `./figures/...`). Needs `mnist/mnist_5k.npz` through `NPNET_DATA`. The full run takes a few minutes on
# one core (targets: fully connected ≥ 93%, three-layer convnet ≥ 95%, judge ≥ 97% held out);
# `NPNET_EXERCISE_QUICK=1` trains for a few iterations only, to run every cell in seconds.

# %%
import time

import numpy as np

from gradcheck import eval_numerical_gradient, rel_error
from npnet.data.mnist import get_mnist_data
from npnet.display import show
from npnet.exercise import exercise_setup
from npnet.models.classifiers import (FullyConnectedNet, TwoLayerNet, mnist_classifier, save_judge,
                                      train_mnist_judge)
from npnet.models.figures import first_layer_figure, training_curves_figure
from npnet.solver import Solver

OUT, QUICK = exercise_setup("classifiers")  # the figures folder, quick mode, one BLAS thread

# %% [markdown]
# ## The losses: naive loops and vectorised
# `svm_loss_naive` and `softmax_loss_naive` loop over samples and classes; `svm_loss` and `softmax_loss`
# do the same with array operations. Both pairs must agree to rounding, and the vectorised ones are
# much faster on a batch of 500.

# %%
from npnet import optim
from npnet.layers import softmax_loss, softmax_loss_naive, svm_loss, svm_loss_naive

rng = np.random.default_rng(0)
scores, labels = rng.standard_normal((500, 10)), rng.integers(0, 10, 500)
for naive, fast in ((svm_loss_naive, svm_loss), (softmax_loss_naive, softmax_loss)):
    t0 = time.perf_counter()
    loss_naive, d_naive = naive(scores, labels)
    t1 = time.perf_counter()
    loss_fast, d_fast = fast(scores, labels)
    t2 = time.perf_counter()
    print(f"{fast.__name__:13s} loss {loss_fast:.6f}, difference {abs(loss_naive - loss_fast):.1e}, gradient "
          f"difference {np.abs(d_naive - d_fast).max():.1e}; naive {t1 - t0:.4f} s, vectorised {t2 - t1:.4f} s")
print(f"softmax loss of random scores: {softmax_loss(0.001 * scores, labels)[0]:.4f} (about ln 10 = 2.3026)")

# %% [markdown]
# ## The update rules
# One step of each rule from the course's check values (`np.linspace` weights and gradients): the
# CS231n notebook prints the expected next weights; here the first row.

# %%
COURSE_FIRST_ROW = {"sgd_momentum": [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
                    "rmsprop": [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
                    "adam": [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977]}
N, D = 4, 5
w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
for name, config in (("sgd_momentum", {"learning_rate": 1e-3, "velocity": np.linspace(0.6, 0.9, num=N * D).reshape(N, D)}),
                     ("rmsprop", {"learning_rate": 1e-2, "cache": np.linspace(0.6, 0.9, num=N * D).reshape(N, D)}),
                     ("adam", {"learning_rate": 1e-2, "m": np.linspace(0.6, 0.9, num=N * D).reshape(N, D),
                               "v": np.linspace(0.7, 0.5, num=N * D).reshape(N, D), "t": 5})):
    next_w, _ = getattr(optim, name)(w, dw, config)
    print(f"{name:12s}", np.round(next_w[0], 8), "course:", COURSE_FIRST_ROW[name])

# %% [markdown]
# ## The two-layer net gives the course's numbers
# With parameters and inputs from `np.linspace`, the scores and losses must match the values printed in
# the CS231n notebook to about 1e-8. Any mistake in `affine_relu_forward`, `softmax_loss` or the L2
# penalty shows up here.

# %%
N, D, H, C = 3, 5, 50, 7
model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C)
model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
y = np.asarray([0, 5, 1])
print("first row of scores:", np.round(model.loss(X)[0], 8))
print("loss, reg 0:", model.loss(X, y)[0], "(course: 3.4702243556)")
model.reg = 1.0
print("loss, reg 1:", model.loss(X, y)[0], "(course: 26.5948426952)")

# %% [markdown]
# ## Gradient check of a deeper net with batch normalisation
# Every parameter's analytic gradient against centred differences, in float64. The biases just before
# batch norm have a true gradient of 0 (the normalisation subtracts any shift), so only their size is shown.

# %%
np.random.seed(231)
X, y = np.random.randn(5, 15), np.random.randint(10, size=5)
for reg in (0.0,) if QUICK else (0.0, 3.14):
    model = FullyConnectedNet([20, 30], input_dim=15, reg=reg, weight_scale=5e-2, dtype=np.float64,
                              normalization="batchnorm")
    loss, grads = model.loss(X, y)
    print(f"reg {reg}: initial loss {loss:.4f}")
    for name in sorted(grads):
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False, h=1e-5)
        if name in ("b1", "b2"):
            print(f"  {name}: |grad| max {np.abs(grads[name]).max():.1e} (exactly 0 in theory)")
        else:
            print(f"  {name}: relative error {rel_error(numeric, grads[name]):.2e}")

# %% [markdown]
# ## Sanity checks: the initial loss and overfitting 50 examples
# With small random weights every class is equally likely, so the first loss is -ln(1/10) = ln 10 ≈ 2.303.
# A network that can learn at all must then drive 50 training images to 100% training accuracy.

# %%
data = get_mnist_data(flatten=True)
np.random.seed(0)
model = FullyConnectedNet([100, 100], input_dim=784, weight_scale=1e-3)
print(f"initial loss {model.loss(data['X_train'][:200], data['y_train'][:200])[0]:.4f} vs ln 10 = {np.log(10):.4f}")
small = {"X_train": data["X_train"][:50], "y_train": data["y_train"][:50], "X_val": data["X_val"], "y_val": data["y_val"]}
model = FullyConnectedNet([100, 100], input_dim=784, weight_scale=5e-2)
solver = Solver(model, small, update_rule="adam", optim_config={"learning_rate": 2e-3}, batch_size=25,
                num_epochs=30, verbose=False, rng=np.random.RandomState(0))
solver.train()
print(f"50 examples: training accuracy {solver.train_acc_history[-1]:.0%}, held-out {solver.val_acc_history[-1]:.0%} "
      "(memorised, not learned)")

# %% [markdown]
# ## Training the fully connected net and the three-layer convnet
# The recipes of `npnet train mnist` (`npnet.models.classifiers.MNIST_RECIPES`): Adam, learning rate
# x0.9 per epoch, batch 100, the mean training image subtracted. The Solver keeps the parameters with the
# best held-out accuracy. The loss curve should fall fast and then flatten; a held-out accuracy far below
# the training accuracy means overfitting (more `reg`, or fewer epochs).

# %%
results = {}
for name in ("fc", "conv"):
    data = get_mnist_data(flatten=name == "fc")
    data.pop("mean")
    model, options = mnist_classifier(name, seed=0)
    if QUICK:
        options["num_epochs"] = 1
        data["X_train"], data["y_train"] = data["X_train"][:300], data["y_train"][:300]
    solver = Solver(model, data, verbose=not QUICK, print_every=100, rng=np.random.RandomState(0), **options)
    start = time.time()
    solver.train()
    results[name] = solver.best_val_acc
    print(f"{name}: held-out accuracy {solver.best_val_acc:.2%} in {time.time() - start:.0f} s "
          f"({len(solver.loss_history)} iterations)")
    show(training_curves_figure(solver.loss_history, solver.train_acc_history, solver.val_acc_history,
                                OUT / f"{name}_curves.png", title=f"MNIST, {name}"))
    show(first_layer_figure(model.params["W1"], OUT / f"{name}_first_layer.png",
                            title=f"{name}: first-layer weights"))
    solver.save_checkpoint(OUT / f"mnist_{name}.npz")

# %% [markdown]
# The fully connected net's first-layer weights look like blurry strokes and digit parts: each hidden
# unit is a template matched against the whole image. The convnet's 7x7 filters are local edge and
# stroke detectors, applied everywhere.
#
# ## The judge for generated digits
# A small convnet with batch norm, trained with random 2-pixel shifts: ≥ 97% held out. The GAN exercise
# loads it with `npnet.models.classifiers.mnist_judge()`, which trains and caches it on first use.

# %%
if QUICK:
    print("quick mode: the judge is trained by `npnet train mnist --model judge` or mnist_judge()")
else:
    judge = train_mnist_judge(seed=0, verbose=True)
    results["judge"] = judge.heldout_accuracy
    print(f"judge: held-out accuracy {judge.heldout_accuracy:.2%} in {judge.train_seconds:.0f} s;",
          save_judge(judge, OUT / "mnist_judge.npz"))
print({k: f"{v:.2%}" for k, v in results.items()}, "targets: fc 93%, conv 95%, judge 97%")
