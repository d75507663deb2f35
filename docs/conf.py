"""Sphinx configuration of npnet's API reference (built by tests/test_docs.py with warnings as errors).

Build it by hand with ``python -m sphinx -W --keep-going -n docs docs/_build/html`` (needs the
``docs`` extra: ``pip install -e ".[docs]"``).
"""
import importlib
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # gradcheck/ and npnet/ from this checkout, even without an install

import npnet  # noqa: E402

project = "npnet"
author = "the npnet developers"
version = release = npnet.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Every cross-reference must resolve: a broken one is a warning, and the build treats warnings as
# errors. Names from other libraries cannot resolve offline (no intersphinx), so only those are exempt.
nitpicky = True
nitpick_ignore_regex = [(r"py:.*", r"(numpy|np|scipy|matplotlib|PIL|h5py|pooch|tqdm|nbformat|pathlib|os|io"
                                   r"|collections|contextlib|argparse|typing|types|zipfile)(\..*)?")]

# every public name a module defines, listed in its __all__ or not (a package's page lists its modules)
autodoc_default_options = {"members": True, "member-order": "bysource", "ignore-module-all": True}
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # "Attributes:" as fields: a NamedTuple's fields are not described twice

myst_heading_anchors = 3  # the README's [links](#data-and-weights) resolve on the start page

html_theme = "alabaster"
html_title = f"npnet {release}"

# npnet's docstrings name what they return ("out: (N, M) ...", as CS231n's layers do), so Returns is read
# like Args; Raises is prose ("ValueError: if ..., TypeError: for ..."), shown as written.
napoleon_custom_sections = [("Returns", "params_style"), ("Yields", "params_style"), "Raises"]


def _lookup(dotted):
    """The object a dotted name denotes (module, then attributes), or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            return None
        return obj
    return None


def _documented_name(obj):
    if hasattr(obj, "__qualname__") and hasattr(obj, "__module__"):
        return f"{obj.__module__}.{obj.__qualname__}"
    return getattr(obj, "__name__", None)  # a module


def resolve_where_defined(app, env, node, contnode):
    """A reference to an object by a name other than the one it is documented under still links: the
    public path (``npnet.layers.conv_forward`` for ``npnet.layers.conv.conv_forward``), a name imported
    into the module (``conv_forward`` inside ``npnet.layers.sandwich``), an inherited method, a sibling
    module (``child`` inside ``npnet.course``). An object that exists but has no entry (a constant, a
    private helper, a command-line module) is shown unlinked. A name that denotes nothing stays a
    broken reference, which fails the build."""
    if node.get("refdomain") != "py":
        return None
    target, module, cls = node["reftarget"], node.get("py:module"), node.get("py:class")
    scopes = [f"{module}.{cls}" if module and cls else None, module, ""]
    exists = False
    for scope in filter(lambda s: s is not None, scopes):
        obj = _lookup(f"{scope}.{target}" if scope else target)
        if obj is None:
            continue
        exists = True
        real = _documented_name(obj)
        if real and real != target:
            found = env.domains["py"].resolve_xref(env, node["refdoc"], app.builder, node["reftype"], real,
                                                   node, contnode)
            if found is not None:
                return found
    return contnode if exists else None


# Modules no page lists: command-line verbs (their --help is their documentation), gradcheck's case
# definitions, and the course's assignment definitions.
UNLISTED = ("commands", "gan_commands", "__main__", "cases_", "assignments")


def submodules(package):
    """The public submodules of ``package`` (a dotted name), in alphabetical order."""
    path = importlib.import_module(package).__path__
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules(path)
            if not m.name.startswith("_") and not m.name.startswith(UNLISTED)]


def expand_module_lists(app, docname, source):
    """``.. npnet-modules:: PACKAGE`` in a page becomes one section per public submodule, so a module
    added to a package is documented (and its docstrings checked) without editing the page."""
    out = []
    for line in source[0].splitlines():
        if line.startswith(".. npnet-modules:: "):
            for name in submodules(line.split("::", 1)[1].strip()):
                out += [name, "-" * len(name), "", f".. automodule:: {name}", ""]
        else:
            out.append(line)
    source[0] = "\n".join(out) + "\n"


def setup(app):
    app.connect("missing-reference", resolve_where_defined)
    app.connect("source-read", expand_module_lists)
