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

    from quorum.config import Config
    from quorum.engine.handle import ExecutionHandle
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
    raise typer.Exit(run_async(_recover(cfg, as_json=as_json)))


async def _recover(cfg: Config, *, as_json: bool) -> int:
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
    try:
        executor = build_executor(cfg, store)
        if not as_json:
            view = PlainView(sys.stdout, prefix_ids=True)
            executor.on("*", view.on_event)
        try:
            # The engine's recovery: running orphans are resumed (pause and abort requests made before
            # the crash honoured, an execution that keeps crashing given up), paused ones left parked.
            handles: dict[str, ExecutionHandle] = {h.id: h for h in await executor.recover()}
            rows = [await _row(store, record, handles) for record in orphans]
        finally:
            await close_executor(executor)
    finally:
        await store.close()
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        _print_recovered(rows)
    ok = all(r["status"] in ("completed", "paused") for r in rows)
    return ExitCode.OK if ok else ExitCode.FAILED


async def _row(
    store: HistoryStore, record: ExecutionRecord, handles: Mapping[str, ExecutionHandle]
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
    out_console().print(table)
