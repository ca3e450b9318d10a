#!/usr/bin/env python3
"""Memory held per execution at one fixed point: 2,000 committees with every call of one phase blocked.

    python benchmarks/memory_census.py [--phase analysis|roundtable] [--by filename|lineno] [--tree DIR]

Every execution stops at the same step, so two trees (``--tree``: a checkout whose ``src`` and
``benchmarks`` are used, e.g. a ``git worktree`` of an older commit) compare like for like; peak RSS
(``peer_quorum.py --metric throughput --n 2000``) says how much, this says where (tracemalloc, the
allocating file or line, after a full collection).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", choices=("analysis", "roundtable"), default="analysis")
    ap.add_argument("--by", choices=("filename", "lineno"), default="filename")
    ap.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    tree = Path(args.tree)
    sys.path[:0] = [str(tree / "src"), str(tree / "benchmarks")]
    spec = importlib.util.spec_from_file_location("peer", tree / "benchmarks" / "peer_quorum.py")
    assert spec is not None
    assert spec.loader is not None
    peer_module: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer_module)
    shared = peer_module.C
    held = set(shared.ANALYSIS_AGENTS if args.phase == "analysis" else shared.ROUNDTABLE_AGENTS[:1])
    gate: list[asyncio.Event] = []
    make_agent = peer_module.make_agent

    def blocking(name: str) -> Any:
        agent = make_agent(name)
        if name not in held:
            return agent

        async def blocked(request: Any) -> Any:
            await gate[0].wait()
            return await agent(request)

        return blocked

    peer_module.make_agent = blocking
    asyncio.run(_census(peer_module.QuorumPeer, gate, args))


async def _census(peer_class: Any, gate: list[asyncio.Event], args: argparse.Namespace) -> None:
    gate.append(asyncio.Event())
    peer = peer_class()
    await peer.setup(tempfile.mkdtemp())
    gate[0].set()
    await peer.committee(0.0)  # warm-up: what a process makes once
    gate[0].clear()
    gc.collect()
    tracemalloc.start(1)
    runs = [asyncio.ensure_future(peer.committee(0.0)) for _ in range(args.n)]
    for _ in range(100):
        await asyncio.sleep(0.05)
    gc.collect()
    stats = tracemalloc.take_snapshot().statistics(args.by)
    total = sum(s.size for s in stats)
    print(f"held {total / 1e6:.2f} MB, {total / args.n / 1e3:.2f} KB per execution")
    for stat in stats[: args.top]:
        frame = stat.traceback[0]
        where = frame.filename.split("/src/")[-1].split("python3.11/")[-1]
        print(f"{stat.size / 1e6:7.2f} MB {stat.count:8d}  {where}:{frame.lineno}")
    gate[0].set()
    await asyncio.wait(runs)


if __name__ == "__main__":
    main()
