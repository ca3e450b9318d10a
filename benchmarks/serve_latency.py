"""``quorum serve`` on loopback: event latency to SSE clients, and ``GET /executions`` with a big history.

::

    python benchmarks/serve_latency.py            # 1, 50, 200 clients; 10,000 executions in the store
    python benchmarks/serve_latency.py --short    # tiny sizes (what tests/server runs; no targets)
    python benchmarks/serve_latency.py --json     # the numbers as JSON

Event latency: a real ``quorum serve`` (subprocess) drives executions of a small task whose agents take
``--delay`` seconds per call; N clients (raw sockets, spread over ``--client-processes`` processes,
as real clients are: one Python loop reading 200 streams measures its own queue) follow each
execution's ``/executions/{id}/events``; latency = the time a client reads an event minus the event's
own timestamp (same clock), over the events recorded after every client was connected.
List latency: a SQLite history filled with ``--executions`` records; ``GET /executions`` (first page,
a deep page by cursor, a status filter) timed from the client. Targets (issue 17): event p95 ≤ 50 ms at
200 clients; list p95 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "cli" / "fixtures"
TOKEN = "bench-token-0123456789abcdef"
_TIMESTAMP = re.compile(rb'"timestamp":([0-9.e+-]+)')
_ENDING = re.compile(rb'"type":"execution:(complete|error|aborted|timeout)"')
DEMO_INPUT = {"ticker": "BTC", "amount": 10000, "riskTolerance": "medium"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class Serve:
    def __init__(self, db: Path, *, delay: float) -> None:
        self.port = _free_port()
        env = {**os.environ, "QUORUM_DB": str(db), "QUORUM_API_TOKEN": TOKEN,
               "QUORUM_TEST_DELAY": str(delay),
               "PYTHONPATH": os.pathsep.join([str(FIXTURES), str(ROOT / "src"),
                                              os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quorum", "serve", "--port", str(self.port), "--tasks-dir",
             str(FIXTURES / "tasks"), "--agents-dir", str(FIXTURES / "agents")],
            env=env, cwd=db.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit("quorum serve did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def _follow(port: int, execution_id: str, connected: asyncio.Event, ready: list[int],
                  out: list[tuple[float, float]]) -> None:
    """One SSE client on a raw connection: a lean reader, so that 200 of them in one process measure
    the server more than the client library."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    writer.write((f"GET /api/v1/executions/{execution_id}/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Authorization: Bearer {TOKEN}\r\nAccept: text/event-stream\r\n\r\n").encode())
    await writer.drain()
    try:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # the status line and headers
        ready.append(1)
        connected.set()
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"data: "):
                received = time.time()
                stamp = _TIMESTAMP.search(line)
                assert stamp is not None, line
                out.append((float(stamp.group(1)), received))
                if _ENDING.search(line[:80]):
                    return
    finally:
        writer.close()


async def _follow_all(port: int, execution_id: str, clients: int, ready: Any) -> list[tuple[float, float]]:
    """``clients`` followers in this process's loop; ``ready`` is told once every one is connected."""
    got: list[list[tuple[float, float]]] = [[] for _ in range(clients)]
    connected = asyncio.Event()
    count: list[int] = []
    tasks = [asyncio.ensure_future(_follow(port, execution_id, connected, count, got[i]))
             for i in range(clients)]
    while len(count) < clients:
        connected.clear()
        await connected.wait()
    ready.put(None)
    await asyncio.gather(*tasks)
    return [sample for per_client in got for sample in per_client]


def _client_process(port: int, clients: int, ids: Any, ready: Any, results: Any) -> None:
    """Follows each execution id it is given with ``clients`` streams, until it is given None."""
    ready.put(None)  # started: the executions may begin
    while (execution_id := ids.get()) is not None:
        results.put(asyncio.run(_follow_all(port, execution_id, clients, ready)))


async def event_latency(serve: Serve, *, clients: int, runs: int, processes: int) -> dict[str, Any]:
    """Clients are spread over ``processes`` processes, as real clients are not all in one Python loop:
    one loop reading 200 streams would measure its own queue more than the server. The processes start
    before the executions do, so none misses the start of one."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    samples: list[float] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    procs = max(1, min(processes, clients))
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    ready, results = context.Queue(), context.Queue()
    queues = [context.Queue() for _ in shares]
    workers = [context.Process(target=_client_process, args=(serve.port, n, ids, ready, results))
               for n, ids in zip(shares, queues, strict=True)]
    for worker in workers:
        worker.start()
    for _ in workers:
        await asyncio.to_thread(ready.get, True, 120)
    try:
        async with httpx.AsyncClient(base_url=serve.url, headers=headers, timeout=120) as client:
            for _ in range(runs):
                answer = await client.post("/executions", json={"task": "cli-demo", "input": DEMO_INPUT})
                answer.raise_for_status()
                for ids in queues:
                    ids.put(answer.json()["id"])
                for _ in workers:
                    await asyncio.to_thread(ready.get, True, 120)
                all_in = time.time()
                for _ in workers:
                    got = await asyncio.to_thread(results.get, True, 300)
                    samples.extend((r - t) * 1000 for t, r in got if t > all_in)
    finally:
        for ids in queues:
            ids.put(None)
        for worker in workers:
            worker.join(30)
    return {"clients": clients, "processes": procs, "events": len(samples),
            "p50_ms": _percentile(samples, 50), "p95_ms": _percentile(samples, 95),
            "max_ms": max(samples, default=float("nan"))}


async def _fill(db: Path, count: int) -> None:
    from quorum.engine.context import new_execution_id
    from quorum.history.base import ExecutionRecord
    from quorum.history.stores import open_store

    store = open_store(str(db))
    await store.open()
    try:
        now = time.time() - count
        statuses = ("completed", "failed", "aborted", "completed")
        for start in range(0, count, 1000):
            await asyncio.gather(*(store.create_execution(ExecutionRecord(
                id=new_execution_id(), task="cli-demo", status="pending", created_at=now + i,
                updated_at=now + i, input={"ticker": "BTC", "n": i, "status_hint": statuses[i % 4]},
            )) for i in range(start, min(count, start + 1000))))
    finally:
        await store.close()


def list_latency(serve: Serve, *, requests: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    out: dict[str, Any] = {}
    with httpx.Client(base_url=serve.url, headers=headers, timeout=60) as client:
        cursor = None
        for _ in range(20):  # a cursor 20 pages (1,000 executions) deep
            page = client.get("/executions", params={"limit": 50, **({"cursor": cursor} if cursor else {})})
            cursor = page.json()["next_cursor"]
        cases: dict[str, dict[str, Any]] = {
            "first page (50)": {"limit": 50}, "page 21 by cursor": {"limit": 50, "cursor": cursor},
            "status=pending": {"status": "pending", "limit": 50},
        }
        for name, params in cases.items():
            times = []
            for _ in range(requests):
                t = time.perf_counter()
                given = {k: v for k, v in params.items() if v is not None}
                client.get("/executions", params=given).raise_for_status()
                times.append((time.perf_counter() - t) * 1000)
            out[name] = {"p50_ms": _percentile(times, 50), "p95_ms": _percentile(times, 95)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--delay", type=float, default=2.0,
                        help="seconds per agent call (the run spans ~3 calls)")
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--client-processes", type=int, default=4,
                        help="processes the SSE clients are spread over (1: all in this one)")
    args = parser.parse_args(argv)
    client_counts = (1, 3) if args.short else (1, 50, 200)
    runs = 1 if args.short else 3
    executions = 200 if args.short else args.executions
    delay = 0.5 if args.short else args.delay  # long enough for the client processes to connect
    result: dict[str, Any] = {"events": [], "list": {}}
    with tempfile.TemporaryDirectory(prefix="quorum-serve-bench-") as tmp:
        serve = Serve(Path(tmp) / "events.db", delay=delay)
        try:
            for n in client_counts:
                result["events"].append(asyncio.run(event_latency(
                    serve, clients=n, runs=runs, processes=args.client_processes)))
        finally:
            serve.stop()
        db = Path(tmp) / "list.db"
        asyncio.run(_fill(db, executions))
        serve = Serve(db, delay=0)
        try:
            timed = list_latency(serve, requests=20 if args.short else 200)
            result["list"] = {"executions": executions, **timed}
        finally:
            serve.stop()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("SSE event latency, event -> client (loopback)")
    print(f"{'clients':>8} {'procs':>6} {'events':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for row in result["events"]:
        print(f"{row['clients']:>8} {row['processes']:>6} {row['events']:>8} {row['p50_ms']:>8.1f} "
              f"{row['p95_ms']:>8.1f} {row['max_ms']:>8.1f}")
    print(f"\nGET /executions with {executions:,} executions in the store")
    for name, row in result["list"].items():
        if isinstance(row, dict):
            print(f"  {name:<22} p50 {row['p50_ms']:6.1f} ms   p95 {row['p95_ms']:6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
