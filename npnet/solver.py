"""Training loop for captioning models (the CS231n ``CaptioningSolver``), checkpoints and a loss plot.

The solver samples minibatches of (caption, image feature) pairs, asks the model for its loss and
gradients, and applies an update rule from :mod:`npnet.optim` to every parameter, each with its own
optimiser state::

    solver = CaptioningSolver(model, data, update_rule="adam", optim_config={"learning_rate": 5e-3},
                              num_epochs=50, batch_size=25)
    solver.train()
    plot_loss_history(solver.loss_history, "loss.png")

Checkpoints are ``.npz`` files: ``params/<name>`` arrays, ``optim/<name>/<key>`` state arrays and a
``meta`` JSON string (epoch, loss history, scalar optimiser settings, model configuration).
"""
import json
import zipfile

import numpy as np

from . import _check, optim
from .data.coco import sample_coco_minibatch
from ._io import atomic_output
from .errors import DataNotFoundError, FileFormatError, NpnetTypeError, NpnetValueError, TrainingDivergedError

__all__ = ["CaptioningSolver", "read_checkpoint", "plot_loss_history"]

_OPTIONS = {"update_rule": "adam", "optim_config": None, "lr_decay": 1.0, "batch_size": 100, "num_epochs": 10,
            "print_every": 10, "verbose": True, "checkpoint_name": None, "rng": None}


def _atomic_write(path, write):
    """Call ``write(binary_file)`` on a temporary file next to ``path``, then move it onto ``path``."""
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        write(f)


class CaptioningSolver:
    """Train a captioning model with minibatch gradient descent.

    Args:
        model: object with a ``params`` dict of arrays and ``loss(features, captions) -> (loss, grads)``
            (e.g. :class:`npnet.models.captioning.CaptioningRNN`).
        data: dict from :func:`npnet.data.coco.load_coco_data` (``train_captions``,
            ``train_image_idxs``, ``train_features``, ``train_urls``, ...).
        update_rule: name of a rule in :mod:`npnet.optim` (``'sgd'``, ``'sgd_momentum'``, ``'rmsprop'``,
            ``'adam'``) or a function with the same signature. Default ``'adam'``.
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
        unknown = sorted(set(kwargs) - set(_OPTIONS))
        if unknown:
            raise NpnetValueError(f"{fn}: unrecognized arguments {', '.join(unknown)}; "
                                  f"expected some of {', '.join(_OPTIONS)}")
        opts = {**_OPTIONS, **kwargs}
        self.model, self.data = model, data
        rule = opts["update_rule"]
        if isinstance(rule, str):
            if rule not in optim.__all__:
                raise NpnetValueError(f"{fn}: invalid update_rule {rule!r}; expected one of {', '.join(optim.__all__)}")
            rule = getattr(optim, rule)
        elif not callable(rule):
            raise NpnetTypeError(f"{fn}: update_rule must be a name or a function; got {type(rule).__name__}")
        self.update_rule = rule
        if opts["optim_config"] is not None and not isinstance(opts["optim_config"], dict):
            raise NpnetTypeError(f"{fn}: optim_config must be a dict or None; "
                                 f"got {type(opts['optim_config']).__name__}")
        self.optim_config = dict(opts["optim_config"] or {})
        # Checked here, not at the first step, so a bad --lr fails before any data is loaded or time spent.
        self.optim_config.update(_check.hyper(fn, self.optim_config, optim.HYPER_PARAMETERS, prefix="optim_config"))
        self.lr_decay = _check.number(fn, "lr_decay", opts["lr_decay"], low=0, low_open=True)
        self.batch_size = _check.positive_int(fn, "batch_size", opts["batch_size"])
        self.num_epochs = _check.nonnegative_int(fn, "num_epochs", opts["num_epochs"])
        self.print_every = _check.positive_int(fn, "print_every", opts["print_every"])
        self.verbose = _check.boolean(fn, "verbose", opts["verbose"])
        self.checkpoint_name = opts["checkpoint_name"]
        self.rng = opts["rng"]
        if not isinstance(data, dict) or "train_captions" not in data:
            raise NpnetValueError(f"{fn}: data must contain 'train_captions' (see npnet.data.coco.load_coco_data)")
        self._reset()

    def _reset(self):
        self.epoch = 0
        self.loss_history = []
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def _step(self):
        """One minibatch: loss, gradients, and an update of every parameter."""
        captions, features, _ = sample_coco_minibatch(self.data, batch_size=self.batch_size, split="train",
                                                      rng=self.rng)
        loss, grads = self.model.loss(features, captions)
        it = len(self.loss_history) + 1
        bad = [name for name, g in grads.items() if not np.isfinite(g).all()]
        if not np.isfinite(loss) or bad:
            where = f" and the gradient of {', '.join(bad)} holds NaN/Inf" if bad else ""
            raise TrainingDivergedError(f"CaptioningSolver: the loss became {loss} at iteration {it}{where}; "
                                        f"lower the learning rate")
        self.loss_history.append(float(loss))
        for name, w in self.model.params.items():
            next_w, self.optim_configs[name] = self.update_rule(w, grads[name], self.optim_configs[name])
            if not np.isfinite(next_w).all():
                raise TrainingDivergedError(f"CaptioningSolver: the update of {name} overflowed at iteration {it}; "
                                            f"lower the learning rate")
            self.model.params[name] = next_w

    def train(self):
        """Run ``num_epochs`` epochs of ``max(num_train // batch_size, 1)`` iterations each.

        Continues from the current ``epoch`` (e.g. after :meth:`load_checkpoint`).
        """
        num_train = self.data["train_captions"].shape[0]
        per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * per_epoch
        for t in range(self.epoch * per_epoch, num_iterations):
            self._step()
            if self.verbose and t % self.print_every == 0:
                print(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}", flush=True)
            if (t + 1) % per_epoch == 0:
                self.epoch += 1
                for config in self.optim_configs.values():
                    if "learning_rate" in config:
                        config["learning_rate"] *= self.lr_decay
                if self.checkpoint_name is not None:
                    self.save_checkpoint(f"{self.checkpoint_name}_epoch_{self.epoch}.npz")

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
        _atomic_write(path, lambda f: np.savez(f, **arrays))

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


_META_TYPES = {"epoch": int, "loss_history": list, "optim": dict}


def read_checkpoint(path):
    """Read a checkpoint written by :meth:`CaptioningSolver.save_checkpoint`.

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
        with np.load(path, allow_pickle=False) as f:
            contents = {k: f[k] for k in f.files}
    # A truncated or garbled zip raises any of these from inside zipfile / NumPy's format reader.
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
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
    return {"params": params, "optim": states, "meta": meta}


def plot_loss_history(loss_history, path, title="Training loss history"):
    """Save a PNG of the loss at every iteration (written atomically); returns ``path``."""
    # A bare Figure (no pyplot) leaves the user's backend and open figures alone.
    from matplotlib.figure import Figure
    fn = "plot_loss_history"
    path = _check.path(fn, "path", path)
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
    _atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    return path
