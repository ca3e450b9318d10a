"""``POST /dry-runs``: the plan of an execution (:func:`quorum.planning.dry_run`), nothing started.

The body is that of ``POST /executions`` (task, input, model); the input is checked exactly as a start
checks it (422 with every problem), no agent is called and nothing is written to the history. The
answer is :meth:`~quorum.planning.DryRunPlan.to_dict`: phases with their fate, agent calls, duration
and cost estimates (each with its basis), the critical path, the wall time and the total cost.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from quorum.server.deps import get_runtime
from quorum.server.models import ExecutionCreate, ProblemDetails
from quorum.server.runtime import Runtime

__all__ = ("router",)

router = APIRouter(tags=["executions"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemDetails, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 422)
}


@router.post("/dry-runs", responses=_ERRORS,
             summary="What an execution would run, call, take and cost; nothing is started or recorded")
async def plan_execution(body: ExecutionCreate, runtime: RuntimeDep) -> dict[str, Any]:
    from quorum.definition.parser import TaskParser
    from quorum.planning import dry_run

    task = runtime.load_task(body.task)
    checked = TaskParser().validate_task_requirements(task, dict(body.input))  # InputValidationError: 422
    if body.model:
        from quorum.cli.run_cmd import build_executor, close_executor
        from quorum.config import load_config

        cfg = load_config(db=runtime.flags.db, tasks_dirs=runtime.flags.tasks_dirs,
                          agents_dirs=runtime.flags.agents_dirs, models=[body.model])
        executor = build_executor(cfg, runtime.store)  # not kept by the runtime: it runs nothing
        try:
            plan = await dry_run(executor, task, checked)
        finally:
            await close_executor(executor)
    else:
        plan = await dry_run(runtime.default_executor(), task, checked)
    return plan.to_dict()
