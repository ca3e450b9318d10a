"""Progress output of ``quorum run``: a Rich live view on a terminal, one plain line per event otherwise.

Both are :class:`EventSink`\\ s fed by the executor's event handler. The live view folds events into a
:class:`~quorum.cli.progress.Progress` and redraws at most a few times a second (Rich ``Live``), so a
burst of thousands of agent events costs only the folding.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TextIO

from quorum.cli.progress import ChildProgress, PhaseProgress, Progress
from quorum.events import Event, EventType

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

    from quorum.engine.context import ExecutionContext
    from quorum.telemetry.eta import Eta

__all__ = ("EventSink", "LiveView", "PlainView", "format_event")

_STATE_STYLE: dict[str, tuple[str, str]] = {
    "pending": ("·", "dim"),
    "running": ("▶", "bold yellow"),
    "retrying": ("↻", "bold magenta"),
    "completed": ("✔", "green"),
    "failed": ("✖", "bold red"),
    "skipped": ("↷", "dim cyan"),
    "cancelled": ("■", "red"),
}
_STATUS_STYLE = {
    "pending": "dim",
    "running": "bold yellow",
    "paused": "bold magenta",
    "completed": "bold green",
    "failed": "bold red",
    "timeout": "bold red",
    "aborted": "bold red",
}
_BAR_WIDTH = 24


class EventSink(Protocol):
    def on_event(self, event: Event) -> None: ...

    def on_child_event(self, event: Event) -> None:
        """An event of an execution that this one's ``task:`` steps started (or theirs, in turn)."""

    def note(self, text: str) -> None:
        """A message from the CLI itself (pausing, resuming...), shown with the progress."""

    def attach(self, context: ExecutionContext) -> None:
        """The execution has started (or been resumed): its task and the phases already finished."""

    def close(self) -> None: ...


def _stream_tail(text: str, width: int = 60) -> str:
    """The end of what an agent has streamed, on one line (``agent:chunk`` events in the live view)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else "…" + flat[-(width - 1):]


def format_event(event: Event) -> str | None:
    """One line for one event (None for events too fine-grained for a log: streamed tokens)."""
    if event.type == EventType.AGENT_CHUNK:
        return None
    clock = datetime.fromtimestamp(event.timestamp).strftime("%H:%M:%S.%f")[:-3]
    where = " / ".join(str(x) for x in (event.phase, event.agent) if x)
    parts = [clock, f"{event.type:<18}"]
    if event.type.startswith("execution:"):
        parts.append(f"{event.task or ''} {event.execution_id}".strip())
    elif where:
        parts.append(where)
    if event.step is not None and event.type.startswith("step:"):
        parts.append(f"step {event.step}")
    if event.type == EventType.CACHE_UNAVAILABLE:
        parts.append(f"cache {event.data.get('location')}: {event.data.get('reason')}")
    if event.type in (EventType.CHILD_STARTED, EventType.CHILD_ENDED):
        d = event.data
        index = d.get("index")
        parts.append(f"{d.get('task')} {d.get('child_id')}" + (f" #{index}" if index is not None else "")
                     + (f" {d.get('status')}" if event.type == EventType.CHILD_ENDED else ""))
    if event.duration_ms is not None:
        parts.append(f"{event.duration_ms:.0f} ms")
    attempt = event.data.get("attempt")
    if event.type in (EventType.PHASE_START, EventType.PHASE_RETRY) and attempt:
        parts.append(f"attempt {attempt}")
    reason = event.data.get("reason")
    if reason and event.type in (EventType.PHASE_SKIPPED, EventType.EXECUTION_PAUSED,
                                 EventType.EXECUTION_ABORTED):
        parts.append(f"({reason})")
    elif reason and event.type == EventType.EXECUTION_RESUMED and "agent_choices" in event.data:
        parts.append(str(reason))  # a resume that changed the models: the change, before and after
    if event.error:
        parts.append(f"error: {event.error}")
    return "  ".join(p for p in parts if p).replace("\n", " ")


_CHILD_LINES: frozenset[str] = frozenset({
    EventType.PHASE_COMPLETE, EventType.PHASE_FAILED, EventType.PHASE_RETRY, EventType.PHASE_SKIPPED,
    EventType.EXECUTION_PAUSED, EventType.EXECUTION_RESUMED,
})
"""What the plain view prints of a child execution."""
_CHILDREN_SHOWN = 12


class PlainView:
    """One line per event on a stream that is not a terminal (a pipe, a file, CI logs).

    ``prefix_ids`` starts each line with the execution id (several executions in one stream)."""

    def __init__(self, stream: TextIO, *, prefix_ids: bool = False) -> None:
        self._stream = stream
        self._prefix_ids = prefix_ids

    def on_event(self, event: Event) -> None:
        line = format_event(event)
        if line is not None:
            if self._prefix_ids:
                line = f"[{event.execution_id}] {line}"
            self._stream.write(line + "\n")
            self._stream.flush()

    def on_child_event(self, event: Event) -> None:
        # A child's progress by phase: its calls would bury the parent's own lines, and its start and
        # end are the parent's child:started / child:ended already.
        if event.type not in _CHILD_LINES:
            return
        line = format_event(event)
        if line is not None:
            self._stream.write(f"  [{event.execution_id}] {line}\n")
            self._stream.flush()

    def attach(self, context: ExecutionContext) -> None:
        self._stream.write(f"quorum: execution {context.id} of {context.task.name}\n")
        self._stream.flush()

    def note(self, text: str) -> None:
        self._stream.write(f"quorum: {text}\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.flush()


class LiveView:
    """The phases as a timeline with their state, the agents in flight with elapsed time, retries and
    skipped phases, redrawn in place on a terminal."""

    def __init__(self, progress: Progress, console: Console) -> None:
        from rich.live import Live

        self.progress = progress
        self._console = console
        self._notes: list[str] = []
        self._eta: Eta | None = None
        self._live: Live = Live(
            get_renderable=self.render,
            console=console,
            refresh_per_second=8,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def on_event(self, event: Event) -> None:
        self.progress.apply(event)

    def on_child_event(self, event: Event) -> None:
        self.progress.apply_child(event)

    def attach(self, context: ExecutionContext) -> None:
        progress = self.progress
        progress.execution_id = context.id
        progress.seed(context.task, context.phases)
        if progress.started_at is None:
            progress.started_at = context.started_at
        self._live.refresh()

    def note(self, text: str) -> None:
        self._notes.append(text)
        del self._notes[:-3]
        self._live.refresh()

    def show_eta(self, eta: Eta) -> None:
        """The expected finish as of the last phase boundary (the header counts it down)."""
        self._eta = eta
        self._live.refresh()

    def close(self) -> None:
        self._live.refresh()
        self._live.stop()

    def render(self) -> RenderableType:
        from rich.console import Group
        from rich.markup import escape
        from rich.table import Table
        from rich.text import Text

        p = self.progress
        elapsed = p.elapsed_s()
        head = Text.assemble(
            ("quorum ", "bold"),
            (p.task or "", "bold cyan"),
            ("  ", ""),
            (p.execution_id or "starting…", "dim"),
            ("  ", ""),
            (p.status, _STATUS_STYLE.get(p.status, "")),
            (f"  {_clock(elapsed)}", ""),
            (f"  calls {p.calls}" + (f"  retries {p.retries}" if p.retries else ""), "dim"),
            (f"  {self._eta.describe()}" if self._eta is not None and p.status == "running" else "", "cyan"),
        )
        table = Table.grid(padding=(0, 1))
        table.add_column(width=1)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True, width=_BAR_WIDTH)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(style="dim")
        # Rich redraws from its own thread while the event loop updates the state: work on copies
        # (list() of a dict or deque is taken in one step under the GIL).
        phases = list(p.phases.values())
        running = list(p.running.items())
        streamed = dict(p.streamed)
        recent = list(p.recent)
        for phase in phases:
            mark, style = _STATE_STYLE.get(phase.state, ("?", ""))
            table.add_row(
                Text(mark, style=style),
                Text(phase.name, style=style if phase.state != "pending" else "dim"),
                Text(_bar(phase, p, elapsed), style=style),
                _phase_time(phase, p),
                escape(_phase_detail(phase, p)),
            )
        parts: list[RenderableType] = [head, table]
        if running:
            now = time.monotonic()
            agents = Table.grid(padding=(0, 1))
            agents.add_column(style="yellow", no_wrap=True)
            agents.add_column(justify="right")
            agents.add_column(style="dim", no_wrap=True, overflow="ellipsis")
            shown = sorted(running, key=lambda kv: kv[1])[:12]
            for (phase_name, agent), started in shown:
                agents.add_row(escape(f"  {phase_name} / {agent}"), f"{now - started:5.1f}s",
                               escape(_stream_tail(streamed.get((phase_name, agent), ""))))
            if len(running) > len(shown):
                agents.add_row(f"  … and {len(running) - len(shown)} more", "")
            parts += [Text("agents in flight", style="bold"), agents]
        children = list(p.children.values())
        if children:
            parts += [Text("children", style="bold"), _children_table(children)]
        for line in [*recent, *self._notes][-4:]:
            parts.append(Text(f"  {line}", style="dim"))
        return Group(*parts)


def _children_table(children: list[ChildProgress]) -> RenderableType:
    """One line per child: which, its state, how far it got (phases, the current one) and its calls.
    Running children first, then the rest in the order they started, at most ``_CHILDREN_SHOWN``."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(style="dim", no_wrap=True, overflow="ellipsis")
    ordered = sorted(children, key=lambda c: c.status != "running")  # stable: start order kept
    for child in ordered[:_CHILDREN_SHOWN]:
        name = f"  {child.task} {child.id}" + (f" #{child.index}" if child.index is not None else "")
        done = f"{child.phases_done}/{child.phases_total}" if child.phases_total else str(child.phases_done)
        now = child.phase if child.status == "running" and child.phase else ""
        table.add_row(escape(name), Text(child.status, style=_STATUS_STYLE.get(child.status, "")),
                      f"{done} phases", escape(f"{now}  calls {child.calls}".strip()))
    if len(ordered) > _CHILDREN_SHOWN:
        table.add_row(f"  … and {len(ordered) - _CHILDREN_SHOWN} more", "", "", "")
    return table


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes):02d}:{secs:04.1f}"


def _phase_time(phase: PhaseProgress, p: Progress) -> str:
    if phase.duration_ms is not None and phase.state not in ("running", "retrying"):
        return f"{phase.duration_ms / 1000:.1f}s"
    if phase.state == "running" and phase.started_at is not None:
        return f"{max(0.0, time.time() - phase.started_at):.1f}s"
    return ""


def _phase_detail(phase: PhaseProgress, p: Progress) -> str:
    bits: list[str] = []
    if phase.state == "pending" and phase.depends_on:
        waiting = [d for d in phase.depends_on if p.phases.get(d, PhaseProgress(name=d)).state
                   not in ("completed", "skipped")]
        if waiting:
            bits.append("after " + ", ".join(waiting))
    if phase.answers or phase.agent_errors:
        bits.append(f"{phase.answers} answer{'s' if phase.answers != 1 else ''}")
    if phase.agent_errors:
        bits.append(f"{phase.agent_errors} agent error{'s' if phase.agent_errors != 1 else ''}")
    if phase.attempts > 1:
        bits.append(f"attempt {phase.attempts}")
    if phase.reason and phase.state in ("skipped", "failed", "cancelled"):
        bits.append(phase.reason)
    return " · ".join(bits)


def _bar(phase: PhaseProgress, p: Progress, elapsed: float) -> str:
    """Where the phase sits in the execution's time line, scaled to the elapsed time."""
    if phase.started_at is None or p.started_at is None or elapsed <= 0:
        return ""
    start = max(0.0, phase.started_at - p.started_at)
    if phase.duration_ms is not None and phase.state not in ("running", "retrying"):
        end = start + phase.duration_ms / 1000
    else:
        end = elapsed
    scale = _BAR_WIDTH / max(elapsed, end, 1e-9)
    left = min(_BAR_WIDTH - 1, int(start * scale))
    width = max(1, round((end - start) * scale))
    width = min(width, _BAR_WIDTH - left)
    return " " * left + "━" * width
