"""JSON lines of one run -> the Markdown tables: issue 7's targets (pass/miss), then the details.

Every number is the median over the processes that ran it, with min–max and n; every quorum figure is
also given as a ratio to the plain-asyncio floor measured in the same run. So is every peer figure a
target compares against (``PeerFigure``): the peer's median in this run when ``run.py`` measured it;
otherwise the shared ``results.md``'s figure rescaled by the floor (the peer's ratio to results.md's
own floor, times this run's floor), because results.md was measured on another machine state and its
absolute figures are no basis for today's. Each figure says which basis it has.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from _peers_ref import REFERENCE_FLOOR, REFERENCE_PEERS, PeerFigures

__all__ = (
    "FLOOR",
    "QUORUM",
    "QUORUM_SQLITE",
    "PeerFigure",
    "Runs",
    "TargetCheck",
    "check_targets",
    "ideal_rate",
    "peer_figure",
)

FLOOR, QUORUM, QUORUM_SQLITE = "plain-asyncio", "quorum", "quorum-sqlite"
PEERS = (FLOOR, QUORUM, QUORUM_SQLITE)
LANGGRAPH, LANGGRAPH_SQLITE, DBOS = "langgraph", "langgraph-sqlite", "dbos"
TARGET_PEERS = (LANGGRAPH, LANGGRAPH_SQLITE, DBOS)
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

    def others(self, metric: str | None = None, size: int | None = None) -> list[str]:
        """The peers other than the floor and quorum that have rows (of ``metric`` at ``size`` when
        given), results.md's order first."""
        found = {
            k[0]
            for k in (*self.ok, *self.failed)
            if k[0] not in PEERS and (metric is None or (k[1] == metric and k[2] == size))
        }
        known = [p for p in REFERENCE_PEERS if p in found]
        return known + sorted(found - set(known))

    def count(self, peer: str, metric: str, size: int | None = None) -> tuple[int, int]:
        """(processes that succeeded, processes that failed)."""
        return len(self.ok.get((peer, metric, size), [])), len(self.failed.get((peer, metric, size), []))


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


# metric -> the field of the JSON lines that a peer is compared on, and its unit in the report
PEER_FIELDS = {
    "latency": ("ratio_warm", "× bound"),
    "overhead": ("us_per_call_steady", " µs"),
    "throughput": ("exec_per_s", "/s"),
    "fanout": ("wall_s", " s"),
    "import": ("import_s", " s"),
}


def reference_value(fig: PeerFigures | None, metric: str, size: int | None = None) -> float | None:
    """results.md's figure for one row (peer or floor) and metric, None where it has none."""
    if fig is None:
        return None
    if metric == "latency":
        return fig.latency_ratio_warm
    if metric == "overhead":
        return fig.us_per_call
    if metric == "throughput":
        return fig.exec_per_s if size == 200 else None  # results.md ran 200 concurrent only
    if metric == "fanout":
        return None if size is None else fig.fanout_s.get(size)
    if metric == "import":
        return fig.import_s
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerFigure:
    """One peer's figure for one metric, with its basis.

    Same run (``processes`` > 0): the median of the peer's processes in this run. Otherwise rescaled:
    ``reference / reference_floor × floor``, i.e. the peer's ratio to the floor as results.md measured
    both, applied to this run's floor; None when a factor is missing (never the bare results.md figure).
    """

    peer: str
    metric: str
    value: float | None
    processes: int
    floor: float | None
    """This run's floor, same metric and size."""
    reference: float | None
    """results.md's figure for the peer."""
    reference_floor: float | None
    """results.md's floor (its plain-asyncio row), same metric."""
    failed_here: int = 0
    """Processes of this peer in this run that failed."""

    @property
    def same_run(self) -> bool:
        return self.processes > 0

    @property
    def basis(self) -> str:
        if self.same_run:
            return "same run"
        return "results.md rescaled by floor" if self.value is not None else "none"

    def describe(self, compare: str = "") -> str:
        """``langgraph 181 µs, same run (n=3, 42.1× floor; ours 3.5× below)``, or with the basis
        ``results.md rescaled by floor (624/18 × 4.3; ...)``; "" when there is nothing to show."""
        unit = PEER_FIELDS[self.metric][1]
        failed = f"{self.failed_here} process(es) in this run failed" if self.failed_here else ""
        if self.value is None:
            if self.reference is None:
                return f"{self.peer}: no figure ({failed})" if failed else ""
            why = "no matching floor in this run" if self.floor is None else "results.md has no floor figure"
            details = [f"results.md's {_g(self.reference)}{unit} not rescaled: {why}", failed]
            return f"{self.peer}: no figure ({', '.join(d for d in details if d)})"
        if self.same_run:
            versus = _ratio(self.value, self.floor)
            details = [f"n={self.processes}", "" if versus is None else f"{_g(versus)}× floor", failed]
        else:
            details = [f"{_g(self.reference)}/{_g(self.reference_floor)} × {_g(self.floor)}", failed]
        text = "; ".join(part for part in (", ".join(d for d in details if d), compare) if part)
        return f"{self.peer} {_g(self.value)}{unit}, {self.basis} ({text})"


def peer_figure(
    runs: Runs, refs: Mapping[str, PeerFigures], peer: str, metric: str, size: int | None = None
) -> PeerFigure:
    """``peer``'s figure for ``metric``: measured in this run if it was, else results.md's rescaled."""
    field = PEER_FIELDS[metric][0]
    here = runs.values(peer, metric, field, size)
    floor = runs.med(FLOOR, metric, field, size)
    reference = reference_value(refs.get(peer), metric, size)
    reference_floor = reference_value(refs.get(REFERENCE_FLOOR), metric, size)
    if here:
        value: float | None = statistics.median(here)
    elif reference is None or floor is None:
        value = None
    else:
        value = _ratio(reference * floor, reference_floor)
    return PeerFigure(
        peer=peer,
        metric=metric,
        value=value,
        processes=len(here),
        floor=floor,
        reference=reference,
        reference_floor=reference_floor,
        failed_here=runs.count(peer, metric, size)[1],
    )


def ideal_rate(runs: Runs, n: int) -> float | None:
    """The most executions/s that n concurrent executions can reach: n / 12·L, with 12·L the harness's
    ``ideal_wall_s`` (every execution waits its critical path of 12 sleeps however fast the engine)."""
    walls = [
        w
        for peer in (*PEERS, *runs.others("throughput", n))
        for w in runs.values(peer, "throughput", "ideal_wall_s", n)
    ]
    # 12·L is the same in every row of a run; the smallest gives the most generous bound
    return None if not walls or min(walls) <= 0 else n / min(walls)


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetCheck:
    target: str
    quorum: str
    floor: str
    versus_floor: str
    peers: str
    passed: bool | None
    """None = no data (counted as a miss)."""
    unreachable: str = ""
    """Why no engine could meet this target in this run (it is still counted as missed), or ""."""

    @property
    def verdict(self) -> str:
        text = {True: "pass", False: "**MISS**", None: "**NO DATA**"}[self.passed]
        return text if not self.unreachable or self.passed else f"{text} (unreachable: {self.unreachable})"


def _per_call_us(runs: Runs, peer: str, n: int) -> float | None:
    """Fan-out cost per agent call beyond the sleep: (wall - L) / N, in µs."""
    wall = runs.med(peer, "fanout", "wall_s", n)
    lat = runs.med(peer, "fanout", "L", n)
    return None if wall is None or lat is None else (wall - lat) / n * 1e6


def check_targets(runs: Runs, peers: Mapping[str, PeerFigures]) -> list[TargetCheck]:
    """Issue 7's targets. ``peers`` = results.md's figures: only the fallback basis for a peer that was
    not measured in this run, rescaled by the floor (see ``peer_figure``)."""
    checks: list[TargetCheck] = []

    def peer(name: str, metric: str, size: int | None = None) -> PeerFigure:
        return peer_figure(runs, peers, name, metric, size)

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
        unreachable: str = "",
    ) -> None:
        checks.append(
            TargetCheck(
                target=target,
                quorum=q_text or _g(q),
                floor=f_text or _g(f),
                versus_floor="–" if vs is None else f"{vs:.2f}×",
                peers=peers_text,
                passed=ok,
                unreachable=unreachable,
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
        peer(LANGGRAPH, "latency").describe(),
        le(q, 1.02),
        q_text=runs.spread(QUORUM, "latency", "ratio_warm"),
    )
    # b. overhead
    for ours, bound, floor_x, refs in (
        (QUORUM, 60.0, 3.5, ((LANGGRAPH, 10.0),)),
        (QUORUM_SQLITE, 150.0, None, ((LANGGRAPH_SQLITE, 15.0), (DBOS, 40.0))),
    ):
        q = runs.med(ours, "overhead", "us_per_call_steady")
        f = runs.med(FLOOR, "overhead", "us_per_call_steady")
        spread = runs.spread(ours, "overhead", "us_per_call_steady")
        label = "in-memory" if ours == QUORUM else "SQLite history"
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
        for name, factor in refs:
            ref = peer(name, "overhead")
            below = _ratio(ref.value, q)
            add(
                f"b. overhead {label} ≥ {factor:g}× below {name}",
                q,
                f,
                _ratio(q, f),
                ref.describe("" if below is None else f"ours {below:.1f}× below"),
                ge(below, factor),
                q_text=spread,
            )
    # c. throughput at 200
    for ours, floor_x, name, factor in (
        (QUORUM, 0.5, LANGGRAPH, 4.0),
        (QUORUM_SQLITE, 0.3, LANGGRAPH_SQLITE, 9.0),
    ):
        q = runs.med(ours, "throughput", "exec_per_s", 200)
        f = runs.med(FLOOR, "throughput", "exec_per_s", 200)
        spread = runs.spread(ours, "throughput", "exec_per_s", 200)
        label = "in-memory" if ours == QUORUM else "SQLite history"
        add(
            f"c. 200 concurrent, executions/s, {label} ≥ {floor_x:g}× floor",
            q,
            f,
            _ratio(q, f),
            "",
            ge(_ratio(q, f), floor_x),
            q_text=spread,
        )
        ref = peer(name, "throughput", 200)
        times = _ratio(q, ref.value)
        add(
            f"c. 200 concurrent, {label} ≥ {factor:g}× {name}",
            q,
            f,
            _ratio(q, f),
            ref.describe("" if times is None else f"ours {times:.1f}×"),
            ge(times, factor),
            q_text=spread,
            unreachable=_beyond_ideal(factor, ref.value, ideal_rate(runs, 200)),
        )
    # c. 2,000 concurrent: all complete, peak RSS
    for ours in (QUORUM, QUORUM_SQLITE):
        done = runs.values(ours, "throughput", "completed", 2000)
        rss = runs.med(ours, "throughput", "peak_rss_mb", 2000)
        f = runs.med(FLOOR, "throughput", "peak_rss_mb", 2000)
        all_done = bool(done) and all(d == 2000 for d in done)
        ok = None if rss is None else (all_done and rss <= 150.0)
        label = "in-memory" if ours == QUORUM else "SQLite history"
        add(
            f"c. 2,000 concurrent complete, {label}, peak RSS MB ≤ 150",
            rss,
            f,
            _ratio(rss, f),
            f"completed {', '.join(f'{d:.0f}' for d in done) or '–'} of 2,000",
            ok,
            q_text=runs.spread(ours, "throughput", "peak_rss_mb", 2000, nd=4),
        )
    # d. fan-out
    for n, bound in ((1000, 2.0), (10000, 3.0)):
        q, f = runs.med(QUORUM, "fanout", "wall_s", n), runs.med(FLOOR, "fanout", "wall_s", n)
        add(
            f"d. fan-out N={n:,} wall ≤ {bound:g}× floor",
            q,
            f,
            _ratio(q, f),
            peer(LANGGRAPH, "fanout", n).describe(),
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
        peer(LANGGRAPH, "import").describe(),
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


def _beyond_ideal(factor: float, peer_rate: float | None, ideal: float | None) -> str:
    """Why "≥ factor × the peer's executions/s" is out of reach, or "": above n / 12·L no engine gets."""
    if peer_rate is None or ideal is None or factor * peer_rate <= ideal:
        return ""
    return f"{factor:g} × {_g(peer_rate)}/s = {_g(factor * peer_rate)}/s > ideal {_g(ideal)}/s"
