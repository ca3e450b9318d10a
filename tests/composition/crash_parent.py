"""The process of the composition crash test: runs a parent with three child executions, or recovers.

    python crash_parent.py run DB LEDGER TASKS       # prints "id <parent>", then "blocked C" and waits
    python crash_parent.py recover DB LEDGER TASKS   # recovers what a dead process left; prints the outcome

Every agent call appends ``start <agent> <ticker> <pid>`` to LEDGER when it begins and ``done ...`` when
it answers (O_APPEND, one write each), so the ledger counts how often each call really ran, across
processes. In ``run`` the decider of ticker C never answers: the test kills the process there, with the
children of A and B completed and C's first phase done.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from quorum.agents.protocol import AgentRequest
from quorum.engine.executor import TaskExecutor
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.testing import make_manager
from tests.composition.helpers import decider_answer, reviewer_answer, ticker_of


def _ledger(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _agents(ledger: str, *, block: str | None) -> dict[str, Any]:
    def make(name: str, answer: Any) -> Any:
        async def agent(request: AgentRequest) -> Any:
            ticker = ticker_of(request)
            _ledger(ledger, f"start {name} {ticker} {os.getpid()}")
            if name == "decider" and ticker == block:
                print(f"blocked {ticker}", flush=True)
                await asyncio.Event().wait()  # until killed
            _ledger(ledger, f"done {name} {ticker} {os.getpid()}")
            return answer(request)

        return agent

    return {"reviewer": make("reviewer", reviewer_answer), "decider": make("decider", decider_answer)}


async def main(mode: str, db: str, ledger: str, tasks: str) -> None:
    store = SQLiteHistoryStore(db)
    await store.open()
    manager = make_manager(_agents(ledger, block="C" if mode == "run" else None))
    try:
        async with TaskExecutor(tasks_dir=tasks, agent_manager=manager, history_store=store,
                                control_poll_s=0.05) as executor:
            if mode == "run":
                handle = await executor.start("book", {"tickers": ["A", "B", "C"]})
                print(f"id {handle.id}", flush=True)
                result = await handle.result()
                print(f"done {result.status.value}", flush=True)
            else:
                handles = await executor.recover()
                for handle in handles:
                    result = await handle.result()
                    print(f"recovered {handle.id} {result.status.value}", flush=True)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
