"""JSON lines of one run -> the Markdown tables: issue 7's targets (pass/miss), then the details.

Every number is the median over the processes that ran it, with min–max and n; every quorum figure is
also given as a ratio to the plain-asyncio floor measured in the same run. The peers' figures come
from the shared ``results.md`` (reference only: they were measured on another run).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from _peers_ref import PeerFigures

__all__ = ("FLOOR", "QUORUM", "QUORUM_SQLITE", "Runs", "TargetCheck", "check_targets")

FLOOR, QUORUM, QUORUM_SQLITE = "plain-asyncio", "quorum", "quorum-sqlite"
PEERS = (FLOOR, QUORUM, QUORUM_SQLITE)
CRITICAL_PATH_CALLS, AGENT_CALLS = 12, 18
FLAGSHIP_TASK = "investment-committee-meeting"


def _size(row: Mapping[str, Any]) -> int | None:
    metric = row.get("metric")
    if metric == "fanout":
        return row.get("N")
    if metric == "throughput":
        return row.get("n")
    return None


class Runs:
    """The rows of one run, grouped by (peer, metric, size)."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self.ok: dict[tuple[str, str, int | None], list[Mapping[str, Any]]] = defaultdict(list)
        self.failed: dict[tuple[str, str, int | None], list[Mapping[str, Any]]] = defaultdict(list)
        for row in rows:
            key = (row["peer"], row["metric"], _size(row))
            (self.ok if row.get("ok") else self.failed)[key].append(row)

    def values(self, peer: str, metric: str, field: str, size: int | None = None) -> list[float]:
        out = []
        for row in self.ok.get((peer, metric, size), []):
            value: Any = row
            for part in field.split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                out.append(float(value))
        return out

    def med(self, peer: str, metric: str, field: str, size: int | None = None) -> float | None:
        vals = self.values(peer, metric, field, size)
        return statistics.median(vals) if vals else None

    def spread(
        self, peer: str, metric: str, field: str, size: int | None = None, *, scale: float = 1.0, nd: int = 3
    ) -> str:
        """``median [min–max] n=k`` (scaled), or ``FAIL``/``–``."""
        vals = [v * scale for v in self.values(peer, metric, field, size)]
        if not vals:
            return "FAIL" if self.failed.get((peer, metric, size)) else "–"
        text = _g(statistics.median(vals), nd)
        if len(vals) > 1:
            text += f" [{_g(min(vals), nd)}–{_g(max(vals), nd)}]"
        return text + f" n={len(vals)}"

    def failures(self) -> list[str]:
        return [
            f"{peer} {metric}{'' if size is None else f' {size}'}: {rows[0].get('error', 'failed')}"
            for (peer, metric, size), rows in self.failed.items()
        ]

    def sizes(self, metric: str) -> list[int]:
        return sorted({k[2] for k in (*self.ok, *self.failed) if k[1] == metric and k[2] is not None})


def _g(value: float | None, nd: int = 3) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{nd}g}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetCheck:
    target: str
    quorum: str
    floor: str
    versus_floor: str
    peers: str
    passed: bool | None
    """None = no data (counted as a miss)."""

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "**MISS**", None: "**NO DATA**"}[self.passed]


def _per_call_us(runs: Runs, peer: str, n: int) -> float | None:
    """Fan-out cost per agent call beyond the sleep: (wall - L) / N, in µs."""
    wall = runs.med(peer, "fanout", "wall_s", n)
    lat = runs.med(peer, "fanout", "L", n)
    return None if wall is None or lat is None else (wall - lat) / n * 1e6


def check_targets(runs: Runs, peers: Mapping[str, PeerFigures]) -> list[TargetCheck]:
    lg, lgs, dbos = (peers.get(p, PeerFigures(name=p)) for p in ("langgraph", "langgraph-sqlite", "dbos"))
    checks: list[TargetCheck] = []

    def add(
        target: str,
        q: float | None,
        f: float | None,
        vs: float | None,
        peers_text: str,
        ok: bool | None,
        *,
        q_text: str | None = None,
        f_text: str | None = None,
    ) -> None:
        checks.append(
            TargetCheck(
                target=target,
                quorum=q_text or _g(q),
                floor=f_text or _g(f),
                versus_floor="–" if vs is None else f"{vs:.2f}×",
                peers=peers_text,
                passed=ok,
            )
        )

    def le(value: float | None, bound: float) -> bool | None:
        return None if value is None else value <= bound

    def ge(value: float | None, bound: float) -> bool | None:
        return None if value is None else value >= bound

    # a. latency
    q, f = runs.med(QUORUM, "latency", "ratio_warm"), runs.med(FLOOR, "latency", "ratio_warm")
    add(
        "a. latency L=50 ms, warm, × critical path ≤ 1.02",
        q,
        f,
        _ratio(q, f),
        f"LangGraph {_g(lg.latency_ratio_warm)}",
        le(q, 1.02),
        q_text=runs.spread(QUORUM, "latency", "ratio_warm"),
    )
    # b. overhead
    for peer, bound, floor_x, refs in (
        (QUORUM, 60.0, 3.5, ((lg, 10.0),)),
        (QUORUM_SQLITE, 150.0, None, ((lgs, 15.0), (dbos, 40.0))),
    ):
        q = runs.med(peer, "overhead", "us_per_call_steady")
        f = runs.med(FLOOR, "overhead", "us_per_call_steady")
        spread = runs.spread(peer, "overhead", "us_per_call_steady")
        label = "in-memory" if peer == QUORUM else "SQLite history"
        add(
            f"b. overhead µs/agent call, {label} ≤ {bound:g}",
            q,
            f,
            _ratio(q, f),
            "",
            le(q, bound),
            q_text=spread,
        )
        if floor_x is not None:
            add(
                f"b. overhead {label} ≤ {floor_x:g}× floor",
                q,
                f,
                _ratio(q, f),
                "",
                le(_ratio(q, f), floor_x),
                q_text=spread,
            )
        for ref, factor in refs:
            below = _ratio(ref.us_per_call, q)
            add(
                f"b. overhead {label} ≥ {factor:g}× below {ref.name}",
                q,
                f,
                _ratio(q, f),
                f"{ref.name} {_g(ref.us_per_call)} µs ({'–' if below is None else f'{below:.1f}× ours'})",
                ge(below, factor),
                q_text=spread,
            )
    # c. throughput at 200
    for peer, floor_x, ref, factor in ((QUORUM, 0.5, lg, 4.0), (QUORUM_SQLITE, 0.3, lgs, 9.0)):
        q = runs.med(peer, "throughput", "exec_per_s", 200)
        f = runs.med(FLOOR, "throughput", "exec_per_s", 200)
        spread = runs.spread(peer, "throughput", "exec_per_s", 200)
        label = "in-memory" if peer == QUORUM else "SQLite history"
        add(
            f"c. 200 concurrent, executions/s, {label} ≥ {floor_x:g}× floor",
            q,
            f,
            _ratio(q, f),
            "",
            ge(_ratio(q, f), floor_x),
            q_text=spread,
        )
        times = _ratio(q, ref.exec_per_s)
        add(
            f"c. 200 concurrent, {label} ≥ {factor:g}× {ref.name}",
            q,
            f,
            _ratio(q, f),
            f"{ref.name} {_g(ref.exec_per_s)}/s ({'–' if times is None else f'ours {times:.1f}×'})",
            ge(times, factor),
            q_text=spread,
        )
    # c. 2,000 concurrent: all complete, peak RSS
    for peer in (QUORUM, QUORUM_SQLITE):
        done = runs.values(peer, "throughput", "completed", 2000)
        rss = runs.med(peer, "throughput", "peak_rss_mb", 2000)
        f = runs.med(FLOOR, "throughput", "peak_rss_mb", 2000)
        all_done = bool(done) and all(d == 2000 for d in done)
        ok = None if rss is None else (all_done and rss <= 150.0)
        label = "in-memory" if peer == QUORUM else "SQLite history"
        add(
            f"c. 2,000 concurrent complete, {label}, peak RSS MB ≤ 150",
            rss,
            f,
            _ratio(rss, f),
            f"completed {', '.join(f'{d:.0f}' for d in done) or '–'} of 2,000",
            ok,
            q_text=runs.spread(peer, "throughput", "peak_rss_mb", 2000, nd=4),
        )
    # d. fan-out
    for n, bound in ((1000, 2.0), (10000, 3.0)):
        q, f = runs.med(QUORUM, "fanout", "wall_s", n), runs.med(FLOOR, "fanout", "wall_s", n)
        ref = lg.fanout_s.get(n)
        add(
            f"d. fan-out N={n:,} wall ≤ {bound:g}× floor",
            q,
            f,
            _ratio(q, f),
            "" if ref is None else f"LangGraph {_g(ref)} s",
            le(_ratio(q, f), bound),
            q_text=runs.spread(QUORUM, "fanout", "wall_s", n),
        )
    q_growth = _ratio(_per_call_us(runs, QUORUM, 10000), _per_call_us(runs, QUORUM, 1000))
    f_growth = _ratio(_per_call_us(runs, FLOOR, 10000), _per_call_us(runs, FLOOR, 1000))
    add(
        "d. linear growth: per-call cost at N=10,000 ≤ 2× that at N=1,000",
        q_growth,
        f_growth,
        _ratio(q_growth, f_growth),
        "",
        le(q_growth, 2.0),
        q_text="–" if q_growth is None else f"{q_growth:.2f}×",
        f_text="–" if f_growth is None else f"{f_growth:.2f}×",
    )
    # e. parse
    flag = f"tasks.{FLAGSHIP_TASK}"
    for field, bound, label in (("cold_s", 0.010, "≤ 10 ms cold"), ("cached_s", 50e-6, "≤ 50 µs cached")):
        q = runs.med(QUORUM, "parse", f"{flag}.{field}")
        add(
            f"e. parse {FLAGSHIP_TASK} {label}",
            q,
            None,
            None,
            "",
            le(q, bound),
            q_text=runs.spread(QUORUM, "parse", f"{flag}.{field}", scale=1e3, nd=3) + " ms",
        )
    q = runs.med(QUORUM, "parse", "generated.cold_s")
    add(
        "e. parse a generated 200-phase task ≤ 100 ms cold",
        q,
        None,
        None,
        "",
        le(q, 0.100),
        q_text=runs.spread(QUORUM, "parse", "generated.cold_s", scale=1e3) + " ms",
    )
    # f. start-up (the floor's figure: `import asyncio` in a fresh interpreter, as in results.md)
    f = runs.med(FLOOR, "import", "import_s")
    f_text = f"`import asyncio` {_g(f)} s"
    q = runs.med(QUORUM, "startup", "import_quorum_s")
    add(
        "f. `import quorum` ≤ 0.25 s (wall, fresh interpreter)",
        q,
        f,
        _ratio(q, f),
        f"LangGraph {_g(lg.import_s)} s",
        le(q, 0.25),
        f_text=f_text,
        q_text=runs.spread(QUORUM, "startup", "import_quorum_s"),
    )
    q = runs.med(QUORUM, "startup", "help_s")
    add(
        "f. `quorum --help` ≤ 0.4 s (wall)",
        q,
        f,
        _ratio(q, f),
        "",
        le(q, 0.4),
        f_text=f_text,
        q_text=runs.spread(QUORUM, "startup", "help_s"),
    )
    return checks
