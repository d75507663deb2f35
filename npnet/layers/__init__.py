"""Functional layers: ``out, cache = name_forward(...)`` and ``grads = name_backward(dout, cache)``.

One file per family, each backward rule next to its forward. Everything is NCHW, computes in the
dtype of its input (float32 by default, float64 for gradient checks) and validates its arguments.
"""
from .activations import *  # noqa: F401,F403
from .affine import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .sandwich import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
