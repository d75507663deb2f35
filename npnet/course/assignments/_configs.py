"""Items graded over several named configurations, with partial credit per configuration.

An :class:`~npnet.course.manifest.Item` stores every graded output under a part name. An item built
here runs each of its :class:`Config` s in turn and names each output ``"<part> [<configuration>]"``
(``"dx [stride 1, pad 0, 2x3 kernel, 5x6 input]"``), so a part scores on its own and the grader's
feedback names the configuration that failed. A configuration's inputs are stored under
``c<k>.<name>`` (``.npz`` member names), drawn one configuration after the other from the item's rng.

A configuration that raises costs only its own parts: the others still run, and the first error is
raised again at the end so that the grader reports it for every part that was not computed.
"""
from dataclasses import dataclass, field
from typing import Callable

from npnet.course.manifest import Item


@dataclass(frozen=True)
class Config:
    """One configuration of an item.

    Attributes:
        label: what distinguishes it ("stride 2, pad 1, 3x3 kernel, 5x5 input"), shown in the feedback.
        inputs: ``inputs(rng) -> {name: array or number}``.
        run: ``run(inputs, out)``, as :attr:`Item.run`.
        points: ``{part: points}`` of the parts ``run`` stores.
        upstream: ``{part: input name}``, as :attr:`Item.upstream`.
        factors: ``factors(inputs) -> {value: words}``, as :attr:`Item.factors` (values may also be
            :class:`npnet.course.diagnose.Term` s).
    """
    label: str
    inputs: Callable
    run: Callable
    points: dict
    upstream: dict = field(default_factory=dict)
    factors: Callable = None


def part_name(part, config):
    return f"{part} [{config.label}]"


def _prefix(k):
    return f"c{k}."


def _own(inputs, k):
    """The inputs of configuration ``k`` under their own names."""
    p = _prefix(k)
    return {name[len(p):]: v for name, v in inputs.items() if name.startswith(p)}


def configured(name, configs, functions, batch=None, **options):
    """An :class:`Item` called ``name`` running ``configs`` (a sequence of :class:`Config`).

    ``batch``: the input (of the first configuration) whose first axis is the batch size; keep N the
    same in every configuration so the "1/N" diagnoses hold for all of them. ``options`` go to
    :class:`Item` (``rtol``, ``visibility``).
    """
    labels = [c.label for c in configs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"item {name}: two configurations share a label")

    def inputs(rng):
        merged = {}
        for k, c in enumerate(configs):
            merged.update({_prefix(k) + key: v for key, v in c.inputs(rng).items()})
        return merged

    def run(inputs, out):
        first = None
        for k, c in enumerate(configs):
            own = {}
            try:
                c.run(_own(inputs, k), own)
            except Exception as err:  # the student's code: this configuration's missing parts report it
                first = first or err
            finally:
                out.update({part_name(part, c): v for part, v in own.items()})
        if first is not None:
            raise first

    def factors(inputs):
        named = {}
        for k, c in enumerate(configs):
            if c.factors:
                named.update(c.factors(_own(inputs, k)))
        return named

    points = {part_name(p, c): v for c in configs for p, v in c.points.items()}
    upstream = {part_name(p, c): _prefix(k) + key for k, c in enumerate(configs) for p, key in c.upstream.items()}
    return Item(name, points, inputs, run, tuple(functions), batch=None if batch is None else _prefix(0) + batch,
                upstream=upstream, factors=factors if any(c.factors for c in configs) else None, **options)
