"""The mutation report (npnet.course.mutants, bench/mutants.py): its operators, its classification, and
a fixed sample of mutants per assignment, every non-equivalent one of which the grader must kill.

The full report (every mutant of every assignment) is printed by bench/mutants.py; its numbers are in
the README's "Grading completeness" section.
"""
import ast
import dataclasses

import numpy as np
import pytest

from npnet.course import manifest, mutants
from npnet.course.release import source_root

ROOT = source_root()


@pytest.fixture(scope="module")
def layers_mutants():
    return mutants.generate(manifest.load("layers"))


def _find(pairs, function, words, line_has):
    hits = [(m, t) for m, t in pairs if m.function == function and m.words == words and line_has in m.diff]
    assert len(hits) == 1, [m.diff for m, _ in hits]
    return hits[0]


def test_every_operator_family_appears_and_each_mutant_changes_one_block(layers_mutants):
    seen = {m.operator for m, _ in layers_mutants}
    assert set(mutants.OPERATORS) - {"boolop"} <= seen, set(mutants.OPERATORS) - seen
    a = manifest.load("layers")
    blocks = {(b.path, b.function): b for b in mutants.blocks(a)}
    assert {f for fs in a.strip.values() for f in fs} == {f for _, f in blocks}
    for m, text in layers_mutants[::25]:
        ast.parse(text)
        original = (ROOT / m.path).read_text().split("\n")
        b = blocks[m.path, m.function]
        new = text.split("\n")
        # everything outside the block is untouched
        assert new[:b.begin + 1] == original[:b.begin + 1]
        assert new[len(new) - (len(original) - b.end):] == original[b.end:]
    assert len({m.id for m, _ in layers_mutants}) == len(layers_mutants)


def test_operators_make_the_mutants_they_name(layers_mutants):
    m, text = _find(layers_mutants, "affine_backward", "sum -> mean", "db = dout.mean(axis=0)")
    assert "        db = dout.mean(axis=0)" in text.split("\n")
    _find(layers_mutants, "_normalize", "keepdims= removed", "mean = x.mean(axis=axis)")
    _find(layers_mutants, "relu_backward", "Gt -> GtE", "passes = x >= 0")
    _find(layers_mutants, "max_pool_backward_naive", "argmax -> max", "np.max(x[n, c, h0:h1, w0:w1])")
    _find(layers_mutants, "conv_forward_naive", "slice 2 lower bound + 1", "xp[n, :, oh * stride + 1:")
    _find(layers_mutants, "_batchnorm_backward", "statement dropped", "-    dbeta = dout.sum(axis=axes)")


def test_bench_classifies_a_mutant_as_the_grader_would(layers_mutants):
    """In-process: a mutant of affine_backward (db averaged) loses db in every configuration; with an
    item that grades only the forward it survives and the differential test tells it apart."""
    a = manifest.load("layers")
    m, text = _find(layers_mutants, "affine_backward", "sum -> mean", "db = dout.mean(axis=0)")
    func = mutants._function_object(m.path, m.function)
    weak = dataclasses.replace(a, items=(dataclasses.replace(a.item("affine"), points={
        p: 1 for p in a.item("affine").points if p.startswith("out")}),))
    benches = [mutants.Bench(a), mutants.Bench(weak)]
    for bench in benches:  # the solution's outputs first, as the worker does
        for item in bench.a.items:
            bench.inputs(item, mutants.PUBLIC_SEED)
    code = mutants._code_of(text, str(ROOT / m.path), m.function)
    original = func.__code__
    for bench in benches:
        bench.patch(func, code)
        try:
            lost = bench.graded_losses(m.function)
            gap = bench.differs(m.function, 5)
        finally:
            bench.unpatch()
        if bench.a is a:
            assert sorted(lost) == sorted(f"affine: {p}" for p in a.item("affine").points if p.startswith("db"))
        else:
            assert lost == [] and gap.startswith("seed 2: affine db")
    assert func.__code__ is original
    # the solution against itself: nothing lost, no difference
    assert benches[0].graded_losses(m.function) == [] and benches[0].differs(m.function, 3) is None


@pytest.mark.parametrize("name", manifest.names())
def test_a_sample_of_mutants_is_killed_or_equivalent(name):
    """A fixed sample of 6 mutants per assignment, graded in a worker process: each non-equivalent one
    loses points (the full run's totals are in the README; the differential test is cut to 5 input sets
    here to keep the test short)."""
    result = mutants.run(name, jobs=1, sample=6, seed=22, configs=5, public_tests=False)
    assert len(result) == 6
    for m in result:
        assert m.status in ("killed", "equivalent"), (m.status, m.function, m.diff, m.note)
        if m.status == "killed":
            assert m.lost and all(": " in part for part in m.lost)
    table = mutants.summary(result)
    assert table["total"]["mutants"] == 6 and mutants.kill_rate(table["total"]) == 1.0


def test_an_assignment_without_gradcheck_families_runs_no_check(monkeypatch):
    """problem_set names no family: no check may run (``select([])`` would pick every check of every
    assignment, and one failing elsewhere would mark its mutants "caught elsewhere")."""
    import gradcheck.registry

    def refuse(names=()):
        raise AssertionError(f"select({names!r}) was called")
    monkeypatch.setattr(gradcheck.registry, "select", refuse)
    assert mutants.gradcheck_families(manifest.load("problem_set")) == ()
    assert mutants._gradcheck_failures(()) == []
    with pytest.raises(AssertionError, match="select"):
        mutants._gradcheck_failures(("relu",))
