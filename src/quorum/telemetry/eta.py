"""Predictive timing: when a running execution will finish, learned from the history of its task version.

How it is computed (docs/observability.md tells the same):

1. **Samples.** The last completed executions of the same task and version (``task_hash``; at most
   ``limit``) are read from the history store, journal by journal. Each gives its total duration, the
   duration of each phase (first ``phase:start`` to ``phase:complete``, retries included), and for each
   phase the time that was still left after it settled (``phase:complete`` or ``phase:skipped``) until
   the execution ended.
2. **At a boundary.** While an execution runs, its boundary is the last phase that settled (none at the
   start). The remaining time is read off the samples at the same boundary: the median, the 10th and 90th
   percentiles (the range) and the 95th. The finish is the boundary's time plus those. Phases that run
   in parallel need no model of the graph: the samples already hold how they overlapped.
3. **Slow phases.** A phase running longer than the 95th percentile of its past durations is slow
   (``phase:slow``, :class:`~quorum.telemetry.tracker.EtaTracker`).
4. **Work that grows with the inputs.** Each sample also counts the agent calls of each phase, the
   latency of each call (by agent and by model) and its cost. Where a phase's call count varied across
   the samples (agents selected from the inputs), a least-squares line ``duration = a + b × calls`` is
   fitted (:class:`Scale`) and used by :meth:`EtaModel.phase_estimate` for a planned call count (a dry
   run), when the data supports it: at least 4 samples, 2 distinct counts, ``b >= 0`` and R² >= 0.5;
   the phase's quantiles otherwise.

No sample, no estimate: :func:`estimate` returns None and the caller says there is no history, instead
of guessing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from quorum.events import Event, EventType
from quorum.history.base import ExecutionRecord, HistoryStore

__all__ = (
    "Eta", "EtaModel", "PhaseEstimate", "Quantiles", "RunTimeline", "Scale", "estimate", "fit_scale",
    "quantiles", "timeline_of",
)

_T = EventType
_START: Final = "<start>"
"""The boundary before any phase settled."""
DEFAULT_LIMIT: Final = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class Quantiles:
    """Seconds. ``n`` samples."""

    n: int
    p10: float
    p50: float
    p90: float
    p95: float

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "p10": self.p10, "p50": self.p50, "p90": self.p90, "p95": self.p95}


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    if len(ordered) == 1:
        return ordered[0]
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def quantiles(values: Iterable[float]) -> Quantiles | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return Quantiles(n=len(ordered), p10=_quantile(ordered, 0.10), p50=_quantile(ordered, 0.50),
                     p90=_quantile(ordered, 0.90), p95=_quantile(ordered, 0.95))


@dataclass(frozen=True, slots=True, kw_only=True)
class Scale:
    """``seconds = intercept + per_call × calls``, fitted on ``n`` samples whose call counts ranged over
    ``calls_min..calls_max``; ``residual`` holds the quantiles of the samples' errors (actual − fitted)."""

    intercept: float
    per_call: float
    r2: float
    n: int
    calls_min: int
    calls_max: int
    residual: Quantiles

    def at(self, calls: int) -> float:
        return max(0.0, self.intercept + self.per_call * calls)

    def to_dict(self) -> dict[str, Any]:
        return {"intercept": self.intercept, "per_call": self.per_call, "r2": self.r2, "n": self.n,
                "calls_min": self.calls_min, "calls_max": self.calls_max}


MIN_SCALE_SAMPLES: Final = 4
MIN_R2: Final = 0.5


def fit_scale(points: Sequence[tuple[int, float]]) -> Scale | None:
    """The least-squares line through ``(calls, seconds)`` points, or None where the data does not
    support one (fewer than 4 points, a single call count, a negative slope, R² below 0.5)."""
    if len(points) < MIN_SCALE_SAMPLES or len({c for c, _ in points}) < 2:
        return None
    n = len(points)
    mean_x = sum(c for c, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((c - mean_x) ** 2 for c, _ in points)
    sxy = sum((c - mean_x) * (y - mean_y) for c, y in points)
    syy = sum((y - mean_y) ** 2 for _, y in points)
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    if slope < 0:
        return None
    residuals = [y - (intercept + slope * c) for c, y in points]
    r2 = 1.0 if syy == 0 else 1.0 - sum(r * r for r in residuals) / syy
    if r2 < MIN_R2:
        return None
    q = quantiles(residuals)
    assert q is not None
    return Scale(intercept=intercept, per_call=slope, r2=r2, n=n, calls_min=min(c for c, _ in points),
                 calls_max=max(c for c, _ in points), residual=q)


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseEstimate:
    """How long one phase should take: ``p50`` expected, ``p95`` the high end; ``basis`` says from what:
    ``"history"`` (its past durations), ``"history-scaled"`` (the :class:`Scale` at ``calls``)."""

    p50: float
    p95: float
    basis: str
    n: int
    calls: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"p50_s": self.p50, "p95_s": self.p95, "basis": self.basis, "samples": self.n,
                "calls": self.calls}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunTimeline:
    """One execution's timing, from its journal (seconds since the epoch)."""

    started: float
    ended: float | None
    settled: Mapping[str, float]
    """phase -> when it completed or was skipped."""
    phase_durations: Mapping[str, float]
    running: Mapping[str, float]
    """phase -> when it started, for phases started and not settled."""
    last_boundary: str = _START
    last_boundary_at: float = 0.0
    phase_calls: Mapping[str, int] = field(default_factory=dict)
    """phase -> agent calls started in it (every attempt)."""
    phase_cost: Mapping[str, float] = field(default_factory=dict)
    """phase -> USD its answers cost (answers without a cost count 0)."""
    call_latencies: tuple[tuple[str, str, float], ...] = ()
    """(agent, model, seconds) of each answered call that was not served from a cache."""
    call_costs: tuple[tuple[str, float], ...] = ()
    """(agent, USD) of each answer that carried a cost."""

    @property
    def total(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


def timeline_of(events: Iterable[Event], *, until_sequence: int | None = None) -> RunTimeline | None:
    """The timing of a journal (up to ``until_sequence``: the state at that point); None without a start."""
    started: float | None = None
    ended: float | None = None
    first_start: dict[str, float] = {}
    settled: dict[str, float] = {}
    durations: dict[str, float] = {}
    calls: dict[str, int] = {}
    cost: dict[str, float] = {}
    latencies: list[tuple[str, str, float]] = []
    costs: list[tuple[str, float]] = []
    last, last_at = _START, 0.0
    for event in events:
        if until_sequence is not None and event.sequence > until_sequence:
            break
        kind = event.type
        if kind == _T.EXECUTION_START:
            started = event.timestamp
            last_at = event.timestamp
        elif kind == _T.PHASE_START and event.phase is not None:
            first_start.setdefault(event.phase, event.timestamp)
        elif kind in (_T.PHASE_COMPLETE, _T.PHASE_SKIPPED) and event.phase is not None:
            settled[event.phase] = event.timestamp
            if kind == _T.PHASE_COMPLETE and event.phase in first_start:
                durations[event.phase] = event.timestamp - first_start[event.phase]
            last, last_at = event.phase, event.timestamp
        elif kind == _T.AGENT_START and event.phase is not None:
            calls[event.phase] = calls.get(event.phase, 0) + 1
        elif kind == _T.AGENT_RESPONSE and event.phase is not None:
            _answered(event, cost, latencies, costs)
        elif kind in (_T.EXECUTION_COMPLETE, _T.EXECUTION_ERROR, _T.EXECUTION_TIMEOUT, _T.EXECUTION_ABORTED):
            ended = event.timestamp
    if started is None:
        return None
    running = {p: t for p, t in first_start.items() if p not in settled}
    return RunTimeline(started=started, ended=ended, settled=settled, phase_durations=durations,
                       running=running, last_boundary=last, last_boundary_at=last_at or started,
                       phase_calls=calls, phase_cost=cost, call_latencies=tuple(latencies),
                       call_costs=tuple(costs))


def _answered(event: Event, cost: dict[str, float], latencies: list[tuple[str, str, float]],
              costs: list[tuple[str, float]]) -> None:
    """An ``agent:response``: its cost to its phase and agent, its latency (unless cached or failed)."""
    assert event.phase is not None
    response = event.data.get("response")
    if not isinstance(response, Mapping):
        return
    agent = str(event.agent or response.get("agent_id") or "")
    spent = response.get("cost_usd")
    if isinstance(spent, int | float) and not isinstance(spent, bool):
        cost[event.phase] = cost.get(event.phase, 0.0) + float(spent)
        costs.append((agent, float(spent)))
    if response.get("cached") or response.get("error") or event.error:
        return
    seconds = event.duration_ms if event.duration_ms is not None else response.get("latency_ms") or 0.0
    latencies.append((agent, str(response.get("model") or ""), float(seconds) / 1000.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class Eta:
    """The expected finish of one execution, as of its last phase boundary."""

    execution_id: str
    basis: int
    """How many past executions it was learned from."""
    boundary: str | None
    """The phase whose end it was computed at (None: at the start)."""
    elapsed_s: float
    remaining: Quantiles
    """Seconds left after the boundary (p50 expected, p10..p90 the range, p95)."""
    finish_at: float
    finish_low_at: float
    finish_high_at: float
    finish_p95_at: float
    total: Quantiles | None = None
    """Past executions' total durations."""
    slow_phases: tuple[str, ...] = ()
    """Phases running longer than the 95th percentile of their past durations."""

    def seconds_left(self, now: float | None = None) -> tuple[float, float]:
        """(expected, p95) seconds from ``now`` (never negative)."""
        now = time.time() if now is None else now
        return max(0.0, self.finish_at - now), max(0.0, self.finish_p95_at - now)

    def describe(self, now: float | None = None) -> str:
        """``ETA 14 s (p95 22 s)``."""
        left, p95 = self.seconds_left(now)
        return f"ETA {_seconds(left)} (p95 {_seconds(p95)})"

    def to_dict(self) -> dict[str, Any]:
        return {"execution_id": self.execution_id, "basis": self.basis, "boundary": self.boundary,
                "elapsed_s": self.elapsed_s, "remaining": self.remaining.to_dict(),
                "finish_at": self.finish_at, "finish_low_at": self.finish_low_at,
                "finish_high_at": self.finish_high_at, "finish_p95_at": self.finish_p95_at,
                "total": None if self.total is None else self.total.to_dict(),
                "slow_phases": list(self.slow_phases)}


def _seconds(value: float) -> str:
    if value < 100:
        return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass(frozen=True, slots=True, kw_only=True)
class EtaModel:
    """What the history says about one task version: remaining time per boundary, durations per phase."""

    task: str
    task_hash: str
    basis: int
    remaining_after: Mapping[str, Quantiles] = field(default_factory=dict)
    phase_durations: Mapping[str, Quantiles] = field(default_factory=dict)
    total: Quantiles | None = None
    phase_calls: Mapping[str, Quantiles] = field(default_factory=dict)
    """Agent calls per phase (counts, not seconds)."""
    phase_cost: Mapping[str, Quantiles] = field(default_factory=dict)
    """USD per phase (not seconds)."""
    phase_scale: Mapping[str, Scale] = field(default_factory=dict)
    """Duration against call count, for the phases whose data supports a line (module, point 4)."""
    agent_latency: Mapping[str, Quantiles] = field(default_factory=dict)
    """Seconds per call, by agent id."""
    model_latency: Mapping[str, Quantiles] = field(default_factory=dict)
    """Seconds per call, by model string (``builtin:...``, ``openai:...``)."""
    cost_per_call: Mapping[str, Quantiles] = field(default_factory=dict)
    """USD per answered call, by agent id."""

    @classmethod
    def learn(cls, task: str, task_hash: str, timelines: Sequence[RunTimeline]) -> EtaModel:
        """From finished executions' timelines (those without an end are left out)."""
        done = [t for t in timelines if t.ended is not None]
        remaining: dict[str, list[float]] = {}
        durations: dict[str, list[float]] = {}
        calls: dict[str, list[float]] = {}
        cost: dict[str, list[float]] = {}
        points: dict[str, list[tuple[int, float]]] = {}
        by_agent: dict[str, list[float]] = {}
        by_model: dict[str, list[float]] = {}
        for t in done:
            assert t.ended is not None
            remaining.setdefault(_START, []).append(t.ended - t.started)
            for phase, at in t.settled.items():
                remaining.setdefault(phase, []).append(max(0.0, t.ended - at))
            for phase, seconds in t.phase_durations.items():
                durations.setdefault(phase, []).append(seconds)
                count = t.phase_calls.get(phase, 0)
                calls.setdefault(phase, []).append(float(count))
                cost.setdefault(phase, []).append(t.phase_cost.get(phase, 0.0))
                points.setdefault(phase, []).append((count, seconds))
            for agent, model, seconds in t.call_latencies:
                by_agent.setdefault(agent, []).append(seconds)
                if model:
                    by_model.setdefault(model, []).append(seconds)
        per_call: dict[str, list[float]] = {}
        for t in done:
            for agent, spent in t.call_costs:
                per_call.setdefault(agent, []).append(spent)
        return cls(task=task, task_hash=task_hash, basis=len(done),
                   remaining_after=_quantiles_of(remaining), phase_durations=_quantiles_of(durations),
                   total=quantiles(t.ended - t.started for t in done if t.ended is not None),
                   phase_calls=_quantiles_of(calls), phase_cost=_quantiles_of(cost),
                   phase_scale={k: f for k, v in points.items() if (f := fit_scale(v)) is not None},
                   agent_latency=_quantiles_of(by_agent), model_latency=_quantiles_of(by_model),
                   cost_per_call=_quantiles_of(per_call))

    def phase_estimate(self, phase: str, calls: int | None = None) -> PhaseEstimate | None:
        """How long ``phase`` should take with ``calls`` agent calls (None: as in the samples): the
        fitted line where there is one and ``calls`` is known, its past quantiles otherwise; None when
        the samples never completed it."""
        q = self.phase_durations.get(phase)
        if q is None:
            return None
        scale = self.phase_scale.get(phase)
        if scale is not None and calls is not None:
            p50 = scale.at(calls)
            spread = max(0.0, scale.residual.p95 - scale.residual.p50)
            return PhaseEstimate(p50=p50, p95=p50 + spread, basis="history-scaled", n=scale.n, calls=calls)
        return PhaseEstimate(p50=q.p50, p95=q.p95, basis="history", n=q.n, calls=calls)

    @classmethod
    async def from_history(cls, store: HistoryStore, task: str, task_hash: str, *,
                           limit: int = DEFAULT_LIMIT, before: float | None = None) -> EtaModel:
        """The model of ``task`` at ``task_hash`` from its last ``limit`` completed executions (created
        before ``before``, when given: what was known then)."""
        records = await store.list_executions(limit=max(limit * 4, limit), status="completed", task=task)
        chosen = [r for r in records
                  if r.task_hash == task_hash and (before is None or r.created_at < before)]
        timelines = []
        for record in chosen[:limit]:
            timeline = timeline_of(await store.read_journal(record.id))
            if timeline is not None:
                timelines.append(timeline)
        return cls.learn(task, task_hash, timelines)

    def slow_phases(self, timeline: RunTimeline, now: float) -> tuple[str, ...]:
        slow = []
        for phase, started in timeline.running.items():
            q = self.phase_durations.get(phase)
            if q is not None and now - started > q.p95:
                slow.append(phase)
        return tuple(sorted(slow))

    def predict(self, execution_id: str, timeline: RunTimeline, *, now: float | None = None) -> Eta | None:
        """The finish of a running execution at its last boundary; None when the history has no sample
        at that boundary (a phase never seen settling in the samples)."""
        now = time.time() if now is None else now
        boundary = timeline.last_boundary
        left = self.remaining_after.get(boundary)
        if left is None:
            return None
        at = timeline.last_boundary_at
        return Eta(execution_id=execution_id, basis=self.basis,
                   boundary=None if boundary == _START else boundary,
                   elapsed_s=max(0.0, now - timeline.started), remaining=left, finish_at=at + left.p50,
                   finish_low_at=at + left.p10, finish_high_at=at + left.p90, finish_p95_at=at + left.p95,
                   total=self.total, slow_phases=self.slow_phases(timeline, now))


def _quantiles_of(samples: Mapping[str, list[float]]) -> dict[str, Quantiles]:
    return {k: q for k, v in samples.items() if (q := quantiles(v)) is not None}


_cache: dict[tuple[int, str, str], tuple[str, HistoryStore, EtaModel]] = {}
"""(store, task, version) -> (the newest completed execution it was learned with, store, model): learned
again only when another execution of the task has completed (learning reads up to ``limit`` journals)."""


async def estimate(store: HistoryStore, record: ExecutionRecord, *, now: float | None = None,
                   journal: Sequence[Event] | None = None) -> Eta | None:
    """The ETA of the execution ``record`` (as of its last phase boundary), or None: it has ended, or the
    history holds no completed execution of its task version to learn from.

    ``journal``: the execution's events when the caller holds them already (``quorum serve`` keeps the
    journals it reads); otherwise they are read from ``store``."""
    if record.status in ("completed", "failed", "aborted", "timeout") or not record.task_hash:
        return None
    newest = await store.list_executions(limit=1, status="completed", task=record.task)
    if not newest:
        return None
    key = (id(store), record.task, record.task_hash)
    cached = _cache.get(key)
    if cached is not None and cached[0] == newest[0].id and cached[1] is store:
        model = cached[2]
    else:
        model = await EtaModel.from_history(store, record.task, record.task_hash)
        _cache[key] = (newest[0].id, store, model)
    if model.basis == 0:
        return None
    timeline = timeline_of(await store.read_journal(record.id) if journal is None else journal)
    if timeline is None:
        return None
    return model.predict(record.id, timeline, now=now)
