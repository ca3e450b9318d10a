"""PhaseRunner: one phase from ready to settled — skipped, or run attempt after attempt.

A phase whose dependencies were *all* skipped (a failed optional phase counts as skipped) is skipped
("dependencies skipped"); otherwise its ``when`` condition decides (false -> skipped, with the
condition as the reason).

A failed attempt (an exception from a step, fewer answers than ``minAgents``, the phase's ``timeout:``)
is retried by the phase's retry policy (the task's by default): ``phase:failed`` then ``phase:retry``
with the delay, then a new ``phase:start``. A false ``validation:`` step or an exhausted budget is never
retried. After the last attempt a non-optional phase raises :class:`~quorum.errors.PhaseFailedError`,
which fails the execution; an optional one fails alone. Each completed phase is followed by a
checkpoint (``after:<phase>``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from quorum.definition.model import Phase
from quorum.engine import templating
from quorum.engine.attempt import AttemptRunner
from quorum.engine.calls import AttemptAnswers
from quorum.engine.context import ExecutionContext
from quorum.engine.control import ExecutionControl
from quorum.engine.log import EngineLogger
from quorum.engine.options import RunOptions
from quorum.engine.ports import Emitter
from quorum.engine.retry import backoff_delay_ms, retry_sleep
from quorum.engine.snapshot import Snapshots
from quorum.engine.status import PhaseStatus
from quorum.errors import BudgetExceededError, ExecutionInterrupt, PhaseFailedError, StepValidationError
from quorum.events import EventType
from quorum.ids import PhaseName

__all__ = ("AttemptFactory", "PhaseRunner")

AttemptFactory = Callable[[AttemptAnswers], AttemptRunner]
"""Makes the runner of one attempt (given where its answers go)."""

_SKIPLIKE = frozenset({PhaseStatus.SKIPPED, PhaseStatus.FAILED})


class PhaseRunner:
    __slots__ = (
        "_control", "_ctx", "_emitter", "_log", "_new_attempt", "_options", "_snapshots", "_start_attempts",
        "current"
    )

    def __init__(
        self,
        ctx: ExecutionContext,
        *,
        emitter: Emitter,
        control: ExecutionControl,
        options: RunOptions,
        new_attempt: AttemptFactory,
        log: EngineLogger,
        snapshots: Snapshots | None = None,
        start_attempts: Mapping[str, int] | None = None,
    ) -> None:
        self._ctx = ctx
        self._emitter = emitter
        self._control = control
        self._options = options
        self._new_attempt = new_attempt
        self._log = log
        self._snapshots = snapshots
        self._start_attempts = dict(start_attempts) if start_attempts else None
        self.current: dict[PhaseName, int] = {}
        """The phases running now -> their attempt."""

    async def run(self, phase: Phase) -> None:
        """Settle ``phase`` (its dependencies are settled)."""
        await self._control.boundary()
        phases = self._ctx.phases
        deps = phase.depends_on
        if deps and all((r := phases.get(d)) is not None and r.status in _SKIPLIKE for d in deps):
            self._skip(phase, "dependencies skipped")
            return
        if phase.when and not self._condition_holds(phase, phase.when):
            self._skip(phase, f"condition false: {phase.when}")
            return
        ctx, emit = self._ctx, self._emitter.emit
        name = phase.name
        policy = ctx.task.retry_for(phase)
        attempt = self._start_attempts.pop(name, 1) if self._start_attempts else 1
        while True:
            await self._control.boundary()
            ctx.start_phase(name, attempt=attempt)
            self.current[name] = attempt
            emit(EventType.PHASE_START, phase=name,
                 data={"attempt": attempt, "max_attempts": policy.max_attempts, "parallel": phase.parallel})
            answers = AttemptAnswers(phase, attempt)
            if self._snapshots is not None:
                answers.keys = self._snapshots.keys_of(name)
            runner = self._new_attempt(answers)
            clock: asyncio.Timeout | None = None
            try:
                if phase.timeout_s is None:
                    outputs, warnings = await runner.run()
                else:
                    async with self._control.phase_clock(phase.timeout_s) as clock:
                        outputs, warnings = await runner.run()
            except (BudgetExceededError, StepValidationError) as exc:
                self._fail(phase, attempt, str(exc), answers, will_retry=False,
                           cause="budget" if isinstance(exc, BudgetExceededError) else "validation")
                raise
            except (asyncio.CancelledError, ExecutionInterrupt) as exc:
                interrupted = self._control.interrupted
                reason = interrupted[1] if interrupted else str(exc) or "cancelled"
                ctx.cancel_phase(name, reason, answers=tuple(answers.answers))
                self.current.pop(name, None)
                raise
            except Exception as exc:
                if clock is not None and clock.expired():
                    error = f"phase {name!r} timed out after {phase.timeout_s:g}s"
                else:
                    error = str(exc) or type(exc).__name__
            else:
                self._complete(phase, attempt, outputs, warnings, answers)
                return
            will_retry = attempt < policy.max_attempts
            self._fail(phase, attempt, error, answers, will_retry=will_retry)
            self._log.warning("phase %s attempt %d failed: %s", name, attempt, error)
            if not will_retry:
                if phase.optional:
                    return
                raise PhaseFailedError(name, error)
            delay_ms = backoff_delay_ms(policy, attempt, rng=self._options.rng)
            emit(EventType.PHASE_RETRY, phase=name,
                 data={"attempt": attempt + 1, "delay_ms": delay_ms, "error": error})
            await retry_sleep(delay_ms / 1000.0, self._options.retry_sleep)
            attempt += 1

    def _condition_holds(self, phase: Phase, condition: str) -> bool:
        try:
            return bool(templating.evaluate(condition, self._ctx.template_context(phase.name)))
        except Exception as exc:
            raise PhaseFailedError(phase.name, f"its `when` condition failed: {exc}") from exc

    def _skip(self, phase: Phase, reason: str) -> None:
        self._ctx.skip_phase(phase.name, reason)
        self._emitter.emit(EventType.PHASE_SKIPPED, phase=phase.name, data={"reason": reason})

    def _complete(
        self, phase: Phase, attempt: int, outputs: Mapping[str, Any], warnings: tuple[str, ...],
        answers: AttemptAnswers,
    ) -> None:
        name = phase.name
        result = self._ctx.complete_phase(name, outputs, answers=tuple(answers.answers), warnings=warnings)
        self.current.pop(name, None)
        self._emitter.emit(EventType.PHASE_COMPLETE, phase=name, duration_ms=result.duration_ms,
                           data={"attempt": attempt, "outputs": result.outputs, "warnings": list(warnings)})
        self._checkpoint(f"after:{name}", name)

    def _fail(
        self, phase: Phase, attempt: int, error: str, answers: AttemptAnswers, *, will_retry: bool,
        cause: str | None = None,
    ) -> None:
        name = phase.name
        self._ctx.fail_phase(name, error, answers=tuple(answers.answers))
        if not will_retry:
            self.current.pop(name, None)
        data: dict[str, Any] = {"attempt": attempt, "will_retry": will_retry}
        if cause is None:
            data["optional"] = phase.optional
        else:
            data[cause] = True
        self._emitter.emit(EventType.PHASE_FAILED, phase=name, error=error, data=data)

    def _checkpoint(self, label: str, phase: str | None) -> None:
        """Take a checkpoint; its event carries a snapshot when a history store records the run."""
        checkpoint = self._ctx.create_checkpoint(label)
        data: dict[str, Any] = {"checkpoint_id": checkpoint.id, "label": label, "phase": phase}
        if self._snapshots is not None:
            data["snapshot"] = self._snapshots.snapshot(self._ctx, checkpoint)
        self._emitter.emit(EventType.CHECKPOINT_CREATED, phase=phase, data=data)
