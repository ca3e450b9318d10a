"""Work counted, not timed: bounds that a loaded machine cannot break.

A test that guards against a hang or a superlinear blow-up (an alias bomb, a quadratic loop over a huge
list) asserts on the number of function calls made — Python functions and built-ins alike, counted with
``sys.setprofile`` — which is the same on an idle laptop and on a CI runner busy with three other jobs;
work done inside one C call (a huge string, a big power) shows in the memory it allocates instead
(``tracemalloc``). A plain hang is still caught by the per-test timeout (pytest-timeout).

Counts depend on the implementation, so tests compare counts with each other (the same action on a
bigger input, or a hostile input against a harmless one of the same size) or with a budget the code
itself declares, not with a figure measured once.
"""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable
from types import FrameType

__all__ = ("allocated", "calls", "growth")


def calls(action: Callable[[], object]) -> int:
    """How many function calls ``action()`` makes, itself included."""
    count = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(previous)
    return count


def growth(action: Callable[[int], object], size: int, factor: int = 4) -> float:
    """How much more work ``action(size * factor)`` is than ``action(size)``: about ``factor`` where the
    work is linear, ``factor ** 2`` where it is quadratic. A first call warms the caches and lazy imports,
    which would otherwise be counted against the smaller size."""
    action(size)
    small = calls(lambda: action(size))
    return calls(lambda: action(size * factor)) / small


def allocated(action: Callable[[], object]) -> int:
    """The most memory, in bytes, that ``action()`` holds at once beyond what was held before it."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    try:
        action()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        if not tracing:
            tracemalloc.stop()
    return peak - before
