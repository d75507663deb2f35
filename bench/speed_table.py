"""Every row of issue 25's speed table in one command, with its target beside it. Prints, never asserts.

    python bench/speed_table.py            # about 10-20 minutes on a quiet 2-core machine
    python bench/speed_table.py --quick    # fewer repeats and iterations: a few minutes, noisier
    python bench/speed_table.py --only training contention    # some parts: training squeezenet contention vis
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python bench/speed_table.py --profile "gan vanilla"
                                           # where one step's time goes, npnet (cProfile) and PyTorch (profiler)

Rows (each measurement runs in a fresh subprocess, because BLAS, Numba, PyTorch and ONNX Runtime size
their thread pools when they load; thread counts are set through OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS and
``torch.set_num_threads``):

* training steps: GAN iterations (vanilla, LS, DC; batch 128, one D step and one G step) and the MNIST
  classifier steps (fc and conv through the Solver, the MnistJudge's Adam step; batch 100) beside the
  same steps in PyTorch, on 1 and 2 threads. "interleaved" times both in one process
  (``timing.compare``); "separate" times each side alone in its own process, the sides' processes
  alternating twice, the times of both pooled. The separate-process ratio is the one the target counts.
* SqueezeNet 1.1 at N=1: forward and forward + input gradient, 1 thread -> 2 threads; forward vs ONNX
  Runtime (the reference model exported by torch.onnx) at N=1 and N=8, on 1 and 2 threads. npnet and
  ONNX Runtime run in processes of their own (at 2 threads one's spinning pool would slow the other),
  1- and 2-thread processes alternating, twice.
* contention: one competing busy process; each npnet step with npnet's default thread policy (no thread
  variable set) and with one thread (every thread variable 1): median and p90.
* class visualisation (100 steps) and style transfer (Starry Night) vs PyTorch on 2 threads, through
  bench/bench_vis.py and bench/bench_style.py.

The BLAS library, its kernel (threadpoolctl's ``architecture``) and thread count are printed as each
child process saw them, and every child on 2 threads measures what a second core is worth right now
(:func:`second_core_probe`) before and after its work. ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
are removed from the children's environment (both together) so that OpenBLAS picks the machine's fastest
kernel, as PyTorch and ONNX Runtime do; this is done for the benchmark only, never in tests or CI.
PyTorch, ONNX Runtime (and onnx for the export) are benchmark-only: ``pip install torch onnxruntime
onnx``; missing ones leave their cells empty.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from timing import THREAD_VARS, shared_folder  # noqa: E402  (bench/timing.py; imports no NumPy)

PINNED_KERNEL_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
STEPS = ("gan vanilla", "gan ls", "gan dc", "fc", "conv", "judge")
PARTS = ("training", "squeezenet", "contention", "vis")
RESULT = "RESULT "


# ---------------------------------------------------------------- the children: one measurement each

def blas_info(torch=None):
    """The BLAS libraries loaded (kernel, threads), and PyTorch's settings when it is loaded."""
    from threadpoolctl import threadpool_info

    info = sorted(f"{i['internal_api']} {i.get('version')} kernel {i.get('architecture')} {i['num_threads']} "
                  f"thread(s) ({os.path.basename(i['filepath'])})"
                  for i in threadpool_info() if i["user_api"] == "blas" and "torch" not in i["filepath"])
    if torch is not None:
        info.append(f"torch {torch.__version__} {torch.get_num_threads()} thread(s), "
                    f"MKL {torch.backends.mkl.is_available()}, oneDNN {torch.backends.mkldnn.is_available()}")
    return "; ".join(info)


def second_core_probe():
    """How much faster a 1024 x 1024 float32 product runs on 2 BLAS threads than on 1, right now.

    This machine is a virtual one: whether its second core is worth a core depends on where the host
    runs it, and changes from minute to minute (1.6x in some, 2.0x in others; SqueezeNet's N=1 forward
    on 2 threads 14 ms in the first, 8.8 ms in the second). Each child on 2 threads prints this figure
    before and after its work, so every 2-thread row says which of the two machines it ran on."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)

    def per_product(threads):
        with threadpool_limits(threads, user_api="blas"):
            a @ a
            start = time.perf_counter()
            for _ in range(10):
                a @ a
            return time.perf_counter() - start

    return round(per_product(1) / per_product(2), 2)


def mnist_steps(torch):
    """name -> (npnet step, torch step or None) for the three MNIST classifiers, batch 100."""
    import numpy as np

    from npnet import optim
    from npnet.data.mnist import get_mnist_data, load_mnist
    from npnet.layers import softmax_loss
    from npnet.models.classifiers import MnistJudge, _shifted, mnist_classifier
    from npnet.solver import Solver

    steps = {}
    for name in ("fc", "conv"):
        data = get_mnist_data(flatten=name == "fc")
        model, options = mnist_classifier(name)
        solver = Solver(model, {k: v for k, v in data.items() if k != "mean"}, verbose=False,
                        rng=np.random.RandomState(0), **{**options, "num_epochs": 1})
        counter = iter(range(1, 10**9))
        steps[name] = [lambda s=solver, c=counter: s._step(next(c)), None]
        if torch is not None:
            steps[name][1] = torch_classifier_step(torch, name, data)
    X, y = load_mnist("train")
    judge = MnistJudge().train()
    opt = optim.Optimizer(judge, "adam", {"learning_rate": 2e-3})
    rng = np.random.default_rng(0)

    def judge_step():  # MnistJudge.fit's inner loop
        idx = rng.choice(len(X), 100, replace=False)
        loss, dscores = softmax_loss(judge.forward(_shifted(X[idx], rng)), y[idx])
        judge.backward(dscores)
        opt.step()

    steps["judge"] = [judge_step, torch_judge_step(torch, X, y) if torch is not None else None]
    return steps


def torch_classifier_step(torch, name, data):
    import numpy as np
    import torch_reference as ref  # bench/torch_reference.py

    r = ref.RECIPES[name]
    torch.manual_seed(0)
    net = ref.fully_connected(r["weight_scale"]) if name == "fc" else ref.three_layer_convnet(r["weight_scale"])
    opt = torch.optim.Adam(net.parameters(), lr=r["lr"])
    X, y = torch.tensor(data["X_train"]), torch.tensor(data["y_train"])
    rng = np.random.RandomState(0)

    def step():
        idx = torch.from_numpy(rng.choice(len(X), r["batch"]))
        loss = torch.nn.functional.cross_entropy(net(X[idx]), y[idx])
        loss = loss + 0.5 * r["reg"] * sum((w * w).sum() for w in ref.weights(net))
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def torch_judge_step(torch, X, y):
    import numpy as np
    import torch_reference as ref

    torch.manual_seed(0)
    net = ref.judge()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    X, y = torch.tensor(X), torch.tensor(y)
    rng = np.random.default_rng(0)

    def step():
        idx = torch.from_numpy(rng.choice(len(X), 100, replace=False))
        padded = torch.nn.functional.pad(X[idx], (2, 2, 2, 2))
        dy, dx = rng.integers(0, 5, (2, 100))
        xb = torch.stack([padded[j, :, dy[j]:dy[j] + 28, dx[j]:dx[j] + 28] for j in range(100)])
        loss = torch.nn.functional.cross_entropy(net(xb), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def all_steps(torch, names):
    """name -> [npnet step, torch step or None] for the training steps in ``names``."""
    import numpy as np

    import bench_gan

    real = np.random.default_rng(0).uniform(-1, 1, (bench_gan.BATCH, 28 * 28)).astype(np.float32)
    steps = {}
    for name in names:
        if name.startswith("gan "):
            model = name.split()[1]
            steps[name] = [bench_gan.npnet_step(model, real),
                           bench_gan.torch_step(torch, model, real) if torch is not None else None]
    if any(not n.startswith("gan ") for n in names):
        steps.update({k: v for k, v in mnist_steps(torch).items() if k in names})
    return steps


def squeezenet_sides(torch, threads, n, folder, side):
    """name -> callable at batch ``n``: npnet's forward and forward + dX (``side`` "npnet"), or ONNX
    Runtime's forward ("onnx"), never both in one process: at 2 threads ONNX Runtime's and PyTorch's
    pools spin on the core between their calls, which made npnet's 2-thread forward slower than its
    1-thread one when they shared a process (19.5 against 11.5 ms)."""
    import numpy as np

    import bench_squeezenet as bs

    x = np.random.default_rng(0).standard_normal((n, 3, 224, 224)).astype(np.float32)
    if side == "npnet":
        sides = bs.sides_for(x, bs.npnet_model(), None, None, None, 1)  # threads=1: no batch split sides
        return {"npnet fwd": sides["npnet fwd"], "npnet fwd+dX": sides["npnet fwd+dX"]}
    tmodel = bs.torch_model(torch, shared_folder()) if torch is not None else None
    try:
        session = bs.onnx_session(torch, tmodel, threads, folder) if tmodel is not None else None
    except Exception as e:  # noqa: BLE001  (onnx missing for the export: the cell stays empty)
        print(f"ONNX export failed: {e}", file=sys.stderr)
        session = None
    sides = bs.sides_for(x, None, None, session, torch, 1)
    return {"onnxruntime fwd": sides["onnxruntime fwd"]} if session is not None else {}


def child(args):
    """Run one measurement in this process and print its result as one JSON line."""
    from timing import compare, optional_torch

    torch = optional_torch(args.threads) if args.side != "npnet" else None
    out = {"threads": args.threads, "times": {}, "probe": []}
    if args.threads > 1:
        out["probe"].append(second_core_probe())
    if args.job == "steps":
        steps = all_steps(torch, args.names)
        for name, (ours, theirs) in steps.items():
            sides = {"npnet": ours}
            if theirs is not None and args.side in ("both", "torch"):
                sides["torch"] = theirs
            if args.side == "torch":
                del sides["npnet"]
            t = compare(sides, args.repeats, warmup=2)
            out["times"][name] = {side: timing.times.tolist() for side, timing in t.items()}
            print(f"  [{args.side} {args.threads or 'default'} thread(s)] {name}: "
                  + ", ".join(f"{s} {v}" for s, v in t.items()), file=sys.stderr, flush=True)
    elif args.job == "squeezenet":
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            for n in (1, 8):
                t = compare(squeezenet_sides(torch, args.threads, n, folder, args.side), args.repeats if n == 1
                            else max(5, args.repeats // 2))
                out["times"][f"N={n}"] = {side: timing.times.tolist() for side, timing in t.items()}
                print(f"  [{args.threads} thread(s)] SqueezeNet N={n}: "
                      + ", ".join(f"{s} {v}" for s, v in t.items()), file=sys.stderr, flush=True)
    if args.threads > 1:
        out["probe"].append(second_core_probe())
    out["blas"] = blas_info(torch)  # after the work: NumPy is loaded, and npnet's policy has chosen
    print(RESULT + json.dumps(out), flush=True)


def profile(name, iterations, top):
    """npnet's functions by own time (cProfile) and PyTorch's ops by self CPU time, for one step."""
    import cProfile
    import pstats

    from timing import optional_torch

    torch = optional_torch(int(os.environ.get("OPENBLAS_NUM_THREADS", "0")) or None)
    ours, theirs = all_steps(torch, [name])[name]
    print(f"{name}: {iterations} steps; {blas_info(torch)}")
    for _ in range(3):
        ours()
    prof = cProfile.Profile()
    prof.runcall(lambda: [ours() for _ in range(iterations)])
    print("npnet, functions by their own time (cProfile):")
    pstats.Stats(prof, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(top)
    if theirs is not None:
        for _ in range(3):
            theirs()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as tprof:
            for _ in range(iterations):
                theirs()
        print("PyTorch, ops by self CPU time (torch.profiler):")
        print(tprof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))


# ---------------------------------------------------------------- the parent: runs children, prints rows

def base_env():
    env = {k: v for k, v in os.environ.items() if k not in PINNED_KERNEL_VARS}
    shared = shared_folder()
    env.setdefault("NPNET_DATA", str(shared / "data"))
    env.setdefault("NPNET_WEIGHTS", str(shared / "weights"))
    env.setdefault("MPLBACKEND", "Agg")
    root = str(BENCH.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def env_for(threads):
    """The children's environment: ``threads`` in every thread variable, or none of them (None: the
    libraries' and npnet's own defaults)."""
    env = {k: v for k, v in base_env().items() if k not in THREAD_VARS + ("NPNET_NUM_THREADS",)}
    if threads is not None:
        env.update({v: str(threads) for v in THREAD_VARS})
    return env


def run_child(job, threads, side, repeats, names=(), env=None):
    cmd = [sys.executable, __file__, "--child", job, "--side", side, "--repeats", str(repeats),
           "--threads", str(threads or 0), "--names", *names]
    done = subprocess.run(cmd, env=env or env_for(threads), stdout=subprocess.PIPE, text=True)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(RESULT)]
    if done.returncode or not lines:
        print(f"  !! {' '.join(cmd[2:])} failed (exit {done.returncode})", flush=True)
        return None
    return json.loads(lines[-1][len(RESULT):])


def median(xs):
    import numpy as np

    return float(np.median(xs)) if len(xs) else float("nan")


def p90(xs):
    import numpy as np

    return float(np.percentile(xs, 90)) if len(xs) else float("nan")


def verdict(value, target, better="lower"):
    if value != value:  # NaN: not measured
        return "n/a"
    ok = value <= target if better == "lower" else value >= target
    return "met" if ok else "MISSED"


BLAS_SEEN = set()


def note_blas(result):
    if result and result["blas"] not in BLAS_SEEN:
        BLAS_SEEN.add(result["blas"])
        print(f"  BLAS in a child ({result['threads'] or 'default'} thread(s) asked): {result['blas']}")


def probes(*results):
    """The second-core probes (:func:`second_core_probe`) of 2-thread children, as text."""
    seen = [p for r in results if r for p in r.get("probe", [])]
    return " ".join(f"{p:.2f}x" for p in seen) or "-"


def training_rows(repeats, rounds):
    print("\n## Training steps vs PyTorch (ms per step, median); target npnet/PyTorch <= 1.00, separate counts")
    print(f"{'step':12s} {'thr':>3s} | {'interleaved npnet':>17s} {'torch':>7s} {'ratio':>6s} | "
          f"{'separate npnet':>14s} {'torch':>7s} {'ratio':>6s} | target", flush=True)
    for threads in (1, 2):
        inter = run_child("steps", threads, "both", repeats, STEPS)
        note_blas(inter)
        if threads > 1:
            print(f"  second-core probe of the interleaved child, before / after: {probes(inter)}")
        for name in STEPS:
            pooled = {"npnet": [], "torch": []}
            children = []
            for _ in range(rounds):  # each side alone in its own process, the two alternating
                for side in pooled:
                    res = run_child("steps", threads, side, repeats, [name])
                    note_blas(res)
                    children.append(res)
                    pooled[side] += (res or {"times": {}})["times"].get(name, {}).get(side, [])
            it = (inter or {"times": {}})["times"].get(name, {})
            a, b = median(it.get("npnet", [])), median(it.get("torch", []))
            c, d = median(pooled["npnet"]), median(pooled["torch"])
            print(f"{name:12s} {threads:3d} | {a:17.1f} {b:7.1f} {a / b:5.2f}x | {c:14.1f} {d:7.1f} {c / d:5.2f}x | "
                  f"<= 1.00x {verdict(c / d, 1.0)}" + (f" | probes {probes(*children)}" if threads > 1 else ""),
                  flush=True)


def squeezenet_rows(repeats, rounds):
    print("\n## SqueezeNet 1.1 (ms, median; npnet and ONNX Runtime each in processes of their own, 1- and 2-thread "
          "processes alternating)")
    pooled, children = {}, {1: [], 2: []}
    for _ in range(rounds):
        for t in (1, 2):
            for side in ("npnet", "onnx"):
                res = run_child("squeezenet", t, side, repeats)
                note_blas(res)
                children[t].append(res)
                for key, by_side in (res or {"times": {}})["times"].items():
                    for name, times in by_side.items():
                        pooled.setdefault((t, key, name), []).extend(times)

    def cell(t, n, side):
        return median(pooled.get((t, f"N={n}", side), []))

    for side, label, target in (("npnet fwd", "forward", 1.4), ("npnet fwd+dX", "forward + dX", 1.5)):
        one, two = cell(1, 1, side), cell(2, 1, side)
        print(f"N=1 {label:13s} 1 -> 2 threads: {one:6.1f} -> {two:6.1f} ms = {one / two:4.2f}x faster "
              f"| target >= {target}x {verdict(one / two, target, 'higher')}")
    print(f"  second-core probes of the 2-thread children: {probes(*children[2])}")
    for t, target in ((1, 2.0), (2, 2.5)):
        for n in (1, 8):
            a, b = cell(t, n, "npnet fwd"), cell(t, n, "onnxruntime fwd")
            print(f"forward vs ONNX Runtime, {t} thread(s), N={n}: npnet {a:6.1f} ms, onnxruntime {b:6.1f} ms = "
                  f"{a / b:4.2f}x | target <= {target}x {verdict(a / b, target)}")


def contention_rows(repeats, names, rounds):
    print("\n## Contention: one competing busy process (ms per npnet step: median / p90); "
          "target default <= one thread on both")
    print("(default policy: no thread variable set, npnet.threads sizes BLAS from the free cores; the two "
          "settings' processes alternate step by step)")
    print(f"{'step':12s} | {'default policy':>15s} | {'one thread':>15s} | target", flush=True)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        for name in names:
            pooled = {None: [], 1: []}
            for _ in range(rounds):
                for threads in pooled:
                    res = run_child("steps", threads, "npnet", repeats, [name])
                    note_blas(res)
                    pooled[threads] += (res or {"times": {}})["times"].get(name, {}).get("npnet", [])
            d, s = pooled[None], pooled[1]
            ok = median(d) <= median(s) and p90(d) <= p90(s)
            print(f"{name:12s} | {median(d):6.1f} / {p90(d):6.1f} | {median(s):6.1f} / {p90(s):6.1f} | "
                  f"{'met' if ok else 'MISSED'}", flush=True)
    finally:
        busy.kill()
        busy.wait()


def script_row(label, cmd, pattern, target):
    done = subprocess.run([sys.executable, *cmd], env=env_for(2), stdout=subprocess.PIPE, text=True)
    text = done.stdout
    found = re.findall(pattern, text, flags=re.MULTILINE)
    value = float(found[-1]) if found else float("nan")
    detail = " | ".join(ln.strip() for ln in text.splitlines() if "npnet" in ln or "PyTorch" in ln)[:400]
    print(f"{label}: npnet/PyTorch {value:.2f}x | target <= {target}x {verdict(value, target)}\n    ({detail})",
          flush=True)


def parent(args):
    quick = args.quick
    repeats = 7 if quick else 15
    print(f"# npnet speed table (issue 25), {time.strftime('%Y-%m-%d %H:%M:%S %Z')}"
          f"{' --quick' if quick else ''}")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores; "
          f"removed from the children's environment: "
          f"{', '.join(f'{v}={os.environ[v]}' for v in PINNED_KERNEL_VARS if v in os.environ) or 'nothing (unset)'}")
    print("thread settings: rows on N threads set OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS=N and torch.set_num_threads(N), "
          "ONNX Runtime intra_op_num_threads=N; 'default policy' sets none of them")
    start = time.perf_counter()
    parts = args.only or PARTS
    if "training" in parts:
        training_rows(repeats, 1 if quick else 2)
    if "squeezenet" in parts:
        squeezenet_rows(10 if quick else 20, 1 if quick else 2)
    if "contention" in parts:
        contention_rows(repeats, STEPS, 1 if quick else 2)
    if "vis" in parts:
        vis_rows(quick)
    print(f"\nload average at the end {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"{(time.perf_counter() - start) / 60:.1f} minutes")


def vis_rows(quick):
    print("\n## Class visualisation and style transfer vs PyTorch, 2 threads; target <= 0.6x")
    script_row("class visualisation (100 steps)",
               [str(BENCH / "bench_vis.py"), "--threads", "2", "--only", "classvis", "--repeats", "3" if quick else "5"],
               r"class visualisation.*?([0-9.]+)x\s*$", 0.6)
    script_row("style transfer (Starry Night)",
               [str(BENCH / "bench_style.py"), "--threads", "2", "--iters", "50" if quick else "200",
                "--repeats", "2" if quick else "3"], r"npnet/PyTorch ([0-9.]+)x", 0.6)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats and iterations")
    p.add_argument("--only", nargs="+", choices=PARTS, help="run only these parts (default all)")
    p.add_argument("--profile", choices=STEPS, help="profile one training step of npnet and of PyTorch instead "
                   "(threads from OPENBLAS_NUM_THREADS)")
    p.add_argument("--child", choices=("steps", "squeezenet"), help=argparse.SUPPRESS)
    p.add_argument("--side", default="both", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=15, help=argparse.SUPPRESS)
    p.add_argument("--names", nargs="*", default=list(STEPS), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.profile:
        profile(args.profile, 20, 25)
    elif args.child:
        args.job = args.child
        child(args)
    else:
        parent(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
