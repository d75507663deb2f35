"""Write tests/data/simclr_reference.npz: the CS231n self-supervised notebook's published sanity-check values
for the SimCLR (NT-Xent) loss, and the loss and its gradient by PyTorch autograd on larger cases.

1. The notebook (Self_Supervised_Learning.ipynb, CS231n assignment 3) checks ``sim``,
   ``sim_positive_pairs``, ``compute_sim_matrix``, ``simclr_loss_naive`` and ``simclr_loss_vectorized``
   against the course's key file ``simclr_sanity_check.key`` (a torch.save'd dict: ``left`` and
   ``right`` (2, 3), ``sim`` (2, 1), ``sim_matrix`` (4, 4), ``loss`` {'5.0', '1.0'} and the CIFAR-10
   augmentation of two images). It is public in students' copies of the assignment, e.g. GitHub
   mantasu/cs231n, assignment3/simclr_sanity_check.key at commit 68ea5a28fd07d2aab37945d63ef91a44d0f3a4cb
   (26,652 bytes). The numeric entries except the augmentation (which needs torchvision and CIFAR-10)
   are copied under ``notebook_*``; the notebook asks for rel_error < 1e-7 (and torch.isclose for the
   similarity matrix).
2. ``case*``: the course's definition (the mean over the 2N rows of -log(exp(sim(z_i, z_p(i)) / tau) /
   sum_{k != i} exp(sim(z_i, z_k) / tau))) evaluated by PyTorch's cosine similarity, logsumexp and
   autograd, on inputs drawn as the course's autograder draws them (torch.manual_seed(1234), randn).

Run once with PyTorch 2.13.0 CPU: ``python tests/data/make_simclr_reference.py PATH/simclr_sanity_check.key``.
npnet never imports torch.
"""
import os
import sys

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
    key = torch.load(sys.argv[1], weights_only=True)  # tensors and floats only: nothing is executed
    out.update({f"notebook_{name}": key[name].numpy() for name in ("left", "right", "sim", "sim_matrix")})
    for tau in ("5.0", "1.0"):
        out[f"notebook_loss_tau{tau[0]}"] = np.array(key["loss"][tau])
    print("notebook losses:", key["loss"])
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "simclr_reference.npz")
    np.savez_compressed(path, **out)
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
