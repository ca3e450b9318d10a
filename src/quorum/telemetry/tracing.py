"""SpanBuilder: OpenTelemetry spans built from the event stream, one ``on("*")`` handler per executor.

The engine is not instrumented: every span opens and closes at the timestamps of the events that bound
it, so tracing costs nothing when it is off (no handler is registered) and, when on, only the handler's
work per event. The tree::

    invoke_workflow <task>                 execution:start .. execution:complete|error|timeout|aborted
    └── phase <name>                       phase:start .. phase:complete|failed (one span per attempt)
        └── step <phase>/<index>           step:start .. step:complete
            └── invoke_agent <agent>       agent:start .. agent:response|error
                └── chat <model>           the model call of an LLM agent (its measured latency)

Retries, skips, pauses, checkpoints and approvals are span events; errors and timeouts are statuses.

One trace per execution, whichever process drives it: the trace id is derived from the execution id
(:func:`trace_context_of`), so an execution resumed by another process after a crash continues the same
trace without anything stored; its new ``invoke_workflow`` span says ``quorum.resumed`` and links the
execution's root context, which every process's spans of that execution share as their parent.

A child execution (a ``task:`` step, :mod:`quorum.engine.children`) is a child span: its
``invoke_workflow`` hangs under the parent's ``step`` span, in the parent's trace. The step is known from
the context the child was started in: ``step:start`` of a custom step notes (execution, phase, step) in a
context variable of the task running the step, and the child's task, created from that step, inherits
it; ``parent_of`` (what :func:`~quorum.telemetry.instrument` passes: the executor's record of the child's
``parent_id``) confirms the execution is that step's child (a context taken over from the history may
not know its parent: a resumed execution started from a step is taken as its child unless ``parent_of``
names another). A parent taken over after a crash reaches the same step again and resumes its
unfinished children from there, so a resumed child hangs under the resumed parent's step span
(``quorum.resumed``), in the same trace; ``child:started``/``child:ended`` are events of that step span.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags, Tracer

from quorum.agents.secrets import redact
from quorum.events import Event, EventType
from quorum.telemetry.attributes import (
    LOCAL_PROVIDERS,
    AttributeValue,
    agent_attributes,
    chat_attributes,
    model_parts,
    response_attributes,
    scrub,
    task_version,
)

__all__ = ("SpanBuilder", "trace_context_of")

_T = EventType
_ENDINGS: Final = {_T.EXECUTION_COMPLETE: "completed", _T.EXECUTION_ERROR: "failed",
                   _T.EXECUTION_TIMEOUT: "timeout", _T.EXECUTION_ABORTED: "aborted"}

_STEP: Final[ContextVar[tuple[str, str, int] | None]] = ContextVar("quorum_traced_step", default=None)
"""(execution id, phase, step) of the custom step the current task runs: the parent of an execution
started from it (a ``task:`` step's child)."""


def trace_context_of(execution_id: str) -> SpanContext:
    """The root context of an execution's trace: the same in every process that drives it."""
    digest = hashlib.sha256(f"quorum-trace:{execution_id}".encode()).digest()
    trace_id = int.from_bytes(digest[:16], "big") or 1
    span_id = int.from_bytes(digest[16:24], "big") or 1
    return SpanContext(trace_id=trace_id, span_id=span_id, is_remote=True,
                       trace_flags=TraceFlags(TraceFlags.SAMPLED))


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


@dataclass(slots=True)
class _Run:
    """The open spans of one execution."""

    span: Span
    task: str | None
    version: str
    phases: dict[str, Span] = field(default_factory=dict)
    steps: dict[tuple[str, int], Span] = field(default_factory=dict)
    calls: dict[str, Span] = field(default_factory=dict)


class SpanBuilder:
    """``executor.on("*", SpanBuilder(tracer_provider))``: spans from events, as the module says.

    ``capture_content`` puts agents' answer text (secrets masked) in ``gen_ai.output.messages``."""

    __slots__ = ("_dispatch", "_parent_of", "_runs", "_tracer", "capture_content")

    def __init__(self, tracer_provider: trace.TracerProvider, *, capture_content: bool = False,
                 parent_of: Callable[[str], str | None] | None = None) -> None:
        """``parent_of(execution_id)``: the id of the execution that started it as a child, or None;
        without it, an execution started from within a custom step is taken as that step's child."""
        from quorum import __version__

        self._tracer: Tracer = tracer_provider.get_tracer("quorum", __version__)
        self.capture_content = capture_content
        self._parent_of = parent_of
        self._runs: dict[str, _Run] = {}
        self._dispatch: Mapping[str, Callable[[Event], None]] = {
            _T.EXECUTION_START: self._execution_start,
            _T.EXECUTION_PAUSED: self._execution_note,
            _T.EXECUTION_RESUMED: self._execution_resumed,
            _T.PHASE_START: self._phase_start,
            _T.PHASE_COMPLETE: self._phase_end,
            _T.PHASE_FAILED: self._phase_end,
            _T.PHASE_RETRY: self._execution_note,
            _T.PHASE_SKIPPED: self._execution_note,
            _T.STEP_START: self._step_start,
            _T.STEP_COMPLETE: self._step_end,
            _T.CHILD_STARTED: self._child_note,
            _T.CHILD_ENDED: self._child_note,
            _T.AGENT_START: self._agent_start,
            _T.AGENT_RESPONSE: self._agent_end,
            _T.AGENT_ERROR: self._agent_end,
            _T.CHECKPOINT_CREATED: self._execution_note,
            _T.APPROVAL_REQUESTED: self._execution_note,
            _T.APPROVAL_DECIDED: self._execution_note,
            **dict.fromkeys(_ENDINGS, self._execution_end),
        }

    @property
    def open_executions(self) -> int:
        return len(self._runs)

    def __call__(self, event: Event) -> None:
        handle = self._dispatch.get(event.type)
        if handle is not None:
            handle(event)

    # --- execution ------------------------------------------------------------------------------------
    def _open(self, event: Event, *, version: str = "", resumed: bool = False) -> _Run:
        attributes: dict[str, AttributeValue] = {"gen_ai.operation.name": "invoke_workflow",
                                                 "quorum.execution.id": str(event.execution_id)}
        if event.task:
            attributes["quorum.task"] = event.task
        if version:
            attributes["quorum.task.version"] = version
        links = []
        if resumed:
            attributes["quorum.resumed"] = True
        child_of = self._parent_step(event)
        if child_of is None:
            root = trace_context_of(event.execution_id)
            parent: Span = trace.NonRecordingSpan(root)
            if resumed:
                links.append(Link(root, {"quorum.link": "earlier processes of this execution"}))
        else:
            attributes["quorum.parent.execution.id"], parent = child_of
        span = self._tracer.start_span(
            f"invoke_workflow {event.task or ''}".strip(), kind=SpanKind.INTERNAL, attributes=attributes,
            links=links, start_time=_ns(event.timestamp), context=trace.set_span_in_context(parent),
        )
        run = self._runs[event.execution_id] = _Run(span=span, task=event.task, version=version)
        return run

    def _parent_step(self, event: Event) -> tuple[str, Span] | None:
        """The parent's id and the span of its step that started this execution as a child (or, where
        that step is not traced here, the parent's root context); None for one that is nobody's child."""
        current = _STEP.get()
        if current is None:
            return None
        parent_id, phase, step = current
        if parent_id == event.execution_id:
            return None
        if self._parent_of is not None and self._parent_of(event.execution_id) != parent_id:
            return None  # started from within a step, but not as its child
        run = self._runs.get(parent_id)
        if run is None:
            return parent_id, trace.NonRecordingSpan(trace_context_of(parent_id))
        span = run.steps.get((phase, step))
        return parent_id, run.span if span is None else span

    def _run(self, event: Event) -> _Run:
        """The execution's spans; opened here when this process joined it late (a takeover)."""
        run = self._runs.get(event.execution_id)
        if run is None:
            run = self._open(event, resumed=True)
        return run

    def _execution_start(self, event: Event) -> None:
        self._open(event, version=task_version(event))

    def _execution_resumed(self, event: Event) -> None:
        run = self._runs.get(event.execution_id)
        if run is None:
            run = self._open(event, resumed=True)
            if event.data.get("recovered"):
                run.span.set_attribute("quorum.recovered", True)
        self._execution_note(event)

    def _execution_note(self, event: Event) -> None:
        run = self._run(event)
        attributes: dict[str, AttributeValue] = {}
        if event.phase:
            attributes["quorum.phase"] = str(event.phase)
        if event.step is not None:
            attributes["quorum.step"] = event.step
        for key in ("attempt", "delay_ms", "reason", "label", "status", "decision", "by", "outcome",
                    "recovered", "paused_ms"):
            value = event.data.get(key)
            if isinstance(value, str | int | float | bool):
                attributes[f"quorum.{key}"] = scrub(value)
        if event.error:
            attributes["quorum.error"] = redact(event.error)
        run.span.add_event(event.type, attributes, timestamp=_ns(event.timestamp))

    def _execution_end(self, event: Event) -> None:
        run = self._runs.pop(event.execution_id, None)
        if run is None:
            run = self._open(event, resumed=True)
            self._runs.pop(event.execution_id, None)
        end = _ns(event.timestamp)
        status = _ENDINGS[EventType(event.type)]
        for span in (*run.calls.values(), *run.steps.values(), *run.phases.values()):
            span.add_event(f"execution:{status}", timestamp=end)
            _close(span, end, None if status == "completed" else f"execution {status}")
        run.span.set_attribute("quorum.status", status)
        if status == "aborted":
            reason = redact(str(event.data.get("reason", "")))
            run.span.add_event("execution:aborted", {"quorum.reason": reason}, timestamp=end)
            run.span.end(end_time=end)
        elif status == "completed":
            run.span.set_status(Status(StatusCode.OK))
            run.span.end(end_time=end)
        else:
            if status == "timeout":
                limit = float(event.data.get("limit_s") or 0)
                run.span.add_event("execution:timeout", {"quorum.limit_s": limit}, timestamp=end)
            _close(run.span, end, redact(event.error or status))

    # --- phases and steps -----------------------------------------------------------------------------
    def _phase_start(self, event: Event) -> None:
        run = self._run(event)
        attributes: dict[str, AttributeValue] = {"quorum.execution.id": str(event.execution_id),
                                                 "quorum.phase": str(event.phase),
                                                 "quorum.attempt": int(event.data.get("attempt", 1))}
        if run.task:
            attributes["quorum.task"] = run.task
        run.phases[str(event.phase)] = self._tracer.start_span(
            f"phase {event.phase}", context=trace.set_span_in_context(run.span), attributes=attributes,
            start_time=_ns(event.timestamp),
        )

    def _phase_end(self, event: Event) -> None:
        run = self._runs.get(event.execution_id)
        span = None if run is None else run.phases.pop(str(event.phase), None)
        if span is None:
            return
        end = _ns(event.timestamp)
        if event.type == _T.PHASE_COMPLETE:
            span.set_status(Status(StatusCode.OK))
            span.end(end_time=end)
            return
        retry = bool(event.data.get("will_retry"))
        span.set_attribute("quorum.will_retry", retry)
        span.add_event("phase:failed", {"quorum.will_retry": retry}, timestamp=end)
        _close(span, end, redact(event.error or "phase failed"))

    def _step_start(self, event: Event) -> None:
        run = self._run(event)
        parent = run.phases.get(str(event.phase), run.span)
        step = int(event.step or 0)
        attributes: dict[str, AttributeValue] = {"quorum.phase": str(event.phase), "quorum.step": step}
        kind = event.data.get("kind")
        if isinstance(kind, str):
            attributes["quorum.step.kind"] = kind
        step_type = event.data.get("type")
        if isinstance(step_type, str):
            attributes["quorum.step.type"] = step_type
        run.steps[(str(event.phase), step)] = self._tracer.start_span(
            f"step {event.phase}/{step}", context=trace.set_span_in_context(parent), attributes=attributes,
            start_time=_ns(event.timestamp),
        )
        if kind == "custom":  # a strategy (a task: step among them) may start child executions
            _STEP.set((str(event.execution_id), str(event.phase), step))

    def _step_end(self, event: Event) -> None:
        run = self._runs.get(event.execution_id)
        key = (str(event.phase), int(event.step or 0))
        span = None if run is None else run.steps.pop(key, None)
        if span is not None:
            span.end(end_time=_ns(event.timestamp))
        if _STEP.get() == (str(event.execution_id), *key):
            _STEP.set(None)

    def _child_note(self, event: Event) -> None:
        """``child:started``/``child:ended`` as events of the step span that runs the child."""
        run = self._runs.get(event.execution_id)
        if run is None:
            return
        span = run.steps.get((str(event.phase), int(event.step or 0)), run.span)
        attributes: dict[str, AttributeValue] = {"quorum.child.execution.id": str(event.data.get("child_id"))}
        for key in ("task", "status", "index"):
            value = event.data.get(key)
            if isinstance(value, str | int):
                attributes[f"quorum.child.{key}"] = scrub(value)
        if event.error:
            attributes["quorum.error"] = redact(event.error)
        span.add_event(event.type, attributes, timestamp=_ns(event.timestamp))

    # --- agent calls ----------------------------------------------------------------------------------
    def _agent_start(self, event: Event) -> None:
        run = self._run(event)
        phase = str(event.phase)
        parent = run.steps.get((phase, int(event.step or 0))) or run.phases.get(phase) or run.span
        attributes = agent_attributes(event)
        if run.version:
            attributes["quorum.task.version"] = run.version
        run.calls[str(event.data.get("call_key"))] = self._tracer.start_span(
            f"invoke_agent {event.agent}", kind=SpanKind.INTERNAL, context=trace.set_span_in_context(parent),
            attributes=attributes, start_time=_ns(event.timestamp),
        )

    def _agent_end(self, event: Event) -> None:
        run = self._runs.get(event.execution_id)
        span = None if run is None else run.calls.pop(str(event.data.get("call_key")), None)
        if span is None:
            return
        end = _ns(event.timestamp)
        if event.type == _T.AGENT_ERROR:
            error_type = str(event.data.get("error_type") or "error")
            span.set_attribute("error.type", error_type)
            if error_type == "TimeoutError":
                span.add_event("timeout", timestamp=end)
            _close(span, end, redact(event.error or "agent call failed"))
            return
        response: Mapping[str, Any] = event.data.get("response") or {}
        span.set_attributes(response_attributes(response, capture_content=self.capture_content))
        provider, _ = model_parts(response.get("model"))
        if provider not in LOCAL_PROVIDERS and not response.get("cached"):
            self._chat(span, response, end)
        if event.error:
            span.set_attribute("error.type", "agent_error")
            _close(span, end, redact(event.error))
        else:
            span.end(end_time=end)

    def _chat(self, parent: Span, response: Mapping[str, Any], end: int) -> None:
        """The model call inside an LLM agent's call: it ends with the answer and lasted the latency the
        agent measured (never before its parent started)."""
        started = getattr(parent, "start_time", None) or end
        start = max(started, end - int(float(response.get("latency_ms") or 0.0) * 1e6))
        _, name = model_parts(response.get("model"))
        span = self._tracer.start_span(
            f"chat {name}", kind=SpanKind.CLIENT, context=trace.set_span_in_context(parent),
            attributes=chat_attributes(response, capture_content=self.capture_content), start_time=start,
        )
        span.end(end_time=end)


def _close(span: Span, end: int, error: str | None) -> None:
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end(end_time=end)
