"""``quorum recover``: take over the executions whose process died, and drive them to their end."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer

from quorum.cli.common import ExitCode, out_console, run_async
from quorum.cli.options import AgentsDirOpt, DbOpt, JsonOpt, ModelOpt, TasksDirOpt

if TYPE_CHECKING:
    from quorum.config import Config

__all__ = ("recover",)


def recover(
    as_json: JsonOpt = False,
    model: ModelOpt = None,
    db: DbOpt = None,
    tasks_dir: TasksDirOpt = None,
    agents_dir: AgentsDirOpt = None,
) -> None:
    """Find executions left running or paused by a process that died, and resume them to their end.

    A dead owner on this host is recognised at once, elsewhere when its lease expires. Paused ones
    stay paused (resume them with `quorum resume <id>`), and an abort asked before the crash is
    honoured. Exit status 0 when every recovered execution completed (or there was none), else 1.
    """
    from quorum.config import load_config

    cfg = load_config(db=db, tasks_dirs=tasks_dir, agents_dirs=agents_dir, models=model)
    raise typer.Exit(run_async(_recover(cfg, as_json=as_json)))


async def _recover(cfg: Config, *, as_json: bool) -> int:
    import asyncio

    from quorum.cli.render import PlainView
    from quorum.cli.run_cmd import build_executor, close_executor, open_history
    from quorum.cli.store import db_exists
    from quorum.errors import QuorumError

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
        rows: list[dict[str, Any]] = []

        async def one(record_id: str, task: str, status: str) -> None:
            try:
                if status == "paused":
                    rows.append({"id": record_id, "task": task, "status": "paused",
                                 "note": f"left paused; quorum resume {record_id}"})
                    return
                handle = await executor.resume_execution(record_id)
                result = await handle.result()
                rows.append({"id": record_id, "task": task, "status": result.status.value,
                             "error": result.error})
            except QuorumError as exc:
                rows.append({"id": record_id, "task": task, "status": "not recovered", "error": str(exc)})

        await asyncio.gather(*(one(r.id, r.task, r.status) for r in orphans))
        await close_executor(executor)
    finally:
        await store.close()
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        _print_recovered(rows)
    ok = all(r["status"] in ("completed", "paused") for r in rows)
    return ExitCode.OK if ok else ExitCode.FAILED


def _print_recovered(rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape

    from quorum.cli import report
    from quorum.cli.report import status_text

    table = report.table("id", "task", "status", "note", title="recovered")
    for r in rows:
        table.add_row(r["id"], escape(r["task"]), status_text(r["status"]),
                      escape(r.get("note") or r.get("error") or ""))
    out_console().print(table)
