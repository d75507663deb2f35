"""Training loops of the CS231n assignments: :class:`Solver` for classifiers and :class:`CaptioningSolver`
for captioning models, with checkpoints and a loss plot.

Both sample minibatches, ask the model for its loss and gradients, and apply an update rule from
:mod:`npnet.optim` to every parameter, each with its own optimiser state; they share that machinery
(options, update step, learning-rate decay, divergence check, checkpoints) through ``_SolverBase``::

    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    num_epochs=10, batch_size=100)
    solver.train()          # model.params ends as the parameters with the best validation accuracy
    plot_loss_history(solver.loss_history, "loss.png")

Checkpoints are ``.npz`` files: ``params/<name>`` arrays, ``optim/<name>/<key>`` state arrays and a
``meta`` JSON string (epoch, loss history, scalar optimiser settings, model configuration).
"""
import json

import numpy as np
from tqdm.auto import tqdm

from . import _check, optim
from .data.coco import sample_coco_minibatch
from ._io import atomic_output, read_npz
from .display import FigurePath
from .errors import DataNotFoundError, FileFormatError, NpnetTypeError, NpnetValueError, TrainingDivergedError

__all__ = ["Solver", "CaptioningSolver", "read_checkpoint", "plot_loss_history"]

_OPTIONS = {"update_rule": "adam", "optim_config": None, "lr_decay": 1.0, "batch_size": 100, "num_epochs": 10,
            "print_every": 10, "verbose": True, "checkpoint_name": None, "rng": None}


def _atomic_write(path, write, fn):
    """Call ``write(binary_file)`` on a temporary file next to ``path``, then move it onto ``path``
    (``fn``, the public caller, is named if ``path`` cannot be written)."""
    with atomic_output(path, fn) as tmp, open(tmp, "wb") as f:
        write(f)


class _SolverBase:
    """What every solver shares: options, one optimiser config per parameter, the update step with its
    divergence check, learning-rate decay and checkpoints. Subclasses sample batches and run epochs."""

    _options = _OPTIONS

    def __init__(self, model, data, fn, kwargs):
        unknown = sorted(set(kwargs) - set(self._options))
        if unknown:
            raise NpnetValueError(f"{fn}: unrecognized arguments {', '.join(unknown)}; "
                                  f"expected some of {', '.join(self._options)}")
        opts = {**self._options, **kwargs}
        if not isinstance(data, dict):
            raise NpnetTypeError(f"{fn}: data must be a dict of arrays; got {type(data).__name__}")
        if not isinstance(getattr(model, "params", None), dict) or not callable(getattr(model, "loss", None)):
            raise NpnetTypeError(f"{fn}: model needs a params dict and a loss method; got {type(model).__name__}")
        self.model, self.data = model, data
        self.update_rule = optim.resolve_update_rule(fn, opts["update_rule"])
        if opts["optim_config"] is not None and not isinstance(opts["optim_config"], dict):
            raise NpnetTypeError(f"{fn}: optim_config must be a dict; got {type(opts['optim_config']).__name__}")
        self.optim_config = dict(opts["optim_config"] or {})
        # Checked here, not at the first step, so a bad --lr fails before any data is loaded or time spent.
        self.optim_config.update(_check.hyper(fn, self.optim_config, optim.HYPER_PARAMETERS, prefix="optim_config"))
        self.lr_decay = _check.number(fn, "lr_decay", opts["lr_decay"], low=0, low_open=True)
        self.batch_size = _check.positive_int(fn, "batch_size", opts["batch_size"])
        self.num_epochs = _check.nonnegative_int(fn, "num_epochs", opts["num_epochs"])
        self.print_every = _check.positive_int(fn, "print_every", opts["print_every"])
        self.verbose = _check.boolean(fn, "verbose", opts["verbose"])
        self.checkpoint_name = opts["checkpoint_name"]
        # None keeps np.random (the course seeds it); a seed becomes one Generator drawn from all run long
        self.rng = None if opts["rng"] is None else _check.rng(fn, "rng", opts["rng"])
        return opts

    def _reset(self):
        self.epoch = 0
        self.loss_history = []
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def _update(self, loss, grads, iteration):
        """Record ``loss`` and apply the update rule to every parameter; stop on a non-finite loss."""
        loss = float(loss)
        if not np.isfinite(loss):
            self._diverged(f"the loss is {loss} at iteration {iteration}")
        bad = [name for name, g in grads.items() if not _check.all_finite(g)]
        if bad:
            self._diverged(f"the gradient of {', '.join(bad)} holds NaN/Inf at iteration {iteration}")
        self.loss_history.append(loss)
        for name, w in self.model.params.items():
            next_w, self.optim_configs[name] = optim.apply_rule(self.update_rule, w, grads[name],
                                                               self.optim_configs[name])
            if not _check.all_finite(next_w):
                self._diverged(f"the update of {name} overflowed at iteration {iteration}")
            self.model.params[name] = next_w

    def _diverged(self, what):
        raise TrainingDivergedError(f"{type(self).__name__}: training diverged: {what}; lower the learning rate "
                                    f"or the weight scale")

    def _end_epoch(self):
        self.epoch += 1
        for config in self.optim_configs.values():
            if "learning_rate" in config:
                config["learning_rate"] *= self.lr_decay
        if self.checkpoint_name is not None:
            self.save_checkpoint(f"{self.checkpoint_name}_epoch_{self.epoch}.npz")

    def _log(self, line):
        if self.verbose:
            tqdm.write(line)

    def _progress(self, num_iterations, per_epoch):
        """The tqdm bar over all iterations (starting at the current epoch); silent unless ``verbose``."""
        return tqdm(total=num_iterations, initial=self.epoch * per_epoch, disable=not self.verbose, leave=False,
                    desc="training", unit="it")

    def save_checkpoint(self, path):
        """Write parameters, optimiser state, epoch and loss history to ``path`` (.npz, atomically)."""
        arrays, scalars = {}, {}
        for name, w in self.model.params.items():
            arrays[f"params/{name}"] = w
        for name, config in self.optim_configs.items():
            scalars[name] = {}
            for key, value in config.items():
                if isinstance(value, np.ndarray):
                    arrays[f"optim/{name}/{key}"] = value
                else:
                    scalars[name][key] = value.item() if isinstance(value, np.generic) else value
        meta = {"epoch": self.epoch, "loss_history": self.loss_history, "optim": scalars,
                "update_rule": getattr(self.update_rule, "__name__", None)}
        if hasattr(self.model, "config"):
            meta["model"] = self.model.config()
        arrays["meta"] = np.array(json.dumps(meta))
        _atomic_write(path, lambda f: np.savez(f, **arrays), f"{type(self).__name__}.save_checkpoint")

    def load_checkpoint(self, path):
        """Restore parameters, optimiser state, epoch and loss history from :meth:`save_checkpoint`.

        The checkpoint must hold exactly the model's parameters, with the same shapes.
        """
        ckpt = read_checkpoint(path)
        if hasattr(self.model, "set_params"):
            self.model.set_params(ckpt["params"], source=str(path))
        else:
            self.model.params.update(ckpt["params"])
        meta = ckpt["meta"]
        self.optim_configs = {}
        for name in self.model.params:
            config = dict(meta["optim"].get(name, {}))
            config.update(ckpt["optim"].get(name, {}))
            self.optim_configs[name] = config
        self.epoch = int(meta["epoch"])
        self.loss_history = [float(v) for v in meta["loss_history"]]

class CaptioningSolver(_SolverBase):
    """Train a captioning model with minibatch gradient descent.

    Args:
        model: object with a ``params`` dict of arrays and ``loss(features, captions) -> (loss, grads)``
            (e.g. :class:`npnet.models.captioning.CaptioningRNN`).
        data: dict from :func:`npnet.data.coco.load_coco_data` (``train_captions``,
            ``train_image_idxs``, ``train_features``, ``train_urls``, ...).
        update_rule: name of a rule in :mod:`npnet.optim` (``'sgd'``, ``'sgd_momentum'``, ``'rmsprop'``,
            ``'adam'``) or a function with the same signature. Default ``'adam'``, which updates
            each parameter array in place (``optim.apply_rule``: the same numbers as ``optim.adam``).
        optim_config: hyperparameters given to the rule (e.g. ``{'learning_rate': 5e-3}``); each
            parameter gets its own copy, which also holds its optimiser state.
        lr_decay: the learning rate is multiplied by this after every epoch.
        batch_size: captions per minibatch. num_epochs: passes over the training captions.
        print_every: print the loss every this many iterations (if ``verbose``).
        checkpoint_name: if given, write ``<checkpoint_name>_epoch_<k>.npz`` after every epoch.
        rng: NumPy ``Generator``/``RandomState`` for minibatch sampling; ``None`` uses ``np.random``.

    After :meth:`train`, ``loss_history`` holds the loss of every iteration and ``epoch`` the number
    of epochs done.
    """

    def __init__(self, model, data, **kwargs):
        fn = "CaptioningSolver"
        super().__init__(model, data, fn, kwargs)
        if "train_captions" not in data:
            raise NpnetValueError(f"{fn}: data must contain 'train_captions' (see npnet.data.coco.load_coco_data)")
        self._reset()

    def _step(self, iteration):
        """One minibatch: loss, gradients, and an update of every parameter."""
        captions, features, _ = sample_coco_minibatch(self.data, batch_size=self.batch_size, split="train",
                                                      rng=self.rng)
        loss, grads = self.model.loss(features, captions)
        self._update(loss, grads, iteration)

    def train(self):
        """Run ``num_epochs`` epochs of ``max(num_train // batch_size, 1)`` iterations each.

        Continues from the current ``epoch`` (e.g. after :meth:`load_checkpoint`).
        """
        num_train = self.data["train_captions"].shape[0]
        per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * per_epoch
        with self._progress(num_iterations, per_epoch) as bar:
            for t in range(self.epoch * per_epoch, num_iterations):
                self._step(t + 1)
                bar.update(1)
                if t % self.print_every == 0:
                    self._log(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")
                    bar.set_postfix(loss=f"{self.loss_history[-1]:.3f}")
                if (t + 1) % per_epoch == 0:
                    self._end_epoch()

class Solver(_SolverBase):
    """Train a classifier with minibatch gradient descent (CS231n's ``Solver``).

    Args:
        model: object with a ``params`` dict of arrays and ``loss(X, y=None)``: scores when ``y`` is None,
            else ``(loss, grads)`` (e.g. :class:`npnet.models.classifiers.FullyConnectedNet`).
        data: dict with ``X_train``, ``y_train``, ``X_val``, ``y_val`` (integer labels).
        update_rule: ``'sgd'``, ``'sgd_momentum'``, ``'rmsprop'``, ``'adam'`` or a function (default ``'sgd'``);
            ``'adam'`` updates each parameter array in place (the same numbers as ``optim.adam``).
        optim_config: hyperparameters given to the rule, e.g. ``{'learning_rate': 1e-3}``; each parameter
            gets its own copy, which also holds its optimiser state.
        lr_decay: the learning rate is multiplied by this after every epoch.
        batch_size: samples per minibatch. num_epochs: passes over the training set.
        num_train_samples: training samples used to measure the training accuracy each epoch (default
            1000; None = all). num_val_samples: the same for validation (default None = all).
        checkpoint_name: if given, write ``<checkpoint_name>_epoch_<k>.npz`` after every epoch.
        print_every: print the loss every this many iterations. verbose: print, with a tqdm progress bar.
        rng: NumPy ``Generator``/``RandomState`` for minibatch sampling; ``None`` uses ``np.random``.

    After :meth:`train`: ``loss_history`` (every iteration), ``train_acc_history`` and
    ``val_acc_history`` (every epoch, and after the first iteration), ``best_val_acc``, and
    ``model.params`` replaced by ``best_params``, the parameters with the best validation accuracy.
    If the loss turns NaN/Inf, training stops with a ``TrainingDivergedError`` naming the iteration,
    and the model keeps the best parameters seen so far.
    """

    _options = {**_OPTIONS, "update_rule": "sgd", "num_train_samples": 1000, "num_val_samples": None}

    def __init__(self, model, data, **kwargs):
        fn = "Solver"
        opts = super().__init__(model, data, fn, kwargs)
        splits = {}
        for split in ("train", "val"):
            X, y = data.get(f"X_{split}"), data.get(f"y_{split}")
            if X is None or y is None:
                raise NpnetValueError(f"{fn}: data must contain X_{split} and y_{split}; got keys {sorted(data)}")
            X = np.asarray(X)
            if X.ndim < 2 or X.shape[0] == 0:
                raise NpnetValueError(f"{fn}: the {split} split is empty or not a batch of samples "
                                      f"(X_{split} has shape {X.shape})")
            y = np.asarray(y)
            if y.shape != (X.shape[0],):
                raise NpnetValueError(f"{fn}: y_{split} must hold one label per sample of X_{split}, shape "
                                      f"({X.shape[0]},); got {y.shape}")
            splits[split] = (X, y)
        num_classes = getattr(model, "num_classes", None)
        for split, (X, y) in splits.items():
            _check.labels(fn, f"y_{split}", y, X.shape[0], num_classes if num_classes else np.iinfo(np.int64).max)
        self.X_train, self.y_train = splits["train"]
        self.X_val, self.y_val = splits["val"]
        self.num_train_samples = opts["num_train_samples"]
        self.num_val_samples = opts["num_val_samples"]
        for name in ("num_train_samples", "num_val_samples"):
            if getattr(self, name) is not None:
                _check.positive_int(fn, name, getattr(self, name))
        self._reset()

    def _reset(self):
        super()._reset()
        self.best_val_acc = 0.0
        self.best_params = {}
        self.train_acc_history = []
        self.val_acc_history = []

    def _step(self, iteration):
        """One minibatch: loss, gradients, and an update of every parameter."""
        rng = np.random if self.rng is None else self.rng
        n = self.X_train.shape[0]
        idx = rng.choice(n, self.batch_size)  # with replacement, as CS231n
        X, y = self.X_train[idx], self.y_train[idx]
        try:
            # Overflow warnings would only precede the clear divergence error raised below.
            with np.errstate(over="ignore", invalid="ignore"):
                loss, grads = self.model.loss(X, y)
        except ValueError as err:
            # Finite data but non-finite scores: the parameters blew up (the loss would be Inf/NaN).
            if np.issubdtype(X.dtype, np.floating) and np.isfinite(X).all():
                self._diverged(f"at iteration {iteration} the model's loss failed ({err})")
            raise
        self._update(loss, grads, iteration)

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Fraction of ``X`` the model classifies as ``y`` (on a random subset of ``num_samples`` if given)."""
        n = X.shape[0]
        if num_samples is not None and n > num_samples:
            rng = np.random if self.rng is None else self.rng
            idx = rng.choice(n, num_samples)
            X, y, n = X[idx], y[idx], num_samples
        hits = 0
        for i in range(0, n, batch_size):
            with np.errstate(over="ignore", invalid="ignore"):  # blown-up scores simply count as misses
                scores = self.model.loss(X[i:i + batch_size])
            hits += int((np.argmax(scores, axis=1) == y[i:i + batch_size]).sum())
        return hits / n

    def _record_accuracies(self):
        train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        return train_acc, val_acc

    def train(self):
        """Run ``num_epochs`` epochs of ``max(num_train // batch_size, 1)`` iterations, then restore the best
        parameters. Accuracies are measured after the first iteration and at the end of every epoch."""
        per_epoch = max(self.X_train.shape[0] // self.batch_size, 1)
        num_iterations = self.num_epochs * per_epoch
        bar = self._progress(num_iterations, per_epoch)
        try:
            for t in range(self.epoch * per_epoch, num_iterations):
                self._step(t + 1)
                bar.update(1)
                if t % self.print_every == 0:
                    self._log(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")
                epoch_end = (t + 1) % per_epoch == 0
                if epoch_end:
                    self._end_epoch()
                if t == 0 or t == num_iterations - 1 or epoch_end:
                    train_acc, val_acc = self._record_accuracies()
                    self._log(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; "
                              f"val_acc: {val_acc:f}")
                    bar.set_postfix(loss=f"{self.loss_history[-1]:.3f}", val_acc=f"{val_acc:.3f}")
        except TrainingDivergedError:
            self._restore_best()
            raise
        finally:
            bar.close()
        self._restore_best()

    def _restore_best(self):
        if self.best_params:
            self.model.params = {k: v.copy() for k, v in self.best_params.items()}


_META_TYPES = {"epoch": int, "loss_history": list, "optim": dict}


def read_checkpoint(path):
    """Read a checkpoint written by ``save_checkpoint`` of :class:`Solver` or :class:`CaptioningSolver`.

    Returns:
        dict with ``params`` ({name: array}), ``optim`` ({name: {key: array}}) and ``meta`` (dict).
    Raises:
        FileNotFoundError if ``path`` does not exist; :class:`npnet.errors.FileFormatError` (a
        ``ValueError``) naming the file if it is truncated, corrupt or not such a checkpoint.
    """
    fn = "read_checkpoint"
    path = _check.path(fn, "path", path)
    if not path.is_file():
        raise DataNotFoundError(f"{fn}: no checkpoint file at {path}")
    try:
        contents = read_npz(path)
    except (OSError, ValueError) as err:
        raise FileFormatError(f"{fn}: {path} is not a readable .npz file, it may be truncated or corrupt "
                              f"({type(err).__name__}: {err})") from None
    if "meta" not in contents:
        raise FileFormatError(f"{fn}: {path} is not an npnet checkpoint (no 'meta' entry)")
    try:
        meta = json.loads(str(contents.pop("meta")))
    except ValueError as err:
        raise FileFormatError(f"{fn}: {path} has an unreadable 'meta' entry ({err})") from None
    if (not isinstance(meta, dict) or any(not isinstance(meta.get(k), t) for k, t in _META_TYPES.items())
            or not all(isinstance(v, (int, float)) for v in meta["loss_history"])
            or not all(isinstance(v, dict) for v in meta["optim"].values())):
        raise FileFormatError(f"{fn}: {path} has a 'meta' entry without "
                              f"{', '.join(f'{k} ({t.__name__})' for k, t in _META_TYPES.items())}")
    params, states = {}, {}
    for key, value in contents.items():
        kind, _, rest = key.partition("/")
        if kind == "params":
            params[rest] = value
        elif kind == "optim":
            name, _, state_key = rest.rpartition("/")
            states.setdefault(name, {})[state_key] = value
    if not params:
        raise FileFormatError(f"{fn}: {path} holds no parameters")
    # NaN weights or optimiser moments cannot come from a finished step (training stops on NaN), and
    # would make every later loss NaN without a word about the file.
    arrays = {**{f"params/{k}": v for k, v in params.items()},
              **{f"optim/{n}/{k}": v for n, state in states.items() for k, v in state.items()}}
    problems = _check.weight_problems(arrays)
    if problems:
        name, problem = next(iter(problems.items()))
        raise FileFormatError(f"{fn}: {path} has unusable values in {len(problems)} array(s), e.g. {name}: {problem}")
    return {"params": params, "optim": states, "meta": meta}


def plot_loss_history(loss_history, path, title="Training loss history"):
    """Save a PNG of the loss at every iteration (written atomically); returns ``path`` (as a
    ``npnet.display.FigurePath``, which a notebook shows as the plot)."""
    # A bare Figure (no pyplot) leaves the user's backend and open figures alone.
    from matplotlib.figure import Figure
    fn = "plot_loss_history"
    path = _check.output_path(fn, "path", path)
    try:
        losses = np.asarray(loss_history, dtype=np.float64)
    except (TypeError, ValueError):
        raise NpnetTypeError(f"{fn}: loss_history must be a sequence of numbers; got {loss_history!r:.60}") from None
    if losses.ndim != 1 or losses.size == 0:
        raise NpnetValueError(f"{fn}: loss_history must be a non-empty 1-D sequence; got shape {losses.shape}")
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(np.arange(1, losses.size + 1), losses)
    ax.set_xlabel("Iteration")
    ax.set_ylabel("Loss")
    ax.set_title(title)
    fig.tight_layout()
    _atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100), fn)
    return FigurePath.of(path, fig)
