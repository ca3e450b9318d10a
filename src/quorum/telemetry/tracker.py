"""EtaTracker: the ETA of each running execution, updated at every phase boundary, and ``phase:slow``
when a phase runs past the 95th percentile of its past durations.

``executor.on("*", tracker)``; before an execution of a task starts, ``await tracker.learn(store, task,
task_hash)`` gives the tracker that task version's :class:`~quorum.telemetry.eta.EtaModel` (a task
never learned gets no ETA: ``current()`` is None, and nothing is flagged).

``phase:slow`` is an :class:`~quorum.events.Event` handed to the tracker's ``on_slow`` listeners (the
alert hooks, a live view); it is not in the journal, since only the engine numbers journal events: its
``sequence`` is that of the last event of the execution the tracker saw. A timer per running phase
(``loop.call_later``) fires it; every timer is cancelled when its phase or execution ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from quorum.events import Event, EventType
from quorum.history.base import HistoryStore
from quorum.telemetry.eta import Eta, EtaModel, timeline_of

__all__ = ("EtaTracker",)

_T = EventType
_KEPT = frozenset({_T.EXECUTION_START, _T.PHASE_START, _T.PHASE_COMPLETE, _T.PHASE_SKIPPED})
_ENDS = frozenset({_T.EXECUTION_COMPLETE, _T.EXECUTION_ERROR, _T.EXECUTION_TIMEOUT, _T.EXECUTION_ABORTED})
_log = logging.getLogger("quorum.telemetry")


@dataclass(slots=True)
class _Watched:
    model: EtaModel
    task: str | None
    events: list[Event] = field(default_factory=list)
    """The boundary events only (start, phase start/complete/skipped): a handful per phase."""
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    last_sequence: int = 0
    eta: Eta | None = None


class EtaTracker:
    """See the module. ``on_eta(eta)`` hears every update, ``on_slow(event)`` every ``phase:slow``.

    A phase is slow once it has run past its p95 by ``min_slack_s`` or 10 % of the p95, whichever is
    more: a phase of a few milliseconds is not flagged for scheduling jitter."""

    def __init__(self, *, min_slack_s: float = 0.5, clock: Callable[[], float] = time.time) -> None:
        self.min_slack_s = min_slack_s
        self._models: dict[str, EtaModel] = {}
        self._watched: dict[str, _Watched] = {}
        self._clock = clock
        self.on_eta: list[Callable[[Eta], object]] = []
        self.on_slow: list[Callable[[Event], object]] = []

    async def learn(self, store: HistoryStore, task: str, task_hash: str) -> EtaModel:
        """Learn (again) the model of one task version from the history."""
        model = await EtaModel.from_history(store, task, task_hash)
        self._models[task_hash] = model
        return model

    def add_model(self, model: EtaModel) -> None:
        self._models[model.task_hash] = model

    def current(self, execution_id: str) -> Eta | None:
        watched = self._watched.get(execution_id)
        return None if watched is None else watched.eta

    def __call__(self, event: Event) -> None:
        kind = event.type
        if kind == _T.EXECUTION_START:
            model = self._models.get(str(event.data.get("task_hash") or ""))
            if model is None or model.basis == 0:
                return
            self._watched[event.execution_id] = _Watched(model=model, task=event.task)
        watched = self._watched.get(event.execution_id)
        if watched is None:
            return
        watched.last_sequence = event.sequence
        if kind in _ENDS:
            for timer in watched.timers.values():
                timer.cancel()
            del self._watched[event.execution_id]
            return
        if kind not in _KEPT:
            if kind == _T.PHASE_FAILED and event.phase is not None:
                self._stop_timer(watched, event.phase)
            return
        watched.events.append(event)
        phase = event.phase
        if kind == _T.PHASE_START and phase is not None:
            if event.data.get("attempt", 1) == 1:
                self._start_timer(event.execution_id, watched, phase, event.timestamp)
            return
        if phase is not None:
            self._stop_timer(watched, phase)
        self._update(event.execution_id, watched, event.timestamp)

    def _update(self, execution_id: str, watched: _Watched, now: float) -> None:
        timeline = timeline_of(watched.events)
        if timeline is None:
            return
        watched.eta = watched.model.predict(execution_id, timeline, now=now)
        if watched.eta is not None:
            for listener in self.on_eta:
                listener(watched.eta)

    def _start_timer(self, execution_id: str, watched: _Watched, phase: str, started: float) -> None:
        q = watched.model.phase_durations.get(phase)
        if q is None:
            return
        delay = max(0.0, started + self.threshold(q.p95) - self._clock())
        loop = asyncio.get_running_loop()
        watched.timers[phase] = loop.call_later(delay, self._slow, execution_id, phase, started)

    def threshold(self, p95: float) -> float:
        """How long a phase whose past p95 is ``p95`` may run before it is slow."""
        return p95 + max(self.min_slack_s, 0.1 * p95)

    def _stop_timer(self, watched: _Watched, phase: str) -> None:
        timer = watched.timers.pop(phase, None)
        if timer is not None:
            timer.cancel()

    def _slow(self, execution_id: str, phase: str, started: float) -> None:
        watched = self._watched.get(execution_id)
        if watched is None:
            return
        watched.timers.pop(phase, None)
        q = watched.model.phase_durations[phase]
        now = self._clock()
        event = Event(type=_T.PHASE_SLOW, execution_id=execution_id, sequence=watched.last_sequence,  # type: ignore[arg-type]
                      timestamp=now, task=watched.task, phase=phase,  # type: ignore[arg-type]
                      data={"running_s": now - started, "p95_s": q.p95, "basis": q.n})
        _log.warning("execution %s: phase %s has run %.1f s, past its p95 of %.1f s (%d past runs)",
                     execution_id, phase, now - started, q.p95, q.n)
        for listener in self.on_slow:
            try:
                listener(event)
            except Exception:  # a listener's bug must not stop the others (nor reach the loop)
                _log.exception("phase:slow listener %r failed", listener)

    def close(self) -> None:
        """Cancel every timer (the executor is closing)."""
        for watched in self._watched.values():
            for timer in watched.timers.values():
                timer.cancel()
        self._watched.clear()
