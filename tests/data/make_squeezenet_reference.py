"""Make tests/data/squeezenet_reference.npz with PyTorch (run once by a developer; never by the tests).

    python tests/data/make_squeezenet_reference.py --shared ../shared

Needs torch 2.13 CPU, PIL and numpy. The network is ../shared/reference/torch_squeezenet.py (torchvision's
SqueezeNet 1.1 rebuilt from torch.nn) loaded with ../shared/weights/squeezenet1_1.npz, i.e. the same
weights npnet uses. The preprocessing is written out here with PIL + NumPy, independently of npnet.image,
so the tests check npnet's preprocessing too:

* the 25-image ImageNet sample (already 224x224): x = (X / 255 - mean) / std;
* grace_hopper.jpg (512x600): torchvision ``Resize(256)`` (PIL bilinear, 256x300), ``CenterCrop(224)``,
  then the same normalisation.

Stored (float64 references come from the float64 network, i.e. weights cast to float64):
    logits64        (25, 1000)  scores of the sample, float64
    grace_logits64  (1000,)     scores of grace_hopper, float64
    grad_images     (k,)        indices into the sample of the images whose input gradient is stored
    grad_labels     (k,)        the class whose score is differentiated (the true label y)
    grads           (k, 3, 224, 224) d score[label] / d x, float64 computed, stored as float32
    fp32_time_ms    (2,)        forward, forward+input-gradient time at N=1 224^2 (median of 20, 2 threads)
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def normalise(hwc_uint8):
    x = (hwc_uint8.astype(np.float64) / 255.0 - MEAN) / STD
    return x.transpose(2, 0, 1)[None]


def grace_hopper(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(256 * long / short)
    img = img.resize((256, new_long) if w <= h else (new_long, 256), Image.BILINEAR)
    w, h = img.size
    top, left = int(round((h - 224) / 2.0)), int(round((w - 224) / 2.0))
    return normalise(np.asarray(img.crop((left, top, left + 224, top + 224))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default="../shared")
    parser.add_argument("--out", default=str(Path(__file__).with_name("squeezenet_reference.npz")))
    args = parser.parse_args()
    shared = Path(args.shared)
    sys.path.insert(0, str(shared / "reference"))
    from torch_squeezenet import load

    torch.set_num_threads(2)
    model = load(str(shared / "weights" / "squeezenet1_1.npz"))
    model64 = load(str(shared / "weights" / "squeezenet1_1.npz")).double()

    data = np.load(shared / "data" / "imagenet" / "imagenet_val_25.npz")
    X, y = data["X"], data["y"]
    x64 = np.concatenate([normalise(img) for img in X])
    with torch.no_grad():
        logits64 = model64(torch.from_numpy(x64)).numpy()
        grace64 = model64(torch.from_numpy(grace_hopper(shared / "data" / "images" / "grace_hopper.jpg")))[0].numpy()

    # Images without flat (saturated) 3x3 patches: in a flat area several max-pool candidates are equal
    # up to the last bit of each library's conv arithmetic, so which one takes the gradient is an
    # accident of rounding (image 0 differs from PyTorch in 521 pixels for that reason alone).
    grad_images = np.array([3, 5, 13])
    grads = []
    for i in grad_images:
        xi = torch.from_numpy(x64[i:i + 1].copy()).requires_grad_(True)
        model64(xi)[0, int(y[i])].backward()
        grads.append(xi.grad[0].numpy())

    x1 = torch.from_numpy(x64[:1].astype(np.float32))
    fwd, fwdbwd = [], []
    for _ in range(20):
        t = time.perf_counter()
        with torch.no_grad():
            model(x1)
        fwd.append(time.perf_counter() - t)
        xg = x1.clone().requires_grad_(True)
        t = time.perf_counter()
        model(xg)[0, int(y[0])].backward()
        fwdbwd.append(time.perf_counter() - t)

    np.savez_compressed(args.out, logits64=logits64, grace_logits64=grace64, grad_images=grad_images,
                        grad_labels=y[grad_images], grads=np.stack(grads).astype(np.float32),
                        fp32_time_ms=1e3 * np.array([np.median(fwd), np.median(fwdbwd)]))
    print("top-1 of the sample:", logits64.argmax(1).tolist())
    print("grace_hopper top-5:", np.argsort(-grace64)[:5].tolist())
    print(f"torch fp32 N=1 224: forward {1e3 * np.median(fwd):.1f} ms, forward+backward {1e3 * np.median(fwdbwd):.1f} ms")


if __name__ == "__main__":
    main()
