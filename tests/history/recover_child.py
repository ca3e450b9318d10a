"""A ``quorum recover`` process for the PostgreSQL tests: ``python recover_child.py URL GO_FILE``.

Opens the store, prints ``ready``, waits for GO_FILE, then runs ``TaskExecutor.recover()`` (agent ``x``
answers ``{"v": "again"}``) and prints ``call <execution> <call key>`` for each agent call, ``claims <n>``
(how many ``claim_orphans`` batches it asked for), ``leased <n>`` (how many one-by-one
``acquire_lease``), ``resumed <id> <status>`` for each execution it resumed, then ``done``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from typing import Any

from quorum.agents.protocol import AgentRequest
from quorum.engine.executor import TaskExecutor
from quorum.history.postgres import PostgresHistoryStore
from quorum.testing import make_manager


def wait_for_file(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.001)


async def main(url: str, go_file: str) -> None:
    lock = threading.Lock()  # plain callables may run in threads: one whole line at a time

    def again(request: AgentRequest) -> dict[str, str]:
        with lock:
            print(f"call {request.execution_id} {request.key}", flush=True)
        return {"v": "again"}

    async with PostgresHistoryStore(url) as store:
        counts = {"claims": 0, "leased": 0}
        claim, acquire = store.claim_orphans, store.acquire_lease

        async def claimed(owner: str, **options: Any) -> Any:
            counts["claims"] += 1
            return await claim(owner, **options)

        async def leased(execution_id: str, owner: str, *, ttl_s: float) -> Any:
            counts["leased"] += 1
            return await acquire(execution_id, owner, ttl_s=ttl_s)

        store.claim_orphans = claimed  # type: ignore[method-assign]
        store.acquire_lease = leased  # type: ignore[method-assign]
        executor = TaskExecutor(agent_manager=make_manager({"x": again}), history_store=store)
        print("ready", flush=True)
        await asyncio.to_thread(wait_for_file, go_file)
        handles = await executor.recover()
        print(f"claims {counts['claims']}", flush=True)
        print(f"leased {counts['leased']}", flush=True)
        for handle in handles:
            result = await handle.result()
            print(f"resumed {handle.id} {result.status.value}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
