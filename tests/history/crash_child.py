"""The child process of the crash test: runs (or resumes) a workflow whose agent calls leave a ledger.

    python crash_child.py run DB LEDGER [--seed N] [--kill SPEC]
    python crash_child.py resume DB LEDGER EXECUTION_ID

DB is a SQLite file, or a ``postgresql://`` URL (the same drill against the PostgreSQL store).

Prints ``id <execution id>`` as soon as the execution exists, then ``done <status>`` when it ends.

Every agent call appends one line ``<call key> <pid>`` to LEDGER (O_APPEND, one write: atomic) before
it answers, so the ledger counts how often each call really ran, across processes. Answers are
deterministic functions of the input, the agent and the answers it was shown, so a run that crashed
and resumed must end with exactly the verdict of an uncrashed one.

``--kill SPEC`` makes this process SIGKILL itself at a chosen point:

- ``before-call:N``   in the N-th agent call, before its side effect;
- ``after-call:N``    in the N-th agent call, after its side effect, before it answers (so before
                      its completion is recorded);
- ``event:TYPE:N``    when the N-th event of TYPE is emitted (before the journal has it), e.g.
                      ``event:checkpoint:created:1``;
- ``in-append:TYPE:N`` while the batch holding the N-th event of TYPE is being written (before the
                      store commits it);
- ``after-append:TYPE:N`` right after the batch holding the N-th event of TYPE is durable.

``--call-ms MS`` makes each agent call last MS longer (a run long enough for a drill to act in).
``--pause-at N`` pauses the execution from within the N-th call (combine with
``--kill after-append:execution:paused:1``: crash while paused). ``--abort-at N`` asks for an abort
through the store (as ``quorum abort`` from another process would) in the N-th call and crashes at once,
before the request is taken: the resumed execution must honour it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from quorum.agents.manager import AgentManager
from quorum.agents.protocol import AgentRequest
from quorum.definition.model import OutputSelector, OutputSpec, Phase, Step, StepKind, Task
from quorum.engine.executor import TaskExecutor
from quorum.events import Event
from quorum.history.base import HistoryStore
from quorum.history.postgres import PostgresHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.ids import AgentId, PhaseName, TaskName

# (phase, agents, parallel, checkpoint)
SHAPE: tuple[tuple[str, int, bool, bool], ...] = (
    ("Gather", 8, True, True),
    ("Discuss", 6, False, True),
    ("Review", 6, True, False),
    ("Decide", 1, False, True),
)
CALLS = sum(n for _p, n, _par, _cp in SHAPE)


def build_task() -> Task:
    phases = []
    previous: PhaseName | None = None
    for name, n, parallel, checkpoint in SHAPE:
        phase = PhaseName(name)
        phases.append(
            Phase(
                name=phase,
                depends_on=(previous,) if previous else (),
                parallel=parallel,
                checkpoint=checkpoint,
                agents=tuple(AgentId(f"{name.lower()}-{i}") for i in range(n)),
                steps=(Step(kind=StepKind.PROMPT, index=0, text=f"{name}: give your value"),),
                outputs=(OutputSpec(name="value", type="string"),),
            )
        )
        previous = phase
    return Task(name=TaskName("crash-drill"), title="Crash drill", phases=tuple(phases),
                output=OutputSelector(phase=PhaseName("Decide")))


def digest(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12]


class Killer:
    def __init__(self, spec: str | None) -> None:
        self.kind, self.type, self.n = _parse(spec)
        self.seen = 0

    def count(self, kind: str, type_: str = "") -> None:
        if kind == self.kind and type_ == self.type:
            self.seen += 1
            if self.seen == self.n:
                os.kill(os.getpid(), signal.SIGKILL)


def _parse(spec: str | None) -> tuple[str, str, int]:
    if not spec:
        return "", "", 0
    kind, _, rest = spec.partition(":")
    type_, _, n = rest.rpartition(":")
    return kind, type_, int(n)


class KillPoints:
    """Kill points around the writes of the real store it is mixed into."""

    killer: Killer

    async def append(self, events: Sequence[Event], *, epoch: int | None = None) -> None:
        types = [e.type for e in events]
        for t in types:
            self.killer.count("in-append", t)
        await super().append(events, epoch=epoch)  # type: ignore[misc]  # the store's own append
        for t in types:
            self.killer.count("after-append", t)


class KillingStore(KillPoints, SQLiteHistoryStore):
    pass


class KillingPostgresStore(KillPoints, PostgresHistoryStore):
    pass


def make_store(db: str, killer: Killer) -> KillingStore | KillingPostgresStore:
    store = KillingPostgresStore(db) if db.startswith("postgresql://") else KillingStore(db)
    store.killer = killer
    return store


class Drill:
    """What the agents do besides answering: pause or ask for an abort at a chosen call."""

    def __init__(self, pause_at: int, abort_at: int) -> None:
        self.pause_at, self.abort_at = pause_at, abort_at
        self.calls = 0
        self.executor: TaskExecutor | None = None
        self.store: HistoryStore | None = None

    async def after_side_effect(self, request: AgentRequest) -> None:
        self.calls += 1
        if self.calls == self.pause_at and self.executor is not None:
            await self.executor.pause_execution(request.execution_id, "drill")
        if self.calls == self.abort_at and self.store is not None:
            if isinstance(self.store, PostgresHistoryStore):
                # Asked on a connection of its own, with this loop blocked until it committed: the
                # request's NOTIFY must not let this process take it before the crash (the drill is
                # "asked, then crashed before it was taken").
                dsn = self.store.settings.dsn
                url = f"{dsn}{'&' if '?' in dsn else '?'}schema={self.store.settings.schema}"
                asker = threading.Thread(target=asyncio.run, args=(_ask_abort(url, request.execution_id),))
                asker.start()
                asker.join()
            else:
                await self.store.request_control(request.execution_id, "abort", "drill")
            os.kill(os.getpid(), signal.SIGKILL)


async def _ask_abort(url: str, execution_id: str) -> None:
    async with PostgresHistoryStore(url) as store:
        await store.request_control(execution_id, "abort", "drill")


def make_manager(ledger: str, killer: Killer, drill: Drill, *, extra_s: float = 0.0) -> AgentManager:
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    manager = AgentManager()
    pid = os.getpid()

    async def answer(request: AgentRequest) -> dict[str, Any]:
        killer.count("before-call")
        os.write(fd, f"{request.key} {pid}\n".encode())
        await drill.after_side_effect(request)
        await asyncio.sleep(extra_s + 0.001 + int(digest(request.key), 16) % 3 / 1000)  # 1-3 ms
        killer.count("after-call")
        seed = request.context.get("input", {}).get("seed")
        seen = [p.data.get("value") for p in request.peers]
        return {"value": digest(request.agent_id, request.phase, seed, *seen)}

    for _name, n, _parallel, _checkpoint in SHAPE:
        for i in range(n):
            manager.register(f"{_name.lower()}-{i}", answer)
    return manager


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["run", "resume"])
    parser.add_argument("db")
    parser.add_argument("ledger")
    parser.add_argument("execution_id", nargs="?")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kill", default=None)
    parser.add_argument("--pause-at", type=int, default=0)
    parser.add_argument("--abort-at", type=int, default=0)
    parser.add_argument("--control-poll", type=float, default=0.02)
    parser.add_argument("--call-ms", type=float, default=0.0, help="more time per agent call")
    args = parser.parse_args(argv)
    killer = Killer(args.kill)
    drill = Drill(args.pause_at, args.abort_at)
    store = make_store(args.db, killer)
    executor = TaskExecutor(
        tasks_dir=None, agent_manager=make_manager(args.ledger, killer, drill, extra_s=args.call_ms / 1000),
        history_store=store,
        control_poll_s=args.control_poll, lease_ttl_s=5.0,
    )
    drill.executor, drill.store = executor, store
    executor.on("*", lambda event: killer.count("event", event.type))
    if args.command == "run":
        handle = await executor.start(build_task(), {"seed": args.seed})
    else:
        handle = await executor.resume_execution(args.execution_id)
    print(f"id {handle.id}", flush=True)
    if handle.status.value == "paused":
        # A pause given before the crash is honoured by the resumed execution; go on explicitly.
        print("paused", flush=True)
        await handle.resume()
    result = await handle.result()
    await executor.aclose()
    await store.close()
    print(f"done {result.status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
