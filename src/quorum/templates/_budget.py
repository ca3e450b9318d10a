"""The work one render may do, counted while it renders: loop iterations, and the characters and items
of every value the template's operators, filters and calls build.

The sizes checked before each operation (``'a' * n``, ``center(w)``) bound one step; this budget bounds
their sum, so that many legal steps (``rows|map('upper')`` over 2,000 rows of 100,000 characters) cannot
add up to gigabytes. ``printed_size`` measures what a value would print as, stopping at a limit, so that
a list holding one long string 20,000 times is refused before it is serialised.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from jinja2.exceptions import SecurityError

__all__ = ("MAX_ITERATIONS", "RenderBudget", "budget", "charge", "printed_size")

_T = TypeVar("_T")

MAX_ITERATIONS = 100_000
"""Loop iterations allowed in one render (all ``for`` loops, recursive calls included)."""


@dataclass(slots=True)
class RenderBudget:
    """What is left of one render's allowance; one per render, set by the engine."""

    iterations: int
    work: int
    work_limit: int


budget: contextvars.ContextVar[RenderBudget] = contextvars.ContextVar("quorum_template_budget")


def charge(result: _T) -> _T:
    """Counts a freshly built value against the render's work budget, and returns it.

    Shallow on purpose: a new list of n references costs n, the objects it refers to exist already
    (and were charged when they were built)."""
    if isinstance(result, str | bytes | list | tuple | dict | set | frozenset):
        cost = len(result)
    elif isinstance(result, int):
        cost = result.bit_length() // 64
    else:
        return result
    state = budget.get(None)
    if state is not None and cost:
        state.work -= cost
        if state.work < 0:
            raise SecurityError(
                f"the template built more than {state.work_limit} characters and items in one render"
            )
    return result


def printed_size(value: Any, limit: int) -> int:
    """About how many characters ``value`` prints as (JSON for collections); stops counting as soon as
    the count passes ``limit``, so the cost is at most ``limit`` steps whatever the value holds."""
    total = 0
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 2
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            if total <= limit:
                for key, val in item.items():
                    pending.append(key)
                    pending.append(val)
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            if total <= limit:
                pending.extend(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 3 // 10 + 1
        else:
            total += 24
        if total > limit:
            return total
    return total
