"""What routes receive from the application: the runtime, and executions looked up as the CLI does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from quorum.server.runtime import Runtime

if TYPE_CHECKING:
    from quorum.history.base import ExecutionRecord

__all__ = ("find_record", "get_runtime")


async def get_runtime(request: Request) -> Runtime:
    # async: a plain function would be run in a worker thread on every request
    runtime: Runtime = request.app.state.runtime
    return runtime


async def find_record(runtime: Runtime, execution_id: str) -> ExecutionRecord:
    """The execution with this id or unique prefix (CliError otherwise: 404 unknown, 400 ambiguous).
    The history's location is left out of the message: it is the server's business."""
    from quorum.cli.store import find_execution

    return await find_execution(runtime.store, execution_id)
