"""CS231n classifiers, the Solver and the MNIST judge: published course values, the course's sanity
checks (initial loss ln 10, overfitting 50 examples) and small-budget training on the MNIST sample.

Gradients of every model are checked numerically by the gradcheck registry (``two_layer_net``,
``fully_connected_net.*``, ``three_layer_convnet``); the full-budget accuracies are measured by
``npnet train mnist`` and exercises/classifiers.py, not here.
"""
import numpy as np
import pytest

from conftest import require_data
from npnet.errors import DataNotFoundError, TrainingDivergedError
from npnet.models.classifiers import FullyConnectedNet, MnistJudge, ThreeLayerConvNet, TwoLayerNet, mnist_judge
from npnet.solver import Solver, read_checkpoint


def test_two_layer_net_reproduces_the_course_notebook_values():
    # The FullyConnectedNets notebook's check: parameters and inputs from np.linspace.
    N, D, H, C = 3, 5, 50, 7
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3)
    assert [k for k in model.params] == ["W1", "b1", "W2", "b2"]
    assert np.all(model.params["b1"] == 0) and 0 < model.params["W1"].std() < 2e-3
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    correct_scores = np.asarray(
        [[11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
         [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
         [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319]])
    np.testing.assert_allclose(model.loss(X), correct_scores, atol=1e-8)
    y = np.asarray([0, 5, 1])
    assert model.loss(X, y)[0] == pytest.approx(3.4702243556, abs=1e-9)
    model.reg = 1.0
    assert model.loss(X, y)[0] == pytest.approx(26.5948426952, abs=1e-9)


@pytest.mark.parametrize("make", [
    lambda: TwoLayerNet(input_dim=48, hidden_dim=20, weight_scale=1e-3),
    lambda: FullyConnectedNet([20, 30], input_dim=48, weight_scale=1e-3),
    lambda: FullyConnectedNet([20, 30], input_dim=48, weight_scale=1e-3, normalization="batchnorm"),
    lambda: FullyConnectedNet([20, 30], input_dim=48, weight_scale=1e-3, normalization="layernorm",
                              dropout_keep_ratio=0.5, seed=1),
    lambda: ThreeLayerConvNet(input_dim=(3, 4, 4), num_filters=4, filter_size=3, hidden_dim=10),
], ids=["two_layer", "fc", "fc_batchnorm", "fc_layernorm_dropout", "convnet"])
def test_initial_loss_is_log_of_the_number_of_classes(make):
    np.random.seed(0)
    model = make()
    X, y = np.random.randn(50, 3, 4, 4), np.random.randint(10, size=50)
    loss, grads = model.loss(X, y)
    assert loss == pytest.approx(np.log(10), abs=0.02)
    assert set(grads) == set(model.params)
    assert all(grads[k].shape == v.shape for k, v in model.params.items())


def test_regularisation_raises_the_loss_by_half_reg_sum_of_squares():
    np.random.seed(1)
    model = FullyConnectedNet([5], input_dim=4, num_classes=3, weight_scale=1.0, dtype=np.float64)
    X, y = np.random.randn(6, 4), np.random.randint(3, size=6)
    plain = model.loss(X, y)[0]
    model.reg = 0.7
    expected = plain + 0.35 * sum(np.sum(model.params[k] ** 2) for k in ("W1", "W2"))
    assert model.loss(X, y)[0] == pytest.approx(expected, rel=1e-12)


def test_fully_connected_net_names_order_dtype_and_modes():
    np.random.seed(0)
    model = FullyConnectedNet([4, 3], input_dim=5, num_classes=2, normalization="batchnorm")
    assert list(model.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    assert all(v.dtype == np.float32 for v in model.params.values())
    X, y = np.random.randn(8, 5), np.random.randint(2, size=8)
    model.loss(X, y)  # train mode updates the running statistics ...
    running = model.bn_params[0]["running_mean"].copy()
    assert np.any(running != 0)
    model.loss(X)  # ... test mode uses them and leaves them alone
    assert np.array_equal(model.bn_params[0]["running_mean"], running) and model.bn_params[0]["mode"] == "test"
    # a dropout seed makes the training loss reproducible
    drop = FullyConnectedNet([30], input_dim=5, dropout_keep_ratio=0.5, seed=3, dtype=np.float64)
    assert drop.loss(X, y)[0] == drop.loss(X, y)[0]
    assert np.array_equal(drop.loss(X), drop.loss(X))


@pytest.mark.parametrize("make, match", [
    (lambda: FullyConnectedNet([4], normalization="groupnorm"), "normalization must be None, 'batchnorm' or"),
    (lambda: FullyConnectedNet([4], dropout_keep_ratio=0), r"dropout_keep_ratio must be a finite number > 0"),
    (lambda: FullyConnectedNet([4], dropout_keep_ratio=1.5), r"dropout_keep_ratio must be in \(0, 1\]"),
    (lambda: FullyConnectedNet(4), "hidden_dims must be a list of layer widths"),
    (lambda: FullyConnectedNet([4], dtype=np.int32), "dtype must be float32 or float64"),
    (lambda: TwoLayerNet(reg=-1), "TwoLayerNet: reg must be a finite number >= 0"),
    (lambda: ThreeLayerConvNet(filter_size=4), "filter_size must be odd"),
    (lambda: ThreeLayerConvNet(input_dim=(1, 27, 28)), "must be even for the 2x2 pool"),
])
def test_model_argument_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("X, y, match", [
    (np.zeros((4, 48)), np.array([0, 1, 2, 10]), r"y must lie in \[0, 10\); got values from 0 to 10"),
    (np.zeros((4, 48)), np.array([0, 1, 2]), r"y must have shape \(4,\), one label per sample"),
    (np.zeros((0, 48)), np.zeros(0, int), "X is empty"),
    (np.zeros((4, 48), int), np.zeros(4, int), "X must be a floating-point array"),
])
def test_loss_input_errors(X, y, match):
    model = TwoLayerNet(input_dim=48)
    with pytest.raises((ValueError, TypeError), match=f"TwoLayerNet.loss: {match}"):
        model.loss(X, y)


def _mnist_data(num_train=None):
    from npnet.data.mnist import load_mnist

    require_data("mnist/mnist_5k.npz")
    Xtr, ytr = load_mnist("train")
    Xte, yte = load_mnist("test")
    mean = Xtr.mean(axis=0)
    n = num_train or len(Xtr)
    return {"X_train": Xtr[:n] - mean, "y_train": ytr[:n], "X_val": Xte - mean, "y_val": yte}


def test_overfitting_50_examples_reaches_full_training_accuracy():
    data = _mnist_data(50)
    np.random.seed(0)
    fc = FullyConnectedNet([100, 100], input_dim=784, weight_scale=5e-2)
    solver = Solver(fc, data, update_rule="adam", optim_config={"learning_rate": 2e-3}, batch_size=25,
                    num_epochs=30, verbose=False, rng=np.random.RandomState(0))
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    conv = ThreeLayerConvNet(input_dim=(1, 28, 28), num_filters=8, filter_size=5, hidden_dim=50, weight_scale=3e-2)
    solver = Solver(conv, data, update_rule="adam", optim_config={"learning_rate": 5e-3}, batch_size=25,
                    num_epochs=25, verbose=False, num_val_samples=100, rng=np.random.RandomState(0))
    solver.train()
    assert solver.train_acc_history[-1] == 1.0


def test_small_budget_training_on_the_mnist_sample(capsys):
    # Two epochs of the `npnet train mnist --model fc` recipe: already well above chance (10%).
    data = _mnist_data()
    np.random.seed(0)
    model = FullyConnectedNet([512, 256], input_dim=784, weight_scale=5e-2, reg=3e-3)
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3}, lr_decay=0.9,
                    batch_size=100, num_epochs=2, print_every=20, rng=np.random.RandomState(0))
    solver.train()
    assert len(solver.loss_history) == 80
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 3  # first iteration + 2 epochs
    assert solver.best_val_acc == max(solver.val_acc_history) > 0.88
    out = capsys.readouterr().out
    assert "(Iteration 1 / 80) loss: " in out and "(Iteration 21 / 80)" in out and "(Epoch 2 / 2) train acc: " in out
    # the best parameters were restored
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc
    assert solver.optim_configs["W1"]["learning_rate"] == pytest.approx(1e-3 * 0.81)


class _Diverging:
    """A stand-in model whose loss turns NaN at its fourth call, to test the divergence stop."""

    num_classes = 2

    def __init__(self):
        self.params = {"w": np.zeros(3)}
        self.calls = 0

    def loss(self, X, y=None):
        scores = np.stack([X @ self.params["w"], -X @ self.params["w"]], axis=1)
        if y is None:
            return scores
        self.calls += 1
        return (np.nan if self.calls == 4 else 1.0), {"w": -np.ones(3)}


def _toy_data():
    X = np.random.default_rng(0).standard_normal((20, 3))
    y = (X.sum(axis=1) > 0).astype(int)
    return {"X_train": X, "y_train": y, "X_val": X, "y_val": y}


def test_nan_loss_stops_with_the_iteration_and_keeps_the_best_parameters():
    model = _Diverging()
    solver = Solver(model, _toy_data(), optim_config={"learning_rate": 0.1}, batch_size=10, num_epochs=5,
                    verbose=False)
    with pytest.raises(TrainingDivergedError, match="Solver: training diverged: the loss is nan at iteration 4"):
        solver.train()
    assert len(solver.loss_history) == 3
    # the best parameters (first measured after iteration 1; later ones are no better), not the last ones
    np.testing.assert_allclose(model.params["w"], solver.best_params["w"])
    np.testing.assert_allclose(model.params["w"], np.full(3, 0.1))


@pytest.mark.parametrize("change, match", [
    (lambda d: d.update(y_train=d["y_train"] + 5), r"y_train must lie in \[0, 2\)"),
    (lambda d: d.update(y_val=d["y_val"][:5]), r"Solver: y_val must hold one label per sample of X_val, shape \(20,\)"),
    (lambda d: d.update(X_train=d["X_train"][:0], y_train=d["y_train"][:0]), "Solver: the train split is empty"),
    (lambda d: d.pop("X_val"), "Solver: data must contain X_val and y_val"),
])
def test_solver_data_errors(change, match):
    data = _toy_data()
    change(data)
    with pytest.raises(ValueError, match=match):
        Solver(_Diverging(), data)


def test_solver_writes_a_checkpoint_per_epoch(tmp_path):
    np.random.seed(0)
    data = _toy_data()
    model = TwoLayerNet(input_dim=3, hidden_dim=4, num_classes=2)
    solver = Solver(model, data, update_rule="sgd_momentum", batch_size=10, num_epochs=2, verbose=False,
                    checkpoint_name=str(tmp_path / "fc"))
    solver.train()
    ckpt = read_checkpoint(tmp_path / "fc_epoch_2.npz")
    assert ckpt["meta"]["epoch"] == 2 and ckpt["meta"]["update_rule"] == "sgd_momentum"
    assert set(ckpt["params"]) == {"W1", "b1", "W2", "b2"} and "velocity" in ckpt["optim"]["W1"]


def test_mnist_judge_round_trip_and_missing_file(tmp_path):
    judge = MnistJudge(seed=1)
    assert [k for k in judge.state_dict()][:6] == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                                   "1.running_var"]
    path = tmp_path / "judge.npz"
    np.savez(path, **judge.state_dict(), heldout_accuracy=np.array(0.5))
    loaded = mnist_judge(path, train_if_missing=False)
    assert loaded.heldout_accuracy == 0.5 and not loaded.training
    x = np.random.default_rng(0).random((3, 784))
    assert np.array_equal(loaded.predict(x), judge.eval().forward(x.reshape(3, 1, 28, 28)).argmax(axis=1))
    with pytest.raises(DataNotFoundError, match="mnist_judge: no trained judge at"):
        mnist_judge(tmp_path / "none.npz", train_if_missing=False)
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable .npz"):
        mnist_judge(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match=r"MnistJudge.predict: images must be \(N, 1, 28, 28\)"):
        loaded.predict(np.zeros((2, 32, 32)))


def test_mnist_judge_learns_from_a_few_hundred_digits():
    from npnet.data.mnist import load_mnist

    require_data("mnist/mnist_5k.npz")
    X, y = load_mnist("train")
    Xte, yte = load_mnist("test")
    judge = MnistJudge(seed=0)
    losses = judge.fit(X[:1000], y[:1000], epochs=2, learning_rate=3e-3)
    assert losses[-1] < losses[0]
    assert (judge.predict(Xte[:300]) == yte[:300]).mean() > 0.6  # chance is 0.1; ~0.72 measured
