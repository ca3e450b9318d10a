"""Spreading a wide phase's agent calls over the cluster.

A task names the phases whose agent calls should leave the driver's process (its metadata's
``cluster: {spread: [...]}``, see :func:`spread_phases`). The driver then sends each call of those
phases to a *call server*: an async Ray actor pinned to its node, one per node with CPUs, which builds
the same agents from the same factory (:class:`~quorum.cluster.settings.DriverSettings`'s ``agents``)
and answers many calls at once. The calls a parallel phase asks at once go in batches, one Ray call
each (Ray's cost per call is paid per batch). The driver keeps everything else: the agent manager's
policy (time limit, retries, breaker, cache, budget) wraps the remote call exactly as it wraps a local
one, a cancelled call (its time limit, an abort) is cancelled on its server, and the answer is recorded
in the journal by the driver, once, when it arrives.

Why that is exactly once: a call server only computes an answer. When a server dies (its node is
lost), Ray fails the batches it was answering; the driver, which never got those answers, sends their
calls again to the servers still alive (at most ``_SENDS`` times) and records the answers that come
back. An answer the driver has received and journaled is never asked again, even by a new driver after
a takeover (it is answered from the journal). Calls in flight may run twice, as locally after a crash.
A server is not restarted by Ray (``max_restarts=0``): the driver makes one on each live node that has
none, looking every few seconds while calls come, so a node that joins is used too.

The call servers belong to the driver that made them (they go when it goes, and its restart makes new
ones). ``executor: process`` agents are not spread: they are Ray tasks already.
"""

from __future__ import annotations

import asyncio
import functools
import pickle
import time
from collections.abc import Mapping
from dataclasses import dataclass
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
_SENDS = 5
"""How many times a call is sent, at most, when call servers are lost under it."""


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
    if value is None:
        return frozenset()
    if value == "parallel":
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
    agent answers it (without the manager's policy, which the driver applies). Calls come in batches
    (one Ray call for many agent calls); each runs as its own asyncio task, and :meth:`cancel` stops
    one of them (its answer is then ``("cancelled", None)``)."""

    def __init__(self, agents: AgentFactory) -> None:
        self._directory = agents()
        self._running: dict[str, asyncio.Future[AgentResponse]] = {}
        self._cancelled: set[str] = set()
        self.calls = 0

    async def answer(self, blobs: list[bytes]) -> list[bytes]:
        """Each ``(token, agent_id, request payload)`` in; ``("ok", response)``, ``("error", (message,
        transient))`` or ``("cancelled", None)`` out, in order, pickled as the worker processes' are."""
        return list(await asyncio.gather(*(self._one(blob) for blob in blobs)))

    async def _one(self, blob: bytes) -> bytes:
        token, agent_id, payload = pickle.loads(blob)
        self.calls += 1
        answer: tuple[str, Any]
        try:
            agent = _raw_agent(self._directory, agent_id)
            call = asyncio.ensure_future(agent.query(request_from_payload(payload)))
            self._running[token] = call
            if token in self._cancelled:  # the cancel came before the call
                call.cancel()
            try:
                answer = ("ok", await call)
            finally:
                self._running.pop(token, None)
                self._cancelled.discard(token)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if me is not None and me.cancelling():
                raise  # the whole batch is cancelled
            answer = ("cancelled", None)
        except AgentError as exc:
            answer = ("error", (str(exc).removeprefix(f"agent {exc.agent_id!r}: "), exc.transient))
        except Exception as exc:
            answer = ("error", (f"{type(exc).__name__}: {exc}", False))
        return bytes(ForkingPickler.dumps(answer))

    async def cancel(self, tokens: list[str]) -> None:
        for token in tokens:
            call = self._running.get(token)
            if call is None:
                self._cancelled.add(token)
            else:
                call.cancel()

    async def where(self) -> dict[str, Any]:
        import os

        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(), "calls": self.calls}


# --- in the driver --------------------------------------------------------------------------------------
@dataclass(slots=True, eq=False)
class _Waiting:
    token: str
    agent_id: str
    blob: bytes
    answer: asyncio.Future[tuple[str, Any]]
    server: Any = None
    sends: int = 1


class CallSpreader:
    """The driver's side: which executions spread which phases, and the call servers, one per node
    with CPUs (made on first use; a node that joins later gets one within a few seconds of a call).

    The calls asked in one turn of the event loop (a parallel phase asks all of its agents at once)
    go out together: split evenly over the servers, the least busy first, at most ``batch`` to one Ray
    call, so that Ray's cost of a call is paid once per batch. A batch's answers come back together,
    when its slowest call is answered."""

    def __init__(self, agents: AgentFactory, *, per_node: int = 1, batch: int = 64) -> None:
        self._agents = agents
        self._per_node = per_node
        self._batch = batch
        self._phases: dict[str, frozenset[str]] = {}
        self._servers: dict[str, list[Any]] = {}
        """node id -> the call servers first placed there (Ray may have moved them since)"""
        self._in_flight: dict[int, int] = {}
        self._lost: dict[str, float] = {}
        """node id -> when its call server was found dead (no new one there for a while)"""
        self._queue: list[_Waiting] = []
        self._batches: set[asyncio.Future[Any]] = set()
        self._checked = 0.0
        self.calls = 0
        self.sent = 0
        """Ray calls made (batches)."""

    def track(self, execution_id: str, phases: frozenset[str]) -> None:
        """``execution_id``'s calls in ``phases`` go to the call servers (made now, so that they are
        up by the time the phases come)."""
        if phases:
            self.servers()
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
            self._lost = {n: t for n, t in self._lost.items() if now - t < _REFRESH_S}
            import ray
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            from quorum.cluster.nodes import ray_nodes

            for node in ray_nodes():
                node_id = str(node.get("NodeID"))
                cpus = node.get("Resources", {}).get("CPU")
                if node.get("Alive") and cpus and node_id not in self._servers and node_id not in self._lost:
                    actor = ray.remote(CallServer).options(
                        num_cpus=0, max_restarts=0, max_concurrency=100_000,
                        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                    )
                    self._servers[node_id] = [actor.remote(self._agents) for _ in range(self._per_node)]
            if not self._servers:
                raise ConfigurationError("spreading agent calls needs a node with CPUs in the cluster")
        return [server for group in self._servers.values() for server in group]

    async def call(self, agent_id: str, request: AgentRequest) -> AgentResponse:
        loop = asyncio.get_running_loop()
        self.calls += 1
        token = f"{id(self):x}-{self.calls}"
        blob = bytes(ForkingPickler.dumps((token, agent_id, request_payload(request))))
        waiting = _Waiting(token, agent_id, blob, loop.create_future())
        if not self._queue:
            loop.call_soon(self._send)
        self._queue.append(waiting)
        try:
            status, value = await waiting.answer
        except asyncio.CancelledError:
            if waiting.server is not None:  # sent: stop it there (the batch's other calls go on)
                waiting.server.cancel.remote([token])
            raise
        if status == "error":
            message, transient = value
            raise AgentError(agent_id, f"{message} (on a call server)", transient=transient)
        if status != "ok":
            raise AgentError(agent_id, "its call was cancelled on the call server", transient=True)
        response: AgentResponse = value
        return response

    def _send(self) -> None:
        """The calls queued in this turn of the loop, in batches to the servers."""
        queued, self._queue = [c for c in self._queue if not c.answer.done()], []
        if not queued:
            return
        try:
            servers = self.servers()
        except Exception as exc:
            for waiting in queued:
                waiting.answer.set_exception(exc)
            return
        size = min(self._batch, -(-len(queued) // len(servers)))
        for at in range(0, len(queued), size):
            batch = queued[at:at + size]
            server = min(servers, key=lambda s: self._in_flight.get(id(s), 0))  # the least busy
            self._in_flight[id(server)] = self._in_flight.get(id(server), 0) + len(batch)
            for waiting in batch:
                waiting.server = server
            sent = asyncio.wrap_future(server.answer.remote([w.blob for w in batch]).future())
            self.sent += 1
            self._batches.add(sent)
            sent.add_done_callback(functools.partial(self._answered, batch=batch, server=server))

    def _answered(self, done: asyncio.Future[Any], *, batch: list[_Waiting], server: Any) -> None:
        import ray

        self._batches.discard(done)
        self._in_flight[id(server)] -= len(batch)
        exc = None if done.cancelled() else done.exception()
        if isinstance(exc, ray.exceptions.RayActorError):  # its node (or process) is gone
            self._drop(server)
            again = [w for w in batch if not w.answer.done() and w.sends < _SENDS]
            for waiting in again:
                waiting.sends += 1
            if again:
                if not self._queue:
                    asyncio.get_running_loop().call_soon(self._send)
                self._queue.extend(again)
            batch = [w for w in batch if w not in again]
        if done.cancelled():
            answers: list[tuple[str, Any]] = [("cancelled", None)] * len(batch)
        elif exc is not None:
            why = f"{type(exc).__name__}: {exc}" if isinstance(exc, ray.exceptions.RayError) else repr(exc)
            answers = [("error", (f"its call server failed: {why}", True))] * len(batch)
        else:
            answers = [pickle.loads(blob) for blob in done.result()]
        for waiting, answer in zip(batch, answers, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result(answer)

    def _drop(self, server: Any) -> None:
        """A call server found dead: no more calls to it; its node gets no new one for a while (it is
        likely gone too), and the nodes there are now are looked up at the next call."""
        for node_id, group in list(self._servers.items()):
            if any(s is server for s in group):
                group[:] = [s for s in group if s is not server]
                if not group:
                    del self._servers[node_id]
                    self._lost[node_id] = time.monotonic()
                self._checked = 0.0

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
