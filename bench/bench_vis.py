"""npnet.vis on SqueezeNet 1.1 beside the same techniques written in PyTorch; everything is printed.

    NPNET_DATA=/work/shared/data NPNET_WEIGHTS=/work/shared/weights \\
        PYTHONPATH=. /work/torchvenv/bin/python bench/bench_vis.py [--threads 2] [--repeats 5] [--quality]

1. Time of each technique on one 224x224 sample image, npnet and PyTorch interleaved repeat by repeat
   (``timing.compare``), equal work on both sides: integrated gradients (50 Gauss-Legendre steps and
   the two score passes of ``delta``), occlusion (window 32, stride 16: 169 windows, forward only),
   SmoothGrad (25 noisy copies) and class visualisation (100 steps of the course's jitter / step /
   clip / blur loop). The PyTorch ports run ``--torch-batch`` images per pass (gradients through
   ``torch.autograd.grad``, forward-only passes under ``torch.no_grad``). Median (quartiles) in ms
   and npnet/PyTorch. ``--batch-sizes 4,8,16`` times npnet's IG, occlusion and SmoothGrad at those
   chunk sizes instead (interleaved), to choose the defaults.
2. With ``--quality``, what the vis issue measured: peak traced memory of each method, IG completeness
   at 50 steps on five images, the fooling sweep against the stored PyTorch counts, the six course class
   visualisations and the cascading randomisation test.
"""
import argparse
import sys
import time
import tracemalloc
from pathlib import Path

from timing import compare, conditions, ratio, set_threads_from_argv, torch_squeezenet

THREADS = set_threads_from_argv()  # before NumPy loads

import numpy as np  # noqa: E402
from scipy.ndimage import gaussian_filter1d  # noqa: E402

from npnet.data.imagenet import imagenet_class_names, load_imagenet_val  # noqa: E402
from npnet.image import SQUEEZENET_MEAN, SQUEEZENET_STD, preprocess  # noqa: E402
from npnet.models.squeezenet import squeezenet1_1  # noqa: E402
from npnet.vis import (compute_saliency_maps, create_class_visualization, format_randomization_table,  # noqa: E402
                       grad_cam, guided_backprop, integrated_gradients, make_fooling_image,
                       model_randomization_test, occlusion, smoothgrad)

REF = Path(__file__).resolve().parents[1] / "tests" / "data" / "vis_reference.npz"
CLASSES = (76, 78, 187, 683, 366, 604)
STEPS, SAMPLES, VIS_ITERS, VIS_CLASS = 50, 25, 100, 76
LABELS = {"ig": "integrated gradients (50 steps)", "occlusion": "occlusion (169 windows)",
          "smoothgrad": "SmoothGrad (25 samples)", "classvis": "class visualisation (100 steps)"}


class TorchPorts:
    """The techniques of npnet.vis written with torch ops, on the reference SqueezeNet (same weights)."""

    def __init__(self, torch, model, batch):
        self.torch, self.model, self.batch = torch, model, batch

    def _input_grads(self, X, y):
        """d s_y / d X for a batch, ``batch`` images per pass, as npnet's class_score_gradient."""
        torch = self.torch
        out = []
        for i in range(0, len(X), self.batch):
            x = X[i:i + self.batch].clone().requires_grad_(True)
            s = self.model(x)
            out.append(torch.autograd.grad(s[torch.arange(len(x)), y[i:i + self.batch]].sum(), x)[0])
        return torch.cat(out)

    def _scores(self, X, y):
        with self.torch.no_grad():
            return self.torch.cat([self.model(X[i:i + self.batch])[:, y] for i in range(0, len(X), self.batch)])

    def integrated_gradients(self, x, y, steps=STEPS):
        torch = self.torch
        nodes, w = np.polynomial.legendre.leggauss(steps)
        alphas = torch.from_numpy(((nodes + 1) / 2).astype(np.float32))[:, None, None, None]
        weights = torch.from_numpy((w / 2).astype(np.float32))[:, None, None, None]
        path = alphas * x  # zero baseline
        g = self._input_grads(path, torch.full((steps,), y))
        attributions = x * (weights * g).sum(0, keepdim=True)
        gap = self._scores(x, y) - self._scores(torch.zeros_like(x), y)
        return attributions, attributions.sum() - gap

    def occlusion(self, x, y, window=32, stride=16):
        torch = self.torch
        h, w = x.shape[2:]
        corners = [(t, l) for t in range(0, h - window + 1, stride) for l in range(0, w - window + 1, stride)]
        drops = []
        with torch.no_grad():
            base = self.model(x)[0, y]
            for i in range(0, len(corners), self.batch):
                chunk = corners[i:i + self.batch]
                xo = x.repeat(len(chunk), 1, 1, 1)
                for c, (t, l) in enumerate(chunk):
                    xo[c, :, t:t + window, l:l + window] = 0
                drops.append(base - self.model(xo)[:, y])
        return torch.cat(drops)

    def smoothgrad(self, x, y, n_samples=SAMPLES, noise_level=0.15):
        torch = self.torch
        sigma = noise_level * float(x.max() - x.min())
        noisy = x + sigma * torch.randn((n_samples,) + tuple(x.shape[1:]))
        g = self._input_grads(noisy, torch.full((n_samples,), y))
        return g.abs().amax(1).mean(0, keepdim=True)

    def class_visualization(self, target, iters=VIS_ITERS, l2_reg=1e-3, lr=25, blur_every=10, max_jitter=16):
        torch = self.torch
        rng = np.random.default_rng(0)
        img = torch.from_numpy(rng.standard_normal((1, 3, 224, 224)).astype(np.float32))
        lo = torch.from_numpy((-SQUEEZENET_MEAN / SQUEEZENET_STD).astype(np.float32))[None, :, None, None]
        hi = torch.from_numpy(((1 - SQUEEZENET_MEAN) / SQUEEZENET_STD).astype(np.float32))[None, :, None, None]
        for t in range(iters):
            ox, oy = (int(v) for v in rng.integers(0, max_jitter + 1, size=2))
            img = torch.roll(img, (oy, ox), (2, 3)).requires_grad_(True)
            score = self.model(img)[0, target] - l2_reg * (img * img).sum()
            g, = torch.autograd.grad(score, img)
            with torch.no_grad():
                img = img + lr * g / g.norm()
                img = torch.maximum(torch.minimum(torch.roll(img, (-oy, -ox), (2, 3)), hi), lo)
            if t % blur_every == 0:  # the same scipy blur npnet uses (npnet.image.blur_image)
                a = gaussian_filter1d(gaussian_filter1d(img.numpy(), 0.5, axis=2), 0.5, axis=3)
                img = torch.from_numpy(a)
        return img


def npnet_sides(model, x, y, batch_size=None):
    kw = {} if batch_size is None else {"batch_size": batch_size}
    return {
        "ig": lambda: integrated_gradients(x, y, model, steps=STEPS, **kw),
        "occlusion": lambda: occlusion(x, y, model, **kw),
        "smoothgrad": lambda: smoothgrad(x, y, model, n_samples=SAMPLES, seed=0, **kw),
        "classvis": lambda: create_class_visualization(VIS_CLASS, model,
                                                                              num_iterations=VIS_ITERS, seed=0),
    }


def torch_sides(ports, x, y):
    xt = ports.torch.from_numpy(x)
    yi = int(y[0])
    return {
        "ig": lambda: ports.integrated_gradients(xt, yi),
        "occlusion": lambda: ports.occlusion(xt, yi),
        "smoothgrad": lambda: ports.smoothgrad(xt, yi),
        "classvis": lambda: ports.class_visualization(VIS_CLASS),
    }


def timing_table(model, x, y, args):
    torch, tmodel = torch_squeezenet(THREADS)
    ours = npnet_sides(model, x, y)
    theirs = torch_sides(TorchPorts(torch, tmodel, args.torch_batch), x, y) if torch else {}
    about_torch = f"{torch.__version__}, batch {args.torch_batch}" if torch else "not importable"
    print(f"1. one 224x224 image, float32, {THREADS} thread(s), median (quartiles) ms of {args.repeats} "
          f"interleaved repeats; PyTorch {about_torch}")
    print(f"   {conditions()}")
    print(f"   {'technique':<34s} {'npnet':>22s} {'PyTorch':>22s} {'npnet/PyTorch':>14s}")
    for name in (args.only or ours):
        sides = {"npnet": ours[name]} | ({"torch": theirs[name]} if theirs else {})
        t = compare(sides, args.repeats)
        line = f"   {LABELS[name]:<34s} {str(t['npnet']):>22s}"
        if theirs:
            line += f" {str(t['torch']):>22s} {ratio(t['npnet'], t['torch']):>14s}"
        print(line, flush=True)
    print(f"   {conditions()}")


def batch_sweep(model, x, y, args):
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    print(f"npnet chunk sizes {sizes}, one 224x224 image, {THREADS} thread(s), median (quartiles) ms of "
          f"{args.repeats} interleaved repeats")
    print(f"   {conditions()}")
    for name in [n for n in list(npnet_sides(model, x, y))[:3] if not args.only or n in args.only]:
        t = compare({b: npnet_sides(model, x, y, b)[name] for b in sizes}, args.repeats)
        print(f"   {LABELS[name]:<34s} " + "  ".join(f"{b}: {t[b]}" for b in sizes), flush=True)
    print(f"   {conditions()}")


def measure(label, f):
    tracemalloc.start()
    t = time.perf_counter()
    out = f()
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  {label:<34s} {seconds:8.2f} s   peak {peak / 2**20:8.1f} MiB")
    return out


def quality(model, X_all, y_all):
    n = 5
    X, y = X_all[:n], y_all[:n]
    names = imagenet_class_names()
    print(f"\n2. time and peak traced memory, N={n} images at 224x224, float32")
    measure("saliency", lambda: compute_saliency_maps(X, y, model))
    measure("guided backprop", lambda: guided_backprop(X, y, model))
    measure("Grad-CAM", lambda: grad_cam(X, y, model))
    _, delta = measure("integrated gradients (50 steps)", lambda: integrated_gradients(X, y, model, steps=50))
    measure("occlusion (window 32, stride 16)", lambda: occlusion(X, y, model))
    measure("SmoothGrad (25 samples)", lambda: smoothgrad(X, y, model, seed=0))

    s_x = model.forward(X)[np.arange(n), y].astype(np.float64)
    s_b = model.forward(np.zeros_like(X))[np.arange(n), y].astype(np.float64)
    print("\n   integrated gradients completeness at 50 steps (Gauss-Legendre, zero baseline)")
    for i in range(n):
        print(f"   image {i}: s(X) - s(0) = {s_x[i] - s_b[i]:8.3f}, delta = {delta[i]:8.4f}, "
              f"|delta| / |gap| = {abs(delta[i]) / abs(s_x[i] - s_b[i]):.2%}")

    print("\n   fooling sweep (lr 1, max_iter 200): iterations per sample image (-1 = not fooled)")
    with np.load(REF) as f:
        torch_targets, torch_iters = f["fool_targets"], f["fool_iters"]
    for target, ref_row in zip(torch_targets, torch_iters):
        t = time.perf_counter()
        _, info = make_fooling_image(X_all, int(target), model, max_iter=200, return_info=True)
        its = np.where(info["success"], info["iterations"], -1)
        print(f"   class {target} ({names[target].split(',')[0]}), {time.perf_counter() - t:.0f} s: "
              f"npnet {np.sum(info['success'] & (its <= 100))}/25 within 100, {info['success'].sum()}/25 within 200; "
              f"PyTorch {np.sum((ref_row >= 0) & (ref_row <= 100))}/25 and {np.sum(ref_row >= 0)}/25")
        print(f"     npnet   {its.tolist()}\n     PyTorch {ref_row.tolist()}")
    X13 = X_all[13:14]
    for objective in ("score", "log_prob"):
        _, info = make_fooling_image(X13, 6, model, max_iter=400, return_info=True, objective=objective)
        print(f"   image 13 toward 6, objective {objective!r}: "
              f"{'fooled after ' + str(info['iterations'][0]) if info['success'][0] else 'not fooled in 400'} steps")

    print("\n   class visualisation, defaults (lr 25, l2 1e-3, 100 steps, blur every 10, jitter 16), seed 0")
    for c in CLASSES:
        img = create_class_visualization(c, model, seed=0)
        s = model.forward(img)[0]
        print(f"   {c:4d} {names[c].split(',')[0]:<20s} score {s[c]:7.1f}  top-1 {int(s.argmax()):4d} "
              f"({'reached' if s.argmax() == c else 'NOT reached'})")

    print("\n   cascading model randomisation (Adebayo et al.), mean Spearman rank correlation over the images")
    print(format_randomization_table(model_randomization_test(X, y, model)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="threads of both sides (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats per technique (default 5)")
    parser.add_argument("--torch-batch", type=int, default=16, help="images per PyTorch pass (default 16)")
    parser.add_argument("--only", nargs="+", choices=list(LABELS), help="techniques to time (default all)")
    parser.add_argument("--batch-sizes", help="time npnet at these comma-separated chunk sizes instead")
    parser.add_argument("--quality", action="store_true", help="also part 2 (memory, IG completeness, sweeps)")
    args = parser.parse_args()
    model = squeezenet1_1()
    X_raw, y_all, _ = load_imagenet_val()
    X_all = np.concatenate([preprocess(img) for img in X_raw])
    x, y = X_all[:1], y_all[:1]
    if args.batch_sizes:
        batch_sweep(model, x, y, args)
    else:
        timing_table(model, x, y, args)
    if args.quality:
        quality(model, X_all, y_all)
    return 0


if __name__ == "__main__":
    sys.exit(main())
