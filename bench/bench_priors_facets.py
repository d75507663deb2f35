"""The TV^beta prior and multifaceted visualisation, timed: ``tv_beta_loss`` (beta 1, 1.5, 2, 3) beside
the course's ``tv_loss`` and the loop reference, k-means on penultimate codes, and one facet's class
visualisation with and without the centre bias. Prints, never asserts (Efros-Leung: bench_texture.py).

    NPNET_DATA=/work/shared/data NPNET_WEIGHTS=/work/shared/weights \\
        PYTHONPATH=. python bench/bench_priors_facets.py [--threads 2] [--repeats 5]

Sizes: the prior on a float32 (1, 3, 192, 256) image (the style-transfer size), the loops on
(1, 3, 24, 32); k-means (k = 3) on 10 x 512 codes (the facet pool) and on 1000 x 512 random codes;
a facet run of 20 steps at 160 px from the collie photo. Median (quartiles) ms of interleaved runs.
"""
import argparse
import sys

from timing import compare, conditions, set_threads_from_argv

THREADS = set_threads_from_argv()  # before NumPy loads

import numpy as np  # noqa: E402

from npnet.data.imagenet import load_imagenet_val  # noqa: E402
from npnet.image import preprocess  # noqa: E402
from npnet.models.squeezenet import squeezenet1_1  # noqa: E402
from npnet.style.losses import tv_loss  # noqa: E402
from npnet.style.priors import tv_beta_loss, tv_beta_loss_naive  # noqa: E402
from npnet.vis.activations import pooled_features  # noqa: E402
from npnet.vis.multifaceted import facet_visualization, kmeans  # noqa: E402


def _print(title, t):
    print(f"   {title}")
    for name, s in t.items():
        print(f"      {name:28s} {s.median:9.2f} ms ({s.q1:.2f}-{s.q3:.2f})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs per side (default 5)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"TV^beta and multifaceted visualisation, {THREADS} thread(s); median (quartiles) ms of {args.repeats} "
          f"interleaved runs")
    print(f"   {conditions()}")

    img = rng.standard_normal((1, 3, 192, 256)).astype(np.float32)
    sides = {"tv_loss (course)": lambda: tv_loss(img, 0.02)}
    sides.update({f"tv_beta_loss beta={b:g}": (lambda b=b: tv_beta_loss(img, 0.02, b)) for b in (1, 1.5, 2, 3)})
    _print("prior and gradient of a 192x256 image", compare(sides, args.repeats))
    small = rng.standard_normal((1, 3, 24, 32))
    _print("24x32, beta 1.5", compare({"vectorised": lambda: tv_beta_loss(small, 0.02, 1.5),
                                      "loops (naive)": lambda: tv_beta_loss_naive(small, 0.02, 1.5)}, args.repeats))

    model = squeezenet1_1()
    X_raw, y, _ = load_imagenet_val()
    X = np.concatenate([preprocess(im, 160) for im in X_raw])
    codes = pooled_features(model, X[:10])
    many = rng.standard_normal((1000, 512))
    _print("k-means, k = 3", compare({"10 x 512 (a facet pool)": lambda: kmeans(codes, 3, seed=0),
                                      "1000 x 512": lambda: kmeans(many, 3, seed=0)}, args.repeats))
    collie = X[int(np.flatnonzero(y == 231)[0])][None]
    runs = {"centre bias": lambda: facet_visualization(231, model, collie, num_iterations=20, seed=0),
            "no centre bias": lambda: facet_visualization(231, model, collie, num_iterations=20, seed=0,
                                                          centre_bias=False)}
    _print("facet visualisation, 20 steps at 160 px", compare(runs, max(1, args.repeats // 2)))
    print(f"   {conditions()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
