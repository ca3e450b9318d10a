#!/usr/bin/env python3
"""Has a change moved the hot path? The shared workload's overhead (L = 0, 200 executions back to back) of
two source trees, interleaved round by round with the plain-asyncio floor, so they share the machine's noise.

    git worktree add /tmp/old <revision>
    python benchmarks/compare_revisions.py --old /tmp/old --rounds 5

Each measurement is its own process: ``benchmarks/peer_quorum.py`` (in-memory history) and
``peer_quorum_sqlite.py`` (a SQLite file) of each tree — with ``--postgres``, also its
``store_postgres.py --peer quorum-postgres`` (a fresh schema on ``QUORUM_BENCH_PG``) — run with that
tree's ``src`` first on the path, and ``../shared/bench/peers/peer_plain.py`` for the floor. Prints the
medians in µs per agent call and as ratios to the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED_PEERS = HERE.parent.parent / "shared" / "bench" / "peers"


def _measure(command: list[str], src: Path | None) -> float:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    with tempfile.TemporaryDirectory() as state:
        done = subprocess.run([sys.executable, *command, "--metric", "overhead", "--state-dir", state],
                              capture_output=True, text=True, env=env, cwd=state, check=True)
    value: float = json.loads(done.stdout.strip().splitlines()[-1])["us_per_call_steady"]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="the other tree (a git worktree)")
    parser.add_argument("--new", type=Path, default=HERE.parent, help="this tree (default)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also the PostgreSQL store of each tree")
    args = parser.parse_args()
    peers: dict[str, tuple[list[str], Path | None]] = {"plain": ([str(SHARED_PEERS / "peer_plain.py")], None)}
    for tag, root in (("old", args.old.resolve()), ("new", args.new.resolve())):
        bench = root / "benchmarks"
        peers[f"{tag} quorum"] = ([str(bench / "peer_quorum.py")], root / "src")
        peers[f"{tag} quorum_sqlite"] = ([str(bench / "peer_quorum_sqlite.py")], root / "src")
        if args.postgres:
            postgres = [str(bench / "store_postgres.py"), "--peer", "quorum-postgres"]
            peers[f"{tag} quorum_postgres"] = (postgres, root / "src")
    results: dict[str, list[float]] = {name: [] for name in peers}
    for round_no in range(1, args.rounds + 1):
        for name, (command, src) in peers.items():
            results[name].append(_measure(command, src))
            print(f"round {round_no} {name:20s} {results[name][-1]:8.1f}", flush=True)
    floor = statistics.median(results["plain"])
    print(f"\n| peer | µs per agent call (median of {args.rounds}) | × floor |\n|---|---:|---:|")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.1f} | {median / floor:.2f} |")


if __name__ == "__main__":
    main()
