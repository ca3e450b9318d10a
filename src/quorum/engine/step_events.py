"""The data of ``step:start`` and ``step:complete`` events: one shared mapping per step kind, and for an
aggregate step the aggregator's own result, bounded, so that a page can show a weighted tally as the
aggregator computed it (the phase's outputs keep the whole result)."""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from quorum.definition.model import StepKind, thaw

__all__ = ("AggregateStepData", "aggregate_data", "step_data")


@functools.lru_cache(maxsize=1024)
def step_data(kind: StepKind, step_type: str | None) -> Mapping[str, Any]:
    """The payload of ``step:start``/``step:complete``: the same few values for every step of a kind,
    so one shared read-only mapping each (journals keep them)."""
    return MappingProxyType({"kind": kind.value, "type": step_type})


_RESULT_BUDGET = 8192
"""About how many characters of an aggregate's result its ``step:complete`` event carries."""
_RESULT_TEXT = 512
_RESULT_ITEMS = 64
_RESULT_DEPTH = 6


def _bounded(data: Mapping[str, Any], result: Mapping[str, Any]) -> Mapping[str, Any]:
    """``step:complete`` of an aggregate step: ``kind``, ``type`` and ``result``, the aggregator's own
    result (tally, winner, dissent...) as JSON values, bounded: strings past 512 characters, containers
    past 64 items, nesting past 6 levels and whatever follows the first ~8 KiB are cut, and then
    ``truncated`` is true. (The phase's outputs keep the whole result.)"""
    budget = _RESULT_BUDGET
    cut = False

    def walk(value: Any, depth: int) -> Any:
        nonlocal budget, cut
        budget -= 8
        kind = type(value)
        # exact types first: this runs on every aggregate step, and the ABC checks below are slow
        if kind is str:
            return text(value)
        if kind is bool or kind is int or value is None:
            return value
        if kind is float:
            return value if math.isfinite(value) else str(value)  # JSON has no NaN/Infinity
        if kind is dict or kind is MappingProxyType:
            return container(list(value.items()), True, depth)
        if kind is tuple or kind is list:
            return container([(None, v) for v in value], False, depth)
        if isinstance(value, enum.Enum):
            return walk(value.value, depth)
        if isinstance(value, bool | int):
            return int(value)
        if isinstance(value, float):
            return walk(float(value), depth)
        to_dict = getattr(value, "to_dict", None)
        if not isinstance(value, str | Mapping | list | tuple | set | frozenset) and callable(to_dict):
            value = to_dict()
        if isinstance(value, Mapping):
            return container(list(value.items()), True, depth)
        if isinstance(value, list | tuple):
            return container([(None, v) for v in value], False, depth)
        if isinstance(value, set | frozenset):
            return container([(None, v) for v in sorted(value, key=repr)], False, depth)
        return text(value if isinstance(value, str) else str(value))

    def text(value: str) -> str:
        nonlocal budget, cut
        budget -= min(len(value), _RESULT_TEXT)
        if len(value) > _RESULT_TEXT:
            cut = True
            return value[:_RESULT_TEXT] + "…"
        return value

    def container(items: list[tuple[Any, Any]], is_map: bool, depth: int) -> Any:
        nonlocal cut
        if depth >= _RESULT_DEPTH:
            cut = True
            return "…"
        kept: list[tuple[Any, Any]] = []
        for key, item in items:
            if budget <= 0 or len(kept) >= _RESULT_ITEMS:
                cut = True
                break
            kept.append((key, walk(item, depth + 1)))
        if is_map:
            return MappingProxyType({str(k): v for k, v in kept})
        return tuple(v for _, v in kept)

    out: dict[str, Any] = {"kind": data["kind"], "type": data["type"], "result": walk(result, 0)}
    if cut:
        out["truncated"] = True
    return MappingProxyType(out)


class AggregateStepData(Mapping[str, Any]):
    """The data of an aggregate step's ``step:complete``, worked out (:func:`_bounded`) when first read:
    a journal in memory that nobody reads never pays for it; a store that encodes the event, a stream
    or a handler that reads it pays once."""

    __slots__ = ("_built", "_data", "_result")

    def __init__(self, data: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        self._data = data
        self._result = result
        self._built: Mapping[str, Any] | None = None

    def _view(self) -> Mapping[str, Any]:
        if self._built is None:
            self._built = _bounded(self._data, self._result)
        return self._built

    def __getitem__(self, key: str) -> Any:
        return self._view()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._view())

    def __len__(self) -> int:
        return len(self._view())

    def __repr__(self) -> str:
        return f"AggregateStepData({dict(self._view())!r})"

    def __reduce__(self) -> tuple[Any, ...]:  # pickled as what it says, not as its inputs
        return (dict, (thaw(dict(self._view())),))


def aggregate_data(data: Mapping[str, Any], result: Mapping[str, Any]) -> Mapping[str, Any]:
    """``step:complete`` of an aggregate step: ``kind``, ``type`` and ``result``, the aggregator's own
    result (tally, winner, dissent...) as JSON values, bounded: strings past 512 characters, containers
    past 64 items, nesting past 6 levels and whatever follows the first ~8 KiB are cut, and then
    ``truncated`` is true. (The phase's outputs keep the whole result.) Worked out when first read."""
    return AggregateStepData(data, result)
