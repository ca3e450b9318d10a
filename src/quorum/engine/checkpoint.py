"""Checkpoint: the settled phases of an execution at one moment, and the usage so far (with the part
of it each child execution consumed).

A checkpoint holds references to the frozen :class:`~quorum.engine.results.PhaseResult` objects, not
copies, so taking one after every completed phase is cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from quorum.engine.results import PhaseResult, Usage
from quorum.ids import CheckpointId, ExecutionId, PhaseName

__all__ = ("Checkpoint",)


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """The finished phases at one moment (references to frozen results, so taking one is cheap)."""

    id: CheckpointId
    label: str
    created_at: float
    sequence: int
    phases: Mapping[PhaseName, PhaseResult] = field(default_factory=lambda: MappingProxyType({}))
    usage: Usage = field(default_factory=Usage)
    children: Mapping[ExecutionId, Usage] = field(default_factory=lambda: MappingProxyType({}))
    """Each child execution counted in ``usage`` so far, with what it consumed."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "created_at": self.created_at,
            "sequence": self.sequence,
            "phases": {name: p.to_dict() for name, p in self.phases.items()},
            "usage": self.usage.to_dict(),
            "children": {child: usage.to_dict() for child, usage in self.children.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        return cls(
            id=CheckpointId(data["id"]),
            label=data["label"],
            created_at=data["created_at"],
            sequence=data["sequence"],
            phases={PhaseName(k): PhaseResult.from_dict(v) for k, v in data.get("phases", {}).items()},
            usage=Usage(**data.get("usage", {})),
            children={ExecutionId(k): Usage(**v) for k, v in data.get("children", {}).items()},
        )
