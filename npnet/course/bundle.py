"""Student-side ``collect`` and the instructor's Gradescope autograder bundle."""
import json
import shlex
import zipfile
from pathlib import Path

from ..data.lookup import atomic_output
from ..errors import NpnetValueError
from . import markers
from .release import INFO_FILE


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
/autograder/venv/bin/pip install -q /autograder/source/{wheel}
# The children that run student code drop to this user; the reference values stay root's.
id -u npnet-grader > /dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin npnet-grader
chown root:root /autograder/source/{references}
chmod 600 /autograder/source/{references}
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission; the student's files are in /autograder/submission.
cd /autograder/source
exec /autograder/venv/bin/python -m npnet course grade {assignment} /autograder/submission --one \\
    --references /autograder/source/{references} --json /autograder/results/results.json{options}
"""

REFERENCES = "references.npz"


def build_wheel(tree, out, fn="npnet course gradescope"):
    """Build the wheel of the npnet tree ``tree`` (a release) into the folder ``out``; returns its path."""
    import subprocess
    import sys
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                          str(out), str(tree)], capture_output=True, text=True, timeout=900)
    wheels = sorted(Path(out).glob("npnet-*.whl"))
    if run.returncode != 0 or len(wheels) != 1:
        raise NpnetValueError(f"{fn}: building the wheel of the release failed: {run.stderr.strip()[-800:]}")
    return wheels[0]


def gradescope_bundle(a, out, options=(), seed=None, ship=(), strip=()):
    """Write Gradescope's autograder zip for ``a``: ``setup.sh``, ``run_autograder``, a wheel of the release
    of ``a`` (no solution of ``a`` or of a later assignment), which ``setup.sh`` installs, and the
    reference outputs, computed now by the instructor's code for the public seed and the grading
    ``seed`` (random if None), stored with their inputs in a file that ``setup.sh`` makes readable by
    root only. ``options`` are extra ``grade`` flags (e.g. ``["--no-print"]``). Returns the number of files."""
    import secrets
    import shutil
    import tempfile

    from .grade import PUBLIC_SEED, compute_references, draw_inputs, write_references
    from .release import build_release
    seed = secrets.randbelow(2 ** 31) if seed is None else seed
    work = Path(tempfile.mkdtemp(prefix="npnet-gradescope-"))
    try:
        build_release(a, work / "release", ship=ship, strip=strip)
        wheel = build_wheel(work / "release", work / "wheel")
        inputs = draw_inputs(a, {"public": PUBLIC_SEED, "grading": seed})
        references, modules = compute_references(a, inputs, work / "private")
        write_references(work / REFERENCES, inputs, references, modules)
        extra = "".join(f" {shlex.quote(o)}" for o in options)
        scripts = {"setup.sh": SETUP_SH.format(wheel=wheel.name, references=REFERENCES),
                   "run_autograder": RUN_AUTOGRADER.format(assignment=a.name, options=extra, references=REFERENCES)}
        with atomic_output(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text in scripts.items():
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o100755 << 16  # executable, as Gradescope requires
                zf.writestr(info, text)
            info = zipfile.ZipInfo(REFERENCES)
            info.external_attr = 0o100600 << 16
            zf.writestr(info, (work / REFERENCES).read_bytes())
            zf.write(wheel, wheel.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 4


def gradebook(results, fn="npnet course gradebook"):
    """Rows ``[student, item scores..., total, max]`` (and the header) from Gradescope results: each
    element of ``results`` is ``(label, document)`` where a document is one ``results.json`` or the list
    a folder grade writes (its entries name their submission)."""
    rows, items = [], []
    for label, doc in results:
        entries = doc if isinstance(doc, list) else [doc]
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("tests"), list):
                raise NpnetValueError(f"{fn}: {label} is not a results.json written by npnet course grade")
            scores = {}
            for test in entry["tests"]:
                scores[test["name"]] = test["score"]
                if test["name"] not in items:
                    items.append(test["name"])
            rows.append((entry.get("submission", label), scores, entry["score"], entry["max_score"]))
    header = ["student"] + items + ["total", "max"]
    return [header] + [[name] + [scores.get(i, "") for i in items] + [total, top]
                       for name, scores, total, top in rows]
