"""``quorum pause``, ``quorum abort`` and ``quorum resume``: control an execution from the command line.

Pause and abort ask the process that drives an execution to pause or abort it. ``quorum resume``
continues it (``run_cmd``), or with ``--upgrade-to`` moves it onto another version of its task first.

The request goes through the history store (``store.request_control``), so it reaches an execution
running in another process — another terminal, a server — which picks it up at its next step boundary.
A request given to an execution whose process died is kept and honoured when it is recovered.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from quorum.cli.common import ExitCode, exit_code_for_status, fail, out_console, parse_duration
from quorum.cli.options import AgentsDirOpt, DbOpt, ExecutionIdArg, JsonOpt, ModelOpt, PlainOpt, TasksDirOpt
from quorum.cli.store import owner_alive

if TYPE_CHECKING:
    from quorum.config import Config
    from quorum.definition.model import Task
    from quorum.definition.upgrade import UpgradePlan
    from quorum.engine.executor import TaskExecutor
    from quorum.engine.handle import ExecutionHandle
    from quorum.history.base import ExecutionRecord, HistoryStore

__all__ = ("abort", "pause", "request", "resume", "wait_for_status")

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


UpgradeOpt = Annotated[
    str | None,
    typer.Option("--upgrade-to", metavar="VERSION",
                 help="Go on with this version of the task (1.3.0, 1.3, ^1, or a task file): phases whose "
                 "definition is unchanged keep their results; changed phases and all downstream run again.",
                 show_default=False),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="With --upgrade-to: say what would be kept and run again, and stop.")
]


def resume(
    execution_id: ExecutionIdArg,
    upgrade_to: UpgradeOpt = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    plain: PlainOpt = False,
    model: ModelOpt = None,
    db: DbOpt = None,
    tasks_dir: TasksDirOpt = None,
    agents_dir: AgentsDirOpt = None,
) -> None:
    """Resume a paused execution, or one whose process died, from its journal.

    Completed phases and completed agent calls are not run again. If another live process drives the
    execution (paused with `quorum pause`), that process is asked to continue it; otherwise this
    command drives it to its end, with the same output and exit status as `quorum run`. It goes on with
    the definition it started with, whatever versions of the task exist now.

    With --upgrade-to it goes on with another version of its task instead: the phase content hashes
    decide which results are kept; the command says what it keeps and runs again before it does so
    (--dry-run only says).
    """
    if upgrade_to is None and dry_run:
        fail("--dry-run goes with --upgrade-to (a plain resume changes nothing to preview)",
             code=ExitCode.USAGE)
    from quorum.cli.common import run_async
    from quorum.config import load_config

    cfg = load_config(db=db, tasks_dirs=tasks_dir, agents_dirs=agents_dir, models=model)
    if upgrade_to is None:
        raise typer.Exit(run_async(_resume(cfg, execution_id, as_json=as_json, plain=plain,
                                           models_given=bool(model))))
    raise typer.Exit(run_async(_upgrade(cfg, execution_id, upgrade_to, dry_run=dry_run, as_json=as_json,
                                        plain=plain, models_given=bool(model))))


async def _resume(cfg: Config, execution_id: str, *, as_json: bool, plain: bool, models_given: bool) -> int:
    import json
    import sys

    from quorum.cli.run_cmd import follow, view_for

    async with _unfinished(cfg, execution_id, ended_hint="see it with `quorum show {id}`") as (store, record):
        if await owner_alive(store, record):
            if record.status != "paused":
                fail(f"execution {record.id} is running in another process ({record.owner}); "
                     "there is nothing to resume")
            if models_given:
                fail(f"execution {record.id} is paused in another process ({record.owner}), whose agents "
                     "are built already: --model cannot change them there",
                     details=(f"resume it there without --model (`quorum resume {record.id}`), or abort "
                              f"it and fork it: `quorum fork {record.id} --model ...`",))
            await store.request_control(record.id, "resume", "requested from the command line")
            if as_json:
                sys.stdout.write(json.dumps({"id": record.id, "status": "resume requested"}) + "\n")
            else:
                out_console().print(f"resume requested for execution {record.id}; the process driving it "
                                    f"({record.owner}) continues it")
            return ExitCode.OK
        from quorum.cli.choices import recorded_choices

        choices = recorded_choices(cfg, record, models_given=models_given)
        view = view_for(None, as_json=as_json, plain=plain)
        return await follow(
            cfg, store, view, lambda executor: executor.resume_execution(record.id), as_json=as_json,
            choices=choices,
        )


@asynccontextmanager
async def _unfinished(cfg: Config, execution_id: str, *,
                      ended_hint: str) -> AsyncIterator[tuple[HistoryStore, ExecutionRecord]]:
    """The history and the execution's record, refused (with ``ended_hint``, ``{id}`` filled in) when it
    has ended: there is nothing to resume."""
    from quorum.cli.run_cmd import open_history
    from quorum.cli.store import db_exists, find_execution

    if not db_exists(cfg):
        fail(f"no execution with id {execution_id!r}", details=(f"history: {cfg.db} (no history yet)",))
    store = await open_history(cfg)
    try:
        record = await find_execution(store, execution_id, where=cfg.db)
        if record.status in _TERMINAL:
            fail(f"execution {record.id} already ended as {record.status}; there is nothing to resume",
                 details=(ended_hint.format(id=record.id),))
        yield store, record
    finally:
        await store.close()


def _target(cfg: Config, record: ExecutionRecord, wanted: str) -> Task:
    """The task to move to: a version of the execution's task (``1.3.0``, ``^1``), or a task file."""
    from quorum.definition.loader import TaskLoader

    loader = TaskLoader(list(cfg.tasks_dirs))
    if "/" in wanted or wanted.endswith(".md"):
        return loader.load(wanted)
    return loader.load(f"{record.task}@{wanted.removeprefix('@')}")


async def _upgrade(
    cfg: Config, execution_id: str, wanted: str, *, dry_run: bool, as_json: bool, plain: bool,
    models_given: bool,
) -> int:
    from quorum.cli.choices import recorded_choices
    from quorum.cli.run_cmd import follow, view_for
    from quorum.engine.recovery import upgrade_plan

    hint = "fork it onto the new version instead: `quorum fork {id} --task <file>`"
    async with _unfinished(cfg, execution_id, ended_hint=hint) as (store, record):
        if await owner_alive(store, record):
            fail(f"execution {record.id} is driven by a live process ({record.owner}); an upgrade takes "
                 "it over from its journal, so that process must let it go first",
                 details=("abort it there, or stop that process (Ctrl-C), then run this again",))
        target = _target(cfg, record, wanted)
        plan = await upgrade_plan(store, record.id, target)
        _say(plan, dry_run=dry_run, as_json=as_json)
        if dry_run:
            return ExitCode.OK
        choices = recorded_choices(cfg, record, models_given=models_given)
        return await follow(cfg, store, view_for(target, as_json=as_json, plain=plain),
                            lambda executor: _launch_upgrade(executor, record.id, target),
                            as_json=as_json, choices=choices)


def _say(plan: UpgradePlan, *, dry_run: bool, as_json: bool) -> None:
    """The plan, before anything happens: on stdout, or with --json as JSON for a dry run and as text on
    stderr otherwise (stdout then holds the result alone, as for `quorum run --json`)."""
    import json
    import sys

    if as_json and dry_run:
        sys.stdout.write(json.dumps({"dry_run": True, "upgrade": plan.to_dict()}, indent=2) + "\n")
        return
    from rich.markup import escape

    from quorum.cli.common import err_console

    console = err_console() if as_json else out_console()
    for line in plan.lines():
        console.print(escape(line), soft_wrap=True)
    if dry_run:
        console.print("dry run: nothing was changed")


async def _launch_upgrade(executor: TaskExecutor, execution_id: str, target: Task) -> ExecutionHandle:
    return await executor.resume_execution(execution_id, upgrade_to=target)
