"""RunOptions: the limits and knobs one execution runs under, fixed when it starts.

The executor's settings and the task's own (``maxConcurrentPhases``, ``maxExecutionTime``, ...) are
resolved once into this frozen value, which is all the lower layers see of either: they never hold the
executor.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field

from quorum.definition.model import Task
from quorum.engine.retry import Sleep

__all__ = ("RunOptions",)


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

    def for_task(self, task: Task) -> RunOptions:
        """These options with the task's own limits where it sets them (the executor's are defaults)."""
        if not (task.max_concurrent_phases or task.max_concurrent_agents or task.max_execution_time_s):
            return self  # frozen: every execution of such a task shares it
        return dataclasses.replace(
            self,
            max_concurrent_phases=max(1, task.max_concurrent_phases or self.max_concurrent_phases),
            max_concurrent_agents=task.max_concurrent_agents or self.max_concurrent_agents,
            time_limit_s=task.max_execution_time_s or self.time_limit_s,
        )
