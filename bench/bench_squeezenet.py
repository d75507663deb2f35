"""SqueezeNet 1.1 timings: forward, and forward + input gradient, npnet beside PyTorch and ONNX Runtime.

    python bench/bench_squeezenet.py                   # 1 and 2 threads, N in {1, 8}, 224x224
    python bench/bench_squeezenet.py --threads 2 --repeats 30

Prints, does not assert. Each thread count runs in a fresh subprocess, because BLAS, Numba and the
reference libraries fix their thread pools at start-up. Within it the sides are interleaved repeat by
repeat (``timing.compare``) and shown as median (quartiles) in ms, with the same work on every side:

* forward: npnet inside ``npnet.nn.no_grad()``, PyTorch inside ``torch.no_grad()``, ONNX Runtime's
  session (the reference model exported to a temporary file);
* forward + dX: scores, then the gradient of the first class score w.r.t. the input image (PyTorch
  builds its graph for the input only; its weights are frozen like npnet's pretrained ones);
* "npnet split": the same inside ``npnet.parallel.batch_threads`` (N=8, 2 threads): the batch split
  between the two cores, BLAS held at one thread.

Memory: "tracemalloc" is the peak of NumPy memory during an N=8 forward (with and without no_grad) and
forward + dX; "peak RSS" is how much the resident set of a fresh process grows during one N=8
no_grad forward, measured the same way for npnet and PyTorch. PyTorch (the ../shared/reference model
with the same weights) and ONNX Runtime run when importable; they are never needed.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
from timing import compare, conditions, optional_torch, thread_env  # bench/timing.py

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def npnet_model():
    from npnet.models import squeezenet1_1

    return squeezenet1_1()


def torch_model(torch, shared):
    sys.path.insert(0, str(shared / "reference"))
    from torch_squeezenet import load

    model = load(str(shared / "weights" / "squeezenet1_1.npz")).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def onnx_session(torch, model, threads, folder):
    """An ONNX Runtime session of the PyTorch reference model, or None without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    path = os.path.join(folder, "squeezenet1_1.onnx")
    torch.onnx.export(model, (torch.zeros(1, 3, 224, 224),), path, dynamo=False, input_names=["x"],
                      output_names=["scores"], dynamic_axes={"x": {0: "N"}, "scores": {0: "N"}})
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def sides_for(x, model, tmodel, session, torch, threads):
    """name -> callable, equal work per pair: forward-only and forward + input gradient."""
    from npnet.nn import no_grad

    dscores = np.zeros((x.shape[0], 1000), np.float32)
    dscores[:, 0] = 1

    def npnet_fwd():
        with no_grad():
            model.forward(x)

    def npnet_fwd_dx():
        model.forward(x)
        model.backward(dscores)

    sides = {"npnet fwd": npnet_fwd, "npnet fwd+dX": npnet_fwd_dx}
    if x.shape[0] > 1 and threads > 1:  # the batch split between the cores (npnet.parallel)
        from npnet.parallel import batch_threads

        def split(fn):
            def run():
                with batch_threads(model):
                    fn()
            return run

        sides.update({"npnet split fwd": split(npnet_fwd), "npnet split fwd+dX": split(npnet_fwd_dx)})
    if tmodel is not None:
        xt = torch.from_numpy(x)

        def torch_fwd():
            with torch.no_grad():
                tmodel(xt)

        def torch_fwd_dx():
            xg = xt.clone().requires_grad_(True)
            tmodel(xg)[:, 0].sum().backward()

        sides.update({"torch fwd": torch_fwd, "torch fwd+dX": torch_fwd_dx})
    if session is not None:
        sides["onnxruntime fwd"] = lambda: session.run(None, {"x": x})
    return sides


def npnet_memory(model, x):
    """tracemalloc peaks (MiB) of an N=8 forward inside no_grad, a plain forward and forward + dX."""
    from npnet.nn import no_grad

    def peak(fn):
        tracemalloc.start()
        fn()
        result = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        model.features.outputs = [None] * len(model.features)  # start each from nothing
        model.classifier.outputs = [None] * len(model.classifier)
        return result

    def fwd_no_grad():
        with no_grad():
            model.forward(x)

    def fwd_dx():
        model.forward(x)
        model.backward(np.ones((x.shape[0], 1000), np.float32))

    return peak(fwd_no_grad), peak(lambda: model.forward(x)), peak(fwd_dx)


def run_here(threads, repeats, shared):
    torch = optional_torch(threads)
    model = npnet_model()
    tmodel = torch_model(torch, shared) if torch is not None else None
    print(f"--- {threads} thread(s): {conditions()}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        session = onnx_session(torch, tmodel, threads, folder) if torch is not None else None
        rng = np.random.default_rng(0)
        for n in (1, 8):
            x = rng.standard_normal((n, 3, 224, 224)).astype(np.float32)
            t = compare(sides_for(x, model, tmodel, session, torch, threads),
                        repeats if n == 1 else max(5, repeats // 2))
            print(f"N={n}: " + "; ".join(f"{name} {timing}" for name, timing in t.items()))
            ratios = []
            for npnet in ("npnet", "npnet split"):
                for work in ("fwd", "fwd+dX"):
                    if f"torch {work}" in t and f"{npnet} {work}" in t:
                        ratios.append(f"{work} {npnet}/torch {t[f'{npnet} {work}'].median / t[f'torch {work}'].median:.2f}")
                if "onnxruntime fwd" in t and f"{npnet} fwd" in t:
                    ratios.append(f"fwd {npnet}/onnxruntime {t[f'{npnet} fwd'].median / t['onnxruntime fwd'].median:.2f}")
            print(f"N={n}: " + "; ".join(ratios), flush=True)
        print(f"    conditions after: {conditions()}")
    if threads == 2:
        x8 = np.random.default_rng(1).standard_normal((8, 3, 224, 224)).astype(np.float32)
        no_grad_mib, fwd_mib, fwd_dx_mib = npnet_memory(model, x8)
        print(f"npnet tracemalloc peak at N=8: forward in no_grad {no_grad_mib:.0f} MiB, forward {fwd_mib:.0f} MiB, "
              f"forward + dX {fwd_dx_mib:.0f} MiB")


def rss_growth(side, shared):
    """Peak-RSS growth (MiB) of this fresh process over one N=8 forward-only pass of ``side``."""
    x = np.random.default_rng(1).standard_normal((8, 3, 224, 224)).astype(np.float32)
    x1 = x[:1].copy()
    if side == "npnet":
        from npnet.nn import no_grad
        model = npnet_model()
        with no_grad():
            model.forward(x1)  # compile and warm up at N=1
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            model.forward(x)
    else:
        torch = optional_torch(2)
        model = torch_model(torch, shared)
        with torch.no_grad():
            model(torch.from_numpy(x1))
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            model(torch.from_numpy(x))
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="run one thread count in this process")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--shared", default=str(SHARED))
    parser.add_argument("--rss", choices=("npnet", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    shared = Path(args.shared)
    if args.rss:
        print(f"{rss_growth(args.rss, shared):.0f}")
        return
    if args.threads:
        run_here(args.threads, args.repeats, shared)
        return
    print("times in ms, median (quartiles), sides interleaved; ratios of medians")
    for threads in (1, 2):
        subprocess.run([sys.executable, __file__, "--threads", str(threads), "--repeats", str(args.repeats),
                        "--shared", args.shared], env=thread_env(threads), check=True)
    growth = {}
    for side in ("npnet", "torch"):
        if side == "torch" and optional_torch() is None:
            continue
        done = subprocess.run([sys.executable, __file__, "--rss", side, "--shared", args.shared],
                              env=thread_env(2), check=True, capture_output=True, text=True)
        growth[side] = done.stdout.strip()
    print("peak RSS growth over one N=8 forward-only pass: "
          + ", ".join(f"{side} {mib} MiB" for side, mib in growth.items()))


if __name__ == "__main__":
    main()
