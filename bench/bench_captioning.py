"""Time per captioning training iteration (loss, backward, Adam update): npnet vs a PyTorch CPU loop.

Batch 25, T = 16 time steps, hidden 512, word vectors 256, features 512, vocabulary 1004, float32: the
course's overfitting configuration. The PyTorch model is the same computation written with torch ops
(embedding, an unrolled RNN/LSTM cell with the i, f, o, g gate order, linear vocabulary layer, masked
cross-entropy summed over time and averaged over the batch, Adam).

    PYTHONPATH=. /work/torchvenv/bin/python bench/bench_captioning.py [--threads 2] [--repeats 15]

Both sides run in this process, interleaved repeat by repeat (``timing.compare``); PyTorch is optional.
"""
import argparse
import sys

from timing import compare, conditions, optional_torch, ratio, set_threads_from_argv

THREADS = set_threads_from_argv()  # before NumPy loads

import numpy as np  # noqa: E402

N, T, D, W, H, V = 25, 16, 512, 256, 512, 1004


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((N, D)).astype(np.float32)
    captions = rng.integers(3, V, size=(N, T + 1))
    captions[:, 0] = 1
    captions[:, -3:] = 0  # some <NULL> padding, so the mask matters
    return features, captions


def npnet_step(cell):
    """One npnet training iteration of a fresh model (a callable)."""
    from npnet.models.captioning import CaptioningRNN
    from npnet.optim import adam, apply_rule
    word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2, **{f"w{i}": i for i in range(3, V)}}
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type=cell,
                          rng=np.random.default_rng(0))
    configs = {k: {"learning_rate": 5e-3} for k in model.params}
    features, captions = _batch()

    def step():  # what CaptioningSolver does per iteration, without its batch sampling
        _, grads = model.loss(features, captions)
        for k, w in model.params.items():
            model.params[k], configs[k] = apply_rule(adam, w, grads[k], configs[k])
    return step


def torch_step(torch, cell):
    """The same iteration written with torch ops (a callable)."""
    torch.manual_seed(0)
    G = 1 if cell == "rnn" else 4
    shapes = {"W_proj": (D, H), "b_proj": (H,), "W_embed": (V, W), "Wx": (W, G * H), "Wh": (H, G * H),
              "b": (G * H,), "W_vocab": (H, V), "b_vocab": (V,)}
    p = {k: (torch.randn(s) / 10).requires_grad_() for k, s in shapes.items()}
    opt = torch.optim.Adam(p.values(), lr=5e-3)
    features, captions = _batch()
    features, captions = torch.from_numpy(features), torch.from_numpy(captions)
    cap_in, cap_out = captions[:, :-1], captions[:, 1:]
    mask = (cap_out != 0).float()

    def step():
        opt.zero_grad()
        h = features @ p["W_proj"] + p["b_proj"]
        c = torch.zeros_like(h)
        x = p["W_embed"][cap_in]
        hs = []
        for t in range(T):
            a = x[:, t] @ p["Wx"] + h @ p["Wh"] + p["b"]
            if cell == "rnn":
                h = torch.tanh(a)
            else:
                i, f, o = torch.sigmoid(a[:, :3 * H]).chunk(3, dim=1)
                c = f * c + i * torch.tanh(a[:, 3 * H:])
                h = o * torch.tanh(c)
            hs.append(h)
        scores = torch.stack(hs, 1) @ p["W_vocab"] + p["b_vocab"]
        nll = torch.nn.functional.cross_entropy(scores.reshape(-1, V), cap_out.reshape(-1), reduction="none")
        loss = (nll * mask.reshape(-1)).sum() / N
        loss.backward()
        opt.step()
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads of both sides (default 2)")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved repeats per cell (default 15)")
    args = parser.parse_args(argv)
    torch = optional_torch(THREADS)
    print(f"captioning training iteration (loss, backward, Adam): batch {N}, T={T}, H={H}, wordvec {W}, V={V}, "
          f"float32, {THREADS} thread(s); median (quartiles) ms of {args.repeats} interleaved repeats; "
          f"PyTorch {torch.__version__ if torch else 'not importable'}")
    print(f"   {conditions()}")
    for cell in ("rnn", "lstm"):
        sides = {"npnet": npnet_step(cell)} | ({"torch": torch_step(torch, cell)} if torch else {})
        t = compare(sides, args.repeats, warmup=2)
        line = f"   {cell:4s}  npnet {t['npnet']!s:>20s}"
        if torch:
            line += f"   PyTorch {t['torch']!s:>20s}   npnet/PyTorch {ratio(t['npnet'], t['torch'])}"
        print(line, flush=True)
    print(f"   {conditions()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
