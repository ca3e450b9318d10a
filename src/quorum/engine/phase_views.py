"""Read-only mappings over finished phases, kept small because every execution holds them for good.

- :class:`SettledPhases`: the phases a checkpoint holds, by name, over a tuple of results.
- :class:`PhaseView`: ``phases.<name>`` of templates and agent context, read from the result.

Kept as small objects, not dicts: every execution holds them for good, and the dicts measured
several MB more at 2,000 concurrent executions (benchmarks/PROFILE.md, "phase views").
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from typing import Any

from quorum._keyed import KeyedView
from quorum.engine.results import PhaseResult
from quorum.ids import PhaseName

__all__ = ("PhaseView", "SettledPhases")


class SettledPhases(Mapping[PhaseName, PhaseResult]):
    """The phases a checkpoint holds, by name: a read-only mapping over a tuple of (frozen) results.

    Each phase's checkpoint holds every phase settled so far, so the checkpoints of an execution hold
    about n²/2 entries: a tuple holds them where a dict per checkpoint would not be small. Looking a
    phase up by name walks the tuple (a handful of phases)."""

    __slots__ = ("_results",)

    def __init__(self, results: tuple[PhaseResult, ...]) -> None:
        self._results = results

    def __getitem__(self, name: PhaseName) -> PhaseResult:
        for result in self._results:
            if result.name == name:
                return result
        raise KeyError(name)

    def __iter__(self) -> Iterator[PhaseName]:
        return (result.name for result in self._results)

    def __len__(self) -> int:
        return len(self._results)

    # Walk the tuple once (the mixins would look every name up again).
    def items(self) -> ItemsView[PhaseName, PhaseResult]:
        return _SettledItems(self)

    def values(self) -> ValuesView[PhaseResult]:
        return _SettledValues(self)

    def __repr__(self) -> str:
        return f"SettledPhases({dict(self)!r})"


class _SettledItems(ItemsView[PhaseName, PhaseResult]):
    _mapping: SettledPhases

    def __iter__(self) -> Iterator[tuple[PhaseName, PhaseResult]]:
        return ((result.name, result) for result in self._mapping._results)


class _SettledValues(ValuesView[PhaseResult]):
    _mapping: SettledPhases

    def __iter__(self) -> Iterator[PhaseResult]:
        return iter(self._mapping._results)


class PhaseView(KeyedView):
    """``phases.<name>`` in templates and agent context: ``{outputs, responses, status}`` of a finished
    phase, read from its result when asked (one small object per phase, not three dicts kept for the
    whole execution)."""

    __slots__ = ("_result",)

    KEYS = ("outputs", "responses", "status")

    def __init__(self, result: PhaseResult) -> None:
        self._result = result

    def __getitem__(self, key: str) -> Any:
        if key == "outputs":
            return self._result.outputs
        if key == "responses":
            return self._result.responses
        if key == "status":
            return self._result.status.value
        raise KeyError(key)
