"""The attempts of one phase: retries with backoff, phase timeouts, and the checkpoint after it.

A failed attempt (an exception from a step, fewer answers than ``minAgents``, the phase timeout) is
retried by the phase's retry policy (the task's by default): ``phase:failed`` then ``phase:retry`` with
the delay, then a new ``phase:start``. A false ``validation:`` step or an exhausted budget is never
retried. After the last attempt a non-optional phase fails the execution (:class:`Fatal`); an optional
one fails alone. Each completed phase is followed by a checkpoint (``after:<phase>``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from quorum.definition.model import Phase
from quorum.engine.phases import PhaseRunner
from quorum.engine.retry import backoff_delay_ms, retry_sleep
from quorum.errors import BudgetExceededError, ExecutionInterrupt, PhaseFailedError, StepValidationError
from quorum.events import EventType

if TYPE_CHECKING:
    from quorum.engine.live import LiveExecution

__all__ = ("Fatal", "checkpoint_after", "run_attempts")


class Fatal(Exception):
    """Raised by a phase task to end the execution as failed (cancels the other phases)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        super().__init__(str(error))


async def run_attempts(live: LiveExecution, phase: Phase) -> None:
    """Run a phase until it completes, or fails for good (then raise :class:`Fatal` unless optional)."""
    ctx = live.ctx
    name = phase.name
    policy = live.task.retry_for(phase)
    attempt = live.start_attempts.pop(name, 1)
    while True:
        await live.boundary()
        ctx.start_phase(name, attempt=attempt)
        live.current_phases[name] = attempt
        if live.wants(EventType.PHASE_START):
            live.emit(EventType.PHASE_START, phase=name,
                      data={"attempt": attempt, "max_attempts": policy.max_attempts,
                            "parallel": phase.parallel})
        else:
            ctx.sequence += 1
        runner = PhaseRunner(live, phase, attempt)
        timeout_cm: asyncio.Timeout | None = None
        try:
            if phase.timeout_s is not None:
                async with asyncio.timeout(phase.timeout_s) as timeout_cm:
                    live.phase_clock_started(timeout_cm)
                    try:
                        outputs, warnings = await runner.run()
                    finally:
                        live.phase_clock_stopped(timeout_cm)
            else:
                outputs, warnings = await runner.run()
        except BudgetExceededError as exc:
            ctx.fail_phase(name, str(exc), answers=tuple(runner.answers))
            live.current_phases.pop(name, None)
            live.emit(EventType.PHASE_FAILED, phase=name, error=str(exc),
                      data={"attempt": attempt, "will_retry": False, "budget": True})
            raise Fatal(exc) from None
        except StepValidationError as exc:
            ctx.fail_phase(name, str(exc), answers=tuple(runner.answers))
            live.current_phases.pop(name, None)
            live.emit(EventType.PHASE_FAILED, phase=name, error=str(exc),
                      data={"attempt": attempt, "will_retry": False, "validation": True})
            raise Fatal(exc) from None
        except (asyncio.CancelledError, ExecutionInterrupt) as exc:
            reason = live._interrupt[1] if live._interrupt else str(exc) or "cancelled"
            ctx.cancel_phase(name, reason, answers=tuple(runner.answers))
            live.current_phases.pop(name, None)
            raise
        except Exception as exc:
            if timeout_cm is not None and timeout_cm.expired():
                error = f"phase {name!r} timed out after {phase.timeout_s:g}s"
            else:
                error = str(exc) or type(exc).__name__
        else:
            result = ctx.complete_phase(name, outputs, answers=tuple(runner.answers), warnings=warnings)
            live.current_phases.pop(name, None)
            if live.wants(EventType.PHASE_COMPLETE):
                live.emit(EventType.PHASE_COMPLETE, phase=name, duration_ms=result.duration_ms,
                          data={"attempt": attempt, "outputs": result.outputs,
                                "warnings": list(warnings)})
            else:
                ctx.sequence += 1
            checkpoint_after(live, f"after:{name}", name)
            return
        ctx.fail_phase(name, error, answers=tuple(runner.answers))
        will_retry = attempt < policy.max_attempts
        live.emit(EventType.PHASE_FAILED, phase=name, error=error,
                  data={"attempt": attempt, "will_retry": will_retry, "optional": phase.optional})
        live.log.warning("phase %s attempt %d failed: %s", name, attempt, error)
        if not will_retry:
            live.current_phases.pop(name, None)
            if phase.optional:
                return
            raise Fatal(PhaseFailedError(name, error))
        delay_ms = backoff_delay_ms(policy, attempt, rng=live.executor._rng)
        live.emit(EventType.PHASE_RETRY, phase=name,
                  data={"attempt": attempt + 1, "delay_ms": delay_ms, "error": error})
        await retry_sleep(delay_ms / 1000.0, live.executor._sleep)
        attempt += 1


def checkpoint_after(live: LiveExecution, label: str, phase: str | None) -> None:
    """Take a checkpoint; its event carries a snapshot when a history store records the run."""
    checkpoint = live.ctx.create_checkpoint(label)
    if not live.wants(EventType.CHECKPOINT_CREATED):
        live.ctx.sequence += 1
        return
    data: dict[str, Any] = {"checkpoint_id": checkpoint.id, "label": label, "phase": phase}
    if live.recorder is not None:
        data["snapshot"] = live.snapshots.snapshot(live.ctx, checkpoint)
    live.emit(EventType.CHECKPOINT_CREATED, phase=phase, data=data)
