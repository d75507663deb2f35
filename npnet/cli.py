"""The ``npnet`` command: ``npnet <verb> [options]`` (also ``python -m npnet``).

Each verb lives beside its technique in a ``commands`` module as ``<verb>_args(parser)`` adding its
options and ``<verb>(args)`` doing the work, registered by one line in ``VERBS``. Every verb checks
its arguments before loading weights or data. ``main`` turns what can go wrong into one line on
stderr and an exit status: a user error (an ``NpnetError`` or an ``OSError``) is
``npnet VERB: error: ...`` and status 1; Ctrl-C is status 130; anything else is a bug in npnet,
reported in one line (the traceback with ``--debug`` or ``NPNET_DEBUG=1``) with status 1.
"""
import argparse
import os
import sys
import traceback

from . import __version__
from .data import commands as data_commands
from .course import commands as course_commands
from .models import commands as model_commands
from .models import gan_commands
from .style import commands as style_commands
from .vis import commands as vis_commands


def _demo_args(p):
    p.add_argument("--weights", help="SqueezeNet 1.1 weights (.npz or torchvision .pth); default: the lookup")
    p.add_argument("-o", "--out", default="npnet-demo", help="folder for the demo's figure (default ./npnet-demo/)")
    p.add_argument("--seed", type=int, default=0, help="accepted for a uniform grammar; the demo is deterministic")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def demo(args):
    """The README demo: classify the default image and write its saliency / Grad-CAM figure."""
    from . import cli_args

    folder = cli_args.output_path(args.out, folder=True)
    model_commands.classify(argparse.Namespace(images=[], topk=5, size=224, weights=args.weights, out=None))
    print("saliency / Grad-CAM figure:", vis_commands.demo_figure(args.weights, folder))
    return 0


VERBS = {
    "classify": (model_commands.classify_args, model_commands.classify),
    "demo": (_demo_args, demo),
    "saliency": (vis_commands.saliency_args, vis_commands.saliency),
    "gradcam": (vis_commands.gradcam_args, vis_commands.gradcam),
    "fool": (vis_commands.fool_args, vis_commands.fool),
    "classviz": (vis_commands.classviz_args, vis_commands.classviz),
    "caption": (model_commands.caption_args, model_commands.caption),
    "style": (style_commands.style_args, style_commands.style),
    "invert": (style_commands.invert_args, style_commands.invert),
    "texture": (style_commands.texture_args, style_commands.texture),
    "dream": (style_commands.dream_args, style_commands.dream),
    "train": (model_commands.train_args, model_commands.train),
    "gan": (gan_commands.gan_args, gan_commands.gan),
    "data": (data_commands.data_args, data_commands.data),
    "course": (course_commands.course_args, course_commands.course),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="npnet", description="npnet: deep learning in NumPy, by hand.")
    parser.add_argument("--version", action="version", version=f"npnet {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of any error (also NPNET_DEBUG=1)")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name, (add_args, run) in VERBS.items():
        p = sub.add_parser(name, help=run.__doc__.splitlines()[0], description=run.__doc__)
        add_args(p)
        p.set_defaults(run=run)
    return parser


def _debug(args):
    return args.debug or os.environ.get("NPNET_DEBUG", "").strip().lower() in ("1", "true", "yes")


def main(argv=None):
    from .errors import NpnetError, one_line

    args = build_parser().parse_args(argv)
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
