"""``npnet course release | collect | grade | gradescope | gradebook``: the course loop on the command line.

Registered as the verb ``course`` in ``npnet/cli.py``; each action is a subparser here. Paths and
numbers are checked before any release is built or any submission graded.
"""
import json
from pathlib import Path

from .. import _check
from ..data.lookup import atomic_output
from ..errors import NpnetValueError
from . import manifest


def course_args(p):
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = sub.add_parser("release", help="write a student tree with the assignment's solutions stubbed out")
    r.add_argument("assignment", help=f"one of: {', '.join(manifest.names())}")
    r.add_argument("-o", "--out", help="folder to create (default ./<assignment>-release)")
    c = sub.add_parser("collect", help="student: zip the files to hand in, warn about unfinished functions")
    c.add_argument("root", nargs="?", default=".", help="the student tree (default: the current folder)")
    c.add_argument("-o", "--out", default="submission.zip", help="zip to write (default ./submission.zip)")
    g = sub.add_parser("grade", help="grade submissions (a student tree, its zip, or a folder of them)")
    g.add_argument("assignment", help=f"one of: {', '.join(manifest.names())}")
    g.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                   help="student tree or zip; a folder holding several is graded submission by submission")
    g.add_argument("--json", metavar="PATH", help="write Gradescope's results.json (one submission) or a JSON "
                                                   "list of results (several)")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    g.add_argument("--no-print", action="store_true", help="an item whose code prints anything scores 0")
    g.add_argument("--timeout", type=float, default=60, help="seconds per item subprocess (default 60)")
    g.add_argument("--memory", type=int, default=4096, help="MiB of address space per subprocess (default 4096)")
    g.add_argument("--isolation", choices=("item", "submission"), default="item",
                   help="one subprocess per item (default) or per submission, falling back to per item")
    g.add_argument("-o", "--out", help="also write the points tables and the summary to this text file")
    g.add_argument("--one", action="store_true", help="SUBMISSION is one upload, whatever it holds (Gradescope)")
    g.add_argument("--seed", type=int, help="grading seed: the inputs students never see (default: a random one)")
    g.add_argument("--references", metavar="FILE", help="grade with the reference values of a Gradescope "
                                                        "bundle (no solution source needed)")
    g.add_argument("--visibility", action="append", default=[], metavar="[ITEM=]WHEN",
                   help="Gradescope visibility of one item or of all: visible, after_due_date, "
                        "after_published, hidden (default: the manifest's)")
    s = sub.add_parser("gradescope", help="write the Gradescope autograder zip (setup.sh + run_autograder)")
    s.add_argument("assignment", help=f"one of: {', '.join(manifest.names())}")
    s.add_argument("-o", "--out", default="autograder.zip", help="zip to write (default ./autograder.zip)")
    s.add_argument("--no-print", action="store_true", help="grade with --no-print")
    s.add_argument("--seed", type=int, help="your secret grading seed (default: a random one, never stored)")
    s.add_argument("--visibility", action="append", default=[], metavar="[ITEM=]WHEN",
                   help="as for grade; written into run_autograder")
    b = sub.add_parser("gradebook", help="one CSV row per student from results.json files")
    b.add_argument("results", nargs="+", metavar="RESULTS", help="results.json files (or folders holding them)")
    b.add_argument("--csv", required=True, metavar="PATH", help="the CSV file to write")
    for q in (r, g, s):
        q.add_argument("--ship", action="append", default=[], metavar="B",
                       help="ship assignment B's solutions filled in (default: only the prerequisites'); repeatable")
        q.add_argument("--strip", action="append", default=[], metavar="B",
                       help="stub assignment B's blocks even if it is a prerequisite; repeatable")
    for q in (r, c, g, s, b):
        q.add_argument("--quiet", action="store_true", help="print only errors and warnings")


def course(args):
    """The course loop: release an assignment, collect a student's work, grade it, export to Gradescope."""
    return {"release": _release, "collect": _collect, "grade": _grade, "gradescope": _gradescope,
            "gradebook": _gradebook}[args.action](args)


def _say(args, *text):
    if not args.quiet:
        print(*text)


def _release(args):
    from .release import release
    a = manifest.load(args.assignment, "npnet course release")
    out = Path(args.out or f"{a.name}-release")
    n = release(a, out, ship=args.ship, strip=args.strip)
    _say(args, f"{out}: {a.title}; {n} solution blocks stubbed in {', '.join(a.submit)}")
    return 0


def _collect(args):
    import sys

    from .bundle import collect
    files, warnings = collect(args.root, args.out)
    for w in warnings:
        print(f"npnet course collect: warning: {w}", file=sys.stderr)
    _say(args, f"{args.out}: {len(files)} file(s): {', '.join(files)}")
    return 0


def _submissions(a, paths, one=False):
    """Expand a folder of submissions (one without the assignment's files) into its entries, unless
    ``one``; returns ``(submissions, skipped)``, ``skipped`` naming each entry left out and why."""
    out, skipped = [], []
    names = {p.split("/")[-1] for p in a.submit}
    for p in map(Path, paths):
        if not p.exists():
            raise NpnetValueError(f"npnet course grade: no such submission: {p}")
        if one or not p.is_dir() or any(e.name in names for e in p.iterdir()) or \
                any((p / f).is_file() for f in a.submit):
            out.append(p)
            continue
        entries = sorted(p.iterdir())
        subs = [e for e in entries if e.is_dir() or e.suffix == ".zip"]
        if len(subs) == 1 and len(entries) == 1:
            out.append(p)  # a tree or a zip inside one folder: one submission
            continue
        if not subs:
            raise NpnetValueError(f"npnet course grade: {p} holds neither the assignment's files "
                                  f"({', '.join(a.submit)}) nor submissions (zips or folders)")
        out += subs
        skipped += [f"{e}: not a folder or a .zip" for e in entries if e not in subs]
    return out, skipped


def _visibility(fn, values, a=None):
    """``{item or '*': when}`` from ``[ITEM=]WHEN`` options."""
    out = {}
    for value in values:
        item, _, when = value.rpartition("=")
        if when not in manifest.VISIBILITIES:
            raise NpnetValueError(f"{fn}: --visibility must be [ITEM=]WHEN with WHEN one of "
                                  f"{', '.join(manifest.VISIBILITIES)}; got {value!r}")
        if a is not None and item and item not in {i.name for i in a.items}:
            raise NpnetValueError(f"{fn}: --visibility names no item of {a.name}: {item!r}")
        out[item or "*"] = when
    return out


def _grade(args):
    from .grade import grade_many
    fn = "npnet course grade"
    a = manifest.load(args.assignment, fn)
    jobs = _check.positive_int(fn, "--jobs", args.jobs)
    if not args.timeout > 0:
        raise NpnetValueError(f"{fn}: --timeout must be a positive number of seconds; got {args.timeout}")
    _check.positive_int(fn, "--memory", args.memory)
    if args.seed is not None:
        _check.nonnegative_int(fn, "--seed", args.seed)
    visibility = _visibility(fn, args.visibility, a)
    if args.references and not Path(args.references).is_file():
        raise NpnetValueError(f"{fn}: --references {args.references} is not a file")
    try:
        subs, skipped = _submissions(a, args.submissions, args.one)
        results = grade_many(a, subs, jobs=jobs, seed=args.seed, timeout=args.timeout, memory_mb=args.memory,
                             no_print=args.no_print, isolation=args.isolation, references=args.references,
                             ship=args.ship, strip=args.strip)
    except Exception as err:
        if args.json and len(args.submissions) == 1:  # Gradescope must always get a score and a reason
            _write_json(args.json, _failed_results(a, err))
        raise
    tables = "\n\n".join(r.table() for r in results)
    summary = [f"skipped {s}" for s in skipped]
    if len(results) > 1:
        summary = [f"{r.submission}: {r.score:g} / {r.max_score:g}" for r in results] + summary
    report = tables + ("\n\n" + "\n".join(summary) if summary else "")
    _say(args, report)
    if args.out:
        with atomic_output(args.out) as tmp:
            tmp.write_text(report + "\n", encoding="utf-8")
    if args.json:
        doc = results[0].gradescope(visibility) if len(results) == 1 else \
            [{"submission": r.submission, **r.gradescope(visibility)} for r in results]
        _write_json(args.json, doc)
    return 0


def _failed_results(a, err):
    """A results.json for a grader failure: every item 0, the reason in the output."""
    return {"score": 0.0, "max_score": a.max_score, "visibility": "visible", "stdout_visibility": "hidden",
            "output": f"The autograder could not grade this submission: {err}",
            "tests": [{"name": i.name, "score": 0.0, "max_score": i.max_score, "status": "failed",
                       "output": "not graded (see the message above)", "visibility": "visible"} for i in a.items]}


def _write_json(path, doc):
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def _gradescope(args):
    from .bundle import gradescope_bundle
    fn = "npnet course gradescope"
    a = manifest.load(args.assignment, fn)
    if Path(args.out).suffix != ".zip":
        raise NpnetValueError(f"{fn}: --out must name a .zip file; got {args.out}")
    if args.seed is not None:
        _check.nonnegative_int(fn, "--seed", args.seed)
    _visibility(fn, args.visibility, a)
    options = (["--no-print"] if args.no_print else []) + [f"--visibility={v}" for v in args.visibility]
    n = gradescope_bundle(a, args.out, options, seed=args.seed, ship=args.ship, strip=args.strip)
    _say(args, f"{args.out}: Gradescope autograder for {a.name} ({n} files: the grading tree, which holds no "
               f"solution of {a.name}, and its reference values, readable by root only)")
    return 0


def _gradebook(args):
    import csv
    import io

    from .bundle import gradebook
    fn = "npnet course gradebook"
    docs = []
    for p in map(Path, args.results):
        files = sorted(p.rglob("*.json")) if p.is_dir() else [p]
        for f in files:
            try:
                docs.append((f.parent.name if f.name == "results.json" else f.stem,
                             json.loads(f.read_text(encoding="utf-8"))))
            except (OSError, ValueError) as err:
                raise NpnetValueError(f"{fn}: cannot read {f} ({err})") from None
    if not docs:
        raise NpnetValueError(f"{fn}: no results.json found in {', '.join(args.results)}")
    rows = gradebook(docs, fn)
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    with atomic_output(args.csv) as tmp:
        tmp.write_text(text.getvalue(), encoding="utf-8")
    _say(args, f"{args.csv}: {len(rows) - 1} student(s), {len(rows[0]) - 3} item(s)")
    return 0
