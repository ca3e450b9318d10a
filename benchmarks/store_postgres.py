#!/usr/bin/env python3
"""The PostgreSQL history store on the shared committee workload, beside SQLite and the floor (issue 19).

    python benchmarks/store_postgres.py                      # 3 rounds, prints the table
    python benchmarks/store_postgres.py --rounds 5 --dbos /tmp/dbosvenv/bin/python

Each measurement is its own process, run by the shared driver ``common.main`` (as ``run.py`` does), and
the peers are interleaved inside each round so that they share the machine's noise:

- ``plain``: the floor, ``../shared/bench/peers/peer_plain.py`` (hand-written asyncio);
- ``quorum-memory``: ``peer_quorum.py`` (the in-memory history): the engine's own cost, the ceiling
  that no durable store can pass;
- ``quorum-sqlite``: ``peer_quorum_sqlite.py`` (SQLiteHistoryStore on a file);
- ``quorum-postgres``: this file as a peer (``--peer quorum-postgres``): the same task, agents and
  driver with :class:`~quorum.history.postgres.PostgresHistoryStore` in a fresh schema (dropped after);
- ``dbos-postgres`` (with ``--dbos PYTHON``, a virtualenv's interpreter with ``dbos`` installed): the
  shared ``peer_dbos.py`` with its system database on the same PostgreSQL (a fresh database).

Metrics (``../shared/bench/WORKLOAD.md``): *overhead* (L = 0, 200 executions back to back: µs per agent
call) and *throughput* (200 concurrent executions at L = 20 ms: executions/s). The table gives medians
over the rounds and the ratios to the floor and to SQLite. ``QUORUM_BENCH_PG`` moves the server
(default ``postgresql://root@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PG_URL = os.environ.get("QUORUM_BENCH_PG", "postgresql://root@127.0.0.1:5432/test")
METRICS = {"overhead": ["--L", "0", "--n", "200"], "throughput": ["--L", "0.02", "--n", "200"]}


# -- the peers (run in their own processes) -------------------------------------------------------------


def run_quorum_postgres_peer() -> None:
    sys.path.insert(0, str(HERE))
    from peer_quorum import QuorumPeer, run

    class QuorumPostgresPeer(QuorumPeer):  # type: ignore[misc]
        name = "quorum-postgres"
        notes = "history: PostgreSQL (PostgresHistoryStore, asyncpg pool, group commit)"
        schema = f"bench_{secrets.token_hex(5)}"

        def make_store(self, state_dir: str) -> Any:
            from quorum.history.postgres import PostgresHistoryStore

            return PostgresHistoryStore(f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={self.schema}")

        async def teardown(self) -> None:
            await super().teardown()
            import asyncpg  # type: ignore[import-untyped]

            conn = await asyncpg.connect(PG_URL)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            finally:
                await conn.close()

    run(QuorumPostgresPeer)


def run_dbos_postgres_peer() -> None:
    """The shared DBOS peer, its system database on PostgreSQL (runs in the DBOS virtualenv)."""
    import importlib.util
    import urllib.parse

    peers = Path(os.environ.get("QUORUM_BENCH_PEERS", HERE.parent.parent / "shared" / "bench" / "peers"))
    if not (peers / "peer_dbos.py").is_file():
        peers = Path("/work/shared/bench/peers")
    sys.path.insert(0, str(peers))
    spec = importlib.util.spec_from_file_location("peer_dbos", peers / "peer_dbos.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from dbos import DBOS

    database = f"bench_dbos_{secrets.token_hex(4)}"
    parts = urllib.parse.urlsplit(PG_URL)
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"/{database}", "", ""))

    class DBOSPostgresPeer(module.DBOSPeer):  # type: ignore[misc,name-defined]
        name = "dbos-postgres"
        notes = "DBOS system database on PostgreSQL (same server)"

        def setup(self, state_dir: str) -> None:
            DBOS(config={"name": "committee-bench", "system_database_url": url,
                         "log_level": os.environ.get("BENCH_DBOS_LOG_LEVEL", "WARNING")})
            DBOS.launch()  # creates the database and its tables

        def teardown(self) -> None:
            DBOS.destroy()
            subprocess.run(["psql", PG_URL, "-qc", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'],
                           check=False, capture_output=True)

        def extra_info(self) -> dict[str, Any]:
            return {"system_db": "postgresql"}

    module.C.main(DBOSPostgresPeer)


# -- the orchestrator -------------------------------------------------------------------------------------


def commands(dbos_python: str | None) -> dict[str, list[str]]:
    sys.path.insert(0, str(HERE))
    from _bench import peers_dir

    made = {
        "plain": [sys.executable, str(peers_dir() / "peer_plain.py")],
        "quorum-memory": [sys.executable, str(HERE / "peer_quorum.py")],
        "quorum-sqlite": [sys.executable, str(HERE / "peer_quorum_sqlite.py")],
        "quorum-postgres": [sys.executable, str(Path(__file__).resolve()), "--peer", "quorum-postgres"],
    }
    if dbos_python:
        made["dbos-postgres"] = [dbos_python, str(Path(__file__).resolve()), "--peer", "dbos-postgres"]
    return made


def measure(cmd: list[str], metric: str, state: Path) -> dict[str, Any]:
    full = [*cmd, "--metric", metric, *METRICS[metric], "--state-dir", str(state), "--budget", "120"]
    proc = subprocess.run(full, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "BENCH_HARD_EXIT": "1"})
    line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")), None)
    if line is None:
        return {"ok": False, "error": proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]}
    row: dict[str, Any] = json.loads(line)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", choices=["quorum-postgres", "dbos-postgres"], help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dbos", metavar="PYTHON", help="interpreter of a virtualenv with dbos installed")
    ap.add_argument("--json", metavar="FILE", help="also write every measurement (JSON lines) there")
    args, rest = ap.parse_known_args()
    if args.peer == "quorum-postgres":
        sys.argv = [sys.argv[0], *rest]
        run_quorum_postgres_peer()
        return
    if args.peer == "dbos-postgres":
        sys.argv = [sys.argv[0], *rest]
        run_dbos_postgres_peer()
        return
    peers = commands(args.dbos)
    results: dict[tuple[str, str], list[float]] = {}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-store-pg-") as tmp:
        for r in range(args.rounds):
            for metric in METRICS:
                for name, cmd in peers.items():
                    state = Path(tmp) / f"{name}-{metric}-{r}"
                    row = measure(cmd, metric, state)
                    row.setdefault("peer", name)
                    rows.append(row)
                    key = "us_per_call_steady" if metric == "overhead" else "exec_per_s"
                    if row.get("ok") and row.get(key) is not None and not row.get("errors"):
                        results.setdefault((name, metric), []).append(float(row[key]))
                    else:
                        print(f"{name} {metric}: failed: {row.get('error') or row.get('first_error')}",
                              file=sys.stderr)
                    print(f"round {r + 1} {name:16s} {metric:10s} {row.get(key)}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(table(results, args.rounds))


def table(results: dict[tuple[str, str], list[float]], rounds: int) -> str:
    def med(name: str, metric: str) -> float | None:
        values = results.get((name, metric))
        return statistics.median(values) if values else None

    floor_us, floor_xs = med("plain", "overhead"), med("plain", "throughput")
    sqlite_us, sqlite_xs = med("quorum-sqlite", "overhead"), med("quorum-sqlite", "throughput")
    lines = [
        f"Committee workload, median of {rounds} processes each (same run; ratios to the floor and SQLite)",
        "",
        "| peer | µs per agent call (L=0) | × floor | × SQLite | executions/s (200 concurrent, L=20 ms)"
        " | × floor | × SQLite |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("plain", "quorum-memory", "quorum-sqlite", "quorum-postgres", "dbos-postgres"):
        us, xs = med(name, "overhead"), med(name, "throughput")
        if us is None and xs is None:
            continue
        lines.append(
            f"| {name} | {_f(us, 1)} | {_ratio(us, floor_us)} | {_ratio(us, sqlite_us)} | {_f(xs, 1)} | "
            f"{_ratio(xs, floor_xs)} | {_ratio(xs, sqlite_xs)} |"
        )
    return "\n".join(lines)


def _f(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None, base: float | None) -> str:
    return "—" if value is None or not base else f"{value / base:.2f}"


if __name__ == "__main__":
    main()
