#!/usr/bin/env python3
"""quorum's benchmark suite: one command, one table.

    python benchmarks/run.py            # full mode (by hand; 5–10 minutes on 2 cores, ~2 more with peers)
    python benchmarks/run.py --quick    # full sizes, one process per measurement
    python benchmarks/run.py --short    # tiny sizes, for CI: checks that everything runs and validates
    python benchmarks/run.py --out benchmarks/RESULTS.md    # also write the report there
    python benchmarks/run.py --peers langgraph,dbos         # only these peers (default: every set-up one)
    python benchmarks/run.py --no-peers                     # no peer processes: results.md, rescaled

Runs, each measurement in its own fresh process and interleaved within each round so that machine
noise falls evenly on all of them:

- the floor: the shared ``peer_plain.py`` (hand-written asyncio), with this interpreter;
- quorum with the in-memory history (``peer_quorum.py``) and with the SQLite history
  (``peer_quorum_sqlite.py``), measured by the shared driver ``common.main``;
- quorum's own metrics (``quorum_metrics.py``): parse, start-up, memory;
- the peers (the shared ``peer_langgraph.py``, ``peer_langgraph_sqlite.py``, ``peer_dbos.py``), each with
  the interpreter of its own virtualenv (``_peers_venv.py``), on the metrics that issue 7's targets
  compare against, in the same rounds and with as many processes as the floor. By default every peer
  whose virtualenv is set up is run, except in ``--short`` mode (CI has none), where only ``--peers``
  asks for them; ``prefect`` only when named. A peer figure not measured in the run is the shared
  ``results.md``'s, rescaled by the floor; the report says which basis each figure has.

Every committee result is checked by ``common.validate_committee`` (fan-out by ``validate_fanout``) in
the process that produced it; a process whose results do not validate reports ``ok: false``. The raw
JSON lines go to ``benchmarks/out/raw-<stamp>.jsonl``. Exit status: 0 when every process succeeded
(targets missed or not: the table says so), 1 otherwise (a peer's process included); with ``--strict``
also 1 on a missed target (one marked unreachable included: it is a miss all the same).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import BENCH_DIR, REPO_ROOT, SharedBenchMissing, peers_dir
from _peers_ref import read_peer_results
from _peers_venv import DEFAULT_PEERS, ExternalPeer, PeerUnavailable, find_peer, parse_peer_names
from _report import FLOOR, QUORUM, QUORUM_SQLITE, Runs, check_targets
from _tables import render


@dataclass(frozen=True, slots=True, kw_only=True)
class Mode:
    name: str
    lat_procs: int = 5
    reps: int = 3
    latency: tuple[float, int] = (0.05, 5)  # L, warm repeats
    overhead_n: int = 200
    throughput: tuple[float, tuple[int, ...]] = (0.02, (200, 2000))
    fanout: tuple[float, tuple[int, ...], int] = (0.01, (10, 100, 1000, 10000), 3)  # L, Ns, repeats
    parse: tuple[int, int] = (20, 200)  # samples, phases of the generated task
    startup_repeat: int = 5
    memory_n: int = 200
    budget: float = 75.0
    hard_timeout: float = 170.0


MODES = {
    "full": Mode(name="full"),
    "quick": Mode(name="quick", lat_procs=1, reps=1),
    "short": Mode(
        name="short",
        lat_procs=1,
        reps=1,
        latency=(0.002, 1),
        overhead_n=5,
        throughput=(0.002, (10,)),
        fanout=(0.001, (10,), 1),
        parse=(2, 20),
        startup_repeat=1,
        memory_n=3,
        budget=20.0,
        hard_timeout=60.0,
    ),
}


def scripts() -> dict[str, Path]:
    return {
        FLOOR: peers_dir() / "peer_plain.py",
        QUORUM: BENCH_DIR / "peer_quorum.py",
        QUORUM_SQLITE: BENCH_DIR / "peer_quorum_sqlite.py",
    }


def plan(mode: Mode, others: Sequence[ExternalPeer] = ()) -> Iterator[tuple[str, str, list[str]]]:
    """(peer, metric, extra args) in run order; peers interleaved inside each round.

    ``others`` (the frameworks compared against) join the rounds of the metrics they are measured on,
    so they get as many processes as the floor and the same machine noise.
    """
    ours = (FLOOR, QUORUM, QUORUM_SQLITE)

    def members(metric: str, size: int | None = None, core: tuple[str, ...] = ours) -> list[str]:
        return [*core, *(o.label for o in others if o.measures(metric, size))]

    imports = ["--repeat", str(mode.startup_repeat)]
    yield from ((p, "import", imports) for p in members("import", core=(FLOOR, QUORUM)))
    yield from ((p, "setup", []) for p in ours)
    lat, warm = mode.latency
    for _ in range(mode.lat_procs):
        yield from ((p, "latency", ["--L", str(lat), "--repeat", str(warm)]) for p in members("latency"))
    for _ in range(mode.reps):
        yield from ((p, "overhead", ["--L", "0", "--n", str(mode.overhead_n)]) for p in members("overhead"))
    lat, sizes = mode.throughput
    for n in sizes:
        for _ in range(mode.reps):
            yield from ((p, "throughput", ["--L", str(lat), "--n", str(n)]) for p in members("throughput", n))
    lat, widths, repeat = mode.fanout
    for n in widths:
        for _ in range(mode.reps):
            yield from (
                (p, "fanout", ["--N", str(n), "--L", str(lat), "--repeat", str(repeat)])
                for p in members("fanout", n)
            )
    samples, phases = mode.parse
    for _ in range(mode.reps):
        yield (QUORUM, "parse", ["--repeat", str(samples), "--N", str(phases)])
    yield (QUORUM, "startup", ["--repeat", str(mode.startup_repeat)])
    yield (QUORUM, "memory", ["--n", str(mode.memory_n), "--history", "memory"])
    yield (QUORUM_SQLITE, "memory", ["--n", str(mode.memory_n), "--history", "sqlite"])


OWN_METRICS = frozenset({"parse", "startup", "memory"})


def select_peers(requested: list[str] | None, *, mode: Mode) -> list[ExternalPeer]:
    """The peers to run: those named (``[]`` = the default set), or by default the default set outside
    ``--short``. A peer that cannot run is reported on stderr and left out (its figures fall back to
    results.md's, rescaled by the floor)."""
    if requested is None and mode.name == "short":
        return []
    names = parse_peer_names(requested or ()) or list(DEFAULT_PEERS)
    try:
        folder = peers_dir()
    except SharedBenchMissing as exc:  # the floor cannot run either: run_one reports that per process
        print(f"peers not run: {exc}", file=sys.stderr)
        return []
    chosen: list[ExternalPeer] = []
    for name in names:
        try:
            chosen.append(find_peer(name, folder))
        except PeerUnavailable as exc:
            print(f"peer left out: {exc}; its figures: results.md's, rescaled by the floor", file=sys.stderr)
    return chosen


def command_for(
    peer: str, metric: str, others: Mapping[str, ExternalPeer], state: Path
) -> tuple[list[str], Path]:
    """The interpreter and script that measure ``peer`` on ``metric``, and the working folder."""
    if metric in OWN_METRICS:
        return [sys.executable, str(BENCH_DIR / "quorum_metrics.py")], REPO_ROOT
    other = others.get(peer)
    if other is None:
        return [sys.executable, str(scripts()[peer])], REPO_ROOT
    # a framework that writes files beside itself writes them into the run's state, not the repository
    return [str(other.python), str(other.script)], state


def run_one(
    peer: str,
    metric: str,
    extra: list[str],
    *,
    mode: Mode,
    state: Path,
    logs: Path,
    others: Mapping[str, ExternalPeer] | None = None,
) -> dict[str, Any]:
    base, cwd = command_for(peer, metric, others or {}, state)
    cmd = [*base, "--metric", metric, *extra]
    if metric != "import":
        cmd += ["--state-dir", str(state / f"{peer}-{metric}" if metric == "memory" else state / peer)]
    if metric not in OWN_METRICS and metric != "import":
        cmd += ["--budget", str(mode.budget)]
    tag = f"{peer}.{metric}.{'_'.join(a.lstrip('-') for a in extra)}"
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=mode.hard_timeout, check=False
        )
        stdout, stderr, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = f"killed after the {mode.hard_timeout:g}s hard timeout"
        rc = -9
    (logs / f"{tag}.err").write_text(stderr)
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith("{")), None)
    if line is None:
        last = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), "")
        row: dict[str, Any] = {
            "peer": peer,
            "metric": metric,
            "ok": False,
            "error": f"no result line (exit {rc}): {last[:300]}",
        }
        for key, value in itertools.pairwise(extra):
            if key in ("--N", "--n"):
                row[key[2:]] = int(value)
        return row
    row = json.loads(line)
    row.setdefault("peer", peer)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="quorum benchmark suite (see the module docstring)")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="one process per measurement")
    group.add_argument("--short", action="store_true", help="tiny sizes for CI; no timing conclusions")
    ap.add_argument("--out", type=Path, help="write the Markdown report here")
    ap.add_argument("--raw", type=Path, help="JSON lines file (default benchmarks/out/raw-<stamp>.jsonl)")
    ap.add_argument(
        "--logs", type=Path, help="stderr of every process (default benchmarks/out/logs-<stamp>/)"
    )
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    peers_group = ap.add_mutually_exclusive_group()
    peers_group.add_argument(
        "--peers",
        nargs="*",
        metavar="NAME",
        help=f"measure these peers in the same run (names of peer_<name>.py, space or comma separated; "
        f"none = {', '.join(DEFAULT_PEERS)}, those whose virtualenv is set up). The default outside "
        "--short; in --short mode peers run only when asked for",
    )
    peers_group.add_argument(
        "--no-peers", action="store_true", help="run no peer: their figures are results.md's, rescaled"
    )
    args = ap.parse_args(argv)
    mode = MODES["short" if args.short else "quick" if args.quick else "full"]
    try:
        others = {} if args.no_peers else {o.label: o for o in select_peers(args.peers, mode=mode)}
    except ValueError as exc:
        ap.error(str(exc))

    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = args.raw or BENCH_DIR / "out" / f"raw-{stamp}.jsonl"
    raw.parent.mkdir(parents=True, exist_ok=True)
    logs = args.logs or BENCH_DIR / "out" / f"logs-{stamp}"
    logs.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix="quorum-bench-state-"))
    started = time.time()
    rows: list[dict[str, Any]] = []
    print(f"mode {mode.name}; peers: {', '.join(others) or 'none'}; raw results: {raw}", file=sys.stderr)
    try:
        with raw.open("w") as sink:
            for peer, metric, extra in plan(mode, list(others.values())):
                t0 = time.perf_counter()
                row = run_one(peer, metric, extra, mode=mode, state=state, logs=logs, others=others)
                rows.append(row)
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                status = "ok" if row.get("ok") else f"FAILED: {row.get('error', '')[:160]}"
                took = time.perf_counter() - t0
                print(
                    f"{peer:<16} {metric:<10} {' '.join(extra):<34} {took:6.1f}s  {status}",
                    file=sys.stderr,
                )
    finally:
        shutil.rmtree(state, ignore_errors=True)

    runs = Runs(rows)
    ref_path = peers_dir().parent / "results.md"
    peers, machine_ref = read_peer_results(ref_path)
    shared = load_report_module()
    machine = shared.machine_info() if shared else platform.platform()
    given = sys.argv[1:] if argv is None else argv
    command = " ".join([sys.executable, "benchmarks/run.py", *given])
    header = (
        f"# quorum benchmarks ({mode.name} mode)\n\n"
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))} "
        f"({(time.time() - started) / 60:.1f} min). Machine: {machine}.\n"
        f"Command: `{command}`. Raw data: `{os.path.relpath(raw, REPO_ROOT)}`.\n\n"
    )
    body = header + render(runs, peers, machine_ref, judged=mode.name != "short")
    print(body)
    if args.out:
        args.out.write_text(body)
        print(f"wrote {args.out}", file=sys.stderr)
    failed = [r for r in rows if not r.get("ok")]
    missed = [c for c in check_targets(runs, peers) if c.passed is not True]
    if failed:
        return 1
    return 1 if args.strict and missed and mode.name != "short" else 0


def load_report_module() -> Any:
    """The shared ``report.py`` (for ``machine_info``), or None."""
    try:
        from _bench import load_shared

        return load_shared("report")
    except Exception:  # the report header is cosmetic: never fail a run for it
        return None


if __name__ == "__main__":
    sys.exit(main())
