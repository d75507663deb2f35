"""Both cores for a batch: the images of one forward/backward pass split between threads.

Only the matrix products of a pass use the second core by themselves (OpenBLAS's own threads); the
rest of a pass (im2col, pooling, ReLU and their backward passes) runs on one. Inside
``with batch_threads(model):`` a call ``model.forward(X)`` instead splits the batch into one part per
thread and runs each part on its own replica of the model: the same parameter arrays, its own caches.
``model.backward(d)`` then sends each part of ``d`` back through the replica that saw it, and the input
gradients are put back together in order (parameter gradients are summed into the model's). BLAS is
held at one thread for the whole block, so the threads do not fight BLAS's own: every core runs one
whole part, products and memory-bound work alike. (Numba's ``parallel=True`` and a second pool of
kernel threads beside BLAS's were measured slower: see :mod:`npnet.kernels`.) A pass that is not
split inside the block (one image) therefore runs on one core.

Measured on the project's 2-core machine (SqueezeNet 1.1, float32, quiet, interleaved): N=8 forward +
input gradient 90 -> 68 ms, forward alone 46 -> 37 ms; on one 224x224 image, integrated gradients
(50 steps) 592 -> 480 ms, occlusion (169 windows) 973 -> 794 ms, SmoothGrad (25 samples) 334 -> 278 ms.

Results equal the one-thread pass up to float rounding: a product over fewer images may sum in a
different order (float32 input gradients of SqueezeNet differ by ~1e-4 of their largest value, float64
ones by ~1e-15).

What the block does not do (the model then runs as usual, on the calling thread):

* a batch smaller than two images, or a model with a module in training mode (batch norm's batch
  statistics and dropout's random masks belong to the whole batch);
* when ``threadpoolctl`` is not installed (BLAS's threads cannot be held at one) or BLAS already runs
  on one thread, which is how a user asks for one core (``OPENBLAS_NUM_THREADS=1``).

Only ``model.forward`` and ``model.backward`` are split. Activations read from inside the model
(``model.features.outputs``, Grad-CAM's taps) and sub-range passes belong to the replicas after a split
forward, so code that reads them must not run inside the block; integrated gradients, occlusion and
SmoothGrad, which only call ``forward`` and ``backward``, use it.
"""
import contextlib
import contextvars
import os
import weakref

import numpy as np

from . import _check
from .errors import NpnetTypeError, NpnetValueError
from .kernels import LazyPool
from .nn import Module, Sequential

_pool = LazyPool("npnet-batch")
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_controller = None
_replicas = weakref.WeakKeyDictionary()  # model -> its replicas from the last split, reused


def _blas():
    """threadpoolctl's controller of the loaded BLAS libraries, or None without threadpoolctl."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return None
        _controller = ThreadpoolController()
    return _controller


def _blas_threads(controller):
    """The threads BLAS runs a product on now (the most any loaded BLAS library uses)."""
    blas = controller.select(user_api="blas")
    return max((lib.num_threads for lib in blas.lib_controllers), default=1)


def _training(model):
    return any(m.training for _, m in model.named_modules())


def replica(module, reuse=None):
    """A copy of ``module`` that shares its parameter and buffer arrays but has its own caches,
    gradients and Sequential taps, so it can run a pass at the same time as the original.

    ``reuse``, an earlier replica of the same module, is brought up to date (parameters, flags) and
    returned instead of a new one when its modules still match the original's one to one: within a
    ``batch_threads`` block its arrays from the last pass are then replaced pass by pass, which the
    memory allocator serves faster than a fresh set (SqueezeNet at N=8 split in two: 78 -> 68 ms for
    forward + input gradient). At the end of a block the replicas drop their arrays and are kept,
    per model, for the next block."""
    if not isinstance(module, Module):
        raise NpnetTypeError(f"replica: module must be an npnet Module; got {type(module).__name__}")
    pairs = {}
    if reuse is not None:
        mine, theirs = list(module.named_modules()), list(reuse.named_modules())
        if [(n, type(m)) for n, m in mine] == [(n, type(m)) for n, m in theirs]:
            pairs = {id(m): r for (_, m), (_, r) in zip(mine, theirs)}
    return _replica(module, {}, pairs)


def _replica(module, memo, pairs):
    old = pairs.get(id(module))
    copy = object.__new__(type(module)) if old is None else old
    memo[id(module)] = copy
    state = {}
    for name, value in module.__dict__.items():
        if name in ("forward", "backward"):  # batch_threads' stand-ins on the original instance
            continue
        if isinstance(value, Module):
            value = memo.get(id(value)) or _replica(value, memo, pairs)
        elif isinstance(value, dict) and value and all(isinstance(v, Module) for v in value.values()):
            value = {k: memo.get(id(v)) or _replica(v, memo, pairs) for k, v in value.items()}
        elif isinstance(value, list) and value and all(isinstance(v, Module) for v in value):
            value = [memo.get(id(v)) or _replica(v, memo, pairs) for v in value]
        state[name] = value
    # its own state: caches (kept from the replica's last pass until the next forward replaces them),
    # parameter gradients, a Sequential's taps
    state["grads"] = {}
    state["_cache"] = None if old is None else old.__dict__.get("_cache")
    if "outputs" in state:
        state["outputs"] = old.outputs if old is not None else [None] * len(state["outputs"])
    copy.__dict__.update(state)
    return copy


def _run(parts):
    """Run ``[(fn, args), ...]`` on the pool's threads, each in a copy of the caller's context (so
    ``no_grad`` and ``relu_mode`` hold there too); their results in order."""
    pool = _pool.get(max(2, os.cpu_count() or 2))
    futures = [pool.submit(contextvars.copy_context().run, fn, *args) for fn, args in parts]
    return [f.result() for f in futures]


class _Split:
    """``forward`` and ``backward`` of ``model`` with the batch split between ``threads`` replicas."""

    def __init__(self, model, threads):
        self.model, self.threads = model, threads
        self.cls = type(model)
        self.replicas = None  # one per part of the last split forward, the model itself first
        self.bounds = None

    def forward(self, X):
        n = len(X)
        if n < 2 or _training(self.model):
            self.replicas = None
            return self.cls.forward(self.model, X)
        parts = min(self.threads, n)
        self.bounds = [n * t // parts for t in range(parts + 1)]
        kept = _replicas.get(self.model, [])
        self.replicas = [self.model] + [replica(self.model, kept[t] if t < len(kept) else None)
                                        for t in range(parts - 1)]
        _replicas[self.model] = self.replicas[1:]
        outs = _run([(self.cls.forward, (rep, X[lo:hi]))
                     for rep, lo, hi in zip(self.replicas, self.bounds, self.bounds[1:])])
        return np.concatenate(outs)

    def backward(self, dout):
        if self.replicas is None:
            return self.cls.backward(self.model, dout)
        if len(dout) != self.bounds[-1]:
            raise NpnetValueError(f"{self.cls.__name__}.backward: dout has {len(dout)} rows for a "
                                  f"forward pass of {self.bounds[-1]} images")
        grads = _run([(self.cls.backward, (rep, dout[lo:hi]))
                      for rep, lo, hi in zip(self.replicas, self.bounds, self.bounds[1:])])
        # parameter gradients: the sum over the parts, as one pass over the whole batch would give
        mine = dict(self.model.named_modules())
        for rep in self.replicas[1:]:
            for name, module in rep.named_modules():
                for key, g in module.grads.items():
                    mine[name].grads[key] = mine[name].grads[key] + g
        return np.concatenate(grads)


@contextlib.contextmanager
def batch_threads(model, threads=None):
    """Within the block, ``model.forward`` and ``model.backward`` split each batch between ``threads``
    threads (see the module docstring for what is split and when it is not).

    Args:
        model: an npnet Module whose ``forward(X)`` and ``backward(d)`` take the batch on axis 0; any
            other object (a model written without npnet's Module) runs as it is.
        threads: parts per batch (>= 1); None uses as many as BLAS is set to use (its thread count
            when the block starts, e.g. ``OPENBLAS_NUM_THREADS``), so one thread stays one thread.
    Yields:
        ``model`` itself, whose ``forward`` and ``backward`` are the splitting ones until the block ends.
    """
    fn = "batch_threads"
    if threads is None and any(os.environ.get(v, "").strip() == "1" for v in BLAS_THREAD_VARIABLES):
        yield model  # BLAS pinned to one thread by its own variable: one thread stays one thread
        return
    controller = _blas()
    if threads is not None:
        threads = _check.positive_int(fn, "threads", threads)
    elif controller is not None:
        threads = min(_blas_threads(controller), os.cpu_count() or 1)
    if (not isinstance(model, Module) or controller is None or threads is None or threads < 2
            or "forward" in model.__dict__):
        yield model  # not a Module, nothing to split with, or already inside a block for this model
        return
    split = _Split(model, threads)
    model.forward, model.backward = split.forward, split.backward  # shadow the class's methods
    try:
        # For the whole block, not pass by pass: a product on BLAS's threads between two passes (IG's
        # weighted sum of gradients) leaves BLAS's worker spinning on a core the next pass needs,
        # which made integrated gradients 1.3x slower than without the split.
        with controller.limit(limits=1, user_api="blas"):
            yield model
    finally:
        del model.forward, model.backward
        for rep in _replicas.get(model, []):  # the objects stay for the next block; their arrays go
            for _, module in rep.named_modules():
                module.__dict__["_cache"] = None
                if isinstance(module, Sequential):
                    module.outputs = [None] * len(module.outputs)
