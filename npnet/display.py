"""Figures under the notebook cell that made them, files everywhere.

In a Jupyter kernel (Jupyter, JupyterLab, VS Code, Colab: anything running ``ipykernel``) a figure is
displayed under its cell as well as written to disk; run as a script, npnet only writes files and
never opens a window. IPython is not a dependency: it is imported only when ``sys.modules`` shows a
kernel already running, so importing npnet never imports it.

- :func:`in_notebook` says whether the code runs in a kernel that can display images.
- :class:`FigurePath` is what the figure helpers return: the ``Path`` written, which also renders as
  its picture in a notebook (``_repr_png_``) and keeps the matplotlib ``Figure`` (``.figure``).
  :class:`Picture` is the same without a file (a figure helper given ``path=None``).
- :func:`show` displays a figure, a picture or a PNG path under the cell in a kernel, and prints the
  path (what the exercises printed before) outside one.
- :func:`show_images` displays a row of images as a loop makes them (the class visualisation every
  ``show_every`` steps, style transfer's snapshots, GAN samples); outside a kernel it does nothing,
  not even draw.
"""
import io
import os
import sys
from pathlib import Path

__all__ = ["in_notebook", "Picture", "FigurePath", "figure_output", "show", "show_images"]


def in_notebook():
    """True in a running Jupyter kernel (ipykernel: Jupyter, JupyterLab, VS Code, Colab), False in a
    script or a terminal IPython. Never imports IPython: a kernel has imported it already."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    get_ipython = getattr(sys.modules["IPython"], "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    # A kernel's shell has a kernel attached; a terminal IPython's does not.
    return getattr(shell, "kernel", None) is not None


def _display(obj):
    from IPython.display import display  # only reached in a kernel, where IPython is loaded

    display(obj)


def _render_png(fig):
    """The PNG bytes of a matplotlib Figure, drawn with Agg at the figure's own dpi."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    return buffer.getvalue()


class Picture:
    """A matplotlib Figure that a notebook renders as a PNG (``_repr_png_``), with no file behind it."""

    def __init__(self, figure):
        self.figure = figure

    def _repr_png_(self):
        return _render_png(self.figure)

    def __repr__(self):
        width, height = self.figure.get_size_inches() * self.figure.dpi
        return f"<npnet Picture {width:.0f}x{height:.0f} px>"


class FigurePath(type(Path())):
    """The file a figure helper wrote: a ``pathlib.Path`` (printing it prints the path, as before)
    that a notebook shows as the picture. ``figure`` is the matplotlib Figure (None if unknown)."""

    figure = None

    @classmethod
    def of(cls, path, figure):
        """The FigurePath of ``path``, drawn as ``figure``."""
        written = cls(path)
        written.figure = figure
        return written

    def _repr_png_(self):
        if self.suffix.lower() == ".png" and self.is_file():
            return self.read_bytes()  # what was written, without drawing again
        return _render_png(self.figure) if self.figure is not None else None


def figure_output(fig, path):
    """What a figure helper returns: ``fig`` saved to ``path`` (atomically, format from the suffix) as
    a :class:`FigurePath`, or a :class:`Picture` of it when ``path`` is None (nothing written)."""
    from .image import save_figure

    if path is None:
        return Picture(fig)
    return FigurePath.of(save_figure(fig, path), fig)


def show(obj, path=None):
    """Show ``obj`` under the notebook cell, or print where it was written when run as a script.

    Args:
        obj: a matplotlib Figure (saved to ``path`` first when given), a figure helper's result
            (:class:`FigurePath` / :class:`Picture`), anything with ``_repr_png_``, or the Path of a
            PNG file.
        path: where to save a Figure; None saves nothing.
    Returns:
        None (so that ``show(...)`` as a cell's last line does not display twice).
    """
    from matplotlib.figure import Figure

    if isinstance(obj, Figure):
        obj = figure_output(obj, path)
    elif path is not None:
        from .errors import NpnetTypeError

        raise NpnetTypeError(f"show: path is only for a matplotlib Figure; got a {type(obj).__name__} with "
                             f"path {path!r}")
    if in_notebook():
        if isinstance(obj, os.PathLike) and not hasattr(obj, "_repr_png_"):
            from IPython.display import Image

            obj = Image(filename=os.fspath(obj))
        _display(obj)
    elif isinstance(obj, os.PathLike):
        print(obj)


def show_images(images, titles=None, title=None, cmap=None, height=2.5):
    """In a kernel, display ``images`` side by side under the running cell; outside one do nothing.

    Args:
        images: list of pictures: normalised (1, 3, H, W) or (3, H, W) images (``deprocess`` is applied),
            or (H, W) grey / (H, W, 3) RGB arrays shown as they are (with ``cmap`` for grey).
        titles: one string per image, or None.
        title: a title over the row.
        height: inches per image.
    """
    if not in_notebook():
        return
    import numpy as np
    from matplotlib.figure import Figure

    from .image import deprocess

    pictures = []
    for img in images:
        img = np.asarray(img)
        if img.ndim == 4 or (img.ndim == 3 and img.shape[0] == 3):
            img = deprocess(img if img.ndim == 4 else img[None])
        pictures.append(img)
    widths = [p.shape[1] / p.shape[0] for p in pictures]
    fig = Figure(figsize=(height * sum(widths) + 0.1 * len(pictures), height + (0.6 if title else 0.35)), dpi=72)
    axes = fig.subplots(1, len(pictures), squeeze=False, gridspec_kw={"width_ratios": widths})[0]
    for k, (ax, picture) in enumerate(zip(axes, pictures)):
        ax.imshow(picture, cmap=cmap)
        ax.axis("off")
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _display(Picture(fig))
