"""The web dashboard in Debian's Chromium against a real ``quorum serve`` on loopback.

::

    python benchmarks/dashboard_latency.py            # 1 and 50 pages; 300 agent calls; 10,000 executions
    python benchmarks/dashboard_latency.py --short    # tiny sizes (a smoke run; no targets)
    python benchmarks/dashboard_latency.py --json     # the numbers as JSON

Measured in the browser, not in this process:

- **phase complete → shown**: N pages (one browser context each: Chromium allows 6 connections per
  host in one context) watch one execution of a 16-phase chain. The execution is paused before the
  pages open and resumed once all are ready, so every phase completion after that is measured. A
  MutationObserver (an init script, not the page's own code) notes ``Date.now()`` when a phase first
  shows as completed in the DAG; latency = that minus the ``phase:complete`` event's own timestamp
  (same machine clock). Target (issue 18): p95 ≤ 150 ms with 1 and with 50 pages.
- **execution page with 300 agent calls**: a finished execution of 10 phases × 30 agents; from
  navigation start to the page having applied the whole journal and rendered it (``data-ready``), and
  first contentful paint. Target ≤ 500 ms.
- **list with 10,000 executions**: from navigation start to the first page of the list rendered with
  its controls wired (``data-ready``). Target ≤ 300 ms to interactive.
- **CPU per event per page** (beside each phase-latency row): the CPU time (``/proc``, user + system)
  that the server and Chromium's renderers (descendants of this process only) spent from the resume
  until every page showed the end, divided by the events and the pages. Unlike the latency, it does
  not depend on what else the machine runs; the server's share per extra page is the difference
  between the 1-page and the N-page runs.
- **server requests**: what the page asks the server for, timed from this process over loopback
  (median of 15): the task, the journal, the execution (once per phase boundary per page), the list.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
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
CHROMIUM = os.environ.get("QUORUM_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-quic"]
TARGETS = {"phase_p95_ms": 150.0, "wide_ready_ms": 500.0, "list_ready_ms": 300.0}

# notes, in the page, when it first shows each phase completed and when it became ready
_OBSERVER = """
window.__seen = {}; window.__ready = null;
new MutationObserver(() => {
  const root = document.querySelector('[data-ready="1"]');
  if (root && window.__ready === null) window.__ready = {epoch: Date.now(), since_nav: performance.now()};
  document.querySelectorAll('#dag g.node[data-status="completed"]').forEach((n) => {
    if (!(n.dataset.phase in window.__seen)) window.__seen[n.dataset.phase] = Date.now();
  });
}).observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['data-ready', 'data-status']});
"""


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


def _stats(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": _percentile(values, 50), "p95_ms": _percentile(values, 95),
            "max_ms": max(values, default=float("nan"))}


def _write_fixtures(root: Path, *, chain: int, wide_phases: int, wide_agents: int) -> tuple[Path, Path]:
    tasks, agents = root / "tasks", root / "agents"
    tasks.mkdir()
    shutil.copytree(FIXTURES / "agents", agents)
    shutil.copy(FIXTURES / "tasks" / "cli-demo.md", tasks / "cli-demo.md")
    for i in range(wide_agents):
        (agents / f"bench-{i:02d}.md").write_text(f"---\nid: bench-{i:02d}\nname: Bench {i}\n"
                                                  "model: python:cli_agents:analyst\n---\nA bench analyst.\n")
    head = "```yaml\nname: {name}\nrequirements:\n  ticker: string\n  amount: number\n```\n"
    lines = ["# Bench chain", "", head.format(name="bench-chain")]
    for i in range(chain):
        lines += [f"## Phase: P{i:02d}", *([f"dependsOn: P{i - 1:02d}"] if i else []), "", "### Agents",
                  "- analyst-a", "", "### Steps", "- Analyse {{ input.ticker }}", ""]
    (tasks / "bench-chain.md").write_text("\n".join(lines))
    lines = ["# Bench wide", "", head.format(name="bench-wide")]
    for i in range(wide_phases):
        lines += [f"## Phase: W{i:02d}", *([f"dependsOn: W{i - 1:02d}"] if i else []), "parallel: true", "",
                  "### Agents", *(f"- bench-{a:02d}" for a in range(wide_agents)), "", "### Steps",
                  "- Analyse {{ input.ticker }}", "- aggregate: consensus", ""]
    (tasks / "bench-wide.md").write_text("\n".join(lines))
    return tasks, agents


async def _fill(db: Path, count: int) -> None:
    from quorum.engine.context import new_execution_id
    from quorum.history.base import ExecutionRecord
    from quorum.history.stores import open_store

    store = open_store(str(db))
    await store.open()
    try:
        now = time.time() - count
        decisions = ("APPROVE", "REJECT", "APPROVE_WITH_CONDITIONS", "DEFER")
        for start in range(0, count, 1000):
            await asyncio.gather(*(store.create_execution(ExecutionRecord(
                id=new_execution_id(), task="cli-demo", status="completed", created_at=now + i,
                updated_at=now + i, started_at=now + i, ended_at=now + i + 0.4, duration_ms=400.0,
                input={"ticker": "BTC", "n": i}, verdict={"decision": decisions[i % 4]},
            )) for i in range(start, min(count, start + 1000))))
    finally:
        await store.close()


class Serve:
    def __init__(self, db: Path, tasks: Path, agents: Path, *, delay: float) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "QUORUM_DB": str(db), "QUORUM_API_TOKEN": TOKEN, "QUORUM_DATA": "none",
               "QUORUM_TEST_DELAY": str(delay),
               "PYTHONPATH": os.pathsep.join([str(FIXTURES), str(ROOT / "src"),
                                              os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quorum", "serve", "--port", str(self.port), "--tasks-dir", str(tasks),
             "--agents-dir", str(agents)], env=env, cwd=db.parent, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit("quorum serve did not start")
        self.api = httpx.Client(base_url=f"{self.base}/api/v1", headers={"Authorization": f"Bearer {TOKEN}"},
                                timeout=60)

    def start(self, task: str) -> str:
        answer = self.api.post("/executions", json={"task": task, "input": {"ticker": "BTC", "amount": 10}})
        answer.raise_for_status()
        execution_id: str = answer.json()["id"]
        return execution_id

    def wait(self, execution_id: str, wanted: tuple[str, ...], timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            detail: dict[str, Any] = self.api.get(f"/executions/{execution_id}").json()
            if detail["status"] in wanted:
                return detail
            time.sleep(0.05)
        raise SystemExit(f"{execution_id} did not reach {wanted}")

    def stop(self) -> None:
        self.api.close()
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # an open event stream holds a graceful stop for 35 s
            self.proc.kill()
            self.proc.wait()


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(root: int) -> dict[int, str]:
    """pid -> Chromium process type (renderer, gpu-process, ..., browser) of root's descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                line = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # Chromium's children rewrite their command line as one string: "... --type=renderer ..."
        kind = re.search(r"--type=(\S+)", line)
        if kind is not None or "chrom" in line.split(" ", 1)[0]:
            found[pid] = kind.group(1) if kind is not None else "browser"
        todo += children.get(pid, [])
    return found


def _cpu_snapshot(serve: Serve) -> dict[str, float]:
    out = {"server": _cpu_s(serve.proc.pid), "renderer": 0.0, "chromium_other": 0.0}
    for pid, kind in _descendants(os.getpid()).items():
        out["renderer" if kind == "renderer" else "chromium_other"] += _cpu_s(pid)
    return out


def _page(browser: Any, serve: Serve) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(_OBSERVER)
    page = context.new_page()
    page.goto(f"{serve.base}/?token={TOKEN}")
    page.wait_for_url(f"{serve.base}/")
    return page


def phase_latency(browser: Any, serve: Serve, *, pages: int) -> dict[str, Any]:
    execution_id = serve.start("bench-chain")
    serve.api.post(f"/executions/{execution_id}/pause", json={})
    paused_at = serve.wait(execution_id, ("paused",))["last_sequence"]
    opened = [_page(browser, serve) for _ in range(pages)]
    for page in opened:
        page.goto(f"{serve.base}/executions/{execution_id}")
    for page in opened:
        page.wait_for_selector("#execution[data-ready='1']", timeout=120_000)
    before = _cpu_snapshot(serve)
    serve.api.post(f"/executions/{execution_id}/resume", json={})
    serve.wait(execution_id, ("completed",))
    for page in opened:
        page.wait_for_selector("#exec-status[data-status='completed']", timeout=120_000)
    after = _cpu_snapshot(serve)
    exported = serve.api.get(f"/executions/{execution_id}/export").json()
    completed = {e["phase"]: e["timestamp"] * 1000 for e in exported["events"]
                 if e["type"] == "phase:complete"}
    samples: list[float] = []
    for page in opened:
        seen = page.evaluate("window.__seen")
        ready = page.evaluate("window.__ready")["epoch"]
        samples += [seen[phase] - at for phase, at in completed.items() if at > ready and phase in seen]
        page.context.close()
    events = sum(1 for e in exported["events"] if e["sequence"] > paused_at)
    cpu = {k: after[k] - before[k] for k in before}
    per = {f"{k}_ms_per_event_per_page": 1000 * v / max(1, events * pages) for k, v in cpu.items()}
    return {"pages": pages, **_stats(samples), "events": events, "cpu_s": cpu, **per}


def wide_page(browser: Any, serve: Serve, *, repeat: int) -> dict[str, Any]:
    execution_id = serve.start("bench-wide")
    detail = serve.wait(execution_id, ("completed", "failed"))
    calls = sum(1 for e in serve.api.get(f"/executions/{execution_id}/export").json()["events"]
                if e["type"] == "agent:response")
    page = _page(browser, serve)
    ready: list[float] = []
    paint: list[float] = []
    for _ in range(repeat):
        page.goto(f"{serve.base}/executions/{execution_id}")
        page.wait_for_selector("#execution[data-ready='1']", timeout=60_000)
        ready.append(page.evaluate("window.__ready").get("since_nav"))
        paint.append(page.evaluate(
            "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN"))
    page.context.close()
    return {"agent_calls": calls, "events": detail["last_sequence"], "ready": _stats(ready),
            "first_contentful_paint": _stats(paint), "server": _requests(serve, execution_id)}


def _requests(serve: Serve, execution_id: str, *, repeat: int = 15) -> dict[str, float]:
    """Median milliseconds of what the execution page asks the server for (over the wide execution)."""
    paths = {"task": "/tasks/bench-wide", "tasks": "/tasks",
             "journal": f"/web/executions/{execution_id}/journal", "execution": f"/executions/{execution_id}",
             "list": "/web/executions?limit=50"}
    out: dict[str, float] = {}
    for name, path in paths.items():
        took = []
        for _ in range(repeat):
            start = time.perf_counter()
            serve.api.get(path).raise_for_status()
            took.append((time.perf_counter() - start) * 1000)
        out[f"{name}_ms"] = _percentile(took, 50)
    return out


def list_page(browser: Any, serve: Serve, *, repeat: int, executions: int) -> dict[str, Any]:
    page = _page(browser, serve)
    ready: list[float] = []
    for _ in range(repeat):
        page.goto(f"{serve.base}/")
        page.wait_for_selector("#executions[data-ready='1']", timeout=60_000)
        ready.append(page.evaluate("window.__ready").get("since_nav"))
    rows = page.eval_on_selector_all("#executions tbody tr[data-id]", "rows => rows.length")
    page.context.close()
    return {"executions": executions, "rows_shown": rows, "ready": _stats(ready)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium is not at {CHROMIUM}; install it with: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    executions = 200 if args.short else args.executions
    many = 3 if args.short else args.pages
    repeat = 2 if args.short else args.repeat
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small = args.short
        tasks, agents = _write_fixtures(root, chain=6 if small else 16, wide_phases=2 if small else 10,
                                        wide_agents=5 if small else 30)
        db = root / "history.db"
        asyncio.run(_fill(db, executions))
        serve = Serve(db, tasks, agents, delay=0.3)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                try:
                    result["list"] = list_page(browser, serve, repeat=repeat, executions=executions)
                    result["wide"] = wide_page(browser, serve, repeat=repeat)
                    result["phases"] = [phase_latency(browser, serve, pages=n) for n in (1, many)]
                finally:
                    browser.close()
        finally:
            serve.stop()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    _print(result, short=args.short)
    return 0


def _print(result: dict[str, Any], *, short: bool) -> None:
    def verdict(value: float, target: float) -> str:
        return "" if short else ("  ok" if value <= target else f"  OVER the {target:.0f} ms target")

    print("phase complete → shown in the page (browser clock)")
    for row in result["phases"]:
        print(f"  {row['pages']:>3} page(s): n={row['n']:<4} p50 {row['p50_ms']:6.1f} ms"
              f"  p95 {row['p95_ms']:6.1f} ms  max {row['max_ms']:6.1f} ms"
              f"{verdict(row['p95_ms'], TARGETS['phase_p95_ms'])}")
    print("  CPU per event per page (ms): "
          + "  ".join(f"{row['pages']} page(s): server {row['server_ms_per_event_per_page']:.3f}, "
                      f"renderer {row['renderer_ms_per_event_per_page']:.3f}, "
                      f"other Chromium {row['chromium_other_ms_per_event_per_page']:.3f}"
                      for row in result["phases"]))
    one, many = result["phases"][0], result["phases"][-1]
    if many["pages"] > one["pages"]:
        extra = (many["cpu_s"]["server"] - one["cpu_s"]["server"]) * 1000
        print(f"  server CPU per extra page per event: "
              f"{extra / max(1, (many['pages'] - one['pages']) * many['events']):.3f} ms")
    wide = result["wide"]
    print(f"execution page, {wide['agent_calls']} agent calls ({wide['events']} events)")
    print(f"  whole journal rendered: p50 {wide['ready']['p50_ms']:6.1f} ms"
          f"  p95 {wide['ready']['p95_ms']:6.1f} ms"
          f"{verdict(wide['ready']['p95_ms'], TARGETS['wide_ready_ms'])}")
    print(f"  first contentful paint: p50 {wide['first_contentful_paint']['p50_ms']:6.1f} ms")
    print("  server, median: " + ", ".join(f"{k[:-3]} {v:.1f} ms" for k, v in wide["server"].items()))
    listed = result["list"]
    print(f"executions list, {listed['executions']:,} executions "
          f"({listed['rows_shown']} rows on the first page)")
    print(f"  time to interactive:    p50 {listed['ready']['p50_ms']:6.1f} ms"
          f"  p95 {listed['ready']['p95_ms']:6.1f} ms"
          f"{verdict(listed['ready']['p95_ms'], TARGETS['list_ready_ms'])}")


if __name__ == "__main__":
    sys.exit(main())
