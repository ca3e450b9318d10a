"""The peers' last measured figures, read from the shared ``results.md`` (never typed in by hand).

Only a fallback, and never compared as they stand: they were measured in another run, on a machine
state that need not be today's. ``benchmarks/run.py`` measures the peers whose virtualenvs are set up
in the same run; for the others, ``_report.py`` rescales these figures by the floor (a peer's ratio to
results.md's own plain-asyncio row, times the floor of the run), which is why that row is read too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ("REFERENCE_FLOOR", "REFERENCE_PEERS", "PeerFigures", "read_peer_results")

REFERENCE_FLOOR = "plain-asyncio"
REFERENCE_PEERS = ("langgraph", "langgraph-sqlite", "dbos", "prefect")

_NUM = r"[0-9][0-9,]*(?:\.[0-9]+)?"


def _num(text: str) -> float | None:
    m = re.search(_NUM, text)
    return None if m is None else float(m.group(0).replace(",", ""))


def _paren(text: str) -> float | None:
    m = re.search(r"\(\s*(" + _NUM + r")", text)
    return None if m is None else float(m.group(1).replace(",", ""))


@dataclass(slots=True, kw_only=True)
class PeerFigures:
    """One peer's row of results.md (None where the table has no number)."""

    name: str
    latency_ratio_warm: float | None = None
    us_per_call: float | None = None
    exec_per_s: float | None = None
    peak_rss_mb: float | None = None
    fanout_s: dict[int, float] = field(default_factory=dict)
    import_s: float | None = None


def _tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every Markdown table as (header cells, body rows)."""
    tables: list[tuple[list[str], list[list[str]]]] = []
    block: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append([c.strip() for c in line.strip().strip("|").split("|")])
            continue
        if len(block) >= 2:
            tables.append((block[0], [r for r in block[2:] if r]))
        block = []
    return tables


def _col(header: list[str], *needles: str) -> int | None:
    for i, cell in enumerate(header):
        if all(n in cell for n in needles):
            return i
    return None


def read_peer_results(path: Path) -> tuple[dict[str, PeerFigures], str]:
    """The reference peers' figures, results.md's floor (``plain-asyncio``) among them, and the
    ``Machine:`` line of the file ({} and "" if unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}, ""
    machine = next((ln for ln in text.splitlines() if ln.startswith("Machine:")), "")
    peers: dict[str, PeerFigures] = {}
    for header, rows in _tables(text):
        lat = _col(header, "latency warm")
        steady = _col(header, "L=0 steady")
        eps = _col(header, "executions/s")
        rss = _col(header, "peak RSS")
        imp = _col(header, "`import` s")
        fan = {n: _col(header, f"N={n} ") for n in (10, 100, 1000)}
        for row in rows:
            name = row[0]
            if name != REFERENCE_FLOOR and name not in REFERENCE_PEERS:
                continue
            fig = peers.setdefault(name, PeerFigures(name=name))
            if lat is not None:
                fig.latency_ratio_warm = _paren(row[lat])
            if steady is not None:
                fig.us_per_call = _paren(row[steady])
            if eps is not None:
                fig.exec_per_s = _num(row[eps])
            if rss is not None:
                fig.peak_rss_mb = _num(row[rss])
            if imp is not None:
                fig.import_s = _num(row[imp])
            for n, i in fan.items():
                if i is not None and (v := _num(row[i])) is not None:
                    fig.fanout_s[n] = v
    return peers, machine
