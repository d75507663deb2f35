"""The CLI verb ``npnet data list | fetch [NAME ...]``: what data and weights npnet knows, where it
looks for them, what is present, and downloading what has an official URL into the user cache.
"""
import os

from .. import cli_args
from ..errors import DataNotFoundError, NpnetValueError, one_line
from . import lookup

__all__ = ["data_args", "data"]


def data_args(p):
    p.add_argument("action", choices=["list", "fetch"],
                   help="list: every file and where it is; fetch: download those with an official URL")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="fetch: files (imagenet/imagenet_val_25.npz), folders (styles) or 'weights'; "
                        "default: everything downloadable")
    cli_args.add_common(p, None, "also write the listing to this text file",
                        seed_help="accepted for a uniform grammar; data uses no randomness")


def _weights_status():
    """Where the SqueezeNet 1.1 weights are and which copy: torchvision's exact file or npnet's embedded
    fp16-rounded fallback (then also where the exact file comes from)."""
    from ..weights import COPY_LABELS, weights_copy

    url = lookup.WEIGHTS_REGISTRY[lookup.DEFAULT_WEIGHTS][0]
    try:
        path = lookup.find_weights(download=False)
    except DataNotFoundError:
        return f"missing (downloadable from {url})"
    copy = weights_copy(path)
    status = f"present: {path} ({COPY_LABELS[copy]})"
    return status + (f"; the exact file is downloadable from {url}" if copy == "fp16" else "")


def _data_status(rel):
    try:
        path = lookup.find_data(rel, download=False)
        return f"present: {path}" + (" (the copy embedded in npnet)" if path == lookup.embedded_copy(rel) else "")
    except DataNotFoundError:
        return "missing (downloadable)" if rel in lookup.DATA_REGISTRY else "missing (no public URL: copy it " \
               "from the course's files into $NPNET_DATA/" + rel + ")"


def _listing():
    env = os.environ.get("NPNET_DATA") or "(not set)"
    lines = [f"data folders: NPNET_DATA={env}, then the user cache {lookup.cache_dir()}",
             f"weights: NPNET_WEIGHTS={os.environ.get('NPNET_WEIGHTS') or '(not set)'}, the repository's weights/, "
             f"{lookup.cache_dir() / 'weights'}, a download, then npnet's embedded copy",
             f"  weights/{lookup.DEFAULT_WEIGHTS}: SqueezeNet 1.1 ImageNet weights; {_weights_status()}"]
    lines += [f"  {rel}: {what}; {_data_status(rel)}" for rel, what in lookup.KNOWN_DATA.items()]
    return lines


def _selected(names):
    """The (kind, name) pairs ``fetch`` should get: 'weights' or data relpaths with an official URL."""
    downloadable = list(lookup.DATA_REGISTRY)
    if not names:
        return [("weights", lookup.DEFAULT_WEIGHTS)] + [("data", rel) for rel in downloadable]
    chosen = []
    for name in names:
        if name in ("weights", lookup.DEFAULT_WEIGHTS):
            chosen.append(("weights", lookup.DEFAULT_WEIGHTS))
            continue
        match = [rel for rel in lookup.KNOWN_DATA if rel == name or rel.startswith(name.rstrip("/") + "/")]
        if not match:
            raise NpnetValueError(f"no data file or folder {name!r}; `npnet data list` lists them")
        chosen += [("data", rel) for rel in match]
    return chosen


def data(args):
    """List the data sets and weights npnet knows and where they are, or fetch the downloadable ones."""
    from ..data.lookup import atomic_output

    out = cli_args.output_path(args.out) if args.out else None
    if args.action == "list":
        if args.names:
            raise NpnetValueError("list takes no NAME; give names to fetch")
        lines = _listing()
        print("\n".join(lines))
        if out is not None:
            with atomic_output(out) as tmp:
                tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return 0
    failed = 0
    for kind, name in _selected(args.names):
        try:
            # fetching the weights means getting torchvision's exact file: the embedded fallback is no fetch
            path = lookup.find_weights(name, embedded=False) if kind == "weights" else lookup.find_data(name)
            print(f"{name}: {path}")
        except DataNotFoundError as err:
            failed += 1
            print(f"{name}: not fetched: {one_line(err)}")
    return 1 if failed else 0
