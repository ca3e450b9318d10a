"""The data of ``step:start`` and ``step:complete`` events: one shared mapping per step kind, and for an
aggregate step the aggregator's own result, bounded, so that a page can show a weighted tally as the
aggregator computed it (the phase's outputs keep the whole result)."""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from quorum.definition.model import StepKind, frozen_mapping

__all__ = ("aggregate_data", "step_data")


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


def aggregate_data(data: Mapping[str, Any], result: Mapping[str, Any]) -> Mapping[str, Any]:
    """``step:complete`` of an aggregate step: ``kind``, ``type`` and ``result``, the aggregator's own
    result (tally, winner, dissent...) as JSON values, bounded: strings past 512 characters, containers
    past 64 items, nesting past 6 levels and whatever follows the first ~8 KiB are cut, and then
    ``truncated`` is true. (The phase's outputs keep the whole result.)"""
    budget = _RESULT_BUDGET
    cut = False

    def walk(value: Any, depth: int) -> Any:
        nonlocal budget, cut
        budget -= 8
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, enum.Enum):
            value = value.value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else str(value)  # JSON has no NaN/Infinity
        to_dict = getattr(value, "to_dict", None)
        if not isinstance(value, str | Mapping | list | tuple | set | frozenset) and callable(to_dict):
            value = to_dict()
        if isinstance(value, Mapping | list | tuple | set | frozenset):
            if depth >= _RESULT_DEPTH:
                cut = True
                return "…"
            is_map = isinstance(value, Mapping)
            items: list[tuple[Any, Any]]
            if isinstance(value, Mapping):
                items = list(value.items())
            else:
                ordered = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
                items = [(None, v) for v in ordered]
            kept: list[tuple[Any, Any]] = []
            for key, item in items:
                if budget <= 0 or len(kept) >= _RESULT_ITEMS:
                    cut = True
                    break
                kept.append((key, walk(item, depth + 1)))
            return {str(k): v for k, v in kept} if is_map else [v for _, v in kept]
        text = value if isinstance(value, str) else str(value)
        budget -= min(len(text), _RESULT_TEXT)
        if len(text) > _RESULT_TEXT:
            cut = True
            return text[:_RESULT_TEXT] + "…"
        return text

    out: dict[str, Any] = {"kind": data["kind"], "type": data["type"], "result": walk(result, 0)}
    if cut:
        out["truncated"] = True
    return frozen_mapping(out)
