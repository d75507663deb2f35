"""Assignment ``classifiers``: CS231n's first two assignments. The softmax and SVM losses (naive loops
and vectorised), ``TwoLayerNet``, ``FullyConnectedNet`` with batch / layer norm and dropout, the update
rules, ``ThreeLayerConvNet``, and a training item graded by held-out accuracy on the MNIST sample.

The models draw their initial weights from the global ``np.random`` in ``__init__`` (code the student
does not write), so seeding it before building a model gives the grader and the student the same
weights; only ``loss`` is the student's. Gradients are graded as one vector per model (every parameter's
gradient in name order). The training item trains the student's ``FullyConnectedNet`` with the student's
``sgd_momentum`` through the ``Solver`` and passes when the held-out accuracy reaches ``ACCURACY_BAR``
within ``TIME_LIMIT`` seconds (its part is 1 when it does, so it matches the reference's 1).
"""
import time

import numpy as np

from npnet import optim
from npnet.course.assignments._configs import Config, configured
from npnet.course.manifest import Assignment, Item
from npnet.layers import losses
from npnet.models import classifiers as models

# npnet's solution reaches 0.896-0.911 held out on the subsets of seeds 0-4 (training took 6-27 s
# on the loaded 2-core machine); a momentum of the wrong sign fails the bar.
ACCURACY_BAR = 0.85
TIME_LIMIT = 60.0  # seconds for the training itself
TRAIN_SIZE, TRAIN_EPOCHS = 2000, 5


def _scores(rng):
    return {"x": 2 * rng.standard_normal((6, 4)), "y": rng.integers(0, 4, 6)}


def _large_scores(rng):
    """Scores of magnitude 1000: exp overflows unless each row's maximum is subtracted first."""
    return {"x": 1000 * rng.uniform(-1, 1, (6, 4)), "y": rng.integers(0, 4, 6)}


def _integer_scores(rng):
    """Small integer scores: many margins x_j - x_y + 1 are exactly 0 (which contribute nothing)."""
    return {"x": rng.integers(-2, 3, (6, 4)).astype(float), "y": rng.integers(0, 4, 6)}


def _loss_run(name):
    def run(inputs, out):
        out["loss"], out["dx"] = getattr(losses, name)(inputs["x"], inputs["y"])
    return run


def _loss_item(item, name, hard, label):
    """Item ``item`` grading loss function ``name`` on N(0, 4) scores and on ``hard`` ones."""
    return configured(item, [Config("scores N(0, 4)", _scores, _loss_run(name), {"loss": 1, "dx": 1}),
                             Config(label, hard, _loss_run(name), {"loss": 1, "dx": 1})], (name,), batch="x")


def _batch(rng):
    return {"X": rng.standard_normal((4, 6)), "y": rng.integers(0, 3, 4), "seed": int(rng.integers(1000)),
            "reg": float(rng.uniform(0.05, 0.5))}


def _grad_vector(model, grads):
    return np.concatenate([np.ravel(grads[name]) for name in sorted(model.params)])


def _model_parts(out, model, X, y, scores=True):
    if scores:
        out["scores"] = model.loss(X)
    out["loss"], grads = model.loss(X, y)
    out["grads"] = _grad_vector(model, grads)


def _two_layer(inputs, out):
    np.random.seed(int(inputs["seed"]))
    model = models.TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=3, weight_scale=0.5, reg=float(inputs["reg"]))
    _model_parts(out, model, inputs["X"], inputs["y"])


def _fc_run(normalization=None, keep=1, scores=True):
    def run(inputs, out):
        np.random.seed(int(inputs["seed"]))
        model = models.FullyConnectedNet([5, 4], input_dim=6, num_classes=3, normalization=normalization,
                                         dropout_keep_ratio=keep, reg=float(inputs["reg"]), weight_scale=0.5,
                                         dtype=np.float64, seed=int(inputs["seed"]))
        _model_parts(out, model, inputs["X"], inputs["y"], scores=scores)
    return run


def _images(rng):
    return {"X": rng.standard_normal((3, 2, 6, 6)), "y": rng.integers(0, 3, 3), "seed": int(rng.integers(1000)),
            "reg": float(rng.uniform(0.05, 0.5))}


def _convnet(inputs, out):
    np.random.seed(int(inputs["seed"]))
    model = models.ThreeLayerConvNet(input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=4,
                                     num_classes=3, weight_scale=0.3, reg=float(inputs["reg"]), dtype=np.float64)
    _model_parts(out, model, inputs["X"], inputs["y"])


def _weights(rng):
    return {"w": rng.standard_normal((4, 5)), "dw": rng.standard_normal((2, 4, 5))}


def _rules(inputs, out):
    """Two steps of each rule from a fresh config (the second step uses the state of the first), with the
    gradients as drawn and scaled by 1e-7 (where the square root of the cache is close to epsilon)."""
    for name, settings in (("sgd_momentum", {"learning_rate": 0.1, "momentum": 0.9}),
                           ("rmsprop", {"learning_rate": 0.01, "decay_rate": 0.9}),
                           ("adam", {"learning_rate": 0.01})):
        steps = []
        for scale in (1.0, 1e-7):
            w, config = inputs["w"], dict(settings)
            for dw in inputs["dw"]:
                w, config = getattr(optim, name)(w, scale * dw, config)
            steps.append(w)
        out[name] = np.stack(steps)


def _mnist(rng):
    """A seeded TRAIN_SIZE subset of the MNIST sample's training split and the whole held-out split, read
    here in the grader (the student's code runs with no access to the data folders)."""
    from npnet.data.mnist import get_mnist_data
    data = get_mnist_data(flatten=True)
    subset = np.sort(rng.choice(len(data["X_train"]), TRAIN_SIZE, replace=False))
    return {"X_train": data["X_train"][subset], "y_train": data["y_train"][subset], "X_val": data["X_val"],
            "y_val": data["y_val"], "seed": int(rng.integers(1000))}


def _training(inputs, out):
    from npnet.solver import Solver
    data = {name: inputs[name] for name in ("X_train", "y_train", "X_val", "y_val")}
    np.random.seed(int(inputs["seed"]))
    start = time.perf_counter()
    model = models.FullyConnectedNet([100], input_dim=784, num_classes=10, weight_scale=5e-2, reg=1e-3)
    solver = Solver(model, data, update_rule="sgd_momentum", optim_config={"learning_rate": 0.1},
                    batch_size=100, num_epochs=TRAIN_EPOCHS, verbose=False)
    solver.train()
    accuracy = solver.check_accuracy(data["X_val"], data["y_val"])
    elapsed = time.perf_counter() - start
    out["held_out_accuracy"] = float(accuracy >= ACCURACY_BAR and elapsed <= TIME_LIMIT)


ASSIGNMENT = Assignment(
    name="classifiers",
    title="Classifiers: softmax and SVM losses, two-layer and fully connected nets, update rules, a convnet",
    strip={
        "npnet/layers/losses.py": ("softmax_loss", "softmax_loss_naive", "svm_loss", "svm_loss_naive"),
        "npnet/models/classifiers.py": ("TwoLayerNet.loss", "FullyConnectedNet.loss", "ThreeLayerConvNet.loss"),
        "npnet/optim.py": ("sgd_momentum", "rmsprop", "adam"),
    },
    exercises=("classifiers",),
    public_tests=("test_losses.py", "test_losses_naive.py", "test_classifiers.py", "test_optim_solver.py"),
    # the nets run on the layers; relu_backward's block (with its guided modes) belongs to
    # network_visualization too, so it ships filled in only after that assignment
    requires=("layers", "network_visualization"),
    items=(
        _loss_item("svm_naive", "svm_loss_naive", _integer_scores, "integer scores, margins of exactly 0"),
        _loss_item("svm_vectorised", "svm_loss", _integer_scores, "integer scores, margins of exactly 0"),
        _loss_item("softmax_naive", "softmax_loss_naive", _large_scores, "scores of magnitude 1000"),
        _loss_item("softmax_vectorised", "softmax_loss", _large_scores, "scores of magnitude 1000"),
        Item("two_layer_net", {"scores": 1, "loss": 1, "grads": 2}, _batch, _two_layer,
             ("TwoLayerNet.loss", "softmax_loss")),
        Item("fc_net", {"scores": 1, "loss": 1, "grads": 2}, _batch, _fc_run(),
             ("FullyConnectedNet.loss", "softmax_loss")),
        Item("fc_net_batchnorm", {"loss": 1, "grads": 2}, _batch, _fc_run("batchnorm", scores=False),
             ("FullyConnectedNet.loss", "softmax_loss"), rtol=1e-5),
        Item("fc_net_layernorm", {"loss": 1, "grads": 1}, _batch, _fc_run("layernorm", scores=False),
             ("FullyConnectedNet.loss", "softmax_loss"), rtol=1e-5),
        Item("fc_net_dropout", {"loss": 1, "grads": 1}, _batch, _fc_run(keep=0.7, scores=False),
             ("FullyConnectedNet.loss", "softmax_loss")),
        Item("update_rules", {"sgd_momentum": 1, "rmsprop": 1, "adam": 1}, _weights, _rules,
             ("sgd_momentum", "rmsprop", "adam")),
        Item("three_layer_convnet", {"scores": 1, "loss": 1, "grads": 2}, _images, _convnet,
             ("ThreeLayerConvNet.loss", "softmax_loss")),
        Item("training", {"held_out_accuracy": 3}, _mnist, _training,
             ("FullyConnectedNet.loss", "softmax_loss", "sgd_momentum")),
    ),
)
