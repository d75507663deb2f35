"""Time ``npnet course grade``: one complete ``layers`` submission, then a class of them in parallel.

    python bench/bench_course.py [--class-size 50] [--jobs 2] [--isolation item]

1. Grader setup: the release it grades against, the Numba cache, the reference outputs.
2. One complete submission (the instructor's own files), one subprocess per item (the default).
3. ``--class-size`` copies of it (half of them with a planted mistake, so the feedback paths run too)
   graded ``--jobs`` at a time, as ``npnet course grade layers CLASS_FOLDER --jobs 2`` does
   (``--class-size 0`` skips this).

One submission is graded ``--repeat`` times; each prints its wall time and the CPU time (user + sys) of
the grader and of its subprocesses, which a loaded machine does not inflate as it does the wall time.
Target (issue 22): under 10 s for one submission on 2 cores. Everything is printed; nothing is asserted.
"""
import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from npnet.course import manifest
from npnet.course.grade import Grader
from npnet.course.release import source_root


def make_class(folder, a, size):
    root = source_root()
    for k in range(size):
        for path in a.submit:
            text = (root / path).read_text()
            if k % 2 and path.endswith("affine.py"):
                text = text.replace("    db = dout.sum(axis=0)", "    db = dout.mean(axis=0)")
            target = folder / f"student{k:03d}" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    return sorted(folder.iterdir())


def _cpu():
    """User + system CPU seconds of this process and of its finished subprocesses."""
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--class-size", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--isolation", choices=("item", "submission"), default="item")
    parser.add_argument("--repeat", type=int, default=3, help="grade the one submission this many times (3)")
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    a = manifest.load("layers")
    print(f"layers: {len(a.items)} items, {a.max_score:g} points, {os.cpu_count()} CPUs, isolation={args.isolation}")

    start = time.perf_counter()
    with Grader(a, isolation=args.isolation) as grader:
        print(f"grader setup (release, Numba cache, references): {time.perf_counter() - start:6.1f} s")
        for _ in range(args.repeat):
            before = _cpu()
            result = grader.grade(source_root())
            print(f"one complete submission:                          {result.seconds:6.1f} s wall  "
                  f"{_cpu() - before:5.2f} s CPU  ({result.score:g}/{result.max_score:g})")
        if args.class_size < 1:
            return

        from concurrent.futures import ThreadPoolExecutor
        tmp = Path(tempfile.mkdtemp(prefix="npnet-bench-course-"))
        try:
            subs = make_class(tmp, a, args.class_size)
            start = time.perf_counter()
            with ThreadPoolExecutor(args.jobs) as pool:
                results = list(pool.map(grader.grade, subs))
            wall = time.perf_counter() - start
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    scores = sorted({r.score for r in results})
    print(f"{len(results)} submissions, --jobs {args.jobs}:                  {wall:6.1f} s  "
          f"({wall / len(results):.2f} s per submission; scores seen: {scores})")


if __name__ == "__main__":
    main()
