"""``/executions/{id}/approvals``: the approval gates an execution waits at, and deciding at one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from quorum.server.deps import find_record, get_runtime
from quorum.server.models import ApprovalOut, DecisionAnswer, DecisionBody, ProblemDetails
from quorum.server.runtime import Runtime

__all__ = ("approvals_of", "router")

router = APIRouter(tags=["approvals"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemDetails, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 409, 422)
}


async def approvals_of(runtime: Runtime, execution_id: str) -> list[ApprovalOut]:
    from quorum.engine.approvals import open_gates

    executor = runtime.drives(execution_id)
    gates = (await executor.pending_approvals(execution_id) if executor is not None
             else open_gates(await runtime.store.read_journal(execution_id)))
    return [ApprovalOut(gate=g.id, question=g.question, choices=list(g.choices), approvers=g.approvers,
                        default=g.default, deadline=g.deadline, decided=[d.to_dict() for d in g.decisions])
            for g in gates]


@router.get("/executions/{execution_id}/approvals", response_model=list[ApprovalOut], responses=_ERRORS,
            summary="The approval gates the execution waits at")
async def list_approvals(execution_id: str, runtime: RuntimeDep) -> list[ApprovalOut]:
    record = await find_record(runtime, execution_id)
    return await approvals_of(runtime, record.id)


@router.post("/executions/{execution_id}/approvals/{phase}/{step}", response_model=DecisionAnswer,
             responses=_ERRORS, summary="Decide at an approval gate (approve, reject, or an option)")
async def decide(execution_id: str, phase: str, step: int, body: DecisionBody,
                 runtime: RuntimeDep) -> DecisionAnswer:
    record = await find_record(runtime, execution_id)
    gate = f"{phase}/{step}"
    detail = await runtime.decide(record, gate, body.decision, body.by, body.comment)
    now = await runtime.store.get_execution(record.id) or record
    return DecisionAnswer(id=record.id, gate=gate, status=now.status, detail=detail)
