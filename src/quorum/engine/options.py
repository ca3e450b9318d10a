"""RunOptions: the limits and knobs one execution runs under, fixed when it starts.

The executor's settings and the task's own (``maxConcurrentPhases``, ``maxExecutionTime``, ...) are
resolved once into this frozen value, which is all the lower layers see of either: they never hold the
executor. The executor's values are defaults for a task that sets none; the operator's :class:`Ceilings`
cap what a task may ask for (a task may ask for less, never more).
"""

from __future__ import annotations

import dataclasses
import enum
import random
from dataclasses import dataclass, field
from typing import Final

from quorum.definition.model import Task
from quorum.engine.retry import Sleep

__all__ = ("UNSET", "Ceilings", "RunOptions", "Unset")


class Unset(enum.Enum):
    """The default of a limit the caller did not give (so that it is a default, not a ceiling)."""

    UNSET = enum.auto()


UNSET: Final = Unset.UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class Ceilings:
    """The most any execution of an executor may use, whatever its task asks (None: no cap)."""

    max_concurrent_phases: int | None = None
    max_concurrent_agents: int | None = None
    time_limit_s: float | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.max_concurrent_phases, self.max_concurrent_agents,
                                             self.time_limit_s))


_NO_CEILINGS = Ceilings()


def _capped(value: float | None, ceiling: float | None) -> float | None:
    if ceiling is None:
        return value
    return ceiling if value is None else min(value, ceiling)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    max_concurrent_phases: int = 4
    max_concurrent_agents: int | None = None
    """Agent calls of one prompt step in flight at once (None: unbounded)."""
    agent_timeout_s: float | None = None
    time_limit_s: float | None = None
    """The execution's running-time limit (paused time does not count); None: no limit."""
    control_poll_s: float = 0.2
    lease_ttl_s: float = 30.0
    handler_grace_s: float = 5.0
    retry_sleep: Sleep | None = None
    """Replaces the wait between phase retries (a fake clock in tests)."""
    rng: random.Random = field(default_factory=random.Random)
    """Draws the retry jitter."""
    ceilings: Ceilings = _NO_CEILINGS

    def for_task(self, task: Task) -> RunOptions:
        """These options with the task's own limits where it sets them (the executor's are defaults),
        each within the ceilings."""
        if not (task.max_concurrent_phases or task.max_concurrent_agents or task.max_execution_time_s):
            return self  # frozen: every execution of such a task shares it (the ceilings hold already)
        phases = _capped(max(1, task.max_concurrent_phases or self.max_concurrent_phases),
                         self.ceilings.max_concurrent_phases)
        agents = _capped(task.max_concurrent_agents or self.max_concurrent_agents,
                         self.ceilings.max_concurrent_agents)
        return dataclasses.replace(
            self,
            max_concurrent_phases=int(phases or 1),
            max_concurrent_agents=None if agents is None else int(agents),
            time_limit_s=_capped(task.max_execution_time_s or self.time_limit_s, self.ceilings.time_limit_s),
        )

    def capped(self, task: Task) -> dict[str, dict[str, float]]:
        """What the ceilings lowered from the task's own limits: ``{limit: {asked, allowed}}``."""
        asked = {"maxConcurrentPhases": (task.max_concurrent_phases, self.ceilings.max_concurrent_phases),
                 "maxConcurrentAgents": (task.max_concurrent_agents, self.ceilings.max_concurrent_agents),
                 "maxExecutionTime": (task.max_execution_time_s, self.ceilings.time_limit_s)}
        return {name: {"asked": value, "allowed": ceiling} for name, (value, ceiling) in asked.items()
                if value and ceiling is not None and value > ceiling}
