"""Agents whose function runs in a worker process (``executor: process`` in the agent file).

A built-in or ``python:`` agent doing CPU-bound work (a Monte Carlo simulation, say) would hold the GIL in
a thread and slow the event loop and every other agent. With ``executor: process`` its calls run in a
small pool of worker processes instead: the request goes over a pipe (pickled, its read-only mappings
as such, its abort signal left behind), the worker resolves the same function by its model string
(``builtin:<name>`` or ``python:<module>:<attr>``) and sends back the answer.

Why not :class:`concurrent.futures.ProcessPoolExecutor`: it cannot stop a call that has started. Here a
cancelled call — its timeout passed, the execution was aborted — kills the worker running it at once
(SIGKILL) and a fresh one takes its place, so a runaway simulation never outlives its deadline. A worker
whose parent dies reads end-of-file on its pipe and exits.

A worker is its own interpreter (``python -m quorum.agents._worker_main``): it imports quorum once, then
serves call after call. The pool is process-wide, sized to the CPU count,
created on first use and closed at exit (:func:`shutdown_workers` closes it earlier).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from types import MappingProxyType
from typing import Any, Protocol

from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.errors import AgentError
from quorum.ids import AgentId

__all__ = ("AgentPool", "ProcessAgent", "WorkerPool", "installed_pool", "shared_pool", "shutdown_workers",
           "use_pool")

# --- what crosses the pipe ----------------------------------------------------------------------------
def _proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


# The context's frozen mappings (and the answers inside it) cross as what they are: a read-only view is
# sent as its dict and comes back as a view, so the function sees exactly what it sees in a thread.
ForkingPickler.register(MappingProxyType, lambda view: (_proxy, (dict(view),)))


def request_payload(request: AgentRequest) -> dict[str, Any]:
    """The request's fields but its abort signal (which stays in this process: a cancel kills the
    worker) and the hooks in its metadata (a streaming callback lives here; a function's answer comes
    back whole)."""
    payload = {name: getattr(request, name) for name in _REQUEST_FIELDS}
    metadata = request.metadata
    if any(callable(value) for value in metadata.values()):
        payload["metadata"] = MappingProxyType({k: v for k, v in metadata.items() if not callable(v)})
    return payload


def request_from_payload(payload: dict[str, Any]) -> AgentRequest:
    return AgentRequest(**payload)


_REQUEST_FIELDS = tuple(f.name for f in dataclasses.fields(AgentRequest) if f.name != "abort")


@dataclass(frozen=True, slots=True)
class _Call:
    agent_id: str
    model: str
    outputs: tuple[str, ...] | None
    request: dict[str, Any]


def _answer(call: _Call) -> tuple[str, Any]:
    """In the worker: the function the model string names, called as its agent would call it."""
    from quorum.agents.function import FunctionAgent
    from quorum.agents.targets import resolve_function

    try:
        fn = resolve_function(call.agent_id, call.model)
        agent = FunctionAgent(call.agent_id, fn, model=call.model, in_thread=False, outputs=call.outputs)
        response = asyncio.run(agent.query(request_from_payload(call.request)))
    except AgentError as exc:
        return "error", (str(exc).removeprefix(f"agent {exc.agent_id!r}: "), exc.transient)
    except Exception as exc:
        return "error", (f"{type(exc).__name__}: {exc}", False)
    return "ok", response


def serve(conn: Connection) -> None:
    """A worker's loop: one call at a time until the pipe closes (the parent is gone or done)."""
    while True:
        try:
            call = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(_answer(call))


# --- the pool ------------------------------------------------------------------------------------------
@dataclass(slots=True, eq=False)  # compared and hashed by identity (kept in a set while busy)
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.conn.close()
        with contextlib.suppress(Exception):
            self.process.wait(5)


def _start_worker() -> _Worker:
    """A fresh interpreter running :func:`serve` on one end of a socket pair.

    Its own ``python -m``, not :mod:`multiprocessing`: a spawned or fork-server child imports the
    caller's ``__main__`` again, which re-runs a script's top level unless it has an
    ``if __name__ == "__main__"`` guard — and a user's script running the committee should not need one.
    It gets this process's import path, so ``python:`` agents resolve there as here.
    """
    parent, child = socket.socketpair()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if isinstance(p, str) and p)}
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "quorum.agents._worker_main", str(child.fileno())],
            pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL, close_fds=True,
        )
    finally:
        child.close()
    return _Worker(process, Connection(parent.detach()))


class WorkerPool:
    """Up to ``size`` worker processes; a call waits for a free one."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size or os.cpu_count() or 2
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.started = 0
        """Workers started so far (replacements of killed ones included)."""

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots, self._slots_loop = asyncio.Semaphore(self.size), loop
        return self._slots

    def _start(self) -> _Worker:
        worker = _start_worker()
        self.started += 1
        return worker

    async def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        return await asyncio.to_thread(self._start)

    async def call(self, agent_id: str, model: str, outputs: Sequence[str] | None,
                   request: AgentRequest) -> AgentResponse:
        call = _Call(agent_id, model, None if outputs is None else tuple(outputs), request_payload(request))
        async with self._semaphore():
            worker = await self._take()
            self._busy.add(worker)
            try:
                started = time.perf_counter()
                worker.conn.send(call)
                status, value = await _receive(worker, agent_id)
            except BaseException:
                # cancelled (a timeout, an abort) or broken: the call must not go on without us
                self._busy.discard(worker)
                worker.kill()
                raise
            self._busy.discard(worker)
            with self._lock:
                self._idle.append(worker)
        if status == "error":
            message, transient = value
            raise AgentError(agent_id, f"{message} (in a worker process)", transient=transient)
        response: AgentResponse = value
        return response.with_(latency_ms=(time.perf_counter() - started) * 1000.0)

    def close(self) -> None:
        with self._lock:
            workers, self._idle = [*self._idle, *self._busy], []
            self._busy = set()
        for worker in workers:
            worker.kill()


async def _receive(worker: _Worker, agent_id: str) -> tuple[str, Any]:
    """The worker's answer, read when its pipe is readable (no thread waits on it)."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    fd = worker.conn.fileno()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    try:
        answer: tuple[str, Any] = worker.conn.recv()
    except (EOFError, OSError):
        code = worker.process.poll()
        raise AgentError(agent_id, f"its worker process died (exit code {code})") from None
    return answer


class AgentPool(Protocol):
    """Where ``executor: process`` calls run: this machine's :class:`WorkerPool`, or a cluster's tasks
    (:class:`quorum.cluster.pool.RayTaskPool`)."""

    async def call(self, agent_id: str, model: str, outputs: Sequence[str] | None,
                   request: AgentRequest) -> AgentResponse: ...

    def close(self) -> None: ...


_shared: AgentPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> AgentPool:
    """The process-wide pool the ``executor: process`` agents share (a WorkerPool made on first use,
    unless :func:`use_pool` installed another)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = WorkerPool()
            atexit.register(shutdown_workers)
        return _shared


def installed_pool() -> AgentPool | None:
    """The process-wide pool, if one is made or installed (None: not yet)."""
    return _shared


def use_pool(pool: AgentPool) -> AgentPool | None:
    """Make ``pool`` the process-wide one (a cluster node runs these calls as its tasks); returns the
    one it replaces, which the caller may close."""
    global _shared
    with _shared_lock:
        previous, _shared = _shared, pool
    atexit.register(shutdown_workers)
    return previous


def shutdown_workers() -> None:
    """Kill the shared pool's workers (a new pool is made if an agent needs one again)."""
    global _shared
    with _shared_lock:
        pool, _shared = _shared, None
    if pool is not None:
        pool.close()


class ProcessAgent:
    """A builtin:/python: agent whose function runs in a worker process."""

    __slots__ = ("_pool", "id", "model", "outputs")

    def __init__(self, agent_id: str, model: str, *, outputs: Sequence[str] | None = None,
                 pool: AgentPool | None = None) -> None:
        self.id = AgentId(agent_id)
        self.model = model
        self.outputs = None if outputs is None else tuple(outputs)
        self._pool = pool

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        pool = self._pool or shared_pool()
        return await pool.call(self.id, self.model, self.outputs, request)
