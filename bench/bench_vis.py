"""Time npnet.vis on SqueezeNet 1.1 and measure what the issue asks for; everything is printed.

    NPNET_DATA=../shared/data NPNET_WEIGHTS=../shared/weights python bench/bench_vis.py [--quick]

1. Time and peak memory (tracemalloc: NumPy allocations) per method for N=5 sample images at 224x224:
   saliency, guided backprop, Grad-CAM, integrated gradients (50 steps), occlusion (32/16), and 100
   steps of class visualisation.
2. Integrated-gradients completeness at 50 steps on those images: |delta| / |s(X) - s(baseline)|.
3. Fooling sweep: iterations make_fooling_image needs for all 25 sample images toward classes 6, 76
   and 366 (max_iter 200), side by side with the PyTorch counts stored in tests/data/vis_reference.npz.
4. Class visualisation of the six course classes with the defaults (seed 0): final score and top-1.
5. The cascading model randomisation test on the 5 images (mean Spearman correlation per stage).

``--quick`` runs only part 1 with fewer images, as a smoke test.
"""
import argparse
import time
import tracemalloc
from pathlib import Path

import numpy as np

from npnet.data.imagenet import imagenet_class_names, load_imagenet_val
from npnet.image import preprocess
from npnet.models.squeezenet import squeezenet1_1
from npnet.vis import (compute_saliency_maps, create_class_visualization, format_randomization_table, grad_cam,
                       guided_backprop, integrated_gradients, make_fooling_image, model_randomization_test,
                       occlusion)

REF = Path(__file__).resolve().parents[1] / "tests" / "data" / "vis_reference.npz"
CLASSES = (76, 78, 187, 683, 366, 604)


def measure(label, f):
    tracemalloc.start()
    t = time.perf_counter()
    out = f()
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  {label:<34s} {seconds:8.2f} s   peak {peak / 2**20:8.1f} MiB")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="part 1 only, 2 images, shorter runs")
    args = parser.parse_args()
    n = 2 if args.quick else 5
    model = squeezenet1_1()
    X_raw, y_all, _ = load_imagenet_val()
    X_all = np.concatenate([preprocess(img) for img in X_raw])
    X, y = X_all[:n], y_all[:n]
    names = imagenet_class_names()

    print(f"1. time and peak traced memory, N={n} images at 224x224, float32")
    model.forward(X[:1])  # compile the Numba kernels outside the timings
    measure("saliency", lambda: compute_saliency_maps(X, y, model))
    measure("guided backprop", lambda: guided_backprop(X, y, model))
    measure("Grad-CAM", lambda: grad_cam(X, y, model))
    attr, delta = measure("integrated gradients (50 steps)",
                          lambda: integrated_gradients(X, y, model, steps=10 if args.quick else 50))
    measure("occlusion (window 32, stride 16)", lambda: occlusion(X, y, model))
    measure("class visualisation (100 steps)",
            lambda: create_class_visualization(76, model, num_iterations=10 if args.quick else 100, seed=0))
    if args.quick:
        return

    s_x = model.forward(X)[np.arange(n), y].astype(np.float64)
    s_b = model.forward(np.zeros_like(X))[np.arange(n), y].astype(np.float64)
    print("\n2. integrated gradients completeness at 50 steps (Gauss-Legendre, zero baseline)")
    for i in range(n):
        print(f"  image {i}: s(X) - s(0) = {s_x[i] - s_b[i]:8.3f}, delta = {delta[i]:8.4f}, "
              f"|delta| / |gap| = {abs(delta[i]) / abs(s_x[i] - s_b[i]):.2%}")

    print("\n3. fooling sweep (lr 1, max_iter 200): iterations per sample image (-1 = not fooled)")
    with np.load(REF) as f:
        torch_targets, torch_iters = f["fool_targets"], f["fool_iters"]
    for target, ref_row in zip(torch_targets, torch_iters):
        t = time.perf_counter()
        _, info = make_fooling_image(X_all, int(target), model, max_iter=200, return_info=True)
        its = np.where(info["success"], info["iterations"], -1)
        print(f"  class {target} ({names[target].split(',')[0]}), {time.perf_counter() - t:.0f} s: "
              f"npnet {np.sum(info['success'] & (its <= 100))}/25 within 100, {info['success'].sum()}/25 within 200; "
              f"PyTorch {np.sum((ref_row >= 0) & (ref_row <= 100))}/25 and {np.sum(ref_row >= 0)}/25")
        print(f"    npnet   {its.tolist()}\n    PyTorch {ref_row.tolist()}")

    X13 = X_all[13:14]
    for objective in ("score", "log_prob"):
        _, info = make_fooling_image(X13, 6, model, max_iter=400, return_info=True, objective=objective)
        print(f"  image 13 toward 6, objective {objective!r}: "
              f"{'fooled after ' + str(info['iterations'][0]) if info['success'][0] else 'not fooled in 400'} steps")

    print("\n4. class visualisation, defaults (lr 25, l2 1e-3, 100 steps, blur every 10, jitter 16), seed 0")
    for c in CLASSES:
        img = create_class_visualization(c, model, seed=0)
        s = model.forward(img)[0]
        print(f"  {c:4d} {names[c].split(',')[0]:<20s} score {s[c]:7.1f}  top-1 {int(s.argmax()):4d} "
              f"({'reached' if s.argmax() == c else 'NOT reached'})")

    print("\n5. cascading model randomisation (Adebayo et al.), mean Spearman rank correlation over the images")
    result = model_randomization_test(X, y, model)
    print(format_randomization_table(result))


if __name__ == "__main__":
    main()
