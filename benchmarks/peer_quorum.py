#!/usr/bin/env python3
"""Peer: quorum, with the in-memory history (``MemoryHistoryStore``).

The committee workload of the shared benchmark (``../shared/bench/peers/common.py``) as a quorum task
(``benchmarks/committee.md``), run through ``TaskExecutor``; measured by the peers' own driver
``common.main`` so the JSON lines sit beside theirs.

Mapping of the workload onto quorum:

- Activation: a ``validation:`` step (the trivial check); Analysis: a ``parallel: true`` phase of six
  agents; RoundTable: a sequential phase of five agents, each seeing the earlier answers
  (``AgentRequest.peers``); Debate: two agents, ``rounds: 2`` (each turn sees every earlier turn);
  plus an ``aggregate: collect`` step that publishes every turn; Validation: two parallel agents;
  Consensus: ``aggregate: tally``, a registered aggregator computing ``common.consensus_of`` over the
  earlier phases' answers; Verdict: one agent.
- Every agent is ``await asyncio.sleep(input.latency)`` returning ``common.make_output(name, context)``
  where ``context`` is rebuilt *from what the engine handed the agent* (the earlier phases' answers in
  the template context, the earlier turns in ``request.peers``), so ``common.validate_committee``
  fails if the engine loses or reorders state.
- Fan-out: one ``parallel: true`` phase with N agents (``worker-0000`` ...), agent concurrency N, all
  served by one registered function (``fanout_worker``), as the peers run one worker node N times.

Agents and tasks are registered in ``setup`` (as a deployed application would at start-up); the
fan-out width a process will be asked for is read from ``--N`` so its N agents are registered there too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import BENCH_DIR, load_shared

C = load_shared("common")

TASK_FILE = BENCH_DIR / "committee.md"
TALLY = "tally"

# quorum agent id -> the workload's agent name (quorum ids are [a-z0-9][a-z0-9._-]*: no underscores)
AGENT_NAMES: dict[str, str] = {
    name.replace("_", "-"): name
    for name in (
        *C.ANALYSIS_AGENTS,
        *C.ROUNDTABLE_AGENTS,
        *C.DEBATE_AGENTS,
        *C.VALIDATION_AGENTS,
        C.VERDICT_AGENT,
    )
}

# phase -> (earlier phases whose answers form the agent's context, whether this step's earlier turns count)
CONTEXT_OF: dict[str, tuple[tuple[str, ...], bool]] = {
    "Analysis": ((), False),
    "RoundTable": (("Analysis",), True),
    "Debate": (("Analysis", "RoundTable"), True),
    "Validation": (("Analysis", "RoundTable", "Debate"), False),
    "Fanout": ((), False),
}


def plain(value: Any) -> Any:
    """Frozen mappings/tuples -> dicts/lists (what ``validate_committee`` compares against)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def phase_answers(phases: Mapping[str, Any], name: str) -> list[Any]:
    """Every answer of an earlier phase, in order, from the template context's ``phases[name]``.

    That view holds ``responses`` (each agent's latest answer): enough for a phase that asks each agent
    once. A multi-round phase (the Debate) publishes every turn through an ``aggregate: collect`` step,
    whose ``responses`` list lands in the phase's outputs.
    """
    view = phases[name]
    collected = view["outputs"].get("responses")
    if collected is not None:  # entries of the ``collect`` aggregator: {"agent", ..., "data"}
        return [entry["data"] for entry in collected]
    return [response.data for response in view["responses"].values()]


def agent_context(request: Any) -> list[Any]:
    """The ``context`` list ``common.py`` gives this agent, rebuilt from what the engine handed it."""
    if request.phase == "Verdict":
        return [request.context["phases"]["Consensus"]["outputs"]]
    earlier, with_peers = CONTEXT_OF[request.phase]
    context: list[Any] = []
    if earlier:
        phases = request.context["phases"]
        for name in earlier:
            context += phase_answers(phases, name)
    if with_peers:
        context += [p.data for p in request.peers]
    return context


def make_agent(name: str) -> Callable[[Any], Any]:
    async def agent(request: Any) -> dict[str, Any]:
        await asyncio.sleep(request.context["input"]["latency"])
        return C.make_output(name, agent_context(request))

    agent.__qualname__ = f"bench_agent[{name}]"
    return agent


async def fanout_worker(request: Any) -> dict[str, Any]:
    """Every fan-out agent (``worker-0000`` ...): one function registered under N ids, as the peers
    run one worker node N times. A closure per agent would add three objects per id (function, cell,
    tuple) that every full garbage collection walks, which no peer pays for."""
    await asyncio.sleep(request.context["input"]["latency"])
    return C.make_output(request.agent_id, [])


def tally(answers: Sequence[Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The Consensus phase's aggregator: ``common.consensus_of`` over every earlier answer.

    A phase without agents aggregates the answers of the phases named by ``from=`` in task order, so
    ``answers`` is Analysis + RoundTable + Debate + Validation; ``consensus_of`` only concatenates them.
    """
    return C.consensus_of([a.data for a in answers], (), (), ())


def fanout_agent_ids(n: int) -> list[str]:
    return [C.fanout_agent(i) for i in range(n)]


def build_fanout_task(n: int) -> Any:
    """One phase, N parallel agents, built from the model dataclasses (no file: N varies per run)."""
    from quorum.definition.model import Phase, Requirement, Step, StepKind, Task
    from quorum.ids import AgentId, PhaseName, TaskName

    return Task(
        name=TaskName(f"bench-fanout-{n}"),
        title="Fan-out benchmark",
        requirements=(Requirement(name="latency", type="number"),),
        max_concurrent_agents=max(n, 1),
        phases=(
            Phase(
                name=PhaseName("Fanout"),
                parallel=True,
                agents=tuple(AgentId(a) for a in fanout_agent_ids(n)),
                steps=(Step(kind=StepKind.PROMPT, index=0, text="Work", raw="Work"),),
            ),
        ),
    )


def _status(obj: Any) -> str:
    return str(getattr(obj.status, "value", obj.status))


def assemble(result: Any) -> dict[str, Any]:
    """The canonical committee result (``common.assemble``) from an ``ExecutionResult``."""
    if _status(result) != "completed":
        raise RuntimeError(f"execution {result.id} ended {result.status}: {result.error}")
    phases = result.phases

    def answers(name: str) -> list[Any]:
        # the answers' frozen ``data`` mappings as they are: validate_committee only reads them
        return [a.data for a in phases[name].answers]

    # the trivial check is the Activation phase's validation step: had it failed, so would the execution
    activation = {"ok": _status(phases["Activation"]) == "completed", "topic": result.input["topic"]}
    verdict = answers("Verdict")
    return C.assemble(
        activation,
        answers("Analysis"),
        answers("RoundTable"),
        answers("Debate"),
        answers("Validation"),
        plain(phases["Consensus"].outputs),
        verdict[0] if len(verdict) == 1 else verdict,
    )


class QuorumPeer(C.Peer):  # type: ignore[misc,name-defined]
    name = "quorum"
    dist = "quorum"
    import_stmt = "from quorum.engine.executor import TaskExecutor"
    import_bare = "import quorum"
    notes = "history: in memory (MemoryHistoryStore)"
    fanout_widths: tuple[int, ...] = ()
    """Fan-out widths to register agents for at setup (from ``--N``)."""

    def make_store(self, state_dir: str) -> Any:
        """The history store (None: none at all, for the profiler's comparison)."""
        from quorum.history.memory import MemoryHistoryStore

        return MemoryHistoryStore()

    async def setup(self, state_dir: str) -> None:
        from quorum.agents.manager import AgentManager
        from quorum.definition.parser import TaskParser
        from quorum.engine.executor import TaskExecutor

        self.manager = AgentManager()
        for agent_id, name in AGENT_NAMES.items():
            self.manager.register(agent_id, make_agent(name))
        self._fanout_tasks: dict[int, Any] = {}
        for n in (2, *self.fanout_widths):
            self._prepare_fanout(n)
        self.store = self.make_store(state_dir)
        if self.store is not None:
            await self.store.open()
        self.executor = TaskExecutor(
            tasks_dir=str(BENCH_DIR),
            agent_manager=self.manager,
            history_store=self.store,
        )
        self.executor.register_aggregator(TALLY, tally)
        self.task = TaskParser().parse_task_file(TASK_FILE)

    def _prepare_fanout(self, n: int) -> Any:
        task = self._fanout_tasks.get(n)
        if task is None:
            for agent_id in fanout_agent_ids(n):
                if not self.manager.has_agent(agent_id):
                    self.manager.register(agent_id, fanout_worker)
            task = self._fanout_tasks[n] = build_fanout_task(n)
        return task

    async def committee(self, L: float) -> dict[str, Any]:
        result = await self.executor.execute(self.task, {"topic": C.TOPIC, "latency": L})
        return assemble(result)

    async def fanout(self, N: int, L: float) -> list[Any]:
        result = await self.executor.execute(self._prepare_fanout(N), {"latency": L})
        if _status(result) != "completed":
            raise RuntimeError(f"fan-out execution ended {result.status}: {result.error}")
        return [a.data for a in result.phases["Fanout"].answers]

    async def teardown(self) -> None:
        store = getattr(self, "store", None)
        if store is not None:
            await store.close()

    def extra_info(self) -> dict[str, Any]:
        return {"history": type(getattr(self, "store", None)).__name__}


def run(peer_cls: type[QuorumPeer], argv: Sequence[str] | None = None) -> None:
    """``common.main`` with the fan-out width known at setup time."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--N", type=int, default=None)
    known, _ = ap.parse_known_args(argv)
    if known.N:
        peer_cls.fanout_widths = (known.N,)
    C.main(peer_cls)


if __name__ == "__main__":
    run(QuorumPeer)
