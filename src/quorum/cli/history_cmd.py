"""``quorum history``, ``show``, ``export`` and ``prune``: reading and trimming the execution history."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from quorum.cli.common import ExitCode, fail, out_console, parse_duration, run_async
from quorum.cli.options import DbOpt, ExecutionIdArg, JsonOpt, TasksDirOpt

if TYPE_CHECKING:
    import asyncio

    from rich.console import Console
    from rich.table import Table

    from quorum.cli.history_view import ExecutionView
    from quorum.config import Config
    from quorum.history.base import ExecutionRecord, HistoryStore

__all__ = ("export", "history", "load_view", "prune", "show")

_HASH_SHOWN = 12
"""How many hex digits of a task's content hash the tables show (enough to tell definitions apart)."""
_UNBOUNDED = 1_000_000
"""A width no table row reaches: measuring against it gives each column its widest value."""
_STATUSES = ("pending", "running", "paused", "completed", "failed", "aborted", "timeout")


def _when(ts: float | None) -> str:
    return "—" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _duration(ms: float | None) -> str:
    if ms is None:
        return "—"
    seconds = ms / 1000
    return f"{seconds:.2f}s" if seconds < 60 else f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def history(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many executions to list.")] = 20,
    status: Annotated[
        str | None, typer.Option("--status", help=f"Only this status ({', '.join(_STATUSES)}).")
    ] = None,
    task: Annotated[
        str | None,
        typer.Option("--task", help="Only executions of this task; NAME@VERSION picks versions too "
                     "(committee@1.1.0 exactly, committee@1.1 any 1.1.x, committee@^1 any 1.x)."),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List recorded executions, newest first."""
    from quorum.config import load_config

    if status is not None and status not in _STATUSES:
        fail(f"unknown status {status!r}; use one of {', '.join(_STATUSES)}", code=ExitCode.USAGE)
    if task is not None and "@" in task:
        from quorum.definition.versions import VersionSyntaxError, parse_selector

        try:
            parse_selector(task)
        except VersionSyntaxError as exc:
            fail(f"--task: {exc}", code=ExitCode.USAGE)
    cfg = load_config(db=db)
    records = run_async(_list(cfg, limit, status, task))
    if as_json:
        rows = [
            {"id": r.id, "task": r.task, "task_version": r.task_version, "task_hash": r.task_hash,
             "parent_id": r.parent_id, "status": r.status, "created_at": r.created_at,
             "started_at": r.started_at, "ended_at": r.ended_at, "duration_ms": r.duration_ms,
             "error": r.error}
            for r in records
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.markup import escape

    from quorum.cli import report
    from quorum.cli.report import status_text

    console = out_console()
    if not records:
        console.print(f"no executions recorded (history: {escape(cfg.db_shown)})")
        return
    table = report.table("id", "task", "status", "started", "duration", "hash", "error")
    # On a terminal long values wrap to its width; in a pipe (grep, a file) every value stays whole, on
    # its one line, however wide the table gets: a script must never read a cut task name or status.
    piped = not console.is_terminal
    for column in table.columns:
        column.no_wrap = piped or column.header in ("id", "started")
    for r in records:
        table.add_row(r.id, escape(_task_at(r)), status_text(r.status), _when(r.started_at or r.created_at),
                      _duration(r.duration_ms), r.task_hash[:_HASH_SHOWN],
                      escape((r.error or "").splitlines()[0] if r.error else ""))
    if piped:
        _print_whole(console, table)
    else:
        console.print(table)


def _task_at(record: ExecutionRecord) -> str:
    """``name@version`` (what ``--task`` and ``quorum run`` take back), or the name when the version
    was not recorded."""
    return f"{record.task}@{record.task_version}" if record.task_version else record.task


def _print_whole(console: Console, table: Table) -> None:
    """``table`` at its natural width, however wide: a console is kept to its own width (80 columns in
    a pipe), so one as wide as the table prints it, on the same stream, in the same colours."""
    from typing import cast

    from rich.console import Console
    from rich.measure import Measurement

    width = Measurement.get(console, console.options.update_width(_UNBOUNDED), table).maximum
    color_system = cast("Literal['standard', '256', 'truecolor', 'windows'] | None", console.color_system)
    wide = Console(file=console.file, width=max(width, 1), highlight=False, color_system=color_system,
                   no_color=console.no_color)
    wide.print(table)


async def _list(cfg: Config, limit: int, status: str | None, task: str | None) -> list[ExecutionRecord]:
    from quorum.cli.store import db_exists, opened_store
    from quorum.history.queries import find_executions

    if not db_exists(cfg):
        return []
    async with opened_store(cfg) as store:
        return await find_executions(store, limit=limit, status=status, task=task)


async def load_view(cfg: Config, execution_id: str) -> ExecutionView:
    import dataclasses

    from quorum.cli.history_view import build_view
    from quorum.cli.store import db_exists, find_execution, opened_store
    from quorum.engine.tree import execution_tree
    from quorum.history.base import TERMINAL_STATUSES
    from quorum.telemetry.eta import estimate

    if not db_exists(cfg):
        fail(f"no execution with id {execution_id!r}", details=(f"history: {cfg.db_shown} (no history yet)",))
    async with opened_store(cfg) as store:
        record = await find_execution(store, execution_id, where=cfg.db_shown)
        events = await store.read_journal(record.id)
        checkpoint = await store.latest_checkpoint(record.id)
        eta = None if record.status in TERMINAL_STATUSES else await estimate(store, record)
        tree = await execution_tree(store, record.id, record=record)
    order = [str(p) for p in record.phase_hashes]
    view = build_view(record, events, checkpoint=checkpoint, phase_order=order)
    if tree is not None and tree.children:  # the children's own records: their status now, their children
        view = dataclasses.replace(view, children=tree.children)
    if record.status in TERMINAL_STATUSES:
        return view
    note = None if eta is not None else (
        "no ETA: no completed run of this task version in the history yet (it learns from them)")
    return dataclasses.replace(view, eta=eta, eta_note=note)


def show(
    execution_id: ExecutionIdArg,
    events: Annotated[
        bool, typer.Option("--events", "-e", help="List every event, agents included.")
    ] = False,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Print its events as they happen until it ends, then show it."),
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one execution: its inputs, timeline, phases with their outputs, and the verdict.

    It reads the history, so it also shows executions running in another process; --follow tails
    one of them (one line per event) until it ends.
    """
    from quorum.config import load_config

    cfg = load_config(db=db)
    if follow:
        run_async(_follow(cfg, execution_id, all_events=events, quiet=as_json))
    view = run_async(load_view(cfg, execution_id))
    if as_json:
        sys.stdout.write(json.dumps(view.to_dict(all_events=events), indent=2, default=str) + "\n")
        return
    _print_view(view, all_events=events)


_ENDED = ("completed", "failed", "aborted", "timeout")


_POLL_S = 0.2
"""How often ``--follow`` reads a journal whose store cannot tell it of changes (SQLite, memory)."""
_FEED_POLL_S = (0.2, 1.0)
"""With a change feed (PostgreSQL LISTEN/NOTIFY) the feed wakes ``--follow`` as events commit; it still
reads every second in case a notification was missed (the listening connection lost), and once soon
after starting, for the events committed while the feed was opening."""


async def _follow(cfg: Config, execution_id: str, *, all_events: bool, quiet: bool) -> None:
    """Tail the journal (``read_journal(after=...)``) until the execution ends: woken by the store's
    :class:`~quorum.history.base.ChangeFeed` when it has one, polling otherwise. Ctrl-C stops following;
    it never touches the execution."""
    import asyncio

    from quorum.cli.store import db_exists, find_execution, opened_store
    from quorum.history.base import ChangeFeed

    if not db_exists(cfg):
        fail(f"no execution with id {execution_id!r}", details=(f"history: {cfg.db_shown} (no history yet)",))
    async with opened_store(cfg) as store:
        record = await find_execution(store, execution_id, where=cfg.db_shown)
        changed = asyncio.Event()
        if not isinstance(store, ChangeFeed):
            await _tail(store, record.id, changed, (_POLL_S, _POLL_S), all_events=all_events, quiet=quiet)
        else:
            async with asyncio.TaskGroup() as group:
                watcher = group.create_task(
                    store.watch(lambda _eid, _seq: changed.set(), execution_id=record.id))
                try:
                    await _tail(store, record.id, changed, _FEED_POLL_S, all_events=all_events, quiet=quiet)
                finally:
                    watcher.cancel()
    if not quiet:
        sys.stdout.write("\n")


async def _tail(store: HistoryStore, execution_id: str, changed: asyncio.Event, polls: tuple[float, float],
                *, all_events: bool, quiet: bool) -> None:
    """Print the journal's new events each time ``changed`` is set or a poll is due (``polls``: the
    first wait, then every next one), until the execution has ended and all its events are printed."""
    import asyncio

    from quorum.cli.history_view import TIMELINE_TYPES
    from quorum.cli.render import format_event

    after = 0
    wait = polls[0]
    while True:
        changed.clear()  # before reading: a change committed from here on wakes the next wait
        for event in await store.read_journal(execution_id, after=after):
            after = event.sequence
            if quiet or (not all_events and event.type not in TIMELINE_TYPES):
                continue
            line = format_event(event)
            if line is not None:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
        current = await store.get_execution(execution_id)
        if current is None or (current.status in _ENDED and current.last_sequence <= after):
            return
        try:
            await asyncio.wait_for(changed.wait(), wait)
        except TimeoutError:
            pass
        wait = polls[1]


def _print_view(view: ExecutionView, *, all_events: bool) -> None:
    from rich.markdown import Markdown
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from quorum.cli import report
    from quorum.cli.history_view import TIMELINE_TYPES, children_lines, input_for_display
    from quorum.cli.memo import memo_markdown
    from quorum.cli.render import format_event
    from quorum.cli.report import render_value, render_verdict, status_text

    console = out_console()
    r = view.record
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column()
    head.add_row("execution", r.id)
    head.add_row("task", escape(r.task) + (f"  [dim]{escape(r.task_source)}[/]" if r.task_source else ""))
    if r.task_version:
        head.add_row("version", escape(r.task_version))
    if r.task_hash:
        head.add_row("hash", r.task_hash)
    if r.parent_id:
        head.add_row("parent", r.parent_id)
    head.add_row("status", status_text(r.status))
    if r.error:
        head.add_row("error", Text(r.error, style="red"))
    head.add_row("started", _when(r.started_at))
    head.add_row("ended", _when(r.ended_at))
    head.add_row("duration", _duration(r.duration_ms))
    if view.eta is not None:
        eta = view.eta
        past = f"from {eta.basis} past run{'s' if eta.basis != 1 else ''}"
        where = f"after {eta.boundary}" if eta.boundary else "at the start"
        head.add_row("eta", f"{eta.describe()}  [dim]{escape(where)}, {past}[/]")
        if eta.slow_phases:
            head.add_row("slow", Text(", ".join(eta.slow_phases) + " running past their p95", style="yellow"))
    elif view.eta_note:
        head.add_row("eta", Text(view.eta_note, style="dim"))
    if r.input:
        head.add_row("input", render_value(input_for_display(r.input), depth=1, raw_keys=True))
    console.print(head)

    console.print()
    console.print(Text("Timeline", style="bold underline"))
    origin = r.started_at or r.created_at
    for event in view.events:
        if not all_events and event.type not in TIMELINE_TYPES:
            continue
        line = format_event(event)
        if line is not None:
            offset = f"+{max(0.0, event.timestamp - origin):8.3f}s"
            console.print(f"[dim]{offset}[/] {escape(line.split('  ', 1)[1] if '  ' in line else line)}")

    console.print()
    console.print(Text("Phases", style="bold underline"))
    table = report.table("phase", "status", "attempts", "duration", "answers", "note")
    for column in table.columns:
        if column.header in ("attempts", "answers"):
            column.justify = "right"
    for row in view.phases.values():
        note = row.error or row.skipped_reason or ""
        answers = f"{row.answers}" + (f" (+{row.agent_errors} errors)" if row.agent_errors else "")
        table.add_row(escape(row.name), status_text(row.status), str(row.attempts or "—"),
                      _duration(row.duration_ms), answers, escape(note))
    console.print(table)
    for row in view.phases.values():
        if row.outputs:
            console.print()
            console.print(Text(f"Outputs of {row.name}", style="bold"))
            console.print(render_value(dict(row.outputs), depth=1))

    tree = children_lines(view)
    if tree:
        console.print()
        console.print(Text("Executions", style="bold underline"))
        for line in tree:
            console.print(escape(line), soft_wrap=True)

    console.print()
    console.print(Text("Verdict", style="bold underline"))
    memo = memo_markdown(r.verdict)  # the committee's verdict reads as a memo; any other, field by field
    console.print(Markdown("\n".join(memo)) if memo is not None else render_verdict(r.verdict))


def export(
    execution_id: ExecutionIdArg,
    fmt: Annotated[
        Literal["json", "markdown"],
        typer.Option("--format", "-f", help="json: the full record and journal; markdown: an annotated "
                     "report (the task document with each phase's outputs and the verdict)."),
    ] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", dir_okay=False, help="Write to this file, not stdout.")
    ] = None,
    tasks_dir: TasksDirOpt = None,
    db: DbOpt = None,
) -> None:
    """Export one execution as JSON (record and full journal) or as an annotated Markdown report."""
    from quorum.config import load_config

    cfg = load_config(db=db, tasks_dirs=tasks_dir)
    view = run_async(load_view(cfg, execution_id))
    if fmt == "json":
        text = json.dumps(view.to_dict(all_events=True), indent=2, default=str) + "\n"
    else:
        from quorum.cli.export import markdown_report

        document, changed = _document(cfg, view.record)
        text = markdown_report(view, document, changed=changed)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out_console().print(f"wrote {output}")


def _document(cfg: Config, record: ExecutionRecord) -> tuple[str | None, bool]:
    """The task document the run used (its file, else the task by name) and whether it has changed."""
    from quorum.definition.loader import TaskLoader
    from quorum.errors import QuorumError

    loader = TaskLoader(list(cfg.tasks_dirs))
    for ref in (record.task_source, record.task):
        if not ref:
            continue
        try:
            task = loader.load(ref)
        except (QuorumError, OSError):
            continue
        changed = bool(record.task_hash and task.content_hash and task.content_hash != record.task_hash)
        return task.document or None, changed
    return None, False


def prune(
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Delete finished executions older than this (30d, 12h)."),
    ] = None,
    keep: Annotated[
        int | None, typer.Option("--keep", min=0, help="Keep only the newest N finished executions.")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete finished executions (and their journals) from the history, then reclaim the space.

    Running and paused executions are never pruned. Give --older-than, --keep, or both (with both, an
    execution is deleted only when it is older than the age AND not among the N newest).
    """
    from quorum.config import load_config

    if older_than is None and keep is None:
        fail("say what to prune: --older-than 30d, --keep 100, or both", code=ExitCode.USAGE)
    older_than_s = None if older_than is None else parse_duration(older_than, what="--older-than")
    cfg = load_config(db=db)
    deleted = run_async(_prune(cfg, older_than_s, keep))
    if as_json:
        sys.stdout.write(json.dumps({"deleted": deleted}) + "\n")
    else:
        out_console().print(f"deleted {deleted} execution{'s' if deleted != 1 else ''} from {cfg.db_shown}")


async def _prune(cfg: Config, older_than_s: float | None, keep: int | None) -> int:
    from quorum.cli.store import db_exists, opened_store

    if not db_exists(cfg):
        return 0
    async with opened_store(cfg) as store:
        return await store.prune(older_than_s=older_than_s, keep=keep)


