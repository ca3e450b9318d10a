"""What changed between two task definitions: phases added, removed, changed, and what must run again.

Compared is what the engine uses (the same body :mod:`quorum.definition.hashing` hashes), never line
numbers or prose, so moving text around or editing a description is no change. A phase is *changed*
when its own definition differs: its steps, agents (static or dynamic), outputs, dependencies, or one
of its settings (``when``, ``timeout``, its effective retry policy, ...). A phase that did not change
but depends on one that did (or on a removed one) is *affected*: its content hash changed with its
upstream, so a resume onto the new version (``--upgrade-to``) runs it again too. ``rerun`` lists both,
and the added phases, in the new definition's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from quorum.definition.model import Phase, Step, Task, _to_dict, thaw
from quorum.ids import PhaseName

__all__ = ("FieldChange", "PhaseChange", "TaskDiff", "diff_tasks")

_SETTINGS = ("parallel", "timeout_s", "checkpoint", "when", "optional", "min_agents", "rounds")
_TASK_FIELDS = ("max_execution_time_s", "requirements", "output", "max_concurrent_phases",
                "max_concurrent_agents", "budget", "retry")


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldChange:
    """One part of a definition that differs: a list (``added``/``removed`` items, or ``reordered``) or
    a value (``before``/``after``)."""

    field: str
    before: Any = None
    after: Any = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    reordered: bool = False

    def describe(self) -> str:
        if self.added or self.removed or self.reordered:
            parts = [f"+ {item}" for item in self.added] + [f"- {item}" for item in self.removed]
            if self.reordered and not parts:
                parts = ["same items, new order"]
            return f"{self.field}: " + "; ".join(parts)
        return f"{self.field}: {_show(self.before)} -> {_show(self.after)}"

    def to_dict(self) -> dict[str, Any]:
        if self.added or self.removed or self.reordered:
            return {"field": self.field, "added": list(self.added), "removed": list(self.removed),
                    "reordered": self.reordered}
        return {"field": self.field, "before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseChange:
    name: PhaseName
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDiff:
    before: Task
    after: Task
    added: tuple[PhaseName, ...]
    removed: tuple[PhaseName, ...]
    changed: tuple[PhaseChange, ...]
    affected: tuple[PhaseName, ...]
    """Unchanged phases that run again because something upstream changed."""
    unchanged: tuple[PhaseName, ...]
    task_changes: tuple[FieldChange, ...]

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed or self.affected or self.task_changes)

    @property
    def rerun(self) -> tuple[PhaseName, ...]:
        """The phases of the new definition whose results an execution of the old one cannot keep."""
        again = {*self.added, *(c.name for c in self.changed), *self.affected}
        return tuple(p.name for p in self.after.phases if p.name in again)

    def to_dict(self) -> dict[str, Any]:
        def side(task: Task) -> dict[str, Any]:
            return {"name": task.name, "version": task.version, "content_hash": task.content_hash,
                    "source": task.source}

        return {
            "before": side(self.before), "after": side(self.after), "same": self.same,
            "added": list(self.added), "removed": list(self.removed),
            "changed": [{"phase": c.name, "changes": [f.to_dict() for f in c.changes]} for c in self.changed],
            "affected": list(self.affected), "unchanged": list(self.unchanged),
            "rerun": list(self.rerun), "task": [f.to_dict() for f in self.task_changes],
        }  # fmt: skip


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    return str(value)


def _step_text(step: Step) -> str:
    return step.raw or f"{step.kind.value}: {step.text}"


def _list_change(field: str, before: Sequence[str], after: Sequence[str]) -> FieldChange | None:
    if list(before) == list(after):
        return None
    added = tuple(x for x in after if x not in before)
    removed = tuple(x for x in before if x not in after)
    return FieldChange(field=field, added=added, removed=removed,
                       reordered=not added and not removed)


def _phase_changes(old: Phase, new: Phase, old_task: Task, new_task: Task) -> tuple[FieldChange, ...]:
    found: list[FieldChange | None] = [
        _list_change("steps", [_step_text(s) for s in old.steps], [_step_text(s) for s in new.steps]),
        _list_change("agents", [*old.agents, *(f"{{{{ {e} }}}}" for e in old.agent_expressions)],
                     [*new.agents, *(f"{{{{ {e} }}}}" for e in new.agent_expressions)]),
        _list_change("outputs", [_output(o) for o in old.outputs], [_output(o) for o in new.outputs]),
        _list_change("dependsOn", list(old.depends_on), list(new.depends_on)),
    ]
    if found[0] is None and _steps_body(old) != _steps_body(new):
        found[0] = FieldChange(field="steps", before="(same text)", after="parsed differently")
    for name in _SETTINGS:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            found.append(FieldChange(field=name, before=before, after=after))
    old_retry, new_retry = _to_dict(old_task.retry_for(old)), _to_dict(new_task.retry_for(new))
    if old_retry != new_retry:
        found.append(FieldChange(field="retry", before=old_retry, after=new_retry))
    if old.description != new.description:  # prose goes to the agents' context and reports: it counts
        found.append(FieldChange(field="description", before=_short(old.description),
                                 after=_short(new.description)))
    kept = tuple(f for f in found if f is not None)
    if not kept and _own_body(old, old_task) != _own_body(new, new_task):
        kept = (FieldChange(field="definition", before="as before", after="changed"),)
    return kept


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 60 else line[:57] + "..."


def _own_body(phase: Phase, task: Task) -> Any:
    """What the phase's content hash covers, less its upstream's hashes."""
    body = _strip(_to_dict(phase))
    body.pop("content_hash", None)
    body.pop("source", None)
    body["effective_retry"] = _to_dict(task.retry_for(phase))
    return body


def _output(spec: Any) -> str:
    kind = f" ({spec.type})" if spec.type else ""
    return f"{spec.name}{kind}"


def _steps_body(phase: Phase) -> list[dict[str, Any]]:
    return [{k: v for k, v in _to_dict(s).items() if k != "line"} for s in phase.steps]


def _task_changes(old: Task, new: Task) -> tuple[FieldChange, ...]:
    out = []
    for name in _TASK_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        b = _strip(_to_dict(before) if hasattr(before, "__dataclass_fields__") else _plain(before))
        a = _strip(_to_dict(after) if hasattr(after, "__dataclass_fields__") else _plain(after))
        if b != a:
            out.append(FieldChange(field=name, before=b, after=a))
    return tuple(out)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple) and value and hasattr(value[0], "__dataclass_fields__"):
        return [_to_dict(v) for v in value]
    return thaw(value)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "line"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def diff_tasks(before: Task, after: Task) -> TaskDiff:
    old = {p.name: p for p in before.phases}
    new = {p.name: p for p in after.phases}
    added = tuple(p.name for p in after.phases if p.name not in old)
    removed = tuple(p.name for p in before.phases if p.name not in new)
    changed: list[PhaseChange] = []
    affected: list[PhaseName] = []
    unchanged: list[PhaseName] = []
    for phase in after.phases:
        previous = old.get(phase.name)
        if previous is None:
            continue
        changes = _phase_changes(previous, phase, before, after)
        if changes:
            changed.append(PhaseChange(name=phase.name, changes=changes))
        elif previous.content_hash != phase.content_hash:
            affected.append(phase.name)
        else:
            unchanged.append(phase.name)
    return TaskDiff(before=before, after=after, added=added, removed=removed, changed=tuple(changed),
                    affected=tuple(affected), unchanged=tuple(unchanged),
                    task_changes=_task_changes(before, after))
