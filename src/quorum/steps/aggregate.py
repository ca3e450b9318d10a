"""The built-in aggregators: consensus, vote, average, merge, collect.

Each takes the answers (successful :class:`AgentResponse` objects, in arrival order) and the step's
``key=value`` parameters, and returns the step's result mapping.

``consensus`` and ``vote`` count positions: one per agent, its **final** one (its last answer), so that an
agent heard in every round of a ``rounds: N`` debate counts once, and an agent that changed its mind counts
with its last stance. ``positions=all`` counts every answer instead (each round's statement as a vote).

- ``consensus`` (``weight=confidence|equal``, ``field=stance``, ``min=0.5``): each answer's stance
  counts with its confidence as weight (1.0 when it gave none, or with ``weight=equal``). The winning
  stance has the largest total weight; ties go to the stance with more answers, then to the one that was
  given first. Result: ``stance`` (= ``consensus``), ``agreement`` (winning weight / total weight),
  ``reached`` (agreement >= min), ``weights``, ``counts``, ``dissenting`` (agents whose stance differs,
  in order), ``dissent`` (for each of those ``{agent, stance, reason}``, the reason as ``vote`` gives
  it), ``confidence`` (mean confidence of the agreeing answers), ``participants``.
- ``vote`` (``field=...``; default ``recommendation`` when any answer has one, else ``stance``): the
  majority value. Tie-break, documented: among the values with the most votes, the one whose voters'
  summed confidence is highest wins; if still tied, the value that received its first vote earliest.
  Result: ``winner`` (= ``vote``), ``tally`` (value -> votes, first-seen order), ``votes``, ``tie``
  (true when the top count was shared), ``field``, ``dissenting`` (agents whose vote differs from the
  winner, in order, as ``consensus`` lists them) and ``dissent``: for each of those votes
  ``{agent, vote, reason}``, the reason being the answer's ``reason`` field, else its ``rationale``,
  else its text (whitespace folded, cut at 280 characters with "…"; None when it gave none), the way
  the committee chair records dissent. An answer without a value for the field abstained: it is not
  dissent.
- ``average`` (``fields=a,b``; default every numeric field): the mean of each numeric field over the
  answers that have it (booleans are not numbers). Result: ``averages``, ``counts``, each field's mean
  at the top level, and ``count`` (answers seen).
- ``merge``: the answers' structured data merged in arrival order (later answers win on a shared key).
- ``collect``: ``responses`` (each answer as ``{agent, text, stance, confidence, data}``) and ``count``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from quorum.agents.protocol import AgentResponse
from quorum.definition.model import Phase, StepKind

__all__ = (
    "BUILTIN_AGGREGATORS", "PRODUCES", "answer_field", "average", "collect", "computed_outputs", "consensus",
    "merge", "positions", "vote",
)


def answer_field(answer: AgentResponse, name: str) -> Any:
    """A field of an answer: its structured data first, then the response's own attribute."""
    data = answer.data
    if name in data:
        return data[name]
    if name in ("stance", "recommendation", "confidence", "rationale", "text"):
        return getattr(answer, name)
    return None


def _confidence(answer: AgentResponse) -> float | None:
    if answer.confidence is not None:
        return answer.confidence
    value = answer.data.get("confidence")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _names(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def positions(answers: Sequence[AgentResponse], parameters: Mapping[str, Any]) -> Sequence[AgentResponse]:
    """The answers that count as positions: each agent's last answer, in the order agents first spoke
    (``positions=final``, the default), or every answer (``positions=all``)."""
    mode = str(parameters.get("positions", "final"))
    if mode == "all":
        return answers
    if mode != "final":
        raise ValueError(
            f"positions={mode!r}: use positions=final (each agent's last answer) or positions=all"
        )
    last: dict[str, AgentResponse] = {}
    for answer in answers:
        last[answer.agent_id] = answer
    return list(last.values())


def consensus(answers: Sequence[AgentResponse], parameters: Mapping[str, Any]) -> Mapping[str, Any]:
    answers = positions(answers, parameters)
    field = str(parameters.get("field", "stance"))
    equal = str(parameters.get("weight", "confidence")) == "equal"
    threshold = float(parameters.get("min", 0.5))
    parts: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    voters: list[tuple[AgentResponse, str, float | None]] = []
    for answer in answers:
        stance = answer_field(answer, field)
        if stance is None:
            continue
        stance = str(stance)
        conf = _confidence(answer)
        weight = 1.0 if equal or conf is None else max(conf, 0.0)
        parts.setdefault(stance, []).append(weight)
        counts[stance] = counts.get(stance, 0) + 1
        voters.append((answer, stance, conf))
    # exactly rounded sums: the same weights whatever order the answers arrived in
    weights = {stance: math.fsum(ws) for stance, ws in parts.items()}
    if not voters:
        return {
            "stance": None, "consensus": None, "agreement": 0.0, "reached": False, "weights": {},
            "counts": {}, "dissenting": [], "dissent": [], "confidence": None, "participants": 0,
        }
    order = {s: i for i, s in enumerate(weights)}
    winner = max(weights, key=lambda s: (weights[s], counts[s], -order[s]))
    total = math.fsum(weights.values())
    agreement = weights[winner] / total if total > 0 else counts[winner] / len(voters)
    agreeing = [c for _, s, c in voters if s == winner and c is not None]
    return {
        "stance": winner,
        "consensus": winner,
        "agreement": agreement,
        "reached": agreement >= threshold,
        "weights": weights,
        "counts": counts,
        "dissenting": [answer.agent_id for answer, s, _ in voters if s != winner],
        "dissent": [{"agent": answer.agent_id, "stance": s, "reason": _reason(answer)}
                    for answer, s, _ in voters if s != winner],
        "confidence": math.fsum(agreeing) / len(agreeing) if agreeing else None,
        "participants": len(voters),
    }


def vote(answers: Sequence[AgentResponse], parameters: Mapping[str, Any]) -> Mapping[str, Any]:
    answers = positions(answers, parameters)
    field = parameters.get("field")
    if field is None:
        field = "recommendation" if any(answer_field(a, "recommendation") is not None for a in answers) else (
            "stance"
        )
    field = str(field)
    tally: dict[str, int] = {}
    confidence: dict[str, float] = {}
    cast: list[tuple[AgentResponse, str]] = []
    for answer in answers:
        value = answer_field(answer, field)
        if value is None:
            continue
        key = str(value)
        tally[key] = tally.get(key, 0) + 1
        confidence[key] = confidence.get(key, 0.0) + (_confidence(answer) or 0.0)
        cast.append((answer, key))
    if not tally:
        return {"winner": None, "vote": None, "tally": {}, "votes": 0, "tie": False, "field": field,
                "dissenting": [], "dissent": []}
    top = max(tally.values())
    leaders = [k for k, n in tally.items() if n == top]  # first-seen order
    winner = max(leaders, key=lambda k: (confidence[k], -leaders.index(k)))
    against = [(answer, key) for answer, key in cast if key != winner]
    return {
        "winner": winner,
        "vote": winner,
        "tally": tally,
        "votes": sum(tally.values()),
        "tie": len(leaders) > 1,
        "field": field,
        "dissenting": [answer.agent_id for answer, _ in against],
        "dissent": [{"agent": answer.agent_id, "vote": key, "reason": _reason(answer)}
                    for answer, key in against],
    }


_REASON_CHARS = 280
"""How much of a dissenting answer's reason ``vote`` keeps: a sentence or two, enough to say why, and
well under the 512 characters a step event keeps of a string."""


def _reason(answer: AgentResponse) -> str | None:
    """Why an agent voted as it did: its ``reason`` field, else its rationale, else its text; whitespace
    folded to single spaces and cut at ``_REASON_CHARS``. None when it gave no reason."""
    for name in ("reason", "rationale", "text"):
        value = answer_field(answer, name)
        if isinstance(value, str) and value.strip():
            text = " ".join(value.split())
            return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1].rstrip() + "…"
    return None


def average(answers: Sequence[AgentResponse], parameters: Mapping[str, Any]) -> Mapping[str, Any]:
    wanted = _names(parameters.get("fields"))
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for answer in answers:
        items: list[tuple[str, Any]]
        if wanted is None:
            items = list(answer.data.items())
            if answer.confidence is not None and "confidence" not in answer.data:
                items.append(("confidence", answer.confidence))
        else:
            items = [(name, answer_field(answer, name)) for name in wanted]
        for name, value in items:
            if isinstance(value, int | float) and not isinstance(value, bool):
                sums[name] = sums.get(name, 0.0) + float(value)
                counts[name] = counts.get(name, 0) + 1
    averages = {name: sums[name] / counts[name] for name in sums}
    result: dict[str, Any] = dict(averages)
    result.update({"averages": averages, "counts": counts, "count": len(answers)})
    return result


def merge(answers: Sequence[AgentResponse], parameters: Mapping[str, Any]) -> Mapping[str, Any]:
    merged: dict[str, Any] = {}
    for answer in answers:
        if answer.data:
            merged.update(answer.data)
        elif answer.text:
            merged.setdefault("text", answer.text)
    return merged


def collect(answers: Sequence[AgentResponse], parameters: Mapping[str, Any]) -> Mapping[str, Any]:
    return {
        "responses": [
            {
                "agent": a.agent_id,
                "text": a.text,
                "stance": answer_field(a, "stance"),
                "confidence": _confidence(a),
                "data": a.data,
            }
            for a in answers
        ],
        "count": len(answers),
    }


PRODUCES: Mapping[str, frozenset[str]] = {
    "consensus": frozenset({"stance", "consensus", "agreement", "reached", "weights", "counts", "dissenting",
                            "dissent", "confidence", "participants"}),
    "vote": frozenset({"winner", "vote", "tally", "votes", "tie", "field", "dissenting", "dissent"}),
    "average": frozenset({"averages", "counts", "count"}),
    "collect": frozenset({"responses", "count"}),
}
"""The result keys each built-in aggregator always computes (``merge``'s are the agents' own)."""


def computed_outputs(phase: Phase) -> frozenset[str]:
    """The phase's declared outputs that its built-in aggregate steps compute: no agent is asked for
    them (an aggregate's result wins over any answer's value of the same name)."""
    produced: set[str] = set()
    for step in phase.steps:
        if step.kind is StepKind.AGGREGATE:
            produced |= PRODUCES.get(step.type or "collect", frozenset())
    return frozenset(spec.name for spec in phase.outputs if spec.name in produced)


BUILTIN_AGGREGATORS: Mapping[str, Any] = {
    "consensus": consensus,
    "vote": vote,
    "average": average,
    "merge": merge,
    "collect": collect,
}
