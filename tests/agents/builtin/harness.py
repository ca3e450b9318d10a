"""A tiny in-test driver: calls specialists phase by phase, building the context the engine builds.

It stands in for the engine only in these unit tests (the flagship tests use the real TaskExecutor):
earlier phases appear under ``context["phases"][name]`` with ``outputs`` and ``responses``; within a
sequential phase each agent sees the earlier answers as ``peers``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from quorum.agents.builtin import get_specialist
from quorum.agents.function import coerce_response
from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.definition.model import OutputSpec
from quorum.ids import AgentId, ExecutionId, PhaseName


def random_walk(
    n: int,
    *,
    seed: int = 7,
    start: float = 100.0,
    drift: float = 0.001,
    vol: float = 0.02,
    first_date: str = "2024-01-01",
) -> list[dict[str, Any]]:
    """A deterministic geometric random walk with ISO dates, one close a day."""
    import datetime as dt

    rng = random.Random(seed)
    day = dt.date.fromisoformat(first_date)
    price = start
    rows = []
    for i in range(n):
        if i:
            price *= math.exp(rng.gauss(drift, vol))
        rows.append({"date": (day + dt.timedelta(days=i)).isoformat(), "close": round(price, 4)})
    return rows


def request(
    agent: str,
    *,
    inputs: Mapping[str, Any],
    phases: Mapping[str, Any] | None = None,
    peers: Sequence[AgentResponse] = (),
    outputs: Sequence[str] = (),
    phase: str = "Test",
    round: int = 0,
) -> AgentRequest:
    return AgentRequest(
        agent_id=AgentId(agent),
        prompt=f"{agent}: do your job",
        execution_id=ExecutionId("exec-1"),
        phase=PhaseName(phase),
        round=round,
        context={
            "input": dict(inputs),
            "phases": dict(phases or {}),
            "execution": {"id": "exec-1", "started_at": "2026-01-05T10:00:00+00:00"},
        },
        peers=tuple(peers),
        outputs=tuple(OutputSpec(name=o) for o in outputs),
    )


def call(agent: str, **kwargs: Any) -> dict[str, Any]:
    return get_specialist(agent)(request(agent, **kwargs))


def run_phase(
    phases: dict[str, Any],
    name: str,
    agents: Sequence[str],
    inputs: Mapping[str, Any],
    *,
    outputs: Sequence[str] = (),
    sequential: bool = False,
    rounds: int = 1,
) -> dict[str, Any]:
    """Run one phase; store {outputs, responses, status} in ``phases`` the way the engine's context does."""
    answers: dict[str, Any] = {}
    peers: list[AgentResponse] = []
    for rnd in range(rounds):
        for agent in agents:
            req = request(
                agent,
                inputs=inputs,
                phases=phases,
                peers=peers if sequential or rnd else (),
                outputs=outputs,
                phase=name,
                round=rnd,
            )
            data = get_specialist(agent)(req)
            response = coerce_response(AgentId(agent), data, latency_ms=0.0, model=f"builtin:{agent}")
            peers.append(response)
            answers[agent] = data
    out = {}
    for o in outputs:
        values = [a[o] for a in answers.values() if o in a]
        out[o] = values[-1] if values else None
    phases[name] = {
        "outputs": out,
        "responses": {a: {"agent_id": a, "data": d} for a, d in answers.items()},
        "status": "completed",
    }
    return answers


def run_committee(inputs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The investment-committee shape; returns (verdict answer, phases)."""
    phases: dict[str, Any] = {}
    run_phase(
        phases, "Activation", ["intake-validator", "data-steward"], inputs, outputs=["request", "snapshot"]
    )
    analysts = [
        "technical-analyst",
        "fundamental-analyst",
        "sentiment-analyst",
        "macro-analyst",
        "quant-risk-analyst",
    ]
    run_phase(
        phases,
        "Analysis",
        analysts,
        inputs,
        outputs=["technical", "fundamental", "sentiment", "macro", "quant_risk"],
    )
    run_phase(
        phases, "Round Table", [*analysts, "execution-strategist"], inputs, outputs=["plan"], sequential=True
    )
    run_phase(
        phases,
        "Debate",
        ["bull-advocate", "bear-advocate", "red-team"],
        inputs,
        outputs=["bull_case", "bear_case", "challenges"],
        sequential=True,
        rounds=2,
    )
    run_phase(
        phases,
        "Validation",
        ["risk-officer", "compliance-officer"],
        inputs,
        outputs=["risk", "compliance", "approved_cap", "clamps"],
    )
    run_phase(
        phases, "Consensus", ["committee-chair"], inputs, outputs=["votes", "tally", "dissent", "outcome"]
    )
    verdict = run_phase(
        phases, "Verdict", ["portfolio-manager"], inputs, outputs=["decision", "approved_amount"]
    )["portfolio-manager"]
    return verdict, phases
