"""Make the tiny ``.pth`` fixtures that test ``npnet.weights.read_pth`` (run by hand, never by tests).

Needs PyTorch, which npnet itself never imports::

    /path/to/torch-venv/bin/python tests/data/make_pth_fixtures.py

Writes, next to this script:

- ``tiny_state_dict_zip.pth``: ``torch.save`` default (zip) format.
- ``tiny_state_dict_legacy.pth``: the pre-1.6 format (``_use_new_zipfile_serialization=False``).
- ``tiny_state_dict_expected.npz``: the same tensors as NumPy arrays, in state_dict order.

The tensors cover what a reader gets wrong most easily: a non-contiguous view (a transpose), a tensor
that starts at a non-zero offset inside a storage shared with another tensor, a 0-d tensor, float64,
float16 and int64 dtypes, and nested "features.0.weight"-style names.
"""
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def make_state_dict():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    shared = torch.arange(10, dtype=torch.float32) * 0.5
    sd = {
        "features.0.weight": torch.randn(3, 2, 3, 3, generator=g),
        "features.0.bias": torch.randn(3, generator=g),
        # a transposed view: strides (1, 6), so the storage order differs from C order
        "features.3.squeeze.weight": base.t(),
        # two views of one storage; the second one starts at offset 4
        "features.3.shared_head": shared[:4],
        "features.3.shared_tail": shared[4:].view(2, 3),
        "classifier.1.weight": torch.randn(5, 4, 1, 1, generator=g, dtype=torch.float64),
        "classifier.1.half": torch.linspace(-2, 2, 7).half(),
        "bn.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
        "bn.index": torch.tensor([[1, -2, 3], [4, 5, -6]], dtype=torch.int64),
    }
    # nn.Module.state_dict() returns an OrderedDict carrying a ``_metadata`` attribute (pickled via BUILD)
    sd = OrderedDict(sd)
    sd._metadata = OrderedDict([("", {"version": 1}), ("features.0", {"version": 1})])
    return sd


def main():
    sd = make_state_dict()
    torch.save(sd, HERE / "tiny_state_dict_zip.pth")
    torch.save(sd, HERE / "tiny_state_dict_legacy.pth", _use_new_zipfile_serialization=False)
    np.savez(HERE / "tiny_state_dict_expected.npz", **{k: v.numpy() for k, v in sd.items()})
    for name in ("tiny_state_dict_zip.pth", "tiny_state_dict_legacy.pth"):
        back = torch.load(HERE / name, weights_only=True)
        assert all(torch.equal(back[k], v) for k, v in sd.items()), name
    print("wrote", ", ".join(p.name for p in sorted(HERE.glob("tiny_state_dict_*"))))


if __name__ == "__main__":
    main()
