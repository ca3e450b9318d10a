"""``dry_run(executor, task, input) -> DryRunPlan``: what an execution will do, take and cost, before it
spends anything.

The input is checked exactly as :meth:`TaskExecutor.start` checks it (the same errors); then the
phases are decided from the inputs (:mod:`quorum.planning._static`), and each phase that runs gets a
duration and a cost with their basis (:mod:`quorum.planning._estimate`), from the history of the same
task version where it has one. No agent is called and nothing is written to the history.

The wall time is the critical path of the phases' expected durations (a phase that will not run weighs
nothing) plus what the history shows outside the phases (start, checkpoints, the verdict); its p95
keeps the history's ratio of p95 to p50. Without history it is an upper bound, from the timeouts,
capped by the task's time limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from quorum.definition.model import Task, thaw
from quorum.graph import PhaseGraph
from quorum.ids import AgentId, PhaseName
from quorum.planning._estimate import AgentFacts, Estimate, agent_facts, phase_cost, phase_duration, weakest
from quorum.planning._static import Fate, StaticPhase, decide
from quorum.telemetry.eta import EtaModel

if TYPE_CHECKING:
    import os

    from quorum.agents.prices import PriceTable
    from quorum.engine.options import RunOptions
    from quorum.history.base import HistoryStore
    from quorum.steps.registry import StepRegistry

__all__ = ("DryRunParts", "DryRunPlan", "PhasePlan", "PlanSource", "dry_run")


class PlanSource(Protocol):
    """What a dry run reads of a :class:`~quorum.engine.executor.TaskExecutor` (a protocol, so that the
    executor can offer ``dry_run`` without this module importing it back)."""

    @property
    def options(self) -> RunOptions: ...
    @property
    def agent_manager(self) -> Any: ...
    @property
    def history_store(self) -> HistoryStore | None: ...
    @property
    def step_registry(self) -> StepRegistry: ...
    def load_task(self, task: Task | str | os.PathLike[str]) -> Task: ...
    def check(self, task: Task, input: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DryRunParts:
    """What a dry run needs when there is no :class:`~quorum.engine.executor.TaskExecutor` at hand."""

    directory: Any
    """An :class:`~quorum.agents.protocol.AgentDirectory` (an AgentManager knows models and timeouts)."""
    store: HistoryStore | None = None
    registry: StepRegistry | None = None
    agent_timeout_s: float | None = None
    time_limit_s: float | None = 300.0
    max_concurrent_phases: int = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class PhasePlan:
    name: PhaseName
    fate: Fate
    reason: str | None
    depends_on: tuple[PhaseName, ...]
    parallel: bool
    rounds: int
    max_attempts: int
    agents: tuple[AgentId, ...]
    agents_known: bool
    calls: int
    child_tasks: int
    approvals: int
    duration: Estimate
    cost: Estimate

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "fate": self.fate, "reason": self.reason,
                "depends_on": list(self.depends_on), "parallel": self.parallel, "rounds": self.rounds,
                "max_attempts": self.max_attempts,
                "agents": list(self.agents), "agents_known": self.agents_known, "calls": self.calls,
                "child_tasks": self.child_tasks, "approvals": self.approvals,
                "duration_s": self.duration.to_dict(), "cost_usd": self.cost.to_dict()}


@dataclass(frozen=True, slots=True, kw_only=True)
class DryRunPlan:
    """What an execution of ``task`` with ``input`` will do (see the module)."""

    task: str
    version: str
    task_hash: str
    input: Mapping[str, Any]
    phases: tuple[PhasePlan, ...]
    critical_path: tuple[PhaseName, ...]
    calls: int
    calls_known: bool
    wall: Estimate
    cost: Estimate
    history: int
    """Completed executions of this task version the estimates learned from (0: none)."""
    time_limit_s: float | None
    budget: Mapping[str, float] = field(default_factory=dict)
    past_wall: Estimate | None = None
    """The past executions' own total durations (what the history says, before any scaling)."""
    agents: tuple[AgentFacts, ...] = ()
    notes: tuple[str, ...] = ()

    def phase(self, name: str) -> PhasePlan:
        for planned in self.phases:
            if planned.name == name:
                return planned
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": True, "task": self.task, "version": self.version, "task_hash": self.task_hash,
                "input": thaw(self.input), "phases": [p.to_dict() for p in self.phases],
                "critical_path": list(self.critical_path), "calls": self.calls,
                "calls_known": self.calls_known, "wall_s": self.wall.to_dict(),
                "cost_usd": self.cost.to_dict(),
                "history": self.history, "time_limit_s": self.time_limit_s, "budget": dict(self.budget),
                "past_wall_s": None if self.past_wall is None else self.past_wall.to_dict(),
                "agents": [a.to_dict() for a in self.agents], "notes": list(self.notes)}


def _parts(source: PlanSource | DryRunParts, task: Task) -> DryRunParts:
    if isinstance(source, DryRunParts):
        return source
    options = source.options.for_task(task)
    return DryRunParts(directory=source.agent_manager, store=source.history_store,
                       registry=source.step_registry,
                       agent_timeout_s=options.agent_timeout_s, time_limit_s=options.time_limit_s,
                       max_concurrent_phases=options.max_concurrent_phases)


class _Names:
    """The directory as the preflight sees it, without ``unready``: agents that cannot be called yet (no
    API key) do not stop a dry run, whose point is to cost a run before setting it up; they are noted."""

    def __init__(self, directory: Any) -> None:
        self._directory = directory

    def has_agent(self, agent_id: str, /) -> bool:
        return bool(self._directory.has_agent(agent_id))

    def agent_ids(self) -> list[AgentId]:
        return list(self._directory.agent_ids())

    async def query(self, request: Any, /) -> Any:
        raise RuntimeError("a dry run calls no agent")


def _check(source: PlanSource | DryRunParts, parts: DryRunParts, task: Task,
           input: Mapping[str, Any], *, strict: bool = True) -> dict[str, Any]:
    """The input coerced, or the errors a real start raises (``strict=False``: all but the agents that
    cannot be called yet)."""
    if strict and not isinstance(source, DryRunParts):
        return source.check(task, input)
    from quorum.engine.preflight import check_before_run
    from quorum.steps.registry import StepRegistry

    directory = parts.directory if strict else _Names(parts.directory)
    return check_before_run(task, input, directory, parts.registry or StepRegistry())


def _unready(directory: Any, agents: Any) -> list[str]:
    """``agent: reason`` for each agent a real run would refuse to start with (no API key)."""
    unready = getattr(directory, "unready", None)
    if not callable(unready):
        return []
    by_reason: dict[str, list[str]] = {}
    for agent in agents:
        reason = unready(agent)
        if reason:
            by_reason.setdefault(str(reason), []).append(str(agent))
    return [f"{', '.join(names)}: {reason}" for reason, names in by_reason.items()]


async def dry_run(source: PlanSource | DryRunParts, task: Task | str,
                  input: Mapping[str, Any] | None = None, *, prices: PriceTable | None = None,
                  model: EtaModel | None = None) -> DryRunPlan:
    """The plan of an execution of ``task`` with ``input`` (see the module); raises what a real start
    raises for a bad input or an unknown agent. Calls no agent, records nothing. ``model``: the
    history's :class:`~quorum.telemetry.eta.EtaModel` to use instead of learning it from the store
    (what was known at some time: ``EtaModel.from_history(..., before=...)``)."""
    if not isinstance(task, Task):
        if isinstance(source, DryRunParts):
            raise TypeError("with DryRunParts, pass a parsed Task (TaskLoader().load(name))")
        task = source.load_task(task)
    parts = _parts(source, task)
    checked = _check(source, parts, task, input or {}, strict=False)
    decided = decide(task, checked, parts.directory.has_agent)
    if model is None and parts.store is not None and task.content_hash:
        model = await EtaModel.from_history(parts.store, task.name, task.content_hash)
    if model is not None and not model.basis:
        model = None
    agents = dict.fromkeys(a for s in decided for a in s.calls_by_agent)
    facts = {a: agent_facts(parts.directory, a, parts.agent_timeout_s) for a in agents}
    phases = tuple(_phase_plan(task, s, model, facts, prices) for s in decided)
    graph = PhaseGraph.from_task(task)
    weights: dict[str, float] = {
        p.name: p.duration.p50 if p.duration.p50 is not None else p.duration.p95 or 0.0
        for p in phases if p.fate in ("runs", "may-run")}
    critical = graph.critical_path(weights)
    notes = _notes(task, phases, model)
    blocked = _unready(parts.directory, agents)
    if blocked:
        notes = (*notes, "a real run would not start until these agents can be called: " + "; ".join(blocked))
    return DryRunPlan(
        task=task.name, version=task.version, task_hash=task.content_hash, input=checked, phases=phases,
        critical_path=critical, calls=sum(p.calls for p in phases if p.fate in ("runs", "may-run")),
        calls_known=all(p.agents_known and p.fate != "may-run" for p in phases if p.fate != "skipped"),
        wall=_wall(phases, critical, graph, model, parts.time_limit_s),
        cost=_total_cost(phases), history=model.basis if model is not None else 0,
        time_limit_s=parts.time_limit_s, budget=dict(task.budget), past_wall=_past(model),
        agents=tuple(facts.values()), notes=notes)


def _past(model: EtaModel | None) -> Estimate | None:
    if model is None or model.total is None:
        return None
    return Estimate(p50=model.total.p50, p95=model.total.p95, basis="history",
                    detail=f"{model.total.n} past runs")


def _phase_plan(task: Task, planned: StaticPhase, model: EtaModel | None,
                facts: Mapping[AgentId, AgentFacts], prices: PriceTable | None) -> PhasePlan:
    phase = planned.phase
    if planned.fate in ("skipped", "fails"):
        nothing = Estimate(p50=0.0, p95=0.0, basis="local", detail=planned.fate)
        duration = cost = nothing
    else:
        duration = phase_duration(planned, model, facts)
        cost = phase_cost(planned, model, facts, prices)
    return PhasePlan(name=phase.name, fate=planned.fate, reason=planned.reason, depends_on=phase.depends_on,
                     parallel=phase.parallel, rounds=max(phase.rounds, 1),
                     max_attempts=task.retry_for(phase).max_attempts, agents=planned.agents,
                     agents_known=planned.agents_known, calls=planned.calls, child_tasks=planned.child_tasks,
                     approvals=planned.approvals, duration=duration, cost=cost)


def _wall(phases: tuple[PhasePlan, ...], critical: tuple[PhaseName, ...], graph: PhaseGraph,
          model: EtaModel | None, time_limit_s: float | None) -> Estimate:
    by_name = {p.name: p for p in phases}
    on_path = [by_name[n] for n in critical if by_name[n].fate in ("runs", "may-run")]
    bases = [p.duration.basis for p in on_path]
    if on_path and all(p.duration.p50 is not None for p in on_path) and model is not None \
            and model.total is not None and all(b.startswith("history") or b == "local" for b in bases):
        past = {n: q.p50 for n, q in model.phase_durations.items()}
        past_path = graph.critical_path(past)
        outside = max(0.0, model.total.p50 - sum(past.get(n, 0.0) for n in past_path))
        p50 = outside + sum(p.duration.p50 or 0.0 for p in on_path)
        spread = model.total.p95 / model.total.p50 if model.total.p50 > 0 else 1.0
        basis = weakest(bases)
        return Estimate(p50=p50, p95=p50 * spread, basis=basis,
                        detail=f"critical path of {len(on_path)} phases, {model.basis} past runs "
                        f"(their total: p50 {model.total.p50:.3g} s, p95 {model.total.p95:.3g} s)")
    if all(p.duration.p50 is not None for p in on_path):
        p50 = sum(p.duration.p50 or 0.0 for p in on_path)
        p95 = sum(p.duration.p95 or 0.0 for p in on_path)
        return Estimate(p50=p50, p95=p95, basis=weakest(bases),
                        detail="critical path of the phases' estimates")
    if all(p.duration.p95 is not None for p in on_path):
        bound = sum(p.duration.p95 or 0.0 for p in on_path)
        detail = "at most: the timeouts along the critical path"
        if time_limit_s is not None and time_limit_s < bound:
            bound, detail = time_limit_s, "at most: the task's time limit"
        return Estimate(p50=None, p95=bound, basis="timeouts", upper_bound=True, detail=detail)
    if time_limit_s is not None:
        return Estimate(p50=None, p95=time_limit_s, basis="timeouts", upper_bound=True,
                        detail="at most: the task's time limit (no history, some agents have no timeout)")
    return Estimate(p50=None, p95=None, basis="unknown", detail="no history, no timeouts")


def _total_cost(phases: tuple[PhasePlan, ...]) -> Estimate:
    running = [p for p in phases if p.fate in ("runs", "may-run")]
    if any(p.cost.p95 is None for p in running):
        unknown = next(p for p in running if p.cost.p95 is None)
        return Estimate(p50=None, p95=None, basis="unknown",
                        detail=f"phase {unknown.name}: {unknown.cost.detail}")
    bases = [p.cost.basis for p in running]
    p95 = sum(p.cost.p95 or 0.0 for p in running)
    if any(p.cost.p50 is None for p in running):
        return Estimate(p50=None, p95=p95, basis=weakest(bases), upper_bound=True,
                        detail="at most: every LLM answer at its max_tokens")
    return Estimate(p50=sum(p.cost.p50 or 0.0 for p in running), p95=p95, basis=weakest(bases))


def _notes(task: Task, phases: tuple[PhasePlan, ...], model: EtaModel | None) -> tuple[str, ...]:
    notes: list[str] = []
    if model is None:
        notes.append(f"no completed execution of {task.name} {task.version} in the history: times are "
                     "bounds from the agents' timeouts, costs from the prices table")
    if any(p.max_attempts > 1 for p in phases):
        notes.append("estimates are for one attempt per phase; a failed attempt is retried (maxAttempts)")
    if any(p.approvals and p.fate != "skipped" for p in phases):
        notes.append("approval steps wait for people: that wait is not in the wall time")
    if any(p.child_tasks and p.fate != "skipped" for p in phases):
        notes.append("task: steps run child executions, whose calls and cost are not counted here")
    return tuple(notes)
