"""``executor: process`` agents on a cluster: each call a Ray task, placed by Ray on any node with a CPU.

:class:`RayTaskPool` has the one method the agents use, ``call(agent_id, model, outputs, request)``, with
the local pool's contract (:class:`~quorum.agents.workers.WorkerPool`): the function the model string
names (``builtin:<name>`` or ``python:<module>:<attr>``) runs in another process, on the request without
its abort signal, and its answer, or its error, comes back. A cancelled call (its timeout passed, the
execution was aborted) is cancelled in Ray with ``force=True``, which kills the worker process running
it, so a runaway simulation never outlives its deadline there either. A call whose node is lost is run
again elsewhere by Ray (``max_retries``): it has no side effect outside its answer, and the journal
records the answer once.

The request and the answer cross as the local pool's pickles (its read-only mappings as such), bytes to
Ray, so what the function sees is what it sees in a thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from multiprocessing.reduction import ForkingPickler
from typing import Any

from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.agents.workers import WorkerPool, request_from_payload, request_payload
from quorum.errors import AgentError

__all__ = ("RayTaskPool", "answer_call")


def answer_call(blob: bytes) -> bytes:
    """On a node: ``(agent_id, model, outputs, request payload)`` in, ``("ok", response)`` or
    ``("error", (message, transient))`` out, pickled."""
    import pickle

    from quorum.agents.function import FunctionAgent
    from quorum.agents.targets import resolve_function

    agent_id, model, outputs, payload = pickle.loads(blob)
    try:
        fn = resolve_function(agent_id, model)
        agent = FunctionAgent(agent_id, fn, model=model, in_thread=False, outputs=outputs)
        answer: tuple[str, Any] = ("ok", asyncio.run(agent.query(request_from_payload(payload))))
    except AgentError as exc:
        answer = ("error", (str(exc).removeprefix(f"agent {exc.agent_id!r}: "), exc.transient))
    except Exception as exc:
        answer = ("error", (f"{type(exc).__name__}: {exc}", False))
    return bytes(ForkingPickler.dumps(answer))


class RayTaskPool(WorkerPool):
    """A :class:`~quorum.agents.workers.WorkerPool` whose calls are Ray tasks (``num_cpus`` each).

    A subclass only so that it can stand where the process-wide pool stands; it starts no local
    worker. ``size`` is not used: Ray queues the tasks a cluster has no free CPU for."""

    def __init__(self, *, num_cpus: float = 1.0, max_retries: int = 3) -> None:
        super().__init__(1)
        import ray

        self._remote = ray.remote(num_cpus=num_cpus, max_retries=max_retries)(answer_call)
        self.calls = 0
        """Calls submitted so far."""

    async def call(self, agent_id: str, model: str, outputs: Sequence[str] | None,
                   request: AgentRequest) -> AgentResponse:
        import ray

        blob = bytes(ForkingPickler.dumps(
            (agent_id, model, None if outputs is None else tuple(outputs), request_payload(request))))
        started = time.perf_counter()
        ref = self._remote.remote(blob)
        self.calls += 1
        try:
            status, value = _unpickle(await ref)
        except asyncio.CancelledError:
            ray.cancel(ref, force=True)  # kills the worker process: the call must not go on without us
            raise
        except ray.exceptions.RayError as exc:
            raise AgentError(agent_id, f"its Ray task failed: {type(exc).__name__}: {exc}",
                             transient=True) from None
        if status == "error":
            message, transient = value
            raise AgentError(agent_id, f"{message} (in a Ray task)", transient=transient)
        response: AgentResponse = value
        return response.with_(latency_ms=(time.perf_counter() - started) * 1000.0)

    def close(self) -> None:
        """Nothing to close here: Ray owns the worker processes."""


def _unpickle(blob: bytes) -> tuple[str, Any]:
    import pickle

    answer: tuple[str, Any] = pickle.loads(blob)
    return answer
