"""The ``npnet`` command: ``npnet <verb> [options]`` (also ``python -m npnet``).

Each verb lives beside its technique in a ``commands`` module as ``<verb>_args(parser)`` adding its
options and ``<verb>(args)`` doing the work, registered by one line in ``VERBS``. Every verb checks
its arguments before loading weights or data. ``main`` turns what can go wrong into one line on
stderr and an exit status: a user error (an ``NpnetError`` or an ``OSError``) is
``npnet VERB: error: ...`` and status 1; Ctrl-C is status 130; anything else is a bug in npnet,
reported in one line (the traceback with ``--debug`` or ``NPNET_DEBUG=1``) with status 1.
"""
import argparse
import importlib
import os
import sys
import traceback

from . import __version__


def _demo_args(p):
    p.add_argument("--weights", help="SqueezeNet 1.1 weights (.npz or torchvision .pth); default: the lookup")
    p.add_argument("-o", "--out", default="npnet-demo", help="folder for the demo's figure (default ./npnet-demo/)")
    p.add_argument("--seed", type=int, default=0, help="accepted for a uniform grammar; the demo is deterministic")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def demo(args):
    """The README demo: classify the default image and write its saliency / Grad-CAM figure."""
    from . import cli_args
    from .models import commands as model_commands
    from .vis import commands as vis_commands

    folder = cli_args.output_path(args.out, folder=True)
    model_commands.classify(argparse.Namespace(images=[], topk=5, size=224, weights=args.weights, out=None))
    print("saliency / Grad-CAM figure:", vis_commands.demo_figure(args.weights, folder))
    return 0


class _Lazy:
    """A verb not imported yet: its module, its function name, and the first line of its docstring."""

    def __init__(self, module, name, help):
        self.module, self.name, self.help = module, name, help

    def load(self):
        module = importlib.import_module(self.module)
        return getattr(module, f"{self.name}_args"), getattr(module, self.name)


class _Verbs(dict):
    """verb -> (add_args, run). A verb's module is imported the first time its entry is read, so
    ``npnet --help`` or ``npnet data list`` does not pay for NumPy's heavier neighbours (Numba, SciPy)
    that other verbs need: ``npnet --help`` went from 0.48 s to about 0.1 s."""

    def __getitem__(self, name):
        value = super().__getitem__(name)
        if isinstance(value, _Lazy):
            value = value.load()
            super().__setitem__(name, value)
        return value

    def help(self, name):
        value = super().__getitem__(name)
        return value.help if isinstance(value, _Lazy) else value[1].__doc__.splitlines()[0]


# The help lines are the first lines of the verbs' docstrings (a test keeps them equal).
VERBS = _Verbs({
    "classify": _Lazy("npnet.models.commands", "classify", "Print the top-k ImageNet classes of each image "
                      "with their probabilities (SqueezeNet 1.1)."),
    "demo": (_demo_args, demo),
    "saliency": _Lazy("npnet.vis.commands", "saliency", "Saliency, SmoothGrad and guided-backprop maps of "
                      "images, written as one PNG figure."),
    "gradcam": _Lazy("npnet.vis.commands", "gradcam", "Grad-CAM, guided Grad-CAM and Grad-CAM++ maps of "
                     "images, written as one PNG figure."),
    "fool": _Lazy("npnet.vis.commands", "fool", "Make a fooling image: an imperceptible change that makes "
                  "SqueezeNet predict --target."),
    "classviz": _Lazy("npnet.vis.commands", "classviz", "Class visualisation: synthesise an image SqueezeNet "
                      "scores highly for each class."),
    "caption": _Lazy("npnet.models.commands", "caption", "Image captioning: `train` an RNN/LSTM captioner on "
                     "COCO features, or `sample` captions from one."),
    "style": _Lazy("npnet.style.commands", "style", "Style transfer (Gatys et al.): the content of one image "
                   "in the style of another."),
    "invert": _Lazy("npnet.style.commands", "invert", "Feature inversion (Mahendran & Vedaldi): an image from "
                    "its features at one layer, from noise."),
    "texture": _Lazy("npnet.style.commands", "texture", "Texture synthesis (Gatys et al. 2015): a new image "
                     "with the Gram statistics of the style image."),
    "dream": _Lazy("npnet.style.commands", "dream", "DeepDream (Mordvintsev et al.): amplify what a layer "
                   "sees in an image, at several scales."),
    "train": _Lazy("npnet.models.commands", "train", "Train an MNIST classifier from scratch and print its "
                   "held-out accuracy."),
    "gan": _Lazy("npnet.models.gan_commands", "gan", "Train a vanilla / least-squares / DC GAN on the MNIST "
                 "sample, or sample digits from a trained one."),
    "simclr": _Lazy("npnet.models.simclr_commands", "simclr", "Self-supervised learning (SimCLR) on the MNIST "
                    "sample: `train` an encoder without labels, `probe` it."),
    "data": _Lazy("npnet.data.commands", "data", "List the data sets and weights npnet knows and where they "
                  "are, or fetch the downloadable ones."),
    "course": _Lazy("npnet.course.commands", "course", "The course loop: release an assignment, collect a "
                    "student's work, grade it, export to Gradescope."),
})


def _chosen_verb(argv):
    """The verb named on the command line (the first argument that is not an option), or None."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(complete=None):
    """The ``npnet`` argument parser. Only the verbs in ``complete`` (default: all) get their options,
    which imports their modules; the others are listed with their help line."""
    parser = argparse.ArgumentParser(prog="npnet", description="npnet: deep learning in NumPy, by hand.")
    parser.add_argument("--version", action="version", version=f"npnet {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of any error (also NPNET_DEBUG=1)")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name in VERBS:
        if complete is not None and name not in complete:
            sub.add_parser(name, help=VERBS.help(name))
            continue
        add_args, run = VERBS[name]
        p = sub.add_parser(name, help=run.__doc__.splitlines()[0], description=run.__doc__)
        add_args(p)
        p.set_defaults(run=run)
    return parser


def _debug(args):
    return args.debug or os.environ.get("NPNET_DEBUG", "").strip().lower() in ("1", "true", "yes")


def main(argv=None):
    from .errors import NpnetError, one_line

    argv = sys.argv[1:] if argv is None else list(argv)
    verb = _chosen_verb(argv)
    args = build_parser([verb] if verb in VERBS else []).parse_args(argv)
    verb = " ".join(filter(None, (args.verb, getattr(args, "action", None))))
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print(f"npnet {verb}: interrupted", file=sys.stderr)
        return 130
    except (NpnetError, OSError, ValueError, TypeError) as err:
        # What npnet raises on purpose. Plain ValueError/TypeError count too while parts of npnet still
        # raise the built-ins; npnet's own types are their subclasses.
        if _debug(args):
            traceback.print_exc()
        print(f"npnet {verb}: error: {one_line(err)}", file=sys.stderr)
        return 1
    except Exception as err:  # anything else is a defect: one line, the traceback on request
        if _debug(args):
            traceback.print_exc()
        print(f"npnet {verb}: error: {type(err).__name__}: {one_line(err)} -- this is a bug in npnet, please "
              f"report it (run with --debug or NPNET_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
