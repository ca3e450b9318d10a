#!/usr/bin/env python3
"""quorum's own metrics, beside the shared ones: parse (e), start-up (f) and memory.

Each run is its own process and prints one JSON line in the style of ``common.py``
(``peer``, ``version``, ``python``, ``metric``, ``ok``, the figures, ``process_s``)::

    python benchmarks/quorum_metrics.py --metric parse   [--repeat 20]
    python benchmarks/quorum_metrics.py --metric startup [--repeat 5]
    python benchmarks/quorum_metrics.py --metric memory  [--n 200] [--history memory|sqlite]

- parse: every shipped task (``quorum/tasks/*.md``) loaded with ``TaskLoader``: *cold* = the first load
  of that file in the process (the parser modules already imported, nothing of that file cached),
  *reparse* = a fresh loader each time (median), *cached* = the same loader again (mean of many);
  then a generated 200-phase task parsed from text, cold and reparsed.
- startup: ``python -c pass``, ``python -c "import quorum"`` and ``quorum --help`` (median wall of fresh
  processes after a warm-up).
- memory: bytes held per completed execution (history + whatever the executor keeps) and per idle
  paused execution, by ``tracemalloc`` (Python heap, exact) and RSS (coarse); on disk for SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import load_shared

C = load_shared("common")


def _r(x: float | None, nd: int = 6) -> float | None:
    return None if x is None else round(x, nd)


def _median_time(fn: Callable[[], Any], k: int) -> float:
    times = []
    for _ in range(k):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------- parse
def generate_task(n_phases: int = 200, *, tag: str = "") -> str:
    """A task of ``n_phases`` phases (a chain with a fan-in every fifth phase), three agents each,
    a templated prompt, an aggregate step and a declared output: the shape of a real large task."""
    lines = [
        f"# Generated task {tag}",
        "",
        "```yaml",
        f"name: generated-{n_phases}{tag}",
        f"description: A generated {n_phases}-phase task for the parse benchmark.",
        "version: 1.0.0",
        "requirements:",
        "  topic: string",
        "  depth: {type: integer, default: 2}",
        "```",
        "",
    ]
    for i in range(n_phases):
        lines.append(f"## Phase: P{i:03d}")
        if i:
            deps = [f"P{i - 1:03d}"] + ([f"P{i - 5:03d}"] if i >= 5 and i % 5 == 0 else [])
            lines.append(f"dependsOn: [{', '.join(deps)}]")
        if i % 2:
            lines.append("parallel: true")
        lines += [
            "",
            "### Agents",
            "- agent-a",
            "- agent-b",
            "- agent-c",
            "",
            "### Steps",
            f"- Analyse {{{{ input.topic }}}} at depth {{{{ input.depth }}}} (step {i})",
            "- aggregate: consensus",
            "",
            "### Outputs",
            "- stance (string): the phase's stance",
            "",
        ]
    return "\n".join(lines)


FLAGSHIP = "investment-committee-meeting"


def _per_call(fn: Callable[[], Any], calls: int = 2000) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def shipped_tasks() -> list[Path]:
    import quorum

    return sorted((Path(quorum.__file__).parent / "tasks").glob("*.md"))


def metric_parse(args: argparse.Namespace, out: dict[str, Any]) -> None:
    # import the parser stack first: "cold" is about the file, not about importing PyYAML or Jinja2
    t0 = time.perf_counter()
    from quorum.definition.loader import TaskLoader
    from quorum.definition.parser import TaskParser

    out["import_parser_s"] = _r(time.perf_counter() - t0)
    k = args.repeat
    files = shipped_tasks()
    if not files:
        raise RuntimeError("no shipped tasks found under quorum/tasks/")
    # The flagship first: its "cold" then also pays every first-use cost (template engine, caches),
    # as `quorum run investment-committee-meeting` does.
    files.sort(key=lambda p: (p.stem != FLAGSHIP, p.name))
    tasks: dict[str, Any] = {}
    for order, path in enumerate(files):
        name = path.stem  # loaded by name, as the executor and the CLI do
        loader = TaskLoader()
        t0 = time.perf_counter()
        task = loader.load(name)
        cold = time.perf_counter() - t0
        reparse = _median_time(lambda n=name: TaskLoader().load(n), k)
        tasks[task.name] = {
            "file": path.name,
            "phases": len(task.phases),
            "bytes": path.stat().st_size,
            "first_in_process": order == 0,
            "cold_s": _r(cold),
            "reparse_s": _r(reparse),
            "cached_s": _r(_per_call(functools.partial(loader.load, name)), 9),
            "cached_by_path_s": _r(_per_call(functools.partial(loader.load, path)), 9),
        }
    out["tasks"] = tasks
    n = args.N if args.N and args.N > 1 else 200
    text = generate_task(n, tag="-cold")
    t0 = time.perf_counter()
    big = TaskParser().parse_task_content(text, source="<generated>")
    cold = time.perf_counter() - t0
    if len(big.phases) != n:
        raise RuntimeError(f"generated task parsed into {len(big.phases)} phases, expected {n}")
    texts = iter([generate_task(n, tag=f"-r{i}") for i in range(k)])  # distinct texts: no cache hit
    reparse = _median_time(lambda: TaskParser().parse_task_content(next(texts), source="<generated>"), k)
    out["generated"] = {
        "phases": n,
        "bytes": len(text.encode()),
        "cold_s": _r(cold),
        "reparse_s": _r(reparse),
    }
    out["repeat"] = k


# --------------------------------------------------------------------------------------------- startup
def _median_wall(cmd: list[str], k: int) -> float:
    subprocess.run(cmd, check=True, capture_output=True)  # warm the page cache
    walls = []
    for _ in range(k):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def quorum_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m quorum``."""
    script = Path(sys.executable).with_name("quorum")
    return [str(script)] if script.exists() else [sys.executable, "-m", "quorum"]


def metric_startup(args: argparse.Namespace, out: dict[str, Any]) -> None:
    k = args.repeat
    py = sys.executable
    out["python_s"] = _r(_median_wall([py, "-c", "pass"], k), 4)
    out["import_quorum_s"] = _r(_median_wall([py, "-c", "import quorum"], k), 4)
    out["import_executor_s"] = _r(
        _median_wall([py, "-c", "from quorum.engine.executor import TaskExecutor"], k), 4
    )
    cmd = [*quorum_command(), "--help"]
    out["help_cmd"] = " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))
    out["help_s"] = _r(_median_wall(cmd, k), 4)
    out["import_quorum_net_s"] = _r(out["import_quorum_s"] - out["python_s"], 4)
    out["help_net_s"] = _r(out["help_s"] - out["python_s"], 4)
    out["samples"] = k


# ---------------------------------------------------------------------------------------------- memory
def _rss_bytes() -> int:
    return int(C.tree_rss_mb() * 1024 * 1024)


async def _measure_memory(args: argparse.Namespace, out: dict[str, Any]) -> None:
    import tracemalloc

    from peer_quorum import QuorumPeer, assemble
    from peer_quorum_sqlite import QuorumSQLitePeer

    peer = QuorumSQLitePeer() if args.history == "sqlite" else QuorumPeer()
    await peer.setup(args.state_dir)
    try:
        ex = peer.executor
        for _ in range(5):  # warm caches (templates, first-call paths) before measuring
            C.validate_committee(await peer.committee(0.0))
        n = args.n
        db = Path(args.state_dir) / "quorum-history.sqlite3"

        def disk() -> int:
            return sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) if db.exists() else 0

        # completed executions held in history
        gc.collect()
        tracemalloc.start()
        heap0, rss0, disk0 = tracemalloc.get_traced_memory()[0], _rss_bytes(), disk()
        for _ in range(n):
            C.validate_committee(await peer.committee(0.0))
        gc.collect()
        heap1, rss1, disk1 = tracemalloc.get_traced_memory()[0], _rss_bytes(), disk()
        out["completed"] = {
            "executions": n,
            "heap_bytes_per_exec": round((heap1 - heap0) / n),
            "rss_bytes_per_exec": round((rss1 - rss0) / n),
            "disk_bytes_per_exec": round((disk1 - disk0) / n) if db.exists() else None,
        }
        # idle paused executions: started, paused at the first step boundary, then left alone
        gc.collect()
        heap0, rss0 = tracemalloc.get_traced_memory()[0], _rss_bytes()
        handles = []
        for _ in range(n):
            handle = await ex.start(peer.task, {"topic": C.TOPIC, "latency": 0.05})
            await ex.pause_execution(handle.id, "memory benchmark")
            handles.append(handle)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            active = ex.get_active_executions()
            paused = sum(1 for a in active if str(getattr(a.status, "value", a.status)) == "paused")
            if paused >= n:
                break
            await asyncio.sleep(0.02)
        else:
            raise RuntimeError(f"only {paused} of {n} executions reached 'paused'")
        await asyncio.sleep(0.1)  # in-flight calls have finished and been recorded
        gc.collect()
        heap1, rss1 = tracemalloc.get_traced_memory()[0], _rss_bytes()
        out["paused"] = {
            "executions": n,
            "heap_bytes_per_exec": round((heap1 - heap0) / n),
            "rss_bytes_per_exec": round((rss1 - rss0) / n),
        }
        tracemalloc.stop()
        for handle in handles:
            await ex.resume_execution(handle.id)
        for handle in handles:
            C.validate_committee(assemble(await handle.result()))
        out["paused"]["resumed_and_validated"] = len(handles)
    finally:
        await peer.teardown()


def metric_memory(args: argparse.Namespace, out: dict[str, Any]) -> None:
    out["history"] = args.history
    asyncio.run(_measure_memory(args, out))


# ------------------------------------------------------------------------------------------------ main
METRICS: dict[str, tuple[Callable[[argparse.Namespace, dict[str, Any]], None], dict[str, Any]]] = {
    "parse": (metric_parse, {"repeat": 20, "N": 200}),
    "startup": (metric_startup, {"repeat": 5}),
    "memory": (metric_memory, {"n": 200}),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--metric", required=True, choices=sorted(METRICS))
    ap.add_argument("--n", type=int, default=None, help="executions (memory)")
    ap.add_argument("--N", type=int, default=None, help="phases of the generated task (parse)")
    ap.add_argument("--repeat", type=int, default=None, help="samples")
    ap.add_argument("--history", choices=("memory", "sqlite"), default="memory")
    ap.add_argument("--state-dir", default=None)
    args = ap.parse_args(argv)
    fn, defaults = METRICS[args.metric]
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    made_tmp = args.state_dir is None
    if made_tmp:
        args.state_dir = tempfile.mkdtemp(prefix="bench-quorum-")
    os.makedirs(args.state_dir, exist_ok=True)
    name = "quorum-sqlite" if args.metric == "memory" and args.history == "sqlite" else "quorum"
    out: dict[str, Any] = {
        "peer": name,
        "version": C._version("quorum"),
        "python": platform.python_version(),
        "metric": args.metric,
        "pid": os.getpid(),
    }
    out.update({k: getattr(args, k) for k in defaults})
    rc = 0
    t0 = time.perf_counter()
    try:
        fn(args, out)
        out["ok"] = True
    except Exception as e:
        out["ok"] = False
        out["error"] = f"{type(e).__name__}: {e}"[:600]
        traceback.print_exc(file=sys.stderr)
        rc = 1
    out["process_s"] = _r(time.perf_counter() - t0, 3)
    if made_tmp:
        shutil.rmtree(args.state_dir, ignore_errors=True)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    return rc


if __name__ == "__main__":
    sys.exit(main())
