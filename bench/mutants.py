"""Mutation report of an assignment's grader: ``python bench/mutants.py ASSIGNMENT [--json FILE] [--jobs N]
[--sample K --seed S] [--gradcheck] [--verify K]`` (see :mod:`npnet.course.mutants`)."""
import sys

from npnet.course.mutants import main

if __name__ == "__main__":
    sys.exit(main())
