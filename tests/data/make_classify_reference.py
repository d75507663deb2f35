"""Top-5 classes of grace_hopper.jpg and kitten.jpg under npnet's one preprocessing, from PyTorch.

npnet's preprocessing (``npnet.image.to_input``, ``npnet classify``): PIL RGB, shorter side resized to
224 with PIL bilinear (torchvision ``Resize(224)``, long side ``int(224 * long / short)``), no crop,
scaled to [0, 1], normalised with the ImageNet mean / std. The network is
``../shared/reference/torch_squeezenet.py`` with ``../shared/weights/squeezenet1_1.npz`` in float64.
Prints the lists pasted into tests/test_cli.py. Run: ``/work/torchvenv/bin/python
tests/data/make_classify_reference.py --shared ../shared``.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_input(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    short, long = min(w, h), max(w, h)
    other = int(224 * long / short)
    img = img.resize((224, other) if w <= h else (other, 224), Image.BILINEAR)
    x = np.asarray(img, dtype=np.float64) / 255.0
    x = (x - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    return torch.from_numpy(x.transpose(2, 0, 1)[None].copy())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default="../shared")
    shared = Path(parser.parse_args().shared)
    sys.path.insert(0, str(shared / "reference"))
    from torch_squeezenet import load

    model = load(str(shared / "weights" / "squeezenet1_1.npz")).double()
    with torch.no_grad():
        for name in ("grace_hopper", "kitten"):
            scores = model(to_input(shared / "data" / "images" / f"{name}.jpg"))[0].numpy()
            print(name, np.argsort(-scores)[:5].tolist())


if __name__ == "__main__":
    main()
