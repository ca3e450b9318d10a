"""Does a recorded execution match a task selector (``committee``, ``committee@1.1``, ``committee@^1``)?

For ``quorum history --task committee@1.1`` and the like. Duck-typed over what an execution record
holds, so that the definition layer does not import the history layer: the task name (``task``), and
the version from ``task_version`` when the record has that attribute, else from the definition it keeps
(``task_definition["version"]``). A record whose version is not known matches a selector without a
version only: it cannot be said to be a 1.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from quorum.definition.versions import Selector, Version, VersionSyntaxError, parse_selector

__all__ = ("RecordLike", "matches", "record_version")


class RecordLike(Protocol):
    @property
    def task(self) -> str: ...

    @property
    def task_definition(self) -> Mapping[str, Any] | None: ...


def record_version(record: RecordLike) -> str | None:
    """The version of the task a record ran, when it is known."""
    version = getattr(record, "task_version", None)
    if isinstance(version, str) and version:
        return version
    definition = record.task_definition
    if definition is not None and isinstance(definition.get("version"), str):
        return str(definition["version"])
    return None


def matches(record: RecordLike, selector: str | Selector) -> bool:
    """Whether the record ran the task and a version the selector picks (any matching version, not only
    the newest: ``@1.1`` matches every 1.1.x). ``VersionSyntaxError`` for a malformed selector."""
    wanted = parse_selector(selector) if isinstance(selector, str) else selector
    if record.task != wanted.name:
        return False
    if not wanted.spec:
        return True
    text = record_version(record)
    if text is None:
        return False
    try:
        version = Version.parse(text)
    except VersionSyntaxError:
        return False
    return wanted.matches(version)
