"""``python -m gradcheck [family ...]``: check every registered gradient and print a table.

A check whose code raises ``NotImplementedError`` (a stub of a student release) is reported as
``todo``; one that raises anything else as ``error`` with the exception, and the others still run.
The last line reads "N of M implemented, K pass". Exits with status 1 if any implemented check fails
or errors, 2 if a name is unknown; ``todo`` alone does not fail the run.
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


if __name__ == "__main__":
    sys.exit(main())
