"""ExecutionContext: the state of one execution, its status machine, checkpoints and JSON form.

The context is plain state plus the seed's method set (start, complete, fail, abort, timeout, pause,
resume, start_phase, complete_phase, create_checkpoint, restore_checkpoint, get_abort_signal,
to_json/from_json, template_context). The executor drives it; it never does I/O itself.

Checkpoints: the executor takes one automatically after every completed phase (label ``after:<phase>``)
— cheap, because a checkpoint holds references to the frozen :class:`PhaseResult` objects, not copies.
``create_checkpoint(label)`` takes one by hand. ``restore_checkpoint(id)`` rolls the phases back to the
checkpoint (later checkpoints are dropped) and puts the execution back to ``pending`` so the executor
can run it on from there (``TaskExecutor.run_context``) or a copy of it (``TaskExecutor.fork``).

Duration: ``duration_ms`` is the execution's running time (see :mod:`quorum.engine.clock`).

Usage: ``usage`` is what the execution's agents consumed, its child executions' (``task:`` steps)
included. Each child is counted once, by id (:meth:`ExecutionContext.count_child`), and the context
keeps what each one consumed: checkpoints and the JSON form hold that too, so a parent rebuilt from them
knows which children its usage holds already (a take-over re-attaching to a child that ended), and
``children_usage`` tells the children's part from the execution's own (``own_usage``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from quorum.definition.model import Task, frozen_mapping
from quorum.engine.checkpoint import Checkpoint
from quorum.engine.clock import RunningClock
from quorum.engine.phase_views import PhaseView, SettledPhases
from quorum.engine.results import ExecutionResult, PhaseResult, Usage, thaw
from quorum.engine.status import PHASE_TERMINAL, ExecutionStatus, PhaseStatus, check_transition
from quorum.errors import InvalidTransitionError
from quorum.ids import CheckpointId, ExecutionId, PhaseName
from quorum.signals import AbortSignal

__all__ = ("Checkpoint", "ExecutionContext", "new_execution_id")

_S = ExecutionStatus


def new_execution_id() -> ExecutionId:
    return ExecutionId(uuid.uuid4().hex[:16])


_NO_OUTPUTS: Mapping[str, Any] = MappingProxyType({})


class ExecutionContext:
    """The mutable state of one execution. Not thread-safe: one event loop drives it."""

    def __init__(
        self,
        task: Task,
        input: Mapping[str, Any] | None = None,
        *,
        execution_id: str | None = None,
        created_at: float | None = None,
        parent_id: str | None = None,
    ) -> None:
        self.id: ExecutionId = ExecutionId(execution_id) if execution_id else new_execution_id()
        self.task = task
        self.parent_id: ExecutionId | None = ExecutionId(parent_id) if parent_id else None
        """The execution whose ``task:`` step started this one (composition); None for a top-level run."""
        self.input: Mapping[str, Any] = frozen_mapping(input)
        self.status: ExecutionStatus = _S.PENDING
        self.status_reason: str | None = None
        self.error: str | None = None
        self.verdict: Mapping[str, Any] | None = None
        self.created_at = time.time() if created_at is None else created_at
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.clock = RunningClock()
        self.phases: dict[PhaseName, PhaseResult] = {}
        self.checkpoints: list[Checkpoint] = []
        self.sequence = 0
        """The last event sequence number used (events continue from here after a restore)."""
        self.calls = 0
        self.call_errors = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost_usd = 0.0
        self._children: dict[ExecutionId, Usage] = {}
        self._children_view: Mapping[ExecutionId, Usage] | None = None
        """A frozen copy of ``_children`` shared by the checkpoints until a child is counted."""
        self._abort = AbortSignal()
        self._views: dict[PhaseName, Mapping[str, Any]] = {}
        self._optional = {p.name: p.optional for p in task.phases}
        self._settled: dict[PhaseName, PhaseResult] = {}
        self.task_view: Mapping[str, Any] = MappingProxyType(
            {"name": task.name, "version": task.version, "title": task.title}
        )

    # --- status -----------------------------------------------------------------------------------
    def _go(self, target: ExecutionStatus) -> None:
        check_transition(self.status, target)
        self.status = target

    def start(self) -> None:
        self._go(_S.RUNNING)
        if self.started_at is None:
            self.started_at = time.time()
        self.clock.run()

    def complete(self, verdict: Mapping[str, Any] | None = None) -> None:
        self._go(_S.COMPLETED)
        self.verdict = verdict
        self._end()

    def fail(self, error: BaseException | str) -> None:
        self._go(_S.FAILED)
        self.error = str(error)
        self._end()

    def abort(self, reason: str = "aborted") -> None:
        self._go(_S.ABORTED)
        self.status_reason = reason
        self.error = f"aborted: {reason}"
        self._abort.abort(reason, kind="abort")
        self._end()

    def timeout(self, limit_s: float | None = None) -> None:
        self._go(_S.TIMEOUT)
        self.error = (
            "execution timed out" if limit_s is None else f"execution exceeded its time limit of {limit_s:g}s"
        )
        self._abort.abort(self.error, kind="timeout")
        self._end()

    def pause(self, reason: str = "") -> None:
        waiting = self.status is _S.WAITING
        self._go(_S.PAUSED)
        self.status_reason = reason
        if not waiting:  # a wait for approval has stopped the clock already
            self.clock.pause()

    def resume(self, *, waiting: bool = False) -> float:
        """Back to running (or to ``waiting``, when an approval still waits: its clock stays stopped);
        returns how long the pause lasted (seconds)."""
        if waiting:
            self._go(_S.WAITING)
            self.status_reason = "waiting for approval"
            return 0.0
        self._go(_S.RUNNING)
        self.status_reason = None
        return self.clock.resume()

    def wait_for_approval(self) -> None:
        """An approval step waits for people: the clock stops as for a pause."""
        self._go(_S.WAITING)
        self.status_reason = "waiting for approval"
        self.clock.pause()

    def approval_given(self) -> float:
        """The wait for approval is over; returns how long it lasted (seconds)."""
        self._go(_S.RUNNING)
        self.status_reason = None
        return self.clock.resume()

    def take_over(self, running_s: float) -> None:
        """This process drives the execution from now on; it had already run ``running_s`` seconds
        (in other processes, as its journal records). Its clock runs again if it is running."""
        self.clock.take_over(running_s, running=self.status is _S.RUNNING)

    def _end(self) -> None:
        self.clock.end()
        self.ended_at = time.time()

    @property
    def paused_s(self) -> float:
        """Total time spent paused (it does not count against the time limit)."""
        return self.clock.paused_s

    @property
    def running_s(self) -> float:
        """Running time so far, in seconds (see :mod:`quorum.engine.clock`)."""
        return self.clock.running_s

    @property
    def duration_ms(self) -> float | None:
        """The running time in milliseconds (None before it started): paused time and time no process
        drove it are not counted."""
        if self.started_at is None:
            return None
        return self.running_s * 1000.0

    def get_abort_signal(self) -> AbortSignal:
        return self._abort

    # --- phases -----------------------------------------------------------------------------------
    def phase_status(self, name: str) -> PhaseStatus:
        result = self.phases.get(PhaseName(name))
        return PhaseStatus.PENDING if result is None else result.status

    def start_phase(self, name: str, *, attempt: int = 1) -> PhaseResult:
        phase = PhaseName(name)
        if phase not in self._optional:
            raise KeyError(name)
        current = self.phases.get(phase)
        if current is not None and current.status in (PhaseStatus.COMPLETED, PhaseStatus.SKIPPED):
            raise InvalidTransitionError(f"phase {name} {current.status.value}", "running")
        started = current.started_at if current is not None and attempt > 1 else None
        result = PhaseResult(
            name=phase,
            status=PhaseStatus.RUNNING,
            attempts=attempt,
            started_at=time.time() if started is None else started,
        )
        self.phases[phase] = result
        self._settled.pop(phase, None)  # running again (a retry): not settled any more
        return result

    def complete_phase(
        self,
        name: str,
        outputs: Mapping[str, Any],
        *,
        answers: tuple[Any, ...] = (),
        warnings: tuple[str, ...] = (),
    ) -> PhaseResult:
        return self._finish_phase(name, PhaseStatus.COMPLETED, outputs=outputs, answers=answers,
                                  warnings=warnings)

    def fail_phase(self, name: str, error: str, *, answers: tuple[Any, ...] = ()) -> PhaseResult:
        return self._finish_phase(name, PhaseStatus.FAILED, error=error, answers=answers)

    def cancel_phase(self, name: str, reason: str, *, answers: tuple[Any, ...] = ()) -> PhaseResult:
        return self._finish_phase(name, PhaseStatus.CANCELLED, error=reason, answers=answers)

    def skip_phase(self, name: str, reason: str) -> PhaseResult:
        phase = PhaseName(name)
        current = self.phases.get(phase)
        if current is not None and current.status is not PhaseStatus.PENDING:
            raise InvalidTransitionError(f"phase {name} {current.status.value}", "skipped")
        now = time.time()
        result = PhaseResult(
            name=phase, status=PhaseStatus.SKIPPED, skipped_reason=reason, started_at=now, ended_at=now,
            duration_ms=0.0,
        )
        self._set_result(result)
        return result

    def _finish_phase(
        self,
        name: str,
        status: PhaseStatus,
        *,
        outputs: Mapping[str, Any] | None = None,
        answers: tuple[Any, ...] = (),
        warnings: tuple[str, ...] = (),
        error: str | None = None,
    ) -> PhaseResult:
        phase = PhaseName(name)
        current = self.phases.get(phase)
        if current is None or current.status is not PhaseStatus.RUNNING:
            was = "pending" if current is None else current.status.value
            raise InvalidTransitionError(f"phase {name} {was}", status.value)
        now = time.time()
        started = current.started_at or now
        result = PhaseResult(
            name=phase,
            status=status,
            outputs=MappingProxyType(dict(outputs)) if outputs else _NO_OUTPUTS,
            answers=answers,
            attempts=current.attempts,
            started_at=started,
            ended_at=now,
            duration_ms=(now - started) * 1000.0,
            error=error,
            warnings=warnings,
        )
        self._set_result(result)
        return result

    def _set_result(self, result: PhaseResult) -> None:
        self.phases[result.name] = result
        # Settled phases (what a checkpoint holds) are kept apart, so a checkpoint is one dict copy.
        if self._is_settled(result):
            self._settled[result.name] = result
        else:
            self._settled.pop(result.name, None)
        if result.status in PHASE_TERMINAL:
            self._views[result.name] = PhaseView(result)

    def set_phase_result(self, result: PhaseResult) -> None:
        """Put a finished phase result in place (used when state is rebuilt from a journal)."""
        self._set_result(result)

    def record_usage(self, response: Any) -> None:
        self.calls += 1
        if response.error is not None:
            self.call_errors += 1
        self.record_tokens(response)

    def record_tokens(self, response: Any) -> None:
        self.tokens_in += response.tokens_in
        self.tokens_out += response.tokens_out
        if response.cost_usd:
            self.cost_usd += response.cost_usd

    def add_usage(self, usage: Usage) -> None:
        """Count consumption made elsewhere (a child execution's) in this one's usage."""
        self._set_usage(self.usage + usage)

    def count_child(self, child_id: str, usage: Usage) -> bool:
        """Count what a child execution consumed (it ended) in this one's usage, once: False, and nothing
        added, when that child is counted already."""
        child = ExecutionId(child_id)
        if child in self._children:
            return False
        self._children[child] = usage
        self._children_view = None
        self.add_usage(usage)
        return True

    def restore_usage(self, usage: Usage, children: Mapping[ExecutionId, Usage]) -> None:
        """Put the usage back as recorded (a checkpoint's, a journal's): ``usage``, of which
        ``children`` are the child executions counted in it."""
        self._set_usage(usage)
        self._set_children(children)

    def _set_usage(self, usage: Usage) -> None:
        self.calls, self.call_errors = usage.calls, usage.errors
        self.tokens_in, self.tokens_out, self.cost_usd = usage.tokens_in, usage.tokens_out, usage.cost_usd

    def _set_children(self, children: Mapping[ExecutionId, Usage]) -> None:
        self._children = {ExecutionId(child): usage for child, usage in children.items()}
        self._children_view = None

    @property
    def child_usages(self) -> Mapping[ExecutionId, Usage]:
        """Each child execution counted in ``usage``, with what it consumed (read only)."""
        view = self._children_view
        if view is None:
            view = self._children_view = MappingProxyType(dict(self._children))
        return view

    @property
    def children_usage(self) -> Usage:
        """The part of ``usage`` that the child executions consumed (their own children included)."""
        return Usage.total(self._children.values())

    @property
    def own_usage(self) -> Usage:
        """What this execution's own agents consumed: ``usage`` less ``children_usage``."""
        return self.usage - self.children_usage

    @property
    def usage(self) -> Usage:
        return Usage(
            calls=self.calls, errors=self.call_errors, tokens_in=self.tokens_in, tokens_out=self.tokens_out,
            cost_usd=self.cost_usd,
        )

    # --- checkpoints ------------------------------------------------------------------------------
    def create_checkpoint(self, label: str = "") -> Checkpoint:
        checkpoint = Checkpoint(
            id=CheckpointId(f"{self.id}-cp{len(self.checkpoints) + 1}"),
            label=label,
            created_at=time.time(),
            sequence=self.sequence,
            phases=SettledPhases(tuple(self._settled.values())),
            usage=self.usage,
            children=self.child_usages,
        )
        self.checkpoints.append(checkpoint)
        return checkpoint

    def _is_settled(self, result: PhaseResult) -> bool:
        status = result.status
        if status is PhaseStatus.COMPLETED or status is PhaseStatus.SKIPPED:
            return True
        return status is PhaseStatus.FAILED and self._optional.get(result.name, False)

    def get_checkpoint(self, checkpoint_id: str) -> Checkpoint:
        for checkpoint in self.checkpoints:
            if checkpoint.id == checkpoint_id:
                return checkpoint
        raise KeyError(checkpoint_id)

    def restore_checkpoint(self, checkpoint_id: str) -> Checkpoint:
        """Roll the phases back to the checkpoint; the execution goes back to ``pending``.

        Refused while running (pause it first, or restore after it ended). Later checkpoints are dropped.
        """
        if self.status is _S.RUNNING:
            raise InvalidTransitionError(self.status.value, "restore a checkpoint (pause first)")
        checkpoint = self.get_checkpoint(checkpoint_id)
        index = self.checkpoints.index(checkpoint)
        del self.checkpoints[index + 1 :]
        self.phases = {}
        self._views = {}
        self._settled = {}
        for result in checkpoint.phases.values():
            self._set_result(result)
        self.restore_usage(checkpoint.usage, checkpoint.children)
        self._back_to_pending()
        return checkpoint

    def rewind(self, phases: Iterable[str] = ()) -> tuple[PhaseName, ...]:
        """Forget ``phases``, every phase that depends on them (transitively) and every phase that is
        not settled; the execution goes back to ``pending`` to run those again (re-run from a phase).
        Returns the phases that will run again. Refused while running."""
        if self.status is _S.RUNNING:
            raise InvalidTransitionError(self.status.value, "rewind (pause first)")
        dropped = {PhaseName(p) for p in phases}
        changed = True
        while changed:
            changed = False
            for phase in self.task.phases:
                if phase.name not in dropped and any(d in dropped for d in phase.depends_on):
                    dropped.add(phase.name)
                    changed = True
        keep = {n: r for n, r in self.phases.items() if n not in dropped and self._is_settled(r)}
        self.phases = {}
        self._views = {}
        self._settled = {}
        for result in keep.values():
            self._set_result(result)
        self._back_to_pending()
        return tuple(p.name for p in self.task.phases if p.name not in keep)

    def _back_to_pending(self) -> None:
        self.status = _S.PENDING
        self.status_reason = None
        self.error = None
        self.verdict = None
        self.ended_at = None
        self.clock.stop()
        self._abort = AbortSignal()

    def reset_clock(self) -> None:
        """Forget when it started and how long it ran (a fork is a new execution with its own clock)."""
        self.started_at = None
        self.clock.reset()

    # --- templates --------------------------------------------------------------------------------
    def phase_views(self) -> dict[PhaseName, Mapping[str, Any]]:
        """``phases`` of the template context: name -> {outputs, responses, status}, finished phases."""
        return dict(self._views)

    def template_context(
        self, phase: str | None = None, *, attempt: int = 1, round: int = 0, phases: Any = None
    ) -> dict[str, Any]:
        return {
            "input": self.input,
            "task": self.task_view,
            "phases": self.phase_views() if phases is None else phases,
            "phase": {"name": phase, "attempt": attempt, "round": round},
            "execution": {"id": self.id, "started_at": self.started_at},
        }

    # --- results and JSON -------------------------------------------------------------------------
    def result(self) -> ExecutionResult:
        return ExecutionResult(
            id=self.id,
            task=self.task.name,
            status=self.status,
            verdict=self.verdict,
            phases=MappingProxyType(dict(self.phases)),
            error=self.error,
            duration_ms=self.duration_ms,
            started_at=self.started_at,
            ended_at=self.ended_at,
            input=self.input,
            usage=self.usage,
            children_usage=self.children_usage,
            checkpoints=tuple(c.id for c in self.checkpoints),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task.to_dict(),
            "input": thaw(self.input),
            "status": self.status.value,
            "status_reason": self.status_reason,
            "error": self.error,
            "verdict": thaw(self.verdict),
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "paused_s": self.paused_s,
            # The closed stretches only (like ``paused_s``), so that the JSON form does not change with
            # the clock: a context read back while running starts a new stretch when it is read.
            "active_s": self.clock.active_s,
            "sequence": self.sequence,
            "usage": self.usage.to_dict(),
            "children": {child: usage.to_dict() for child, usage in self._children.items()},
            "phases": {name: p.to_dict() for name, p in self.phases.items()},
            "checkpoints": [c.to_dict() for c in self.checkpoints],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, task: Task | None = None) -> ExecutionContext:
        ctx = cls(
            task if task is not None else Task.from_dict(data["task"]),
            data.get("input"),
            execution_id=data["id"],
            created_at=data["created_at"],
        )
        ctx.status = ExecutionStatus(data["status"])
        ctx.status_reason = data.get("status_reason")
        ctx.error = data.get("error")
        verdict = data.get("verdict")
        ctx.verdict = None if verdict is None else frozen_mapping(verdict)
        ctx.started_at = data.get("started_at")
        ctx.ended_at = data.get("ended_at")
        ctx.clock.paused_s = data.get("paused_s", 0.0)
        if ctx.status is _S.PAUSED:
            ctx.clock.hold_paused()
        running = data.get("active_s")
        if running is None and ctx.started_at is not None and ctx.ended_at is not None:
            running = max(0.0, ctx.ended_at - ctx.started_at - ctx.paused_s)  # written before running_s
        ctx.take_over(float(running or 0.0))
        ctx.sequence = data.get("sequence", 0)
        # JSON written before children were kept apart has none: its usage stays whole, no child known.
        children = {ExecutionId(k): Usage(**v) for k, v in data.get("children", {}).items()}
        ctx.restore_usage(Usage(**data.get("usage", {})), children)
        for name, p in data.get("phases", {}).items():
            ctx._set_result(PhaseResult.from_dict({**p, "name": name}))
        ctx.checkpoints = [Checkpoint.from_dict(c) for c in data.get("checkpoints", ())]
        return ctx

    def to_json(self, **dumps: Any) -> str:
        return json.dumps(self.to_dict(), **dumps)

    @classmethod
    def from_json(cls, text: str, *, task: Task | None = None) -> ExecutionContext:
        return cls.from_dict(json.loads(text), task=task)

    def __repr__(self) -> str:
        return f"<ExecutionContext {self.id} {self.task.name} {self.status.value}>"

