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

__all__ = ("Eta", "EtaModel", "Quantiles", "RunTimeline", "estimate", "quantiles", "timeline_of")

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
        elif kind in (_T.EXECUTION_COMPLETE, _T.EXECUTION_ERROR, _T.EXECUTION_TIMEOUT, _T.EXECUTION_ABORTED):
            ended = event.timestamp
    if started is None:
        return None
    running = {p: t for p, t in first_start.items() if p not in settled}
    return RunTimeline(started=started, ended=ended, settled=settled, phase_durations=durations,
                       running=running, last_boundary=last, last_boundary_at=last_at or started)


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

    @classmethod
    def learn(cls, task: str, task_hash: str, timelines: Sequence[RunTimeline]) -> EtaModel:
        """From finished executions' timelines (those without an end are left out)."""
        done = [t for t in timelines if t.ended is not None]
        remaining: dict[str, list[float]] = {}
        durations: dict[str, list[float]] = {}
        for t in done:
            assert t.ended is not None
            remaining.setdefault(_START, []).append(t.ended - t.started)
            for phase, at in t.settled.items():
                remaining.setdefault(phase, []).append(max(0.0, t.ended - at))
            for phase, seconds in t.phase_durations.items():
                durations.setdefault(phase, []).append(seconds)
        return cls(task=task, task_hash=task_hash, basis=len(done),
                   remaining_after={k: q for k, v in remaining.items() if (q := quantiles(v)) is not None},
                   phase_durations={k: q for k, v in durations.items() if (q := quantiles(v)) is not None},
                   total=quantiles(t.ended - t.started for t in done if t.ended is not None))

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


_cache: dict[tuple[int, str, str], tuple[str, HistoryStore, EtaModel]] = {}
"""(store, task, version) -> (the newest completed execution it was learned with, store, model): learned
again only when another execution of the task has completed (learning reads up to ``limit`` journals)."""


async def estimate(store: HistoryStore, record: ExecutionRecord, *, now: float | None = None) -> Eta | None:
    """The ETA of the execution ``record`` (as of its last phase boundary), or None: it has ended, or the
    history holds no completed execution of its task version to learn from."""
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
    timeline = timeline_of(await store.read_journal(record.id))
    if timeline is None:
        return None
    return model.predict(record.id, timeline, now=now)
