"""``quorum run`` and ``quorum resume``: an execution driven in this process, with its progress and report."""

from __future__ import annotations

import contextlib
import json
import sys
import weakref
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from quorum.cli.common import (
    ExitCode,
    err_console,
    exit_code_for_status,
    fail,
    local_time,
    out_console,
    run_async,
)
from quorum.cli.options import (
    AgentsDirOpt,
    ClusterOpt,
    DbOpt,
    ModelOpt,
    PlainOpt,
    TaskArg,
    TasksDirOpt,
)

if TYPE_CHECKING:
    from quorum.agents.choices import AgentChoices
    from quorum.cli.driver import Outcome
    from quorum.cli.exchanges import Exchanges
    from quorum.cli.render import EventSink
    from quorum.config import Config
    from quorum.definition.model import Task
    from quorum.engine.executor import TaskExecutor
    from quorum.engine.handle import ExecutionHandle
    from quorum.engine.results import ExecutionResult
    from quorum.errors import InputValidationError
    from quorum.fanout import EventPublisher
    from quorum.history.base import HistoryStore
    from quorum.telemetry import Telemetry

__all__ = (
    "build_executor", "close_executor", "follow", "open_history", "print_result", "run", "view_for",
)

_PUBLISHERS: weakref.WeakKeyDictionary[TaskExecutor, EventPublisher] = weakref.WeakKeyDictionary()
"""The live-events publisher :func:`build_executor` attached to an executor, closed with it."""
_TELEMETRY: weakref.WeakKeyDictionary[TaskExecutor, Telemetry] = weakref.WeakKeyDictionary()
"""Its traces/metrics/alerts handlers (inert when nothing is configured), flushed when it closes."""

ModelPricesOpt = Annotated[
    Path | None,
    typer.Option("--model-prices", exists=True, dir_okay=False, metavar="FILE",
                 help="JSON or TOML prices per million tokens by model, replacing entries of the built-in "
                 "table that budgets use (also QUORUM_MODEL_PRICES)."),
]


def run(
    task: TaskArg,
    inputs: Annotated[
        list[str] | None,
        typer.Argument(help="Inputs as key=value; the task's requirements give their types.",
                       metavar="[KEY=VALUE]...", show_default=False),
    ] = None,
    input_file: Annotated[
        Path | None,
        typer.Option("--input", "-i", exists=True, dir_okay=False,
                     help="A JSON object of inputs; key=value arguments override its fields."),
    ] = None,
    prices: Annotated[
        Path | None,
        typer.Option("--prices", exists=True, dir_okay=False,
                     help="Price history given to the task as input `prices`: CSV date,close[,volume], a "
                     "Yahoo export (its Adj Close) or ccxt OHLCV (JSON or CSV); wins over --data."),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option("--data", metavar="SOURCE",
                     help="Where the ticker's prices come from: yfinance, ccxt:<exchange>, csv:<file>, cache "
                     "or none (default, also QUORUM_DATA: a fresh cached series, else the first provider "
                     "that answers, else the cache with its age). Needs pip install 'quorum[data]'."),
    ] = None,
    model: ModelOpt = None,
    timeout: Annotated[
        str | None,
        typer.Option("--timeout", help="Time limit of the execution (e.g. 90s, 5m); replaces the task's "
                     "maxExecutionTime. A plain number is seconds."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only the result as JSON (ExecutionResult's fields).")
    ] = False,
    plain: PlainOpt = False,
    no_history: Annotated[
        bool, typer.Option("--no-history", help="Keep no record (in-memory history; cannot be resumed).")
    ] = False,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", min=0, metavar="USD",
                     help="Stop the execution once its agents cost more (replaces the task's maxCost; "
                     "unpriced models are priced from the price table)."),
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option("--max-tokens", min=0, metavar="N", help="Stop once the agents used more tokens "
                     "(in + out; replaces the task's maxTokens)."),
    ] = None,
    max_calls: Annotated[
        int | None,
        typer.Option("--max-calls", min=0, metavar="N", help="Refuse agent calls beyond N (replaces the "
                     "task's maxCalls)."),
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option("--record", dir_okay=False, metavar="FILE",
                     help="Record every agent exchange (LLM requests and answers) to this file."),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option("--replay", exists=True, dir_okay=False, metavar="FILE",
                     help="Answer every agent call from a --record file, without the network; a call it "
                     "does not hold fails."),
    ] = None,
    model_prices: ModelPricesOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the input and print what would run, the agent calls, "
                           "the critical path, the expected time and cost (from this task version's "
                           "history, else timeouts and prices); calls no agent, records nothing.")
    ] = False,
    fixtures: Annotated[
        Path | None,
        typer.Option("--fixtures", exists=True, dir_okay=False, metavar="FILE",
                     help="Simulate the whole execution with every agent answered from FILE (recorded "
                     "answers as JSON, or a --record file); calls no agent, records nothing."),
    ] = None,
    db: DbOpt = None,
    tasks_dir: TasksDirOpt = None,
    agents_dir: AgentsDirOpt = None,
    cluster: ClusterOpt = None,
) -> None:
    """Run a task and show its progress, then its verdict.

    On a terminal a live view shows the phases with their state, the agents in flight, retries and
    skipped phases; otherwise one line per event. Ctrl-C pauses (resume with `quorum resume <id>`);
    Ctrl-C again aborts. Exit status: 0 completed, 1 failed, 2 bad usage or input, 3 timeout,
    4 aborted, 5 paused.
    """
    from dataclasses import replace

    from quorum.cli.common import parse_duration
    from quorum.cli.inputs import build_input
    from quorum.config import load_config
    from quorum.definition.loader import TaskLoader
    from quorum.errors import InputValidationError

    cfg = load_config(db=db, tasks_dirs=tasks_dir, agents_dirs=agents_dir, models=model, timeout=timeout)
    parsed = TaskLoader(list(cfg.tasks_dirs)).load(task)
    raw = build_input(parsed, inputs or [], input_file=input_file, prices=prices)
    raw.update(_market_data(parsed, raw, data=data, prices=prices))
    try:
        checked = _validate(parsed, raw)
    except InputValidationError as exc:
        _input_error(parsed, exc)
    if cfg.timeout:
        parsed = replace(parsed, max_execution_time_s=parse_duration(cfg.timeout, what="--timeout"))
    parsed = _with_budget(parsed, max_cost=max_cost, max_tokens=max_tokens, max_calls=max_calls)
    if dry_run or fixtures is not None:
        from quorum.cli.dry_run import RunTools, planning_command

        tools = RunTools(build_executor=build_executor, close_executor=close_executor,
                         print_result=print_result, view_for=view_for, follow=follow)
        raise typer.Exit(planning_command(cfg, parsed, checked, tools, dry_run=dry_run, fixtures=fixtures,
                                          as_json=as_json, plain=plain, no_history=no_history,
                                          exclusive={"--record": record, "--replay": replay,
                                                     "--cluster": cluster},
                                          prices=_prices(model_prices)))
    exchanges = _exchanges(record=record, replay=replay)
    from quorum.cluster.command import cluster_choice, run_on_cluster

    on_cluster = cluster_choice(cluster)
    if on_cluster is not None:
        if exchanges is not None or no_history:
            fail("--cluster runs on other machines: --record, --replay and --no-history apply only here",
                 code=ExitCode.USAGE)
        view = view_for(parsed, as_json=as_json, plain=plain)
        raise typer.Exit(run_async(run_on_cluster(cfg, parsed, checked, cluster=on_cluster,
                                                  as_json=as_json, view=view, print_result=print_result)))
    with _prices(model_prices):
        code = run_async(_run(cfg, parsed, checked, as_json=as_json, plain=plain, no_history=no_history,
                              exchanges=exchanges))
    raise typer.Exit(code)


def _market_data(task: Task, raw: dict[str, Any], *, data: str | None, prices: Path | None) -> dict[str, Any]:
    """``prices`` and ``marketData`` for the task's ticker from the ``--data`` source (see quorum.market),
    resolved before the run so they are stored with it and a resume runs on the same bars; ``--prices``
    wins, and then only its provenance (format notes) is added. Says on stderr which source was used."""
    from rich.markup import escape

    from quorum.errors import InputValidationError
    from quorum.market._cache import PriceCache
    from quorum.market._choice import parse_choice
    from quorum.market._errors import MarketDataError
    from quorum.market._inputs import market_input, provenance_of_file
    from quorum.market._paths import cache_path

    declared = {r.name for r in task.requirements}
    try:
        if prices is not None:
            if data is not None:
                err_console().print(f"[yellow]note:[/] --prices {escape(str(prices))} wins over "
                                    f"--data {escape(data)}", soft_wrap=True)
            if "marketData" not in declared:
                return {}
            return {"marketData": provenance_of_file(prices, ticker=str(raw.get("ticker") or ""))}
        choice = parse_choice(data)
        added = market_input(raw, declared=declared, defaults={r.name: r.default for r in task.requirements},
                             choice=choice, cache=PriceCache(cache_path()))
    except InputValidationError as exc:
        fail(exc.problems[0] if exc.problems else str(exc), code=ExitCode.USAGE,
             details=tuple(exc.problems[1:]))
    except MarketDataError as exc:
        hint = (exc.hint,) if exc.hint else ()
        if exc.reason == "missing" and not choice.explicit:
            # No source was asked for and none answered (offline, no cache): the run goes on without
            # market data, and its verdict says what is missing; an explicit --data is an error.
            err_console().print(f"[yellow]note:[/] {escape(exc.message)}", soft_wrap=True)
            for line in hint:
                err_console().print(f"  {escape(line)}", soft_wrap=True)
            return {}
        if exc.reason == "missing":
            hint = (*hint, "or run without market data: --data none")
        fail(exc.message, code=ExitCode.USAGE, details=hint)
    for message in added.messages:
        err_console().print(f"[dim]{escape(message)}[/]", soft_wrap=True)
    return added.fields


def _with_budget(task: Task, *, max_cost: float | None, max_tokens: int | None,
                 max_calls: int | None) -> Task:
    """The task with the budget limits given on the command line in place of its own."""
    from dataclasses import replace

    from quorum.definition.model import frozen_mapping

    given = {"maxCost": max_cost, "maxTokens": max_tokens, "maxCalls": max_calls}
    if all(v is None for v in given.values()):
        return task
    kept = {k: v for k, v in task.budget.items() if given.get(k) is None}
    return replace(task, budget=frozen_mapping({**kept, **{k: v for k, v in given.items() if v is not None}}))


def _exchanges(*, record: Path | None, replay: Path | None) -> Exchanges | None:
    from quorum.cli.exchanges import Exchanges

    if record is not None and replay is not None:
        fail("--record and --replay exclude each other", code=ExitCode.USAGE,
             details=("record a run first (--record FILE), then replay it (--replay FILE)",))
    if record is not None:
        return Exchanges(path=record, mode="record")
    if replay is not None:
        return Exchanges(path=replay, mode="replay")
    return None


def _prices(path: Path | None) -> AbstractContextManager[None]:
    import os

    from quorum.agents.prices import PriceTable, load_price_file, using_prices

    source = path if path is not None else os.environ.get("QUORUM_MODEL_PRICES") or None
    if source is None:
        return contextlib.nullcontext()
    return using_prices(load_price_file(Path(source), PriceTable()))


def _validate(task: Task, raw: dict[str, Any]) -> dict[str, Any]:
    from quorum.definition.parser import TaskParser

    return TaskParser().validate_task_requirements(task, raw)


def _input_error(task: Task, exc: InputValidationError) -> NoReturn:
    from rich.markup import escape

    from quorum.cli.inputs import requirements_table, usage_line

    console = err_console()
    console.print(f"[bold red]error:[/] invalid input for task {escape(task.name)}; nothing was started",
                  soft_wrap=True)
    for problem in exc.problems:
        console.print(f"  - {escape(problem)}", soft_wrap=True)
    console.print()
    console.print(requirements_table(task))
    console.print()
    console.print(escape(usage_line(task)), soft_wrap=True)
    raise typer.Exit(ExitCode.USAGE)


async def _run(cfg: Config, task: Task, input: dict[str, Any], *, as_json: bool, plain: bool,
               no_history: bool, exchanges: Exchanges | None) -> int:
    store = None if no_history else await open_history(cfg)
    try:
        view = view_for(task, as_json=as_json, plain=plain)
        return await follow(cfg, store, view, lambda executor: executor.start(task, input), as_json=as_json,
                            exchanges=exchanges)
    finally:
        if store is not None:
            await store.close()


async def follow(
    cfg: Config,
    store: HistoryStore | None,
    view: EventSink | None,
    start: Callable[[TaskExecutor], Awaitable[ExecutionHandle]],
    *,
    as_json: bool,
    choices: AgentChoices | None = None,
    exchanges: Exchanges | None = None,
) -> int:
    """Start (or resume) one execution with a fresh executor, follow it to its end or to a pause by
    Ctrl-C, and report how it ended."""
    from quorum.cli.driver import RunSession

    session = RunSession(store, view=view)
    session.install()
    try:
        executor = build_executor(cfg, store, choices, exchanges=exchanges)
        session.bind(executor)
        outcome = await session.drive(lambda: start(executor))
    finally:
        session.uninstall()
        if view is not None:
            view.close()
    # Nothing is live any more (ended, or detached when paused): this closes the agents' clients.
    await close_executor(executor)
    return _finish(outcome, as_json=as_json, store=store)


async def open_history(cfg: Config) -> HistoryStore:
    from quorum.history.stores import open_store

    store = open_store(cfg.db)
    await store.open()
    return store


def build_executor(
    cfg: Config, store: HistoryStore | None, choices: AgentChoices | None = None, *,
    exchanges: Exchanges | None = None, metrics: bool = False,
) -> TaskExecutor:
    """An executor whose agents are built with ``choices`` (default: this configuration's, as a new run
    makes them); the executor records them with each execution it starts. With ``exchanges`` every
    agent call is recorded to, or answered from, that file; else answers are cached where the
    configuration says (``cache``). Traces go where ``OTEL_*``/``[telemetry]`` say; ``metrics`` (the
    server's ``/metrics``) counts its executions too."""
    from quorum.agents.defaults import default_agent_manager
    from quorum.cli.choices import current_choices
    from quorum.engine.executor import TaskExecutor

    if choices is None:
        choices = current_choices(cfg)
    manager = default_agent_manager(
        agents_dirs=list(cfg.agents_dirs),
        tasks_dirs=list(cfg.tasks_dirs),
        model_overrides=list(choices.models) or None,
        endpoints=choices.endpoint_urls(cfg.endpoint_urls()),
        config=choices.provider_config(cfg.provider_variables()),
        **(exchanges.manager_options() if exchanges is not None else {"cache": cfg.cache}),
    )
    if manager.cache is not None:
        from rich.markup import escape

        manager.cache.on_warning = lambda w: err_console().print(f"warning: {escape(w.message)}")
    tasks_dir = cfg.tasks_dirs[0] if cfg.tasks_dirs else None
    executor = TaskExecutor(tasks_dir=tasks_dir, agent_manager=manager, history_store=store,
                            agent_choices=choices)
    if cfg.events is not None:
        # every execution of this executor goes out live to the events server (QUORUM_EVENTS)
        from quorum.fanout import attach

        _PUBLISHERS[executor] = attach(executor, cfg.events)
    from quorum.telemetry import instrument
    from quorum.telemetry.settings import settings_of

    _TELEMETRY[executor] = instrument(executor, settings_of(cfg), metrics=metrics)
    return executor


async def close_executor(executor: TaskExecutor) -> None:
    """Close the executor, then the agent manager :func:`build_executor` made for it (the executor
    closes only a manager it built itself): LLM clients and the response cache are released."""
    await executor.aclose()
    close = getattr(executor.agent_manager, "aclose", None)
    if close is not None:
        await close()
    publisher = _PUBLISHERS.pop(executor, None)
    if publisher is not None:
        await publisher.aclose()
    telemetry = _TELEMETRY.pop(executor, None)
    if telemetry is not None:
        await telemetry.aclose()


def view_for(task: Task | None, *, as_json: bool, plain: bool) -> EventSink | None:
    if as_json:
        return None
    from quorum.cli.render import LiveView, PlainView

    if plain or not sys.stdout.isatty():
        return PlainView(sys.stdout)
    from quorum.cli.progress import Progress

    progress = Progress()
    if task is not None:
        progress.seed(task)
    return LiveView(progress, out_console())


def _finish(outcome: Outcome, *, as_json: bool, store: HistoryStore | None) -> int:
    if outcome.result is None:
        # paused by Ctrl-C, or waiting for approval, and detached: the history holds it
        if as_json:
            sys.stdout.write(json.dumps({"id": outcome.execution_id, "status": outcome.left,
                                         "approvals": [dict(g) for g in outcome.gates]}, default=str) + "\n")
        elif outcome.left == "waiting":
            _waiting_message(outcome)
        else:
            _paused_message(outcome.execution_id)
        return ExitCode.WAITING if outcome.left == "waiting" else ExitCode.PAUSED
    result = outcome.result
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    else:
        print_result(result, recorded=store is not None)
    return exit_code_for_status(result.status.value)


def _waiting_message(outcome: Outcome) -> None:
    from rich.markup import escape

    console = out_console()
    execution_id = outcome.execution_id
    console.print()
    console.print(f"[bold yellow]waiting for approval[/] execution {execution_id}")
    for gate in outcome.gates:
        choices = [str(c) for c in gate.get("choices") or ()]
        line = f"  {escape(str(gate.get('gate')))}: {escape(str(gate.get('question')))}"
        console.print(line, soft_wrap=True)
        if gate.get("deadline"):
            when = local_time(float(gate["deadline"]))
            console.print(f"    deadline: {when} (then: {gate.get('default')})")
        if choices and choices != ["approve", "reject"]:
            console.print(f"    choices: {', '.join(choices)}")
    console.print(f"  approve it: [bold]quorum approve {execution_id}[/] "
                  "(--reject, --option X, --comment TEXT)")
    console.print("  list them:  quorum approvals")
    console.print(f"  look at it: quorum show {execution_id}")




def _paused_message(execution_id: str) -> None:
    console = out_console()
    console.print()
    console.print(f"[bold magenta]paused[/] execution {execution_id}")
    console.print(f"  resume it:  [bold]quorum resume {execution_id}[/]")
    console.print(f"  abort it:   quorum abort {execution_id}")
    console.print(f"  look at it: quorum show {execution_id}")


def print_result(result: ExecutionResult, *, recorded: bool) -> None:
    from rich.markup import escape

    from quorum.cli.report import render_verdict, status_text

    console = out_console()
    usage = result.usage
    children = result.children_usage.calls
    bits = [f"{(result.duration_ms or 0.0) / 1000:.2f}s",
            f"{usage.calls} agent calls" + (f" ({children} in child executions)" if children else "")]
    if usage.errors:
        bits.append(f"{usage.errors} failed")
    if usage.tokens_in or usage.tokens_out:
        bits.append(f"{usage.tokens_in + usage.tokens_out:,} tokens")
    if usage.cost_usd:
        bits.append(f"${usage.cost_usd:.4f}")
    console.print()
    line = status_text(result.status.value)
    console.print(line, f"[bold]{escape(result.task)}[/]", f"[dim]{result.id}[/]", " · ".join(bits))
    if result.error:
        console.print(f"[red]{escape(result.error)}[/]")
    for phase in result.phases.values():
        status = phase.status.value
        if status == "skipped":
            console.print(f"[dim]skipped {escape(phase.name)}: {escape(phase.skipped_reason or '')}[/]")
        elif status in ("failed", "cancelled"):
            console.print(f"[red]{status} {escape(phase.name)}[/]: {escape(phase.error or '')}")
        for warning in phase.warnings:
            console.print(f"[yellow]warning[/] {escape(phase.name)}: {escape(warning)}")
    console.print()
    if result.verdict is not None or result.status.value == "completed":
        console.print("[bold underline]Verdict[/]")
        console.print(render_verdict(result.verdict, compact=True))
        console.print()
    if recorded:
        console.print(f"full record: [bold]quorum show {result.id}[/]", soft_wrap=True)
