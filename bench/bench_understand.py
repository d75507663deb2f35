"""Time the activation-based methods of npnet.vis on SqueezeNet 1.1; everything is printed.

    NPNET_DATA=../shared/data NPNET_WEIGHTS=../shared/weights python bench/bench_understand.py [--quick]

1. Maximally activating patches over the 25 sample images (224x224) for one channel of features.3,
   features.6 and features.10 (one forward pass up to the layer per batch of 16, then top-9 and the crops).
2. PCA (NumPy SVD) and t-SNE (scikit-learn, if installed) of the 25 x 512 pooled features.12.
3. Neuron gradient ascent (``unit_visualization``): 100 steps on one channel of features.6 and of
   features.10 at 224x224 with all four Yosinski regularisers, and the rise of the objective.
4. Region counting: ``count_regions_grid`` on a 256x256 grid for a 3-layer ReLU net of width 32.

``--quick``: 5 images and 10 ascent steps, as a smoke test.
"""
import argparse
import time

import numpy as np

from npnet.data.imagenet import load_imagenet_val
from npnet.image import preprocess
from npnet.models.squeezenet import squeezenet1_1
from npnet.nn import Linear, ReLU, Sequential
from npnet.relu_networks import count_regions_grid
from npnet.vis.activations import max_activating_patches, pca, pooled_features, tsne
from npnet.vis.neurons import unit_visualization


def timed(label, f):
    t = time.perf_counter()
    out = f()
    print(f"  {label:<52s} {time.perf_counter() - t:8.2f} s")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 images, 10 ascent steps")
    args = parser.parse_args()
    n, steps = (5, 10) if args.quick else (25, 100)
    model = squeezenet1_1()
    X_raw, _, _ = load_imagenet_val(num=n)
    X = np.concatenate([preprocess(img) for img in X_raw])

    max_activating_patches(model, X[:1], 12, 0, k=1)  # warm-up: compile the kernels, touch the weights
    print(f"1. max-activating patches, {n} images at 224x224, k=9")
    for layer, channel in ((3, 100), (6, 10), (10, 300)):
        found = timed(f"features.{layer} channel {channel}",
                      lambda: max_activating_patches(model, X, layer, channel, k=9))
        print(f"     receptive field {found.field.size}px, top activation {found.values[0]:.1f}")

    print(f"2. embeddings of {n} x 512 pooled features.12")
    feats = timed("pooled_features (forward of all images)", lambda: pooled_features(model, X))
    timed("PCA to 2-D", lambda: pca(feats, 2))
    try:
        tsne(feats[:5], perplexity=1, seed=0)  # warm-up: import scikit-learn outside the timing
        timed("t-SNE to 2-D (scikit-learn)", lambda: tsne(feats, seed=0))
    except ImportError as exc:
        print(f"  t-SNE skipped: {exc}")

    print(f"3. neuron gradient ascent, {steps} steps at 224x224, all four regularisers")
    for layer, channel in ((6, 10), (10, 300)):
        _, objective = timed(f"features.{layer} channel {channel}", lambda: unit_visualization(
            model, layer, channel, num_iterations=steps, learning_rate=10, l2_decay=0.005, norm_percentile=5,
            contribution_percentile=5))
        print(f"     mean activation {objective[0]:.2f} -> {objective[-1]:.2f}")

    print("4. linear regions")
    rng = np.random.default_rng(0)
    net = Sequential(Linear(2, 32, dtype=np.float64, rng=rng), ReLU(), Linear(32, 32, dtype=np.float64, rng=rng),
                     ReLU(), Linear(32, 32, dtype=np.float64, rng=rng), ReLU(), Linear(32, 1, dtype=np.float64, rng=rng))
    count = timed("count_regions_grid, 3 x 32 ReLUs, 256x256 grid",
                  lambda: count_regions_grid(net, [-1, -1], [2, 0], [0, 2], num=256))
    print(f"     {count} regions on [-1, 1]^2")


if __name__ == "__main__":
    main()
