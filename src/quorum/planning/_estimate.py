"""How long a phase should take and what it should cost, each number with the basis it comes from.

Bases, best first (``Estimate.basis``):

- ``history``: the phase's durations (costs) in the completed executions of the same task version, its
  p50 and p95 (:class:`~quorum.telemetry.eta.EtaModel`);
- ``history-scaled``: the same, read off the phase's fitted line at the planned number of agent calls,
  where the call count varied in the history and the data supports a line;
- ``agent-latency``: the past latency (cost) of each of the phase's agents in this task version, added
  up for turns in sequence, the slowest for a parallel fan-out;
- ``timeouts``: no history: the agents' timeouts (or the phase's ``timeout``) bound the time, so the
  number is an upper bound (``upper_bound``), not an expectation;
- ``prices``: no history: the prices table (or the agent file's ``price``) at the agent's ``max_tokens``
  for the answer and its prompt's length for the question: an upper bound of an LLM call's cost;
- ``local``: agents answered in this process (``builtin:``, ``python:``) cost nothing;
- ``unknown``: nothing to go on (no history, no timeout, no price).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from quorum.agents.prices import PriceTable, active_prices
from quorum.definition.model import StepKind
from quorum.ids import AgentId
from quorum.planning._static import StaticPhase
from quorum.telemetry.eta import EtaModel

__all__ = ("AgentFacts", "Estimate", "agent_facts", "phase_cost", "phase_duration")

LOCAL_PROVIDERS: Final = frozenset({"builtin", "python", "scripted", "function"})
DEFAULT_ANSWER_TOKENS: Final = 1024
"""Output tokens assumed for an LLM agent whose file sets no ``max_tokens``."""
CHARS_PER_TOKEN: Final = 4.0

_RANK: Final = {"history": 0, "history-scaled": 1, "agent-latency": 2, "local": 3, "timeouts": 4,
                "prices": 4, "unknown": 5}


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """``p50`` expected and ``p95`` high (seconds or USD); None where unknown. ``upper_bound``: the
    numbers are a bound (timeouts, max tokens), not an expectation."""

    p50: float | None
    p95: float | None
    basis: str
    detail: str = ""
    upper_bound: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"p50": self.p50, "p95": self.p95, "basis": self.basis, "detail": self.detail,
                "upper_bound": self.upper_bound}


def weakest(bases: Sequence[str]) -> str:
    return max(bases, key=lambda b: _RANK.get(b, 5)) if bases else "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentFacts:
    """What the directory knows of one agent before calling it."""

    agent: AgentId
    model: str | None
    timeout_s: float | None
    max_tokens: int | None
    persona_chars: int
    price_in: float | None
    price_out: float | None

    @property
    def local(self) -> bool:
        return self.model is None or self.model.partition(":")[0] in LOCAL_PROVIDERS

    def call_cost(self, prompt_chars: int, prices: PriceTable) -> float | None:
        if self.local:
            return 0.0
        tokens_in = int((self.persona_chars + prompt_chars) / CHARS_PER_TOKEN)
        tokens_out = self.max_tokens or DEFAULT_ANSWER_TOKENS
        if self.price_in is not None or self.price_out is not None:
            return (tokens_in * (self.price_in or 0.0) + tokens_out * (self.price_out or 0.0)) / 1e6
        return prices.cost(self.model, tokens_in, tokens_out)

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "model": self.model, "timeout_s": self.timeout_s}


def agent_facts(directory: Any, agent: AgentId, default_timeout_s: float | None) -> AgentFacts:
    """From an :class:`~quorum.agents.manager.AgentManager` (its policy and the agent's file); any other
    directory gives what it has (nothing: unknown model, the executor's timeout)."""
    policy_of = getattr(directory, "policy", None)
    policy = policy_of(agent) if callable(policy_of) else None
    get = getattr(directory, "get", None)
    try:
        definition = getattr(get(agent), "definition", None) if callable(get) else None
    except Exception:  # an unknown agent: preflight names it; nothing more to learn here
        definition = None
    model = getattr(policy, "model", None) or getattr(definition, "model", None)
    timeout = getattr(policy, "timeout_s", None) or getattr(definition, "timeout_s", None)
    if timeout is None:
        timeout = default_timeout_s if default_timeout_s is not None else getattr(
            directory, "default_timeout_s", None)
    return AgentFacts(agent=agent, model=model, timeout_s=timeout,
                      max_tokens=getattr(definition, "max_tokens", None),
                      persona_chars=len(getattr(definition, "persona", "") or ""),
                      price_in=getattr(definition, "price_in_per_mtok", None),
                      price_out=getattr(definition, "price_out_per_mtok", None))


def _turns(planned: StaticPhase) -> list[list[AgentId]]:
    """The phase's calls as groups that run at the same time, one group after the other."""
    phase = planned.phase
    groups: list[list[AgentId]] = []
    pending: list[AgentId] = []
    for step in phase.steps:
        if step.kind is StepKind.AGENT and step.agent:
            if phase.parallel:
                pending.append(step.agent)
            else:
                groups.append([step.agent])
            continue
        if pending:
            groups.append(pending)
            pending = []
        if step.kind is StepKind.PROMPT and planned.agents:
            for _ in range(max(phase.rounds, 1)):
                if phase.parallel:
                    groups.append(list(planned.agents))
                else:
                    groups.extend([a] for a in planned.agents)
    if pending:
        groups.append(pending)
    return groups


def phase_duration(planned: StaticPhase, model: EtaModel | None,
                   facts: Mapping[AgentId, AgentFacts]) -> Estimate:
    """Seconds for one attempt of a phase that runs (see the module for the bases)."""
    name = planned.phase.name
    if model is not None:
        found = model.phase_estimate(name, planned.calls if planned.agents_known else None)
        if found is not None:
            detail = f"{found.n} past runs"
            if found.basis == "history-scaled":
                scale = model.phase_scale[name]
                detail += (f", {scale.per_call:.3g} s per call over {scale.calls_min}-{scale.calls_max} "
                           f"calls (R² {scale.r2:.2f}), at {planned.calls} calls")
            return Estimate(p50=found.p50, p95=found.p95, basis=found.basis, detail=detail)
    turns = _turns(planned)
    if not turns:
        return Estimate(p50=0.0, p95=0.0, basis="local", detail="no agent calls")
    if model is not None and all(a in model.agent_latency for turn in turns for a in turn):
        p50 = sum(max(model.agent_latency[a].p50 for a in turn) for turn in turns)
        p95 = sum(max(model.agent_latency[a].p95 for a in turn) for turn in turns)
        return Estimate(p50=p50, p95=p95, basis="agent-latency",
                        detail=f"past latency of its agents, {len(turns)} turns")
    bound = 0.0
    for turn in turns:
        limits = [facts[a].timeout_s if a in facts else None for a in turn]
        if any(t is None for t in limits):
            bound = -1.0
            break
        bound += max(t for t in limits if t is not None)
    if planned.phase.timeout_s is not None:
        bound = planned.phase.timeout_s if bound < 0 else min(bound, planned.phase.timeout_s)
    if bound < 0:
        return Estimate(p50=None, p95=None, basis="unknown", detail="no history and no timeout")
    return Estimate(p50=None, p95=bound, basis="timeouts", upper_bound=True,
                    detail=f"at most {bound:g} s: agents' timeouts over {len(turns)} turns")


def phase_cost(planned: StaticPhase, model: EtaModel | None, facts: Mapping[AgentId, AgentFacts],
               prices: PriceTable | None = None) -> Estimate:
    """USD for one attempt of a phase that runs."""
    name = planned.phase.name
    if model is not None and name in model.phase_cost:
        q = model.phase_cost[name]
        calls = model.phase_calls.get(name)
        ratio = 1.0
        if planned.agents_known and calls is not None and calls.p50 > 0:
            ratio = planned.calls / calls.p50
        detail = f"{q.n} past runs" + (f", scaled to {planned.calls} calls" if ratio != 1.0 else "")
        return Estimate(p50=q.p50 * ratio, p95=q.p95 * ratio, basis="history", detail=detail)
    if not planned.calls_by_agent:
        return Estimate(p50=0.0, p95=0.0, basis="local", detail="no agent calls")
    table = prices or active_prices()
    p50 = p95 = 0.0
    bases: list[str] = []
    prompt_chars = max((len(s.text) for s in planned.phase.steps), default=0)
    for agent, count in planned.calls_by_agent.items():
        past = model.cost_per_call.get(agent) if model is not None else None
        if past is not None:
            p50, p95 = p50 + past.p50 * count, p95 + past.p95 * count
            bases.append("agent-latency")
            continue
        fact = facts.get(agent)
        each = None if fact is None else fact.call_cost(prompt_chars, table)
        if each is None:
            return Estimate(p50=None, p95=None, basis="unknown",
                            detail=f"agent {agent!r}: no history and no price for its model "
                            f"{fact.model if fact else None!r} (--model-prices FILE)")
        bases.append("local" if fact is not None and fact.local else "prices")
        p50, p95 = p50 + each * count, p95 + each * count
    basis = weakest(bases)
    if basis == "prices":
        return Estimate(p50=None, p95=p95, basis="prices", upper_bound=True,
                        detail="at most: each answer at its max_tokens, from the prices table")
    return Estimate(p50=p50, p95=p95, basis="history" if basis == "agent-latency" else basis,
                    detail="past cost of its agents' calls" if basis == "agent-latency" else "")
