"""Write tests/data/attention_reference.npz: the CS231n Transformer_Captioning notebook's published check
values, reproduced with PyTorch, plus everything npnet needs to recompute them.

The notebook runs its layers in training mode, so its numbers include dropout. PyTorch 1.x on an Intel
CPU draws a dropout mask with MKL: ``bernoulli_(1 - p)`` takes ONE 32-bit draw from the seeded
generator as the seed of an MKL MCG31m1 stream and keeps element k when the stream's k-th uniform is
below 1 - p (viRngBernoulli, ICDF method). On other CPUs, and in PyTorch 2.x, dropout draws per element
from the generator itself, which gives other masks and moves the generator further, so later inputs
(the masked-attention mask, the cross-attention input) differ too. This script replays the Intel
path: ``NotebookDropout`` takes the one draw and computes the MCG31m1 stream in NumPy (checked
bit for bit against libmkl_rt 2021.4's vslNewStream/viRngBernoulli on 24 seeds x 3000 draws). With
it every published value is reproduced from the notebook's seeds, and the drawn masks are stored so
tests/test_attention.py and tests/test_transformer.py replay them through npnet.

Run once with PyTorch 1.13.1 (CPU; e.g. a throwaway venv: ``pip install torch==1.13.1 "numpy<2"``):
``python tests/data/make_attention_reference.py``. PyTorch 2.x draws small ``randn`` tensors
differently, so the script refuses to run there. npnet never imports torch.
"""
import copy
import math
import os

import numpy as np
import torch
from torch import nn

# The values printed in the assignment's notebook (Transformer_Captioning.ipynb, CS231n assignment 3).
PUBLISHED = {
    "mha_self": [[-0.2494, 0.1396, 0.4323, -0.2411, -0.1547, 0.2329, -0.1936, -0.1444],
                 [-0.1997, 0.1746, 0.7377, -0.3549, -0.2657, 0.2693, -0.2541, -0.2476],
                 [-0.0625, 0.1503, 0.7572, -0.3974, -0.1681, 0.2168, -0.2478, -0.3038]],
    "mha_masked": [[-0.1347, 0.1934, 0.8628, -0.4903, -0.2614, 0.2798, -0.2586, -0.3019],
                   [-0.1013, 0.3111, 0.5783, -0.3248, -0.3842, 0.1482, -0.3628, -0.1496],
                   [-0.2071, 0.1669, 0.7097, -0.3152, -0.3136, 0.2520, -0.2774, -0.2208]],
    "mha_cross": [[-0.1980, 0.4083, 0.1968, -0.3477, 0.0321, 0.4258, -0.8972, -0.2744],
                  [-0.1603, 0.4155, 0.2295, -0.3485, -0.0341, 0.3929, -0.8248, -0.2767],
                  [-0.0908, 0.4113, 0.3017, -0.3539, -0.1020, 0.3784, -0.7189, -0.2912]],
    "pe": [[-1.2340, 1.1127, 1.6978, -0.0865, -0.0000, 1.2728],
           [0.9028, -0.4781, 0.5535, 0.8133, 1.2644, 1.7034]],
    "scores": [[[-16.9532, 4.8261, 26.6054], [-17.1033, 4.6906, 26.4844], [-15.0708, 4.1108, 23.2924]],
               [[-17.1767, 4.5897, 26.3562], [-15.6017, 4.8693, 25.3403], [-15.1028, 4.6905, 24.4839]],
               [[-17.2172, 4.7701, 26.7574], [-16.6755, 4.8500, 26.3754], [-17.2172, 4.7701, 26.7574]],
               [[-16.3669, 4.1602, 24.6872], [-16.7897, 4.3467, 25.4831], [-17.0103, 4.7775, 26.5652]]],
}


# MKL's MCG31m1 generator: x_k = A x_(k-1) mod M, uniform x_k / M; its first output is the seed itself.
MCG31_A, MCG31_M = 1132489760, 2**31 - 1
DRAWN = []  # every training-mode dropout's keep mask, in call order


def mcg31_keep(seed, shape, p_keep):
    """The keep mask MKL's viRngBernoulli(ICDF) gives for a stream seeded with ``seed`` (row-major order;
    PyTorch splits large tensors over threads with vslSkipAheadStream, which yields the same stream)."""
    x = seed % MCG31_M or 1
    u = np.empty(int(np.prod(shape)))
    for k in range(u.size):
        u[k] = x / MCG31_M
        x = MCG31_A * x % MCG31_M
    return (u < p_keep).reshape(shape)


class NotebookDropout(nn.Module):
    """nn.Dropout as PyTorch 1.x draws it on an Intel CPU (see the module docstring); records its masks."""

    def __init__(self, p=0.1):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x
        # one generator->random(), as MKL's path takes (randint returns it unchanged unless it is 2^32 - 1)
        seed = int(torch.randint(0, 2**32 - 1, (1,)).item())
        keep = mcg31_keep(seed, tuple(x.shape), 1 - self.p)
        DRAWN.append(keep)
        return x * torch.tensor(keep, dtype=x.dtype) / (1 - self.p)


def rel_error(x, y):
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


class MHA(nn.Module):
    """The course's MultiHeadAttention: key, query, value, proj created in this order (it fixes the seeded init)."""

    def __init__(self, e, h, dropout=0.1):
        super().__init__()
        self.key, self.query, self.value, self.proj = (nn.Linear(e, e) for _ in range(4))
        self.attn_drop = NotebookDropout(dropout)
        self.h = h

    def forward(self, query, key, value, attn_mask=None):
        n, s, e = query.shape
        t = value.shape[1]
        d = e // self.h
        q = self.query(query).view(n, s, self.h, d).transpose(1, 2)
        k = self.key(key).view(n, t, self.h, d).transpose(1, 2)
        v = self.value(value).view(n, t, self.h, d).transpose(1, 2)
        scores = q @ k.transpose(2, 3) / math.sqrt(d)
        if attn_mask is not None:
            scores = scores.masked_fill(attn_mask == 0, float("-inf"))
        weights = self.attn_drop(torch.softmax(scores, dim=-1))
        return self.proj((weights @ v).transpose(1, 2).reshape(n, s, e))


class PE(nn.Module):
    def __init__(self, e, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = NotebookDropout(dropout)
        pos = torch.arange(max_len)[:, None]
        rate = torch.pow(10000.0, -torch.arange(0, e, 2) / e)
        pe = torch.zeros(1, max_len, e)
        pe[0, :, 0::2] = torch.sin(pos * rate)
        pe[0, :, 1::2] = torch.cos(pos * rate)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return self.dropout(x + self.pe[:, :x.shape[1]])


class DecoderLayer(nn.Module):
    def __init__(self, e, h, f=2048, dropout=0.1):
        super().__init__()
        self.self_attn = MHA(e, h, dropout)
        self.multihead_attn = MHA(e, h, dropout)
        self.linear1 = nn.Linear(e, f)
        self.dropout = NotebookDropout(dropout)
        self.linear2 = nn.Linear(f, e)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(e), nn.LayerNorm(e), nn.LayerNorm(e)
        self.dropout1, self.dropout2, self.dropout3 = (NotebookDropout(dropout) for _ in range(3))

    def forward(self, tgt, memory, tgt_mask):
        tgt = self.norm1(tgt + self.dropout1(self.self_attn(tgt, tgt, tgt, tgt_mask)))
        tgt = self.norm2(tgt + self.dropout2(self.multihead_attn(tgt, memory, memory)))
        return self.norm3(tgt + self.dropout3(self.linear2(self.dropout(torch.relu(self.linear1(tgt))))))


class Captioner(nn.Module):
    """The course's CaptioningTransformer. Its construction fixes how far the generator has moved before
    the first dropout: one decoder layer is built and deep-copied (no draws), every Linear and Embedding
    weight is then redrawn from N(0, 0.02^2), and the output layer is created last."""

    def __init__(self, vocab, d, w, h, layers, max_length):
        super().__init__()
        self.visual_projection = nn.Linear(d, w)
        self.embedding = nn.Embedding(vocab, w, padding_idx=0)
        self.positional_encoding = PE(w, max_len=max_length)
        layer = DecoderLayer(w, h)
        self.layers = nn.ModuleList([copy.deepcopy(layer) for _ in range(layers)])
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.data.normal_(mean=0.0, std=0.02)
        self.output = nn.Linear(w, vocab)

    def forward(self, features, captions):
        t = captions.shape[1]
        x = self.positional_encoding(self.embedding(captions))
        memory = self.visual_projection(features).unsqueeze(1)
        mask = torch.tril(torch.ones(t, t))
        for layer in self.layers:
            x = layer(x, memory, mask)
        return self.output(x)


def main():
    if not torch.__version__.startswith("1."):
        raise SystemExit(f"run with PyTorch 1.x (1.13.1 was used); this is {torch.__version__}")
    out = {}
    # Multi-head attention: N=1, S=T=3, E=8, H=2; the notebook's seed and call order.
    torch.manual_seed(231)
    attn = MHA(8, 2)
    data = torch.randn(1, 3, 8)
    DRAWN.clear()
    with torch.no_grad():
        got = {"mha_self": attn(data, data, data)}
        mask = torch.randn(3, 3) < 0.5
        got["mha_masked"] = attn(data, data, data, mask)
        other = torch.randn(1, 3, 8)
        got["mha_cross"] = attn(data, other, other)
    for i, name in enumerate(("mha_self", "mha_masked", "mha_cross")):
        err = rel_error(np.array([PUBLISHED[name]]), got[name].numpy())
        print(f"{name}: rel_error vs the notebook {err:.2e}")
        assert err < 1e-3, name
        out[f"{name}_published"] = np.array([PUBLISHED[name]])
        out[f"mha_dropout{i}"] = DRAWN[i]
    for part in ("query", "key", "value", "proj"):
        lin = getattr(attn, part)
        out[f"mha_{part}_weight"] = lin.weight.detach().numpy()
        out[f"mha_{part}_bias"] = lin.bias.detach().numpy()
    out["mha_data"], out["mha_other"], out["mha_mask"] = data.numpy(), other.numpy(), mask.numpy()

    # Positional encoding: N=1, S=2, E=6.
    torch.manual_seed(231)
    x = torch.randn(1, 2, 6)
    DRAWN.clear()
    got = PE(6)(x).numpy()
    err = rel_error(np.array([PUBLISHED["pe"]]), got)
    print(f"pe: rel_error vs the notebook {err:.2e}")
    assert err < 1e-3
    out["pe_x"], out["pe_dropout0"], out["pe_published"] = x.numpy(), DRAWN[0], np.array([PUBLISHED["pe"]])

    # CaptioningTransformer scores: the model is built (moving the generator), then every parameter is
    # set to linspace(-1.4, 1.3) in parameter order; the forward pass runs in training mode.
    torch.manual_seed(231)
    np.random.seed(231)
    n, d, w, t, vocab = 4, 20, 30, 3, 3
    model = Captioner(vocab, d, w, h=2, layers=2, max_length=30)
    for p in model.parameters():
        p.data = torch.tensor(np.linspace(-1.4, 1.3, num=p.numel()).reshape(*p.shape))
    features = torch.tensor(np.linspace(-1.5, 0.3, num=n * d).reshape(n, d))
    captions = torch.tensor((np.arange(n * t) % vocab).reshape(n, t))
    DRAWN.clear()
    with torch.no_grad():
        scores = model(features, captions).numpy()
    published = np.array(PUBLISHED["scores"])
    err = rel_error(published, scores)
    print(f"scores: rel_error vs the notebook {err:.2e} ({len(DRAWN)} dropout masks)")
    assert err < 1e-3
    for i, keep in enumerate(DRAWN):
        out[f"scores_dropout{i:02d}"] = keep
    model.eval()
    with torch.no_grad():
        out["scores_eval"] = model(features, captions).numpy()
    out["scores_published"] = published
    out["scores_param_names"] = np.array([name for name, _ in model.named_parameters()])
    out["scores_param_shapes"] = np.array([",".join(map(str, p.shape)) for p in model.parameters()])
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attention_reference.npz")
    np.savez_compressed(path, **out)
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
