"""Crash recovery against PostgreSQL, as ``test_crash.py`` does against SQLite: SIGKILL the driving
process (at chosen points and at random moments), resume from another process, and check that

- the journal has no gap and agrees with the execution row;
- the final result equals the one of an uncrashed run, and the final outcome is recorded once;
- every call recorded as complete before the kill ran exactly once (the ledger says so); only calls in
  flight at the kill ran twice, none more;
- ``stats`` and ``prune`` work on what the crashes left;
- connections terminated mid-run (``pg_terminate_backend``) are retried or fail the run cleanly: no
  event is ever lost in silence.

Everything is read back through the store's own API (its reads are covered by the contract suite).
"""

from __future__ import annotations

import asyncio
import collections
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from quorum.definition.model import thaw
from quorum.history.postgres import PostgresHistoryStore
from tests.servers import require_postgres

from .pg import drop_schema, schema_url, terminate_store_connections
from .test_crash import CHOSEN, TERMINAL_EVENTS, ledger

CHILD = str(Path(__file__).with_name("crash_child.py"))
pytestmark = [pytest.mark.integration, pytest.mark.errors]
RANDOM_TRIALS = 10


@dataclass(frozen=True, slots=True)
class Stored:
    eid: str
    status: str
    verdict: Any
    outputs: dict[str, Any]
    sequences: list[int]
    last_sequence: int
    terminal: int
    recorded: set[str]


def _new_url() -> tuple[str, str]:
    import secrets

    schema = f"qc_{secrets.token_hex(6)}"
    return schema_url(require_postgres(), schema), schema


@pytest.fixture
def url() -> Iterator[str]:
    made, schema = _new_url()
    yield made
    asyncio.run(drop_schema(require_postgres(), schema))


def read(url: str) -> Stored | None:
    async def go() -> Stored | None:
        async with PostgresHistoryStore(url) as store:
            [*records] = await store.list_executions(limit=5)
            if not records:
                return None
            assert len(records) == 1
            rec = await store.get_execution(records[0].id)
            assert rec is not None
            journal = await store.read_journal(rec.id)
            done = [e for e in journal if e.type == "phase:complete"]
            outputs = {str(e.phase): thaw(e.data.get("outputs")) for e in done}
            return Stored(
                eid=rec.id, status=rec.status, verdict=thaw(rec.verdict), outputs=outputs,
                sequences=[e.sequence for e in journal], last_sequence=rec.last_sequence,
                terminal=sum(e.type in TERMINAL_EVENTS for e in journal),
                recorded=set(await store.completed_calls(rec.id)),
            )

    return asyncio.run(go())


def child(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, CHILD, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


@dataclass(frozen=True, slots=True)
class Baseline:
    verdict: Any
    outputs: dict[str, Any]
    duration_s: float


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Baseline]:
    made, schema = _new_url()
    tmp = tmp_path_factory.mktemp("pg-baseline")
    with subprocess.Popen([sys.executable, CHILD, "run", made, str(tmp / "ledger")], stdout=subprocess.PIPE,
                          text=True) as proc:
        assert proc.stdout is not None
        proc.stdout.readline()
        started = time.monotonic()
        last = proc.stdout.readline()
        duration = time.monotonic() - started
        assert proc.wait(90) == 0
    assert last.strip() == "done completed"
    stored = read(made)
    assert stored is not None
    assert stored.status == "completed"
    assert set(collections.Counter(k for k, _ in ledger(tmp / "ledger")).values()) == {1}
    yield Baseline(verdict=stored.verdict, outputs=stored.outputs, duration_s=duration)
    asyncio.run(drop_schema(require_postgres(), schema))


def trial(
    url: str, tmp: Path, base: Baseline, *, kill: str | None = None, delay_s: float | None = None,
    options: tuple[str, ...] = (), resume_options: tuple[str, ...] = (), expect: str = "completed",
    racers: int = 1,
) -> Stored:
    book = tmp / "ledger"
    args = [CHILD, "run", url, str(book), *options] + (["--kill", kill] if kill else [])
    with subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True) as first:
        assert first.stdout is not None
        if delay_s is not None:
            if first.stdout.readline().startswith("id "):
                time.sleep(delay_s)
            first.kill()
        first.wait(90)
        first_pid = first.pid
    before = read(url)
    if before is None:  # killed before the execution was recorded: nothing ran; start again
        assert ledger(book) == []
        again = child("run", url, str(book))
        assert again.returncode == 0, again.stderr
        before = read(url)
        assert before is not None
    assert before.sequences == list(range(1, before.last_sequence + 1)), "a gap, or the row disagrees"
    if before.status not in ("completed", "failed", "aborted", "timeout"):
        if racers == 1:
            resumed = child("resume", url, str(book), before.eid, *resume_options)
            assert resumed.returncode == 0, f"resume after kill={kill} delay={delay_s}:\n{resumed.stderr}"
            assert resumed.stdout.splitlines()[-1] == f"done {expect}"
        else:
            procs = [subprocess.Popen([sys.executable, CHILD, "resume", url, str(book), before.eid],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(racers)]
            outs = [p.communicate(timeout=90) for p in procs]
            drove = [out for (out, _e), p in zip(outs, procs, strict=True) if p.returncode == 0]
            assert len(drove) == 1, f"{len(drove)} processes drove the execution"
            refused = [e for (_o, e), p in zip(outs, procs, strict=True) if p.returncode]
            assert all("ResumeRefusedError" in e for e in refused), refused
    after = read(url)
    assert after is not None
    assert after.sequences == list(range(1, after.last_sequence + 1))
    assert after.terminal == 1, "the final outcome must be recorded exactly once"
    assert after.status == expect
    if expect == "completed":
        assert after.verdict == base.verdict
        assert after.outputs == base.outputs
    runs = ledger(book)
    counts = collections.Counter(k for k, _ in runs)
    ran_first = {k for k, pid in runs if pid == first_pid}
    if expect == "completed":
        assert len(counts) == 21, "every call ran"
    for key in before.recorded:
        assert counts[key] == 1, f"{key} was recorded complete before the kill yet ran {counts[key]} times"
    for key, n in counts.items():
        assert n <= 2, f"{key} ran {n} times"
        if n == 2:
            assert key in ran_first
            assert key not in before.recorded
    return after


@pytest.mark.parametrize("kill", CHOSEN)
def test_kill_at_a_chosen_point_then_resume(url: str, tmp_path: Path, baseline: Baseline, kill: str) -> None:
    trial(url, tmp_path, baseline, kill=kill)


@pytest.mark.concurrency
@pytest.mark.parametrize("kill", ["after-call:3", "event:checkpoint:created:2"])
def test_processes_racing_to_resume_after_a_crash_exactly_one_drives(
    url: str, tmp_path: Path, baseline: Baseline, kill: str
) -> None:
    trial(url, tmp_path, baseline, kill=kill, racers=3)


@pytest.mark.parametrize("at", [1, 10])
def test_kill_while_paused_then_resume(url: str, tmp_path: Path, baseline: Baseline, at: int) -> None:
    trial(url, tmp_path, baseline, kill="after-append:execution:paused:1", options=("--pause-at", str(at)))


@pytest.mark.parametrize("at", [2, 18])
def test_an_abort_asked_before_the_crash_is_honoured_after_it(
    url: str, tmp_path: Path, baseline: Baseline, at: int
) -> None:
    trial(url, tmp_path, baseline, options=("--abort-at", str(at)), resume_options=("--control-poll", "30"),
          expect="aborted")


@pytest.mark.parametrize("seed", range(RANDOM_TRIALS))
def test_kill_at_a_random_moment_then_resume(url: str, tmp_path: Path, baseline: Baseline, seed: int) -> None:
    delay = random.Random(seed).uniform(0.0, 1.2 * baseline.duration_s)
    trial(url, tmp_path, baseline, delay_s=delay)


def test_stats_and_prune_after_a_crash(url: str, tmp_path: Path, baseline: Baseline) -> None:
    after = trial(url, tmp_path, baseline, kill="after-call:12")

    async def check() -> None:
        async with PostgresHistoryStore(url) as store:
            stats = await store.stats()
            assert (stats.executions, dict(stats.by_status)) == (1, {"completed": 1})
            assert stats.events == after.last_sequence
            assert stats.agent_calls == 21
            assert stats.bytes is not None
            assert stats.bytes > 0
            assert await store.prune(older_than_s=0) == 1
            emptied = await store.stats()
            assert (emptied.executions, emptied.events, emptied.agent_calls) == (0, 0, 0)
            assert await store.read_journal(after.eid) == []

    asyncio.run(check())


def test_connections_terminated_mid_run_are_retried_or_fail_cleanly(url: str, tmp_path: Path) -> None:
    """``pg_terminate_backend`` on the driving process's connections, again and again while it runs.
    Every append is retried on a fresh connection; should the run fail anyway, it fails with a
    StoreError and what it wrote is intact and resumable: never a silently lost event."""
    schema = url.rsplit("schema=", 1)[1]
    book = tmp_path / "ledger"
    # 60 ms more per call: the run lasts a second or two, and its connections are cut every 100 ms.
    with subprocess.Popen([sys.executable, CHILD, "run", url, str(book), "--call-ms", "60"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("id ")
        terminated = 0
        while proc.poll() is None:
            terminated += asyncio.run(terminate_store_connections(schema))
            time.sleep(0.1)
        out, err = proc.communicate(timeout=90)
    print(f"terminated {terminated} connections; the run exited {proc.returncode}")
    stored = read(url)
    assert stored is not None
    assert terminated > 0, "the drill must have cut connections while the run was going on"
    assert stored.sequences == list(range(1, stored.last_sequence + 1))
    if proc.returncode == 0:
        assert out.splitlines()[-1] == "done completed"
    else:
        assert "StoreError" in err, err  # a clean failure, said so; then the journal must be resumable
        resumed = child("resume", url, str(book), stored.eid)
        assert resumed.returncode == 0, resumed.stderr
        stored = read(url)
        assert stored is not None
    assert stored.status == "completed"
    assert stored.terminal == 1
    counts = collections.Counter(k for k, _ in ledger(book))
    assert len(counts) == 21
    assert max(counts.values()) <= 2
