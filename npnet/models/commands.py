"""CLI verb ``npnet train``: train an MNIST classifier from scratch and report its held-out accuracy.

``npnet train mnist --model fc|conv|judge`` uses the recipes in
:data:`npnet.models.classifiers.MNIST_RECIPES` (the judge: :meth:`MnistJudge.fit`) on the seeded
4,000/1,000 split of the MNIST sample (``--source full``: the official 60,000/10,000), and writes into
``--out``: the trained parameters (``mnist_<model>.npz``), loss/accuracy curves and first-layer weights.
"""
import time
from pathlib import Path

import numpy as np

from ..errors import NpnetValueError


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
