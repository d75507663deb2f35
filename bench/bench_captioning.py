"""Time per captioning training iteration (loss, backward, Adam update): npnet vs a PyTorch CPU loop.

Batch 25, T = 16 time steps, hidden 512, word vectors 256, features 512, vocabulary 1004, float32: the
course's overfitting configuration. The PyTorch model is the same computation written with torch ops
(embedding, an unrolled RNN/LSTM cell with the i, f, o, g gate order, linear vocabulary layer, masked
cross-entropy summed over time and averaged over the batch, Adam).

    python bench/bench_captioning.py                                  # npnet (+ torch if importable)
    python bench/bench_captioning.py --torch-python /work/tvenv/bin/python   # torch in another venv

The torch part needs only torch and numpy, so it can run in an interpreter without npnet
(``--torch-only`` is what the script runs there).
"""
import argparse
import json
import subprocess
import sys
import time

import numpy as np

N, T, D, W, H, V = 25, 16, 512, 256, 512, 1004


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((N, D)).astype(np.float32)
    captions = rng.integers(3, V, size=(N, T + 1))
    captions[:, 0] = 1
    captions[:, -3:] = 0  # some <NULL> padding, so the mask matters
    return features, captions


def _time(step, iters, warmup=2):
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    return (time.perf_counter() - start) / iters


def bench_npnet(cell, iters):
    from npnet.models.captioning import CaptioningRNN
    from npnet.optim import adam
    word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2, **{f"w{i}": i for i in range(3, V)}}
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type=cell,
                          rng=np.random.default_rng(0))
    configs = {k: {"learning_rate": 5e-3} for k in model.params}
    features, captions = _batch()

    def step():
        _, grads = model.loss(features, captions)
        for k, w in model.params.items():
            model.params[k], configs[k] = adam(w, grads[k], configs[k])
    return _time(step, iters)


def bench_torch(cell, iters):
    import torch
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
    return _time(step, iters), torch.__version__, torch.get_num_threads()


def _torch_results(args):
    """{cell: seconds} from torch here, or from ``--torch-python``; None if torch is unavailable."""
    if args.torch_python:
        cmd = [args.torch_python, __file__, "--torch-only", "--iters", str(args.iters)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        return json.loads(res.stdout.strip().splitlines()[-1])
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    out = {}
    for cell in ("rnn", "lstm"):
        out[cell], version, threads = bench_torch(cell, args.iters)
    out["version"], out["threads"] = version, threads
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10, help="timed iterations per model (default 10)")
    parser.add_argument("--torch-python", help="run the torch part with this interpreter")
    parser.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.torch_only:
        print(json.dumps(_torch_results(argparse.Namespace(torch_python=None, iters=args.iters))))
        return 0
    print(f"captioning training iteration: batch {N}, T={T}, H={H}, wordvec {W}, V={V}, float32, "
          f"mean of {args.iters}")
    ours = {cell: bench_npnet(cell, args.iters) for cell in ("rnn", "lstm")}
    theirs = _torch_results(args)
    if theirs:
        print(f"(torch {theirs['version']}, {theirs['threads']} threads)")
    for cell in ("rnn", "lstm"):
        line = f"{cell:4s}  npnet {ours[cell] * 1e3:7.1f} ms"
        if theirs:
            line += f"   torch {theirs[cell] * 1e3:7.1f} ms   npnet/torch {ours[cell] / theirs[cell]:.2f}x"
        print(line)
    if not theirs:
        print("(torch not importable here: pass --torch-python PATH to compare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
