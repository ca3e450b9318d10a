"""MetricsRecorder: OpenTelemetry counters and histograms fed by the event stream, and the process's
:class:`MetricsHub` that ``quorum serve`` renders at ``/metrics``.

=================================  =========  ===============================  ==============================
instrument                         kind       attributes                       from
=================================  =========  ===============================  ==============================
quorum.executions.started          counter    task                             execution:start
quorum.executions.ended            counter    task, status                     execution:complete|error|...
quorum.executions.active           up-down    task                             start .. end
quorum.phase.duration              histogram  task, phase, status (s)          phase:complete|failed
quorum.phase.retries               counter    task, phase                      phase:retry
quorum.agent.call.duration         histogram  agent, model, outcome (s)        agent:response|error
quorum.agent.tokens                counter    model, type (input|output)       agent:response
quorum.agent.cost                  counter    model (USD)                      agent:response
quorum.agent.cache_hits            counter    agent                            agent:response (cached)
quorum.timeouts                    counter    task, kind (execution|agent)     execution:timeout, agent:error
quorum.approvals.waiting           up-down    task                             approval:requested|decided
quorum.journal.backlog             gauge      -                                the executors' unwritten events
=================================  =========  ===============================  ==============================

Attributes are names only (tasks, phases, agents, models, statuses): never inputs, answers or errors.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from quorum.events import Event, EventType
from quorum.telemetry.attributes import model_parts

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData

    from quorum.engine.executor import TaskExecutor

__all__ = ("MetricsHub", "MetricsRecorder", "default_hub")

_T = EventType
_ENDINGS: Final = {_T.EXECUTION_COMPLETE: "completed", _T.EXECUTION_ERROR: "failed",
                   _T.EXECUTION_TIMEOUT: "timeout", _T.EXECUTION_ABORTED: "aborted"}
_SECONDS_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
                           300.0, 600.0)


class MetricsRecorder:
    """``executor.on("*", MetricsRecorder(meter_provider))``: the instruments of the module's table."""

    __slots__ = ("_active", "_agent_duration", "_cache_hits", "_cost", "_dispatch", "_ended",
                 "_phase_duration", "_phase_started", "_retries", "_started", "_tasks", "_timeouts",
                 "_tokens", "_waiting", "_waiting_now")

    def __init__(self, meter_provider: MeterProvider) -> None:
        from quorum import __version__

        meter = meter_provider.get_meter("quorum", __version__)
        counter = meter.create_counter
        self._started = counter("quorum.executions.started", description="executions started")
        self._ended = counter("quorum.executions.ended", description="executions ended, by status")
        self._active = meter.create_up_down_counter("quorum.executions.active",
                                                    description="executions running in this process")
        self._phase_duration = meter.create_histogram(
            "quorum.phase.duration", unit="s", description="phase attempts, by outcome",
            explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS)
        self._retries = counter("quorum.phase.retries", description="phase attempts retried")
        self._agent_duration = meter.create_histogram(
            "quorum.agent.call.duration", unit="s", description="agent call latency",
            explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS)
        self._tokens = counter("quorum.agent.tokens", description="tokens used, by model")
        self._cost = counter("quorum.agent.cost", unit="USD", description="cost, by model")
        self._cache_hits = counter("quorum.agent.cache_hits", description="answers from the cache")
        self._timeouts = counter("quorum.timeouts", description="execution and agent-call timeouts")
        self._waiting = meter.create_up_down_counter("quorum.approvals.waiting",
                                                     description="approval gates waiting for a decision")
        self._tasks: dict[str, str] = {}
        self._phase_started: dict[tuple[str, str], float] = {}
        self._waiting_now: dict[str, set[str]] = {}
        self._dispatch: Mapping[str, Callable[[Event], None]] = {
            _T.EXECUTION_START: self._execution_start,
            _T.EXECUTION_RESUMED: self._execution_resumed,
            _T.PHASE_START: self._phase_start,
            _T.PHASE_COMPLETE: self._phase_end,
            _T.PHASE_FAILED: self._phase_end,
            _T.PHASE_RETRY: self._phase_retry,
            _T.AGENT_RESPONSE: self._agent_response,
            _T.AGENT_ERROR: self._agent_error,
            _T.APPROVAL_REQUESTED: self._approval_requested,
            _T.APPROVAL_DECIDED: self._approval_decided,
            **dict.fromkeys(_ENDINGS, self._execution_end),
        }

    def __call__(self, event: Event) -> None:
        handle = self._dispatch.get(event.type)
        if handle is not None:
            handle(event)

    def _task(self, event: Event) -> str:
        return self._tasks.get(event.execution_id) or event.task or ""

    def _execution_start(self, event: Event) -> None:
        task = event.task or ""
        self._tasks[event.execution_id] = task
        self._started.add(1, {"task": task})
        self._active.add(1, {"task": task})

    def _execution_resumed(self, event: Event) -> None:
        if event.execution_id not in self._tasks:  # taken over from another process: active here now
            self._tasks[event.execution_id] = task = event.task or ""
            self._active.add(1, {"task": task})

    def _execution_end(self, event: Event) -> None:
        task = self._task(event)
        status = _ENDINGS[EventType(event.type)]
        self._ended.add(1, {"task": task, "status": status})
        if self._tasks.pop(event.execution_id, None) is not None:
            self._active.add(-1, {"task": task})
        if status == "timeout":
            self._timeouts.add(1, {"task": task, "kind": "execution"})
        for key in [k for k in self._phase_started if k[0] == event.execution_id]:
            del self._phase_started[key]
        for _ in self._waiting_now.pop(event.execution_id, ()):
            self._waiting.add(-1, {"task": task})

    def _phase_start(self, event: Event) -> None:
        self._phase_started[(event.execution_id, str(event.phase))] = event.timestamp

    def _phase_end(self, event: Event) -> None:
        started = self._phase_started.pop((event.execution_id, str(event.phase)), None)
        if event.duration_ms is not None:
            seconds = event.duration_ms / 1000.0
        elif started is not None:  # phase:failed carries no duration: from its phase:start
            seconds = max(0.0, event.timestamp - started)
        else:
            return
        status = "completed" if event.type == _T.PHASE_COMPLETE else "failed"
        self._phase_duration.record(seconds,
                                    {"task": self._task(event), "phase": str(event.phase), "status": status})

    def _phase_retry(self, event: Event) -> None:
        self._retries.add(1, {"task": self._task(event), "phase": str(event.phase)})

    def _agent_response(self, event: Event) -> None:
        response: Mapping[str, Any] = event.data.get("response") or {}
        provider, name = model_parts(response.get("model"))
        model = f"{provider}:{name}" if provider else name
        agent = str(event.agent)
        if response.get("cached"):
            self._cache_hits.add(1, {"agent": agent})
        if event.duration_ms is not None:
            outcome = "error" if event.error else "ok"
            self._agent_duration.record(event.duration_ms / 1000.0, {"agent": agent, "model": model,
                                                                     "outcome": outcome})
        for kind, key in (("input", "tokens_in"), ("output", "tokens_out")):
            count = int(response.get(key) or 0)
            if count:
                self._tokens.add(count, {"model": model, "type": kind})
        cost = response.get("cost_usd")
        if cost:
            self._cost.add(float(cost), {"model": model})

    def _agent_error(self, event: Event) -> None:
        if event.duration_ms is not None:
            self._agent_duration.record(event.duration_ms / 1000.0,
                                        {"agent": str(event.agent), "model": "", "outcome": "error"})
        if event.data.get("error_type") == "TimeoutError":
            self._timeouts.add(1, {"task": self._task(event), "kind": "agent"})

    def _approval_requested(self, event: Event) -> None:
        gates = self._waiting_now.setdefault(event.execution_id, set())
        gate = f"{event.phase}/{event.step}"
        if gate not in gates:
            gates.add(gate)
            self._waiting.add(1, {"task": self._task(event)})

    def _approval_decided(self, event: Event) -> None:
        if event.data.get("outcome") is None:
            return  # not closed yet (more approvers to hear from)
        gates = self._waiting_now.get(event.execution_id)
        gate = f"{event.phase}/{event.step}"
        if gates is not None and gate in gates:
            gates.discard(gate)
            self._waiting.add(-1, {"task": self._task(event)})


class MetricsHub:
    """The process's metrics: one SDK ``MeterProvider`` read on demand (the ``/metrics`` scrape), which
    every executor instrumented with ``metrics=True`` feeds, and the journal backlog of those executors."""

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        self.reader: InMemoryMetricReader = InMemoryMetricReader()
        self.meter_provider = SdkMeterProvider(metric_readers=[self.reader])
        self._executors: weakref.WeakSet[TaskExecutor] = weakref.WeakSet()
        self._lock = threading.Lock()
        meter = self.meter_provider.get_meter("quorum")
        meter.create_observable_gauge("quorum.journal.backlog", callbacks=[self._backlog],
                                      description="recorded events not yet written by the history store")

    def watch(self, executor: TaskExecutor) -> None:
        self._executors.add(executor)

    def _backlog(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(sum(e.journal_backlog for e in list(self._executors)))]

    def collect(self) -> MetricsData | None:
        with self._lock:
            return self.reader.get_metrics_data()


_hub: MetricsHub | None = None
_hub_lock = threading.Lock()


def default_hub() -> MetricsHub:
    """The process's hub (made on first use)."""
    global _hub
    with _hub_lock:
        if _hub is None:
            _hub = MetricsHub()
        return _hub
