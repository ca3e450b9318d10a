"""Agents for the cluster tests, built on the nodes (imported there by reference: the cluster's
processes get this checkout on their PYTHONPATH).

:class:`LedgerAgents` answers the drill task's agents after ``delay_s``, each call appending
``<call key> <pid>`` to a ledger file (O_APPEND, one write) before it answers — how often every call
really ran, across nodes. Answers are deterministic functions of the input, the agent and the answers
it was shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from typing import Any

from quorum.agents.manager import AgentManager
from quorum.agents.protocol import AgentDirectory, AgentRequest
from quorum.definition.model import OutputSelector, OutputSpec, Phase, Step, StepKind, Task, frozen_mapping
from quorum.ids import AgentId, PhaseName, TaskName


def drill_task(shape: tuple[tuple[str, int, bool], ...], *, spread: tuple[str, ...] = (),
               max_agents: int | None = None) -> Task:
    """Phases one after another, ``(name, agents, parallel)`` each, every phase a checkpoint; the
    agent calls of the ``spread`` phases go to the cluster's call servers; ``max_agents``: calls in
    flight at once (the task's ``maxConcurrentAgents``)."""
    phases, previous = [], None
    for name, n, parallel in shape:
        phase = PhaseName(name)
        phases.append(Phase(
            name=phase, depends_on=(previous,) if previous else (), parallel=parallel, checkpoint=True,
            agents=tuple(AgentId(f"{name.lower()}-{i}") for i in range(n)),
            steps=(Step(kind=StepKind.PROMPT, index=0, text=f"{name}: give your value"),),
            outputs=(OutputSpec(name="value", type="string"),),
        ))
        previous = phase
    return Task(name=TaskName("cluster-drill"), title="Cluster drill", phases=tuple(phases),
                output=OutputSelector(phase=PhaseName(shape[-1][0])), max_concurrent_agents=max_agents,
                metadata=frozen_mapping({"cluster": {"spread": list(spread)}} if spread else {}))


def digest(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class LedgerAgents:
    ledger: str
    shape: tuple[tuple[str, int, bool], ...]
    delay_s: float = 0.02
    spread: int = 1
    """Calls take ``delay_s`` × 1..``spread`` (by a hash of the call): a wide phase's answers arrive
    over a while instead of all at once."""

    def __call__(self) -> AgentDirectory:
        manager = AgentManager()
        ledger, delay_s, spread = self.ledger, self.delay_s, self.spread

        async def answer(request: AgentRequest) -> dict[str, Any]:
            fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{request.execution_id}/{request.key} {os.getpid()}\n".encode())
            finally:
                os.close(fd)
            await asyncio.sleep(delay_s * (1 + int(digest(request.key), 16) % spread))
            seen = [p.data.get("value") for p in request.peers]
            return {"value": digest(request.agent_id, request.phase,
                                    request.context.get("input", {}).get("seed"), *seen)}

        for name, n, _parallel in self.shape:
            for i in range(n):
                manager.register(f"{name.lower()}-{i}", answer)
        return manager
