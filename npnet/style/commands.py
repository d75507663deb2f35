"""The CLI verbs ``npnet style``, ``npnet invert``, ``npnet texture`` and ``npnet dream``.

Each verb writes the result image to ``--out`` and a PNG figure beside it (``--figure``, default
``<out>_figure.png``): content | style | result for style transfer, the evolution over a few
iterations for inversion and texture synthesis, the octaves for DeepDream. Images are files or course
image names found through the data lookup (``tubingen``, ``starry_night``, ``styles/the_scream.jpg``).
"""

from .. import cli_args
from ..errors import NpnetValueError

__all__ = ["style_args", "style", "invert_args", "invert", "texture_args", "texture", "texture_defaults",
           "texture_sample", "efros_leung_texture", "gatys_texture", "dream_args", "dream"]


def _common(p, out, iters=True):
    cli_args.add_common(p, out, f"the result image, one file (.png or .jpg; default {out})")
    p.add_argument("--figure", help="figure path (default: OUT with _figure.png)")
    if iters:
        p.add_argument("--iters", type=int, default=200, help="Adam iterations (default 200, as the course)")
        p.add_argument("--lr", type=float, help="first step size; it decays geometrically to --final-lr "
                                                "(default 0.1, from noise 0.3)")
        p.add_argument("--final-lr", type=float, help="last step size (default 0.01)")
    cli_args.add_weights(p)


def _style_layer_args(p, with_content):
    if with_content:
        p.add_argument("--content-layer", type=int, help="features index of the content loss")
        p.add_argument("--content-weight", type=float, help="content loss weight")
    p.add_argument("--style-layers", type=int, nargs="+", metavar="K", help="features indices of the style loss")
    p.add_argument("--style-weights", type=float, nargs="+", metavar="W", help="one weight per style layer")
    p.add_argument("--tv-weight", type=float, help="total-variation weight")


def _outputs(args, inputs, verb):
    """(result path, figure path) after checking, before anything is loaded, every input image (a
    file or a course image name), the numbers the verb shares, and that no output overwrites an input."""
    from ..image import MIN_SIDE
    from .transfer import find_image

    for name in ("size", "style_size"):
        cli_args.in_range(f"--{name.replace('_', '-')}", getattr(args, name, None), MIN_SIDE)
    if hasattr(args, "iters") and verb != "dream":
        cli_args.in_range("--iters", args.iters, 1)
        cli_args.positive("--lr", args.lr)
        cli_args.positive("--final-lr", args.final_lr)
    cli_args.in_range("--snapshot-every", getattr(args, "snapshot_every", None), 1)
    if verb == "dream":
        for name, low in (("iters", 1), ("octaves", 1), ("jitter", 0)):
            cli_args.in_range(f"--{name}", getattr(args, name), low)
        cli_args.positive("--step", args.step)
    for name in ("content_layer", "layer"):
        cli_args.feature_layer(f"--{name.replace('_', '-')}", getattr(args, name, None))
    for k in getattr(args, "style_layers", None) or ():
        cli_args.feature_layer("--style-layers", k)
    for name in ("content_weight", "tv_weight"):
        cli_args.in_range(f"--{name.replace('_', '-')}", getattr(args, name, None), 0)
    out = cli_args.output_path(args.out, suffixes=(".png", ".jpg", ".jpeg"))
    figure = cli_args.output_path(args.figure or out.with_name(out.stem + "_figure.png"), suffixes=(".png",))
    sources = [find_image(spec).resolve() for spec in inputs]
    for path in (out, figure):
        if path.resolve() in sources:
            raise NpnetValueError(f"{verb}: {path} is an input image; choose another output path")
    return out, figure


def _schedule(args):
    """The step sizes the user gave, as keyword arguments of the optimisers."""
    return {k: v for k, v in (("learning_rate", args.lr), ("final_lr", args.final_lr)) if v is not None}


def _model(args):
    from ..models.squeezenet import squeezenet1_1

    return squeezenet1_1(weights=args.weights)


def _save(out, img):
    from ..image import deprocess, save_image

    save_image(out, deprocess(img))


def _options(args, names):
    """{name: value} of the options the user gave (argparse leaves the others None)."""
    return {k: getattr(args, a) for k, a in names.items() if getattr(args, a) is not None}


_LOSS_OPTIONS = {"content_layer": "content_layer", "content_weight": "content_weight",
                 "style_layers": "style_layers", "style_weights": "style_weights", "tv_weight": "tv_weight"}


def style_args(p):
    from .transfer import PRESETS

    p.add_argument("images", nargs="*", metavar="IMAGE",
                   help="CONTENT STYLE [STYLE ...] (several styles are blended); default: the preset's images. "
                        "Fast style transfer: `train --styles S1 S2 ...` or `apply CHECKPOINT IMAGE`")
    p.add_argument("--preset", choices=sorted(PRESETS), default="starry_night",
                   help="the course's parameter set (default starry_night); options below override it")
    p.add_argument("--size", type=int, help="shorter side of the content image / result (preset: 192)")
    p.add_argument("--style-size", type=int, help="shorter side of the style image(s)")
    _style_layer_args(p, with_content=True)
    p.add_argument("--blend-weights", type=float, nargs="+", metavar="B", help="one weight per style image")
    p.add_argument("--init-random", action="store_true", help="start from noise instead of the content image")
    _common(p, "style.png")
    from .fast import add_fast_style_args
    add_fast_style_args(p)


def style(args):
    """Style transfer (Gatys et al.): the content of one image in the style of another.

    ``npnet style train --styles A B ... -o NET.npz`` trains a feed-forward network for several styles
    (Johnson et al. 2016, conditional instance norm); ``npnet style apply NET.npz IMAGE --style k`` (or
    ``--blend k1=w1,k2=w2``) stylises an image with it in one forward pass.
    """
    from .fast import FAST_ACTIONS, fast_style_command
    from .figures import transfer_figure
    from .transfer import PRESETS, load_input, style_transfer

    if args.images and args.images[0] in FAST_ACTIONS:  # `npnet style train|apply ...`: fast style transfer
        return fast_style_command(args)
    args.out = args.out or "style.png"
    args.iters = 200 if args.iters is None else args.iters
    params = dict(PRESETS[args.preset])
    if len(args.images) == 1:
        raise NpnetValueError("give both CONTENT and STYLE images (or none, for the preset's)")
    if args.images:
        params["content_image"] = args.images[0]
        params["style_image"] = args.images[1] if len(args.images) == 2 else list(args.images[1:])
    params.update(_options(args, {"image_size": "size", "style_size": "style_size", **_LOSS_OPTIONS}))
    if args.blend_weights is not None:
        params["style_blend_weights"] = args.blend_weights
    styles = params["style_image"] if isinstance(params["style_image"], list) else [params["style_image"]]
    out, figure = _outputs(args, [params["content_image"], *styles], "style")
    result = style_transfer(**params, init_random=args.init_random, num_iterations=args.iters, seed=args.seed,
                            model=_model(args), progress=not args.quiet, **_schedule(args))
    _save(out, result.image)
    content = load_input("style", params["content_image"], params["image_size"])
    style_imgs = [load_input("style", s, params["style_size"]) for s in styles]
    transfer_figure(figure, content, style_imgs, result.image, title=f"style transfer ({args.preset} parameters)"
                    if not args.images else "style transfer")
    print(f"wrote {out} and {figure}; loss {result.losses['total'][0]:.4g} -> {result.losses['total'][-1]:.4g}")
    return 0


def invert_args(p):
    p.add_argument("image", nargs="?", default="tubingen", help="image to reconstruct (default tubingen)")
    p.add_argument("--size", type=int, default=192, help="shorter side (default 192)")
    p.add_argument("--layer", type=int, default=3, help="features index to invert (default 3)")
    p.add_argument("--content-weight", type=float, default=6e-2, help="content weight (default 6e-2)")
    p.add_argument("--tv-weight", type=float, default=2e-2, help="total-variation weight (default 2e-2)")
    p.add_argument("--tv-beta", type=float, default=2.0,
                   help="exponent of Mahendran & Vedaldi's TV^beta prior (default 2: the squared TV); "
                        "1 keeps edges, 3 smooths")
    p.add_argument("--snapshot-every", type=int, default=50, help="figure frame interval (default 50)")
    _common(p, "invert.png")


def invert(args):
    """Feature inversion (Mahendran & Vedaldi): an image from its features at one layer, from noise."""
    from .figures import evolution_figure
    from .transfer import feature_inversion, load_input

    cli_args.positive("--tv-beta", args.tv_beta)
    out, figure = _outputs(args, [args.image], "invert")
    result = feature_inversion(args.image, image_size=args.size, content_layer=args.layer,
                               content_weight=args.content_weight, tv_weight=args.tv_weight, tv_beta=args.tv_beta,
                               num_iterations=args.iters, seed=args.seed, snapshot_every=args.snapshot_every,
                               model=_model(args), progress=not args.quiet, **_schedule(args))
    _save(out, result.image)
    evolution_figure(figure, result.snapshots, load_input("invert", args.image, args.size), "original",
                     title=f"feature inversion of features[{args.layer}]"
                           + (f", TV^{args.tv_beta:g}" if args.tv_beta != 2 else ""))
    c = result.losses["content"]
    print(f"wrote {out} and {figure}; content loss {c[0]:.4g} -> {c[-1]:.4g}")
    return 0


def texture_args(p):
    p.add_argument("images", nargs="*", default=["starry_night"], metavar="STYLE",
                   help="style image(s), blended when several (default starry_night)")
    p.add_argument("--method", choices=TEXTURE_METHODS, default="gatys",
                   help="gatys: match SqueezeNet's Gram matrices (default); efros-leung: grow the texture pixel "
                        "by pixel by window matching (Efros & Leung 1999; no network)")
    p.add_argument("--size", type=int, help="side of the square result (default 192; efros-leung 96)")
    p.add_argument("--style-size", type=int, help="shorter side of the style image(s) (default 192; efros-leung "
                                                  "64: its time grows with the sample's area)")
    _style_layer_args(p, with_content=False)
    p.add_argument("--blend-weights", type=float, nargs="+", metavar="B", help="one weight per style image")
    p.add_argument("--snapshot-every", type=int, default=50, help="figure frame interval (default 50)")
    p.add_argument("--window", type=int, default=11,
                   help="efros-leung: odd side of the matching window, >= 3 (default 11)")
    p.add_argument("--eps", type=float, default=0.1,
                   help="efros-leung: copy from any window within (1 + eps) of the best match (default 0.1)")
    _common(p, "texture.png")


def texture(args):
    """Texture synthesis (Gatys et al. 2015): a new image with the Gram statistics of the style image."""
    from .figures import evolution_figure
    from .transfer import load_input

    texture_defaults(args, args.method)
    if args.method == "efros-leung":
        return _efros_leung(args)
    out, figure = _outputs(args, args.images, "texture")
    result = gatys_texture(args, _model(args))
    _save(out, result.image)
    evolution_figure(figure, result.snapshots, load_input("texture", args.images[0], args.style_size), "style",
                     title="texture synthesis")
    s = result.losses["style"]
    print(f"wrote {out} and {figure}; style loss {s[0]:.4g} -> {s[-1]:.4g}")
    return 0


TEXTURE_METHODS = ("gatys", "efros-leung")
TEXTURE_SIZES = {"gatys": (192, 192), "efros-leung": (96, 64)}  # (result side, sample's shorter side)


# The synthesis of `npnet texture` on its parsed arguments, shared with bench/bench_texture.py (which
# times both methods with the verb's own options)

def texture_defaults(args, method):
    """Fill in the result side and the sample's shorter side that ``args`` leaves unset, ``method``'s
    defaults (``TEXTURE_SIZES``)."""
    size, style_size = TEXTURE_SIZES[method]
    args.size, args.style_size = args.size or size, args.style_size or style_size


def texture_sample(args):
    """The Efros-Leung sample: the first STYLE image, uint8 (h, w, 3), shorter side ``--style-size``."""
    from ..image import load_image
    from .transfer import find_image

    return load_image(find_image(args.images[0]), args.style_size)


def efros_leung_texture(args, sample):
    """``--method efros-leung``: a uint8 (size, size, 3) texture grown from ``sample``."""
    from .efros_leung import efros_leung

    return efros_leung(sample, args.size, window=args.window, eps=args.eps, seed=args.seed, progress=not args.quiet)


def gatys_texture(args, model):
    """``--method gatys``: ``texture_synthesis`` of the STYLE image(s) (blended when several) through
    ``model`` with the parsed sizes, layers, weights and steps; returns its ``StyleResult``."""
    from .transfer import texture_synthesis

    style_image = args.images[0] if len(args.images) == 1 else list(args.images)
    extra = _options(args, {k: v for k, v in _LOSS_OPTIONS.items() if not k.startswith("content")})
    if args.blend_weights is not None:
        extra["style_blend_weights"] = args.blend_weights
    return texture_synthesis(style_image, image_size=args.size, style_size=args.style_size,
                             num_iterations=args.iters, seed=args.seed, snapshot_every=args.snapshot_every,
                             model=model, progress=not args.quiet, **_schedule(args), **extra)


def _efros_leung(args):
    """``npnet texture --method efros-leung``: Efros & Leung's synthesis from one sample image."""
    import time

    from ..image import preprocess, save_image
    from .figures import image_row

    if len(args.images) != 1:
        raise NpnetValueError(f"--method efros-leung grows a texture from one sample image; got {len(args.images)}")
    if args.window < 3 or args.window % 2 == 0:
        raise NpnetValueError(f"--window must be an odd number >= 3; got {args.window}")
    cli_args.in_range("--eps", args.eps, 0)
    out, figure = _outputs(args, args.images, "texture")
    sample = texture_sample(args)
    start = time.perf_counter()
    result = efros_leung_texture(args, sample)
    seconds = time.perf_counter() - start
    save_image(out, result)
    image_row(figure, [preprocess(sample, None), preprocess(result, None)],
              [f"sample {sample.shape[0]}x{sample.shape[1]}", f"Efros-Leung, {args.window}x{args.window} window"],
              suptitle="non-parametric texture synthesis (Efros & Leung 1999)")
    print(f"wrote {out} and {figure}; a {args.size}x{args.size} texture in {seconds:.1f} s")
    return 0


def dream_args(p):
    p.add_argument("image", nargs="?", default="sky", help="image to dream on (default sky)")
    p.add_argument("--size", type=int, default=224, help="shorter side (default 224)")
    p.add_argument("--layer", type=int, default=10, help="features index to amplify (default 10)")
    p.add_argument("--octaves", type=int, default=3, help="number of scales (default 3)")
    p.add_argument("--octave-scale", type=float, default=1.4, help="size ratio between octaves (default 1.4)")
    p.add_argument("--iters", type=int, default=10, help="steps per octave (default 10)")
    p.add_argument("--step", type=float, default=0.05, help="normalised step size (default 0.05)")
    p.add_argument("--jitter", type=int, default=16, help="largest random shift in pixels (default 16)")
    _common(p, "dream.png", iters=False)


def dream(args):
    """DeepDream (Mordvintsev et al.): amplify what a layer sees in an image, at several scales."""
    from .dream import deep_dream
    from .figures import dream_figure
    from .transfer import load_input

    out, figure = _outputs(args, [args.image], "dream")
    result = deep_dream(args.image, layer=args.layer, image_size=args.size, num_octaves=args.octaves,
                        octave_scale=args.octave_scale, iterations=args.iters, step_size=args.step,
                        max_jitter=args.jitter, seed=args.seed, model=_model(args), progress=not args.quiet)
    _save(out, result.image)
    dream_figure(figure, load_input("dream", args.image, args.size), result.octaves, args.layer)
    print(f"wrote {out} and {figure}; objective {result.losses[0]:.4g} -> {result.losses[-1]:.4g}")
    return 0
