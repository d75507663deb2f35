"""Texture synthesis two ways from the same sample, interleaved: Efros & Leung's pixel-by-pixel window
matching (``npnet.style.efros_leung``, Numba) against Gatys et al.'s Gram-matrix optimisation through
SqueezeNet (``npnet.style.texture_synthesis``), plus the matching loop against its NumPy reference.
Prints, never asserts.

    NPNET_DATA=/work/shared/data NPNET_WEIGHTS=/work/shared/weights \\
        PYTHONPATH=. python bench/bench_texture.py [--threads 2] [--style-size 64] [--size 96] [--repeats 2]

Both methods run as ``npnet texture`` runs them (``npnet.style.commands``), with its options (STYLE,
``--size``, ``--style-size``, ``--window``, ``--eps``, ``--iters``, ``--lr``, the layers and weights, ``--seed``,
``--weights``) and Efros-Leung's default sizes for both: the Starry Night resized to a shorter side of
``--style-size`` px (64x80) is the sample, and each method makes a ``--size`` (96) px square from it:
Efros-Leung with an 11x11 window, Gatys with the course's texture layers and weights for ``--iters``
Adam steps (200). The verb's ``--method``, ``-o`` and ``--figure`` are not used: both methods are timed
and nothing is written. The first call of each is made before timing (Numba compiles, the weights
load). Reported: median (quartiles) s per texture of ``--repeats`` interleaved runs, and the time of
one template's match over the whole sample, Numba against NumPy.
"""
import argparse
import sys

from timing import compare, conditions, set_threads_from_argv

THREADS = set_threads_from_argv()  # before NumPy loads

import numpy as np  # noqa: E402

from npnet.models.squeezenet import squeezenet1_1  # noqa: E402
from npnet.style.commands import (efros_leung_texture, gatys_texture, texture_args, texture_defaults,  # noqa: E402
                                  texture_sample)
from npnet.style.efros_leung import gaussian_window, window_distances, window_distances_naive  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    texture_args(parser)
    parser.add_argument("--threads", type=int, default=2, help="threads (default 2)")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs per side (default 2)")
    args = parser.parse_args(argv)
    texture_defaults(args, "efros-leung")
    args.quiet = True
    sample = texture_sample(args)
    model = squeezenet1_1(weights=args.weights)

    def el():
        return efros_leung_texture(args, sample)

    def gatys():
        return gatys_texture(args, model)

    el()  # compile
    gatys_result = gatys()
    print(f"texture synthesis from {args.images[0]} at {sample.shape[0]}x{sample.shape[1]} to {args.size}x{args.size}: "
          f"Efros-Leung ({args.window}x{args.window} window, Numba) vs Gatys (SqueezeNet Gram matrices, "
          f"{args.iters} Adam steps, float32); median (quartiles) s of {args.repeats} interleaved runs, "
          f"{THREADS} thread(s)")
    print(f"   {conditions()}")
    t = compare({"efros-leung": el, "gatys": gatys}, args.repeats, warmup=0)
    for name in ("efros-leung", "gatys"):
        s = t[name]
        print(f"   {name:12s} {s.median / 1e3:7.2f} s ({s.q1 / 1e3:.2f}-{s.q3 / 1e3:.2f})")
    s = gatys_result.losses["style"]
    print(f"   Gatys style loss {s[0]:.4g} -> {s[-1]:.4g}")

    rng = np.random.default_rng(0)
    src = sample.astype(np.float64)
    n = args.window
    template = src[:n, :n] + rng.standard_normal((n, n, 3))
    weight = gaussian_window(n) * (rng.random((n, n)) < 0.5)
    m = compare({"numba": lambda: window_distances(src, template, weight),
                 "numpy": lambda: window_distances_naive(src, template, weight)}, 15)
    print(f"   one template against every {n}x{n} window of the sample: Numba {m['numba'].median:.2f} ms, "
          f"NumPy reference {m['numpy'].median:.2f} ms ({m['numpy'].median / m['numba'].median:.0f}x)")
    print(f"   {conditions()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
