"""Make tests/data/vis_reference.npz with PyTorch autograd (run once by a developer; never by the tests).

    /work/tvenv/bin/python tests/data/make_vis_reference.py --shared ../shared

Needs torch 2.13 CPU and numpy. The network is ../shared/reference/torch_squeezenet.py loaded with
../shared/weights/squeezenet1_1.npz (the weights npnet uses), cast to float64 for the maps. Everything
npnet computes is re-derived here from its definition with autograd, never with npnet:

* saliency: |d s_y / d X| max over channels;
* SmoothGrad: mean of the saliency maps of X + noise, noise drawn with NumPy exactly as npnet draws it
  (``default_rng(seed).standard_normal(X.shape)`` per sample, scaled per image by
  ``noise_level * (X_i.max() - X_i.min())``);
* guided backprop: every nn.ReLU replaced by a ReLU whose backward passes ``grad`` only where both the
  forward input and ``grad`` are positive (a custom autograd Function);
* Grad-CAM / Grad-CAM++: hooks on ``features[layer]`` keep its output A and the gradient dS/dA;
  upsampling is ``F.interpolate(bilinear, align_corners=False)``;
* integrated gradients: Gauss-Legendre rule on ``steps`` points from a zero baseline;
* occlusion: the score drop for each window position, the window set to ``fill``.

Inputs (5 sample images, indices ``IMAGES``): ``X224`` = the sample normalised with ImageNet mean/std
(float64), ``X112`` = its 2x2 block mean (so the stored maps are 4x smaller). The tests rebuild both
from the same uint8 images with the same two lines.

Stored (maps computed in float64, stored as float32):
    images, labels   (5,)            sample indices and their true labels (the class explained)
    saliency         (5, 112, 112)
    smoothgrad       (5, 112, 112)   n_samples=SMOOTH_N, noise_level=SMOOTH_LEVEL, seed=SMOOTH_SEED
    guided           (5, 3, 112, 112)
    cam12_lowres     (5, 6, 6)       Grad-CAM at features[12] before upsampling
    cam7_lowres      (5, 13, 13)     Grad-CAM at features[7] before upsampling
    campp12_lowres   (5, 6, 6)       Grad-CAM++ at features[12] before upsampling
    cam12            (5, 112, 112)   Grad-CAM at features[12] upsampled to 112x112
    cam12_224_lowres (5, 13, 13)     Grad-CAM at features[12] of the 224x224 images
    ig               (5, 3, 112, 112) steps=IG_STEPS, and ig_delta (5,) its completeness error
    occlusion        (5, 6, 6)       window=32, stride=16, fill=0
    fool_targets (3,), fool_iters (3, 25)  float32 iterations make_fooling_image needs for every
                     sample image (224x224, lr 1, max_iter 200; -1 = not fooled)
    classviz_classes (6,), classviz_top1 (6,), classviz_score (6,)  float32 class visualisation with
                     the defaults and npnet's seeding (NumPy ``default_rng(seed)``; seed = 0)
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter1d

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
# No large flat areas: in a region of equal pixels the max-pool "ties" are broken by rounding noise,
# differently by every convolution implementation, and the gradient there is arbitrary (image 0 has a
# white band). For the same reason IG uses Gauss-Legendre nodes, which never evaluate the constant
# baseline image itself.
IMAGES = np.array([3, 5, 10, 13, 20])
SMOOTH_N, SMOOTH_LEVEL, SMOOTH_SEED = 4, 0.15, 0
IG_STEPS = 8
FOOL_TARGETS = (6, 76, 366)
CLASSVIZ = (76, 78, 187, 683, 366, 604)


def normalise(X_uint8):
    return ((X_uint8.astype(np.float64) / 255.0 - MEAN) / STD).transpose(0, 3, 1, 2)


def halve(X):
    n, c, h, w = X.shape
    return X.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


class _GuidedReLUFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ((x > 0) & (grad > 0)).to(grad.dtype)


class GuidedReLU(nn.Module):
    def forward(self, x):
        return _GuidedReLUFn.apply(x)


def guided_copy(model):
    import copy
    g = copy.deepcopy(model)
    for _, parent in list(g.named_modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(parent, name, GuidedReLU())
    return g


def input_grad(model, X, y):
    x = torch.from_numpy(X.copy()).requires_grad_(True)
    s = model(x)
    s[torch.arange(len(y)), torch.from_numpy(y)].sum().backward()
    return x.grad.numpy()


def layer_grad(model, X, y, layer):
    kept = {}

    def hook(module, inputs, out):
        kept["A"] = out
        out.register_hook(lambda g: kept.__setitem__("G", g))

    h = model.features[layer].register_forward_hook(hook)
    # The parameters are frozen: without an input that needs a gradient there is no graph to hook.
    x = torch.from_numpy(X.copy()).requires_grad_(True)
    s = model(x)
    s[torch.arange(len(y)), torch.from_numpy(y)].sum().backward()
    h.remove()
    return kept["A"].detach(), kept["G"]


def grad_cam_lowres(model, X, y, layer):
    A, G = layer_grad(model, X, y, layer)
    alpha = G.mean(dim=(2, 3), keepdim=True)
    return F.relu((alpha * A).sum(1))


def grad_cam_pp_lowres(model, X, y, layer):
    A, G = layer_grad(model, X, y, layer)
    S = A.sum(dim=(2, 3), keepdim=True)
    den = 2 * G ** 2 + S * G ** 3
    ok = (G > 0) & (den != 0)
    a = torch.where(ok, G ** 2 / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(G))
    w = (a * G.clamp(min=0)).sum(dim=(2, 3), keepdim=True)
    return F.relu((w * A).sum(1))


def upsample(cam, size):
    return F.interpolate(cam[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def saliency(model, X, y):
    return np.abs(input_grad(model, X, y)).max(axis=1)


def smoothgrad(model, X, y):
    rng = np.random.default_rng(SMOOTH_SEED)
    sigma = SMOOTH_LEVEL * (X.max(axis=(1, 2, 3)) - X.min(axis=(1, 2, 3)))
    total = np.zeros((X.shape[0],) + X.shape[2:])
    for _ in range(SMOOTH_N):
        noise = rng.standard_normal(X.shape) * sigma[:, None, None, None]
        total += saliency(model, X + noise, y)
    return total / SMOOTH_N


def integrated_gradients(model, X, y, steps):
    nodes, w = np.polynomial.legendre.leggauss(steps)
    alphas, weights = (nodes + 1) / 2, w / 2
    total = np.zeros_like(X)
    for a, w in zip(alphas, weights):
        total += w * input_grad(model, a * X, y)
    attr = X * total
    with torch.no_grad():
        idx = torch.arange(len(y)), torch.from_numpy(y)
        gap = (model(torch.from_numpy(X))[idx] - model(torch.zeros_like(torch.from_numpy(X)))[idx]).numpy()
    return attr, attr.sum(axis=(1, 2, 3)) - gap


def occlusion(model, X, y, window=32, stride=16, fill=0.0):
    n, _, h, w = X.shape
    pos_h, pos_w = range(0, h - window + 1, stride), range(0, w - window + 1, stride)
    out = np.zeros((n, len(pos_h), len(pos_w)))
    idx = torch.arange(n), torch.from_numpy(y)
    with torch.no_grad():
        base = model(torch.from_numpy(X))[idx].numpy()
        for i, top in enumerate(pos_h):
            for j, left in enumerate(pos_w):
                Xo = X.copy()
                Xo[:, :, top:top + window, left:left + window] = fill
                out[:, i, j] = base - model(torch.from_numpy(Xo))[idx].numpy()
    return out


def fooling_iterations(model, X, target, max_iter):
    x = torch.from_numpy(X.astype(np.float32).copy())
    for it in range(max_iter + 1):
        x.requires_grad_(True)
        s = model(x)
        if int(s.argmax(1)) == target:
            return it
        if it == max_iter:
            return -1
        s[0, target].backward()
        g = x.grad
        x = (x + g / g.norm()).detach()


def class_visualization(model, target, l2_reg=1e-3, lr=25, num_iterations=100, blur_every=10,
                        max_jitter=16, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    lo = (-MEAN / STD).astype(np.float32)[None, :, None, None]
    hi = ((1 - MEAN) / STD).astype(np.float32)[None, :, None, None]
    for t in range(num_iterations):
        ox, oy = (int(v) for v in rng.integers(0, max_jitter + 1, size=2))
        img = np.roll(np.roll(img, ox, axis=3), oy, axis=2)
        x = torch.from_numpy(img.copy()).requires_grad_(True)
        (model(x)[0, target] - l2_reg * (x ** 2).sum()).backward()
        g = x.grad.numpy()
        img = img + lr * g / np.linalg.norm(g)
        img = np.roll(np.roll(img, -ox, axis=3), -oy, axis=2)
        img = np.clip(img, lo, hi)
        if t % blur_every == 0:
            img = gaussian_filter1d(gaussian_filter1d(img, 0.5, axis=2), 0.5, axis=3)
    with torch.no_grad():
        s = model(torch.from_numpy(img))[0].numpy()
    return int(s.argmax()), float(s[target])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default="../shared")
    parser.add_argument("--out", default=str(Path(__file__).with_name("vis_reference.npz")))
    parser.add_argument("--part", choices=("all", "maps", "synthesis"), default="all",
                        help="recompute only these keys, keeping the others of an existing --out (the synthesis "
                             "part takes ~10 minutes)")
    args = parser.parse_args()
    shared = Path(args.shared)
    sys.path.insert(0, str(shared / "reference"))
    from torch_squeezenet import load

    torch.set_num_threads(2)
    model = load(str(shared / "weights" / "squeezenet1_1.npz"))
    model64 = load(str(shared / "weights" / "squeezenet1_1.npz")).double()
    guided64 = guided_copy(model64)
    data = np.load(shared / "data" / "imagenet" / "imagenet_val_25.npz")
    X224 = normalise(data["X"][IMAGES])
    X112 = halve(X224)
    y = data["y"][IMAGES].astype(np.int64)

    out = dict(np.load(args.out)) if args.part != "all" and Path(args.out).exists() else {}
    if args.part in ("all", "maps"):
        out.update(images=IMAGES, labels=y)
        out["saliency"] = saliency(model64, X112, y)
        out["smoothgrad"] = smoothgrad(model64, X112, y)
        out["guided"] = input_grad(guided64, X112, y)
        cam12 = grad_cam_lowres(model64, X112, y, 12)
        out["cam12_lowres"] = cam12.numpy()
        out["cam7_lowres"] = grad_cam_lowres(model64, X112, y, 7).numpy()
        out["campp12_lowres"] = grad_cam_pp_lowres(model64, X112, y, 12).numpy()
        out["cam12"] = upsample(cam12, (112, 112)).numpy()
        out["cam12_224_lowres"] = grad_cam_lowres(model64, X224, y, 12).numpy()
        out["ig"], out["ig_delta"] = integrated_gradients(model64, X112, y, IG_STEPS)
        out["occlusion"] = occlusion(model64, X112, y)
        print("maps done; IG deltas", out["ig_delta"])

    if args.part in ("all", "synthesis"):
        Xall = normalise(data["X"])
        iters = np.array([[fooling_iterations(model, Xall[i:i + 1], t, 200) for i in range(25)]
                          for t in FOOL_TARGETS])
        for t, row in zip(FOOL_TARGETS, iters):
            print(f"fooling toward {t}: {np.sum((row >= 0) & (row <= 100))}/25 within 100, "
                  f"{np.sum(row >= 0)}/25 within 200, iterations {row.tolist()}")
        out["fool_targets"], out["fool_iters"] = np.array(FOOL_TARGETS), iters

        viz = [class_visualization(model, c) for c in CLASSVIZ]
        print("class visualisation (top1, score):", viz)
        out["classviz_classes"] = np.array(CLASSVIZ)
        out["classviz_top1"] = np.array([v[0] for v in viz])
        out["classviz_score"] = np.array([v[1] for v in viz])

    stored = {k: (v.astype(np.float32) if np.issubdtype(np.asarray(v).dtype, np.floating) else v)
              for k, v in out.items()}
    np.savez_compressed(args.out, **stored)
    print("wrote", args.out, f"{Path(args.out).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
