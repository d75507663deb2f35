"""Fast (feed-forward) style transfer: train a :class:`npnet.models.fast_style.TransformNet` once with
SqueezeNet's content and style losses, then stylise any image in one forward pass (Johnson, Alahi &
Fei-Fei 2016), in one of several styles or a blend of them (conditional instance norm, Dumoulin et
al. 2017).

Training minimises, over the network's weights, the loss Gatys' optimisation minimises over pixels,
averaged over a batch of random crops of photographs::

    (1/N) sum_n [ w_c |F_c(T(x_n)) - F_c(x_n)|^2 + sum_l w_l |G_l(T(x_n)) - A_l^(s_n)|^2 + w_t TV(T(x_n)) ]

with T the network, s_n the style of sample n (the batch cycles through the styles) and the same
losses and weights as ``npnet.style.transfer``. The gradient w.r.t. each output image T(x_n) comes
from SqueezeNet's explicit backward (``features_backward``); the network's own backward takes it to
every weight, and Adam updates them.
"""
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import _check
from .._io import atomic_output, read_npz
from ..errors import DataNotFoundError, FileFormatError, NpnetTypeError, NpnetValueError
from ..image import preprocess
from ..models.fast_style import TransformNet
from ..nn import no_grad
from ..optim import Optimizer
from .losses import content_loss, gram_matrix, style_loss, tv_loss
from .transfer import PRESETS, StyleObjective, extract_targets, features_backward, find_image, load_input

__all__ = ["LOSS", "FastStyleResult", "content_photos", "random_crops", "train_fast_style", "stylize",
           "style_mix", "save_fast_style", "load_fast_style", "fast_style_losses", "loss_figure"]

# The loss settings of the course's Starry Night preset (a content and style balance tuned for 192 px).
LOSS = {k: PRESETS["starry_night"][k] for k in ("content_layer", "content_weight", "style_layers", "style_weights",
                                                "tv_weight")}
_PHOTOS = ("styles/tubingen.jpg", "images/kitten.jpg", "images/sky.jpg", "images/china.jpg", "images/flower.jpg",
           "images/grace_hopper.jpg")
_IMAGENET = "imagenet/imagenet_val_25.npz"


class FastStyleResult(NamedTuple):
    """What :func:`train_fast_style` returns: the trained ``net`` (eval mode), ``losses`` (dict
    ``'total'``, ``'content'``, ``'style'``, ``'tv'`` -> float64 (iterations,), per image, each step's
    batch before its update), and the ``styles`` names, row k of every normalisation being style k."""
    net: TransformNet
    losses: dict
    styles: list


def content_photos():
    """The photographs npnet can reach for training, as uint8 (H, W, 3) arrays: the 25 ImageNet
    validation images and the course's photos (those present; nothing is downloaded)."""
    from ..data.lookup import find_data

    photos = []
    try:
        photos += list(np.load(find_data(_IMAGENET, download=False))["X"])
    except (FileNotFoundError, ValueError):
        pass
    for rel in _PHOTOS:
        try:
            photos.append(np.asarray(_load_rgb(find_data(rel, download=False))))
        except (FileNotFoundError, ValueError):
            continue
    if not photos:
        raise DataNotFoundError(f"content_photos: no training photographs found (looked for {_IMAGENET} and "
                                f"{', '.join(_PHOTOS)} through NPNET_DATA); set NPNET_DATA to a folder holding them "
                                f"or pass photos=[...] uint8 arrays")
    return photos


def _load_rgb(path):
    from PIL import Image

    with Image.open(path) as img:
        return img.convert("RGB")


def _photos(fn, photos):
    """``photos`` as a list of uint8 (H, W, 3) arrays, or raise (PIL would fail on a float or grey one
    deep inside its resize)."""
    if not isinstance(photos, (list, tuple)) or not photos:
        raise NpnetTypeError(f"{fn}: photos must be a non-empty list of uint8 (H, W, 3) photographs; "
                             f"got {photos!r:.60}")
    for i, photo in enumerate(photos):
        if not isinstance(photo, np.ndarray) or photo.dtype != np.uint8:
            what = f"dtype {photo.dtype}" if isinstance(photo, np.ndarray) else type(photo).__name__
            raise NpnetTypeError(f"{fn}: photos[{i}] must be a uint8 (H, W, 3) array of pixels; got {what}")
        if photo.ndim != 3 or photo.shape[2] != 3 or min(photo.shape[:2]) < 1:
            raise NpnetValueError(f"{fn}: photos[{i}] must be a uint8 (H, W, 3) array of pixels; got shape "
                                  f"{photo.shape}")
    return list(photos)


def random_crops(photos, crop, n, rng):
    """``n`` random ``crop`` x ``crop`` crops, each of a random photo resized so its shorter side is
    1 to 1.5 times ``crop`` and flipped left-right half the time: a normalised (n, 3, crop, crop) batch.
    ``photos``: uint8 (H, W, 3) arrays; ``rng``: a Generator (drawn on), a seed or None."""
    from PIL import Image

    fn = "random_crops"
    photos = _photos(fn, photos)
    crop = _check.positive_int(fn, "crop", crop)
    n = _check.positive_int(fn, "n", n)
    rng = _check.rng(fn, "rng", rng)
    batch = np.empty((n, 3, crop, crop), dtype=np.float32)
    for i in range(n):
        photo = Image.fromarray(photos[rng.integers(len(photos))])
        side = int(crop * rng.uniform(1.0, 1.5))
        x = preprocess(photo, side)[0]
        top, left = rng.integers(x.shape[1] - crop + 1), rng.integers(x.shape[2] - crop + 1)
        x = x[:, top:top + crop, left:left + crop]
        batch[i] = x[:, :, ::-1] if rng.random() < 0.5 else x
    return batch


def _style_grams(model, style_images, style_size, layers):
    """Per layer, an (S, C, C) stack of the styles' Gram matrices (row k: style k)."""
    stacks = [[] for _ in layers]
    for img in style_images:
        x = load_input("train_fast_style", img, style_size).astype(model.dtype, copy=False)
        feats = extract_targets(model, x, layers)
        for i, k in enumerate(layers):
            stacks[i].append(gram_matrix(feats[k])[0])
    return [np.stack(s) for s in stacks]


def _loss_settings(fn, model, content_layer, content_weight, style_layers, style_weights, tv_weight):
    """The loss settings as ``train_fast_style`` keeps them, or raise naming ``fn`` (the losses themselves
    would name ``content_loss`` or ``extract_targets``, a step away from the call)."""
    num_layers = len(model.features)
    style_layers = _check.sequence(fn, "style_layers", style_layers, "features indices")
    style_weights = _check.sequence(fn, "style_weights", style_weights, "one weight per style layer")
    if not style_layers or len(style_weights) != len(style_layers):
        raise NpnetValueError(f"{fn}: style_layers and style_weights must be non-empty and of one length (a weight "
                              f"per layer); got {len(style_layers)} and {len(style_weights)}")
    return dict(content_layer=_check.feature_index(fn, "content_layer", content_layer, num_layers),
                content_weight=_check.number(fn, "content_weight", content_weight, low=0),
                style_layers=tuple(_check.feature_index(fn, f"style_layers[{i}]", k, num_layers)
                                   for i, k in enumerate(style_layers)),
                style_weights=tuple(_check.number(fn, f"style_weights[{i}]", w, low=0)
                                    for i, w in enumerate(style_weights)),
                tv_weight=_check.number(fn, "tv_weight", tv_weight, low=0))


def train_fast_style(styles, *, iterations=300, batch_size=4, crop=128, style_size=192, learning_rate=2e-3,
                     channels=(16, 32, 64), num_residual=3, kernel=5, content_layer=LOSS["content_layer"],
                     content_weight=LOSS["content_weight"], style_layers=LOSS["style_layers"],
                     style_weights=LOSS["style_weights"], tv_weight=LOSS["tv_weight"], photos=None, seed=0,
                     model=None, checkpoint=None, checkpoint_every=50, progress=True):
    """Train a conditional-instance-norm :class:`npnet.models.fast_style.TransformNet` for the style
    images ``styles``.

    Args:
        styles: list of S style images (paths, course image names such as ``starry_night``, uint8
            arrays); row k of every normalisation learns style k.
        iterations: Adam steps. batch_size: crops per step (the batch cycles through the styles, so
            every style gets ``batch_size / S`` crops per step on average).
        crop: side of the square training crops (a multiple of 4).
        style_size: shorter side the style images are resized to before their Gram matrices are taken.
        learning_rate: Adam's step size.
        channels, num_residual, kernel: the network's shape (see ``TransformNet``).
        content_layer, content_weight, style_layers, style_weights, tv_weight: the loss, as in
            ``style_transfer`` (default: the Starry Night preset's, ``LOSS``).
        photos: uint8 (H, W, 3) training photographs (default :func:`content_photos`).
        seed: seeds the weights, the crops and the order of the styles.
        model: SqueezeNet giving the losses (default the pretrained ``squeezenet1_1()``).
        checkpoint: path written (atomically) every ``checkpoint_every`` steps and at the end.
        progress: tqdm progress bar.
    Returns:
        :class:`FastStyleResult`.
    """
    from tqdm.auto import tqdm

    fn = "train_fast_style"
    if not isinstance(styles, (list, tuple)) or not styles:
        raise NpnetTypeError(f"{fn}: styles must be a non-empty list of style images; got {styles!r:.60}")
    iterations = _check.positive_int(fn, "iterations", iterations)
    batch_size = _check.positive_int(fn, "batch_size", batch_size)
    crop = _check.positive_int(fn, "crop", crop)
    if crop % 4 or crop < 32:
        raise NpnetValueError(f"{fn}: crop must be a multiple of 4 and at least 32 (SqueezeNet's layers need it); "
                              f"got {crop}")
    style_size = _check.positive_int(fn, "style_size", style_size)
    learning_rate = _check.number(fn, "learning_rate", learning_rate, low=0, low_open=True)
    checkpoint_every = _check.positive_int(fn, "checkpoint_every", checkpoint_every)
    _check.rng(fn, "seed", seed)  # refused here, not by NumPy inside the network's initialisation
    progress = _check.boolean(fn, "progress", progress)
    if checkpoint is not None:
        checkpoint = _checkpoint_path(fn, "checkpoint", checkpoint)
    names = [s if isinstance(s, str) else f"style {i}" for i, s in enumerate(styles)]
    for s in styles:
        if isinstance(s, (str, Path)):
            find_image(s, fn)  # a missing image fails now, before the weights load
    photos = content_photos() if photos is None else _photos(fn, photos)
    if model is None:
        from ..models.squeezenet import squeezenet1_1
        model = squeezenet1_1()
    _check.model(fn, model, ("features", "dtype"))
    loss = _loss_settings(fn, model, content_layer, content_weight, style_layers, style_weights, tv_weight)
    grams = _style_grams(model, styles, style_size, loss["style_layers"])
    net = TransformNet(len(styles), channels, num_residual, kernel, dtype=model.dtype, seed=seed)
    net.train()
    opt = Optimizer(net, "adam", {"learning_rate": learning_rate})
    rng = np.random.default_rng(seed)
    history = {k: np.zeros(iterations) for k in ("total", "content", "style", "tv")}
    info = {"styles": names, "crop": crop, "batch_size": batch_size, "style_size": style_size,
            "learning_rate": learning_rate, "seed": seed, "loss": loss}
    bar = tqdm(total=iterations, desc=fn, disable=not progress)
    order = np.arange(len(styles))
    for t in range(iterations):
        x = random_crops(photos, crop, batch_size, rng).astype(model.dtype, copy=False)
        if t % len(styles) == 0:
            rng.shuffle(order)
        which = np.resize(np.roll(order, -t), batch_size)  # every style in turn, across and within batches
        mix = np.eye(len(styles), dtype=model.dtype)[which]
        y = net.forward(x, mix)
        parts, dy = _perceptual_loss(model, x, y, [g[which] for g in grams], loss)
        net.backward(dy, input_grad=False)
        opt.step()
        for k, v in parts.items():
            history[k][t] = v
        if not np.isfinite(parts["total"]):
            from ..errors import TrainingDivergedError
            raise TrainingDivergedError(f"{fn}: the loss became {parts['total']} at step {t}; lower learning_rate")
        bar.set_postfix(loss=f"{parts['total']:.4g}", style=f"{parts['style']:.3g}", refresh=False)
        bar.update()
        if checkpoint is not None and ((t + 1) % checkpoint_every == 0 or t + 1 == iterations):
            save_fast_style(checkpoint, net, dict(info, iterations=t + 1), {k: v[:t + 1] for k, v in history.items()})
    bar.close()
    return FastStyleResult(net.eval(), history, names)


def _perceptual_loss(model, x, y, targets, loss):
    """Per-image mean of the style-transfer loss of outputs ``y`` for contents ``x`` and per-sample Gram
    ``targets``; returns ``(parts, dloss/dy)``."""
    n = x.shape[0]
    c = loss["content_layer"]
    with no_grad():
        content_target = extract_targets(model, x, [c])[c]
    layers = list(loss["style_layers"])
    model.features.forward(y, 0, max(layers + [c]) + 1)
    feats = model.features.outputs
    parts = {}
    parts["content"], dc = content_loss(loss["content_weight"], feats[c], content_target)
    parts["style"], ds = style_loss(feats, layers, targets, list(loss["style_weights"]))
    grads = {c: dc}
    for k, g in zip(layers, ds):
        grads[k] = grads[k] + g if k in grads else g
    dy = features_backward(model, grads)
    parts["tv"], dtv = tv_loss(y, loss["tv_weight"])
    dy = (dy + dtv) / n
    parts = {k: v / n for k, v in parts.items()}
    parts["total"] = parts["content"] + parts["style"] + parts["tv"]
    return parts, dy


def style_mix(fn, spec, styles):
    """A style choice -> the (S,) weights of the S ``styles``: an int index, a style name, or a dict
    ``{index or name: weight}`` (weights >= 0, normalised to sum 1: a blend)."""
    if not isinstance(fn, str) or not fn:
        raise NpnetTypeError(f"style_mix: fn must be the caller's name for the messages (a str); got {fn!r:.60}")
    if not isinstance(styles, (list, tuple)) or not styles or not all(isinstance(name, str) for name in styles):
        raise NpnetTypeError(f"{fn}: styles must be a non-empty list of the network's style names; got {styles!r:.60}")
    s = len(styles)

    def index(key):
        if isinstance(key, str) and key.strip().lstrip("-").isdigit():
            key = int(key)
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if not 0 <= key < s:
                raise NpnetValueError(f"{fn}: style {key} is out of range; this network has {s} styles "
                                      f"(0..{s - 1}: {', '.join(styles)})")
            return int(key)
        if isinstance(key, str):
            hits = [i for i, name in enumerate(styles) if key in (name, Path(name).stem)]
            if hits:
                return hits[0]
        raise NpnetValueError(f"{fn}: no style {key!r} in this network; its styles are "
                              + ", ".join(f"{i}={name}" for i, name in enumerate(styles)))

    mix = np.zeros(s)
    if isinstance(spec, dict):
        if not spec:
            raise NpnetValueError(f"{fn}: a blend needs at least one style")
        for key, w in spec.items():
            mix[index(key)] += _check.number(fn, f"the weight of style {key!r}", w, low=0)
        if mix.sum() <= 0:
            raise NpnetValueError(f"{fn}: the blend weights must not all be 0; got {spec}")
        return mix / mix.sum()
    mix[index(spec)] = 1
    return mix


def _style_choice(fn, style, num_styles):
    """``style`` if it is an index in 0..S-1 or an (S,) blend (weights >= 0 summing to 1), else raise."""
    if isinstance(style, (int, np.integer)) and not isinstance(style, (bool, np.bool_)) and 0 <= style < num_styles:
        return int(style)
    if isinstance(style, (list, tuple, np.ndarray)):
        mix = np.asarray(style)
        if (mix.dtype.kind in "iuf" and mix.shape == (num_styles,) and np.all(np.isfinite(mix)) and np.all(mix >= 0)
                and abs(mix.sum() - 1) <= 1e-6):
            return mix
        style = f"an array of shape {mix.shape}, dtype {mix.dtype}: {np.array2string(mix.ravel()[:6], precision=3)}"
    else:
        style = repr(style)
    raise NpnetValueError(f"{fn}: style must be a style index in 0..{num_styles - 1} or ({num_styles},) blend weights "
                          f">= 0 summing to 1; got {style:.120}")


def stylize(net, image, style=0, size=None):
    """One forward pass: ``image`` (path, course name, uint8 array or normalised (1, 3, H, W)) in style
    ``style`` (an int, or an (S,) blend of the network's styles). The image is padded by reflection
    to multiples of 4 and the result cropped back, so any size >= 8 works.

    Returns the normalised (1, 3, H, W) result (``npnet.image.deprocess`` makes it a picture).
    """
    fn = "stylize"
    _check.model(fn, net, ("forward", "num_styles"))
    style = _style_choice(fn, style, net.num_styles)
    x = load_input(fn, image, size).astype(net.dtype, copy=False)
    h, w = x.shape[2:]
    if min(h, w) < 8:
        raise NpnetValueError(f"{fn}: the image is {h}x{w} pixels; it needs both sides >= 8")
    ph, pw = -h % 4, -w % 4
    padded = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect") if ph or pw else x
    with no_grad():
        return net.forward(padded, style)[:, :, :h, :w]


def _checkpoint_path(fn, name, path):
    path = _check.output_path(fn, name, path)
    if path.suffix != ".npz":
        raise NpnetValueError(f"{fn}: {name} must name an .npz file (a checkpoint is an npz archive); got {path}")
    return path


def save_fast_style(path, net, info, losses=None):
    """Write ``net`` (its shape, weights), ``info`` (styles, training settings) and the loss curves to
    ``path`` (.npz, atomically); returns the Path."""
    fn = "save_fast_style"
    path = _checkpoint_path(fn, "path", path)
    _check.model(fn, net, ("state_dict", "config", "num_styles"))
    if not isinstance(info, dict) or len(info.get("styles", ())) != net.num_styles:
        raise NpnetValueError(f"{fn}: info must be a dict whose 'styles' names the network's {net.num_styles} styles; "
                              f"got {info!r:.80}")
    try:
        json.dumps(info)
    except (TypeError, ValueError) as err:
        raise NpnetTypeError(f"{fn}: info must hold only JSON values (str, numbers, lists, dicts); {err}") from None
    if losses is not None:
        losses = _curves(fn, losses)
    arrays = {f"net.{k}": v for k, v in net.state_dict().items()}
    arrays.update({f"loss.{k}": np.asarray(v) for k, v in (losses or {}).items()})
    meta = dict(info, config={**net.config, "channels": list(net.config["channels"])})
    with atomic_output(path, "save_fast_style") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
    return Path(path)


def load_fast_style(path):
    """-> ``(net, info, losses)`` from a checkpoint of :func:`save_fast_style` (``info['styles']`` names
    the styles). A file that is not such a checkpoint raises ``FileFormatError``."""
    fn = "load_fast_style"
    path = _check.path(fn, "path", path)
    if not path.is_file():
        raise DataNotFoundError(f"{fn}: no checkpoint at {path} (write one with `npnet style train`)")
    try:
        arrays = read_npz(path)
        info = json.loads(str(arrays.pop("meta")))
        config = info["config"]
        net = TransformNet(config["num_styles"], tuple(config["channels"]), config["num_residual"], config["kernel"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise FileFormatError(f"{fn}: {path} is not an npnet fast-style checkpoint ({type(err).__name__}: "
                              f"{err})") from None
    try:
        net.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("net.")}, source=str(path))
    except ValueError as err:
        raise FileFormatError(str(err)) from None
    if len(info.get("styles", ())) != net.num_styles:
        raise FileFormatError(f"{fn}: {path} names {len(info.get('styles', ()))} styles for a network of "
                              f"{net.num_styles}")
    losses = {k[5:]: v for k, v in arrays.items() if k.startswith("loss.")}
    return net.eval(), info, losses


def fast_style_losses(net, content_image, style_image, style=0, image_size=192, style_size=192, model=None,
                      **loss):
    """The content, style and TV losses (``style_transfer``'s, default weights ``LOSS``) of the
    network's result for ``content_image`` against ``style_image``: the numbers to compare with
    Gatys' optimisation on the same image. Returns ``(result image, parts dict with 'total')``."""
    from .transfer import style_targets

    fn = "fast_style_losses"
    _check.model(fn, net, ("forward", "num_styles"))
    style = _style_choice(fn, style, net.num_styles)
    unknown = sorted(set(loss) - set(LOSS))
    if unknown:
        raise NpnetTypeError(f"{fn}: no loss setting {', '.join(map(repr, unknown))}; the settings are "
                             f"{', '.join(LOSS)}")
    if model is None:
        from ..models.squeezenet import squeezenet1_1
        model = squeezenet1_1()
    _check.model(fn, model, ("features", "dtype"))
    settings = _loss_settings(fn, model, **dict(LOSS, **loss))
    content = load_input(fn, content_image, image_size).astype(model.dtype)
    result = stylize(net, content, style)
    c = settings["content_layer"]
    styles = [load_input(fn, style_image, style_size).astype(model.dtype)]
    objective = StyleObjective(model, c, extract_targets(model, content, [c])[c], settings["content_weight"],
                               list(settings["style_layers"]),
                               style_targets(model, styles, list(settings["style_layers"])),
                               list(settings["style_weights"]), settings["tv_weight"])
    total, _, parts = objective(result.astype(model.dtype))
    return result, dict(parts, total=total)


def _curves(fn, losses):
    """``losses`` (name -> one loss per step) as float64 1-D finite arrays, or raise."""
    if not isinstance(losses, dict) or not all(isinstance(k, str) for k in losses):
        raise NpnetTypeError(f"{fn}: losses must be a dict name -> one loss per step; got {losses!r:.60}")
    curves = {}
    for k, v in losses.items():
        try:
            curves[k] = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise NpnetTypeError(f"{fn}: losses[{k!r}] must be numbers, one per step; got {v!r:.60}") from None
        if curves[k].ndim != 1:
            raise NpnetValueError(f"{fn}: losses[{k!r}] must be 1-D (one loss per step); got shape {curves[k].shape}")
        _check.finite(fn, f"losses[{k!r}]", curves[k])
    return curves


def loss_figure(path, losses, title="fast style transfer training"):
    """The training curves (per image, log scale) as a PNG, written atomically; returns the path.
    ``losses``: the ``FastStyleResult.losses`` dict (its 'total', 'content', 'style' and 'tv' curves)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from ..image import save_figure

    fn = "loss_figure"
    _check.output_path(fn, "path", path)  # before any drawing
    losses = _curves(fn, losses)
    if not any(len(losses.get(k, ())) for k in ("total", "content", "style", "tv")):
        raise NpnetValueError(f"{fn}: losses has no 'total', 'content', 'style' or 'tv' curve to plot; got keys "
                              f"{sorted(losses)}")
    if not isinstance(title, str):
        raise NpnetTypeError(f"{fn}: title must be a str; got {type(title).__name__}")

    fig = Figure(figsize=(6, 3.5), dpi=100)
    ax = fig.add_subplot()
    for k in ("total", "content", "style", "tv"):
        if k in losses and len(losses[k]):
            ax.plot(np.arange(1, len(losses[k]) + 1), losses[k], label=k, lw=0.8)
    ax.set(xlabel="step", ylabel="loss per image", title=title, yscale="log")
    # plain tick labels: the default log labels are mathtext, which wants fonts a bare system lacks
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


# ----------------------------------------------------------------------------------- the CLI

FAST_ACTIONS = ("train", "apply")
TRAIN_ITERS = 300


def add_fast_style_args(p):
    """The options of ``npnet style train`` / ``npnet style apply`` (added to the ``style`` verb)."""
    g = p.add_argument_group("fast style transfer (npnet style train | apply)")
    g.add_argument("--styles", nargs="+", metavar="S",
                   help="train: the style images, one network row each (-o: the checkpoint .npz, default "
                        f"fast_style.npz; --figure: the loss plot, default OUT with _losses.png; --iters: Adam "
                        f"steps, default {TRAIN_ITERS}; --lr default 2e-3)")
    g.add_argument("--batch-size", type=int, default=4, help="train: crops per Adam step (default 4)")
    g.add_argument("--crop", type=int, default=128, help="train: side of the training crops (default 128)")
    g.add_argument("--checkpoint-every", type=int, default=50, help="train: steps between checkpoints (default 50)")
    g.add_argument("--style", dest="style_index", metavar="K",
                   help="apply: the style, an index or a name of the checkpoint's styles (default 0)")
    g.add_argument("--blend", metavar="K=W,...", help="apply: a blend of styles, e.g. 0=0.5,the_scream=0.5")
    # train and apply have their own defaults for these (a checkpoint, not style.png; more steps)
    p.set_defaults(out=None, iters=None)


def _parse_blend(text):
    spec = {}
    for part in text.split(","):
        key, eq, weight = part.partition("=")
        try:
            spec[key.strip()] = float(weight)
        except ValueError:
            eq = ""
        if not eq or not key.strip():
            raise NpnetValueError(f"--blend must look like K1=W1,K2=W2 (style index or name = weight); got {text!r}")
    return spec


def fast_style_command(args):
    """``npnet style train ...`` or ``npnet style apply CHECKPOINT IMAGE ...``."""
    from .. import cli_args

    action, rest = args.images[0], args.images[1:]
    cli_args.in_range("--size", args.size, 8)
    cli_args.in_range("--style-size", args.style_size, 8)
    cli_args.positive("--lr", args.lr)
    if action == "train":
        return _train_command(args, rest, cli_args)
    return _apply_command(args, rest, cli_args)


def _train_command(args, rest, cli_args):
    from ..models.squeezenet import squeezenet1_1
    from .commands import _LOSS_OPTIONS, _options

    if rest:
        raise NpnetValueError(f"train takes its style images with --styles, not as IMAGE arguments; got {rest}")
    if not args.styles:
        raise NpnetValueError("train needs --styles S1 [S2 ...] (style images or course names such as starry_night)")
    iters = cli_args.in_range("--iters", TRAIN_ITERS if args.iters is None else args.iters, 1)
    cli_args.in_range("--batch-size", args.batch_size, 1)
    cli_args.in_range("--checkpoint-every", args.checkpoint_every, 1)
    if args.crop % 4 or args.crop < 32:
        raise NpnetValueError(f"--crop must be a multiple of 4 and at least 32; got {args.crop}")
    for k in args.style_layers or ():
        cli_args.feature_layer("--style-layers", k)
    cli_args.feature_layer("--content-layer", args.content_layer)
    out = cli_args.output_path(args.out or "fast_style.npz", suffixes=(".npz",))
    figure = cli_args.output_path(args.figure or out.with_name(out.stem + "_losses.png"), suffixes=(".png",))
    sources = [find_image(s, "npnet style train").resolve() for s in args.styles]
    for path in (out, figure):
        if path.resolve() in sources:
            raise NpnetValueError(f"{path} is an input image; choose another output path")
    loss = _options(args, _LOSS_OPTIONS)
    result = train_fast_style(list(args.styles), iterations=iters, batch_size=args.batch_size, crop=args.crop,
                              style_size=args.style_size or 192, learning_rate=args.lr or 2e-3, seed=args.seed,
                              model=squeezenet1_1(weights=args.weights), checkpoint=out,
                              checkpoint_every=args.checkpoint_every, progress=not args.quiet, **loss)
    loss_figure(figure, result.losses, f"fast style transfer: {', '.join(result.styles)}")
    s = result.losses["style"]
    print(f"wrote {out} and {figure}; style loss per image {s[:10].mean():.4g} (first 10 steps) -> "
          f"{s[-10:].mean():.4g} (last 10)")
    return 0


def _apply_command(args, rest, cli_args):
    from ..image import deprocess, save_image
    from .figures import image_row

    if len(rest) != 2:
        raise NpnetValueError(f"apply takes CHECKPOINT IMAGE; got {len(rest)} argument(s) {rest}")
    if args.style_index is not None and args.blend is not None:
        raise NpnetValueError("give --style or --blend, not both")
    checkpoint, image = rest
    out = cli_args.output_path(args.out or "style.png", suffixes=(".png", ".jpg", ".jpeg"))
    figure = None if args.figure is None else cli_args.output_path(args.figure, suffixes=(".png",))
    spec = _parse_blend(args.blend) if args.blend is not None else (args.style_index or 0)
    inputs = [Path(checkpoint).resolve(), find_image(image, "npnet style apply").resolve()]
    for path in filter(None, (out, figure)):
        if path.resolve() in inputs:
            raise NpnetValueError(f"{path} is an input file; choose another output path")
    net, info, _ = load_fast_style(checkpoint)
    mix = style_mix("npnet style apply", spec, info["styles"])
    content = load_input("npnet style apply", image, args.size)
    result = stylize(net, content, mix)
    save_image(out, deprocess(result))
    what = ", ".join(f"{w:.2g} {name}" for w, name in zip(mix, info["styles"]) if w)
    if figure is not None:
        image_row(figure, [content, result], ["content", what])
    print(f"wrote {out}{' and ' + str(figure) if figure else ''} ({what})")
    return 0
