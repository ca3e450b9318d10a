"""kill -9 of a process driving a parent and its children; recovery from another process.

The parent's children for A and B have completed and C's is in its second phase when the process is
killed. ``recover()`` in a new process takes the parent over; its step re-attaches to the children
(A and B: their results from the history; C: resumed from its journal) instead of starting new ones,
and ``recover`` does not drive C a second time beside it. The agents' own ledger says no call that had
completed ran again, and each execution completed exactly once.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from quorum.engine.children import child_execution_id

from .helpers import parent, write_tasks

PROGRAM = Path(__file__).with_name("crash_parent.py")


def _statuses(db: Path, ids: Sequence[str]) -> dict[str, str]:
    if not db.exists():
        return {}
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            f"SELECT id, status FROM executions WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _events(db: Path, execution_id: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT type FROM events WHERE execution_id = ? ORDER BY sequence",
                            (execution_id,)).fetchall()
    return [str(r[0]) for r in rows]


def test_a_parent_and_its_children_killed_and_recovered_complete_once_without_repeating_a_call(
    tmp_path: Path,
) -> None:
    tasks = write_tasks(tmp_path, parent("- task: review foreach=input.tickers input.ticker={{ item }}",
                                         phase_options="parallel: true"))
    db, ledger = tmp_path / "h.db", tmp_path / "ledger.txt"
    args = [str(db), str(ledger), str(tasks)]
    with (tmp_path / "run.err").open("w") as err, subprocess.Popen(
        [sys.executable, str(PROGRAM), "run", *args], stdout=subprocess.PIPE, stderr=err, text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline().split()
            assert first[:1] == ["id"], (first, (tmp_path / "run.err").read_text())
            parent_id = first[1]
            kids = [child_execution_id(parent_id, "Children", 0, i, 1) for i in range(3)]
            assert proc.stdout.readline().strip() == "blocked C"
            deadline = time.monotonic() + 30
            while _statuses(db, kids[:2]) != {kids[0]: "completed", kids[1]: "completed"}:
                assert time.monotonic() < deadline, _statuses(db, kids)
                time.sleep(0.02)
            # C's first phase (its reviewer's answer) is durable before the kill
            while "phase:complete" not in _events(db, kids[2]):
                assert time.monotonic() < deadline
                time.sleep(0.02)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
    assert _statuses(db, [parent_id, kids[2]]) == {parent_id: "running", kids[2]: "running"}

    recovered = subprocess.run([sys.executable, str(PROGRAM), "recover", *args], capture_output=True,
                               text=True, timeout=60, check=False)
    assert recovered.returncode == 0, recovered.stderr
    assert recovered.stdout.split("\n")[0] == f"recovered {parent_id} completed", recovered.stdout
    assert len(recovered.stdout.strip().splitlines()) == 1  # recover drove the parent, not C beside it

    assert _statuses(db, [parent_id, *kids]) == dict.fromkeys([parent_id, *kids], "completed")
    for execution_id in (parent_id, *kids):
        assert _events(db, execution_id).count("execution:complete") == 1
    with sqlite3.connect(db) as conn:
        linked = conn.execute("SELECT id FROM executions WHERE parent_id = ?", (parent_id,)).fetchall()
    assert sorted(r[0] for r in linked) == sorted(kids)  # no child was started anew
    assert _events(db, kids[2]).count("execution:resumed") == 1

    lines = [line.split() for line in ledger.read_text().splitlines()]
    done = Counter((agent, ticker) for kind, agent, ticker, _ in lines if kind == "done")
    started = Counter((agent, ticker) for kind, agent, ticker, _ in lines if kind == "start")
    # every call completed once, across both processes: none that had completed ran again
    assert done == Counter({(a, t): 1 for a in ("reviewer", "decider") for t in "ABC"})
    # only C's decider, in flight at the kill, was asked twice
    assert started == done + Counter({("decider", "C"): 1})
