"""Daily market analysis, first half: the question classifier and the agent selector.

The classifier parses ``input.question`` (and ``input.tickers`` when given) with
:mod:`.daily_question`: the question type (which analysts to ask), the dimension (what the answer is
about: downside, risk, momentum, macro, sentiment, direction, general), the tickers, the horizon, the
amount and the confidence level. The selector maps type and dimension to 3-5 agents, the analyst whose
job the dimension is first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quorum.agents.builtin.context import find_artifact, input_of, money, respond
from quorum.agents.builtin.daily_question import AGENTS_BY_TYPE, classify_question
from quorum.agents.builtin.prices import parse_price_history
from quorum.agents.protocol import AgentRequest
from quorum.errors import InputValidationError

__all__ = (
    "AGENTS_BY_TYPE",
    "LEAD_AGENT",
    "agent_selector",
    "classification_of",
    "classify_question",
    "price_input_problems",
    "question_classifier",
)

LEAD_AGENT = {
    "downside": "risk-monitor",
    "risk": "risk-monitor",
    "momentum": "market-technician",
    "macro": "macro-strategist",
    "sentiment": "news-sentiment",
    "direction": "market-technician",
}
"""The analyst whose job each dimension is: it is always asked, first."""

_NEEDS = {
    "market-technician": "prices",
    "risk-monitor": "prices",
    "news-sentiment": "news",
    "macro-strategist": "macro",
}


def _given_tickers(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, Sequence):
        return []
    return [str(v).strip().upper() for v in value if str(v).strip()]


def classification_of(request: AgentRequest) -> dict[str, Any]:
    """The classifier's artifact, or the classification of ``input.question`` when there is none."""
    found = find_artifact(request, "question-classification")
    if found is not None:
        return dict(found)
    inputs = input_of(request)
    return classify_question(
        str(inputs.get("question") or request.prompt or ""), _given_tickers(inputs.get("tickers"))
    )


def price_input_problems(inputs: Mapping[str, Any]) -> list[str]:
    """Every problem of ``prices`` and ``pricesByTicker``, each naming its place (``pricesByTicker.BTC[3]``),
    so a bad row stops the run at the first phase with what to fix, not as an analyst's failure."""
    problems: list[str] = []
    entries: list[tuple[str, Any]] = []
    for field in ("prices", "pricesByTicker"):
        raw = inputs.get(field)
        if raw is None:
            continue
        if isinstance(raw, Mapping):
            entries += [(f"{field}.{key}", value) for key, value in raw.items()]
        elif field == "pricesByTicker":
            problems.append(
                f"pricesByTicker: expected a mapping of ticker to rows ({{BTC: [...], ETH: [...]}}), "
                f"got {type(raw).__name__}"
            )
        else:
            entries.append((field, raw))
    for source, value in entries:
        try:
            parse_price_history(value, source=source)
        except InputValidationError as exc:
            problems.extend(exc.problems)
    return problems


def question_classifier(request: AgentRequest) -> dict[str, Any]:
    inputs = input_of(request)
    question = str(inputs.get("question") or request.prompt or "").strip()
    result = classify_question(question, _given_tickers(inputs.get("tickers")))
    parsed = [f"tickers: {', '.join(result['tickers']) or 'none'}"]
    if result["amount"] is not None:
        parsed.append(f"amount: {money(result['amount'])} {result['currency'] or ''}".rstrip())
    if result["horizon"]:
        parsed.append(f"horizon: {result['horizon']} ({result['horizon_days']} days)")
    if result["confidence_level"]:
        parsed.append(f"level: {result['confidence_level']:.1%}")
    text = f"A {result['question_type']} question about {result['dimension']} ({'; '.join(parsed)})."
    return respond(
        request,
        stance="neutral",
        confidence=result["confidence"],
        recommendation=f"route to {', '.join(result['agents'])}",
        rationale=text,
        text=text,
        fields={
            "classification": result,
            "question_type": result["question_type"],
            "dimension": result["dimension"],
            "tickers": result["tickers"],
            "horizon": result["horizon"],
            "input_problems": price_input_problems(inputs),
            "voting": False,
        },
    )


def agent_selector(request: AgentRequest) -> dict[str, Any]:
    """3-5 agents: those of the question type, the dimension's analyst moved (or added) first; the macro
    strategist joins a price-outlook question with macro data or a horizon of a month or more."""
    inputs = input_of(request)
    classification = classification_of(request)
    qtype = str(classification["question_type"])
    dimension = str(classification.get("dimension") or "general")
    agents = list(AGENTS_BY_TYPE.get(qtype, AGENTS_BY_TYPE["general"]))
    lead = LEAD_AGENT.get(dimension)
    if lead is not None and lead != agents[0]:
        agents = [lead, *(a for a in agents if a != lead)][:5]
    days = classification.get("horizon_days")
    long_view = isinstance(days, int) and days >= 30
    if qtype == "price-outlook" and (inputs.get("macro") or long_view) and "macro-strategist" not in agents:
        agents.append("macro-strategist")
    reasons = {
        a: f"{qtype} question on {dimension}; needs input.{_NEEDS[a]} "
        + (
            "(given)"
            if inputs.get(_NEEDS[a])
            or (a in ("market-technician", "risk-monitor") and inputs.get("pricesByTicker"))
            else "(missing: it will abstain)"
        )
        for a in agents
    }
    text = f"Selected {len(agents)} agents for a {qtype} question on {dimension}: {', '.join(agents)}."
    return respond(
        request,
        stance="neutral",
        confidence=float(classification.get("confidence", 0.5)),
        recommendation=", ".join(agents),
        rationale=text,
        text=text,
        fields={
            "agents": agents,
            "selection": {
                "kind": "agent-selection",
                "agents": agents,
                "reasons": reasons,
                "question_type": qtype,
                "dimension": dimension,
            },
            "reasons": reasons,
            "voting": False,
        },
    )
