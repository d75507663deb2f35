"""Train the three MNIST GANs and score their samples with an MNIST judge, npnet beside PyTorch.

    python bench/gan_results.py --framework npnet --out gan-results            # npnet only
    python bench/gan_results.py --framework torch --out gan-results            # the PyTorch port
    python bench/gan_results.py --models dc --iters 1000 --score-every 250 ...

Both frameworks train on the same images (the MNIST sample's train split, 4,000 images scaled to
[-1, 1], written to OUT/images.npz), batch 128, Adam(1e-3, beta1 0.5), the same number of iterations.
Every ``--score-every`` iterations 1,000 samples are drawn and scored with
:func:`npnet.models.gan.outlier_exposed_judge`: the fraction the judge labels with confidence >= 0.9, the
smallest digit share and the label histogram; the confident fraction by the training issue's
``MnistJudge`` is listed beside (it is sure of noise too, so it flatters the samples).
Results go to OUT/results_<framework>.json (one entry per model and checkpoint, with wall time). Long:
minutes per model; the PyTorch port needs torch in a separate venv (``--torch-python``).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from npnet.data.lookup import atomic_output
from npnet.models import gan
from npnet.models.classifiers import mnist_judge

HERE = Path(__file__).resolve().parent
DEFAULT_ITERS = {"vanilla": 3000, "ls": 3000, "dc": 1000}


def score_file(framework, model, path, judge, cnn_judge):
    """Score every checkpoint's samples saved in ``path`` (``samples_<it>``, ``seconds_<it>``) with the
    outlier-exposed judge, and the confident fraction also with the training issue's MnistJudge."""
    rows = []
    with np.load(path) as f:
        for key in sorted((k for k in f.files if k.startswith("samples_")), key=lambda k: int(k.split("_")[1])):
            it = int(key.split("_")[1])
            s = gan.score_samples(f[key], judge)
            cnn = gan.score_samples(f[key], cnn_judge)
            rows.append({"framework": framework, "model": model, "iteration": it,
                         "seconds": round(float(f[f"seconds_{it}"]), 1), "confident": s["confident"],
                         "min_digit_share": s["min_digit_share"], "histogram": s["histogram"].tolist(),
                         "confident_mnist_judge": cnn["confident"]})
            print(f"{framework:6s} {model:8s} iter {it:5d} {rows[-1]['seconds']:7.0f} s  confident "
                  f"{s['confident']:6.1%} (MnistJudge {cnn['confident']:6.1%})  min digit {s['min_digit_share']:5.1%}"
                  f"  histogram {rows[-1]['histogram']}", flush=True)
    return rows


def train_npnet(model, iters, score_every, images, seed, path):
    """Train with npnet; save 1,000 samples (fixed noise) and the wall time every ``score_every`` iterations."""
    make_d, make_g, d_loss, g_loss = gan.MODELS[model]
    D, G = make_d(seed=seed), make_g(seed=seed + 1)
    saved, start = {}, time.perf_counter()
    noise = gan.sample_noise(1000, gan.NOISE_DIM, seed=seed + 2)

    def checkpoint(it, D, G, d, g):
        if (it + 1) % score_every == 0 or it + 1 == iters:
            G.eval()
            saved[f"samples_{it + 1}"] = G.forward(noise)
            G.train()
            saved[f"seconds_{it + 1}"] = np.array(time.perf_counter() - start)
            print(f"npnet  {model:8s} iter {it + 1:5d} {saved[f'seconds_{it + 1}']:7.0f} s  D {d:.3f}  G {g:.3f}",
                  flush=True)
            with atomic_output(path) as tmp:  # after every checkpoint, so an interrupted run keeps its scores
                np.savez(tmp, **saved)

    history = gan.run_a_gan(D, G, gan.get_solver(D), gan.get_solver(G), d_loss, g_loss, images=images,
                            num_iters=iters, num_epochs=10 ** 6, show_every=score_every, seed=seed,
                            callback=checkpoint, out_dir=path.parent / f"grids_npnet_{model}", progress=False)
    with atomic_output(path) as tmp:
        np.savez(tmp, d_loss=history["d_loss"], g_loss=history["g_loss"], **saved)


def train_torch(model, iters, score_every, images_file, seed, path, python):
    subprocess.run([python, str(HERE / "gan_torch.py"), "train", "--model", model, "--iters", str(iters),
                    "--score-every", str(score_every), "--images", str(images_file), "--out", str(path),
                    "--seed", str(seed)], check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--framework", choices=["npnet", "torch"], default="npnet")
    p.add_argument("--models", nargs="+", choices=list(gan.MODELS), default=list(gan.MODELS))
    p.add_argument("--iters", type=int, help="iterations for every model (default: vanilla/ls 3000, dc 1000)")
    p.add_argument("--score-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="gan-results")
    p.add_argument("--mnist-judge", help="MnistJudge weights (default: its cache, trained there if missing)")
    p.add_argument("--score-only", action="store_true", help="only score the samples saved by an earlier run")
    p.add_argument("--torch-python", default=os.environ.get("TORCH_PYTHON", "/work/torchvenv/bin/python"))
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images = gan.load_gan_images()
    images_file = out / "images.npz"
    with atomic_output(images_file) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, images=images)
    for model in [] if args.score_only else args.models:
        iters = args.iters or DEFAULT_ITERS[model]
        path = out / f"{args.framework}_{model}.npz"
        if args.framework == "npnet":
            train_npnet(model, iters, args.score_every, images, args.seed, path)
        else:
            train_torch(model, iters, args.score_every, images_file, args.seed, path, args.torch_python)
    judge = gan.outlier_exposed_judge()
    cnn_judge = mnist_judge(path=args.mnist_judge, verbose=False)
    rows = [{}]
    for name, j in (("judge", judge), ("mnist_judge", cnn_judge)):
        real = gan.score_samples(gan.load_gan_images("test"), j)["confident"]
        noise = gan.score_samples(gan.sample_noise(1000, gan.IMAGE_DIM, seed=1), j)["confident"]
        rows[0].update({f"{name}_confident_real": real, f"{name}_confident_noise": noise})
        print(f"{name}: confident on real held-out digits {real:.1%}, on uniform noise {noise:.1%}", flush=True)
    for model in args.models:
        path = out / f"{args.framework}_{model}.npz"
        if path.exists():
            rows += score_file(args.framework, model, path, judge, cnn_judge)
    with atomic_output(out / f"results_{args.framework}.json") as tmp:
        Path(tmp).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
