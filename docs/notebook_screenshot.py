"""Make docs/notebook_cell.png, the README's picture of a notebook cell: the saliency cell of
exercises/network_visualization, run in a headless Jupyter kernel (nbclient) with the quick settings,
drawn as a notebook shows it: the cell's code, then the figure it displayed under it.

    NPNET_WEIGHTS=... NPNET_DATA=... python docs/notebook_screenshot.py [out.png]

Needs the SqueezeNet weights and the ImageNet sample, and nbclient + ipykernel (the test extra).
"""
import base64
import io
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELL_TITLE = "## Saliency maps"  # the markdown cell just above the cell to draw
MAX_BYTES = 200_000


def run_until(nb, index, folder):
    """Execute cells 0..index of ``nb`` in a fresh kernel (quick settings, figures into ``folder``)."""
    import nbclient

    os.environ.update(NPNET_EXERCISE_QUICK="1", NPNET_FIGURES=str(folder),
                      MPLBACKEND="module://matplotlib_inline.backend_inline")
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells[:index + 1]):
            client.execute_cell(cell, i)


def draw_cell(source, png, width_px=720, gutter_px=70):
    """The cell as a notebook draws it: ``In [2]:`` and the code on grey, the displayed PNG below at
    its own size (a palette PNG, to keep the file small)."""
    from matplotlib.figure import Figure
    from PIL import Image

    picture = Image.open(io.BytesIO(png)).convert("RGB")
    line_px, pad = 14, 10
    code_px = line_px * len(source.split("\n")) + 2 * pad
    total_w, total_h = gutter_px + width_px + pad, code_px + picture.height + 3 * pad
    fig = Figure(figsize=(total_w / 100, total_h / 100), dpi=100)

    def box(x, y, w, h):  # an axes placed in pixels from the top left
        return fig.add_axes([x / total_w, 1 - (y + h) / total_h, w / total_w, h / total_h])

    code = box(gutter_px, pad, width_px, code_px)
    code.set_facecolor("#f5f5f5")
    code.set_xticks([])
    code.set_yticks([])
    for spine in code.spines.values():
        spine.set_color("#cfcfcf")
    code.text(6 / width_px, 1 - pad / code_px, source, va="top", ha="left", family="monospace", fontsize=7.5,
              transform=code.transAxes)
    fig.text(6 / total_w, 1 - (pad + 12) / total_h, "In [2]:", color="#303f9f", family="monospace", fontsize=7.5)
    out = box(gutter_px, code_px + 2 * pad, picture.width, picture.height)
    out.imshow(picture, interpolation="none")
    out.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, facecolor="white")
    return Image.open(buffer).convert("RGB").quantize(colors=256, method=Image.MEDIANCUT)


def main(out):
    import nbformat

    from npnet.course.release import notebook_from_script

    script = ROOT / "exercises" / "network_visualization.py"
    nb = nbformat.reads(notebook_from_script(script.read_text(encoding="utf-8"), script.stem), as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith(CELL_TITLE)) + 1
    with tempfile.TemporaryDirectory() as folder:
        run_until(nb, index, folder)
    cell = nb.cells[index]
    png = next(base64.b64decode(o["data"]["image/png"]) for o in cell.outputs if "image/png" in o.get("data", {}))
    image = draw_cell(cell.source, png)
    image.save(out, optimize=True)
    size = Path(out).stat().st_size
    print(f"{out}: {image.width}x{image.height} px, {size / 1000:.0f} kB")
    if size > MAX_BYTES:
        raise SystemExit(f"{out} is larger than {MAX_BYTES // 1000} kB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "notebook_cell.png")
