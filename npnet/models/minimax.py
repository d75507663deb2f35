"""The GAN notebook's inline question on min_x max_y xy: alternating gradient steps orbit the equilibrium.

The handout's question: start at (x, y) = (1, 1) and take alternating gradient steps with step size 1,
"first updating y, then updating x using that updated y"; y ascends f(x, y) = xy (df/dy = x) and x
descends it (df/dx = y). Six steps bring the pair back to (1, 1): the iterates cycle around the
equilibrium (0, 0) instead of converging to it.
"""
import numbers

import numpy as np

from .. import _check
from ..errors import NpnetTypeError

__all__ = ["alternating_minimax", "minimax_table"]


def alternating_minimax(x0=1.0, y0=1.0, steps=6, step_size=1.0):
    """Alternating gradient steps on ``min_x max_y x*y``: y ascends first, then x descends using the new y.

    Args:
        x0, y0: the starting point (numbers).
        steps: how many (y, x) update pairs to take, >= 1.
        step_size: the learning rate of both players.
    Returns:
        (ys, xs): float64 arrays (steps + 1,), ``ys[0] = y0``, ``xs[0] = x0``.
    """
    fn = "alternating_minimax"
    for name, value in (("x0", x0), ("y0", y0), ("step_size", step_size)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise NpnetTypeError(f"{fn}: {name} must be a number; got {value!r}")
    steps = _check.positive_int(fn, "steps", steps)
    ys, xs = np.empty(steps + 1), np.empty(steps + 1)
    ys[0], xs[0] = y0, x0
    for t in range(steps):
        # BEGIN SOLUTION
        ys[t + 1] = ys[t] + step_size * xs[t]  # ascent on xy: df/dy = x
        xs[t + 1] = xs[t] - step_size * ys[t + 1]  # descent on xy with the updated y: df/dx = y
        # END SOLUTION
    return ys, xs


def minimax_table(ys, xs):
    """The handout's answer layout: a markdown table of y_0..y_T above one of x_0..x_T."""
    ys, xs = np.asarray(ys), np.asarray(xs)
    if ys.ndim != 1 or ys.shape != xs.shape:
        raise NpnetTypeError(f"minimax_table: ys and xs must be 1-D arrays of one length; got shapes {ys.shape} "
                             f"and {xs.shape}")
    blocks = []
    for name, values in (("y", ys), ("x", xs)):
        header = " | ".join(f"${name}_{t}$" for t in range(len(values)))
        rule = " | ".join("-----" for _ in values)
        row = " | ".join(f"{v:^5g}" for v in values)
        blocks.append("\n".join((header, rule, row)))
    return "\n\n".join(blocks)
