"""Optimising images through SqueezeNet: neural style transfer and its relatives.

* ``npnet.style.losses``: content, Gram/style and total-variation losses, each returning
  ``(loss, gradient)`` (naive loop versions beside the vectorised ones);
* ``npnet.style.transfer``: ``style_transfer`` (with the course's ``PRESETS``), ``feature_inversion``,
  ``texture_synthesis`` and multi-style blending (a list of style images);
* ``npnet.style.dream``: ``deep_dream`` with octaves;
* ``npnet.style.figures``: the PNG figures; ``npnet.style.commands``: the CLI verbs.
"""
from .dream import DreamResult, deep_dream
from .losses import (content_loss, gram_matrix, gram_matrix_backward, gram_matrix_naive, style_loss, tv_loss,
                     tv_loss_naive)
from .transfer import (PRESETS, StyleObjective, StyleResult, feature_inversion, features_backward,
                       style_transfer, texture_synthesis)

__all__ = ["content_loss", "gram_matrix", "gram_matrix_naive", "gram_matrix_backward", "style_loss", "tv_loss",
           "tv_loss_naive", "PRESETS", "StyleResult", "StyleObjective", "features_backward", "style_transfer",
           "feature_inversion", "texture_synthesis", "DreamResult", "deep_dream"]
