"""The benchmark suite in its short mode: it runs end to end and every result validates. No timings.

The workload, its validation and the driver are the shared peers' files (``../shared/bench/peers``,
imported by path); without them these tests are skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.performance

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))

from _bench import SharedBenchMissing, load_shared, peers_dir  # noqa: E402

try:
    peers_dir()
except SharedBenchMissing as exc:  # pragma: no cover - depends on the checkout's neighbours
    pytest.skip(str(exc), allow_module_level=True)

from _peers_ref import REFERENCE_FLOOR, REFERENCE_PEERS, read_peer_results  # noqa: E402
from _report import Runs, check_targets  # noqa: E402
from peer_quorum import QuorumPeer, assemble  # noqa: E402
from peer_quorum_sqlite import QuorumSQLitePeer  # noqa: E402

C = load_shared("common")


def _load_driver() -> Any:
    """``benchmarks/run.py`` under a name of its own (``run`` is too generic for ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location("quorum_benchmarks_run", BENCH_DIR / "run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


driver = _load_driver()
MODES, plan = driver.MODES, driver.plan


@pytest.fixture(scope="module")
def short_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("bench")
    raw = out / "raw.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH_DIR / "run.py"),
            "--short",
            "--raw",
            str(raw),
            "--out",
            str(out / "report.md"),
            "--logs",
            str(out / "logs"),
        ],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    return proc, out


def _rows(raw: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in raw.read_text().splitlines() if line.startswith("{")]


def test_short_suite_completes_and_every_process_validates(
    short_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, out = short_run
    rows = _rows(out / "raw.jsonl")
    failed = [f"{r['peer']} {r['metric']}: {r.get('error')}" for r in rows if not r.get("ok")]
    assert not failed, "\n".join(failed) + "\n" + proc.stderr[-3000:]
    assert proc.returncode == 0, proc.stderr[-3000:]
    # every planned measurement produced its row: nothing silently skipped
    planned = sorted((peer, metric) for peer, metric, _ in plan(MODES["short"]))
    assert sorted((r["peer"], r["metric"]) for r in rows) == planned
    report = (out / "report.md").read_text()
    assert "### Targets of issue 7" in report
    assert "Failed processes" not in report


def test_short_suite_counts_what_it_ran(short_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = short_run
    runs = Runs(_rows(out / "raw.jsonl"))
    mode = MODES["short"]
    for peer in ("plain-asyncio", "quorum", "quorum-sqlite"):
        assert runs.values(peer, "overhead", "batch_done") == [float(mode.overhead_n)]
        n = mode.throughput[1][0]
        assert runs.values(peer, "throughput", "completed", n) == [float(n)]
    for history in ("quorum", "quorum-sqlite"):
        assert runs.values(history, "memory", "paused.resumed_and_validated") == [float(mode.memory_n)]
    parse = runs.ok[("quorum", "parse", None)][0]
    assert parse["generated"]["phases"] == mode.parse[1]
    assert parse["tasks"], "no shipped task was parsed"


@pytest.mark.parametrize("peer_cls", [QuorumPeer, QuorumSQLitePeer])
async def test_committee_result_validates_and_tampering_is_caught(
    peer_cls: type[QuorumPeer], tmp_path: Path
) -> None:
    peer = peer_cls()
    await peer.setup(str(tmp_path))
    try:
        result = await peer.committee(0.0)
        C.validate_committee(result)
        # the validation is real: lose one debate turn and it fails
        result["debate"] = result["debate"][:-1]
        with pytest.raises(C.ValidationError):
            C.validate_committee(result)
        outputs = await peer.fanout(7, 0.0)
        C.validate_fanout(outputs, 7)
    finally:
        await peer.teardown()


async def test_assemble_refuses_an_execution_that_did_not_complete(tmp_path: Path) -> None:
    peer = QuorumPeer()
    await peer.setup(str(tmp_path))
    try:
        result = await peer.executor.execute(peer.task, {"topic": "", "latency": 0.0})  # validation fails
        with pytest.raises(RuntimeError, match="ended"):
            assemble(result)
    finally:
        await peer.teardown()


def test_peer_reference_figures_are_read_from_the_shared_results() -> None:
    peers, machine = read_peer_results(peers_dir().parent / "results.md")
    assert machine.startswith("Machine:")
    # the floor's row too: the peers not measured in a run are rescaled by it
    assert set(peers) == {REFERENCE_FLOOR, *REFERENCE_PEERS}
    for figures in peers.values():
        assert figures.us_per_call is not None
        assert figures.us_per_call > 0
        assert figures.exec_per_s is not None
        assert figures.latency_ratio_warm is not None
        assert sorted(figures.fanout_s) == [10, 100, 1000]


def _row(peer: str, metric: str, **fields: Any) -> dict[str, Any]:
    return {"peer": peer, "metric": metric, "ok": True, **fields}


def test_targets_pass_and_miss_on_the_documented_bounds() -> None:
    peers, _ = read_peer_results(peers_dir().parent / "results.md")
    rows = [
        _row("plain-asyncio", "overhead", us_per_call_steady=18.0),
        _row("quorum", "overhead", us_per_call_steady=50.0),  # ≤ 60 µs, 2.8× floor
        _row("quorum-sqlite", "overhead", us_per_call_steady=151.0),  # > 150 µs
        _row("plain-asyncio", "fanout", N=1000, L=0.01, wall_s=0.03),
        _row("quorum", "fanout", N=1000, L=0.01, wall_s=0.061),  # 2.03× floor
        _row("quorum", "fanout", N=10000, L=0.01, wall_s=0.30),
    ]
    checks = {c.target: c for c in check_targets(Runs(rows), peers)}
    assert checks["b. overhead µs/agent call, in-memory ≤ 60"].passed is True
    assert checks["b. overhead in-memory ≤ 3.5× floor"].passed is True
    assert checks["b. overhead µs/agent call, SQLite history ≤ 150"].passed is False
    assert checks["d. fan-out N=1,000 wall ≤ 2× floor"].passed is False
    # per-call (0.30-0.01)/10000 = 29 µs vs (0.061-0.01)/1000 = 51 µs: flat, so linear
    assert checks["d. linear growth: per-call cost at N=10,000 ≤ 2× that at N=1,000"].passed is True
    # nothing measured -> no data, which the report counts as a miss
    assert checks["a. latency L=50 ms, warm, × critical path ≤ 1.02"].passed is None
