"""Student-side ``collect`` and the instructor's Gradescope autograder bundle."""
import json
import shlex
import zipfile
from pathlib import Path

from ..data.lookup import atomic_output
from ..errors import NpnetValueError
from . import markers
from .release import INFO_FILE, TOP_FILES, package_files, source_root

SOURCE_DIR = "npnet-src"  # where the bundle's copy of the instructor's repository sits


def read_info(root, fn="npnet course collect"):
    """The ``course.json`` a release wrote at its root: ``{'assignment', 'title', 'submit'}``."""
    path = Path(root) / INFO_FILE
    if not path.is_file():
        raise NpnetValueError(f"{fn}: {Path(root).resolve()} is not a student release (no {INFO_FILE}); run it "
                              f"in the folder that 'npnet course release' wrote, or pass that folder")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        submit = [str(p) for p in info["submit"]]
    except (ValueError, KeyError, TypeError) as err:
        raise NpnetValueError(f"{fn}: {path} is damaged ({err}); take it from the release again") from None
    for p in submit:
        if Path(p).is_absolute() or ".." in Path(p).parts:
            raise NpnetValueError(f"{fn}: {path} lists an unsafe file {p!r}")
    return {**info, "submit": submit}


def remaining_stubs(text, path):
    """Functions of source ``text`` whose solution block is still the release's stub."""
    lines = text.split("\n")
    return [b.function for b in markers.find_blocks(text, path) if markers.is_stub(b, lines)]


def collect(root, out):
    """Zip exactly the files to submit from the student tree ``root`` into ``out``.

    Returns ``(files, warnings)``; a missing file is an error, a remaining stub a warning.
    """
    root = Path(root)
    info = read_info(root)
    missing = [p for p in info["submit"] if not (root / p).is_file()]
    if missing:
        raise NpnetValueError(f"npnet course collect: missing file(s) {', '.join(missing)} in {root.resolve()}")
    warnings = []
    for p in info["submit"]:
        text = (root / p).read_text(encoding="utf-8", errors="replace")
        try:
            stubs = remaining_stubs(text, p)
        except ValueError as err:  # unbalanced markers, a syntax error: the grader will say more
            warnings.append(f"{p}: {err}")
            continue
        if stubs:
            warnings.append(f"{p}: not implemented yet: {', '.join(stubs)}")
    out = Path(out)
    if out.suffix != ".zip":
        raise NpnetValueError(f"npnet course collect: --out must name a .zip file; got {out}")
    with atomic_output(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in info["submit"]:
            zf.write(root / p, p)
    return info["submit"], warnings


SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when the autograder image is built.
set -euo pipefail
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv > /dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q -e /autograder/source/{src}
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission; the student's files are in /autograder/submission.
cd /autograder/source/{src}
exec /autograder/venv/bin/python -m npnet course grade {assignment} /autograder/submission \\
    --json /autograder/results/results.json{options}
"""


def _repository_files(root, a):
    yield from package_files(root)
    for name in TOP_FILES + ("README.md",):
        if (root / name).is_file():
            yield Path(name)
    for ex in a.exercises:
        yield Path("exercises") / f"{ex}.py"
    for t in ("conftest.py",) + tuple(a.public_tests):
        yield Path("tests") / t


def gradescope_bundle(a, out, options=(), root=None):
    """Write Gradescope's autograder zip for ``a``: ``setup.sh``, ``run_autograder`` and the instructor's
    repository (solutions included: keep the bundle private). ``options`` are extra ``grade`` flags
    (e.g. ``["--no-print"]``). Returns the number of files."""
    root = Path(root) if root else source_root("npnet course gradescope")
    files = list(_repository_files(root, a))
    extra = "".join(f" {shlex.quote(o)}" for o in options)
    with atomic_output(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in (("setup.sh", SETUP_SH.format(src=SOURCE_DIR)),
                           ("run_autograder", RUN_AUTOGRADER.format(src=SOURCE_DIR, assignment=a.name,
                                                                     options=extra))):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16  # executable, as Gradescope requires
            zf.writestr(info, text)
        for rel in files:
            zf.write(root / rel, f"{SOURCE_DIR}/{rel.as_posix()}")
    return len(files) + 2
