"""Spreading a wide phase's agent calls over the cluster.

A task names the phases whose agent calls should leave the driver's process (its metadata's
``cluster: {spread: [...]}``, see :func:`spread_phases`). The driver then sends each call of those
phases to a *call server*: an async Ray actor, one per node with CPUs, which builds the same agents
from the same factory (:class:`~quorum.cluster.settings.DriverSettings`'s ``agents``) and answers many
calls at once. The driver keeps everything else: the agent manager's policy (time limit, retries,
breaker, cache, budget) wraps the remote call exactly as it wraps a local one, and the answer is
recorded in the journal by the driver, once, when it arrives.

Why that is exactly once: a call server only computes an answer. A call whose server's node is lost is
made again by Ray on the server restarted elsewhere (``max_task_retries=-1``); the driver, which never
got the first answer, records the second. An answer the driver has received and journaled is never
asked again, even by a new driver after a takeover (it is answered from the journal). Calls in flight
may run twice, as locally after a crash.

The call servers belong to the driver that made them (they go when it goes, and its restart makes new
ones). ``executor: process`` agents are not spread: they are Ray tasks already.
"""

from __future__ import annotations

import asyncio
import pickle
import time
from collections.abc import Mapping
from multiprocessing.reduction import ForkingPickler
from typing import Any

from quorum.agents.manager import AgentManager
from quorum.agents.protocol import Agent, AgentDirectory, AgentRequest, AgentResponse
from quorum.agents.workers import ProcessAgent, request_from_payload, request_payload
from quorum.cluster.settings import AgentFactory
from quorum.definition.model import Task
from quorum.errors import AgentError, ConfigurationError

__all__ = ("CallServer", "CallSpreader", "SpreadAgent", "spread_agents", "spread_phases")

SPREAD_KEY = "cluster"
_REFRESH_S = 5.0


def spread_phases(task: Task) -> frozenset[str]:
    """The phases whose agent calls are spread: ``cluster: {spread: [Gather, Review]}`` names them,
    ``spread: parallel`` takes every parallel phase; none without the key. A name that is no phase of
    the task is a ConfigurationError naming the phases there are."""
    option = task.metadata.get(SPREAD_KEY)
    if option is None:
        return frozenset()
    where = f"task {task.name!r}: {SPREAD_KEY}.spread"
    if not isinstance(option, Mapping):
        raise ConfigurationError(f"task {task.name!r}: {SPREAD_KEY} must be a mapping, e.g. "
                                 "{spread: [Gather]}")
    value = option.get("spread")
    if value is None or value is False:
        return frozenset()
    if value == "parallel" or value is True:
        return frozenset(p.name for p in task.phases if p.parallel)
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ConfigurationError(f"{where}: a list of phase names or 'parallel', not {value!r}")
    known = set(task.phase_names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigurationError(f"{where}: no phase {', '.join(map(repr, unknown))} in the task "
                                 f"(its phases: {', '.join(task.phase_names)})")
    return frozenset(names)


# --- on a node ------------------------------------------------------------------------------------------
def _raw_agent(directory: AgentDirectory, agent_id: str) -> Agent:
    if isinstance(directory, AgentManager):
        return directory.get(agent_id)
    raise AgentError(agent_id, f"spreading needs an AgentManager, not {type(directory).__name__}")


class CallServer:
    """The body of a call server actor: the agents the factory builds, each call answered as the
    agent answers it (without the manager's policy, which the driver applies)."""

    def __init__(self, agents: AgentFactory) -> None:
        self._directory = agents()
        self.calls = 0

    async def answer(self, blob: bytes) -> bytes:
        """``(agent_id, request payload)`` in; ``("ok", response)`` or ``("error", (message,
        transient))`` out, pickled as the worker processes' are."""
        agent_id, payload = pickle.loads(blob)
        self.calls += 1
        try:
            agent = _raw_agent(self._directory, agent_id)
            answer: tuple[str, Any] = ("ok", await agent.query(request_from_payload(payload)))
        except AgentError as exc:
            answer = ("error", (str(exc).removeprefix(f"agent {exc.agent_id!r}: "), exc.transient))
        except Exception as exc:
            answer = ("error", (f"{type(exc).__name__}: {exc}", False))
        return bytes(ForkingPickler.dumps(answer))

    async def where(self) -> dict[str, Any]:
        import os

        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(), "calls": self.calls}


# --- in the driver --------------------------------------------------------------------------------------
class CallSpreader:
    """The driver's side: which executions spread which phases, and the call servers, one per node
    with CPUs (made on first use; a node that joins later gets one within a few seconds of a call)."""

    def __init__(self, agents: AgentFactory, *, per_node: int = 1) -> None:
        self._agents = agents
        self._per_node = per_node
        self._phases: dict[str, frozenset[str]] = {}
        self._servers: dict[str, list[Any]] = {}
        """node id -> the call servers first placed there (Ray may have moved them since)"""
        self._in_flight: dict[int, int] = {}
        self._checked = 0.0
        self.calls = 0

    def track(self, execution_id: str, phases: frozenset[str]) -> None:
        if phases:
            self._phases[execution_id] = phases
        else:
            self._phases.pop(execution_id, None)

    def untrack(self, execution_id: str) -> None:
        self._phases.pop(execution_id, None)

    def spreads(self, request: AgentRequest) -> bool:
        phases = self._phases.get(request.execution_id)
        return phases is not None and request.phase in phases

    def servers(self) -> list[Any]:
        """The call servers, one more for each live node with CPUs that has none (checked every few
        seconds)."""
        now = time.monotonic()
        if now - self._checked >= _REFRESH_S or not self._servers:
            self._checked = now
            import ray
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            from quorum.cluster.runner import _nodes

            for node in _nodes():
                node_id = str(node.get("NodeID"))
                cpus = node.get("Resources", {}).get("CPU")
                if node.get("Alive") and cpus and node_id not in self._servers:
                    actor = ray.remote(CallServer).options(
                        num_cpus=0, max_restarts=-1, max_task_retries=-1, max_concurrency=100_000,
                        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=True),
                    )
                    self._servers[node_id] = [actor.remote(self._agents) for _ in range(self._per_node)]
            if not self._servers:
                raise ConfigurationError("spreading agent calls needs a node with CPUs in the cluster")
        return [server for group in self._servers.values() for server in group]

    async def call(self, agent_id: str, request: AgentRequest) -> AgentResponse:
        import ray

        servers = self.servers()
        server = min(servers, key=lambda s: self._in_flight.get(id(s), 0))  # the least busy
        blob = bytes(ForkingPickler.dumps((agent_id, request_payload(request))))
        self.calls += 1
        self._in_flight[id(server)] = self._in_flight.get(id(server), 0) + 1
        ref = server.answer.remote(blob)
        try:
            status, value = pickle.loads(await ref)
        except asyncio.CancelledError:
            ray.cancel(ref)  # an async actor's call is cancelled where it runs
            raise
        except ray.exceptions.RayError as exc:
            raise AgentError(agent_id, f"its call server failed: {type(exc).__name__}: {exc}",
                             transient=True) from None
        finally:
            self._in_flight[id(server)] -= 1
        if status == "error":
            message, transient = value
            raise AgentError(agent_id, f"{message} (on a call server)", transient=transient)
        response: AgentResponse = value
        return response

    async def where(self) -> list[dict[str, Any]]:
        """Where each call server runs now, and how many calls it answered."""
        if not self._servers:
            return []
        return list(await asyncio.gather(*(s.where.remote() for s in self.servers())))


class SpreadAgent:
    """An agent whose calls in spread phases go to a call server; the others it answers itself."""

    __slots__ = ("_inner", "_spreader", "id")

    def __init__(self, agent_id: str, inner: Agent, spreader: CallSpreader) -> None:
        self.id = agent_id
        self._inner = inner
        self._spreader = spreader

    def __getattr__(self, name: str) -> Any:  # unready(), outputs, model: the agent's own
        return getattr(self._inner, name)

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        if self._spreader.spreads(request):
            return await self._spreader.call(self.id, request)
        return await self._inner.query(request)


def spread_agents(directory: AgentDirectory, spreader: CallSpreader) -> AgentDirectory:
    """Wrap every agent of an :class:`AgentManager` (but ``executor: process`` ones) so that its calls
    in spread phases go to the cluster; its policies stay as they were. Another directory is returned
    as it is (its calls are never spread; :meth:`CallServer.answer` would refuse them)."""
    if not isinstance(directory, AgentManager):
        return directory
    for agent_id in directory.agent_ids():
        inner = directory.get(agent_id)
        if isinstance(inner, ProcessAgent | SpreadAgent):
            continue
        wrapped = SpreadAgent(agent_id, inner, spreader)
        directory.register(agent_id, wrapped, policy=directory.policy(agent_id))
    return directory
