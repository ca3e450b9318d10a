"""Taking an execution over from the history store (after its process died, or was detached).

:func:`plan_resume` reads what the store holds and makes a :class:`RecoveryPlan` — plain data: the
context rebuilt, the lease, what to continue from — that the executor launches. :func:`recover` does so
for every execution a dead process left running.

The state is rebuilt from the latest ``checkpoint:created`` snapshot; the journal after it tells which
attempt each unfinished phase had reached. Completed phases are not run again, and agent calls the
journal records as completed (by their stable :class:`~quorum.agents.protocol.CallKey`) are answered
from the journal instead of being asked again; calls that were in flight run again.

Refused (:class:`~quorum.errors.ResumeRefusedError`) when the execution already ended, when another
live process holds its lease, or (:class:`UnresumableError`, which says what, why and how to go on)
when the task file changed in a phase that has not completed yet (content hashes recorded at start) or
the journal lacks what a resume needs: fork a new execution from it, or start it again. ``recover``
marks such an execution failed with that reason, instead of leaving it ``running`` for ever.

The usage goes on from the checkpoint's, with the child executions it counts (so a child found again
is not counted twice); the children that ended after it are counted from their ``child:ended``, and
calls the checkpoint counts that the take-over counts again are taken out (``_apply_journal``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal, Protocol, assert_never, runtime_checkable

from quorum.agents.protocol import AgentResponse
from quorum.definition.model import Task
from quorum.definition.upgrade import UpgradePlan, plan_upgrade
from quorum.engine.approvals import gates_of, open_gates
from quorum.engine.context import Checkpoint, ExecutionContext
from quorum.engine.handle import ExecutionHandle
from quorum.engine.journal import running_time_s, settle_from_journal
from quorum.engine.live import TakeOver
from quorum.engine.log import EngineLogger
from quorum.engine.results import PhaseResult, Usage
from quorum.engine.snapshot import Snapshots
from quorum.engine.status import TERMINAL, ExecutionStatus, PhaseStatus
from quorum.errors import ExecutionNotFoundError, ResumeRefusedError
from quorum.events import Event, EventType
from quorum.history.base import ACTIVE_STATUSES, TERMINAL_STATUSES, ExecutionRecord, HistoryStore, Lease
from quorum.ids import AgentId, CheckpointId, ExecutionId, PhaseName

__all__ = (
    "CLAIM_BATCH", "MAX_RECOVERY_ATTEMPTS", "UPGRADE_LABEL", "OrphanClaimer", "RecoveryPlan", "Refusal",
    "UnresumableError", "latest_upgrade",
    "plan_resume", "rebuild_context", "recover", "stored_context", "upgrade_plan",
)

_RECOVER_POLL_S = 0.05
MAX_RECOVERY_ATTEMPTS = 3
"""An execution taken over this many times already is marked failed instead of resumed again (its
recovery keeps crashing the process)."""


class UnresumableError(ResumeRefusedError):
    """The execution can never be resumed as it is recorded (not a lease held elsewhere, which passes).

    ``what`` is the refusal, ``why`` its cause, ``fix`` how to go on; the message holds all three, one a
    line."""

    def __init__(self, what: str, *, why: str, fix: str) -> None:
        self.what, self.why, self.fix = what, why, fix
        super().__init__(f"{what}\nwhy: {why}\nfix: {fix}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """An orphan ``recover`` did not resume: why, and whether it was marked failed for it."""

    record: ExecutionRecord
    error: ResumeRefusedError
    marked_failed: bool


UPGRADE_LABEL = "upgrade"
"""The ``label`` prefix of the checkpoint that records a move onto another task version: its data holds
``upgrade`` (``task``: the definition run from there on, ``from``, ``to``, the phases kept and re-run)
and a snapshot of the results kept."""


def latest_upgrade(journal: Sequence[Event]) -> Event | None:
    """The checkpoint of the latest ``resume --upgrade-to`` in a journal, if any."""
    for event in reversed(journal):
        if event.type == EventType.CHECKPOINT_CREATED and "upgrade" in event.data:
            return event
    return None


def _since_upgrade(journal: Sequence[Event]) -> Sequence[Event]:
    """The journal from the latest upgrade on: what happened under the definition it runs now (the
    results kept from before are in the upgrade's snapshot)."""
    upgrade = latest_upgrade(journal)
    return journal if upgrade is None else [e for e in journal if e.sequence > upgrade.sequence]


async def _recorded_task(store: HistoryStore, record: ExecutionRecord,
                         journal: Sequence[Event] | None = None) -> Task:
    # After ``resume --upgrade-to`` the latest upgrade checkpoint holds the definition run from there on.
    upgrade = latest_upgrade(journal) if journal is not None else None
    if upgrade is not None:
        return Task.from_dict(upgrade.data["upgrade"]["task"])
    # A store that keeps the definition with the row (``task_definition``) makes even an execution
    # whose start event never became durable resumable; otherwise the start event carries it.
    definition = getattr(record, "task_definition", None)
    if definition:
        return Task.from_dict(definition)
    first = await store.read_journal(record.id, after=0, limit=1)
    if first and first[0].type == EventType.EXECUTION_START and "task" in first[0].data:
        return Task.from_dict(first[0].data["task"])
    raise UnresumableError(
        f"execution {record.id} cannot be resumed",
        why="neither its history row nor its journal holds the task definition it ran",
        fix=f"start it again: `quorum run {record.task}` with the same inputs",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryPlan:
    """How to go on with a stored execution in this process (``TaskExecutor`` launches it)."""

    ctx: ExecutionContext
    lease: Lease
    take_over: TakeOver
    agent_choices: Mapping[str, Any] | None = None
    """What the execution recorded its agents were built with (``ExecutionRecord.agent_choices``)."""


LoadTask = Callable[[str], Task]
"""Loads the task file an execution was started from (to see whether it changed)."""


def _check_task_unchanged(
    load_task: LoadTask, record: ExecutionRecord, done: set[str], upgraded: Task | None = None
) -> None:
    # After an upgrade, the file to compare with is the version it was moved to.
    source = upgraded.source if upgraded is not None else record.task_source
    task_hash = upgraded.content_hash if upgraded is not None else record.task_hash
    phase_hashes: Mapping[str, str] = (
        {p.name: p.content_hash for p in upgraded.phases} if upgraded is not None else record.phase_hashes
    )
    if not source or not task_hash:
        return
    try:
        current = load_task(source)
    except Exception:  # the file is gone or broken: the recorded definition is used
        return
    if current.content_hash == task_hash:
        return
    changed = [
        p.name for p in current.phases
        if p.name not in done and phase_hashes.get(p.name) != p.content_hash
    ]
    if changed:
        raise UnresumableError(
            f"execution {record.id} cannot be resumed: its task file changed",
            why=f"{source} differs from the definition it started with (content hash "
                f"{task_hash[:12]}, now {current.content_hash[:12]}) in phase(s) not completed yet: "
                f"{', '.join(changed)}",
            fix=f"restore the file to resume it, or fork a new execution that keeps its completed phases "
                f"and runs the changed ones with the edited file: `quorum fork {record.id} --task {source}`",
        )


def _phase_from_snapshot(data: Mapping[str, Any], calls: Mapping[str, Mapping[str, Any]]) -> PhaseResult:
    refs = data.get("answer_refs")
    if refs is None:
        return PhaseResult.from_dict(data)
    answers = []
    for ref in refs:
        if isinstance(ref, str):
            recorded = calls.get(ref)
            if recorded is None:
                raise UnresumableError(
                    "the execution cannot be rebuilt from its history",
                    why=f"its journal lacks the answer of call {ref}, which a checkpoint refers to",
                    fix="start it again with the same inputs",
                )
            answers.append(recorded)
        else:
            answers.append(ref)
    return PhaseResult.from_dict({**data, "answers": answers})


async def rebuild_context(
    store: HistoryStore,
    record: ExecutionRecord,
    task: Task,
    calls: Mapping[str, Mapping[str, Any]] | None = None,
    journal: Sequence[Event] | None = None,
) -> tuple[ExecutionContext, dict[str, int]]:
    """The context at the latest checkpoint, and the attempt each unfinished phase had reached.
    ``journal``: the execution's whole journal, when the caller has read it already. (What the journal
    says after the checkpoint is :func:`_apply_journal`'s.)"""
    if calls is None:
        calls = await store.completed_calls(record.id)
    ctx = ExecutionContext(task, record.input, execution_id=record.id, created_at=record.created_at,
                           parent_id=record.parent_id)
    ctx.started_at = record.started_at
    ctx.sequence = record.last_sequence
    after = 0
    if journal is None:
        journal = await store.read_journal(record.id)
    checkpoint = await store.latest_checkpoint(record.id)
    if checkpoint is not None:
        after = checkpoint.sequence
        snapshot: Mapping[str, Any] = checkpoint.data.get("snapshot") or {}
        for name, data in (snapshot.get("phases") or {}).items():
            ctx.set_phase_result(_phase_from_snapshot({**data, "name": name}, calls))
        usage = Usage(**dict(snapshot.get("usage") or {}))
        children = _children_at(snapshot, journal, after)
        ctx.restore_usage(usage, children)
        ctx.clock.paused_s = float(snapshot.get("paused_s") or 0.0)
        ctx.checkpoints.append(Checkpoint(
            id=CheckpointId(str(checkpoint.data.get("checkpoint_id", f"{record.id}-recovered"))),
            label=str(checkpoint.data.get("label", "")), created_at=checkpoint.timestamp,
            sequence=checkpoint.sequence, phases=dict(ctx.phases), usage=usage,
            children=MappingProxyType(children),
        ))
    # The whole journal (since an upgrade), not only what follows the checkpoint: a phase of a parallel
    # run can have started its attempt, even retried, before another phase's checkpoint.
    attempts: dict[str, int] = {}
    for event in _since_upgrade(journal):
        if event.phase is None:
            continue
        if event.type == EventType.PHASE_START or event.type == EventType.PHASE_RETRY:
            attempts[event.phase] = int(event.data.get("attempt", 1))
        elif event.type in (EventType.PHASE_COMPLETE, EventType.PHASE_SKIPPED):
            attempts.pop(event.phase, None)
    done = {n for n, r in ctx.phases.items() if r.status is PhaseStatus.COMPLETED}
    return ctx, {n: a for n, a in attempts.items() if PhaseName(n) not in done}


def _children_at(
    snapshot: Mapping[str, Any], journal: Iterable[Event], sequence: int,
) -> dict[ExecutionId, Usage]:
    """The child executions a checkpoint's usage holds, with their usage: its snapshot says; one taken
    before snapshots said holds those whose ``child:ended`` came before it (a child was counted and
    announced with no await between)."""
    kept: Mapping[str, Any] | None = snapshot.get("children")
    if kept is not None:
        return {ExecutionId(child): Usage(**dict(usage)) for child, usage in kept.items()}
    return {child: usage for at, child, usage in _ended_children(journal) if at < sequence}


def _ended_children(journal: Iterable[Event]) -> Iterator[tuple[int, ExecutionId, Usage]]:
    """``(sequence, child id, usage)`` of each ``child:ended`` that carries the child's usage."""
    for event in journal:
        if event.type == EventType.CHILD_ENDED and event.data.get("usage") is not None:
            yield event.sequence, ExecutionId(str(event.data["child_id"])), Usage(**dict(event.data["usage"]))


def _apply_journal(ctx: ExecutionContext, journal: Sequence[Event], attempts: Mapping[str, int],
                   calls: Mapping[str, Mapping[str, Any]]) -> None:
    """Bring a context rebuilt from its latest checkpoint (:func:`rebuild_context`) up to its journal.

    Phases settled after the checkpoint are neither run nor announced again (``settle_from_journal``,
    which counts their answers). Children that ended after it are counted from their ``child:ended``:
    a phase settled so is not run again to find them, and a child found again by a phase that runs on
    is then counted already. The checkpoint's usage holds the calls made until then by phases that had
    not settled (a parallel run); those the take-over counts again are taken out of it
    (:func:`_counted_again`)."""
    after = ctx.checkpoints[-1].sequence if ctx.checkpoints else 0
    checkpointed = frozenset(ctx.phases)
    journal = _since_upgrade(journal)
    settled = settle_from_journal(ctx, journal)
    for at, child, usage in _ended_children(journal):
        if at > after:
            ctx.count_child(child, usage)
    if after:
        again = _counted_again(ctx, journal, after, checkpointed, frozenset(settled), attempts, calls)
        ctx.restore_usage(ctx.usage - again, ctx.child_usages)


def _counted_again(
    ctx: ExecutionContext, journal: Sequence[Event], after: int, checkpointed: Container[PhaseName],
    settled: Container[PhaseName], attempts: Mapping[str, int], calls: Mapping[str, Mapping[str, Any]],
) -> Usage:
    """The answers recorded up to the checkpoint at ``after`` by phases it did not hold that the
    take-over counts again: a phase the journal settles counts the last answer of each call of its last
    attempt; one that runs on answers the calls the journal completed at the attempt it goes on with
    (once each), and counts them."""
    kept: dict[str, tuple[Event, AgentResponse]] = {}
    replayed: dict[str, AgentResponse] = {}
    for event in journal:
        if event.phase is None or event.type not in (EventType.AGENT_RESPONSE, EventType.AGENT_ERROR):
            continue
        name = PhaseName(event.phase)
        if name in checkpointed:
            continue
        attempt = int(event.data.get("attempt", 1))
        key = str(event.data.get("call_key") or f"#{event.sequence}")
        if name in settled:
            answer = _answer_of(event)
            if answer is not None and attempt == ctx.phases[name].attempts:
                kept[key] = (event, answer)
        elif event.sequence <= after and attempt == attempts.get(name, 1) and key in calls:
            replayed[key] = AgentResponse.from_dict(calls[key])
    counted = [answer for event, answer in kept.values() if event.sequence <= after]
    return Usage.of_answers([*counted, *replayed.values()])


def _answer_of(event: Event) -> AgentResponse | None:
    """The answer ``settle_from_journal`` reads from an agent event."""
    if event.type == EventType.AGENT_ERROR:
        return AgentResponse(agent_id=AgentId(event.agent or "?"), error=event.error or "failed")
    response = event.data.get("response")
    return None if response is None else AgentResponse.from_dict(response)


def _checkpoint_of(event: Event, calls: Mapping[str, Mapping[str, Any]],
                   journal: Sequence[Event]) -> Checkpoint:
    snapshot: Mapping[str, Any] = event.data.get("snapshot") or {}
    phases = {
        PhaseName(name): _phase_from_snapshot({**data, "name": name}, calls)
        for name, data in (snapshot.get("phases") or {}).items()
    }
    return Checkpoint(
        id=CheckpointId(str(event.data.get("checkpoint_id", f"{event.execution_id}-cp{event.sequence}"))),
        label=str(event.data.get("label", "")), created_at=event.timestamp, sequence=event.sequence,
        phases=phases, usage=Usage(**dict(snapshot.get("usage") or {})),
        children=MappingProxyType(_children_at(snapshot, journal, event.sequence)),
    )


async def stored_context(store: HistoryStore, execution_id: str) -> ExecutionContext:
    """A stored execution as a context to fork from: every phase its journal shows settled, and each of
    its checkpoints (``restore_checkpoint(id)`` goes back to one). Read only: the stored execution is
    left as it is, and the context is never driven under its id (its status is not ``running``)."""
    record = await store.get_execution(execution_id)
    if record is None:
        raise ExecutionNotFoundError(execution_id)
    calls = await store.completed_calls(execution_id)
    journal = await store.read_journal(execution_id)
    task = await _recorded_task(store, record, journal)
    ctx, attempts = await rebuild_context(store, record, task, calls, journal)
    _apply_journal(ctx, journal, attempts, calls)
    ctx.checkpoints = [_checkpoint_of(e, calls, journal) for e in journal
                       if e.type == EventType.CHECKPOINT_CREATED and "snapshot" in e.data]
    status = ExecutionStatus(record.status)
    ctx.status = status if status in TERMINAL else ExecutionStatus.PAUSED
    return ctx


async def plan_resume(
    store: HistoryStore,
    execution_id: str,
    *,
    owner: str,
    lease_ttl_s: float,
    load_task: LoadTask,
    keep_paused: bool = False,
    upgrade_to: Task | None = None,
    lease: Lease | None = None,
) -> RecoveryPlan:
    """Take the lease of a stored execution and rebuild its state. With ``keep_paused`` an execution
    that was paused before the crash stays paused (``recover``); otherwise resuming it is what was
    asked. With ``upgrade_to`` it goes on with that version of its task (see :func:`plan_upgrade`): the
    move is recorded in its journal, as a checkpoint of the results it keeps, before anything runs.
    ``lease``: one this process holds already (``claim_orphans``); it is released if the plan fails."""
    try:
        record = await store.get_execution(execution_id)
        if record is None:
            raise ExecutionNotFoundError(execution_id)
        if ExecutionStatus(record.status) in TERMINAL:
            raise ResumeRefusedError(f"execution {execution_id} already ended as {record.status}")
        task = await _recorded_task(store, record)
    except BaseException:
        if lease is not None:
            await store.release_lease(lease)
        raise
    if lease is None:
        lease = await store.acquire_lease(execution_id, owner, ttl_s=lease_ttl_s)
    if lease is None:
        raise ResumeRefusedError(
            f"execution {execution_id} is driven by another live process ({record.owner}); "
            "use `quorum pause|resume|abort` to control it there"
        )
    try:
        control = tuple((r.action, r.reason) for r in await store.take_control_requests(execution_id))
        if record.last_sequence == 0:
            if upgrade_to is not None:
                raise UnresumableError(f"execution {record.id} cannot be upgraded",
                                       why="it never started: there is nothing to keep",
                                       fix=f"run the version you want: `quorum run {upgrade_to.name}@"
                                           f"{upgrade_to.version}`")
            # Created, but its start never became durable: nothing ran (phases wait for that write).
            ctx = ExecutionContext(task, record.input, execution_id=record.id, created_at=record.created_at,
                                   parent_id=record.parent_id)
            return RecoveryPlan(ctx=ctx, lease=lease, take_over=TakeOver(pending_control=control),
                                agent_choices=record.agent_choices)
        calls = await store.completed_calls(execution_id)
        journal = await store.read_journal(execution_id)  # once: the checkpoint, settling, running time
        upgraded = latest_upgrade(journal)
        if upgraded is not None:
            task = Task.from_dict(upgraded.data["upgrade"]["task"])
        ctx, attempts = await rebuild_context(store, record, task, calls, journal)
        _apply_journal(ctx, journal, attempts, calls)
        if upgrade_to is None:
            _check_task_unchanged(load_task, record, {str(n) for n in ctx.phases},
                                  task if upgraded is not None else None)
        else:
            ctx, attempts = await _upgrade(store, lease, ctx, attempts, journal, upgrade_to)
        if keep_paused and record.status == ExecutionStatus.PAUSED:
            ctx.status = ExecutionStatus.PAUSED
            ctx.clock.hold_paused()
        else:
            ctx.status = ExecutionStatus.RUNNING
        # The time limit and duration_ms go on from the running time of every earlier process.
        used_s = running_time_s(journal)
        ctx.take_over(used_s)
    except BaseException:
        await store.release_lease(lease)
        raise
    return RecoveryPlan(ctx=ctx, lease=lease, take_over=TakeOver(
        completed_calls=dict(calls), start_attempts=attempts, used_s=used_s, recovered=True,
        pending_control=control, approvals=gates_of(_for_gates(journal)),
    ), agent_choices=record.agent_choices)


def _for_gates(journal: Sequence[Event]) -> Sequence[Event]:
    """The journal less the approval events of phases an upgrade made run again (their gates are
    asked anew, under the new definition)."""
    upgrade = latest_upgrade(journal)
    if upgrade is None:
        return journal
    restarted = set(upgrade.data["upgrade"].get("restart", ()))
    return [e for e in journal if e.sequence > upgrade.sequence or e.phase not in restarted]


def _last_attempts(journal: Sequence[Event]) -> dict[str, int]:
    attempts: dict[str, int] = {}
    for event in journal:
        if event.phase is not None and event.type in (EventType.PHASE_START, EventType.PHASE_RETRY):
            attempts[event.phase] = max(attempts.get(event.phase, 0), int(event.data.get("attempt", 1)))
    return attempts


async def upgrade_plan(store: HistoryStore, execution_id: str, upgrade_to: Task) -> UpgradePlan:
    """What moving a stored execution onto ``upgrade_to`` would keep and run again (reads only)."""
    ctx = await stored_context(store, execution_id)
    if upgrade_to.name != ctx.task.name:
        raise UnresumableError(
            f"execution {execution_id} cannot be moved to {upgrade_to.name} {upgrade_to.version}",
            why=f"it runs task {ctx.task.name!r}, and {upgrade_to.name!r} is another task",
            fix=f"give a version of {ctx.task.name!r}: `--upgrade-to <version>`",
        )
    return plan_upgrade(ctx.task, upgrade_to, ctx.phases)


async def _upgrade(
    store: HistoryStore, lease: Lease, ctx: ExecutionContext, attempts: dict[str, int],
    journal: Sequence[Event], upgrade_to: Task,
) -> tuple[ExecutionContext, dict[str, int]]:
    """``ctx`` moved onto ``upgrade_to``: the results it keeps, recorded as an upgrade checkpoint, and
    the attempt each phase starts from (a phase that runs again starts after its last attempt, so that
    no answer recorded for the old definition is taken for the new one)."""
    if upgrade_to.name != ctx.task.name:
        raise UnresumableError(
            f"execution {ctx.id} cannot be moved to {upgrade_to.name} {upgrade_to.version}",
            why=f"it runs task {ctx.task.name!r}, and {upgrade_to.name!r} is another task",
            fix=f"give a version of {ctx.task.name!r}: `--upgrade-to <version>`",
        )
    plan = plan_upgrade(ctx.task, upgrade_to, ctx.phases)
    data = ctx.to_dict()
    data["phases"] = {n: p for n, p in data["phases"].items() if n in plan.keep}
    moved = ExecutionContext.from_dict(data, task=upgrade_to)
    moved.status = ctx.status
    last = _last_attempts(journal)
    starts = {n: a for n, a in attempts.items() if n not in plan.restart and n in upgrade_to.phase_names}
    starts.update({n: last[n] + 1 for n in plan.restart if n in last})
    label = f"{UPGRADE_LABEL}:{ctx.task.version}->{upgrade_to.version}"
    checkpoint = moved.create_checkpoint(label)
    event = Event(
        type=EventType.CHECKPOINT_CREATED, execution_id=ctx.id, sequence=moved.sequence + 1,
        timestamp=time.time(), task=upgrade_to.name,
        data={"checkpoint_id": checkpoint.id, "label": label, "phase": None,
              "snapshot": Snapshots().snapshot(moved, checkpoint),
              "upgrade": {**plan.to_dict(), "restart": sorted(plan.restart), "task": upgrade_to.to_dict()}},
    )
    await store.append([event], epoch=lease.epoch)
    moved.sequence += 1
    return moved, starts


async def recover(
    store: HistoryStore,
    *,
    launch: Callable[[RecoveryPlan], Awaitable[ExecutionHandle]],
    owner: str,
    lease_ttl_s: float,
    load_task: LoadTask,
    log: EngineLogger,
    wait: bool = True,
    max_attempts: int = MAX_RECOVERY_ATTEMPTS,
    only: Container[str] | None = None,
    on_refused: Callable[[Refusal], None] | None = None,
) -> list[ExecutionHandle]:
    """Resume every execution a dead process left *running* (see ``list_orphans``).

    Paused executions are parked, not lost: they wait for an explicit ``resume_execution(id)`` and are
    left alone; so are executions waiting for approval, until a gate's deadline has passed (then its
    default is applied and the execution goes on). One that reaches a new wait is detached again.
    A child execution (of a ``task:`` step) whose parent is recovered too is left to its parent's
    step, which re-attaches to it. Pause and abort requests made before the crash are picked up.
    With ``wait`` it returns
    when every recovered execution has ended or has paused; one that pauses (a pending pause request)
    is detached, so it stays paused for a later ``resume`` instead of holding this call forever.

    A store that can claim orphans in batches (:class:`OrphanClaimer`: PostgreSQL, ``SKIP LOCKED``) is
    asked for them that way, so several recovering processes share the orphans out without contending
    for each one; other stores (and ``only``) take them one by one with ``acquire_lease``.

    ``only``: the ids to recover (others are left alone). One that can never be resumed
    (:class:`UnresumableError`: its task file changed, its journal is incomplete) is marked failed with
    the reason, through the journal like any outcome; each refusal is told to ``on_refused``."""
    recovery = _Recovery(store, launch=launch, owner=owner, lease_ttl_s=lease_ttl_s, load_task=load_task,
                         log=log, max_attempts=max_attempts, on_refused=on_refused)
    orphans = await store.list_orphans()
    if only is None and isinstance(store, OrphanClaimer):
        await recovery.claimed(store, orphans)
    else:
        await recovery.one_by_one(orphans, only)
    if wait:
        for handle in recovery.handles:
            await _until_ended_or_paused(handle)
    return recovery.handles


@runtime_checkable
class OrphanClaimer(Protocol):
    """A store that takes the leases of many orphans at once, skipping rows another recoverer is
    taking at the same moment (``PostgresHistoryStore.claim_orphans``)."""

    async def claim_orphans(
        self, owner: str, *, ttl_s: float, limit: int = ..., statuses: Collection[str] | None = ...,
        exclude: Collection[str] = ...,
    ) -> list[Lease]: ...


CLAIM_BATCH = 8
_CLAIMED: Final = tuple(sorted(ACTIVE_STATUSES - {ExecutionStatus.PAUSED.value}))
"""The orphans ``recover`` claims: a paused one stays as it is, for ``quorum resume``."""
"""How many orphans ``recover`` claims at a time from an :class:`OrphanClaimer`: small, so that
processes recovering at once share the orphans out (each resumes a batch before claiming the next)."""

_Triage = Literal["resume", "child", "paused", "waiting", "give_up"]


class _Recovery:
    """One ``recover`` call: the rules for each orphan, and the handles of those resumed."""

    def __init__(
        self, store: HistoryStore, *, launch: Callable[[RecoveryPlan], Awaitable[ExecutionHandle]],
        owner: str, lease_ttl_s: float, load_task: LoadTask, log: EngineLogger, max_attempts: int,
        on_refused: Callable[[Refusal], None] | None,
    ) -> None:
        self.store, self.launch, self.owner, self.lease_ttl_s = store, launch, owner, lease_ttl_s
        self.load_task, self.log, self.max_attempts = load_task, log, max_attempts
        self.on_refused = on_refused
        self.handles: list[ExecutionHandle] = []

    async def triage(self, record: ExecutionRecord, recovered: Container[str], attempts: int) -> _Triage:
        """What to do with an orphan; ``recovered``: the ids of the orphans recovered now (a child of
        one is its parent's); ``attempts``: how many times it was taken over before."""
        log = self.log
        if record.parent_id is not None and record.parent_id in recovered:
            # A child execution (task: step) is its parent's to drive: the parent's step, taken over
            # with it, re-attaches to it (resuming it from its journal), so it is not driven twice.
            log.info("execution %s is a child of %s, whose task: step takes it over", record.id,
                     record.parent_id)
            return "child"
        if record.status == ExecutionStatus.PAUSED:
            log.info("execution %s is paused; `quorum resume %s` continues it", record.id, record.id)
            return "paused"
        if record.status == ExecutionStatus.WAITING and not await _deadline_passed(self.store, record.id):
            log.info("execution %s waits for approval; `quorum approve %s` decides", record.id, record.id)
            return "waiting"
        if attempts >= self.max_attempts:
            return "give_up"
        return "resume"

    async def resume(self, record: ExecutionRecord, lease: Lease | None = None) -> None:
        try:
            plan = await plan_resume(self.store, record.id, owner=self.owner, lease_ttl_s=self.lease_ttl_s,
                                     load_task=self.load_task, keep_paused=True, lease=lease)
        except ResumeRefusedError as exc:
            self.log.warning("not recovering %s: %s", record.id, exc)
            failed = False
            if isinstance(exc, UnresumableError):
                failed = await _mark_failed(self.store, record, f"{exc.what}: {exc.why}",
                                            error_type="ResumeRefused", owner=self.owner,
                                            lease_ttl_s=self.lease_ttl_s)
            if self.on_refused is not None:
                self.on_refused(Refusal(record=record, error=exc, marked_failed=failed))
            return
        self.handles.append(await self.launch(plan))

    async def give_up(self, record: ExecutionRecord) -> None:
        await _give_up(self.store, record, owner=self.owner, lease_ttl_s=self.lease_ttl_s, log=self.log)

    async def one_by_one(self, orphans: Sequence[ExecutionRecord], only: Container[str] | None, *,
                         recovered: Container[str] | None = None) -> None:
        """``list_orphans`` + ``acquire_lease`` on each (``plan_resume`` takes it). ``recovered``: the
        orphans recovered now (default: these)."""
        taken = recovered if recovered is not None else {
            r.id for r in orphans if only is None or r.id in only}
        for record in orphans:
            if only is not None and record.id not in only:
                continue
            verdict = await self.triage(record, taken, record.recovery_attempts)
            if verdict == "give_up":
                await self.give_up(record)
            elif verdict == "resume":
                await self.resume(record)

    async def claimed(self, store: OrphanClaimer, orphans: Sequence[ExecutionRecord]) -> None:
        """Orphans claimed in batches (``claim_orphans``): each batch is resumed before the next is
        claimed, so processes recovering at once each take a share.

        A claimed orphan that is not to be resumed here keeps its lease until the claiming is over
        (else the next batch would claim it again), then is released: paused and waiting executions
        stay as they were. A child of an orphan being recovered is released at once instead, for its
        parent's step to re-attach to (whichever process resumes the parent); each batch then asks for
        as many more as the children passed, so that it always reaches new orphans, and the claiming
        ends when a batch brings none."""
        listed = {r.id: r for r in orphans}
        parked: list[Lease] = []
        # Not claimed at all (not even written to): paused executions, and the children of orphans
        # recovered now. ``passed``: children found only once claimed (orphaned since the listing).
        children = [r.id for r in orphans if r.parent_id is not None and r.parent_id in listed]
        passed: set[str] = set()
        try:
            while True:
                leases = await store.claim_orphans(self.owner, ttl_s=self.lease_ttl_s,
                                                   limit=CLAIM_BATCH + len(passed), statuses=_CLAIMED,
                                                   exclude=[*children, *passed])
                fresh = [lease for lease in leases if lease.execution_id not in passed]
                for lease in leases:
                    if lease.execution_id in passed:
                        await self.store.release_lease(lease)  # still its parent's to re-attach to
                if not fresh:
                    break
                for lease in fresh:
                    known = listed.get(lease.execution_id)
                    record = known or await self.store.get_execution(lease.execution_id)
                    if record is None:  # deleted meanwhile
                        continue
                    # The claim counted a take-over; the rules count those made before it.
                    attempts = record.recovery_attempts if known is not None else max(
                        0, record.recovery_attempts - 1)
                    verdict = await self.triage(record, listed, attempts)
                    if verdict == "child":
                        passed.add(record.id)
                        await self.store.release_lease(lease)
                    elif verdict == "paused" or verdict == "waiting":
                        parked.append(lease)
                    elif verdict == "give_up":
                        await self.give_up(record)
                    elif verdict == "resume":
                        await self.resume(record, lease)
                    else:
                        assert_never(verdict)
        finally:
            for lease in parked:
                await self.store.release_lease(lease)
        # Orphans whose expired lease names this process are never claimed (``claim_orphans`` skips
        # its own rows): they are taken one by one, as without claiming.
        mine = [r for r in orphans if r.owner == self.owner]
        if mine:
            await self.one_by_one(mine, None, recovered=listed)


async def _deadline_passed(store: HistoryStore, execution_id: str) -> bool:
    """Whether a gate the execution waits at has passed its deadline (its default is then due)."""
    now = time.time()
    return any(gate.expired(now) for gate in open_gates(await store.read_journal(execution_id)))


async def _until_ended_or_paused(handle: ExecutionHandle) -> None:
    while not handle.done:
        if handle.status in (ExecutionStatus.PAUSED, ExecutionStatus.WAITING):
            await handle.detach()
            return
        await asyncio.sleep(_RECOVER_POLL_S)


async def _give_up(
    store: HistoryStore, record: ExecutionRecord, *, owner: str, lease_ttl_s: float, log: EngineLogger
) -> None:
    message = (f"recovery abandoned after {record.recovery_attempts} attempts (each crashed or was "
               "interrupted); inspect it with `quorum show` and start it again")
    if await _mark_failed(store, record, message, error_type="RecoveryAbandoned", owner=owner,
                          lease_ttl_s=lease_ttl_s):
        log.error("execution %s: %s", record.id, message)


async def _mark_failed(
    store: HistoryStore, record: ExecutionRecord, message: str, *, error_type: str, owner: str,
    lease_ttl_s: float,
) -> bool:
    """Record ``execution:error`` as the outcome of an orphan nobody can drive (under its lease, at the
    end of its journal, as any outcome). False when another process took it meanwhile."""
    lease = await store.acquire_lease(record.id, owner, ttl_s=lease_ttl_s)
    if lease is None:
        return False
    try:
        current = await store.get_execution(record.id)
        if current is None or current.status in TERMINAL_STATUSES:
            return False
        await store.append([Event(
            type=EventType.EXECUTION_ERROR, execution_id=record.id, sequence=current.last_sequence + 1,
            timestamp=time.time(), task=record.task, error=message,
            data={"status": "failed", "error_type": error_type},
        )], epoch=lease.epoch)
        return True
    finally:
        await store.release_lease(lease)
