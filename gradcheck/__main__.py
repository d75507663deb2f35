"""``python -m gradcheck [family ...]``: check every registered gradient and print a table.

A check whose code raises ``NotImplementedError`` (a stub of a student release) is reported as
``todo``; one that raises anything else as ``error`` with the exception, and the others still run.
The last line reads "N of M implemented, K pass". Exits with status 1 if any implemented check fails
or errors, 2 if a name is unknown; ``todo`` alone does not fail the run.

In a student release (a ``course.json`` beside the ``gradcheck`` package) the default is the checks of
that release's assignment; ``--all`` runs every check.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from .registry import run_check, select


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gradcheck", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="check families or names (default: all), e.g. conv relu")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--all", action="store_true", help="every check, not only this release's assignment's")
    args = parser.parse_args(argv)
    names = args.names
    release = _release_info()
    if not names and not args.all and release:
        names = release["gradcheck"]
        print(f"assignment {release['assignment']}: its checks only (python -m gradcheck --all runs every check)")
    try:
        checks = select(names)
    except KeyError as err:
        print(err.args[0], file=sys.stderr)
        return 2
    width = max(len(c.name) for c in checks)
    print(f"{'name':<{width}} | max rel error | threshold | ok")
    print(f"{'-' * width}-+---------------+-----------+----")
    todo = passed = 0
    start = time.perf_counter()
    for check in checks:
        try:
            err = run_check(check, seed=args.seed)
        except NotImplementedError as exc:
            todo += 1
            print(f"{check.name:<{width}} | {'':13} | {check.threshold:9.0e} | todo  ({exc})", flush=True)
            continue
        except Exception as exc:  # a student's half-written layer: report it, keep checking the others
            print(f"{check.name:<{width}} | {'':13} | {check.threshold:9.0e} | error ({type(exc).__name__}: "
                  f"{str(exc)[:120]})", flush=True)
            continue
        ok = err <= check.threshold
        passed += ok
        print(f"{check.name:<{width}} | {err:13.3e} | {check.threshold:9.0e} | {'ok' if ok else 'FAIL'}", flush=True)
    implemented = len(checks) - todo
    print(f"{implemented} of {len(checks)} implemented, {passed} pass ({time.perf_counter() - start:.1f} s)")
    return 1 if passed < implemented else 0


def _release_info():
    """The ``course.json`` of the student release this ``gradcheck`` belongs to, or None."""
    path = Path(__file__).resolve().parents[1] / "course.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return info if isinstance(info.get("gradcheck"), list) and info["gradcheck"] else None
    except (OSError, ValueError, AttributeError):
        return None


if __name__ == "__main__":
    sys.exit(main())
