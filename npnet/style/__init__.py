"""Optimising images through SqueezeNet: neural style transfer and its relatives.

* ``npnet.style.losses``: content, Gram/style and total-variation losses, each returning
  ``(loss, gradient)`` (naive loop versions beside the vectorised ones);
* ``npnet.style.transfer``: ``style_transfer`` (with the course's ``PRESETS``), ``feature_inversion``,
  ``texture_synthesis`` and multi-style blending (a list of style images);
* ``npnet.style.dream``: ``deep_dream`` with octaves;
* ``npnet.style.priors``: Mahendran & Vedaldi's TV^beta image prior (``tv_beta_loss``, naive loop beside it);
* ``npnet.style.efros_leung``: Efros & Leung's non-parametric texture synthesis and its window matching;
* ``npnet.style.fast``: fast (feed-forward) style transfer: ``train_fast_style``, ``stylize`` and checkpoints;
* ``npnet.style.figures``: the PNG figures; ``npnet.style.commands``: the CLI verbs.
"""
from .dream import DreamResult, deep_dream
from .efros_leung import efros_leung, gaussian_window, match_candidates, window_distances, window_distances_naive
from .fast import (FastStyleResult, content_photos, fast_style_losses, load_fast_style, loss_figure, random_crops,
                   save_fast_style, style_mix, stylize, train_fast_style)
from .losses import (content_loss, gram_matrix, gram_matrix_backward, gram_matrix_naive, style_loss, tv_loss,
                     tv_loss_naive)
from .priors import tv_beta_loss, tv_beta_loss_naive
from .transfer import (PRESETS, StyleObjective, StyleResult, feature_inversion, features_backward,
                       style_transfer, texture_synthesis)

__all__ = ["content_loss", "gram_matrix", "gram_matrix_naive", "gram_matrix_backward", "style_loss", "tv_loss",
           "tv_loss_naive", "PRESETS", "StyleResult", "StyleObjective", "features_backward", "style_transfer",
           "feature_inversion", "texture_synthesis", "DreamResult", "deep_dream", "tv_beta_loss", "tv_beta_loss_naive",
           "gaussian_window", "window_distances", "window_distances_naive", "match_candidates", "efros_leung",
           "FastStyleResult", "content_photos", "random_crops", "train_fast_style", "stylize", "style_mix",
           "save_fast_style", "load_fast_style", "fast_style_losses", "loss_figure"]
