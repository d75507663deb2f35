"""Write tests/data/modules_reference.npz: PyTorch outputs of the modules npnet.nn mirrors.

Run once with PyTorch 2.13.0 CPU (not by the tests):  /work/torchvenv/bin/python tests/data/make_modules_reference.py
Inputs and weights are drawn with NumPy (seed 0) and stored next to the outputs, all float64.
"""
from pathlib import Path

import numpy as np
import torch

rng = np.random.default_rng(0)
t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
out = {}

# BatchNorm2d: two training batches (running statistics), then eval mode on a third input.
bn = torch.nn.BatchNorm2d(3).double()
with torch.no_grad():
    bn.weight.copy_(t(1 + 0.5 * rng.standard_normal(3)))
    bn.bias.copy_(t(rng.standard_normal(3)))
out["bn_weight"], out["bn_bias"] = bn.weight.detach().numpy().copy(), bn.bias.detach().numpy().copy()
bn.train()
for i in range(2):
    x = 2 + 3 * rng.standard_normal((4, 3, 2, 3))
    out[f"bn_x{i}"], out[f"bn_y{i}"] = x, bn(t(x)).detach().numpy()
bn.eval()
x = rng.standard_normal((2, 3, 2, 3))
out["bn_x_eval"], out["bn_y_eval"] = x, bn(t(x)).detach().numpy()
out["bn_running_mean"], out["bn_running_var"] = bn.running_mean.numpy(), bn.running_var.numpy()
out["bn_num_batches_tracked"] = bn.num_batches_tracked.numpy()
out["bn_state_dict_keys"] = np.array(list(torch.nn.Sequential(torch.nn.BatchNorm1d(2)).state_dict()))

# BatchNorm1d on (N, C, L)
bn1 = torch.nn.BatchNorm1d(2).double().train()
x = rng.standard_normal((3, 2, 4))
out["bn1_x"], out["bn1_y"] = x, bn1(t(x)).detach().numpy()
out["bn1_running_var"] = bn1.running_var.numpy()

# ConvTranspose2d(3, 2, 4, stride=2, padding=1)
ct = torch.nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1).double()
w, b = rng.standard_normal((3, 2, 4, 4)), rng.standard_normal(2)
with torch.no_grad():
    ct.weight.copy_(t(w))
    ct.bias.copy_(t(b))
x = rng.standard_normal((2, 3, 3, 3))
out.update(ct_w=w, ct_b=b, ct_x=x, ct_y=ct(t(x)).detach().numpy())

# LayerNorm((2, 3)) with an affine
ln = torch.nn.LayerNorm((2, 3)).double()
g, b = 1 + rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
with torch.no_grad():
    ln.weight.copy_(t(g))
    ln.bias.copy_(t(b))
x = rng.standard_normal((4, 2, 3))
out.update(ln_g=g, ln_b=b, ln_x=x, ln_y=ln(t(x)).detach().numpy())

# InstanceNorm2d(3) (no affine, PyTorch's default)
x = rng.standard_normal((2, 3, 4, 4))
out.update(in_x=x, in_y=torch.nn.InstanceNorm2d(3)(t(x)).numpy())

# Flatten / Unflatten / AvgPool2d / LeakyReLU
x = rng.standard_normal((2, 3, 5, 5))
out["pool_x"] = x
out["pool_y"] = torch.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)(t(x)).numpy()
out["lrelu_y"] = torch.nn.LeakyReLU(0.2)(t(x)).numpy()

np.savez(Path(__file__).with_name("modules_reference.npz"), **out)
print("wrote", len(out), "arrays")
