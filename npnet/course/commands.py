"""``npnet course release | collect | grade | gradescope``: the course loop on the command line.

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
    g.add_argument("-o", "--out", help="also write the points tables to this text file")
    s = sub.add_parser("gradescope", help="write the Gradescope autograder zip (setup.sh + run_autograder)")
    s.add_argument("assignment", help=f"one of: {', '.join(manifest.names())}")
    s.add_argument("-o", "--out", default="autograder.zip", help="zip to write (default ./autograder.zip)")
    s.add_argument("--no-print", action="store_true", help="grade with --no-print")
    for q in (r, c, g, s):
        q.add_argument("--seed", type=int, default=1, help="grading seed (grade; ignored elsewhere; default 1)")
        q.add_argument("--quiet", action="store_true", help="print only errors and warnings")


def course(args):
    """The course loop: release an assignment, collect a student's work, grade it, export to Gradescope."""
    return {"release": _release, "collect": _collect, "grade": _grade, "gradescope": _gradescope}[args.action](args)


def _say(args, *text):
    if not args.quiet:
        print(*text)


def _release(args):
    from .release import release
    a = manifest.load(args.assignment, "npnet course release")
    out = Path(args.out or f"{a.name}-release")
    n = release(a, out)
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


def _submissions(a, paths):
    """Expand a folder of submissions (one without the assignment's files) into its entries."""
    out = []
    for p in map(Path, paths):
        if not p.exists():
            raise NpnetValueError(f"npnet course grade: no such submission: {p}")
        entries = sorted(e for e in p.iterdir() if e.is_dir() or e.suffix == ".zip") if p.is_dir() else []
        if p.is_dir() and not any((p / f).is_file() for f in a.submit) and len(entries) != 1:
            if not entries:
                raise NpnetValueError(f"npnet course grade: {p} holds neither the assignment's files "
                                      f"({', '.join(a.submit)}) nor submissions (zips or folders)")
            out += entries
        else:
            out.append(p)
    return out


def _grade(args):
    from .grade import grade_many
    a = manifest.load(args.assignment, "npnet course grade")
    jobs = _check.positive_int("npnet course grade", "--jobs", args.jobs)
    if not args.timeout > 0:
        raise NpnetValueError(f"npnet course grade: --timeout must be a positive number of seconds; got {args.timeout}")
    _check.positive_int("npnet course grade", "--memory", args.memory)
    _check.nonnegative_int("npnet course grade", "--seed", args.seed)
    subs = _submissions(a, args.submissions)
    results = grade_many(a, subs, jobs=jobs, seed=args.seed, timeout=args.timeout, memory_mb=args.memory,
                         no_print=args.no_print, isolation=args.isolation)
    tables = "\n\n".join(r.table() for r in results)
    _say(args, tables)
    if len(results) > 1:
        _say(args, "\n" + "\n".join(f"{r.submission}: {r.score:g} / {r.max_score:g}" for r in results))
    if args.out:
        with atomic_output(args.out) as tmp:
            tmp.write_text(tables + "\n", encoding="utf-8")
    if args.json:
        doc = results[0].gradescope() if len(results) == 1 else \
            [{"submission": r.submission, **r.gradescope()} for r in results]
        with atomic_output(args.json) as tmp:
            tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0


def _gradescope(args):
    from .bundle import gradescope_bundle
    a = manifest.load(args.assignment, "npnet course gradescope")
    if Path(args.out).suffix != ".zip":
        raise NpnetValueError(f"npnet course gradescope: --out must name a .zip file; got {args.out}")
    options = ["--no-print"] if args.no_print else []
    n = gradescope_bundle(a, args.out, options + ["--seed", str(args.seed)])
    _say(args, f"{args.out}: Gradescope autograder for {a.name} ({n} files; it holds the solutions: keep it private)")
    return 0
