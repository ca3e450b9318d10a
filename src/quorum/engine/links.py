"""ChildLinks: which live executions of an executor are children of which (task composition).

A ``task:`` step registers each child execution it drives under its parent's id while the child runs
(:mod:`quorum.engine.children`). A parent's pause and resume — asked here, by another process through
the control poller, or by a grandparent — reach its running children through :meth:`ChildLinks.tell`,
which the parent's :class:`~quorum.engine.control.ExecutionControl` calls after it changed state; each
child passes it on to its own children the same way. Abort and timeouts need no link: they cancel the
parent's step, which aborts its children (see :mod:`quorum.engine.children`).

The registry holds the children by id and never the parent, so no execution is kept alive by it.
"""

from __future__ import annotations

from typing import Protocol

from quorum.errors import InvalidTransitionError
from quorum.ids import ExecutionId

__all__ = ("ChildLinks", "Controllable")


class Controllable(Protocol):
    """What a link needs of a child: pause and resume (a ``LiveExecution``)."""

    def pause(self, reason: str = "") -> None: ...

    def resume(self) -> None: ...


class ChildLinks:
    __slots__ = ("_children",)

    def __init__(self) -> None:
        self._children: dict[ExecutionId, dict[ExecutionId, Controllable]] = {}

    def add(self, parent: ExecutionId, child: ExecutionId, live: Controllable) -> None:
        self._children.setdefault(parent, {})[child] = live

    def remove(self, parent: ExecutionId, child: ExecutionId) -> None:
        children = self._children.get(parent)
        if children is not None:
            children.pop(child, None)
            if not children:
                del self._children[parent]

    def children(self, parent: ExecutionId) -> tuple[ExecutionId, ...]:
        """The children of ``parent`` running here now."""
        return tuple(self._children.get(parent, ()))

    def tell(self, parent: ExecutionId, action: str, reason: str = "") -> None:
        """``parent`` paused or resumed: do the same to each of its running children. A child that
        cannot follow (it has ended, or was already paused on its own) is left as it is."""
        for child in list(self._children.get(parent, {}).values()):
            try:
                if action == "pause":
                    child.pause(f"parent {parent} paused" + (f": {reason}" if reason else ""))
                elif action == "resume":
                    child.resume()
            except InvalidTransitionError:
                continue
