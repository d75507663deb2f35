"""CLI verbs of the models: ``npnet classify`` (SqueezeNet 1.1), ``npnet caption train|sample``
(the RNN / LSTM captioner) and ``npnet train`` (MNIST classifiers). Each is ``<verb>_args(parser)`` +
``<verb>(args)``, registered in ``npnet/cli.py``; arguments are checked before weights or data are
loaded.

``npnet train mnist --model fc|conv|judge`` uses the recipes in
:data:`npnet.models.classifiers.MNIST_RECIPES` (the judge: :meth:`MnistJudge.fit`) on the seeded
4,000/1,000 split of the MNIST sample (``--source full``: the official 60,000/10,000), and writes into
``--out``: the trained parameters (``mnist_<model>.npz``), loss/accuracy curves and first-layer weights.
"""
import time
from pathlib import Path

import numpy as np

from .. import cli_args
from ..errors import DataNotFoundError, NpnetValueError

__all__ = ["classify_args", "classify", "caption_args", "caption", "train_args", "train"]


def classify_args(p):
    p.add_argument("images", nargs="*", help=f"image files (default: {cli_args.DEFAULT_IMAGE})")
    p.add_argument("--topk", type=int, default=5, help="how many classes to list (default 5)")
    p.add_argument("--size", type=int, default=224,
                   help="shorter side the image is resized to, no crop (default 224, as npnet.image.to_input)")
    cli_args.add_weights(p)
    cli_args.add_common(p, None, "also write the listing to this text file (default: only print it)",
                        seed_help="accepted for a uniform grammar; classify uses no randomness")


def classify(args):
    """Print the top-k ImageNet classes of each image with their probabilities (SqueezeNet 1.1)."""
    from ..data.imagenet import imagenet_class_names
    from ..data.lookup import atomic_output
    from ..image import MIN_SIDE, to_input
    from ..weights import weights_note
    from .squeezenet import squeezenet1_1

    cli_args.in_range("--topk", args.topk, 1, 1000)
    cli_args.in_range("--size", args.size, MIN_SIDE)
    paths = cli_args.input_files(args.images) or [cli_args.default_image()]
    out = cli_args.output_path(args.out, inputs=paths) if args.out else None
    model = squeezenet1_1(weights=args.weights)
    names = imagenet_class_names()
    lines = []
    for path in paths:
        scores = model.forward(to_input(path, args.size))[0].astype(np.float64)
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        lines.append(str(path))
        lines += [f"  {rank}. {probs[c]:6.2%}  {c:4d}  {names[c]}"
                  for rank, c in enumerate(np.argsort(-probs)[:args.topk], 1)]
    lines.append(weights_note(model))
    print("\n".join(lines))
    if out is not None:
        with atomic_output(out) as tmp:
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


# ----------------------------------------------------------------------------------- caption

def _caption_common(p):
    p.add_argument("--data", help="a coco_captioning folder (default: the data lookup)")
    p.add_argument("--cell", choices=["rnn", "lstm"], default="rnn",
                   help="recurrent cell (default rnn); sample: picks the default checkpoint")
    p.add_argument("--model", choices=["rnn", "transformer"], default="rnn",
                   help="rnn (with --cell) or a Transformer decoder (default rnn); sample: picks the checkpoint")
    cli_args.add_common(p, "npnet-caption", "folder for the checkpoint and loss plot (default ./npnet-caption/)")


def caption_args(p):
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = sub.add_parser("train", help="train an RNN/LSTM captioner on COCO features",
                           description=caption_train.__doc__)
    _caption_common(train)
    train.add_argument("--synthetic", action="store_true",
                       help="first write a small synthetic data set (real vocabulary) into OUT and use it")
    train.add_argument("--max-train", type=int, default=50, help="training captions (default 50; 0 = all)")
    train.add_argument("--hidden", type=int, default=512, help="hidden size (default 512)")
    train.add_argument("--wordvec", type=int, default=256, help="word vector size (default 256)")
    train.add_argument("--epochs", type=int, default=50, help="epochs (default 50)")
    train.add_argument("--batch-size", type=int, default=25, help="captions per batch (default 25)")
    train.add_argument("--lr", type=float, default=5e-3, help="Adam learning rate (default 5e-3)")
    train.add_argument("--lr-decay", type=float, default=0.995, help="decay per epoch (default 0.995)")
    train.add_argument("--heads", type=int, default=2, help="transformer: attention heads (default 2)")
    train.add_argument("--layers", type=int, default=2, help="transformer: decoder layers (default 2)")
    train.set_defaults(run_action=caption_train)
    sample = sub.add_parser("sample", help="caption images with a trained model", description=caption_sample.__doc__)
    _caption_common(sample)
    sample.add_argument("--checkpoint", help="checkpoint written by train (default OUT/caption_CELL.npz)")
    sample.add_argument("--split", choices=["train", "val"], default="val", help="split (default val)")
    sample.add_argument("--num", type=int, default=5, help="how many captions (default 5)")
    sample.add_argument("--beam", type=int, default=0, help="beam width (default 0 = greedy)")
    sample.set_defaults(run_action=caption_sample)


def caption(args):
    """Image captioning: `train` an RNN/LSTM captioner on COCO features, or `sample` captions from one."""
    return args.run_action(args)


def _coco(data_dir, **kwargs):
    """load_coco_data, with the ways to get the data when it is missing."""
    from ..data.coco import load_coco_data
    from ..errors import one_line

    try:
        return load_coco_data(data_dir, **kwargs)
    except FileNotFoundError as err:
        if data_dir is not None:
            raise
        raise DataNotFoundError(str(err), f"the COCO captioning data was not found ({one_line(err)[:200]}...); "
                                          "set NPNET_DATA, pass --data, or try `npnet caption train --synthetic` "
                                          "for a small synthetic set") from None


def caption_train(args):
    """Train an RNN/LSTM captioner on COCO features (or a small synthetic set with --synthetic); writes
    OUT/caption_CELL.npz and its loss plot."""
    from ..data.coco import make_synthetic_coco
    from ..solver import CaptioningSolver, plot_loss_history
    from .captioning import CaptioningRNN

    for name, value in (("--hidden", args.hidden), ("--wordvec", args.wordvec), ("--epochs", args.epochs),
                        ("--batch-size", args.batch_size)):
        cli_args.in_range(name, value, 1)
    cli_args.in_range("--max-train", args.max_train, 0)
    cli_args.positive("--lr", args.lr)
    if not 0 < args.lr_decay <= 1:
        raise NpnetValueError(f"--lr-decay must be in (0, 1]; got {args.lr_decay}")
    out = cli_args.output_path(args.out, folder=True)
    rng = np.random.default_rng(args.seed)
    data_dir = args.data
    if args.synthetic:
        n = max(args.max_train, 1) * 2  # one image per caption, so no two training captions share features
        data_dir = make_synthetic_coco(out / "synthetic_coco", num_train=n, num_val=20, num_train_images=n,
                                       seed=args.seed)
    data = _coco(data_dir, max_train=args.max_train or None, rng=rng)
    out.mkdir(parents=True, exist_ok=True)
    if args.model == "transformer":
        from .transformer import CaptioningTransformer
        cli_args.in_range("--heads", args.heads, 1)
        cli_args.in_range("--layers", args.layers, 1)
        model = CaptioningTransformer(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                                      wordvec_dim=args.wordvec, num_heads=args.heads, num_layers=args.layers,
                                      max_length=max(30, data["train_captions"].shape[1]), rng=rng)
    else:
        model = CaptioningRNN(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                              wordvec_dim=args.wordvec, hidden_dim=args.hidden, cell_type=args.cell, rng=rng)
    solver = CaptioningSolver(model, data, update_rule="adam", optim_config={"learning_rate": args.lr},
                              lr_decay=args.lr_decay, batch_size=args.batch_size, num_epochs=args.epochs,
                              rng=rng, verbose=not args.quiet)
    solver.train()
    kind = _model_kind(args)
    ckpt = out / f"caption_{kind}.npz"
    solver.save_checkpoint(ckpt)
    print("checkpoint:", ckpt)
    print("loss plot:", plot_loss_history(solver.loss_history, out / f"caption_{kind}_loss.png"))
    return 0


def _model_kind(args):
    """The checkpoint's name part: the cell of an RNN captioner, or 'transformer'."""
    return "transformer" if args.model == "transformer" else args.cell


def caption_sample(args):
    """Caption images of a split with a model written by `npnet caption train` (greedy or beam search)."""
    from ..data.coco import decode_captions, sample_coco_minibatch
    from .captioning import CaptioningRNN

    cli_args.in_range("--num", args.num, 1)
    cli_args.in_range("--beam", args.beam, 0)
    out = Path(args.out)
    ckpt = Path(args.checkpoint) if args.checkpoint else out / f"caption_{_model_kind(args)}.npz"
    if not ckpt.is_file():
        choice = "--model transformer" if args.model == "transformer" else f"--cell {args.cell}"
        raise FileNotFoundError(f"no checkpoint {ckpt}: train one first with `npnet caption train {choice} "
                                f"--out {out}` (add --synthetic without the COCO data), or pass --checkpoint")
    data_dir = args.data
    if data_dir is None and (out / "synthetic_coco").is_dir():
        data_dir = out / "synthetic_coco"
    if args.model == "transformer":
        from .transformer import CaptioningTransformer
        if args.beam > 0:
            raise NpnetValueError("--beam: the Transformer captioner samples greedily only; drop --beam")
        model = CaptioningTransformer.from_checkpoint(ckpt)
    else:
        model = CaptioningRNN.from_checkpoint(ckpt)
    rng = np.random.default_rng(args.seed)
    data = _coco(data_dir, rng=rng)
    gt, features, urls = sample_coco_minibatch(data, batch_size=args.num, split=args.split, rng=rng)
    words = model.beam_search(features, beam_size=args.beam) if args.beam > 0 else model.sample(features)
    for url, truth, guess in zip(urls, decode_captions(gt, data["idx_to_word"]),
                                 decode_captions(words, model.idx_to_word)):
        print(f"{url}\n  truth:  {truth}\n  sample: {guess}")
    return 0


# ----------------------------------------------------------------------------------- train

def train_args(p):
    p.add_argument("dataset", choices=["mnist"], help="data set (mnist)")
    p.add_argument("--model", choices=["fc", "conv", "judge"], default="fc",
                   help="fc: FullyConnectedNet, conv: ThreeLayerConvNet, judge: the GAN judge convnet (default fc)")
    p.add_argument("--source", choices=["sample", "full"], default="sample",
                   help="sample: 4,000/1,000 split of the 5k sample (default); full: official 60k/10k (downloads)")
    p.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    p.add_argument("--lr", type=float, help="override the recipe's Adam learning rate")
    p.add_argument("-o", "--out", default="npnet-train", help="folder for weights and figures (default ./npnet-train/)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the initialisation and the batches (default 0)")
    p.add_argument("--quiet", action="store_true", help="print only the result")


def _validate(args):
    if args.epochs is not None and args.epochs < 1:
        raise NpnetValueError(f"--epochs must be at least 1; got {args.epochs}")
    if args.lr is not None and not 0 < args.lr < np.inf:
        raise NpnetValueError(f"--lr must be a positive number; got {args.lr}")
    if args.seed < 0:
        raise NpnetValueError(f"--seed must be non-negative; got {args.seed}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NpnetValueError(f"--out must be a folder; {out} is a file")
    cli_args.output_path(out, folder=True)  # a file further up the path
    if args.model == "judge" and args.source != "sample":
        raise NpnetValueError("--model judge trains on the MNIST sample only (drop --source)")
    return out


def train(args):
    """Train an MNIST classifier from scratch and print its held-out accuracy."""
    from .classifiers import MnistJudge, mnist_classifier, save_judge, train_mnist_judge
    from .figures import first_layer_figure, training_curves_figure

    out = _validate(args)
    say = (lambda *a: None) if args.quiet else print
    if args.model == "judge":
        if args.epochs is not None or args.lr is not None:
            raise NpnetValueError("--epochs/--lr do not apply to --model judge (it has a fixed recipe)")
        judge = train_mnist_judge(seed=args.seed, verbose=not args.quiet)
        weights = save_judge(judge, out / "mnist_judge.npz")
        print(f"mnist judge: held-out accuracy {judge.heldout_accuracy:.2%} "
              f"({MnistJudge.__name__}, {judge.train_seconds:.0f} s); weights: {weights}")
        say("first-layer weights:", first_layer_figure(judge[0].params["weight"], out / "mnist_judge_first_layer.png"))
        return 0
    from ..data.mnist import get_mnist_data
    from ..solver import Solver

    data = get_mnist_data(source=args.source, seed=args.seed, flatten=args.model == "fc")
    model, options = mnist_classifier(args.model, seed=args.seed)
    if args.epochs is not None:
        options["num_epochs"] = args.epochs
    if args.lr is not None:
        options["optim_config"]["learning_rate"] = args.lr
    data = {k: v for k, v in data.items() if k != "mean"}
    solver = Solver(model, data, verbose=not args.quiet, print_every=100, rng=np.random.RandomState(args.seed),
                    **options)
    start = time.time()
    solver.train()
    seconds = time.time() - start
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"mnist_{args.model}.npz"
    solver.save_checkpoint(weights)
    print(f"mnist {args.model}: held-out accuracy {solver.best_val_acc:.2%} (best of {solver.num_epochs} epochs, "
          f"{len(solver.loss_history)} iterations, {seconds:.0f} s); weights: {weights}")
    say("curves:", training_curves_figure(solver.loss_history, solver.train_acc_history, solver.val_acc_history,
                                          out / f"mnist_{args.model}_curves.png", title=f"MNIST {args.model}"))
    say("first-layer weights:", first_layer_figure(model.params["W1"], out / f"mnist_{args.model}_first_layer.png"))
    return 0
