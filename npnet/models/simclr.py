"""Self-supervised contrastive learning: SimCLR (Chen, Kornblith, Norouzi & Hinton 2020, "A Simple
Framework for Contrastive Learning of Visual Representations"), the CS231n assignment's functions with
their backward pass, NumPy augmentations for MNIST, and the linear-probe evaluation.

Two random augmentations of each of N images give 2N rows ``out = [out_left; out_right]`` (the
projection head's outputs z). With the cosine similarity ``sim(u, v) = u.v / (|u| |v|)`` and a
temperature tau, the loss of row i whose positive partner is row p(i) (the other view of its image) is
the NT-Xent loss

    l(i, p(i)) = -log( exp(sim(z_i, z_p(i)) / tau) / sum_{k != i} exp(sim(z_i, z_k) / tau) )

and the batch loss is the mean of l over all 2N rows (the course's ``sum_k [l(k, k+N) + l(k+N, k)] / 2N``).

Backward. With unit rows ``u_i = z_i / |z_i|``, ``S = U U^T / tau`` and P the softmax of each row of S
over k != i, ``dS = (P - onehot(p(i))) / 2N`` (zero diagonal), ``dU = (dS + dS^T) U / tau`` and, through
the normalisation, ``dz_i = (du_i - u_i (u_i . du_i)) / |z_i|``.
"""
import numpy as np
from scipy import ndimage

from .. import _check, nn
from ..errors import NpnetValueError
from ..layers.losses import softmax_loss
from ..optim import Optimizer

__all__ = ["sim", "compute_sim_matrix", "sim_positive_pairs", "simclr_loss_naive", "simclr_loss_vectorized",
           "random_crop_resize", "random_affine", "add_noise", "augment", "make_encoder", "make_projection_head",
           "SimCLR", "extract_features", "train_linear_probe", "train_supervised"]


def _pair(fn, out_left, out_right):
    out_left = _check.float_array(fn, "out_left", out_left, ndim=2, layout="(N, D)")
    out_right = _check.float_array(fn, "out_right", out_right, ndim=2, layout="(N, D)")
    _check.shape(fn, "out_right", out_right, out_left.shape)
    for name, z in (("out_left", out_left), ("out_right", out_right)):
        _check.finite(fn, name, z)
        if not np.all(np.linalg.norm(z, axis=1) > 0):
            raise NpnetValueError(f"{fn}: every row of {name} needs a nonzero norm (the cosine similarity "
                                  f"divides by it); row {int(np.argmin(np.linalg.norm(z, axis=1)))} is all zeros")
    return out_left, out_right.astype(out_left.dtype, copy=False)


def _tau(fn, tau):
    return _check.number(fn, "tau", tau, low=0, low_open=True)


def sim(z_i, z_j):
    """Cosine similarity of two vectors, ``z_i . z_j / (|z_i| |z_j|)`` (the course's normalised dot product).

    Args:
        z_i, z_j: (D,) vectors with nonzero norms.
    Returns:
        A float in [-1, 1].
    """
    fn = "sim"
    z_i = _check.float_array(fn, "z_i", z_i, ndim=1, layout="(D,)")
    z_j = _check.float_array(fn, "z_j", z_j, ndim=1, layout="(D,)")
    _check.shape(fn, "z_j", z_j, z_i.shape)
    # BEGIN SOLUTION
    norm_dot_product = float(z_i @ z_j / (np.linalg.norm(z_i) * np.linalg.norm(z_j)))
    # END SOLUTION
    return norm_dot_product


def simclr_loss_naive(out_left, out_right, tau):
    """The SimCLR loss with explicit loops over the 2N rows (the course's naive version).

    Args:
        out_left: (N, D) projections of the first views. out_right: (N, D) of the second views, row k
            the other view of row k's image.
        tau: temperature > 0.
    Returns:
        loss: the mean over the 2N rows of ``l(i, p(i))`` (module docstring).
    """
    fn = "simclr_loss_naive"
    out_left, out_right = _pair(fn, out_left, out_right)
    tau = _tau(fn, tau)
    n = out_left.shape[0]
    out = np.concatenate([out_left, out_right])
    total = 0.0
    # BEGIN SOLUTION
    for k in range(n):
        for i, j in ((k, k + n), (k + n, k)):
            denominator = sum(np.exp(sim(out[i], out[m]) / tau) for m in range(2 * n) if m != i)
            total += -np.log(np.exp(sim(out[i], out[j]) / tau) / denominator)
    # END SOLUTION
    return total / (2 * n)


def compute_sim_matrix(out):
    """(2N, 2N) cosine similarities between all rows of ``out`` (M, D)."""
    fn = "compute_sim_matrix"
    out = _check.float_array(fn, "out", out, ndim=2, layout="(M, D)")
    # BEGIN SOLUTION
    unit = out / np.linalg.norm(out, axis=1, keepdims=True)
    sim_matrix = unit @ unit.T
    # END SOLUTION
    return sim_matrix


def sim_positive_pairs(out_left, out_right):
    """(N, 1) cosine similarity of each pair ``(out_left[k], out_right[k])``."""
    out_left, out_right = _pair("sim_positive_pairs", out_left, out_right)
    # BEGIN SOLUTION
    left = out_left / np.linalg.norm(out_left, axis=1, keepdims=True)
    right = out_right / np.linalg.norm(out_right, axis=1, keepdims=True)
    pos_pairs = (left * right).sum(axis=1, keepdims=True)
    # END SOLUTION
    return pos_pairs


def simclr_loss_vectorized(out_left, out_right, tau):
    """The SimCLR loss without loops, and its gradient (module docstring).

    Args:
        out_left, out_right: (N, D) as in :func:`simclr_loss_naive`. tau: temperature > 0.
    Returns:
        loss: scalar, equal to :func:`simclr_loss_naive`'s.
        dout_left: (N, D) and dout_right: (N, D), the gradients of the loss.
    """
    fn = "simclr_loss_vectorized"
    out_left, out_right = _pair(fn, out_left, out_right)
    tau = _tau(fn, tau)
    n = out_left.shape[0]
    out = np.concatenate([out_left, out_right])
    partner = np.concatenate([np.arange(n, 2 * n), np.arange(n)])
    rows = np.arange(2 * n)
    # BEGIN SOLUTION
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    unit = out / norms
    scores = unit @ unit.T / tau
    scores[rows, rows] = -np.inf  # k != i: a row is not its own negative
    scores -= scores.max(axis=1, keepdims=True)
    log_denominator = np.log(np.exp(scores).sum(axis=1))
    loss = float(np.mean(log_denominator - scores[rows, partner]))

    dscores = np.exp(scores - log_denominator[:, None])  # softmax over k != i (0 on the diagonal)
    dscores[rows, partner] -= 1
    dscores /= 2 * n
    dunit = (dscores + dscores.T) @ unit / tau
    dout = (dunit - unit * (unit * dunit).sum(axis=1, keepdims=True)) / norms
    # END SOLUTION
    return loss, dout[:n], dout[n:]


# --- augmentations (NumPy, for (N, 1, 28, 28) images in [0, 1]) -------------------------------------

def _images(fn, x):
    x = _check.float_array(fn, "x", x, ndim=4, layout="(N, C, H, W)")
    return x


def random_crop_resize(x, rng, scale=(0.5, 1.0)):
    """Crop a random square of ``scale`` (fraction of the area) from each image and resize it back
    (bilinear), SimCLR's main augmentation.

    Args:
        x: (N, C, H, W) images (H = W). rng: NumPy ``Generator``. scale: (low, high) area fractions.
    Returns:
        (N, C, H, W) in x's dtype.
    """
    x = _images("random_crop_resize", x)
    n, c, h, w = x.shape
    out = np.empty_like(x)
    for i in range(n):
        side = int(round(h * np.sqrt(rng.uniform(*scale))))
        top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = x[i, :, top:top + side, left:left + side]
        out[i] = ndimage.zoom(crop, (1, h / side, w / side), order=1, mode="nearest", grid_mode=True)[:, :h, :w]
    return out


def random_affine(x, rng, max_rotation=15.0, scale=(0.9, 1.1), max_shift=2.0):
    """A random rotation (degrees), zoom and shift of each image about its centre (bilinear, zero fill)."""
    x = _images("random_affine", x)
    n, c, h, w = x.shape
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    out = np.empty_like(x)
    for i in range(n):
        angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
        zoom = rng.uniform(*scale)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / zoom
        shift = rng.uniform(-max_shift, max_shift, size=2)
        # output pixel o reads input pixel rotation @ (o - centre - shift) + centre
        offset = centre - rotation @ (centre + shift)
        for ch in range(c):
            out[i, ch] = ndimage.affine_transform(x[i, ch], rotation, offset=offset, order=1, cval=0.0)
    return out


def add_noise(x, rng, std=0.1):
    """Gaussian pixel noise of standard deviation ``std``, clipped back to [0, 1]."""
    x = _images("add_noise", x)
    return np.clip(x + rng.normal(0, std, size=x.shape).astype(x.dtype), 0, 1)


def augment(x, rng):
    """One random view of each MNIST image: crop-and-resize, affine jitter, then noise."""
    return add_noise(random_affine(random_crop_resize(x, rng), rng), rng)


# --- models ------------------------------------------------------------------------------------------

def make_encoder(feature_dim=64, channels=(8, 16), dtype=np.float32, rng=None):
    """A small conv encoder for (N, 1, 28, 28) images: two conv-ReLU-pool stages of ``channels`` and a
    linear layer to ``feature_dim`` features (followed by a ReLU), the representation h the probe reads."""
    rng = np.random.default_rng(rng)
    c1, c2 = channels
    encoder = nn.Sequential(nn.Conv2d(1, c1, 3, padding=1, dtype=dtype, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(c1, c2, 3, padding=1, dtype=dtype, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(c2 * 7 * 7, feature_dim, dtype=dtype, rng=rng), nn.ReLU())
    encoder.feature_dim = feature_dim
    return encoder


def make_projection_head(feature_dim=64, projection_dim=32, dtype=np.float32, rng=None):
    """SimCLR's projection head g: h -> z, one hidden layer (the loss is computed on z, the probe uses h)."""
    rng = np.random.default_rng(rng)
    return nn.Sequential(nn.Linear(feature_dim, feature_dim, dtype=dtype, rng=rng), nn.ReLU(),
                         nn.Linear(feature_dim, projection_dim, dtype=dtype, rng=rng))


class SimCLR:
    """An encoder f and a projection head g trained with :func:`simclr_loss_vectorized` on augmented pairs."""

    def __init__(self, feature_dim=64, projection_dim=32, tau=0.5, dtype=np.float32, rng=None):
        self.rng = np.random.default_rng(rng)
        self.tau = _tau("SimCLR", tau)
        self.encoder = make_encoder(feature_dim, dtype=dtype, rng=self.rng)
        self.head = make_projection_head(feature_dim, projection_dim, dtype, self.rng)

    def step(self, x, opt_encoder, opt_head):
        """One SimCLR step on a batch ``x`` (N, 1, 28, 28): two views, the loss, backward, updates.
        Returns the loss."""
        n = x.shape[0]
        views = np.concatenate([augment(x, self.rng), augment(x, self.rng)])
        self.encoder.train(), self.head.train()
        z = self.head.forward(self.encoder.forward(views))
        loss, dleft, dright = simclr_loss_vectorized(z[:n], z[n:], self.tau)
        self.encoder.backward(self.head.backward(np.concatenate([dleft, dright])), input_grad=False)
        opt_encoder.step(), opt_head.step()
        return loss

    def fit(self, X, epochs=5, batch_size=128, learning_rate=1e-3, verbose=False):
        """Pre-train on unlabelled images ``X`` (N, 1, 28, 28); returns the loss of every step."""
        fn = "SimCLR.fit"
        X = _images(fn, X)
        epochs = _check.positive_int(fn, "epochs", epochs)
        batch_size = _check.positive_int(fn, "batch_size", batch_size)
        if batch_size < 2 or X.shape[0] < 2:
            raise NpnetValueError(f"{fn}: contrastive learning needs at least 2 images per batch; got "
                                  f"batch_size={batch_size} with {X.shape[0]} images")
        config = {"learning_rate": _check.number(fn, "learning_rate", learning_rate, low=0, low_open=True)}
        opt_encoder, opt_head = Optimizer(self.encoder, "adam", config), Optimizer(self.head, "adam", config)
        history = []
        for epoch in range(epochs):
            order = self.rng.permutation(X.shape[0])
            for start in range(0, X.shape[0] - 1, batch_size):
                batch = order[start:start + batch_size]
                if len(batch) >= 2:
                    history.append(self.step(X[batch], opt_encoder, opt_head))
            if verbose:
                print(f"epoch {epoch + 1}/{epochs}: loss {np.mean(history[-(X.shape[0] // batch_size or 1):]):.4f}")
        return history


def extract_features(encoder, X, batch_size=500):
    """The frozen encoder's features of ``X``, in batches, without caches: (N, feature_dim)."""
    encoder.eval()
    with nn.no_grad():
        return np.concatenate([encoder.forward(X[i:i + batch_size]) for i in range(0, X.shape[0], batch_size)])


def _train_classifier(forward_backward, modules, X, y, epochs, batch_size, learning_rate, rng):
    opts = [Optimizer(m, "adam", {"learning_rate": learning_rate}) for m in modules]
    for _ in range(epochs):
        order = rng.permutation(X.shape[0])
        for start in range(0, X.shape[0], batch_size):
            batch = order[start:start + batch_size]
            forward_backward(X[batch], y[batch])
            for opt in opts:
                opt.step()


def train_linear_probe(features_train, y_train, features_test, y_test, epochs=100, learning_rate=1e-2, rng=None):
    """Test accuracy of a softmax classifier trained on frozen features (standardised with the training
    set's statistics), the usual measure of a self-supervised representation."""
    fn = "train_linear_probe"
    features_train = _check.float_array(fn, "features_train", features_train, ndim=2, layout="(N, F)")
    features_test = _check.float_array(fn, "features_test", features_test, ndim=2, layout="(M, F)")
    _check.labels(fn, "y_train", y_train, features_train.shape[0], 10 ** 6)
    rng = np.random.default_rng(rng)
    mean, std = features_train.mean(axis=0), features_train.std(axis=0) + 1e-6
    train, test = (features_train - mean) / std, (features_test - mean) / std
    probe = nn.Linear(train.shape[1], int(max(y_train.max(), y_test.max())) + 1, dtype=train.dtype, rng=rng).train()

    def forward_backward(xb, yb):
        _, dscores = softmax_loss(probe.forward(xb), yb)
        probe.backward(dscores, input_grad=False)

    _train_classifier(forward_backward, [probe], train, y_train, epochs, 256, learning_rate, rng)
    return float(np.mean(probe.eval().forward(test).argmax(axis=1) == y_test))


def train_supervised(X_train, y_train, X_test, y_test, epochs=20, learning_rate=1e-3, feature_dim=64, rng=None):
    """Test accuracy of the same encoder plus a linear layer trained end to end on labelled images only."""
    rng = np.random.default_rng(rng)
    encoder = make_encoder(feature_dim, dtype=X_train.dtype, rng=rng)
    classifier = nn.Linear(feature_dim, 10, dtype=X_train.dtype, rng=rng)

    def forward_backward(xb, yb):
        encoder.train()
        _, dscores = softmax_loss(classifier.forward(encoder.forward(xb)), yb)
        encoder.backward(classifier.backward(dscores), input_grad=False)

    _train_classifier(forward_backward, [encoder, classifier], X_train, y_train, epochs, 64, learning_rate, rng)
    scores = classifier.forward(extract_features(encoder, X_test))
    return float(np.mean(scores.argmax(axis=1) == y_test))


