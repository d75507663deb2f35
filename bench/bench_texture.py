"""Texture synthesis two ways from the same sample, interleaved: Efros & Leung's pixel-by-pixel window
matching (``npnet.style.efros_leung``, Numba) against Gatys et al.'s Gram-matrix optimisation through
SqueezeNet (``npnet.style.texture_synthesis``), plus the matching loop against its NumPy reference.
Prints, never asserts.

    NPNET_DATA=/work/shared/data NPNET_WEIGHTS=/work/shared/weights \\
        PYTHONPATH=. python bench/bench_texture.py [--threads 2] [--sample 64] [--size 96] [--repeats 2]

The sample is the Starry Night resized to a shorter side of ``--sample`` px (64x80 by default); both
methods make a ``--size`` px square from it: Efros-Leung with an 11x11 window, Gatys with the course's
texture layers and weights for ``--iters`` Adam steps (200). The first call of each is made before
timing (Numba compiles, the weights load). Reported: median (quartiles) s per texture of
``--repeats`` interleaved runs, and the time of one template's match over the whole sample, Numba
against NumPy.
"""
import argparse
import sys

from timing import compare, conditions, set_threads_from_argv

THREADS = set_threads_from_argv()  # before NumPy loads

import numpy as np  # noqa: E402

from npnet.data.lookup import find_data  # noqa: E402
from npnet.image import load_image, preprocess  # noqa: E402
from npnet.models.squeezenet import squeezenet1_1  # noqa: E402
from npnet.style import texture_synthesis  # noqa: E402
from npnet.style.efros_leung import (efros_leung, gaussian_window, window_distances,  # noqa: E402
                                     window_distances_naive)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads (default 2)")
    parser.add_argument("--sample", type=int, default=64, help="shorter side of the sample (default 64)")
    parser.add_argument("--size", type=int, default=96, help="side of the square texture (default 96)")
    parser.add_argument("--window", type=int, default=11, help="Efros-Leung window (default 11)")
    parser.add_argument("--iters", type=int, default=200, help="Gatys: Adam iterations (default 200)")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs per side (default 2)")
    args = parser.parse_args(argv)
    sample = load_image(find_data("styles/starry_night.jpg"), args.sample)
    model = squeezenet1_1()
    style = preprocess(sample, None)

    def el():
        return efros_leung(sample, args.size, window=args.window, seed=0)

    def gatys():
        return texture_synthesis(style, image_size=args.size, style_size=None, num_iterations=args.iters,
                                 model=model, progress=False)

    el()  # compile
    gatys_result = gatys()
    print(f"texture synthesis from the Starry Night at {sample.shape[0]}x{sample.shape[1]} to {args.size}x{args.size}: "
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
