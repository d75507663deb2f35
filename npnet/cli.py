"""The ``npnet`` command: ``npnet <verb> [options]`` (also ``python -m npnet``).

Each verb is a pair of functions, ``_<verb>_args(parser)`` adding its options and ``<verb>(args)``
doing the work, registered in ``VERBS``. Errors a user can fix (a missing file, a bad argument) end
in one line naming the verb and the problem, not a traceback.
"""
import argparse
import os
import sys

import numpy as np

from .errors import NpnetError
from .vis import commands as vis_commands
from .style import commands as style_commands
from .course import commands as course_commands
from .models import commands as model_commands
from .models import gan_commands

DEFAULT_IMAGE = "grace_hopper.jpg (shipped with matplotlib)"


def _default_image():
    from matplotlib import cbook
    return cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)


def _classify_args(p):
    p.add_argument("images", nargs="*", help=f"image files (default: {DEFAULT_IMAGE})")
    p.add_argument("--topk", type=int, default=5, help="how many classes to list (default 5)")
    p.add_argument("--weights", help="SqueezeNet 1.1 weights (.npz or torchvision .pth); default: the lookup")


def classify(args):
    """Print the top-k ImageNet classes of each image with their probabilities (SqueezeNet 1.1)."""
    from .data.imagenet import imagenet_class_names
    from .image import center_crop, load_image, preprocess
    from .models.squeezenet import squeezenet1_1

    if not 1 <= args.topk <= 1000:
        raise ValueError(f"--topk must be in 1..1000; got {args.topk}")
    missing = [p for p in args.images if not os.path.isfile(p)]
    if missing:  # before loading the weights, which may be missing too on a fresh machine
        raise FileNotFoundError(f"no image file at {', '.join(missing)}")
    model = squeezenet1_1(weights=args.weights)
    names = imagenet_class_names()
    for path in args.images or [_default_image()]:
        # torchvision's evaluation transform: shorter side to 256, central 224x224 crop.
        x = preprocess(center_crop(load_image(path, size=256), 224))
        scores = model.forward(x)[0].astype(np.float64)
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        print(path)
        for rank, c in enumerate(np.argsort(-probs)[:args.topk], 1):
            print(f"  {rank}. {probs[c]:6.2%}  {c:4d}  {names[c]}")
    return 0


def _demo_args(p):
    p.add_argument("--weights", help="SqueezeNet 1.1 weights (.npz or torchvision .pth); default: the lookup")
    p.add_argument("--out", default="npnet-demo", help="folder for the demo's figure (default ./npnet-demo/)")


def demo(args):
    """The README demo: classify the default image and write its saliency / Grad-CAM figure."""
    classify(argparse.Namespace(images=[], topk=5, weights=args.weights))
    print("saliency / Grad-CAM figure:", vis_commands.demo_figure(args.weights, args.out))
    return 0


def _caption_args(p):
    p.add_argument("action", choices=["train", "sample"], help="train a model, or caption images with one")
    p.add_argument("--data", help="a coco_captioning folder (default: the data lookup)")
    p.add_argument("--synthetic", action="store_true",
                   help="train: first write a small synthetic data set (real vocabulary) into --out and use it")
    p.add_argument("--out", default="npnet-caption", help="train: folder for checkpoint and loss plot")
    p.add_argument("--cell", choices=["rnn", "lstm"], default="rnn",
                   help="recurrent cell (default rnn); sample: picks the default checkpoint")
    p.add_argument("--max-train", type=int, default=50, help="train: training captions (default 50; 0 = all)")
    p.add_argument("--hidden", type=int, default=512, help="train: hidden size (default 512)")
    p.add_argument("--wordvec", type=int, default=256, help="train: word vector size (default 256)")
    p.add_argument("--epochs", type=int, default=50, help="train: epochs (default 50)")
    p.add_argument("--batch-size", type=int, default=25, help="train: captions per batch (default 25)")
    p.add_argument("--lr", type=float, default=5e-3, help="train: Adam learning rate (default 5e-3)")
    p.add_argument("--lr-decay", type=float, default=0.995, help="train: decay per epoch (default 0.995)")
    p.add_argument("--checkpoint", help="sample: checkpoint written by train (default OUT/caption_CELL.npz)")
    p.add_argument("--split", choices=["train", "val"], default="val", help="sample: split (default val)")
    p.add_argument("--num", type=int, default=5, help="sample: how many captions (default 5)")
    p.add_argument("--beam", type=int, default=0, help="sample: beam width (default 0 = greedy)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def caption(args):
    """Image captioning: `train` an RNN/LSTM captioner on COCO features, or `sample` captions from one."""
    from pathlib import Path

    from .data.coco import decode_captions, load_coco_data, make_synthetic_coco, sample_coco_minibatch
    from .models.captioning import CaptioningRNN
    from .solver import CaptioningSolver, plot_loss_history

    out = Path(args.out)
    rng = np.random.default_rng(args.seed)
    data_dir = args.data
    if args.synthetic and args.action == "train":
        data_dir = make_synthetic_coco(out / "synthetic_coco", num_train=max(args.max_train, 1) * 2,
                                       num_val=20, seed=args.seed)
    if data_dir is None and (out / "synthetic_coco").is_dir() and args.action == "sample":
        data_dir = out / "synthetic_coco"
    max_train = args.max_train or None if args.action == "train" else None
    data = load_coco_data(data_dir, max_train=max_train, rng=rng)
    if args.action == "train":
        out.mkdir(parents=True, exist_ok=True)
        model = CaptioningRNN(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                              wordvec_dim=args.wordvec, hidden_dim=args.hidden, cell_type=args.cell, rng=rng)
        solver = CaptioningSolver(model, data, update_rule="adam", optim_config={"learning_rate": args.lr},
                                  lr_decay=args.lr_decay, batch_size=args.batch_size, num_epochs=args.epochs,
                                  rng=rng)
        solver.train()
        ckpt = out / f"caption_{args.cell}.npz"
        solver.save_checkpoint(ckpt)
        print("checkpoint:", ckpt)
        print("loss plot:", plot_loss_history(solver.loss_history, out / f"caption_{args.cell}_loss.png"))
        return 0
    model = CaptioningRNN.from_checkpoint(args.checkpoint or out / f"caption_{args.cell}.npz")
    if args.num < 1:
        raise ValueError(f"--num must be at least 1; got {args.num}")
    gt, features, urls = sample_coco_minibatch(data, batch_size=args.num, split=args.split, rng=rng)
    words = model.beam_search(features, beam_size=args.beam) if args.beam > 0 else model.sample(features)
    for url, truth, guess in zip(urls, decode_captions(gt, data["idx_to_word"]),
                                 decode_captions(words, model.idx_to_word)):
        print(f"{url}\n  truth:  {truth}\n  sample: {guess}")
    return 0


VERBS = {
    "classify": (_classify_args, classify),
    "demo": (_demo_args, demo),
    "saliency": (vis_commands.saliency_args, vis_commands.saliency),
    "gradcam": (vis_commands.gradcam_args, vis_commands.gradcam),
    "fool": (vis_commands.fool_args, vis_commands.fool),
    "classviz": (vis_commands.classviz_args, vis_commands.classviz),
    "caption": (_caption_args, caption),
    "style": (style_commands.style_args, style_commands.style),
    "invert": (style_commands.invert_args, style_commands.invert),
    "texture": (style_commands.texture_args, style_commands.texture),
    "dream": (style_commands.dream_args, style_commands.dream),
    "train": (model_commands.train_args, model_commands.train),
    "gan": (gan_commands.gan_args, gan_commands.gan),
    "course": (course_commands.course_args, course_commands.course),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="npnet", description="npnet: deep learning in NumPy, by hand.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name, (add_args, run) in VERBS.items():
        p = sub.add_parser(name, help=run.__doc__.splitlines()[0], description=run.__doc__)
        add_args(p)
        p.set_defaults(run=run)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except (NpnetError, ValueError, TypeError, FileNotFoundError, IsADirectoryError, PermissionError) as err:
        print(f"npnet {args.verb}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
