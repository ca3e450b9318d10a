"""``quorum pause`` and ``quorum abort``: ask the process that drives an execution to pause or abort it.

The request goes through the history store (``store.request_control``), so it reaches an execution
running in another process — another terminal, a server — which picks it up at its next step boundary.
A request given to an execution whose process died is kept and honoured when it is recovered.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from quorum.cli.common import ExitCode, exit_code_for_status, fail, out_console, parse_duration
from quorum.cli.options import DbOpt, ExecutionIdArg

if TYPE_CHECKING:
    from quorum.config import Config
    from quorum.history.base import ExecutionRecord, HistoryStore

__all__ = ("abort", "owner_alive", "pause", "request", "wait_for_status")

_ACTIVE = ("pending", "running", "paused", "waiting")
_TERMINAL = ("completed", "failed", "aborted", "timeout")

ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why (recorded in the history).")]
WaitOpt = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Wait until the execution has paused / ended.")
]
WaitTimeoutOpt = Annotated[
    str, typer.Option("--wait-timeout", help="How long --wait waits (e.g. 30s, 2m).", show_default=True)
]


def pause(
    execution_id: ExecutionIdArg,
    reason: ReasonOpt = "",
    wait: WaitOpt = False,
    wait_timeout: WaitTimeoutOpt = "60s",
    db: DbOpt = None,
) -> None:
    """Pause a running execution (in this or another process) at its next step boundary.

    Calls in flight finish and are recorded; no new step starts until `quorum resume <id>`.
    Paused time does not count against the execution's time limit.
    """
    code = request("pause", execution_id, reason, wait=wait, wait_timeout=wait_timeout, db=db)
    raise typer.Exit(code)


def abort(
    execution_id: ExecutionIdArg,
    reason: ReasonOpt = "",
    wait: WaitOpt = False,
    wait_timeout: WaitTimeoutOpt = "60s",
    db: DbOpt = None,
) -> None:
    """Abort an execution (running or paused, in this or another process): every call in flight is
    cancelled, completed outputs are kept, and its status becomes `aborted`."""
    code = request("abort", execution_id, reason, wait=wait, wait_timeout=wait_timeout, db=db)
    raise typer.Exit(code)


def request(
    action: Literal["pause", "abort"],
    execution_id: str,
    reason: str,
    *,
    wait: bool,
    wait_timeout: str,
    db: str | None,
) -> ExitCode:
    from quorum.cli.common import run_async
    from quorum.config import load_config

    timeout_s = parse_duration(wait_timeout, what="--wait-timeout")
    cfg = load_config(db=db)
    return run_async(_request(cfg, action, execution_id, reason, wait=wait, timeout_s=timeout_s))


async def _request(
    cfg: Config,
    action: Literal["pause", "abort"],
    execution_id: str,
    reason: str,
    *,
    wait: bool,
    timeout_s: float,
) -> ExitCode:
    from quorum.cli.store import db_exists, find_execution, opened_store

    if not db_exists(cfg):
        fail(f"no execution with id {execution_id!r}", details=(f"history: {cfg.db} (no history yet)",))
    console = out_console()
    async with opened_store(cfg) as store:
        record = await find_execution(store, execution_id, where=cfg.db)
        if record.status in _TERMINAL:
            fail(f"execution {record.id} is already {record.status}; there is nothing to {action}")
        if action == "pause" and record.status == "paused":
            console.print(f"execution {record.id} is already paused; continue it with "
                          f"[bold]quorum resume {record.id}[/]")
            return ExitCode.OK
        await store.request_control(record.id, action, reason or f"{action} requested from the command line")
        alive = await owner_alive(store, record)
        verb = "pause" if action == "pause" else "abort"
        console.print(f"{verb} requested for execution {record.id} ({record.task})")
        if not alive:
            console.print(
                "its process is gone: the request is kept and honoured when the execution is recovered "
                f"(quorum resume {record.id}, or quorum recover)"
            )
            return ExitCode.OK
        if not wait:
            return ExitCode.OK
        target = ("paused", *_TERMINAL) if action == "pause" else _TERMINAL
        final = await wait_for_status(store, record.id, target, timeout_s=timeout_s)
        if final is None:
            fail(f"execution {record.id} did not {action} within {timeout_s:g}s; the request stays pending")
        console.print(f"execution {record.id} is {final.status}")
        if final.status == "paused":
            console.print(f"continue it with [bold]quorum resume {record.id}[/]")
        reached = {"pause": "paused", "abort": "aborted"}[action]
        # it may also have ended some other way before the request was taken up
        return ExitCode.OK if final.status == reached else exit_code_for_status(final.status)


async def owner_alive(store: HistoryStore, record: ExecutionRecord) -> bool:
    """Whether a live process drives the execution (a dead owner or an expired lease makes it an
    orphan, which ``quorum resume`` / ``quorum recover`` take over)."""
    if record.status not in _ACTIVE or not record.owner:
        return False
    orphans = await store.list_orphans()
    return all(o.id != record.id for o in orphans)


async def wait_for_status(
    store: HistoryStore, execution_id: str, statuses: tuple[str, ...], *, timeout_s: float
) -> ExecutionRecord | None:
    """Poll the store until the execution reaches one of ``statuses``; None on timeout."""
    import asyncio

    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        record = await store.get_execution(execution_id)
        if record is not None and record.status in statuses:
            return record
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.5)
