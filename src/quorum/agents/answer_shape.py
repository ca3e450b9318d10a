"""What one agent's answer holds: the outputs it owns, and the values an output allows.

A phase declares every output it promises, but not every output is any one agent's to give: in a phase
of five analysts each owns its own report, and ``consensus``, ``agreement`` or ``dissenting`` are
computed by an ``aggregate:`` step from their answers. An agent file says which outputs are its own
(``outputs: [technical]``); an agent is then asked for those of the phase's outputs it owns, and never
for the others. An agent file that says nothing is offered the phase's outputs as optional keys: it
fills what its role produces and is never made to invent the rest.

Allowed values are read from an output's description, written as the whole description or as its end
after a colon, in the form ``A, B or C`` (two or more words of letters, digits, ``_``, ``.`` and ``-``)::

    - decision (string): APPROVE, APPROVE_WITH_CONDITIONS, REJECT or DEFER
    - agents (list): the analysts to ask, in order: market-technician, risk-monitor or macro-strategist

A ``string`` (or untyped) output must then be one of them; each item of a ``list`` output must be.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from quorum.definition.model import OutputSpec

__all__ = ("STANDARD_NAMES", "AnswerShape", "answer_shape", "choices_of", "describe_choices")

STANDARD_NAMES: frozenset[str] = frozenset({"stance", "recommendation", "confidence", "rationale"})
"""Every JSON answer holds these; an output of the same name is answered by them."""

_WORD = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
_CHOICES = re.compile(rf"(?:^|:)\s*({_WORD}(?:\s*,\s*{_WORD})*\s*,?\s+or\s+{_WORD})$")
_SPLIT = re.compile(r"\s*,\s*(?:or\s+)?|\s+or\s+")
_CHOICE_TYPES = frozenset({"string", "list", None})


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerShape:
    """The keys of one agent's answer beyond the standard fields."""

    required: tuple[OutputSpec, ...] = ()
    """The outputs the agent owns: each must be present (null where its data is missing)."""
    optional: tuple[OutputSpec, ...] = ()
    """Offered, not required: the phase's outputs, for an agent that declares none of its own."""


def answer_shape(outputs: Sequence[OutputSpec], owned: Sequence[str] | None) -> AnswerShape:
    """The shape of an agent's answer in a phase declaring ``outputs``, for an agent owning ``owned``
    (``None``: the agent file declares no outputs). The standard fields are never listed here."""
    own = tuple(spec for spec in outputs if spec.name not in STANDARD_NAMES)
    if owned is None:
        return AnswerShape(optional=own)
    names = frozenset(owned)
    return AnswerShape(required=tuple(spec for spec in own if spec.name in names))


def choices_of(spec: OutputSpec) -> tuple[str, ...] | None:
    """The values ``spec`` allows (for a list, each item), or None when its description names none."""
    if spec.type not in _CHOICE_TYPES or not spec.description:
        return None
    return _parse_choices(spec.description)


@functools.lru_cache(maxsize=512)
def _parse_choices(description: str) -> tuple[str, ...] | None:
    found = _CHOICES.search(description.strip().removesuffix(".").rstrip())  # a closing full stop
    if found is None:
        return None
    values = tuple(dict.fromkeys(v for v in _SPLIT.split(found.group(1).strip()) if v))
    return values if len(values) >= 2 else None


def describe_choices(values: Sequence[str]) -> str:
    """``"A", "B" or "C"`` (how the prompt and the errors name allowed values)."""
    quoted = [f'"{v}"' for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
