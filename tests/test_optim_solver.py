"""Update rules (against the values CS231n's FullyConnectedNets notebook prints, and hand-computed steps),
the CaptioningSolver loop, its checkpoints and the loss plot."""
import numpy as np
import pytest

from gradcheck import rel_error
from npnet import optim
from npnet.data.coco import load_coco_data, make_synthetic_coco
from npnet.models.captioning import CaptioningRNN
from npnet.solver import CaptioningSolver, plot_loss_history, read_checkpoint
from conftest import require_data

N, D = 4, 5


def lin(lo, hi):
    return np.linspace(lo, hi, num=N * D).reshape(N, D)


def test_sgd_hand_computed():
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    next_w, config = optim.sgd(w, dw)
    np.testing.assert_allclose(next_w, [1.0 - 0.005, -2.0 - 0.0025], rtol=1e-15)
    assert config == {"learning_rate": 1e-2}
    np.testing.assert_array_equal(w, [1.0, -2.0])  # input untouched


def test_sgd_momentum_matches_course_values():
    config = {"learning_rate": 1e-3, "velocity": lin(0.6, 0.9)}
    next_w, _ = optim.sgd_momentum(lin(-0.4, 0.6), lin(-0.6, 0.4), config=config)
    expected_w = np.array([[0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
                           [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
                           [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
                           [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_v = np.array([[0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
                           [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
                           [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
                           [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    assert rel_error(expected_w, next_w) < 1e-8
    assert rel_error(expected_v, config["velocity"]) < 1e-8
    assert config["momentum"] == 0.9


def test_rmsprop_matches_course_values():
    config = {"learning_rate": 1e-2, "cache": lin(0.6, 0.9)}
    next_w, _ = optim.rmsprop(lin(-0.4, 0.6), lin(-0.6, 0.4), config=config)
    expected_w = np.array([[-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
                           [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
                           [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
                           [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    expected_cache = np.array([[0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
                               [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
                               [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
                               [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
    assert rel_error(expected_w, next_w) < 1e-7
    assert rel_error(expected_cache, config["cache"]) < 1e-7


def test_adam_matches_course_values():
    config = {"learning_rate": 1e-2, "m": lin(0.6, 0.9), "v": lin(0.7, 0.5), "t": 5}
    next_w, _ = optim.adam(lin(-0.4, 0.6), lin(-0.6, 0.4), config=config)
    expected_w = np.array([[-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
                           [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
                           [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
                           [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    expected_v = np.array([[0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
                           [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
                           [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
                           [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    expected_m = np.array([[0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
                           [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
                           [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
                           [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    # the printed values have 8 decimals: equal to within half a unit of the last one
    np.testing.assert_allclose(next_w, expected_w, rtol=0, atol=5.1e-9)
    np.testing.assert_allclose(config["v"], expected_v, rtol=0, atol=5.1e-9)
    np.testing.assert_allclose(config["m"], expected_m, rtol=0, atol=5.1e-9)
    assert config["t"] == 6


def test_adam_first_step_from_defaults_is_learning_rate_times_sign():
    # t = 1: m_hat = dw and v_hat = dw**2, so the step is lr * dw / (|dw| + eps)
    w = np.array([1.0, 1.0, 1.0], dtype=np.float32)
    dw = np.array([3.0, -0.5, 0.0], dtype=np.float32)
    next_w, config = optim.adam(w, dw)
    assert next_w.dtype == np.float32 and config["t"] == 1
    np.testing.assert_allclose(next_w, [1 - 1e-3, 1 + 1e-3, 1.0], rtol=1e-6)
    assert config["learning_rate"] == 1e-3 and config["beta1"] == 0.9 and config["beta2"] == 0.999
    assert config["epsilon"] == 1e-8


def _adam_nets(dtype):
    """Two identical small nets whose parameters cover the layouts the Optimizer meets: Linear weights
    (their gradient is a transposed view), conv and transposed-conv weights, biases, batch norm."""
    from npnet import nn

    def make():
        return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, dtype=dtype, rng=0), nn.BatchNorm2d(3, dtype=dtype),
                             nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1, dtype=dtype, rng=1), nn.Flatten(),
                             nn.Linear(2 * 10 * 10, 7, dtype=dtype, rng=2)).train()
    return make(), make()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_optimizer_adam_in_place_equals_the_reference_rule_over_several_steps(dtype):
    """The Optimizer's in-place Adam (one Numba pass per parameter) gives the reference ``adam``'s
    numbers exactly, step after step, and leaves the same state in every config."""
    from npnet import nn

    rng = np.random.default_rng(0)
    fast_net, ref_net = _adam_nets(dtype)
    hyper = {"learning_rate": 1e-2, "beta1": 0.5}
    fast = optim.Optimizer(fast_net, "adam", hyper)
    ref = optim.Optimizer(ref_net, lambda w, dw, config: optim.adam(w, dw, config), hyper)  # not the fast path
    weights = fast_net[4].params["weight"]
    for _ in range(4):
        x = rng.standard_normal((3, 2, 5, 5)).astype(dtype)
        dout = rng.standard_normal((3, 7)).astype(dtype)
        for net in (fast_net, ref_net):
            net.forward(x)
            net.backward(dout)
        fast.step()
        ref.step()
        for (name, a), (_, b) in zip(fast_net.named_parameters(), ref_net.named_parameters()):
            np.testing.assert_array_equal(a, b, err_msg=name)
            assert a.dtype == dtype
            for key in ("m", "v", "t"):
                np.testing.assert_array_equal(fast.configs[name][key], ref.configs[name][key])
    assert fast_net[4].params["weight"] is weights  # updated in place
    assert isinstance(fast_net[4], nn.Linear) and fast_net[4].grads["weight"].flags.f_contiguous  # copied


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("shape, dtype", [((13, 1024), np.float32), ((1024, 1024), np.float32), ((517, 512), np.float64),
                                          ((37, 21), np.float32), ((8, 8), np.float64), ((1, 300000), np.float32)])
def test_adam_in_place_on_a_transposed_gradient_equals_the_reference_rule(shape, dtype, threads):
    """A Linear-like gradient (the transpose of a C-ordered matrix) is read by the kernel in blocks of
    rows (partial blocks, one whole block, rows 4 KiB apart), split between kernel threads or not: the
    reference rule's numbers exactly, and a C-ordered gradient of the same values gives them too."""
    from npnet import kernels

    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape[::-1]).astype(dtype).T for _ in range(2)]  # (R, C), F-ordered
    assert not grads[0].flags.c_contiguous or shape[0] == 1
    results = []
    before = kernels.get_num_threads()
    kernels.set_num_threads(threads)
    try:
        for mode in ("transposed", "copied", "reference"):
            w, config = w0.copy(), {"learning_rate": 0.1}
            for g in grads:
                if mode == "reference":
                    w, config = optim.adam(w, g, config)
                else:
                    w, config = optim._adam_in_place(w, g if mode == "transposed" else np.ascontiguousarray(g), config)
            results.append((w, config["m"], config["v"]))
    finally:
        kernels.set_num_threads(before)
    for got in results[:2]:
        for a, b in zip(got, results[2]):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(results[2][0], w0)


def test_optimizer_adam_in_place_with_a_1024_wide_linear_equals_the_reference_rule():
    """A Linear with 1024 outputs: its weight gradient's rows are 4 KiB apart, the tiled copy's case."""
    from npnet import nn

    rng = np.random.default_rng(1)
    fast_net, ref_net = (nn.Sequential(nn.Linear(5, 1024, rng=0)) for _ in range(2))
    fast = optim.Optimizer(fast_net, "adam")
    ref = optim.Optimizer(ref_net, lambda w, dw, config: optim.adam(w, dw, config))
    for _ in range(2):
        x, dout = rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((4, 1024)).astype(np.float32)
        for net in (fast_net, ref_net):
            net.forward(x)
            net.backward(dout)
        assert fast_net[0].grads["weight"].T.strides[0] % 4096 == 0
        fast.step()
        ref.step()
        np.testing.assert_array_equal(fast_net[0].params["weight"], ref_net[0].params["weight"])


def test_optimizer_adam_in_place_refuses_non_finite_values_before_changing_anything():
    fast_net, _ = _adam_nets(np.float64)
    opt = optim.Optimizer(fast_net, "adam")
    fast_net.forward(np.ones((2, 2, 5, 5)))
    fast_net.backward(np.ones((2, 7)))
    grad = fast_net[0].grads["weight"]
    grad.flat[5] = np.nan
    before = {k: v.copy() for k, v in fast_net.named_parameters()}
    with pytest.raises(ValueError, match=rf"adam: dw contains 1 NaN/Inf value\(s\) of {grad.size}"):
        opt.step()
    for name, value in fast_net.named_parameters():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    assert opt.configs["0.weight"]["m"] is None and opt.configs["0.weight"]["t"] == 0
    # a weight that went infinite is refused the same way
    grad.flat[5] = 0.0
    fast_net[0].params["weight"].flat[0] = np.inf
    with pytest.raises(ValueError, match=r"adam: w contains 1 NaN/Inf value\(s\)"):
        opt.step()


def test_optimizer_adam_falls_back_to_the_reference_rule_for_foreign_state():
    """A read-only weight, or moments of another dtype, take the reference rule (new arrays)."""
    w = np.arange(6.0).reshape(2, 3)
    w.flags.writeable = False
    assert not optim._adam_in_place_fits(w, np.ones((2, 3)))
    w = np.arange(6.0)
    config = {"m": np.zeros(6, np.float32), "v": np.zeros(6)}
    expected, _ = optim.adam(w.copy(), np.ones(6), {"m": np.zeros(6, np.float32), "v": np.zeros(6)})
    next_w, config = optim._adam_in_place(w, np.ones(6), config)
    assert next_w is not w and np.array_equal(w, np.arange(6.0))
    np.testing.assert_array_equal(next_w, expected)


def test_update_rules_reject_bad_arguments():
    with pytest.raises(ValueError, match="adam: dw must have the shape of w"):
        optim.adam(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match="sgd: w must be a floating-point array"):
        optim.sgd(np.zeros(3, dtype=int), np.zeros(3))
    with pytest.raises(ValueError, match="sgd_momentum: config\\['velocity'\\] must have the shape of w"):
        optim.sgd_momentum(np.zeros(3), np.zeros(3), {"velocity": np.zeros(2)})


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    vocab = require_data("coco/coco2014_vocab.json")
    out = make_synthetic_coco(tmp_path_factory.mktemp("coco"), vocab, num_train=20, num_val=4, fc7_dim=8,
                              caption_length=8, seed=0)
    return load_coco_data(out)


def _model(data, cell="rnn", seed=0):
    return CaptioningRNN(data["word_to_idx"], input_dim=512, wordvec_dim=8, hidden_dim=10, cell_type=cell,
                         rng=np.random.default_rng(seed))


def _solver(model, data, **kw):
    opts = dict(update_rule="adam", optim_config={"learning_rate": 1e-2}, batch_size=5, num_epochs=2,
                verbose=False, rng=np.random.default_rng(1))
    opts.update(kw)
    return CaptioningSolver(model, data, **opts)


def test_solver_trains_with_one_optimiser_state_per_parameter(small_data, capsys):
    model = _model(small_data)
    solver = _solver(model, small_data, lr_decay=0.5, verbose=True, print_every=3)
    solver.train()
    # 20 captions / batch 5 = 4 iterations per epoch, 2 epochs
    assert len(solver.loss_history) == 8 and solver.epoch == 2
    assert solver.loss_history[-1] < solver.loss_history[0]
    assert set(solver.optim_configs) == set(model.params)
    for name, config in solver.optim_configs.items():
        assert config["m"].shape == model.params[name].shape and config["t"] == 8
        assert config["learning_rate"] == pytest.approx(1e-2 * 0.25)
    assert solver.optim_configs["Wx"]["m"] is not solver.optim_configs["Wh"]["m"]
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("(Iteration 1 / 8) loss: ")
    assert "(Iteration 4 / 8)" in out and "(Iteration 7 / 8)" in out and "(Iteration 2 / 8)" not in out


def test_checkpoint_round_trip_resumes_exactly(small_data, tmp_path):
    straight = _solver(_model(small_data, "lstm"), small_data)
    straight.train()

    first = _solver(_model(small_data, "lstm"), small_data, num_epochs=1)
    first.train()
    first.save_checkpoint(tmp_path / "ckpt.npz")
    resumed = _solver(_model(small_data, "lstm", seed=5), small_data, rng=first.rng)
    resumed.load_checkpoint(tmp_path / "ckpt.npz")
    assert resumed.epoch == 1 and resumed.loss_history == first.loss_history
    resumed.train()
    assert resumed.loss_history == pytest.approx(straight.loss_history, rel=1e-6)
    for name, value in straight.model.params.items():
        np.testing.assert_allclose(resumed.model.params[name], value, rtol=1e-5, atol=1e-7)

    model = CaptioningRNN.from_checkpoint(tmp_path / "ckpt.npz")
    assert model.cell_type == "lstm" and model.hidden_dim == 10 and model.word_to_idx == small_data["word_to_idx"]
    np.testing.assert_array_equal(model.params["Wh"], first.model.params["Wh"])


def test_checkpoints_per_epoch_and_bad_checkpoints(small_data, tmp_path):
    solver = _solver(_model(small_data), small_data, checkpoint_name=str(tmp_path / "run"))
    solver.train()
    ckpt = read_checkpoint(tmp_path / "run_epoch_2.npz")
    assert ckpt["meta"]["epoch"] == 2 and len(ckpt["meta"]["loss_history"]) == 8
    assert ckpt["optim"]["W_vocab"]["v"].shape == solver.model.params["W_vocab"].shape
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_epoch_1.npz", "run_epoch_2.npz"]  # no temp files
    other = _solver(CaptioningRNN(small_data["word_to_idx"], input_dim=512, wordvec_dim=8, hidden_dim=11),
                    small_data)
    with pytest.raises(ValueError, match=r"must have shape \(512, 11\); got \(512, 10\)"):
        other.load_checkpoint(tmp_path / "run_epoch_2.npz")
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        read_checkpoint(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable .npz"):
        read_checkpoint(tmp_path / "junk.npz")


def test_solver_rejects_bad_options(small_data):
    model = _model(small_data)
    with pytest.raises(ValueError, match="unrecognized arguments bogus"):
        CaptioningSolver(model, small_data, bogus=1)
    with pytest.raises(ValueError, match="invalid update_rule 'adagrad'"):
        CaptioningSolver(model, small_data, update_rule="adagrad")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        CaptioningSolver(model, small_data, batch_size=0)


def test_plot_loss_history_writes_png(tmp_path):
    path = plot_loss_history([3.0, 2.0, 1.5, 1.0], tmp_path / "loss.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]
    with pytest.raises(ValueError, match="non-empty"):
        plot_loss_history([], tmp_path / "empty.png")


def test_apply_rule_updates_adam_in_place_with_the_reference_numbers():
    from npnet.optim import adam, apply_rule
    rng = np.random.default_rng(4)
    w, dw = rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal((5, 7)).astype(np.float32)
    ref_w, ref_cfg = w.copy(), {"learning_rate": 1e-2}
    cfg = {"learning_rate": 1e-2}
    for _ in range(3):
        ref_w, ref_cfg = adam(ref_w, dw, ref_cfg)
        out, cfg = apply_rule(adam, w, dw, cfg)
        assert out is w  # in place
    np.testing.assert_array_equal(w, ref_w)
    np.testing.assert_array_equal(cfg["m"], ref_cfg["m"])
    # any other rule (a student's Adam under grading) is called as it is
    calls = []
    student = lambda w, dw, config: calls.append(1) or (w - dw, config)  # noqa: E731
    out, _ = apply_rule(student, w, dw, {})
    assert calls == [1] and out is not w
    strided = np.zeros((7, 5), np.float32).T  # not C-contiguous: the reference rule, a new array
    out, _ = apply_rule(adam, strided, dw, {"learning_rate": 1e-2})
    assert out is not strided and not strided.any()
