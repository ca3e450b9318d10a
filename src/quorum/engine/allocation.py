"""The ``allocate:`` step: a budget split across the verdicts of several committees (portfolio-review).

``- allocate: from=<expression> budget=<expression> [maxWeight=<fraction or expression>]``: ``from``
gives a list of child summaries (what a ``task:`` step with ``foreach`` returns under
``children``), each with the committee's verdict; ``budget`` the amount to allocate. For each child:

- its *score* is the decision's factor times its conviction (0-100, as a fraction): ``APPROVE`` 1,
  ``APPROVE_WITH_CONDITIONS`` 0.5, ``DEFER`` and ``REJECT`` 0 (nothing is bought on a no);
- its *target* is the budget times its share of the scores (``maxWeight`` caps any one share);
- its *amount* is the target, never above the amount its own committee approved (the risk officer's
  cap it carried into the verdict): conviction requests, risk disposes, as in the committee.

What no ticker takes stays in cash. The result: ``allocation`` (one row per child, in order: ticker,
decision, conviction, rating, score, weight, amount, approved_amount, capped, execution_id),
``invested``, ``cash``, ``budget`` and a one-line ``summary``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quorum.definition.composition import ALLOCATE_STEP
from quorum.definition.model import Phase, Step
from quorum.errors import ExecutionError
from quorum.steps.protocol import StepContext

__all__ = ("ALLOCATE_STEP", "DECISION_FACTORS", "allocate", "allocate_step")

DECISION_FACTORS: Mapping[str, float] = {"APPROVE": 1.0, "APPROVE_WITH_CONDITIONS": 0.5, "DEFER": 0.0,
                                         "REJECT": 0.0}


def _number(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def allocate(
    children: Sequence[Mapping[str, Any]], budget: float, *, max_weight: float = 1.0
) -> dict[str, Any]:
    """The allocation of ``budget`` over the children's verdicts (see the module docstring)."""
    if budget <= 0:
        raise ExecutionError(f"allocate: the budget must be positive, not {budget:g}")
    if not 0 < max_weight <= 1:
        raise ExecutionError(f"allocate: maxWeight must be in (0, 1], not {max_weight:g}")
    rows: list[dict[str, Any]] = []
    for position, child in enumerate(children):
        if not isinstance(child, Mapping):
            raise ExecutionError(
                f"allocate: element {position} is {type(child).__name__}, not a child's summary")
        found = child.get("verdict")
        verdict: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        decision = str(verdict.get("decision") or "DEFER").upper()
        conviction = min(max(_number(verdict.get("conviction")), 0.0), 100.0)
        score = DECISION_FACTORS.get(decision, 0.0) * conviction / 100.0
        rows.append({
            "ticker": str(verdict.get("ticker") or child.get("item") or f"#{position}"),
            "decision": decision, "conviction": conviction, "rating": verdict.get("rating"),
            "score": round(score, 6), "approved_amount": max(_number(verdict.get("approved_amount")), 0.0),
            "execution_id": child.get("execution_id"),
        })
    total = sum(r["score"] for r in rows)
    invested = 0.0
    for row in rows:
        share = min(row["score"] / total, max_weight) if total > 0 else 0.0
        target = budget * share
        amount = min(target, row["approved_amount"])
        row["capped"] = amount < target
        row["amount"] = round(amount, 2)
        row["weight"] = round(amount / budget, 6)
        invested += row["amount"]
    cash = round(budget - invested, 2)
    held = [f"{r['ticker']} {r['weight']:.1%}" for r in rows if r["amount"] > 0]
    summary = (f"{', '.join(held)}; cash {cash / budget:.1%}" if held
               else f"no position: every committee deferred or rejected; cash {cash:g} (100%)")
    return {"allocation": rows, "invested": round(invested, 2), "cash": cash, "budget": budget,
            "summary": summary}


def allocate_step(step: Step, phase: Phase, context: StepContext) -> Mapping[str, Any]:
    """The strategy of ``allocate:`` steps: evaluates ``from`` and ``budget``, then :func:`allocate`."""
    params = step.parameters
    where = f"phase {phase.name!r}, step {step.index} (allocate)"
    source, budget_expr = params.get("from"), params.get("budget")
    if not source or not budget_expr:
        raise ExecutionError(f"{where}: write allocate: from=<list of children> budget=<amount>")
    children = context.evaluate(str(source))
    if isinstance(children, Mapping) and isinstance(children.get("children"), Sequence):
        children = children["children"]
    if isinstance(children, str | bytes) or not isinstance(children, Sequence):
        raise ExecutionError(f"{where}: from={source} gave {type(children).__name__}, not a list of children")
    budget = context.evaluate(str(budget_expr))
    if isinstance(budget, bool) or not isinstance(budget, int | float):
        raise ExecutionError(f"{where}: budget={budget_expr} gave {budget!r}, not a number")
    weight = params.get("maxWeight", 1.0)
    if isinstance(weight, str):
        weight = context.evaluate(weight)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise ExecutionError(f"{where}: maxWeight={params.get('maxWeight')} gave {weight!r}, not a number")
    return allocate(children, float(budget), max_weight=float(weight))
