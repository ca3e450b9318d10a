"""``quorum recover``: take over the executions whose process died, and drive them to their end."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer

from quorum.cli.common import ExitCode, out_console, run_async
from quorum.cli.options import AgentsDirOpt, DbOpt, JsonOpt, ModelOpt, TasksDirOpt

if TYPE_CHECKING:
    from collections.abc import Mapping

    from quorum.agents.choices import AgentChoices
    from quorum.config import Config
    from quorum.engine.handle import ExecutionHandle
    from quorum.engine.recovery import Refusal
    from quorum.history.base import ExecutionRecord, HistoryStore

__all__ = ("recover",)


def recover(
    as_json: JsonOpt = False,
    model: ModelOpt = None,
    db: DbOpt = None,
    tasks_dir: TasksDirOpt = None,
    agents_dir: AgentsDirOpt = None,
) -> None:
    """Find executions left running by a process that died, and resume them to their end.

    A dead owner on this host is recognised at once, elsewhere when its lease expires. Paused ones
    stay paused (resume them with `quorum resume <id>`), and an abort asked before the crash is
    honoured. Exit status 0 when every recovered execution completed (or there was none), else 1.
    """
    from quorum.config import load_config

    cfg = load_config(db=db, tasks_dirs=tasks_dir, agents_dirs=agents_dir, models=model)
    raise typer.Exit(run_async(_recover(cfg, as_json=as_json, models_given=bool(model))))


async def _recover(cfg: Config, *, as_json: bool, models_given: bool) -> int:
    from quorum.cli.render import PlainView
    from quorum.cli.run_cmd import build_executor, close_executor, open_history
    from quorum.cli.store import db_exists

    if not db_exists(cfg):
        orphans = []
        store = None
    else:
        store = await open_history(cfg)
        orphans = await store.list_orphans()
    if store is None or not orphans:
        if as_json:
            sys.stdout.write("[]\n")
        else:
            out_console().print("nothing to recover")
        if store is not None:
            await store.close()
        return ExitCode.OK
    refusals: dict[str, Refusal] = {}
    try:
        handles: dict[str, ExecutionHandle] = {}
        # Each execution goes on with the agents it recorded (models, servers): one executor per choice.
        for choices, ids in _by_choices(cfg, orphans, models_given=models_given):
            executor = build_executor(cfg, store, choices)
            if not as_json:
                view = PlainView(sys.stdout, prefix_ids=True)
                executor.on("*", view.on_event)
            try:
                # The engine's recovery: running orphans are resumed (pause and abort requests made
                # before the crash honoured, an execution that keeps crashing given up, one that can
                # never be resumed marked failed), paused ones left parked.
                recovered = await executor.recover(
                    only=ids, on_refused=lambda r: refusals.__setitem__(r.record.id, r)
                )
                handles.update((h.id, h) for h in recovered)
            finally:
                await close_executor(executor)
        rows = [await _row(store, record, handles, refusals.get(record.id)) for record in orphans]
    finally:
        await store.close()
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        _print_recovered(rows)
    ok = all(r["status"] in ("completed", "paused") for r in rows)
    return ExitCode.OK if ok else ExitCode.FAILED


def _by_choices(
    cfg: Config, orphans: list[ExecutionRecord], *, models_given: bool
) -> list[tuple[AgentChoices, frozenset[str]]]:
    """The orphans grouped by the agent choices each goes on with, in the order first seen."""
    from quorum.cli.choices import recorded_choices

    groups: dict[str, tuple[AgentChoices, set[str]]] = {}
    for record in orphans:
        choices = recorded_choices(cfg, record, models_given=models_given)
        key = json.dumps(choices.to_dict(), sort_keys=True)
        groups.setdefault(key, (choices, set()))[1].add(record.id)
    return [(choices, frozenset(ids)) for choices, ids in groups.values()]


async def _row(
    store: HistoryStore, record: ExecutionRecord, handles: Mapping[str, ExecutionHandle],
    refusal: Refusal | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {"id": record.id, "task": record.task}
    handle = handles.get(record.id)
    if handle is not None:
        result = await handle.result()
        row.update(status=result.status.value, error=result.error)
    else:
        now = await store.get_execution(record.id)
        row.update(status=now.status if now is not None else "not recovered",
                   error=now.error if now is not None else None)
    if refusal is not None:
        from quorum.engine.recovery import UnresumableError

        error = refusal.error
        row["error"] = str(error).splitlines()[0]
        if isinstance(error, UnresumableError):
            row.update(why=error.why, fix=error.fix)
        if not refusal.marked_failed and row["status"] in ("running", "pending"):
            row["status"] = "not recovered"
        return row
    if row["status"] == "paused":
        row["note"] = f"left paused; quorum resume {record.id}"
    elif handle is None and row["status"] in ("running", "pending"):
        row.update(status="not recovered", error="another process took it over, or it could not be resumed")
    return row


def _print_recovered(rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape

    from quorum.cli import report
    from quorum.cli.report import status_text

    table = report.table("id", "task", "status", "note", title="recovered")
    for r in rows:
        table.add_row(r["id"], escape(r["task"]), status_text(r["status"]),
                      escape(r.get("note") or r.get("error") or ""))
    console = out_console()
    console.print(table)
    for r in rows:
        if r.get("why"):
            # why it could not be resumed and how to go on: the table's cell only says that it was not
            console.print(f"[bold]{r['id']}[/]: {escape(r['error'] or '')}", soft_wrap=True)
            console.print(f"  why: {escape(r['why'])}", soft_wrap=True)
            console.print(f"  fix: {escape(r['fix'])}", soft_wrap=True)
