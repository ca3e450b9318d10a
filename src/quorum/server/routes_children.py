"""``/executions/{id}/children``: the tree of child executions that an execution's ``task:`` steps
started (task composition), read from the history (:func:`quorum.engine.tree.execution_tree`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from quorum.server.deps import find_record, get_runtime
from quorum.server.models import ProblemDetails
from quorum.server.runtime import Runtime

__all__ = ("ChildNode", "ExecutionTree", "router")

router = APIRouter(tags=["executions"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemDetails, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404)
}


class ChildNode(BaseModel):
    """One child execution, where its parent started it, and its own children."""

    id: str
    task: str
    version: str | None = None
    status: str
    phase: str | None = Field(None, description="The parent's phase whose task: step started it")
    step: int | None = Field(None, description="That step's index in the phase")
    index: int | None = Field(None, description="The element of foreach it runs (None: no foreach)")
    error: str | None = None
    children: list[ChildNode] = Field(default_factory=list)


class ExecutionTree(BaseModel):
    """An execution and the tree of executions under it."""

    id: str
    task: str
    version: str | None = None
    status: str
    children: list[ChildNode]


@router.get("/executions/{execution_id}/children", response_model=ExecutionTree, responses=_ERRORS,
            summary="The child executions its task: steps started, with theirs, and each one's status")
async def get_children(
    execution_id: str,
    runtime: RuntimeDep,
    depth: Annotated[int, Query(ge=1, le=8, description="How many levels of children to follow")] = 8,
) -> ExecutionTree:
    from quorum.engine.tree import execution_tree

    record = await runtime.store.get_execution(execution_id) or await find_record(runtime, execution_id)
    tree = await execution_tree(runtime.store, record.id, depth=depth, record=record)
    assert tree is not None  # the record was found
    data = tree.to_dict()
    return ExecutionTree(id=data["id"], task=data["task"], version=data["version"], status=data["status"],
                         children=[ChildNode.model_validate(c) for c in data["children"]])
