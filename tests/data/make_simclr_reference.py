"""Write tests/data/simclr_reference.npz: the SimCLR (NT-Xent) loss of the CS231n self-supervised notebook
and its gradient, computed with PyTorch autograd.

The notebook checks its losses against a binary key file that is not public, so the reference here is
the course's definition (the mean over the 2N rows of -log(exp(sim(z_i, z_p(i)) / tau) /
sum_{k != i} exp(sim(z_i, z_k) / tau))) evaluated by PyTorch's own cosine similarity, logsumexp and
autograd, on inputs drawn the way the course's autograder draws them (torch.manual_seed(1234), randn).
Run once with PyTorch 2.13.0 CPU: ``python tests/data/make_simclr_reference.py``. npnet never imports torch.
"""
import os

import numpy as np
import torch


def main():
    out = {}
    for case, (n, d, tau) in enumerate([(8, 16, 0.5), (4, 5, 0.1), (16, 32, 1.0)]):
        torch.manual_seed(1234)
        left = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
        right = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
        z = torch.cat([left, right])
        sims = torch.nn.functional.cosine_similarity(z[:, None, :], z[None, :, :], dim=-1) / tau
        sims = sims.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
        partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
        loss = (torch.logsumexp(sims, dim=1) - sims[torch.arange(2 * n), partner]).mean()
        loss.backward()
        out.update({f"case{case}_left": left.detach().numpy(), f"case{case}_right": right.detach().numpy(),
                    f"case{case}_tau": np.array(tau), f"case{case}_loss": np.array(loss.item()),
                    f"case{case}_dleft": left.grad.numpy(), f"case{case}_dright": right.grad.numpy()})
        print(f"case {case}: N={n} D={d} tau={tau} loss {loss.item():.6f}")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "simclr_reference.npz")
    np.savez_compressed(path, **out)
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
