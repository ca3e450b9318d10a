#!/usr/bin/env python3
"""Where the time goes per agent call: the committee at L = 0 under a profiler.

    python benchmarks/profile_hotpath.py                    # cProfile, in-memory history
    python benchmarks/profile_hotpath.py --history sqlite   # or: none (no store: isolates recording)
    python benchmarks/profile_hotpath.py --pyinstrument     # pyinstrument's call tree instead

It first times ``--n`` executions without a profiler (µs per agent call = wall / 18 / n), then runs them
again under cProfile (with the garbage collector off, its time being measured directly in the first
run) and splits the *self* time of every function into categories by module (scheduling, events,
templates, recording, result assembly, the agent itself, asyncio's loop, ...).
The self time of C built-ins and of ``abc``'s isinstance machinery is charged to the Python function
that called them, so each category holds all the work done on its behalf. The profiler's own overhead
inflates small functions, so the shares are applied to the unprofiled µs per call.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import load_shared
from peer_quorum import QuorumPeer
from peer_quorum_sqlite import QuorumSQLitePeer

C = load_shared("common")

Func = tuple[str, int, str]

# (category, substrings of "file:function"), first match wins
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("agent body (sleep, make_output, context rebuild)", ("benchmarks/peer_quorum", "peers/common.py")),
    ("templates (render, expressions)", ("quorum/templates", "jinja2/", "markupsafe/", "engine/templating")),
    (
        "history recording (store, recorder)",
        ("quorum/history/", "engine/recorder", "engine/services", "sqlite3", "threading"),
    ),
    (
        "checkpoint snapshots + event payloads (to_dict)",
        (
            "engine/snapshot",
            "engine/results.py:thaw",
            ":to_dict",
            ":_thaw",
            "_snapshot",
            "_start_data",
            ":_to_dict",
        ),
    ),
    ("events (Event objects, bus, sequencing)",
     ("quorum/events", "quorum/engine/bus", "quorum/engine/emitter")),
    ("agent manager / FunctionAgent / response", ("quorum/agents/",)),
    (
        "execution state + result assembly",
        ("quorum/engine/context", "quorum/engine/results", "quorum/engine/status", "quorum/engine/verdict",
         "quorum/engine/clock", "quorum/engine/checkpoint"),
    ),
    ("model helpers (frozen_mapping, dataclasses)", ("quorum/definition/", "dataclasses.py")),
    ("engine scheduling (executor, live, scheduler, phase, attempt, calls, control)",
     ("quorum/engine/", "quorum/steps/")),
    ("asyncio event loop + tasks", ("asyncio/", "selectors.py", "contextvars", "_asyncio", "heapq")),
)
OTHER = "other"


class NoHistoryPeer(QuorumPeer):
    name = "quorum-no-history"

    def make_store(self, state_dir: str) -> Any:
        return None


def category(func: Func) -> str:
    filename, _, name = func
    key = f"{filename}:{name}"
    for label, needles in CATEGORIES:
        if any(n in key for n in needles):
            return label
    return OTHER


def _transparent(func: Func) -> bool:
    """C built-ins and ``abc``'s isinstance machinery: their time belongs to whoever called them."""
    return func[0] in ("~", "<frozen abc>")


def breakdown(stats: pstats.Stats) -> dict[str, float]:
    """Self time per category; a transparent function's self time is charged to its callers (split by
    call counts, followed up through transparent callers), so ``isinstance(x, Mapping)`` lands on the
    function that asked."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    per: dict[str, float] = defaultdict(float)

    def charge(func: Func, amount: float, depth: int = 0) -> None:
        callers = raw[func][4] if func in raw else {}
        if not _transparent(func) or not callers or depth > 8:
            per[OTHER if _transparent(func) else category(func)] += amount
            return
        total_calls = sum(c[1] for c in callers.values()) or 1
        for caller, c in callers.items():
            charge(caller, amount * c[1] / total_calls, depth + 1)

    for func, (_cc, _nc, tt, _ct, _callers) in raw.items():
        charge(func, tt)
    return dict(per)


async def _run(peer: Any, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        C.validate_committee(await peer.committee(0.0))
    return time.perf_counter() - t0


class GcTimer:
    """Wall time spent in the cyclic garbage collector (``gc.callbacks``), and collections per generation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self.by_generation = [0.0, 0.0, 0.0]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            took = time.perf_counter() - self._t0
            self.seconds += took
            self.collections[info["generation"]] += 1
            self.by_generation[info["generation"]] += took

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def _report(stats: pstats.Stats, us_per_call: float, gc_us: float, n: int, top: int) -> None:
    """Categories of the (GC-free) profile, scaled to the measured µs per call minus the GC's share."""
    per = breakdown(stats)
    total = sum(per.values())
    rest = us_per_call - gc_us
    print(
        f"\nwhere the {us_per_call:.1f} µs per agent call go (cProfile self-time shares of the "
        f"{rest:.1f} µs outside the GC; the GC measured directly):\n"
    )
    print(f"| {'category':<50} | share | µs per agent call |")
    print(f"|{'-' * 52}|-------|-------------------|")
    rows = [(label, seconds / total * rest) for label, seconds in per.items()]
    rows.append(("garbage collector (gc.callbacks, measured)", gc_us))
    for label, us in sorted(rows, key=lambda kv: -kv[1]):
        print(f"| {label:<50} | {us / us_per_call * 100:4.1f}% | {us:17.1f} |")
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    calls = n * C.AGENT_CALLS
    for title, index, quorum_only in (("self time", 2, False), ("cumulative time, quorum only", 3, True)):
        print(f"\ntop {top} functions by {title}, per agent call (profiled µs):\n")
        rows = sorted(
            (kv for kv in raw.items() if not quorum_only or "quorum/" in kv[0][0]),
            key=lambda kv: -kv[1][index],
        )
        for (filename, line, name), (_cc, nc, tt, ct, _callers) in rows[:top]:
            where = filename if filename == "~" else f"{'/'.join(Path(filename).parts[-3:])}:{line}"
            print(
                f"{tt / calls * 1e6:8.2f} self {ct / calls * 1e6:8.2f} cum {nc / calls:7.2f} calls  "
                f"{name}  ({where})"
            )


async def main_async(args: argparse.Namespace) -> None:
    peer_cls = {"sqlite": QuorumSQLitePeer, "memory": QuorumPeer, "none": NoHistoryPeer}[args.history]
    peer = peer_cls()
    with tempfile.TemporaryDirectory() as state:
        await peer.setup(state)
        try:
            await _run(peer, 20)  # warm-up
            with GcTimer() as gc_timer:
                wall = await _run(peer, args.n)
            us_per_call = wall / args.n / C.AGENT_CALLS * 1e6
            gc_us = gc_timer.seconds / args.n / C.AGENT_CALLS * 1e6
            print(
                f"quorum ({args.history} history), L=0: {us_per_call:.1f} µs per agent call "
                f"({wall / args.n * 1e3:.3f} ms per execution of {C.AGENT_CALLS} calls, n={args.n}, "
                f"no profiler); garbage collector {gc_us:.1f} µs per call "
                f"(collections by generation {gc_timer.collections}, ms by generation "
                f"{[round(s * 1e3, 1) for s in gc_timer.by_generation]})"
            )
            if args.pyinstrument:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0001, async_mode="disabled")
                profiler.start()
                await _run(peer, args.n)
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False, show_all=False))
                return
            # The GC is off while profiling: cProfile would charge each collection to whatever function
            # happened to allocate (a Handle.__init__, a _call_soon), blurring every category.
            prof = cProfile.Profile()
            gc.disable()
            try:
                prof.enable()
                await _run(peer, args.n)
                prof.disable()
            finally:
                gc.enable()
        finally:
            await peer.teardown()
    _report(pstats.Stats(prof), us_per_call, gc_us, args.n, args.top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=300, help="executions measured")
    ap.add_argument(
        "--history",
        choices=("memory", "sqlite", "none"),
        default="memory",
        help="none: no history store at all (isolates the cost of recording)",
    )
    ap.add_argument("--pyinstrument", action="store_true")
    ap.add_argument("--top", type=int, default=30)
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
