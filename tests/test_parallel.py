"""npnet.parallel.batch_threads: a batch split between threads gives the one-thread results, carries
no_grad and relu_mode into the threads, sums parameter gradients, and leaves the model as it was."""
import numpy as np
import pytest

from npnet import parallel
from npnet.layers import relu_mode
from npnet.nn import Conv2d, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU, Sequential, no_grad
from npnet.parallel import batch_threads, replica
from npnet.vis.attribution import integrated_gradients, occlusion
from npnet.vis.saliency import smoothgrad


def small_net(seed=0):
    return Sequential(Conv2d(3, 4, 3, padding=1, dtype=np.float64, rng=seed), ReLU(), MaxPool2d(2),
                      Conv2d(4, 6, 3, dtype=np.float64, rng=seed + 1), ReLU(), GlobalAvgPool2d(), Flatten(),
                      Linear(6, 5, dtype=np.float64, rng=seed + 2))


def passes(net, x, dout):
    out = net.forward(x)
    return out, net.backward(dout), {k: v.copy() for k, v in net.named_grads()}


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 3, 8, 8)), rng.standard_normal((5, 5))


@pytest.mark.parametrize("threads", [2, 3])
def test_split_batch_equals_one_pass(data, threads, monkeypatch):
    x, dout = data
    net = small_net()
    want = passes(net, x, dout)
    made = []
    monkeypatch.setattr(parallel, "replica", lambda m, reuse=None: made.append(1) or replica(m, reuse))
    with batch_threads(net, threads) as same:
        assert same is net
        got = passes(net, x, dout)
    assert len(made) == threads - 1  # the batch was split: 5 images into `threads` parts
    for a, b in zip(got[:2], want[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert sorted(got[2]) == sorted(want[2]) and len(want[2]) == 6  # parameter gradients: summed parts
    for k in want[2]:
        np.testing.assert_allclose(got[2][k], want[2][k], rtol=1e-12, atol=1e-14)
    assert "forward" not in net.__dict__ and "backward" not in net.__dict__
    # the replicas stay for the next block, without the arrays of their last pass
    kept = parallel._replicas[net]
    assert len(kept) == threads - 1
    assert all(m.cache is None for rep in kept for _, m in rep.named_modules())
    assert all(o is None for rep in kept for o in rep.outputs)


def test_no_grad_and_relu_mode_hold_in_the_threads(data):
    x, dout = data
    net = small_net()
    with relu_mode("guided"):
        want = passes(net, x, dout)[1]
        with batch_threads(net, 2):
            got = passes(net, x, dout)[1]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert np.abs(got - passes(net, x, dout)[1]).max() > 1e-6  # guided differs from standard here
    with batch_threads(net, 2), no_grad():
        net.forward(x)
        with pytest.raises(RuntimeError, match="no_grad"):
            net.backward(dout)


def test_what_is_not_split(data, monkeypatch):
    x, dout = data
    monkeypatch.setattr(parallel, "replica", lambda *a: pytest.fail("split"))
    net = small_net()
    want = passes(net, x, dout)[1]
    with batch_threads(net, 1):  # one thread asked for
        assert "forward" not in net.__dict__
    with batch_threads(net, 2):
        np.testing.assert_allclose(passes(net, x[:1], dout[:1])[1], want[:1], rtol=1e-12)  # one image
        net.train()  # batch statistics / dropout masks belong to the whole batch
        np.testing.assert_allclose(passes(net, x, dout)[1], want, rtol=1e-12)
    monkeypatch.setattr(parallel, "_blas", lambda: None)  # no threadpoolctl: BLAS's threads uncontrolled
    with batch_threads(net.eval(), 2):
        assert "forward" not in net.__dict__
    other = object()
    with batch_threads(other, 2) as same:  # not an npnet Module: runs as it is
        assert same is other


def test_the_model_is_restored_after_an_error_and_blocks_nest(data):
    x, _ = data
    net = small_net()
    with pytest.raises(ZeroDivisionError):
        with batch_threads(net, 2):
            with batch_threads(net, 2):  # the inner block leaves the outer one's methods alone
                assert "forward" in net.__dict__
            assert "forward" in net.__dict__
            1 / 0
    assert "forward" not in net.__dict__
    with pytest.raises(ValueError, match="dout has 2 rows for a forward pass of 5 images"):
        with batch_threads(net, 2):
            net.forward(x)
            net.backward(np.ones((2, 5)))
    with pytest.raises(ValueError, match="batch_threads: threads"):
        with batch_threads(net, 0):
            pass


def test_replica_shares_weights_but_not_state(data):
    x, dout = data
    net = small_net()
    twin = replica(net)
    assert twin[0].params["weight"] is net[0].params["weight"] and twin[0] is not net[0]
    twin.forward(x[:2])
    net.forward(x)
    assert twin.outputs[0].shape[0] == 2 and net.outputs[0].shape[0] == 5
    twin.backward(dout[:2])
    assert net[0].grads == {} and twin[0].grads["weight"].shape == (4, 3, 3, 3)
    with pytest.raises(TypeError, match="replica: module must be an npnet Module"):
        replica("net")


def test_a_reused_replica_follows_the_original(data):
    x, dout = data
    net = small_net()
    twin = replica(net)
    twin.forward(x[:2])
    net.astype(np.float32).requires_grad_(False)  # new parameter dicts, new flags
    again = replica(net, twin)
    assert again is twin and again[0] is twin[0]  # the same objects, brought up to date
    assert again[0].params is net[0].params and again[0].params["weight"].dtype == np.float32
    assert not again[0].requires_grad and again[0].grads == {}
    np.testing.assert_array_equal(again.forward(x[:2].astype(np.float32)), net.forward(x[:2].astype(np.float32)))
    other = Sequential(Linear(3, 2))  # a different structure: a new replica
    assert replica(other, twin) is not twin


class _Model(Sequential):
    """small_net with the attributes the techniques need of a model."""
    num_classes, dtype = 5, np.dtype(np.float64)

    def check_input(self, fn, X):
        return np.asarray(X)


def test_techniques_split_their_passes_and_give_the_same_maps(monkeypatch):
    X = np.random.default_rng(3).standard_normal((2, 3, 8, 8))
    y = np.array([1, 4])
    model = _Model(*small_net().layers)
    runs = {
        "ig": lambda: integrated_gradients(X, y, model, steps=6, batch_size=4),
        "occlusion": lambda: occlusion(X, y, model, window=4, stride=2, batch_size=4),
        "smoothgrad": lambda: smoothgrad(X, y, model, n_samples=4, seed=0, batch_size=4),
    }
    monkeypatch.setattr(parallel, "_blas_threads", lambda controller: 1)  # as with OPENBLAS_NUM_THREADS=1
    want = {name: run() for name, run in runs.items()}
    splits = []
    original = parallel._Split.forward
    monkeypatch.setattr(parallel._Split, "forward", lambda self, X: splits.append(len(X)) or original(self, X))
    monkeypatch.setattr(parallel, "_blas_threads", lambda controller: 2)
    for name, run in runs.items():
        splits.clear()
        got = run()
        assert splits and max(splits) == 4, name  # every pass of 4 images went through the split
        for a, b in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, want[name]))):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
