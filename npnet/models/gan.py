"""Generative adversarial networks on MNIST, as in the CS231n GAN notebook, with NumPy gradients.

Three GANs share one training loop:

* vanilla GAN (Goodfellow et al. 2014, "Generative Adversarial Nets"): :func:`discriminator`,
  :func:`generator`, :func:`discriminator_loss`, :func:`generator_loss` (the non-saturating loss);
* least-squares GAN (Mao et al. 2017, "Least Squares Generative Adversarial Networks"): the same networks
  with :func:`ls_discriminator_loss` and :func:`ls_generator_loss`;
* DCGAN (Radford et al. 2016, "Unsupervised Representation Learning with Deep Convolutional GANs"):
  :func:`dc_discriminator` and :func:`dc_generator` with the vanilla losses.

Images are flattened rows ``(N, 784)`` scaled to [-1, 1] (the generator ends in tanh); noise is
``(N, noise_dim)`` uniform in [-1, 1]. Every network is a :class:`npnet.nn.Sequential` whose parameter
names and counts are those of the course's PyTorch models (:func:`count_params`).

A loss returns the loss and its gradient w.r.t. each input, so a training step is forward, loss,
``backward`` of the gradient, ``Optimizer.step`` (:func:`gan_step`; :func:`run_a_gan` loops it).
"""
import numbers
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import _check, nn
from ..display import in_notebook, show
from ..errors import NpnetTypeError, NpnetValueError, TrainingDivergedError
from ..layers import bce_with_logits, mse
from ..optim import Optimizer

__all__ = ["NOISE_DIM", "IMAGE_DIM", "MODELS", "sample_noise", "discriminator", "generator", "dc_discriminator",
           "dc_generator", "count_params", "discriminator_loss", "generator_loss", "ls_discriminator_loss",
           "ls_generator_loss", "get_solver", "generate", "gan_step", "run_a_gan", "load_gan_images",
           "score_samples", "outlier_exposed_judge", "save_sample_grid"]

NOISE_DIM = 96
IMAGE_DIM = 28 * 28
LEAK = 0.01  # the course's LeakyReLU slope


def _seed(fn, seed):
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    return np.random.default_rng(_check.nonnegative_int(fn, "seed", seed))


def sample_noise(batch_size, dim, seed=None):
    """Noise for the generator, uniform in [-1, 1].

    Args:
        batch_size: number of noise vectors N >= 1.
        dim: length of each vector (the generator's ``noise_dim``).
        seed: int, ``np.random.Generator`` (drawn from, so successive calls differ) or None.
    Returns:
        (N, dim) float32 array.
    """
    fn = "sample_noise"
    n = _check.positive_int(fn, "batch_size", batch_size)
    d = _check.positive_int(fn, "dim", dim)
    return _seed(fn, seed).uniform(-1, 1, size=(n, d)).astype(np.float32)


def discriminator(seed=None):
    """The course's fully connected discriminator: 784 -> 256 -> 256 -> 1, LeakyReLU(0.01) between.

    Input (N, 784) images in [-1, 1]; output (N, 1) logits (real vs fake). 267,009 parameters.
    """
    rng = _seed("discriminator", seed)
    # BEGIN SOLUTION
    return nn.Sequential(nn.Flatten(),
                         nn.Linear(IMAGE_DIM, 256, rng=rng), nn.LeakyReLU(LEAK),
                         nn.Linear(256, 256, rng=rng), nn.LeakyReLU(LEAK),
                         nn.Linear(256, 1, rng=rng))
    # END SOLUTION


def generator(noise_dim=NOISE_DIM, seed=None):
    """The course's fully connected generator: noise_dim -> 1024 -> 1024 -> 784, ReLU between, tanh last.

    Input (N, noise_dim) noise; output (N, 784) images in (-1, 1). 1,858,320 parameters for
    ``noise_dim=4`` (the course's count), 1,952,528 for 96.
    """
    d = _check.positive_int("generator", "noise_dim", noise_dim)
    rng = _seed("generator", seed)
    # BEGIN SOLUTION
    return nn.Sequential(nn.Linear(d, 1024, rng=rng), nn.ReLU(),
                         nn.Linear(1024, 1024, rng=rng), nn.ReLU(),
                         nn.Linear(1024, IMAGE_DIM, rng=rng), nn.Tanh())
    # END SOLUTION


def dc_discriminator(seed=None):
    """The course's convolutional discriminator (DCGAN-style), 1,102,721 parameters.

    (N, 784) -> (N, 1, 28, 28) -> conv 5x5 32 -> LeakyReLU -> max-pool 2x2 -> conv 5x5 64 -> LeakyReLU
    -> max-pool 2x2 -> (N, 1024) -> FC 1024 -> LeakyReLU -> FC 1 logits (N, 1).
    """
    rng = _seed("dc_discriminator", seed)
    # BEGIN SOLUTION
    return nn.Sequential(nn.Unflatten(1, (1, 28, 28)),
                         nn.Conv2d(1, 32, 5, rng=rng), nn.LeakyReLU(LEAK), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 5, rng=rng), nn.LeakyReLU(LEAK), nn.MaxPool2d(2),
                         nn.Flatten(),
                         nn.Linear(4 * 4 * 64, 4 * 4 * 64, rng=rng), nn.LeakyReLU(LEAK),
                         nn.Linear(4 * 4 * 64, 1, rng=rng))
    # END SOLUTION


def dc_generator(noise_dim=NOISE_DIM, seed=None):
    """The course's DCGAN generator (InfoGAN's MNIST generator), 6,580,801 parameters for ``noise_dim=4``.

    (N, noise_dim) -> FC 1024 -> ReLU -> BN -> FC 7*7*128 -> ReLU -> BN -> (N, 128, 7, 7)
    -> ConvTranspose 64 4x4/2 (14x14) -> ReLU -> BN -> ConvTranspose 1 4x4/2 (28x28) -> tanh -> (N, 784).
    Batch norm uses batch statistics in ``train()`` mode (as during training) and running ones in ``eval()``.
    """
    d = _check.positive_int("dc_generator", "noise_dim", noise_dim)
    rng = _seed("dc_generator", seed)
    # BEGIN SOLUTION
    return nn.Sequential(nn.Linear(d, 1024, rng=rng), nn.ReLU(), nn.BatchNorm1d(1024),
                         nn.Linear(1024, 7 * 7 * 128, rng=rng), nn.ReLU(), nn.BatchNorm1d(7 * 7 * 128),
                         nn.Unflatten(1, (128, 7, 7)),
                         nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1, rng=rng), nn.ReLU(),
                         nn.BatchNorm2d(64),
                         nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1, rng=rng), nn.Tanh(),
                         nn.Flatten())
    # END SOLUTION


def count_params(model, buffers=False):
    """Number of trainable values in ``model``; with ``buffers=True`` also its running statistics.

    The default counts what the optimiser trains (the PyTorch notebook's count: 6,580,801 for
    ``dc_generator(4)``). ``buffers=True`` adds every floating-point buffer (batch norm's running mean
    and variance, not its integer batch counter), as a framework that lists them among the model's
    weights does (Keras' ``model.weights``: the TensorFlow notebook's 6,595,521).
    """
    if not hasattr(model, "named_parameters"):
        raise NpnetTypeError(f"count_params: model must be an npnet.nn.Module; got {type(model).__name__}")
    if not isinstance(buffers, (bool, np.bool_)):
        raise NpnetTypeError(f"count_params: buffers must be True or False; got {buffers!r}")
    count = sum(p.size for _, p in model.named_parameters())
    if buffers:
        count += sum(b.size for _, b in model.named_buffers() if np.issubdtype(b.dtype, np.floating))
    return int(count)


def _logits(fn, name, x):
    x = _check.float_array(fn, name, x)
    if x.size == 0:
        raise NpnetValueError(f"{fn}: {name} is empty (shape {x.shape}); a batch needs at least one score")
    return x


def discriminator_loss(logits_real, logits_fake):
    """Discriminator loss of the vanilla GAN: binary cross-entropy with logits, real -> 1 and fake -> 0.

    ``loss = mean(bce(logits_real, 1)) + mean(bce(logits_fake, 0))`` — the negative of Goodfellow et al.'s
    value function, averaged over each batch.

    Args:
        logits_real: (N, 1) discriminator scores of real images.
        logits_fake: (N, 1) scores of generated images (any shapes are accepted; each is averaged).
    Returns:
        loss: float. dlogits_real, dlogits_fake: gradients shaped like the inputs.
    """
    fn = "discriminator_loss"
    logits_real, logits_fake = _logits(fn, "logits_real", logits_real), _logits(fn, "logits_fake", logits_fake)
    # BEGIN SOLUTION
    loss_real, dreal = bce_with_logits(logits_real, np.ones_like(logits_real))
    loss_fake, dfake = bce_with_logits(logits_fake, np.zeros_like(logits_fake))
    loss = loss_real + loss_fake
    # END SOLUTION
    return loss, dreal, dfake


def generator_loss(logits_fake):
    """Non-saturating generator loss of the vanilla GAN: ``mean(bce(logits_fake, 1))``, i.e.
    maximise log D(G(z)) rather than minimise log(1 - D(G(z))), whose gradient vanishes early on.

    Args:
        logits_fake: (N, 1) discriminator scores of generated images.
    Returns:
        loss: float. dlogits_fake: shaped like ``logits_fake``.
    """
    logits_fake = _logits("generator_loss", "logits_fake", logits_fake)
    # BEGIN SOLUTION
    loss, dfake = bce_with_logits(logits_fake, np.ones_like(logits_fake))
    # END SOLUTION
    return loss, dfake


def ls_discriminator_loss(scores_real, scores_fake):
    """Least-squares GAN discriminator loss, ``0.5 mean((D(x) - 1)^2) + 0.5 mean(D(G(z))^2)``.

    Args:
        scores_real: (N, 1) discriminator scores of real images.
        scores_fake: (N, 1) scores of generated images.
    Returns:
        loss: float. dscores_real, dscores_fake: gradients shaped like the inputs.
    """
    fn = "ls_discriminator_loss"
    scores_real, scores_fake = _logits(fn, "scores_real", scores_real), _logits(fn, "scores_fake", scores_fake)
    # BEGIN SOLUTION
    loss_real, dreal = mse(scores_real, np.ones_like(scores_real))
    loss_fake, dfake = mse(scores_fake, np.zeros_like(scores_fake))
    loss = 0.5 * (loss_real + loss_fake)
    dreal, dfake = 0.5 * dreal, 0.5 * dfake
    # END SOLUTION
    return loss, dreal, dfake


def ls_generator_loss(scores_fake):
    """Least-squares GAN generator loss, ``0.5 mean((D(G(z)) - 1)^2)``.

    Args:
        scores_fake: (N, 1) discriminator scores of generated images.
    Returns:
        loss: float. dscores_fake: shaped like ``scores_fake``.
    """
    scores_fake = _logits("ls_generator_loss", "scores_fake", scores_fake)
    # BEGIN SOLUTION
    loss, dfake = mse(scores_fake, np.ones_like(scores_fake))
    loss, dfake = 0.5 * loss, 0.5 * dfake
    # END SOLUTION
    return loss, dfake


# name -> (discriminator, generator, discriminator loss, generator loss), as in the notebook
MODELS = {"vanilla": (discriminator, generator, discriminator_loss, generator_loss),
          "ls": (discriminator, generator, ls_discriminator_loss, ls_generator_loss),
          "dc": (dc_discriminator, dc_generator, discriminator_loss, generator_loss)}


def get_solver(model, learning_rate=1e-3, beta1=0.5):
    """Adam over every parameter of ``model`` with the course's GAN settings (beta1 = 0.5, Radford et al.)."""
    fn = "get_solver"
    for name, v in (("learning_rate", learning_rate), ("beta1", beta1)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
            raise NpnetValueError(f"{fn}: {name} must be a finite number; got {v!r}")
    if learning_rate <= 0 or not 0 <= beta1 < 1:
        raise NpnetValueError(f"{fn}: need learning_rate > 0 and 0 <= beta1 < 1; got {learning_rate!r}, {beta1!r}")
    return Optimizer(model, "adam", {"learning_rate": float(learning_rate), "beta1": float(beta1)})


def noise_dim_of(fn, G):
    """The noise width ``G`` expects (its first layer's input width), or raise if it has none."""
    if not isinstance(G, nn.Sequential) or len(G) == 0 or "weight" not in G[0].params \
            or G[0].params["weight"].ndim != 2:
        raise NpnetTypeError(f"{fn}: G must be a Sequential generator starting with a Linear layer; "
                             f"got {type(G).__name__}")
    return G[0].params["weight"].shape[1]


def generate(G, noise):
    """Images ``G`` makes from ``noise`` (N, noise_dim), checking the width first; returns (N, 784)."""
    fn = "generate"
    noise = _check.float_array(fn, "noise", noise, ndim=2, layout="(N, noise_dim)")
    d = noise_dim_of(fn, G)
    if noise.shape[1] != d or noise.shape[0] == 0:
        raise NpnetValueError(f"{fn}: noise must have shape (N >= 1, {d}) for this generator (noise_dim {d}); "
                              f"got {noise.shape}")
    return G.forward(noise)


def _check_images(fn, name, x):
    """``x`` as (N, 784) floats in [-1, 1] (also accepts (N, 1, 28, 28)), or raise."""
    x = _check.float_array(fn, name, x, ndim=(2, 4), layout="(N, 784) or (N, 1, 28, 28)")
    if x.shape[1:] not in ((IMAGE_DIM,), (1, 28, 28)) or x.shape[0] == 0:
        raise NpnetValueError(f"{fn}: {name} must be MNIST-sized images (N >= 1, 784) or (N, 1, 28, 28); "
                              f"got {x.shape}")
    _check.finite(fn, name, x)
    _check.in_range(fn, name, x, -1.0, 1.0, hint="GAN images are scaled to [-1, 1]: use 2 * x - 1 for x in [0, 1]")
    return x.reshape(len(x), IMAGE_DIM)


def _finite_scores(what, scores):
    bad = ~np.isfinite(scores)
    if bad.any():
        raise TrainingDivergedError(f"{what} holds {int(bad.sum())} NaN/Inf value(s) of {scores.size}")
    return scores


def gan_step(D, G, D_solver, G_solver, real, discriminator_loss, generator_loss, rng):
    """One alternating update: a discriminator step, then a generator step (Goodfellow et al., Alg. 1, k=1).

    The discriminator step treats fake images as constants, so nothing flows back into G. The generator
    step backpropagates the generator loss through D (whose parameters get no gradient and do not move)
    into the fake images and on into G. Each step generates its own fake batch from fresh noise,
    ``sample_noise(N, noise_dim, rng)``: first the discriminator step's, then, after D has moved, the
    generator step's. D's parameter gradient is that of the loss over the real and the fake batch.

    Args:
        D, G: discriminator and generator (``Sequential``, in training mode).
        D_solver, G_solver: optimisers over D's and G's parameters (:func:`get_solver`).
        real: (N, 784) real images in [-1, 1].
        discriminator_loss, generator_loss: loss functions returning the loss and input gradients.
        rng: ``np.random.Generator`` for the noise.
    Returns:
        (d_loss, g_loss) floats.
    Raises:
        TrainingDivergedError: when D's scores are NaN/Inf (the caller adds the iteration).
    """
    n, d = real.shape[0], noise_dim_of("gan_step", G)
    # BEGIN SOLUTION
    with nn.no_grad():  # nothing flows back into G in this step: keep none of its caches
        fake = G.forward(sample_noise(n, d, rng))
    # One pass over real and fake together: D has no batch-dependent layer, so its parameter gradient
    # is the sum of the two halves' gradients, as for two separate passes.
    scores = _finite_scores("D's scores on real and fake images", D.forward(np.concatenate([real, fake])))
    d_loss, dreal, dfake = discriminator_loss(scores[:n], scores[n:])
    D.backward(np.concatenate([dreal, dfake]), input_grad=False)  # images are data here: no dx
    D_solver.step()

    fake = G.forward(sample_noise(n, d, rng))
    D.requires_grad_(False)
    try:
        g_loss, dfake = generator_loss(_finite_scores("D's scores on fake images", D.forward(fake)))
        G.backward(D.backward(dfake))
    finally:
        D.requires_grad_(True)
    G_solver.step()
    # END SOLUTION
    return d_loss, g_loss


def load_gan_images(split="train", seed=0):
    """MNIST sample images as (N, 784) float32 rows in [-1, 1] (``npnet.data.mnist.load_mnist``)."""
    from ..data.mnist import load_mnist

    X, _ = load_mnist(split, flatten=True, seed=seed)
    return 2 * X - 1


def save_sample_grid(images, path, title=None):
    """Write up to 16 images of (N, 784) in [-1, 1] as a 4x4 grid PNG (atomically); returns the Path
    (a ``npnet.display.FigurePath``, shown as the grid in a notebook; ``path=None``: the picture only)."""
    from matplotlib.figure import Figure

    from ..display import figure_output

    images = _check_images("save_sample_grid", "images", images)[:16]
    fig = Figure(figsize=(4, 4.4 if title else 4), dpi=80)
    for i, img in enumerate(images):
        ax = fig.add_subplot(4, 4, i + 1)
        ax.imshow(img.reshape(28, 28), cmap="gray", vmin=-1, vmax=1)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.9 if title else 0.98, wspace=0.05, hspace=0.05)
    return figure_output(fig, path)


def run_a_gan(D, G, D_solver, G_solver, discriminator_loss, generator_loss, show_every=250, batch_size=128,
              noise_size=96, num_epochs=10, seed=None, callback=None, images=None, num_iters=None, out_dir=None,
              progress=True, generate_plots=True):
    """Train a GAN with alternating updates (:func:`gan_step`), as the course's ``run_a_gan``.

    Each epoch visits ``images`` in a new random order in batches of ``batch_size`` (a last, smaller
    batch is dropped, as in the course). Every ``show_every`` iterations (and after the last) 16
    samples from a fixed noise batch are kept and, with ``out_dir``, saved as ``out_dir/iter_XXXXX.png``.

    Args:
        D, G: discriminator and generator; G's noise width must be ``noise_size``.
        D_solver, G_solver: :func:`get_solver` optimisers of D and G.
        discriminator_loss, generator_loss: e.g. :func:`discriminator_loss`, :func:`generator_loss`.
        show_every: iterations between sample grids (>= 1).
        batch_size: real images per step (>= 1, at most the number of images).
        noise_size: noise width.
        num_epochs: passes over the images.
        seed: seeds the batch order and the noise.
        callback: ``callback(iteration, D, G, d_loss, g_loss)`` after every step.
        images: (N, 784) or (N, 1, 28, 28) real images in [-1, 1]; default the MNIST sample's train split.
        num_iters: stop after this many steps even if epochs remain (None: all epochs).
        out_dir: folder for the sample grids (None: keep them in memory only).
        progress: show a tqdm progress bar (a notebook widget in Jupyter when ipywidgets is installed).
        generate_plots: in a Jupyter kernel, display each sample grid under the cell as it is made (the
            course's plots every ``show_every`` iterations); outside a kernel nothing is drawn.
    Returns:
        dict with ``d_loss``, ``g_loss`` (one float per iteration) and ``samples`` (iteration ->
        (16, 784) images).
    Raises:
        TrainingDivergedError: a NaN/Inf score or loss; the message names the iteration.
    """
    fn = "run_a_gan"
    show_every = _check.positive_int(fn, "show_every", show_every)
    batch_size = _check.positive_int(fn, "batch_size", batch_size)
    noise_size = _check.positive_int(fn, "noise_size", noise_size)
    num_epochs = _check.positive_int(fn, "num_epochs", num_epochs)
    generate_plots = _check.boolean(fn, "generate_plots", generate_plots)
    if num_iters is not None:
        num_iters = _check.positive_int(fn, "num_iters", num_iters)
    if callback is not None and not callable(callback):
        raise NpnetTypeError(f"{fn}: callback must be callable or None; got {type(callback).__name__}")
    if noise_dim_of(fn, G) != noise_size:
        raise NpnetValueError(f"{fn}: noise_size {noise_size} does not match the generator's noise_dim "
                              f"{noise_dim_of(fn, G)}")
    images = load_gan_images() if images is None else _check_images(fn, "images", images)
    if batch_size > len(images):
        raise NpnetValueError(f"{fn}: batch_size {batch_size} is larger than the {len(images)} images")
    rng = _seed(fn, seed)
    fixed_noise = sample_noise(16, noise_size, rng)
    per_epoch = len(images) // batch_size
    total = per_epoch * num_epochs if num_iters is None else min(num_iters, per_epoch * num_epochs)
    out_dir = None if out_dir is None else Path(out_dir)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    history = {"d_loss": [], "g_loss": [], "samples": {}}

    def keep_samples(it):
        G.eval()  # batch norm's running statistics, so a sample does not depend on its batch
        history["samples"][it] = G.forward(fixed_noise)
        G.train()
        path = None if out_dir is None else out_dir / f"iter_{it:05d}.png"
        live = generate_plots and in_notebook()
        if path is not None or live:
            grid = save_sample_grid(history["samples"][it], path, title=f"iteration {it}")
            if live:
                show(grid)

    D.train()
    G.train()
    bar = tqdm(total=total, desc=fn, disable=not progress)
    it = 0
    while it < total:
        for b in range(per_epoch):
            if it == total:
                break
            if b == 0:
                order = rng.permutation(len(images))
            real = images[order[b * batch_size:(b + 1) * batch_size]]
            try:
                d_loss, g_loss = gan_step(D, G, D_solver, G_solver, real, discriminator_loss, generator_loss, rng)
                _finite_scores("the losses", np.array([d_loss, g_loss]))
            except TrainingDivergedError as err:
                raise TrainingDivergedError(f"{fn}: training diverged at iteration {it}: {err}") from None
            history["d_loss"].append(d_loss)
            history["g_loss"].append(g_loss)
            if it % show_every == 0:
                keep_samples(it)
                bar.set_postfix(D=f"{d_loss:.3f}", G=f"{g_loss:.3f}")
            if callback is not None:
                callback(it, D, G, d_loss, g_loss)
            it += 1
            bar.update()
    bar.close()
    if it - 1 not in history["samples"]:
        keep_samples(it - 1)
    return history


def score_samples(images, classifier, threshold=0.9):
    """How recognisable generated digits are to an MNIST classifier (the "judge").

    Args:
        images: (N, 784) or (N, 1, 28, 28) samples in [-1, 1].
        classifier: ``classifier(x) -> (N, 10)`` class scores (logits) for ``x`` (N, 1, 28, 28) in [0, 1].
        threshold: a sample counts as confident when its top softmax probability is >= this.
    Returns:
        dict with ``confident`` (fraction of samples at or above the threshold), ``histogram`` (10 counts
        of the top label over all samples), ``confident_histogram`` (the same over confident samples),
        ``min_digit_share`` (smallest share of any digit among all samples) and ``labels`` (N,).
    """
    fn = "score_samples"
    x = _check_images(fn, "images", images)
    if not callable(classifier):
        raise NpnetTypeError(f"{fn}: classifier must be callable; got {type(classifier).__name__}")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 < threshold <= 1:
        raise NpnetValueError(f"{fn}: threshold must be a probability in (0, 1]; got {threshold!r}")
    scores = _check.float_array(fn, "classifier output", classifier((x.reshape(-1, 1, 28, 28) + 1) / 2), ndim=2)
    _check.shape(fn, "classifier output", scores, (len(x), 10))
    _check.finite(fn, "classifier output", scores)
    shifted = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = probs.argmax(axis=1)
    sure = probs.max(axis=1) >= threshold
    histogram = np.bincount(labels, minlength=10)
    return {"confident": float(sure.mean()), "histogram": histogram,
            "confident_histogram": np.bincount(labels[sure], minlength=10),
            "min_digit_share": float(histogram.min() / len(x)), "labels": labels}


def _not_digits(n, rng, digits):
    """``n`` images that are not digits, for the judge to stay unsure on: a third uniform noise, a third
    blurred noise (blobs), a third real digits with their pixels shuffled (the right ink, no shape)."""
    from scipy.ndimage import gaussian_filter

    k = n // 3
    blobs = gaussian_filter(rng.random((k, 28, 28)), sigma=(0, 2, 2))
    blobs = (blobs - blobs.min(axis=(1, 2), keepdims=True)) / np.ptp(blobs, axis=(1, 2), keepdims=True)
    shuffled = rng.permuted(digits[rng.integers(len(digits), size=n - 2 * k)], axis=1)
    return np.concatenate([rng.random((k, IMAGE_DIM)), blobs.reshape(k, IMAGE_DIM), shuffled]).astype(np.float32)


def outlier_exposed_judge(epochs=15, seed=0, progress=False):
    """An MNIST classifier that is unsure of non-digits, to judge generated samples with.

    A 784-512-256-10 MLP (ReLU, dropout 0.2, Adam 1e-3) trained on the MNIST sample's train split
    (4,000 images in [0, 1]) with outlier exposure (Hendrycks et al. 2019, "Deep Anomaly Detection with
    Outlier Exposure"): each batch of 100 digits comes with 50 non-digits (:func:`_not_digits`) whose
    target is the uniform distribution. A plain classifier is often sure of noise: the training issue's
    :class:`npnet.models.classifiers.MnistJudge` (97.5% held-out accuracy) labels 100% of uniform-noise
    images and 73% of blobs / shuffled digits with confidence >= 0.9, which would count garbage as digits;
    this one labels none of them so, and 90% of real held-out digits (held-out accuracy about 0.94).
    Returned in eval mode with ``judge.accuracy`` set; ``judge(x)`` gives logits for (N, 1, 28, 28) in [0, 1].
    """
    from ..data.mnist import load_mnist
    from ..layers import softmax_loss

    fn = "outlier_exposed_judge"
    epochs = _check.positive_int(fn, "epochs", epochs)
    rng = _seed(fn, seed)
    X, y = load_mnist("train", flatten=True)
    Xt, yt = load_mnist("test", flatten=True)
    net = nn.Sequential(nn.Flatten(), nn.Linear(IMAGE_DIM, 512, rng=rng), nn.ReLU(), nn.Dropout(0.2, seed=1),
                        nn.Linear(512, 256, rng=rng), nn.ReLU(), nn.Dropout(0.2, seed=2), nn.Linear(256, 10, rng=rng))
    opt = Optimizer(net, "adam", {"learning_rate": 1e-3})
    net.train()
    for _ in tqdm(range(epochs), desc=fn, disable=not progress):
        order = rng.permutation(len(X))
        for b in range(0, len(X), 100):
            idx = order[b:b + 100]
            scores = net.forward(np.concatenate([X[idx], _not_digits(50, rng, X)]))
            n = len(idx)
            _, ddigits = softmax_loss(scores[:n], y[idx])
            # cross-entropy to the uniform distribution: gradient (softmax - 1/10) per non-digit
            probs = np.exp(scores[n:] - scores[n:].max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            net.backward(np.concatenate([ddigits, (probs - 0.1) / len(probs)]))
            opt.step()
    net.eval()
    net.accuracy = float((net.forward(Xt).argmax(axis=1) == yt).mean())
    return net
