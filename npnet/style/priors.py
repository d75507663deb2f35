"""The TV^beta image prior of Mahendran & Vedaldi (2015), "Understanding Deep Image Representations by
Inverting Them", section 3.2, with its gradient.

For each channel and pixel (i, j) let ``v = x[i+1, j] - x[i, j]`` and ``h = x[i, j+1] - x[i, j]``
(0 on the last row / column: the image is extended by repeating its border, so the border adds no
difference). The prior is

    R(x) = w * sum_{n, c, i, j} phi(v**2 + h**2),   phi(s) = s**(beta/2)          (beta >= 2)
                                                    phi(s) = (s + eps)**(beta/2)  (beta < 2)

With beta = 2 that is ``sum v**2 + sum h**2``, npnet's total variation ``npnet.style.losses.tv_loss``
(equal to rounding: the sums run in another order). Smaller beta penalises one large step (an edge)
less than many small ones (noise): beta = 1 is the classic isotropic total variation, which keeps
edges sharp; beta > 2 punishes spikes hardest and flattens an image into smooth blobs.

For beta < 2, phi'(s) = beta/2 * s**(beta/2 - 1) is infinite at s = 0 (the cone of ``|v|`` at 0, worse
below beta = 1) and a flat region would get an infinite or undefined gradient; as Mahendran & Vedaldi
(and their code) do, a small ``eps`` is added under the power. The default 1e-6 (normalised units
squared) rounds off differences below 1e-3, a sixteenth of one grey level (a level is 1/255/0.225 =
0.017 in normalised units), so it changes no visible edge; the gradient then stays finite (at most
``|v| (v**2 + eps)**(beta/2 - 1)``). For beta >= 2 phi is differentiable at 0 and no eps is used, so
beta = 2 is exactly the old prior.
"""
import numpy as np

from .. import _check
from ..errors import NpnetValueError

__all__ = ["tv_beta_loss", "tv_beta_loss_naive", "DEFAULT_EPS"]

DEFAULT_EPS = 1e-6


def _arguments(fn, img, tv_weight, beta, eps):
    w = _check.number(fn, "tv_weight", tv_weight, low=0)
    beta = _check.number(fn, "beta", beta, low=0, low_open=True)
    eps = _check.number(fn, "eps", eps, low=0)
    if beta < 2 and eps == 0:
        raise NpnetValueError(f"{fn}: beta < 2 needs eps > 0 (the gradient of s**(beta/2) is infinite at "
                              f"s = 0); got beta={beta}, eps=0")
    x = _check.float_array(fn, "img", img, ndim=4, layout="(N, C, H, W)")
    _check.finite(fn, "img", x)
    return x, w, beta, (eps if beta < 2 else 0.0)


def tv_beta_loss(img, tv_weight, beta=2.0, eps=DEFAULT_EPS):
    """TV^beta prior (Mahendran & Vedaldi 2015) and its gradient; vectorised.

    Args:
        img: (N, C, H, W) image (normalised network input).
        tv_weight: w, a float >= 0.
        beta: the exponent, > 0 (2: npnet's ``tv_loss``; Mahendran & Vedaldi use 1 to 2).
        eps: > 0, added to v**2 + h**2 when beta < 2 (ignored for beta >= 2); see the module docstring.
    Returns:
        loss: float.
        dimg: (N, C, H, W), in img's dtype.
    """
    x, w, beta, eps = _arguments("tv_beta_loss", img, tv_weight, beta, eps)
    # BEGIN SOLUTION
    v = np.zeros_like(x)
    h = np.zeros_like(x)
    v[:, :, :-1, :] = x[:, :, 1:, :] - x[:, :, :-1, :]
    h[:, :, :, :-1] = x[:, :, :, 1:] - x[:, :, :, :-1]
    s = v * v + h * h + x.dtype.type(eps)
    loss = w * np.sum(s ** (beta / 2) if beta != 2 else s, dtype=np.float64)
    # dR/dv = w * phi'(s) * 2v with phi'(s) = beta/2 * s**(beta/2 - 1); the factor is 2w at beta = 2
    scale = (w * beta) * s ** (beta / 2 - 1) if beta != 2 else x.dtype.type(2 * w)
    gv, gh = scale * v, scale * h
    # each difference enters with + for the later pixel and - for the earlier one
    dx = -gv - gh
    dx[:, :, 1:, :] += gv[:, :, :-1, :]
    dx[:, :, :, 1:] += gh[:, :, :, :-1]
    # END SOLUTION
    return float(loss), dx.astype(x.dtype, copy=False)


def tv_beta_loss_naive(img, tv_weight, beta=2.0, eps=DEFAULT_EPS):
    """``tv_beta_loss`` with explicit loops over pixels (the reference it is tested against; same
    arguments and result). Slow: for understanding and tests only."""
    x, w, beta, eps = _arguments("tv_beta_loss_naive", img, tv_weight, beta, eps)
    H, W = x.shape[2:]
    loss = 0.0
    dx = np.zeros_like(x)
    # BEGIN SOLUTION
    for i in range(H):
        for j in range(W):
            v = x[:, :, i + 1, j] - x[:, :, i, j] if i + 1 < H else np.zeros_like(x[:, :, i, j])
            h = x[:, :, i, j + 1] - x[:, :, i, j] if j + 1 < W else np.zeros_like(x[:, :, i, j])
            s = v * v + h * h + eps
            loss += w * np.sum(s ** (beta / 2))
            g = w * beta * s ** (beta / 2 - 1)  # dR/dv = g * v, dR/dh = g * h
            dx[:, :, i, j] -= g * (v + h)
            if i + 1 < H:
                dx[:, :, i + 1, j] += g * v
            if j + 1 < W:
                dx[:, :, i, j + 1] += g * h
    # END SOLUTION
    return float(loss), dx
