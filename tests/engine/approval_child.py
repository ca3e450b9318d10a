"""The child process of ``test_approval_crash.py``: runs the gated task against a SQLite history, prints
the execution id once the execution waits for approval, then holds it until it is killed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from quorum.engine.executor import TaskExecutor
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.testing import ScriptedAgent, make_manager
from tests.engine.test_approvals import gated


async def main(db: str) -> None:
    store = SQLiteHistoryStore(Path(db))
    await store.open()
    manager = make_manager({"analyst": ScriptedAgent({"v": "buy"}), "trader": ScriptedAgent({"v": "bought"})})
    ex = TaskExecutor(agent_manager=manager, history_store=store, control_poll_s=0.05)
    waiting = asyncio.Event()
    ex.on("approval:requested", lambda event: waiting.set())
    handle = await ex.start(gated(), {})
    await waiting.wait()
    await asyncio.sleep(0.2)  # the event is in the journal (the history flushes every few ms)
    print(handle.id, flush=True)
    await asyncio.sleep(3600)  # holds the execution (and its lease) until SIGKILL


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
