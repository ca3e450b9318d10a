"""What a driver on a node needs to run an execution, sent with every execution (plain, picklable data).

Nothing here imports Ray: the caller builds these before it talks to the cluster, and the node builds its
store and agents from them, so no task file, agent directory or configuration file must exist on a node
for the built-in agents (a directory of agent files named in ``agents_dirs`` must be there, at the same
path, on every node).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from quorum.agents.protocol import AgentDirectory

__all__ = ("AgentFactory", "DefaultAgents", "DriverSettings")

AgentFactory = Callable[[], AgentDirectory]
"""Builds the agents on the node (called once per driver and factory); pickled by value or by
reference, so a module-level function or a frozen dataclass with ``__call__``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DefaultAgents:
    """The agents ``quorum run`` builds: the built-ins, plus agent files and model overrides."""

    agents_dirs: tuple[str, ...] = ()
    model_overrides: tuple[str, ...] = ()

    def __call__(self) -> AgentDirectory:
        from quorum.agents.defaults import default_agent_manager

        manager: AgentDirectory = default_agent_manager(
            agents_dirs=self.agents_dirs, model_overrides=list(self.model_overrides) or None
        )
        return manager


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverSettings:
    """How a driver runs an execution: its store, its agents, its lease and control timings.

    ``lease_ttl_s`` bounds how long an execution waits for a new driver after its node vanished without
    a trace (a node on another host: only the lease expiry tells that its driver is gone);
    ``takeover_wait_s`` is how long a new driver keeps asking for a lease still held (None: three
    leases' worth)."""

    store_url: str
    agents: AgentFactory = DefaultAgents()
    lease_ttl_s: float = 10.0
    control_poll_s: float = 0.2
    takeover_wait_s: float | None = None

    @property
    def takeover_deadline_s(self) -> float:
        return self.takeover_wait_s if self.takeover_wait_s is not None else 3 * self.lease_ttl_s + 5.0
