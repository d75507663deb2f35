"""``npnet course release``: a student's tree of one assignment, from the instructor's repository.

The release is a self-contained copy of the repository (the ``npnet`` and ``gradcheck`` packages,
``setup.py``, the assignment's exercise scripts with a notebook of each, its public tests) in which the
solution blocks of the assignment's functions are stubs; every other block stays filled in. Only
source files are copied (no ``__pycache__``, no git metadata), and the finished tree is scanned: a
release in which any line of a stripped block appears anywhere is refused.
"""
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import npnet
from ..errors import FileFormatError, NpnetValueError
from . import markers

# What a release copies from the repository, besides the assignment's exercises and public tests.
PACKAGES = ("npnet", "gradcheck")
PACKAGE_FILES = ("*.py", "*.json")
TOP_FILES = ("setup.py", "pyproject.toml", ".gitignore")
INFO_FILE = "course.json"
# A stripped line shorter than this (spaces removed) says too little to leak an answer: "else:", "dx = 0".
MIN_LEAK_CHARS = 10


def source_root(fn="npnet course"):
    """The instructor's repository: the folder holding the ``npnet`` package, ``setup.py`` and ``exercises/``."""
    root = Path(npnet.__file__).resolve().parents[1]
    if not (root / "setup.py").is_file() or not (root / "exercises").is_dir():
        raise NpnetValueError(f"{fn}: needs npnet's source repository (setup.py and exercises/ beside the npnet "
                              f"package, i.e. an editable install 'pip install -e .'); found none at {root}")
    return root


def package_files(root):
    """The source files of the packages a release copies, relative to ``root``."""
    for package in PACKAGES:
        for pattern in PACKAGE_FILES:
            for path in sorted((root / package).rglob(pattern)):
                if "__pycache__" not in path.parts:
                    yield path.relative_to(root)


def _normal(line):
    return " ".join(line.split())


def notebook_from_script(text, name):
    """A notebook (nbformat v4, no outputs) from a percent-format script: ``# %%`` starts a code cell,
    ``# %% [markdown]`` a markdown cell whose lines lose their leading ``# ``."""
    import nbformat
    cells, kind, lines = [], None, []

    def flush():
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif kind == "code" and body.strip():
            cells.append(nbformat.v4.new_code_cell(body))

    for line in text.split("\n"):
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind == "markdown":
            lines.append(re.sub(r"^# ?", "", line))
        elif kind is not None:
            lines.append(line)
    flush()
    if not cells:
        raise FileFormatError(f"notebook_from_script: {name} has no '# %%' cells")
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name.replace('_', '-')}-{i}"
    nbformat.validate(nb)
    return nbformat.writes(nb)


def _student_readme(a):
    todo = "\n".join(f"- `{path}`: " + ", ".join(f"`{f}`" for f in funcs) for path, funcs in a.strip.items())
    checks = " ".join(a.gradcheck)
    exercises = ", ".join(f"`exercises/{e}.py` / `exercises/{e}.ipynb`" for e in a.exercises) or "none"
    return f"""# {a.title}

Fill in every block marked `# TODO` (between `# BEGIN SOLUTION` and `# END SOLUTION`) in:

{todo}

Each stub raises `NotImplementedError` until you replace it; keep the function signatures.

    python -m pip install -e .          # once, in a virtual environment
    python -m gradcheck {checks}        # gradient checks: 'todo' until implemented
    python -m pytest -q                 # the public tests

Exercises: {exercises} (run the script, or open the notebook).

To hand in: `npnet course collect` writes `submission.zip` with exactly the files above and warns
about any block still unimplemented.
"""


def strip_tree(a, root, dest):
    """Copy the repository's packages from ``root`` into ``dest`` with ``a``'s blocks stripped.

    Every file's markers are validated. Returns ``[(block, body lines)]`` of the stripped blocks.
    """
    wanted = {path: set(funcs) for path, funcs in a.strip.items()}
    stripped = []
    for rel in package_files(root):
        text = (root / rel).read_text(encoding="utf-8")
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        key = rel.as_posix()
        if rel.suffix == ".py" and rel.parts[:2] != ("npnet", "course"):
            if key in wanted:
                text, done = markers.strip(text, key, wanted[key])
                stripped += done
                missing = wanted[key] - {b.function for b, _ in done}
                if missing:
                    raise NpnetValueError(f"release {a.name}: {key} has no solution block in "
                                          f"{', '.join(sorted(missing))} (check the manifest)")
            else:
                markers.find_blocks(text, key)
        if text == (root / rel).read_text(encoding="utf-8"):
            shutil.copy2(root / rel, target)  # keeps the timestamp: Numba's cache of kernels.py stays valid
        else:
            target.write_text(text, encoding="utf-8")
    absent = sorted(set(wanted) - {p.as_posix() for p in package_files(root)})
    if absent:
        raise NpnetValueError(f"release {a.name}: the manifest strips {', '.join(absent)}, which do not exist")
    return stripped


def public_lines(root, a):
    """Lines a release may contain whatever was stripped: those outside every solution block."""
    seen = set()
    for rel in package_files(root):
        lines = (root / rel).read_text(encoding="utf-8").split("\n")
        inside = set()
        if rel.suffix == ".py" and rel.parts[:2] != ("npnet", "course"):
            for b in markers.find_blocks("\n".join(lines), rel):
                inside.update(range(b.begin, b.end + 1))
        seen.update(_normal(line) for i, line in enumerate(lines) if i not in inside)
    return seen


def secret_lines(stripped, public):
    """The normalised lines of the stripped blocks that would give something away."""
    secrets = set()
    for _, body in stripped:
        if any(markers.STUB_SIGNATURE in line for line in body):
            continue  # already a stub (a release of a release): nothing to give away
        for line in body:
            n = _normal(line)
            # A compound statement's header ("for n in range(N):", "else:") gives nothing away.
            if len(n.replace(" ", "")) >= MIN_LEAK_CHARS and not n.endswith(":"):
                secrets.add(n)
    # Text the public code already contains (a call spelled like a signature) gives nothing away either.
    return {s for s in secrets if s not in public and not any(s in p for p in public)}


def _text_of(path):
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return "\n".join("".join(c.get("source", "")) for c in nb.get("cells", []))
    return path.read_bytes().decode("utf-8", errors="replace")


def find_leaks(tree, secrets):
    """``[(file, line number, secret)]`` for every secret line found in any file of ``tree``."""
    found = []
    for path in sorted(p for p in Path(tree).rglob("*") if p.is_file()):
        for i, line in enumerate(_text_of(path).split("\n"), 1):
            n = _normal(line)
            for s in secrets:
                if s in n:
                    found.append((path.relative_to(tree).as_posix(), i, s))
    return found


def build_release(a, dest, root=None):
    """Write ``a``'s student tree into the new folder ``dest``; returns the stripped blocks."""
    root = Path(root) if root else source_root()
    dest = Path(dest)
    stripped = strip_tree(a, root, dest)
    for name in TOP_FILES:
        if (root / name).is_file():
            shutil.copyfile(root / name, dest / name)
    (dest / "exercises").mkdir(exist_ok=True)
    for ex in a.exercises:
        script = root / "exercises" / f"{ex}.py"
        if not script.is_file():
            raise NpnetValueError(f"release {a.name}: exercise script {script} does not exist")
        # the student gets each inline question with an empty answer cell (markers.strip_answers)
        text = markers.strip_answers(script.read_text(encoding="utf-8"), f"exercises/{script.name}")
        (dest / "exercises" / script.name).write_text(text, encoding="utf-8")
        (dest / "exercises" / f"{ex}.ipynb").write_text(notebook_from_script(text, ex), encoding="utf-8")
    tests = dest / "tests"
    tests.mkdir(exist_ok=True)
    for name in ("conftest.py",) + tuple(a.public_tests):
        if not (root / "tests" / name).is_file():
            raise NpnetValueError(f"release {a.name}: public test {root / 'tests' / name} does not exist")
        shutil.copyfile(root / "tests" / name, tests / name)
    (dest / "README.md").write_text(_student_readme(a), encoding="utf-8")
    info = {"assignment": a.name, "title": a.title, "submit": list(a.submit)}
    (dest / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    leaks = find_leaks(dest, secret_lines(stripped, public_lines(root, a)))
    if leaks:
        shown = "; ".join(f"{f}:{n}: {s!r}" for f, n, s in leaks[:5])
        raise NpnetValueError(f"release {a.name}: {len(leaks)} line(s) of stripped solutions would ship: {shown}")
    return stripped


def release(a, out, root=None):
    """Write the release of assignment ``a`` to ``out`` (which must not exist, or be an empty folder).

    The tree is built in a temporary folder beside ``out`` and moved into place only when complete,
    so a failed release leaves nothing behind. Returns the number of stripped blocks.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NpnetValueError(f"npnet course release: --out {out} exists and is not an empty folder; "
                              f"a release never overwrites files")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        stripped = build_release(a, tmp, root)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return len(stripped)
