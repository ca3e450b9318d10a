"""``quorum run <task> --dry-run`` and ``quorum run <task> --fixtures FILE``.

``--dry-run`` prints the plan of :func:`quorum.planning.dry_run` (``--json``: its ``to_dict()``): the
input is checked as for a real run, no agent is called, nothing is written to the history (a history
file that does not exist yet is not created). ``--fixtures`` runs the whole execution with every agent
answered from a fixtures file (:mod:`quorum.planning._fixtures`) or from a ``--record`` file (the
SQLite response cache, replayed), with the live view and the verdict of a real run, and records
nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quorum.cli.common import exit_code_for_status, out_console

if TYPE_CHECKING:
    from quorum.cli.render import EventSink
    from quorum.config import Config
    from quorum.definition.model import Task
    from quorum.engine.executor import TaskExecutor
    from quorum.history.base import HistoryStore
    from quorum.planning import DryRunPlan, Estimate

__all__ = ("RunTools", "dry_run_command", "fixtures_command", "planning_command", "render_plan")

_SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunTools:
    """What ``quorum run`` lends these commands (handed over, not imported: cli.run_cmd imports this
    module, and no module of the package is part of an import cycle)."""

    build_executor: Callable[..., TaskExecutor]
    close_executor: Callable[[TaskExecutor], Awaitable[None]]
    print_result: Callable[..., None]
    view_for: Callable[..., EventSink | None]
    follow: Callable[..., Awaitable[int]]


def history_exists(cfg: Config) -> bool:
    """Whether the configured history is there to read (a dry run creates no SQLite file)."""
    from quorum.history._location import parse_location

    location = parse_location(str(cfg.db))
    return location.path is None or Path(location.path).exists()


async def _history(cfg: Config) -> HistoryStore:
    from quorum.history.stores import open_store

    store = open_store(cfg.db)
    await store.open()
    return store


async def dry_run_command(cfg: Config, task: Task, input: dict[str, Any], tools: RunTools, *,
                          as_json: bool, no_history: bool) -> int:
    from quorum.planning import dry_run

    build_executor, close_executor = tools.build_executor, tools.close_executor
    store = None if no_history else await _history(cfg)
    try:
        executor = build_executor(cfg, store)
        try:
            plan = await dry_run(executor, task, input)
        finally:
            await close_executor(executor)
    finally:
        if store is not None:
            await store.close()
    if as_json:
        sys.stdout.write(json.dumps(plan.to_dict(), indent=2, default=str) + "\n")
    else:
        render_plan(plan)
    return 0


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.0f} s"
    return f"{value / 60:.1f} min"


def _usd(value: float | None) -> str:
    if value is None:
        return "?"
    return "$0" if value == 0 else f"${value:.4f}"


def _estimate(e: Estimate, unit: str, *, basis: bool = True) -> str:
    show = _seconds if unit == "s" else _usd
    if e.upper_bound:
        text = f"≤ {show(e.p95)}"
    elif e.p50 is None:
        text = "unknown"
    elif show(e.p50) == show(e.p95):
        text = show(e.p50)
    else:
        text = f"{show(e.p50)} (p95 {show(e.p95)})"
    return f"{text} [dim]({e.basis})[/]" if basis else text


def render_plan(plan: DryRunPlan) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = out_console()
    console.print(f"[bold]dry run[/] {escape(plan.task)} {escape(plan.version)}: nothing was called or "
                  "recorded", soft_wrap=True)
    table = Table(show_edge=False, pad_edge=False)
    for column in ("phase", "will", "agent calls", "time", "cost", "basis"):
        table.add_column(column)
    fates = {"runs": "run", "skipped": "[dim]skip[/]", "may-run": "[yellow]may run[/]",
             "fails": "[red]fail[/]"}
    for p in plan.phases:
        calls = "-" if p.fate == "skipped" else f"{p.calls}{'' if p.agents_known else '+'}"
        if p.child_tasks:
            calls += f" + {p.child_tasks} task"
        idle = p.fate in ("skipped", "fails")
        time_text = "" if idle else _estimate(p.duration, "s", basis=False)
        cost_text = "" if idle else _estimate(p.cost, "usd", basis=False)
        bases = "" if idle else f"[dim]{p.duration.basis} / {p.cost.basis}[/]"
        table.add_row(escape(p.name), fates[p.fate], calls, time_text, cost_text, bases)
    console.print(table)
    for p in plan.phases:
        if p.reason:
            console.print(f"  [dim]{escape(p.name)}: {escape(p.reason)}[/]", soft_wrap=True)
    console.print(f"critical path: {escape(' → '.join(plan.critical_path))}", soft_wrap=True)
    calls = f"{plan.calls}{'' if plan.calls_known else '+'}"
    console.print(f"agent calls:   {calls}")
    console.print(f"wall time:     {_estimate(plan.wall, 's')}  [dim]{escape(plan.wall.detail)}[/]",
                  soft_wrap=True)
    console.print(f"cost:          {_estimate(plan.cost, 'usd')}  [dim]{escape(plan.cost.detail)}[/]",
                  soft_wrap=True)
    history = f"{plan.history} completed execution(s) of this version" if plan.history else "none"
    console.print(f"history:       {history}")
    for note in plan.notes:
        console.print(f"[dim]note: {escape(note)}[/]", soft_wrap=True)


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER
    except OSError:
        return False


async def fixtures_command(cfg: Config, task: Task, input: dict[str, Any], fixtures: Path,
                           tools: RunTools, *, as_json: bool, plain: bool) -> int:
    """Simulate the execution (see the module); the exit status is a real run's."""
    build_executor, close_executor = tools.build_executor, tools.close_executor
    view = tools.view_for(task, as_json=as_json, plain=plain)
    if _is_sqlite(fixtures):
        from quorum.cli.exchanges import Exchanges

        return await tools.follow(cfg, None, view, lambda executor: executor.start(task, input),
                                  as_json=as_json, exchanges=Exchanges(path=fixtures, mode="replay"))
    from quorum.cli.driver import RunSession
    from quorum.planning import MissingFixtureError, check_fixtures, fixture_executor, load_fixtures

    loaded = load_fixtures(fixtures)
    real = build_executor(cfg, None)
    try:
        checked = real.check(task, input)
        check_fixtures(task, checked, real.agent_manager, loaded)
        executor, agents = fixture_executor(real.agent_manager, loaded,
                                            time_limit_s=real.options.for_task(task).time_limit_s)
        session = RunSession(None, view=view)
        session.install()
        try:
            session.bind(executor)
            outcome = await session.drive(lambda: executor.start(task, checked))
        finally:
            session.uninstall()
            if view is not None:
                view.close()
        await executor.aclose()
    finally:
        await close_executor(real)
    result = outcome.result
    if agents.missing:
        raise MissingFixtureError(agents.missing, source=loaded.source, result=result)
    if result is None:  # paused by Ctrl-C: a simulation is not kept, so there is nothing to resume
        out_console().print("simulation interrupted; nothing was recorded")
        return 5
    if as_json:
        sys.stdout.write(json.dumps({**result.to_dict(), "simulated": True}, indent=2, default=str) + "\n")
    else:
        tools.print_result(result, recorded=False)
        out_console().print(f"[dim]simulated from {escape_text(str(fixtures))}: {agents.calls} answers, "
                            "no agent called, nothing recorded[/]", soft_wrap=True)
    return exit_code_for_status(result.status.value)


def escape_text(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def planning_command(cfg: Config, task: Task, input: dict[str, Any], tools: RunTools, *, dry_run: bool,
                     fixtures: Path | None, as_json: bool, plain: bool, no_history: bool,
                     exclusive: dict[str, object], prices: AbstractContextManager[None]) -> int:
    """``quorum run``'s ``--dry-run`` / ``--fixtures`` (the options that exclude them refused)."""
    from quorum.cli.common import ExitCode, fail, run_async

    given = [name for name, value in exclusive.items() if value]
    if dry_run and fixtures is not None:
        fail("--dry-run and --fixtures exclude each other", code=ExitCode.USAGE,
             details=("--dry-run plans without answers; --fixtures runs with recorded ones",))
    if given:
        used = "--dry-run" if dry_run else "--fixtures"
        fail(f"{used} does not combine with {', '.join(given)}", code=ExitCode.USAGE,
             details=(f"{used} calls no agent and records nothing here",))
    with prices:
        if dry_run:
            return run_async(dry_run_command(cfg, task, input, tools, as_json=as_json,
                                             no_history=no_history or not history_exists(cfg)))
        assert fixtures is not None
        return run_async(fixtures_command(cfg, task, input, fixtures, tools, as_json=as_json, plain=plain))
