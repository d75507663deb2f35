"""Time style transfer: the course's Starry Night run (Tuebingen at 192 px, 200 Adam iterations) in
npnet, and the same loop in PyTorch CPU when it can be run. Prints, never asserts.

    python bench/bench_style.py                                            # npnet (+ torch if importable)
    python bench/bench_style.py --torch-python /work/tvenv/bin/python      # torch in another venv
    python bench/bench_style.py --iters 20                                 # a quicker look
    python bench/bench_style.py --threads 1 ...                            # both sides single-threaded

Reported: total seconds and seconds per iteration of the optimisation loop (targets already computed),
peak memory of the loop (``tracemalloc`` peak of the NumPy/Python allocations over 3 extra iterations,
and the process's peak RSS from ``resource``), and npnet/torch as a ratio. Both sides get identical
inputs: npnet preprocesses the two images and hands them to the torch process in a temporary .npz.
The torch network is ../shared/reference/torch_squeezenet.py with the same weights (``--shared``).

On a machine whose cores are busy with other work, multi-threaded BLAS/OpenMP loops stall waiting for
each other (torch at 2 threads was measured 80x slower than at 1 on a loaded 2-core machine): compare
with ``--threads 1`` there. ``--threads N`` sets OMP/OpenBLAS/MKL/Numba threads for npnet (by
restarting the script with those variables) and ``torch.set_num_threads(N)``.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

PRESET = "starry_night"


def _inputs():
    from npnet.style import PRESETS
    from npnet.style.transfer import load_input

    p = PRESETS[PRESET]
    return load_input("bench", p["content_image"], p["image_size"]), load_input("bench", p["style_image"],
                                                                                  p["style_size"])


def bench_npnet(iters, content, style):
    from npnet.models.squeezenet import squeezenet1_1
    from npnet.style import PRESETS, style_transfer

    p = {k: v for k, v in PRESETS[PRESET].items() if k not in ("content_image", "style_image")}
    model = squeezenet1_1()
    style_transfer(content, style, **p, num_iterations=2, model=model, progress=False)  # warm-up (Numba, caches)
    start = time.perf_counter()
    result = style_transfer(content, style, **p, num_iterations=iters, model=model, progress=False)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    style_transfer(content, style, **p, num_iterations=3, model=model, progress=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    total = result.losses["total"]
    return {"seconds": seconds, "peak_mb": peak / 2**20, "loss_ratio": float(total[-1] / total[0])}


def _torch_loop(iters, content, style, shared, params, threads=None):
    """npnet's loop in PyTorch: torch.optim.Adam, the same geometric step-size decay (0.1 -> 0.01),
    the clamp before each step."""
    import torch

    if threads:
        torch.set_num_threads(threads)

    sys.path.insert(0, os.path.join(shared, "reference"))
    from torch_squeezenet import features, load

    torch.manual_seed(0)
    model = load(os.path.join(shared, "weights", "squeezenet1_1.npz"))
    cl, sl, cw, sw, tw = (params[k] for k in ("content_layer", "style_layers", "content_weight", "style_weights",
                                              "tv_weight"))

    def gram(f):
        n, c, h, w = f.shape
        flat = f.reshape(n, c, h * w)
        return flat @ flat.transpose(1, 2) / (c * h * w)

    with torch.no_grad():
        target = features(model, torch.from_numpy(content))[cl]
        sf = features(model, torch.from_numpy(style))
        grams = [gram(sf[k]) for k in sl]

    def run(n):
        img = torch.from_numpy(content.copy()).requires_grad_(True)
        rates = 0.1 * (0.01 / 0.1) ** (np.arange(n) / max(n - 1, 1))  # npnet.style.transfer.step_sizes
        opt = torch.optim.Adam([img], lr=float(rates[0]))
        losses = []
        for t in range(n):
            with torch.no_grad():
                img.clamp_(-1.5, 1.5)
            opt.param_groups[0]["lr"] = float(rates[t])
            opt.zero_grad()
            f = features(model, img)
            loss = cw * ((f[cl] - target) ** 2).sum()
            loss = loss + sum(w * ((gram(f[k]) - a) ** 2).sum() for k, w, a in zip(sl, sw, grams))
            loss = loss + tw * (((img[:, :, 1:] - img[:, :, :-1]) ** 2).sum()
                                + ((img[:, :, :, 1:] - img[:, :, :, :-1]) ** 2).sum())
            loss.backward()
            losses.append(float(loss.detach()))
            opt.step()
        return losses

    run(2)
    start = time.perf_counter()
    losses = run(iters)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    run(3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"seconds": seconds, "peak_mb": peak / 2**20, "loss_ratio": losses[-1] / losses[0],
            "version": torch.__version__, "threads": torch.get_num_threads(),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _torch_results(args, content, style):
    from npnet.style import PRESETS

    params = {k: v for k, v in PRESETS[PRESET].items() if k not in ("content_image", "style_image")}
    if args.torch_python:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "inputs.npz")
            np.savez(path, content=content, style=style, params=json.dumps(params))
            cmd = [args.torch_python, __file__, "--torch-only", path, "--iters", str(args.iters),
                   "--shared", args.shared] + (["--threads", str(args.threads)] if args.threads else [])
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode:
                print(f"torch run failed:\n{res.stderr.strip()}")
                return None
            return json.loads(res.stdout.strip().splitlines()[-1])
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    return _torch_loop(args.iters, content, style, args.shared, params, args.threads)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=200, help="optimisation iterations (default 200)")
    parser.add_argument("--torch-python", help="run the torch part with this interpreter")
    parser.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"),
                        help="the shared folder holding reference/ and weights/ (default ../shared)")
    parser.add_argument("--threads", type=int, help="threads for both sides (default: the libraries' own)")
    parser.add_argument("--torch-only", metavar="INPUTS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.torch_only:
        data = np.load(args.torch_only)
        print(json.dumps(_torch_loop(args.iters, data["content"], data["style"], args.shared,
                                     json.loads(str(data["params"])), args.threads)))
        return 0
    if args.threads and os.environ.get("NUMBA_NUM_THREADS") != str(args.threads):
        # thread pools are sized when the libraries load, so restart with the variables set
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            os.environ[var] = str(args.threads)
        os.execv(sys.executable, [sys.executable, __file__, *(sys.argv[1:] if argv is None else argv)])
    content, style = _inputs()
    print(f"style transfer ({PRESET} preset): content {content.shape[2]}x{content.shape[3]}, style "
          f"{style.shape[2]}x{style.shape[3]}, {args.iters} iterations, float32")
    ours = bench_npnet(args.iters, content, style)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"npnet  {ours['seconds']:7.1f} s  {ours['seconds'] / args.iters * 1e3:7.1f} ms/iter  "
          f"peak {ours['peak_mb']:6.1f} MB (tracemalloc), {rss:6.0f} MB RSS  loss ratio {ours['loss_ratio']:.3f}")
    theirs = _torch_results(args, content, style)
    if theirs is None:
        print("(torch not importable here: pass --torch-python PATH to compare)")
        return 0
    print(f"torch  {theirs['seconds']:7.1f} s  {theirs['seconds'] / args.iters * 1e3:7.1f} ms/iter  "
          f"peak {theirs['peak_mb']:6.1f} MB (tracemalloc; torch's own allocator is not seen), "
          f"{theirs['rss_mb']:6.0f} MB RSS  loss ratio {theirs['loss_ratio']:.3f}  "
          f"(torch {theirs['version']}, {theirs['threads']} threads)")
    print(f"npnet/torch time ratio {ours['seconds'] / theirs['seconds']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
