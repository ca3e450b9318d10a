"""The ``task:`` step: another task run as a *child execution* of the one whose step it is.

``- task: <name>[@version] input.<field>=<template> ... [foreach=<expression>]`` (parsed by
:mod:`quorum.definition.composition`). The executor registers :class:`TaskStep` as the strategy of
steps of type ``task``; for each child it:

1. renders the ``input.<field>`` templates in the parent's context (``item`` and ``index`` bound
   under ``foreach``; a template that is one ``{{ expression }}`` keeps the expression's value — a
   list stays a list — and one whose value is ``none`` is left out, so the child's default applies);
2. resolves the selector with the executor's task loader (``ticker-review@^1``);
3. starts the child with its parent's id as ``parent_id``, under an id derived from (parent id, phase,
   step, index, attempt) — :func:`child_execution_id` — so that a parent taken over after a crash
   finds the same child again: still running here (recovered), in the history (completed: its result
   is taken; unfinished: it is resumed from its journal), or not there yet (started);
4. waits for it, announcing ``child:started`` and ``child:ended`` (with the child's id and status) in
   the parent's journal, which is what ``quorum show`` and ``GET /executions/{id}/children`` draw the
   tree from.

The step's result is the child's summary (:func:`child_summary`: id, task, version, status, verdict,
each phase's outputs); with ``foreach``, ``{"children": [summary, ...], "count": n}`` in the order of
the elements. The children of one step run at once in a ``parallel: true`` phase (at most the
execution's ``maxConcurrentAgents``), else one after another. A child that fails, is aborted or times
out fails the step with :class:`ChildExecutionError` (the other children of the step are aborted) and
the phase's retry policy applies: the next attempt starts new children (the attempt is part of their
ids).

Usage: what a child's agents consumed (its :class:`~quorum.engine.results.Usage`, which counts its own
children the same way) is added to its parent's usage when the step learns how the child ended — a
child that failed, or was aborted because a sibling failed or the parent stopped, included: those calls
were made and paid for. Each child execution counts once: the parent's context keeps each counted
child's usage by id (:meth:`~quorum.engine.context.ExecutionContext.count_child`), and so do its
checkpoints, so a parent taken over after a crash that finds a child again knows from its own state
whether that child is in its usage already. ``child:ended`` carries the child's usage, which is how a
take-over counts the children that ended after its latest checkpoint (even in a phase it does not run
again). A retried phase starts new children, and both attempts' children count.

Pause and resume reach the running children through :class:`~quorum.engine.links.ChildLinks`. Abort,
the parent's time limit and its phase's ``timeout:`` cancel the step, which aborts its children and
waits for them to end; a detached parent (left paused for another process) detaches its paused
children, which its next driver finds again.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from quorum.definition.model import Phase, Step, Task, thaw
from quorum.engine import templating
from quorum.engine.handle import ExecutionHandle
from quorum.engine.links import ChildLinks
from quorum.engine.live import LiveExecution
from quorum.engine.ports import Emitter
from quorum.engine.recovery import UnresumableError, stored_context
from quorum.engine.results import ExecutionResult, Usage
from quorum.engine.status import ExecutionStatus
from quorum.errors import ExecutionError, InvalidTransitionError, ResumeRefusedError, leaf_exceptions
from quorum.events import EventType
from quorum.history.base import TERMINAL_STATUSES, ExecutionRecord, HistoryStore
from quorum.ids import ExecutionId
from quorum.steps.protocol import StepContext

__all__ = (
    "ChildExecutionError", "ChildOutcome", "Parenting", "TaskStep", "child_execution_id", "child_summary",
)

_S = ExecutionStatus
_ONE_EXPRESSION = re.compile(r"\A\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\Z", re.DOTALL)


class ChildExecutionError(ExecutionError):
    """A child execution of a ``task:`` step did not complete (failed, aborted, timed out)."""

    def __init__(self, message: str, *, child_id: str, status: str) -> None:
        super().__init__(message)
        self.child_id = child_id
        self.status = status


def child_execution_id(parent: str, phase: str, step: int, index: int, attempt: int) -> ExecutionId:
    """The id of the ``index``-th child of step ``step`` of ``phase``, at that attempt of the phase: the
    same every time the parent reaches that point, so a recovered parent finds its children again."""
    digest = hashlib.sha256(f"{parent}\x1f{phase}\x1f{step}\x1f{index}\x1f{attempt}".encode()).hexdigest()
    return ExecutionId(digest[:16])


class Parenting(Protocol):
    """What the step needs of the executor (``TaskExecutor`` provides it)."""

    @property
    def history_store(self) -> HistoryStore | None: ...

    @property
    def child_links(self) -> ChildLinks: ...

    def load_task(self, task: str) -> Task: ...

    def live_execution(self, execution_id: str) -> LiveExecution | None: ...

    def emitter_of(self, execution_id: str) -> Emitter | None: ...

    def children_limit(self, task: Task) -> int | None: ...

    async def start_child(self, task: Task, input: Mapping[str, Any], *, execution_id: str,
                          parent_id: str) -> ExecutionHandle: ...

    async def resume_child(self, execution_id: str, *, keep_paused: bool) -> ExecutionHandle: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildOutcome:
    """How one child ended, as the step reports it."""

    id: ExecutionId
    task: str
    version: str | None
    status: str
    verdict: Mapping[str, Any] | None
    outputs: Mapping[str, Mapping[str, Any]]
    error: str | None = None
    usage: Usage = field(default_factory=Usage)
    """What it consumed, its own children included."""


def child_summary(outcome: ChildOutcome, *, index: int | None = None, item: Any = None) -> dict[str, Any]:
    """The step result of one child (plain JSON values): id, task, version, status, verdict, outputs."""
    out: dict[str, Any] = {
        "execution_id": outcome.id, "task": outcome.task, "version": outcome.version,
        "status": outcome.status, "verdict": thaw(outcome.verdict),
        "outputs": {name: thaw(values) for name, values in outcome.outputs.items()},
    }
    if index is not None:
        out["index"] = index
        out["item"] = thaw(item)
    return out


def _outcome_of(result: ExecutionResult, version: str | None) -> ChildOutcome:
    return ChildOutcome(id=result.id, task=result.task, version=version, status=result.status.value,
                        verdict=result.verdict, error=result.error, usage=result.usage,
                        outputs={str(n): p.outputs for n, p in result.phases.items()})


class TaskStep:
    """The strategy of ``task:`` steps (one per executor)."""

    __slots__ = ("_port", "poll_s")

    def __init__(self, port: Parenting, *, poll_s: float = 0.2) -> None:
        self._port = port
        self.poll_s = poll_s
        """How often a child driven by another process is looked at in the history (re-attaching)."""

    async def __call__(self, step: Step, phase: Phase, context: StepContext) -> Mapping[str, Any]:
        params = step.parameters
        selector = str(params.get("task") or "")
        templates: Mapping[str, str] = params.get("input") or {}
        foreach = params.get("foreach")
        where = f"phase {phase.name!r}, step {step.index} (task: {selector})"
        child_task = self._port.load_task(selector)
        if foreach is None:
            items: list[Any] = [None]
        else:
            value = context.evaluate(str(foreach))
            if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
                raise ExecutionError(
                    f"{where}: foreach={foreach} gave {type(value).__name__} {_short(value)}, not a list; "
                    "write an expression giving a list, e.g. foreach=input.tickers")
            items = list(value)
        inputs = [self._input(templates, context.template_context, item, index, foreach is not None)
                  for index, item in enumerate(items)]
        limit = self._port.children_limit(context.execution.task) if phase.parallel else 1
        slots = asyncio.Semaphore(limit) if limit else None
        outcomes: list[dict[str, Any]] = [{} for _ in items]

        async def one(index: int) -> None:
            if slots is None:
                outcomes[index] = await self._child(step, phase, context, child_task, inputs[index], index,
                                                    items[index], foreach is not None)
                return
            async with slots:
                outcomes[index] = await self._child(step, phase, context, child_task, inputs[index], index,
                                                    items[index], foreach is not None)

        if len(items) == 1:
            await one(0)
        elif items:
            try:
                async with asyncio.TaskGroup() as group:
                    for index in range(len(items)):
                        group.create_task(one(index), name=f"child {index} of {where}")
            except BaseExceptionGroup as group_error:
                failures = [e for e in leaf_exceptions(group_error) if isinstance(e, Exception)]
                if failures:
                    raise failures[0] from None
                raise
        if foreach is None:
            return outcomes[0]
        return {"children": outcomes, "count": len(outcomes)}

    @staticmethod
    def _input(templates: Mapping[str, str], base: Mapping[str, Any], item: Any, index: int,
               each: bool) -> dict[str, Any]:
        context = {**base, "item": item, "index": index} if each else base
        values: dict[str, Any] = {}
        for name, template in templates.items():
            value = _value(str(template), context)
            if value is not None:
                values[name] = value
        return values

    async def _child(self, step: Step, phase: Phase, context: StepContext, task: Task,
                     input: Mapping[str, Any], index: int, item: Any, each: bool) -> dict[str, Any]:
        parent = context.execution
        child_id = child_execution_id(parent.id, phase.name, step.index, index, context.attempt)
        emitter = self._port.emitter_of(parent.id)
        started = time.perf_counter()
        handle, done, attached = await self._attach_or_start(child_id, task, input, parent.id,
                                                             parent.status is _S.PAUSED)
        if emitter is not None:
            emitter.emit(EventType.CHILD_STARTED, phase=phase.name, step=step.index,
                         data={"child_id": child_id, "task": task.name, "version": task.version,
                               "index": index if each else None, "attached": attached})
        outcome = done if handle is None else _outcome_of(await self._wait(handle, context), task.version)
        assert outcome is not None
        # A child found again by a parent taken over may be counted already (its checkpoint or its
        # child:ended after the checkpoint says): then nothing is added.
        parent.count_child(child_id, outcome.usage)
        if emitter is not None:
            emitter.emit(EventType.CHILD_ENDED, phase=phase.name, step=step.index,
                         duration_ms=(time.perf_counter() - started) * 1000.0, error=outcome.error,
                         data={"child_id": child_id, "task": outcome.task, "index": index if each else None,
                               "status": outcome.status, "verdict": thaw(outcome.verdict),
                               "usage": outcome.usage.to_dict()})
        if outcome.status != _S.COMPLETED.value:
            raise ChildExecutionError(
                f"child execution {child_id} ({outcome.task}"
                + (f", element {index}: {_short(item)}" if each else "")
                + f") ended {outcome.status}" + (f": {outcome.error}" if outcome.error else ""),
                child_id=child_id, status=outcome.status)
        return child_summary(outcome, index=index if each else None, item=item)

    async def _attach_or_start(
        self, child_id: ExecutionId, task: Task, input: Mapping[str, Any], parent_id: ExecutionId,
        parent_paused: bool,
    ) -> tuple[ExecutionHandle | None, ChildOutcome | None, bool]:
        """``(handle, None, attached)`` for a child to wait for, or ``(None, outcome, True)`` for one
        that had ended already (a parent taken over after its child completed)."""
        port = self._port
        live = port.live_execution(child_id)
        if live is not None:
            return self._linked(ExecutionHandle(live), parent_id, parent_paused), None, True
        store = port.history_store
        record = None if store is None else await store.get_execution(child_id)
        if record is None:
            handle = await port.start_child(task, input, execution_id=child_id, parent_id=parent_id)
            return self._linked(handle, parent_id, parent_paused), None, False
        assert store is not None
        while True:
            if record.status in TERMINAL_STATUSES:
                return None, await _stored_outcome(store, record, task.version), True
            try:
                handle = await port.resume_child(child_id, keep_paused=parent_paused)
            except UnresumableError:
                raise
            except ResumeRefusedError:
                # Another live process drives it (or holds it for a moment, as a recover does): follow it
                # through the history, and take it over if that process lets it go or dies.
                await asyncio.sleep(self.poll_s)
                record = await store.get_execution(child_id)
                if record is None:
                    raise ExecutionError(f"child execution {child_id} is no longer in the history") from None
                continue
            return self._linked(handle, parent_id, parent_paused), None, True

    def _linked(
        self, handle: ExecutionHandle, parent_id: ExecutionId, parent_paused: bool
    ) -> ExecutionHandle:
        live = self._port.live_execution(handle.id)
        if live is not None:
            self._port.child_links.add(parent_id, handle.id, live)
            if parent_paused:
                try:
                    live.pause(f"parent {parent_id} paused")
                except InvalidTransitionError:
                    pass
        return handle

    async def _wait(self, handle: ExecutionHandle, context: StepContext) -> ExecutionResult:
        """The child's result; if the step is cancelled meanwhile (the parent aborted, timed out, lost
        its store, was detached, or a sibling failed), the child is stopped first."""
        parent = context.execution
        links = self._port.child_links
        try:
            return await handle.result()
        except BaseException:
            live = self._port.live_execution(handle.id)
            if live is not None and not live.done.done():
                signal = parent.get_abort_signal()
                if signal.kind == "detach":
                    try:
                        live.detach()  # paused with its parent: left for the parent's next driver
                    except InvalidTransitionError:
                        pass  # still running: it finishes here, and the parent's next driver takes the result
                else:
                    why = signal.reason if signal.reason else "its task: step was cancelled"
                    live.abort(f"parent {parent.id}: {why}")
                await asyncio.wait([live.done])
                if live.ctx.status.terminal:  # stopped here, never to be re-attached: its calls count now
                    parent.count_child(handle.id, live.ctx.usage)
            raise
        finally:
            links.remove(parent.id, handle.id)


async def _stored_outcome(store: HistoryStore, record: ExecutionRecord, version: str | None) -> ChildOutcome:
    """How a child recorded as ended ended: its status, verdict and each completed phase's outputs."""
    ctx = await stored_context(store, record.id)
    return ChildOutcome(id=record.id, task=record.task, version=record.task_version or version,
                        status=record.status, verdict=record.verdict, error=record.error, usage=ctx.usage,
                        outputs={str(n): p.outputs for n, p in ctx.phases.items()})


def _value(template: str, context: Mapping[str, Any]) -> Any:
    """A template that is one ``{{ expression }}`` gives the expression's value; any other text is
    rendered to a string (plain text stays as it is)."""
    match = _ONE_EXPRESSION.match(template.strip())
    if match is not None:
        return templating.evaluate(match.group("expr").strip(), context)
    return templating.render(template, context) if templating.is_template(template) else template


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
