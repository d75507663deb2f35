"""``python -m gradcheck [family ...]``: check every registered gradient and print a table.

Exits with status 1 if any check exceeds its threshold, 2 if a name is unknown.
"""
import argparse
import sys
import time

from .registry import run_check, select


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gradcheck", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="check families or names (default: all), e.g. conv relu")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    args = parser.parse_args(argv)
    try:
        checks = select(args.names)
    except KeyError as err:
        print(err.args[0], file=sys.stderr)
        return 2
    width = max(len(c.name) for c in checks)
    print(f"{'name':<{width}} | max rel error | threshold | ok")
    print(f"{'-' * width}-+---------------+-----------+----")
    failed = 0
    start = time.perf_counter()
    for check in checks:
        err = run_check(check, seed=args.seed)
        ok = err <= check.threshold
        failed += not ok
        print(f"{check.name:<{width}} | {err:13.3e} | {check.threshold:9.0e} | {'ok' if ok else 'FAIL'}", flush=True)
    print(f"{len(checks) - failed} passed, {failed} failed ({time.perf_counter() - start:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
