"""``quorum.run(task, input, **options)``: run one execution from a script, blocking."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from quorum.definition.model import Task
from quorum.engine.executor import TaskExecutor
from quorum.engine.results import ExecutionResult

__all__ = ("run",)


def run(
    task: Task | str | os.PathLike[str], input: Mapping[str, Any] | None = None, /, **options: Any
) -> ExecutionResult:
    """Run ``task`` to the end in a fresh event loop and return its result.

    ``options`` are :class:`TaskExecutor`'s (``agent_manager``, ``tasks_dir``, ``history_store``, ...).
    A history store given here is opened before and closed after. Must not be called from a running
    event loop (use ``await TaskExecutor(...).execute(...)`` there).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("quorum.run() blocks; inside an event loop use `await executor.execute(...)`")

    async def main() -> ExecutionResult:
        store = options.get("history_store")
        if store is not None:
            await store.open()
        try:
            async with TaskExecutor(**options) as executor:
                return await executor.execute(task, input)
        finally:
            if store is not None:
                await store.close()

    return asyncio.run(main())
