"""The Markdown report of one run: the targets first, then one table per metric."""

from __future__ import annotations

from collections.abc import Mapping

from _peers_ref import REFERENCE_FLOOR, REFERENCE_PEERS, PeerFigures
from _report import (
    FLOOR,
    PEERS,
    QUORUM,
    QUORUM_SQLITE,
    TARGET_PEERS,
    Runs,
    _g,
    _per_call_us,
    _ratio,
    check_targets,
)

__all__ = ("render",)


def _x(a: float | None, b: float | None) -> str:
    r = _ratio(a, b)
    return "–" if r is None else f"{r:.2f}×"


# the metrics a peer can be measured on, as the report names them
_METRIC_NAMES = {
    "import": "import",
    "latency": "latency",
    "overhead": "overhead",
    "throughput": "throughput",
    "fanout": "fan-out",
}


def _processes(runs: Runs, peer: str) -> str:
    """``import 1, latency 5, overhead 3 (+1 failed), fan-out 3 per size``: the processes of one peer."""
    parts = []
    for metric, name in _METRIC_NAMES.items():
        unsized: list[int | None] = [None]
        counts = [runs.count(peer, metric, n) for n in (runs.sizes(metric) or unsized)]
        ok = [good for good, bad in counts if good or bad]
        failed = sum(bad for _, bad in counts)
        if not ok:
            continue
        text = f"{name} {ok[0]}" if len(set(ok)) == 1 else f"{name} {'+'.join(map(str, ok))}"
        text += " per size" if len(ok) > 1 and len(set(ok)) == 1 else ""
        parts.append(text + (f" (+{failed} failed)" if failed else ""))
    return ", ".join(parts)


def peer_sources(runs: Runs) -> str:
    """The line above the targets: where the peers' figures come from in this run."""
    measured = runs.others()
    rescaled = [p for p in TARGET_PEERS if p not in measured]
    sentences = []
    if measured:
        each = "; ".join(f"{p} — {_processes(runs, p)}" for p in measured)
        sentences.append(
            f"Peers measured in this run, interleaved with the floor and quorum (processes): {each}."
        )
    if rescaled:
        sentences.append(
            f"Not run, so results.md's figures rescaled by the floor (the peer's figure ÷ results.md's "
            f"floor × this run's floor): {', '.join(rescaled)}."
        )
    sentences.append("Each cell of the peers column names its basis.")
    return " ".join(sentences)


def _others_with(runs: Runs, *metrics: str) -> list[str]:
    """The measured peers with rows of any of ``metrics`` (at any size), in report order."""
    measured = {peer for peer, metric, _ in (*runs.ok, *runs.failed) if metric in metrics}
    return [p for p in runs.others() if p in measured]


def _targets(runs: Runs, peers: Mapping[str, PeerFigures], *, judged: bool) -> list[str]:
    checks = check_targets(runs, peers)
    missed = [c for c in checks if c.passed is not True]
    unreachable = [c for c in missed if c.unreachable]
    if judged:
        summary = f"{len(checks) - len(missed)} of {len(checks)} met" + (
            "." if not missed else f"; {len(missed)} missed (marked below)."
        )
        if unreachable:
            summary += f" {len(unreachable)} of the misses cannot be met in this run (see its result)."
    else:
        summary = "Short mode: tiny sizes, so the targets are not judged (the result column says n/a)."
    out = [
        "### Targets of issue 7",
        "",
        summary,
        "",
        peer_sources(runs),
        "",
        "| target | quorum: median [min–max] n | floor, same run | quorum ÷ floor "
        "| peers (basis in each cell) | result |",
        "|---|---|---|---|---|---|",
    ]
    out += [
        f"| {c.target} | {c.quorum} | {c.floor} | {c.versus_floor} | {c.peers or '–'} "
        f"| {c.verdict if judged else 'n/a'} |"
        for c in checks
    ]
    return out


def _latency(runs: Runs) -> list[str]:
    out = [
        "### a–b. Latency (L = 50 ms, bound 12·L = 0.6 s) and overhead per agent call (L = 0)",
        "",
        "| peer | latency first s (×bound) | latency warm s [min–max] n | warm ×bound | warm ×floor "
        "| L=0 first µs/call | L=0 steady µs/call [min–max] n | steady ×floor | back-to-back done "
        "| setup s (fresh state) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    f_warm = runs.med(FLOOR, "latency", "warm_s")
    f_us = runs.med(FLOOR, "overhead", "us_per_call_steady")
    for p in (*PEERS, *_others_with(runs, "latency", "overhead")):
        warm = runs.med(p, "latency", "warm_s")
        us = runs.med(p, "overhead", "us_per_call_steady")
        done = runs.values(p, "overhead", "batch_done")
        out.append(
            f"| {p} | {_g(runs.med(p, 'latency', 'first_s'))} "
            f"({_g(runs.med(p, 'latency', 'ratio_first'), 4)}×) "
            f"| {runs.spread(p, 'latency', 'warm_s', nd=4)} | {_g(runs.med(p, 'latency', 'ratio_warm'), 4)}× "
            f"| {'–' if p == FLOOR else _x(warm, f_warm)} "
            f"| {_g(runs.med(p, 'overhead', 'us_per_call_first'))} "
            f"| {runs.spread(p, 'overhead', 'us_per_call_steady')} | {'–' if p == FLOOR else _x(us, f_us)} "
            f"| {', '.join(f'{d:.0f}' for d in done) or '–'} | {_g(runs.med(p, 'setup', 'setup_s'))} |"
        )
    return out


def _throughput(runs: Runs) -> list[str]:
    out = [
        "### c. Throughput (n concurrent committees, L = 20 ms, ideal 0.24 s)",
        "",
        "| peer | n | wall s [min–max] k | executions/s [min–max] k | ×floor | completed "
        "| peak RSS MB [min–max] k | RSS ×floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in runs.sizes("throughput"):
        f_eps = runs.med(FLOOR, "throughput", "exec_per_s", n)
        f_rss = runs.med(FLOOR, "throughput", "peak_rss_mb", n)
        for p in (*PEERS, *runs.others("throughput", n)):
            done = runs.values(p, "throughput", "completed", n)
            out.append(
                f"| {p} | {n:,} | {runs.spread(p, 'throughput', 'wall_s', n)} "
                f"| {runs.spread(p, 'throughput', 'exec_per_s', n, nd=4)} "
                f"| {'–' if p == FLOOR else _x(runs.med(p, 'throughput', 'exec_per_s', n), f_eps)} "
                f"| {', '.join(f'{d:.0f}' for d in done) or '–'} "
                f"| {runs.spread(p, 'throughput', 'peak_rss_mb', n, nd=4)} "
                f"| {'–' if p == FLOOR else _x(runs.med(p, 'throughput', 'peak_rss_mb', n), f_rss)} |"
            )
    return out


def _fanout(runs: Runs) -> list[str]:
    out = [
        "### d. Fan-out (one phase of N parallel agent calls, L = 10 ms)",
        "",
        "Per-call cost = (wall − L) / N: the work per branch beyond the sleep. Linear growth keeps it flat "
        "as N grows; a quadratic step would multiply it by ~10 per decade.",
        "",
        "| peer | N | wall s [min–max] k | ×floor | per-call µs | per-call ×previous N |",
        "|---|---|---|---|---|---|",
    ]
    for p in (*PEERS, *_others_with(runs, "fanout")):
        prev: float | None = None
        for n in runs.sizes("fanout"):
            if p not in PEERS and p not in runs.others("fanout", n):
                continue  # the peers ran the widths results.md has, not quorum's largest
            f_wall = runs.med(FLOOR, "fanout", "wall_s", n)
            per = _per_call_us(runs, p, n)
            out.append(
                f"| {p} | {n:,} | {runs.spread(p, 'fanout', 'wall_s', n, nd=4)} "
                f"| {'–' if p == FLOOR else _x(runs.med(p, 'fanout', 'wall_s', n), f_wall)} "
                f"| {_g(per)} | {_x(per, prev)} |"
            )
            prev = per
    return out


def _parse_startup_memory(runs: Runs) -> list[str]:
    out = [
        "### e. Parse (quorum; cold = first load of the file in a process, parser modules imported; "
        "reparse = a fresh loader; cached = the same loader again)",
        "",
        "| task | phases | bytes | cold ms [min–max] k | reparse ms | cached µs |",
        "|---|---|---|---|---|---|",
    ]
    rows = runs.ok.get((QUORUM, "parse", None), [])
    names = sorted({name for r in rows for name in r.get("tasks", {})})
    for name in names:
        first = next(r["tasks"][name] for r in rows if name in r.get("tasks", {}))
        key = f"tasks.{name}"
        out.append(
            f"| {name} | {first['phases']} | {first['bytes']:,} "
            f"| {runs.spread(QUORUM, 'parse', key + '.cold_s', scale=1e3)} "
            f"| {_g((runs.med(QUORUM, 'parse', key + '.reparse_s') or 0) * 1e3)} "
            f"| {_g((runs.med(QUORUM, 'parse', key + '.cached_s') or 0) * 1e6)} |"
        )
    if rows:
        gen = rows[0].get("generated", {})
        out.append(
            f"| generated | {gen.get('phases', '?')} | {gen.get('bytes', 0):,} "
            f"| {runs.spread(QUORUM, 'parse', 'generated.cold_s', scale=1e3)} "
            f"| {_g((runs.med(QUORUM, 'parse', 'generated.reparse_s') or 0) * 1e3)} | – |"
        )
    help_cmd = next((r.get("help_cmd") for r in runs.ok.get((QUORUM, "startup", None), [])), "quorum --help")
    out += [
        "",
        "### f. Start-up (wall of a fresh process, median of samples after a warm-up)",
        "",
        "| `python -c pass` s | `import quorum` s | `from quorum.engine.executor import TaskExecutor` s "
        f"| `{help_cmd}` s | floor: `import asyncio` s |",
        "|---|---|---|---|---|",
        f"| {_g(runs.med(QUORUM, 'startup', 'python_s'))} "
        f"| {runs.spread(QUORUM, 'startup', 'import_quorum_s')} "
        f"| {runs.spread(QUORUM, 'startup', 'import_executor_s')} "
        f"| {runs.spread(QUORUM, 'startup', 'help_s')} "
        f"| {runs.spread(FLOOR, 'import', 'import_s')} |",
        *_peer_imports(runs),
        "",
        "### Memory (bytes per execution; heap by tracemalloc, RSS coarse, disk = SQLite file growth)",
        "",
        "| history | completed, held in history: heap / RSS / disk | idle paused: heap / RSS | executions |",
        "|---|---|---|---|",
    ]
    for p in (QUORUM, QUORUM_SQLITE):
        disk = runs.med(p, "memory", "completed.disk_bytes_per_exec")
        out.append(
            f"| {'in memory' if p == QUORUM else 'SQLite'} "
            f"| {_g(runs.med(p, 'memory', 'completed.heap_bytes_per_exec'))} / "
            f"{_g(runs.med(p, 'memory', 'completed.rss_bytes_per_exec'))} / {_g(disk)} "
            f"| {_g(runs.med(p, 'memory', 'paused.heap_bytes_per_exec'))} / "
            f"{_g(runs.med(p, 'memory', 'paused.rss_bytes_per_exec'))} "
            f"| {_g(runs.med(p, 'memory', 'completed.executions'))} |"
        )
    return out


def _peer_imports(runs: Runs) -> list[str]:
    """The peers' `import` in this run, beside the floor's (nothing when no peer ran it)."""
    others = runs.others("import")
    if not others:
        return []
    f = runs.med(FLOOR, "import", "import_s")
    out = ["", "| peer, same run | statement | `import` s [min–max] n | ×floor |", "|---|---|---|---|"]
    for p in others:
        stmt = next((r.get("import_stmt") for r in runs.ok.get((p, "import", None), [])), None)
        out.append(
            f"| {p} | {'–' if stmt is None else f'`{stmt}`'} | {runs.spread(p, 'import', 'import_s')} "
            f"| {_x(runs.med(p, 'import', 'import_s'), f)} |"
        )
    return out


def _reference(peers: Mapping[str, PeerFigures], machine: str) -> list[str]:
    out = [
        "### results.md as it stands (`../shared/bench/results.md`: another run, another machine state)",
        "",
        "Raw figures, not a comparison basis: the targets use the peers measured in this run, or these "
        "rescaled by the floor (a peer's figure ÷ the plain-asyncio row here × this run's floor).",
        "",
        machine,
        "",
        "| peer | latency warm ×bound | µs/agent call | executions/s (200) | peak RSS MB "
        "| fan-out 10 / 100 / 1,000 s "
        "| import s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in (REFERENCE_FLOOR, *REFERENCE_PEERS):
        f = peers.get(name)
        if f is None:
            continue
        fan = " / ".join(_g(f.fanout_s.get(n)) for n in (10, 100, 1000))
        out.append(
            f"| {name} | {_g(f.latency_ratio_warm, 4)} | {_g(f.us_per_call)} | {_g(f.exec_per_s)} "
            f"| {_g(f.peak_rss_mb)} | {fan} | {_g(f.import_s)} |"
        )
    return out


def render(runs: Runs, peers: Mapping[str, PeerFigures], machine_ref: str, *, judged: bool = True) -> str:
    parts = [
        _targets(runs, peers, judged=judged),
        _latency(runs),
        _throughput(runs),
        _fanout(runs),
        _parse_startup_memory(runs),
        _reference(peers, machine_ref),
    ]
    failures = runs.failures()
    if failures:
        parts.append(["### Failed processes", "", *(f"- {f}" for f in failures)])
    return "\n\n".join("\n".join(p) for p in parts) + "\n"
