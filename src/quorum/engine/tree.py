"""The tree of executions that ``task:`` steps make: a parent, its children, theirs.

Read from the history alone (so another process's executions too): a parent's journal says which
children its steps started (``child:started``: id, phase, step, element) and how each ended
(``child:ended``); each child's own row says its status now. Children the store links to the parent
(``ExecutionRecord.parent_id``) that the journal does not name yet — a crash between the child's
creation and its parent's next journal write — are listed too. ``quorum show`` draws the tree and
``GET /api/v1/executions/{id}/children`` returns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from quorum.events import Event, EventType
from quorum.history.base import ExecutionRecord, HistoryStore

__all__ = ("MAX_TREE_DEPTH", "ExecutionNode", "children_from_journal", "execution_tree", "tree_lines")

MAX_TREE_DEPTH = 8
"""How deep :func:`execution_tree` follows children of children."""
_MAX_LISTED = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionNode:
    """One execution of a tree; for a child, where its parent started it (phase, step, element)."""

    id: str
    task: str
    status: str
    version: str | None = None
    phase: str | None = None
    step: int | None = None
    index: int | None = None
    error: str | None = None
    children: tuple[ExecutionNode, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "task": self.task, "version": self.version, "status": self.status,
                "phase": self.phase, "step": self.step, "index": self.index, "error": self.error,
                "children": [c.to_dict() for c in self.children]}


def children_from_journal(events: Sequence[Event]) -> list[ExecutionNode]:
    """The children a parent's journal names, in the order they were first started, each with the
    status its latest ``child:ended`` gave (``running`` when none yet)."""
    found: dict[str, ExecutionNode] = {}
    for event in events:
        if event.type not in (EventType.CHILD_STARTED, EventType.CHILD_ENDED):
            continue
        child_id = str(event.data.get("child_id") or "")
        if not child_id:
            continue
        node = found.get(child_id)
        if node is None:
            index = event.data.get("index")
            node = found[child_id] = ExecutionNode(
                id=child_id, task=str(event.data.get("task") or ""), status="running",
                version=_text(event.data.get("version")), phase=event.phase, step=event.step,
                index=index if isinstance(index, int) else None)
        if event.type == EventType.CHILD_ENDED:
            found[child_id] = replace(node, status=str(event.data.get("status") or node.status),
                                      error=event.error)
    return list(found.values())


async def execution_tree(store: HistoryStore, execution_id: str, *, depth: int = MAX_TREE_DEPTH,
                         record: ExecutionRecord | None = None) -> ExecutionNode | None:
    """The execution and its descendants as the history holds them now (None: no such execution)."""
    if record is None:
        record = await store.get_execution(execution_id)
    if record is None:
        return None
    return await _node(store, record, None, depth, set())


async def _node(store: HistoryStore, record: ExecutionRecord, link: ExecutionNode | None, depth: int,
                seen: set[str]) -> ExecutionNode:
    seen.add(record.id)
    node = ExecutionNode(id=record.id, task=record.task, status=record.status, version=record.task_version,
                         error=record.error, phase=link.phase if link else None,
                         step=link.step if link else None, index=link.index if link else None)
    if depth <= 0:
        return node
    links = children_from_journal(await store.read_journal(record.id))
    named = {n.id for n in links}
    stored = await store.list_executions(limit=_MAX_LISTED, parent_id=record.id)
    links.extend(ExecutionNode(id=r.id, task=r.task, status=r.status, version=r.task_version)
                 for r in reversed(stored) if r.id not in named)
    children: list[ExecutionNode] = []
    for child in links:
        if child.id in seen:
            continue
        child_record = await store.get_execution(child.id)
        if child_record is None:  # named by the journal, never recorded (it failed its input check)
            children.append(child)
            continue
        children.append(await _node(store, child_record, child, depth - 1, seen))
    return replace(node, children=tuple(children))


def tree_lines(node: ExecutionNode, *, root: bool = True) -> list[str]:
    """The tree as text, one execution a line::

        5d8aaeecd06f4e44  book 1.0.0  completed
        ├── 821b1567cdbdc473  review 1.0.0  completed  (Children step 0, #0)
        └── 46292be7d8f4a37b  review 1.0.0  completed  (Children step 0, #1)
    """
    lines = [_label(node)] if root else []
    for position, child in enumerate(node.children):
        last = position == len(node.children) - 1
        lines.append(("└── " if last else "├── ") + _label(child))
        lines.extend(("    " if last else "│   ") + line for line in tree_lines(child, root=False))
    return lines


def _label(node: ExecutionNode) -> str:
    task = f"{node.task} {node.version}" if node.version else node.task
    text = f"{node.id}  {task}  {node.status}"
    if node.phase is not None:
        where = f"{node.phase} step {node.step}" + (f", #{node.index}" if node.index is not None else "")
        text += f"  ({where})"
    if node.error and node.status != "completed":
        text += f"  {node.error.splitlines()[0][:200]}"
    return text


def _text(value: object) -> str | None:
    return None if value is None else str(value)
