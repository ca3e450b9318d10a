"""Moving an execution onto another version of its task: which results it keeps, what runs again.

The phase content hashes decide (:mod:`quorum.definition.hashing`): a phase's hash covers its own
definition and the hashes of the phases it depends on, so a settled phase whose hash is the same in
the new version keeps its result, and every phase that changed — or depends, however indirectly, on one
that changed — runs again. Phases the new version adds run; phases it no longer has are dropped with
their results. Phases that had not settled run as they would have, under the new definition (from a
fresh attempt when their definition changed, so that no answer given to the old one is reused).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from quorum.definition.diff import diff_tasks
from quorum.definition.model import Task
from quorum.ids import PhaseName

__all__ = ("UpgradePlan", "plan_upgrade")


@dataclass(frozen=True, slots=True, kw_only=True)
class UpgradePlan:
    before: Task
    after: Task
    keep: tuple[PhaseName, ...]
    """Settled under the old version and unchanged: their results are kept."""
    rerun: tuple[PhaseName, ...]
    """Settled under the old version but changed, or downstream of a change: they run again."""
    added: tuple[PhaseName, ...]
    """New in this version: they run."""
    pending: tuple[PhaseName, ...]
    """Not settled yet: they run, as they would have."""
    fresh: frozenset[PhaseName]
    """Of ``pending``, those whose definition changed: their attempt starts afresh."""
    dropped: tuple[PhaseName, ...]
    """Only in the old version: their results are dropped."""
    reasons: dict[PhaseName, str] = field(default_factory=dict)
    """Why each phase of ``rerun`` (and of ``fresh``) runs again."""

    @property
    def changes_anything(self) -> bool:
        return bool(self.rerun or self.added or self.fresh or self.dropped)

    @property
    def restart(self) -> frozenset[PhaseName]:
        """The phases whose earlier attempts must not be continued: ``rerun`` and ``fresh``."""
        return frozenset(self.rerun) | self.fresh

    def lines(self) -> list[str]:
        """The plan in words, one line each (what ``quorum resume --upgrade-to`` prints)."""
        out = [f"upgrade {self.before.name} {self.before.version} -> {self.after.version}"]
        out.append(f"  keeps the results of: {', '.join(self.keep) or '(none)'}")
        out += [f"  runs again: {name} ({self.reasons.get(name, 'changed')})" for name in self.rerun]
        out += [f"  runs (new in {self.after.version}): {name}" for name in self.added]
        if self.pending:
            shown = [f"{n} (changed: starts afresh)" if n in self.fresh else n for n in self.pending]
            out.append(f"  runs (not settled yet): {', '.join(shown)}")
        out += [f"  drops (not in {self.after.version}): {name}" for name in self.dropped]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.after.name, "from": self.before.version, "to": self.after.version,
            "keep": list(self.keep), "rerun": list(self.rerun), "added": list(self.added),
            "pending": list(self.pending), "fresh": sorted(self.fresh), "dropped": list(self.dropped),
            "reasons": dict(self.reasons),
        }  # fmt: skip


def plan_upgrade(before: Task, after: Task, settled: Iterable[str]) -> UpgradePlan:
    """The plan for an execution of ``before`` whose ``settled`` phases are done, moved to ``after``."""
    if before.name != after.name:
        raise ValueError(f"{after.name} {after.version} is not a version of task {before.name!r}")
    done = set(settled)
    old = {p.name: p.content_hash for p in before.phases}
    diff = diff_tasks(before, after)
    reasons: dict[PhaseName, str] = {}
    for change in diff.changed:
        reasons[change.name] = "changed: " + ", ".join(c.field for c in change.changes)
    upstream_changed = {*reasons, *diff.removed, *diff.added}
    for name in diff.affected:
        deps = [d for d in _upstream(after, name) if d in upstream_changed]
        reasons[name] = f"depends on {', '.join(deps)}" if deps else "an upstream phase changed"
    keep: list[PhaseName] = []
    rerun: list[PhaseName] = []
    pending: list[PhaseName] = []
    fresh: set[PhaseName] = set()
    for phase in after.phases:
        name = phase.name
        if name not in old:
            continue  # added
        same = old[name] == phase.content_hash
        if name in done:
            (keep if same else rerun).append(name)
        else:
            pending.append(name)
            if not same:
                fresh.add(name)
    return UpgradePlan(
        before=before, after=after, keep=tuple(keep), rerun=tuple(rerun), added=diff.added,
        pending=tuple(pending), fresh=frozenset(fresh), dropped=diff.removed, reasons=reasons,
    )  # fmt: skip


def _upstream(task: Task, name: str) -> list[PhaseName]:
    """Every phase ``name`` depends on, directly or not, nearest first."""
    by_name = {p.name: p for p in task.phases}
    seen: list[PhaseName] = []
    frontier = list(by_name[PhaseName(name)].depends_on)
    while frontier:
        dep = frontier.pop(0)
        if dep in seen or dep not in by_name:
            continue
        seen.append(dep)
        frontier.extend(by_name[dep].depends_on)
    return seen
