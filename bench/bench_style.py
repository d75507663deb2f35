"""Style transfer and its loop in PyTorch, interleaved: the course's Starry Night run (Tuebingen at 192 px,
so 192x256, 200 Adam iterations) with npnet and with the same loop in torch. Prints, never asserts.

    NPNET_DATA=/work/shared/data NPNET_WEIGHTS=/work/shared/weights \\
        PYTHONPATH=. /work/torchvenv/bin/python bench/bench_style.py [--threads 2] [--iters 200] [--repeats 3]

Both sides run in this process, one run each per repeat in rotating order (``timing.compare``), and do
equal work: the targets (content features, style Gram matrices) are computed once outside the timing
on both sides, and each iteration runs the network only up to the deepest layer the loss reads
(features[7] for the presets) and back. Reported: median (quartiles) seconds per run, ms per iteration,
npnet/PyTorch, and the loss ratio (last / first) of both sides as a check that they do the same thing.
Last, the time fast style transfer's network takes to stylise one 256x256 image (npnet only).
"""
import argparse
import sys

from timing import compare, conditions, ratio, set_threads_from_argv, torch_squeezenet

THREADS = set_threads_from_argv()  # before NumPy loads

from npnet.models.squeezenet import squeezenet1_1  # noqa: E402
from npnet.style import PRESETS, style_transfer  # noqa: E402
from npnet.style.transfer import load_input, step_sizes  # noqa: E402

PRESET = "starry_night"


def torch_style_loop(torch, model, content, style, params):
    """npnet's loop in torch: Adam with the same geometric step sizes, the clamp before each step, the
    forward stopping at the deepest tapped layer. Returns ``run(iters) -> losses``."""
    cl, sl, cw, sw, tw = (params[k] for k in ("content_layer", "style_layers", "content_weight", "style_weights",
                                              "tv_weight"))
    deepest = max(cl, *sl)

    def features(x):
        out = []
        for module in model.features[:deepest + 1]:
            x = module(x)
            out.append(x)
        return out

    def gram(f):
        n, c, h, w = f.shape
        flat = f.reshape(n, c, h * w)
        return flat @ flat.transpose(1, 2) / (c * h * w)

    with torch.no_grad():
        target = features(torch.from_numpy(content))[cl]
        grams = [gram(features(torch.from_numpy(style))[k]) for k in sl]

    def run(n):
        img = torch.from_numpy(content.copy()).requires_grad_(True)
        rates = step_sizes(n, 0.1, 0.01)
        opt = torch.optim.Adam([img], lr=float(rates[0]))
        losses = []
        for t in range(n):
            with torch.no_grad():
                img.clamp_(-1.5, 1.5)
            opt.param_groups[0]["lr"] = float(rates[t])
            opt.zero_grad()
            f = features(img)
            loss = cw * ((f[cl] - target) ** 2).sum()
            loss = loss + sum(w * ((gram(f[k]) - a) ** 2).sum() for k, w, a in zip(sl, sw, grams))
            loss = loss + tw * (((img[:, :, 1:] - img[:, :, :-1]) ** 2).sum()
                                + ((img[:, :, :, 1:] - img[:, :, :, :-1]) ** 2).sum())
            loss.backward()
            losses.append(float(loss.detach()))
            opt.step()
        return losses
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads of both sides (default 2)")
    parser.add_argument("--iters", type=int, default=200, help="optimisation iterations per run (default 200)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per side (default 3)")
    args = parser.parse_args(argv)
    p = PRESETS[PRESET]
    params = {k: v for k, v in p.items() if k not in ("content_image", "style_image")}
    content = load_input("bench", p["content_image"], p["image_size"])
    style = load_input("bench", p["style_image"], p["style_size"])
    model = squeezenet1_1()
    torch, tmodel = torch_squeezenet(THREADS)
    results = {}

    def ours():
        results["npnet"] = style_transfer(content, style, **params, num_iterations=args.iters, model=model,
                                          progress=False).losses["total"]

    sides = {"npnet": ours}
    if torch:
        run = torch_style_loop(torch, tmodel, content, style, params)
        sides["torch"] = lambda: results.__setitem__("torch", run(args.iters))
    print(f"style transfer ({PRESET}): content {content.shape[2]}x{content.shape[3]}, style "
          f"{style.shape[2]}x{style.shape[3]}, {args.iters} iterations, float32, {THREADS} thread(s), layers 0.."
          f"{max(params['content_layer'], *params['style_layers'])} both sides; median (quartiles) s of "
          f"{args.repeats} interleaved runs; PyTorch {torch.__version__ if torch else 'not importable'}")
    print(f"   {conditions()}")
    t = compare(sides, args.repeats)
    for name, label in (("npnet", "npnet  "), ("torch", "PyTorch")):
        if name in t:
            s = t[name]
            loss = results[name]
            print(f"   {label} {s.median / 1e3:7.2f} s ({s.q1 / 1e3:.2f}-{s.q3 / 1e3:.2f})  "
                  f"{s.median / args.iters:6.1f} ms/iter  loss ratio last/first {loss[-1] / loss[0]:.3f}")
    if torch:
        print(f"   npnet/PyTorch {ratio(t['npnet'], t['torch'])}")
    print(f"   {conditions()}")
    fast_style_line(args.repeats)
    return 0


def fast_style_line(repeats):
    """Fast style transfer: one forward pass of the README's TransformNet (3 styles, 16/32/64 channels,
    3 residual blocks, 5x5 end convolutions; the weights do not change the time) on a 256x256 image."""
    from npnet.models.fast_style import TransformNet
    from npnet.style.fast import stylize

    net = TransformNet(3, kernel=5).eval().requires_grad_(False)
    img = load_input("bench", PRESETS[PRESET]["content_image"], 256)[:, :, :256, :256]
    s = compare({"fast": lambda: stylize(net, img, 1)}, 3 * repeats)["fast"]
    print(f"fast style transfer: stylise one 256x256 image, TransformNet(3 styles, 16/32/64, 3 residual blocks), "
          f"{s.median / 1e3:.3f} s ({s.q1 / 1e3:.3f}-{s.q3 / 1e3:.3f}), median (quartiles) of {3 * repeats} runs")
    print(f"   {conditions()}")


if __name__ == "__main__":
    sys.exit(main())
