"""Make tests/data/style_reference.npz with PyTorch autograd (run once by a developer; never by the tests).

    /work/tvenv/bin/python tests/data/make_style_reference.py --shared ../shared

Needs torch 2.13 CPU, PIL and numpy. The network is ../shared/reference/torch_squeezenet.py loaded with
../shared/weights/squeezenet1_1.npz (the weights npnet uses), cast to float64. The losses are written out
here in torch, following the course's definitions, and the image gradient comes from autograd, so the
test compares npnet's hand-written backward passes (losses + network + tap injection) with an
independent computation.

Inputs (stored, so the test does not depend on npnet's preprocessing): tubingen.jpg and starry_night.jpg
with the shorter side resized to 48 px (PIL bilinear), /255, normalised with the ImageNet mean/std; the
optimised image is the content image plus 0.5 * N(0, 1) noise (seed 0), clamped to [-1.5, 1.5].

Stored:
    content       (1, 3, 48, 64) float32   normalised content image
    style         (1, 3, 48, 60) float32   normalised style image
    img           (1, 3, 48, 64) float32   the image whose loss and gradient are taken
    content_layer (), style_layers (4,)
    weights       (6,) content weight, the 4 style weights, tv weight (the course's Starry Night set)
    loss_parts    (3,) float64   content, style, tv terms at img
    grad          (1, 3, 48, 64) d total loss / d img, computed in float64, stored as float32
    grad_content, grad_style: the gradient of the content and of the style term alone, likewise
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
SIZE = 48
CONTENT_LAYER = 3
STYLE_LAYERS = [1, 4, 6, 7]
# the course's Starry Night parameters: content weight, 4 style weights, tv weight
WEIGHTS = [6e-2, 300000, 1000, 15, 3, 2e-2]


def load(path, size):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    other = int(size * long / short)
    img = img.resize((size, other) if w <= h else (other, size), Image.BILINEAR)
    x = (np.asarray(img, dtype=np.float64) / 255.0 - MEAN) / STD
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def gram(f):
    n, c, h, w = f.shape
    flat = f.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def terms(feats_fn, x, content_target, style_grams):
    feats = feats_fn(x)
    cw, sw, tw = WEIGHTS[0], WEIGHTS[1:5], WEIGHTS[5]
    content = cw * ((feats[CONTENT_LAYER] - content_target) ** 2).sum()
    style = sum(w * ((gram(feats[k]) - a) ** 2).sum() for k, w, a in zip(STYLE_LAYERS, sw, style_grams))
    tv = tw * (((x[:, :, 1:, :] - x[:, :, :-1, :]) ** 2).sum() + ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).sum())
    return content, style, tv


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default="../shared")
    parser.add_argument("--out", default=str(Path(__file__).with_name("style_reference.npz")))
    args = parser.parse_args()
    shared = Path(args.shared)
    sys.path.insert(0, str(shared / "reference"))
    from torch_squeezenet import features, load as load_model

    torch.set_num_threads(2)
    model = load_model(str(shared / "weights" / "squeezenet1_1.npz")).double()

    def feats_fn(x):
        return features(model, x)

    content = load(shared / "data" / "styles" / "tubingen.jpg", SIZE)
    style = load(shared / "data" / "styles" / "starry_night.jpg", SIZE)
    noise = np.random.default_rng(0).standard_normal(content.shape)
    img = np.clip(content + 0.5 * noise, -1.5, 1.5).astype(np.float32)

    with torch.no_grad():
        content_target = feats_fn(torch.from_numpy(content).double())[CONTENT_LAYER]
        sf = feats_fn(torch.from_numpy(style).double())
        style_grams = [gram(sf[k]) for k in STYLE_LAYERS]

    grads = []
    parts = None
    for which in (None, 0, 1):
        x = torch.from_numpy(img).double().requires_grad_(True)
        t = terms(feats_fn, x, content_target, style_grams)
        (sum(t) if which is None else t[which]).backward()
        grads.append(x.grad.numpy().astype(np.float32))
        if which is None:
            parts = np.array([float(v.detach()) for v in t])

    np.savez_compressed(args.out, content=content, style=style, img=img, content_layer=CONTENT_LAYER,
                        style_layers=np.array(STYLE_LAYERS), weights=np.array(WEIGHTS), loss_parts=parts,
                        grad=grads[0], grad_content=grads[1], grad_style=grads[2])
    print("shapes:", content.shape, style.shape)
    print("loss parts (content, style, tv):", parts.tolist())
    print("|grad|:", float(np.linalg.norm(grads[0])))


if __name__ == "__main__":
    main()
