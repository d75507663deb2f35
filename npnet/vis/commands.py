"""CLI verbs ``npnet saliency | gradcam | fool | classviz`` and the demo's attribution figure.

Each verb is ``<verb>_args(parser)`` + ``<verb>(args)``, registered in ``npnet/cli.py``. Images come
from files (shorter side resized to 224 as ``npnet.image.to_input`` and ``npnet classify`` do, then
the central 224x224 square, so images of any shape stack into one batch) or, with ``--sample K``,
from the first K images of the CS231n ImageNet sample with their true labels. Arguments, paths and
class ids are checked before the weights are loaded; a class is an index or a name ("stingray").
"""
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import cli_args
from ..errors import NpnetValueError

CLASSVIZ_CLASSES = (76, 78, 187, 683, 366, 604)  # tarantula, tick, Yorkshire terrier, oboe, gorilla, hourglass
NUM_SAMPLE = 25  # images in the CS231n ImageNet sample


def _short(name):
    return name.split(",")[0]


def _add_common(p, default_out):
    p.add_argument("images", nargs="*", help=f"image files (default: {cli_args.DEFAULT_IMAGE})")
    p.add_argument("--sample", type=int, metavar="K",
                   help="use the first K (1..25) images of the ImageNet sample and their true labels instead")
    p.add_argument("--labels", type=cli_args.class_id, nargs="+", metavar="CLASS",
                   help="class (index or name) to explain for each image (default: the true label for --sample, "
                        "else the top-1 class)")
    cli_args.add_weights(p)
    cli_args.add_common(p, default_out, f"the PNG figure to write, one for all images (default {default_out})")


def _check_inputs(args):
    """Check images / --sample / --labels / --out before anything is loaded; returns the figure path."""
    if args.sample is not None:
        if args.images:
            raise NpnetValueError("give image files or a sample of the ImageNet images, not both")
        cli_args.in_range("--sample", args.sample, 1, NUM_SAMPLE)
    cli_args.input_files(args.images)
    count = args.sample if args.sample is not None else max(len(args.images), 1)
    if args.labels is not None and len(args.labels) != count:
        raise NpnetValueError(f"--labels needs one class per image ({count}); got {len(args.labels)}")
    return cli_args.output_path(args.out, inputs=args.images, suffixes=(".png",))


def _load_inputs(model, images, sample=None, labels=None):
    """-> (X normalised (N, 3, 224, 224), y (N,), input paths) from image files or the first
    ``sample`` images of the ImageNet sample; ``labels`` (if given) overrides y."""
    from ..data.imagenet import load_imagenet_val
    from ..image import center_crop, load_image, preprocess

    if sample is not None:
        X_raw, y, _ = load_imagenet_val(sample)
        X, paths = np.concatenate([preprocess(img) for img in X_raw]), []
    else:
        paths = images or [cli_args.default_image()]
        X = np.concatenate([preprocess(center_crop(load_image(p, size=224), 224), None) for p in paths])
        y = model.forward(X).argmax(axis=1)
    if labels is not None:
        y = np.array(labels)
    return X, y, paths


def _rows(quiet, makers):
    """Compute each figure row ``(title, fn, style)`` -> ``(title, fn(), style)`` under a progress bar."""
    return [(title, make(), style) for title, make, style in tqdm(makers, desc="maps", disable=quiet, leave=False)]


def _titles(y):
    from ..data.imagenet import imagenet_class_names

    names = imagenet_class_names()
    return [_short(names[c]) for c in y]


def _model_from(weights):
    from ..models.squeezenet import squeezenet1_1

    return squeezenet1_1(weights=weights)


def saliency_args(p):
    _add_common(p, "saliency.png")
    p.add_argument("--smooth-samples", type=int, default=25, help="SmoothGrad noisy copies (default 25)")


def saliency(args):
    """Saliency, SmoothGrad and guided-backprop maps of images, written as one PNG figure."""
    from .figures import attribution_figure
    from .saliency import compute_saliency_maps, guided_backprop, smoothgrad

    out = _check_inputs(args)
    cli_args.in_range("--smooth-samples", args.smooth_samples, 1)
    model = _model_from(args.weights)
    X, y, paths = _load_inputs(model, args.images, args.sample, args.labels)
    rows = _rows(args.quiet, [
        ("saliency", lambda: compute_saliency_maps(X, y, model), "heat"),
        ("SmoothGrad", lambda: smoothgrad(X, y, model, n_samples=args.smooth_samples, seed=args.seed), "heat"),
        ("guided backprop", lambda: guided_backprop(X, y, model), "rgb")])
    print(attribution_figure(out, X, rows, _titles(y)))
    return 0


def gradcam_args(p):
    _add_common(p, "gradcam.png")
    p.add_argument("--layer", type=int, default=12, help="index into model.features (default 12, the last fire module)")


def gradcam(args):
    """Grad-CAM, guided Grad-CAM and Grad-CAM++ maps of images, written as one PNG figure."""
    from .figures import attribution_figure
    from .saliency import grad_cam, grad_cam_plus_plus, guided_grad_cam

    out = _check_inputs(args)
    cli_args.feature_layer("--layer", args.layer)
    model = _model_from(args.weights)
    X, y, paths = _load_inputs(model, args.images, args.sample, args.labels)
    rows = _rows(args.quiet, [
        (f"Grad-CAM (features[{args.layer}])", lambda: grad_cam(X, y, model, args.layer), "overlay"),
        ("guided Grad-CAM", lambda: guided_grad_cam(X, y, model, args.layer), "rgb"),
        ("Grad-CAM++", lambda: grad_cam_plus_plus(X, y, model, args.layer), "overlay")])
    print(attribution_figure(out, X, rows, _titles(y)))
    return 0


def demo_figure(weights=None, folder="npnet-demo"):
    """The README demo's figure of the default image (explaining its top-1 class): the image, saliency,
    guided backprop, Grad-CAM, guided Grad-CAM. Written to ``folder/saliency_gradcam.png``; returns the path."""
    from .figures import attribution_figure
    from .saliency import compute_saliency_maps, grad_cam, guided_backprop

    model = _model_from(weights)
    X, y, _ = _load_inputs(model, [])
    gbp, cam = guided_backprop(X, y, model), grad_cam(X, y, model)
    rows = [("saliency", compute_saliency_maps(X, y, model), "heat"), ("guided backprop", gbp, "rgb"),
            ("Grad-CAM", cam, "overlay"), ("guided Grad-CAM", gbp * cam[:, None], "rgb")]
    return attribution_figure(Path(folder) / "saliency_gradcam.png", X, rows, _titles(y))


def _facets(args):
    """``classviz --facets K``: multifaceted visualisation of each class, means above, facets below."""
    from ..data.imagenet import load_imagenet_val
    from ..image import MIN_SIDE, preprocess
    from ..style.figures import image_grid
    from .multifaceted import multifaceted_visualization

    cli_args.in_range("--pool-size", args.pool_size, 1, NUM_SAMPLE)
    cli_args.in_range("--facets", args.facets, 1, args.pool_size)
    cli_args.in_range("--size", args.size, MIN_SIDE)
    out = cli_args.output_path(args.out, suffixes=(".png",))
    model = _model_from(args.weights)
    X_raw, _, _ = load_imagenet_val()
    X = np.concatenate([preprocess(img, args.size) for img in X_raw])
    rows, labels = [], []
    for c in tqdm(args.classes, desc="classes", disable=args.quiet):
        f = multifaceted_visualization(c, model, X, k=args.facets, pool_size=args.pool_size, seed=args.seed,
                                       progress=not args.quiet, num_iterations=args.iterations,
                                       learning_rate=args.lr, l2_reg=args.l2_reg, blur_every=args.blur_every,
                                       max_jitter=args.max_jitter, centre_bias=not args.no_centre_bias)
        name = _titles([c])[0]
        sizes = np.bincount(f.labels, minlength=args.facets)
        scores = [float(model.forward(img)[0, c]) for img in f.images]
        tqdm.write(f"{c:4d} {name}: facets of {', '.join(map(str, sizes))} images; scores "
                   + ", ".join(f"{v:.1f}" for v in scores))
        rows.append(f.means + f.images)
        labels.append(name)
    columns = [f"mean {j + 1}" for j in range(args.facets)] + [f"facet {j + 1}" for j in range(args.facets)]
    print(image_grid(out, rows, labels, columns, suptitle="multifaceted class visualisation", height=2.0))
    return 0


def fool_args(p):
    p.add_argument("image", nargs="?", help=f"image file (default: {cli_args.DEFAULT_IMAGE})")
    p.add_argument("--sample-index", type=int, metavar="I", help="use image I (0..24) of the ImageNet sample instead")
    p.add_argument("--target", type=cli_args.class_id, default=6,
                   help="class (index or name) to fool the network into (default 6, stingray)")
    p.add_argument("--lr", type=float, default=1.0, help="step length (default 1)")
    p.add_argument("--max-iter", type=int, default=100, help="most gradient steps (default 100)")
    p.add_argument("--objective", choices=("score", "log_prob"), default="score",
                   help="ascend the target's raw score (default, as in the course) or its log-probability")
    cli_args.add_weights(p)
    cli_args.add_common(p, "fooling.png", "the PNG figure to write (default fooling.png)",
                        seed_help="accepted for a uniform grammar; fooling is deterministic")


def fool(args):
    """Make a fooling image: an imperceptible change that makes SqueezeNet predict --target."""
    import warnings

    from .figures import fooling_figure
    from .synthesis import make_fooling_image

    if args.sample_index is not None and args.image:
        raise NpnetValueError("give an image file or --sample-index, not both")
    cli_args.in_range("--sample-index", args.sample_index, 0, NUM_SAMPLE - 1)
    cli_args.positive("--lr", args.lr)
    cli_args.in_range("--max-iter", args.max_iter, 0)
    images = cli_args.input_files([args.image] if args.image else [])
    out = cli_args.output_path(args.out, inputs=images, suffixes=(".png",))
    model = _model_from(args.weights)
    X, y, paths = _load_inputs(model, images, None if args.sample_index is None else args.sample_index + 1)
    X, y = X[-1:], y[-1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reported below, in words
        X_fool, info = make_fooling_image(X, args.target, model, learning_rate=args.lr, max_iter=args.max_iter,
                                          return_info=True, progress=not args.quiet, objective=args.objective)
    before, after = _titles([y[0], model.forward(X_fool)[0].argmax()])
    steps = int(info["iterations"][0])
    if info["success"][0]:
        print(f"{before} -> {after} after {steps} step(s)")
    else:
        print(f"not fooled after {steps} steps (still {after}); try a larger --max-iter")
    print(fooling_figure(out, X, X_fool, f"original: {before}", f"fooling: {after}"))
    return 0 if info["success"][0] else 1


def classviz_args(p):
    p.add_argument("--classes", type=cli_args.class_id, nargs="+", default=list(CLASSVIZ_CLASSES),
                   help="ImageNet classes, indices or names (default: 76 78 187 683 366 604)")
    p.add_argument("--iterations", type=int, default=100, help="gradient steps per class (default 100)")
    p.add_argument("--lr", type=float, default=25.0, help="step length (default 25)")
    p.add_argument("--l2-reg", type=float, default=1e-3, help="L2 penalty on the image (default 1e-3)")
    p.add_argument("--blur-every", type=int, default=10, help="blur every this many steps (default 10)")
    p.add_argument("--max-jitter", type=int, default=16, help="largest random shift in pixels (default 16)")
    p.add_argument("--facets", type=int, metavar="K",
                   help="multifaceted visualisation (Nguyen et al. 2016): cluster the ImageNet sample's images "
                        "most like each class into K facets and start one visualisation from each facet's mean "
                        "image (default: one visualisation from noise)")
    p.add_argument("--pool-size", type=int, default=10, help="with --facets: images kept per class, ranked by "
                                                              "P(class) (default 10 of the 25)")
    p.add_argument("--size", type=int, default=224, help="with --facets: image side (default 224)")
    p.add_argument("--no-centre-bias", action="store_true",
                   help="with --facets: no centre-biased regulariser (by default the update is confined to a "
                        "centred square growing from half the image to all of it)")
    cli_args.add_weights(p)
    cli_args.add_common(p, "classviz.png", "the PNG figure to write, one for all classes (default classviz.png)")


def classviz(args):
    """Class visualisation: synthesise an image SqueezeNet scores highly for each class."""
    from .figures import class_visualization_figure
    from .synthesis import create_class_visualization

    cli_args.in_range("--iterations", args.iterations, 1)
    cli_args.in_range("--blur-every", args.blur_every, 1)
    cli_args.in_range("--max-jitter", args.max_jitter, 0)
    cli_args.positive("--lr", args.lr)
    cli_args.in_range("--l2-reg", args.l2_reg, 0)
    if args.facets is not None:
        return _facets(args)
    out = cli_args.output_path(args.out, suffixes=(".png",))
    model = _model_from(args.weights)
    images, titles = [], []
    for c in tqdm(args.classes, desc="classes", disable=args.quiet):
        img = create_class_visualization(c, model, l2_reg=args.l2_reg, learning_rate=args.lr,
                                         num_iterations=args.iterations, blur_every=args.blur_every,
                                         max_jitter=args.max_jitter, seed=args.seed, progress=not args.quiet)
        scores = model.forward(img)[0]
        name, top = _titles([c, scores.argmax()])
        tqdm.write(f"{c:4d} {name}: score {scores[c]:.1f}, top-1 {top}")
        images.append(img)
        titles.append(name)
    print(class_visualization_figure(out, images, titles))
    return 0
