"""``quorum approve`` and ``quorum approvals``: decide at an execution's approval gate, and list the gates
that wait for a decision.

A decision goes through the history store (a ``decide`` control request): the process that drives the
execution counts it within a control poll. When no process drives it (``quorum run`` left it waiting,
or its process died), this command takes it over from its journal and drives it on, as
``quorum resume`` does, with the same output and exit status as ``quorum run``.
"""

from __future__ import annotations

import getpass
import json
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from quorum.cli.common import ExitCode, fail, local_time, out_console, run_async
from quorum.cli.options import AgentsDirOpt, DbOpt, ExecutionIdArg, JsonOpt, PlainOpt, TasksDirOpt

if TYPE_CHECKING:
    from quorum.config import Config
    from quorum.engine.approvals import Decision, Gate
    from quorum.history.base import ExecutionRecord, HistoryStore

__all__ = ("approvals", "approve")

_CONFIRM_S = 10.0
"""How long ``approve`` waits to see a live driver record the decision."""


def approve(
    execution_id: ExecutionIdArg,
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approving.")] = False,
    option: Annotated[str | None, typer.Option("--option", help="The choice, at a gate with options.",
                                               metavar="CHOICE", show_default=False)] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who decides (default: your user name).",
                                           show_default=False)] = None,
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why (recorded with the decision).")] = "",
    gate: Annotated[str | None, typer.Option("--gate", help="The gate (PHASE/STEP), when several wait.",
                                             show_default=False)] = None,
    as_json: JsonOpt = False,
    plain: PlainOpt = False,
    db: DbOpt = None,
    tasks_dir: TasksDirOpt = None,
    agents_dir: AgentsDirOpt = None,
) -> None:
    """Decide at an execution's approval gate: approve it (the default), --reject it, or pick an --option.

    The decision is recorded with who made it (--by, default your user name), when, and --comment. If
    another live process drives the execution, it counts the decision there; otherwise this command
    takes the execution over and drives it on, like `quorum resume`.
    """
    if reject and option is not None:
        fail("--reject and --option exclude each other", code=ExitCode.USAGE,
             details=("at a gate with options, --option names the choice (it may be a rejecting one)",))
    from quorum.config import load_config

    cfg = load_config(db=db, tasks_dirs=tasks_dir, agents_dirs=agents_dir)
    decision = option if option is not None else ("reject" if reject else "approve")
    who = by or _user()
    raise typer.Exit(run_async(_approve(cfg, execution_id, decision, who, comment, gate, as_json=as_json,
                                        plain=plain)))


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


async def _approve(cfg: Config, execution_id: str, decision: str, by: str, comment: str, gate: str | None,
                   *, as_json: bool, plain: bool) -> int:
    from quorum.cli.run_cmd import follow, open_history, view_for
    from quorum.cli.store import db_exists, find_execution, owner_alive
    from quorum.engine.approvals import Decision, open_gates
    from quorum.errors import InvalidDecisionError

    if not db_exists(cfg):
        fail(f"no execution with id {execution_id!r}",
             details=(f"history: {cfg.db_shown} (no history yet)",))
    store = await open_history(cfg)
    try:
        record = await find_execution(store, execution_id, where=cfg.db_shown)
        if record.status in ("completed", "failed", "aborted", "timeout"):
            fail(f"execution {record.id} already ended as {record.status}; there is nothing to decide")
        gates = open_gates(await store.read_journal(record.id))
        chosen = _pick(record.id, gates, gate)
        made = Decision(gate=chosen.id, decision=decision, by=by, comment=comment, at=time.time())
        try:
            chosen.check(made)
        except InvalidDecisionError as exc:
            fail(str(exc), code=ExitCode.USAGE)
        if await owner_alive(store, record):
            await store.request_control(record.id, "decide", made.to_request())
            return await _confirm(store, record, made, as_json=as_json)
        from quorum.cli.choices import recorded_choices

        choices = recorded_choices(cfg, record, models_given=False)
        view = view_for(None, as_json=as_json, plain=plain)

        async def take_over(executor: Any) -> Any:
            handle = await executor.decide(record.id, decision, by=by, comment=comment, gate=chosen.id)
            if handle is None:  # a process took it over meanwhile: it counts the decision there
                fail(f"execution {record.id} was taken over by another process meanwhile; the decision "
                     "was sent to it", code=ExitCode.OK)
            return handle

        return await follow(cfg, store, view, take_over, as_json=as_json, choices=choices)
    finally:
        await store.close()


def _pick(execution_id: str, gates: list[Gate], wanted: str | None) -> Gate:
    if not gates:
        fail(f"execution {execution_id} is not waiting for an approval",
             details=(f"see it with `quorum show {execution_id}`; `quorum approvals` lists what waits",))
    if wanted is not None:
        for gate in gates:
            if gate.id == wanted:
                return gate
        fail(f"execution {execution_id} has no approval waiting at {wanted!r}", code=ExitCode.USAGE,
             details=(f"waiting: {', '.join(g.id for g in gates)}",))
    if len(gates) > 1:
        fail(f"execution {execution_id} waits at {len(gates)} approvals: name one with --gate",
             code=ExitCode.USAGE, details=tuple(f"--gate '{g.id}': {g.question}" for g in gates))
    return gates[0]


async def _confirm(store: HistoryStore, record: ExecutionRecord, made: Decision, *, as_json: bool) -> int:
    """Wait until the driving process has recorded the decision (or say it was sent)."""
    import asyncio

    from quorum.events import EventType

    deadline = time.monotonic() + _CONFIRM_S
    seen = False
    while time.monotonic() < deadline and not seen:
        journal = await store.read_journal(record.id, after=record.last_sequence)
        seen = any(e.type == EventType.APPROVAL_DECIDED and e.data.get("gate") == made.gate
                   and e.data.get("by") == made.by for e in journal)
        if not seen:
            await asyncio.sleep(0.1)
    state = "recorded" if seen else "sent"
    if as_json:
        sys.stdout.write(json.dumps({"id": record.id, "decision": made.to_dict(), "state": state}) + "\n")
    else:
        out_console().print(f"{made.decision} by {made.by} at {made.gate} {state}: the process driving "
                            f"execution {record.id} ({record.owner}) goes on with it")
    return ExitCode.OK


def approvals(
    as_json: JsonOpt = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many executions.")] = 50,
    db: DbOpt = None,
) -> None:
    """List the approvals that wait for a decision: execution, gate, question, choices, deadline."""
    from quorum.config import load_config

    cfg = load_config(db=db)
    raise typer.Exit(run_async(_approvals(cfg, as_json=as_json, limit=limit)))


async def _approvals(cfg: Config, *, as_json: bool, limit: int) -> int:
    from quorum.cli.run_cmd import open_history
    from quorum.cli.store import db_exists
    from quorum.engine.approvals import open_gates

    rows: list[dict[str, Any]] = []
    if db_exists(cfg):
        store = await open_history(cfg)
        try:
            for record in await store.list_executions(limit=limit, status="waiting"):
                rows.extend({"execution": record.id, "task": record.task, **gate.to_dict(),
                             "decided": [d.to_dict() for d in gate.decisions]}
                            for gate in open_gates(await store.read_journal(record.id)))
        finally:
            await store.close()
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return ExitCode.OK
    console = out_console()
    if not rows:
        console.print("no approval is waiting")
        return ExitCode.OK
    from rich.markup import escape

    for row in rows:
        console.print(f"[bold]{row['execution']}[/] {escape(row['task'])}  {escape(row['gate'])}: "
                      f"{escape(row['question'])}", soft_wrap=True)
        need = f"{len(row['decided'])}/{row['approvers']} decided" if row["approvers"] > 1 else ""
        deadline = (f"deadline {local_time(row['deadline'])} (then {row['default']})"
                    if row["deadline"] else "")
        details = "  ".join(x for x in (f"choices: {', '.join(row['choices'])}", need, deadline) if x)
        console.print(f"    {details}")
        console.print(f"    quorum approve {row['execution']}")
    return ExitCode.OK


