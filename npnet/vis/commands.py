"""CLI verbs ``npnet saliency | gradcam | fool | classviz`` and the demo's attribution figure.

Each verb is ``_<verb>_args(parser)`` + ``<verb>(args)``, registered in ``npnet/cli.py``. Images come
from files (shorter side resized to 256, central 224x224 crop, as ``npnet classify`` does) or, with
``--sample K``, from the first K images of the CS231n ImageNet sample with their true labels.
"""
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

DEFAULT_IMAGE = "grace_hopper.jpg (shipped with matplotlib)"
CLASSVIZ_CLASSES = (76, 78, 187, 683, 366, 604)  # tarantula, tick, Yorkshire terrier, oboe, gorilla, hourglass


def _short(name):
    return name.split(",")[0]


def _default_image():
    from matplotlib import cbook
    return cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)


def _check_out(out, inputs):
    """Refuse to write the figure over one of the input images."""
    out = Path(out)
    if any(out.resolve() == Path(p).resolve() for p in inputs):
        raise ValueError(f"--out {out} is one of the input images; choose another file name")
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out must name a .png file; got {out}")
    return out


def _add_common(p, default_out, seed=False):
    p.add_argument("images", nargs="*", help=f"image files (default: {DEFAULT_IMAGE})")
    p.add_argument("--sample", type=int, metavar="K",
                   help="use the first K (1..25) images of the ImageNet sample and their true labels instead")
    p.add_argument("--labels", type=int, nargs="+", metavar="CLASS",
                   help="class to explain for each image (default: the true label for --sample, else the top-1 class)")
    p.add_argument("--weights", help="SqueezeNet 1.1 weights (.npz or torchvision .pth); default: the lookup")
    p.add_argument("--out", default=default_out, help=f"PNG to write (default {default_out})")
    if seed:
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _load_inputs(model, images, sample=None, labels=None):
    """-> (X normalised (N, 3, 224, 224), y (N,), input paths) from image files or the first
    ``sample`` images of the ImageNet sample; ``labels`` (if given) overrides y."""
    from ..data.imagenet import load_imagenet_val
    from ..image import center_crop, load_image, preprocess

    if sample is not None:
        if images:
            raise ValueError("give image files or a sample of the ImageNet images, not both")
        X_raw, y, _ = load_imagenet_val(sample)
        X, paths = np.concatenate([preprocess(img) for img in X_raw]), []
    else:
        paths = images or [_default_image()]
        X = np.concatenate([preprocess(center_crop(load_image(p, size=256), 224)) for p in paths])
        y = model.forward(X).argmax(axis=1)
    if labels is not None:
        if len(labels) != len(X):
            raise ValueError(f"--labels needs one class per image ({len(X)}); got {len(labels)}")
        y = np.array(labels)
    return X, y, paths


def _titles(y):
    from ..data.imagenet import imagenet_class_names

    names = imagenet_class_names()
    return [_short(names[c]) for c in y]


def _model_from(weights):
    from ..models.squeezenet import squeezenet1_1

    return squeezenet1_1(weights=weights)


def saliency_args(p):
    _add_common(p, "saliency.png", seed=True)
    p.add_argument("--smooth-samples", type=int, default=25, help="SmoothGrad noisy copies (default 25)")


def saliency(args):
    """Saliency, SmoothGrad and guided-backprop maps of images, written as one PNG figure."""
    from .figures import attribution_figure
    from .saliency import compute_saliency_maps, guided_backprop, smoothgrad

    model = _model_from(args.weights)
    X, y, paths = _load_inputs(model, args.images, args.sample, args.labels)
    out = _check_out(args.out, paths)
    rows = [("saliency", compute_saliency_maps(X, y, model), "heat"),
            ("SmoothGrad", smoothgrad(X, y, model, n_samples=args.smooth_samples, seed=args.seed), "heat"),
            ("guided backprop", guided_backprop(X, y, model), "rgb")]
    print(attribution_figure(out, X, rows, _titles(y)))
    return 0


def gradcam_args(p):
    _add_common(p, "gradcam.png")
    p.add_argument("--layer", type=int, default=12, help="index into model.features (default 12, the last fire module)")


def gradcam(args):
    """Grad-CAM, guided Grad-CAM and Grad-CAM++ maps of images, written as one PNG figure."""
    from .figures import attribution_figure
    from .saliency import grad_cam, grad_cam_plus_plus, guided_grad_cam

    model = _model_from(args.weights)
    X, y, paths = _load_inputs(model, args.images, args.sample, args.labels)
    out = _check_out(args.out, paths)
    rows = [(f"Grad-CAM (features[{args.layer}])", grad_cam(X, y, model, args.layer), "overlay"),
            ("guided Grad-CAM", guided_grad_cam(X, y, model, args.layer), "rgb"),
            ("Grad-CAM++", grad_cam_plus_plus(X, y, model, args.layer), "overlay")]
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


def fool_args(p):
    p.add_argument("image", nargs="?", help=f"image file (default: {DEFAULT_IMAGE})")
    p.add_argument("--sample-index", type=int, metavar="I", help="use image I (0..24) of the ImageNet sample instead")
    p.add_argument("--target", type=int, default=6, help="class to fool the network into (default 6, stingray)")
    p.add_argument("--lr", type=float, default=1.0, help="step length (default 1)")
    p.add_argument("--max-iter", type=int, default=100, help="most gradient steps (default 100)")
    p.add_argument("--objective", choices=("score", "log_prob"), default="score",
                   help="ascend the target's raw score (default, as in the course) or its log-probability")
    p.add_argument("--weights", help="SqueezeNet 1.1 weights (.npz or torchvision .pth); default: the lookup")
    p.add_argument("--out", default="fooling.png", help="PNG to write (default fooling.png)")


def fool(args):
    """Make a fooling image: an imperceptible change that makes SqueezeNet predict --target."""
    import warnings

    from .figures import fooling_figure
    from .synthesis import make_fooling_image

    if args.sample_index is not None and args.image:
        raise ValueError("give an image file or --sample-index, not both")
    if args.sample_index is not None and not 0 <= args.sample_index < 25:
        raise ValueError(f"--sample-index must be in 0..24; got {args.sample_index}")
    model = _model_from(args.weights)
    X, y, paths = _load_inputs(model, [args.image] if args.image else [],
                               None if args.sample_index is None else args.sample_index + 1)
    X, y = X[-1:], y[-1:]
    out = _check_out(args.out, paths)
    if not 0 <= args.target < model.num_classes:
        raise ValueError(f"--target must be a class in 0..{model.num_classes - 1}; got {args.target}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reported below, in words
        X_fool, info = make_fooling_image(X, args.target, model, learning_rate=args.lr, max_iter=args.max_iter,
                                          return_info=True, progress=True, objective=args.objective)
    before, after = _titles([y[0], model.forward(X_fool)[0].argmax()])
    steps = int(info["iterations"][0])
    if info["success"][0]:
        print(f"{before} -> {after} after {steps} step(s)")
    else:
        print(f"not fooled after {steps} steps (still {after}); try a larger --max-iter")
    print(fooling_figure(out, X, X_fool, f"original: {before}", f"fooling: {after}"))
    return 0 if info["success"][0] else 1


def classviz_args(p):
    p.add_argument("--classes", type=int, nargs="+", default=list(CLASSVIZ_CLASSES),
                   help="ImageNet classes (default: 76 78 187 683 366 604)")
    p.add_argument("--iterations", type=int, default=100, help="gradient steps per class (default 100)")
    p.add_argument("--lr", type=float, default=25.0, help="step length (default 25)")
    p.add_argument("--l2-reg", type=float, default=1e-3, help="L2 penalty on the image (default 1e-3)")
    p.add_argument("--blur-every", type=int, default=10, help="blur every this many steps (default 10)")
    p.add_argument("--max-jitter", type=int, default=16, help="largest random shift in pixels (default 16)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--weights", help="SqueezeNet 1.1 weights (.npz or torchvision .pth); default: the lookup")
    p.add_argument("--out", default="classviz.png", help="PNG to write (default classviz.png)")


def classviz(args):
    """Class visualisation: synthesise an image SqueezeNet scores highly for each class."""
    from .figures import class_visualization_figure
    from .synthesis import create_class_visualization

    out = _check_out(args.out, [])
    model = _model_from(args.weights)
    images, titles = [], []
    for c in tqdm(args.classes, desc="classes"):
        img = create_class_visualization(c, model, l2_reg=args.l2_reg, learning_rate=args.lr,
                                         num_iterations=args.iterations, blur_every=args.blur_every,
                                         max_jitter=args.max_jitter, seed=args.seed, progress=True)
        scores = model.forward(img)[0]
        name, top = _titles([c, scores.argmax()])
        tqdm.write(f"{c:4d} {name}: score {scores[c]:.1f}, top-1 {top}")
        images.append(img)
        titles.append(name)
    print(class_visualization_figure(out, images, titles))
    return 0
