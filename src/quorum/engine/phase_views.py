"""Read-only mappings over finished phases.

- :func:`settled_phases`: the phases a checkpoint holds, by name.
- :func:`phase_view`: ``phases.<name>`` of templates and agent context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from quorum.engine.results import PhaseResult
from quorum.ids import PhaseName

__all__ = ("phase_view", "settled_phases")


def settled_phases(results: Iterable[PhaseResult]) -> Mapping[PhaseName, PhaseResult]:
    """The phases a checkpoint holds: a read-only mapping by name, in the order they settled."""
    return MappingProxyType({result.name: result for result in results})


def phase_view(result: PhaseResult) -> Mapping[str, Any]:
    """``phases.<name>`` in templates and agent context: ``{outputs, responses, status}`` of a finished
    phase, read-only (``responses``: each agent's latest successful answer, else its error)."""
    return MappingProxyType(
        {"outputs": result.outputs, "responses": MappingProxyType(result.responses),
         "status": result.status.value}
    )

