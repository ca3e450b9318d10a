"""Crash recovery with real processes: SIGKILL a run at random moments and at chosen points, resume it
in a new process, and check after every trial that

- the database is sound (``PRAGMA integrity_check``) and the journal has no gap;
- the final result equals the one of an uncrashed run;
- every call recorded as complete before the kill ran exactly once (the ledger says so);
- only calls in flight at the kill ran twice, and none more than twice;
- the final outcome is recorded once.

The child program is ``crash_child.py``; its agents write one ledger line per call they really run.
"""

from __future__ import annotations

import collections
import json
import random
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from quorum.history._sqlite_blobs import decode_payload

CHILD = str(Path(__file__).with_name("crash_child.py"))
pytestmark = [
    pytest.mark.integration,
    pytest.mark.errors,
]

TERMINAL_EVENTS = {"execution:complete", "execution:error", "execution:timeout", "execution:aborted"}

# Chosen points (see crash_child.py): before/after an agent's side effect, while a checkpoint is being
# made or written, right after a completion became durable, around the final outcome.
CHOSEN = [
    "before-call:1",
    "before-call:9",
    "before-call:15",
    "after-call:1",
    "after-call:8",
    "after-call:12",
    "after-call:21",
    "event:agent:response:4",
    "event:agent:response:10",
    "event:phase:complete:1",
    "event:checkpoint:created:1",
    "event:checkpoint:created:2",
    "event:execution:complete:1",
    "in-append:agent:response:3",
    "in-append:agent:response:17",
    "in-append:checkpoint:created:1",
    "in-append:checkpoint:created:3",
    "in-append:execution:complete:1",
    "after-append:execution:start:1",
    "after-append:agent:response:6",
    "after-append:agent:response:14",
    "after-append:checkpoint:created:2",
    "after-append:phase:complete:3",
    "after-append:execution:complete:1",
]
RANDOM_TRIALS = 30


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Any
    outputs: dict[str, Any]
    duration_s: float


def child(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, CHILD, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def read_outcome(conn: sqlite3.Connection, eid: str) -> tuple[str, Any, dict[str, Any]]:
    """(status, verdict, {phase: outputs of its last phase:complete}) from the database."""
    status, verdict = conn.execute("SELECT status, verdict FROM executions WHERE id = ?", (eid,)).fetchone()
    outputs: dict[str, Any] = {}
    cache: dict[str, Any] = {}
    for phase, data, blobs in conn.execute(
        "SELECT phase, data, blobs FROM events WHERE execution_id = ? AND type = 'phase:complete'"
        " ORDER BY sequence",
        (eid,),
    ):
        payload = decode_payload(conn, data, blobs, cache) or {}
        outputs[phase] = payload.get("outputs")
    return status, None if verdict is None else json.loads(verdict), outputs


def check_journal(conn: sqlite3.Connection, eid: str) -> None:
    sequences = [r[0] for r in conn.execute(
        "SELECT sequence FROM events WHERE execution_id = ? ORDER BY sequence", (eid,)
    )]
    last = conn.execute("SELECT last_sequence FROM executions WHERE id = ?", (eid,)).fetchone()[0]
    assert sequences == list(range(1, last + 1)), "the journal has a gap or the row disagrees with it"


def ledger(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    return [(k, int(p)) for k, p in (line.split() for line in path.read_text().splitlines())]


def race(db: Path, book: Path, eid: str, racers: int, expect: str) -> None:
    """Several processes resume the same execution at once: exactly one drives it; the others are
    refused (it is owned by a live process, or it has already ended)."""
    procs = [
        subprocess.Popen(
            [sys.executable, CHILD, "resume", str(db), str(book), eid],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(racers)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    drove = [out for (out, _err), p in zip(outputs, procs, strict=True) if p.returncode == 0]
    refused = [err for (_out, err), p in zip(outputs, procs, strict=True) if p.returncode != 0]
    assert len(drove) == 1, f"{len(drove)} processes drove the execution"
    assert drove[0].splitlines()[-1] == f"done {expect}"
    assert all("ResumeRefusedError" in err for err in refused), refused


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    return make_baseline(tmp_path_factory.mktemp("baseline"))


def make_baseline(tmp: Path) -> Outcome:
    """An uncrashed run: its verdict, its phases' outputs and how long it ran."""
    args = [sys.executable, CHILD, "run", str(tmp / "h.db"), str(tmp / "ledger")]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        started = time.monotonic()  # the execution exists: from here on its run is timed
        last = proc.stdout.readline()
        duration = time.monotonic() - started
        assert proc.wait(60) == 0
    assert last.strip() == "done completed"
    eid = first.split()[1]
    conn = sqlite3.connect(tmp / "h.db")
    status, verdict, outputs = read_outcome(conn, eid)
    assert status == "completed"
    assert verdict is not None
    counts = collections.Counter(k for k, _ in ledger(tmp / "ledger"))
    assert len(counts) == 21
    assert set(counts.values()) == {1}
    return Outcome(verdict=verdict, outputs=outputs, duration_s=duration)


def trial(
    tmp: Path,
    base: Outcome,
    *,
    kill: str | None = None,
    delay_s: float | None = None,
    options: tuple[str, ...] = (),
    resume_options: tuple[str, ...] = (),
    expect: str = "completed",
    racers: int = 1,
) -> None:
    db, book = tmp / "h.db", tmp / "ledger"
    args = [CHILD, "run", str(db), str(book), *options] + (["--kill", kill] if kill else [])
    with subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True) as first:
        assert first.stdout is not None
        if delay_s is not None:
            line = first.stdout.readline()  # "id ...": the execution exists; now the clock runs
            if line.startswith("id "):
                time.sleep(delay_s)
            first.kill()
        first.wait(60)
        first_pid = first.pid

    conn = sqlite3.connect(db, isolation_level=None)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    row = conn.execute("SELECT id, status FROM executions").fetchone()
    before = ledger(book)
    if row is None:
        # Killed before the execution was recorded: nothing ran, nothing to resume; start again.
        assert before == []
        again = child("run", str(db), str(book))
        assert again.returncode == 0, again.stderr
        row = conn.execute("SELECT id, status FROM executions").fetchone()
    eid, status = row
    check_journal(conn, eid)
    recorded = {r[0] for r in conn.execute("SELECT call_key FROM calls WHERE execution_id = ?", (eid,))}

    if status not in ("completed", "failed", "aborted", "timeout") and racers == 1:
        resumed = child("resume", str(db), str(book), eid, *resume_options)
        assert resumed.returncode == 0, f"resume failed after kill={kill} delay={delay_s}:\n{resumed.stderr}"
        assert resumed.stdout.splitlines()[-1] == f"done {expect}"
    elif status not in ("completed", "failed", "aborted", "timeout"):
        race(db, book, eid, racers, expect)

    # The database and the journal.
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check_journal(conn, eid)
    terminal = conn.execute(
        f"SELECT COUNT(*) FROM events WHERE execution_id = ? AND type IN ({','.join('?' * 4)})",
        (eid, *sorted(TERMINAL_EVENTS)),
    ).fetchone()[0]
    assert terminal == 1, "the final outcome must be recorded exactly once"

    status, verdict, outputs = read_outcome(conn, eid)
    assert status == expect
    if expect == "completed":  # the result of an uncrashed run
        assert verdict == base.verdict
        assert outputs == base.outputs

    # The ledger: each call ran; recorded ones exactly once; only those in flight twice.
    runs = ledger(book)
    counts = collections.Counter(k for k, _ in runs)
    ran_first = {k for k, pid in runs if pid == first_pid}
    if expect == "completed":
        assert len(counts) == 21, "every call ran"
    for key in recorded:
        assert counts[key] == 1, f"{key} was recorded complete before the kill yet ran {counts[key]} times"
    for key, n in counts.items():
        assert n <= 2, f"{key} ran {n} times"
        if n == 2:
            assert key in ran_first, f"{key} ran twice without running before the kill"
            assert key not in recorded
    conn.close()


@pytest.mark.parametrize("kill", CHOSEN)
def test_kill_at_a_chosen_point_then_resume(tmp_path: Path, baseline: Outcome, kill: str) -> None:
    trial(tmp_path, baseline, kill=kill)


@pytest.mark.concurrency
@pytest.mark.parametrize("kill", ["after-call:3", "after-call:11", "event:checkpoint:created:2"])
def test_processes_racing_to_resume_after_a_crash_exactly_one_drives(
    tmp_path: Path, baseline: Outcome, kill: str
) -> None:
    trial(tmp_path, baseline, kill=kill, racers=3)


@pytest.mark.parametrize("at", [1, 6, 10, 16])
def test_kill_while_paused_then_resume(tmp_path: Path, baseline: Outcome, at: int) -> None:
    trial(tmp_path, baseline, kill="after-append:execution:paused:1", options=("--pause-at", str(at)))


@pytest.mark.parametrize("at", [2, 12, 18])
def test_an_abort_asked_before_the_crash_is_honoured_after_it(
    tmp_path: Path, baseline: Outcome, at: int
) -> None:
    # The resumed process polls for control requests only every 30 s: the abort must be taken at
    # resume, not by luck of a poll.
    trial(
        tmp_path, baseline, options=("--abort-at", str(at)), resume_options=("--control-poll", "30"),
        expect="aborted",
    )


def test_kill_before_the_start_is_recorded_then_resume(tmp_path: Path, baseline: Outcome) -> None:
    # The row (with the task definition) exists, its journal is empty: still resumable.
    trial(tmp_path, baseline, kill="in-append:execution:start:1")


@pytest.mark.parametrize("seed", range(RANDOM_TRIALS))
def test_kill_at_a_random_moment_then_resume(tmp_path: Path, baseline: Outcome, seed: int) -> None:
    # Spread the kills over the run (timed from the moment the execution exists), a few after its end.
    delay = random.Random(seed).uniform(0.0, 1.2 * baseline.duration_s)
    trial(tmp_path, baseline, delay_s=delay)
