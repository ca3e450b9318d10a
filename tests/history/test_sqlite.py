"""What only the SQLite backend promises: WAL, group commit, payloads stored once, schema versions,
readers in other processes, and clear failures when the storage misbehaves."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quorum.definition.model import thaw
from quorum.errors import ConfigurationError, StoreError
from quorum.events import EventType
from quorum.history.migrations import MIGRATIONS, migrate, schema_version
from quorum.history.sqlite import SQLiteHistoryStore

from .helpers import dead_pid, event, record, this_host

pytestmark = pytest.mark.unit

CHILD = str(Path(__file__).with_name("child_store.py"))


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_the_database_is_in_wal_mode_with_the_chosen_synchronous(tmp_path: Path) -> None:
    async with SQLiteHistoryStore(tmp_path / "h.db", synchronous="FULL") as store:
        await store.create_execution(record("e1"))
        assert raw(tmp_path / "h.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.synchronous == "FULL"
    with pytest.raises(ConfigurationError, match="NORMAL"):
        SQLiteHistoryStore(tmp_path / "x.db", synchronous="OFF")  # type: ignore[arg-type]


async def test_the_data_survives_reopening(tmp_path: Path) -> None:
    async with SQLiteHistoryStore(tmp_path / "h.db") as store:
        await store.create_execution(record("e1"))
        await store.append([event("e1", 1, EventType.EXECUTION_START), event("e1", 2)])
    async with SQLiteHistoryStore(tmp_path / "h.db") as again:
        assert [e.sequence for e in await again.read_journal("e1")] == [1, 2]
        rec = await again.get_execution("e1")
        assert rec is not None
        assert rec.status == "running"


async def test_a_closed_store_refuses_writes(tmp_path: Path) -> None:
    store = SQLiteHistoryStore(tmp_path / "h.db")
    await store.create_execution(record("e1"))
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.append([event("e1", 1)])


async def test_the_store_opens_its_directory(tmp_path: Path) -> None:
    async with SQLiteHistoryStore(tmp_path / "a" / "b" / "h.db") as store:
        await store.create_execution(record("e1"))
    assert (tmp_path / "a" / "b" / "h.db").exists()


# -- group commit ----------------------------------------------------------------------------------


@pytest.mark.concurrency
async def test_many_concurrent_executions_share_transactions(tmp_path: Path) -> None:
    n_exec, n_events = 200, 15
    async with SQLiteHistoryStore(tmp_path / "h.db") as store:
        await asyncio.gather(*(store.create_execution(record(f"e{i}")) for i in range(n_exec)))
        before = store.commits

        async def run(i: int) -> None:
            for seq in range(1, n_events + 1):
                await store.append([event(f"e{i}", seq, data={"i": i, "seq": seq})])

        await asyncio.gather(*(run(i) for i in range(n_exec)))
        commits = store.commits - before
        # 3,000 appends; committed in far fewer transactions because concurrent appends are grouped.
        assert commits < n_exec * n_events / 5
        for i in (0, 99, 199):
            journal = await store.read_journal(f"e{i}")
            assert [e.sequence for e in journal] == list(range(1, n_events + 1))
            assert {e.data["i"] for e in journal} == {i}
        stats = await store.stats()
        assert stats.events == n_exec * n_events


@pytest.mark.concurrency
async def test_several_processes_write_one_database_at_once(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path) as store:  # create the schema first
        await store.create_execution(record("seed"))
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, CHILD, "burst", str(path), f"p{n}-", "20", "40", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for n in range(3)
    ]
    for proc in procs:
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode == 0, err.decode()
        assert out.decode().strip() == "ok"
    conn = raw(path)
    rows = conn.execute(
        "SELECT execution_id, COUNT(*), MIN(sequence), MAX(sequence) FROM events GROUP BY execution_id"
    ).fetchall()
    assert len(rows) == 60
    assert {(n, lo, hi) for _eid, n, lo, hi in rows} == {(40, 1, 40)}
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.concurrency
async def test_a_refused_append_does_not_fail_the_others_in_its_group(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path) as store:
        for eid in ("good", "bad"):
            await store.create_execution(record(eid))
            await store.append([event(eid, 1, EventType.EXECUTION_START)])
        # Hold the write lock so that the appends below queue up and commit as one group.
        blocker = raw(path)
        blocker.execute("BEGIN IMMEDIATE")
        tasks = [
            asyncio.ensure_future(store.append([event("good", 2)])),
            asyncio.ensure_future(store.append([event("bad", 5)])),  # a gap
            asyncio.ensure_future(store.append([event("good", 3)])),
            asyncio.ensure_future(store.append([event("bad", 2, data={"x": object()})])),  # not JSON
        ]
        await asyncio.sleep(0.1)
        before = store.commits
        blocker.execute("COMMIT")
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert results[0] is None
        assert results[2] is None
        assert isinstance(results[1], StoreError)
        assert "gap" in str(results[1])
        assert isinstance(results[3], StoreError)
        assert "cannot store" in str(results[3])
        assert store.commits - before <= 2
        assert [e.sequence for e in await store.read_journal("good")] == [1, 2, 3]
        assert [e.sequence for e in await store.read_journal("bad")] == [1]


# -- storage ---------------------------------------------------------------------------------------


async def test_large_payloads_are_stored_once(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    big = {"report": "The committee discussed the outlook at length. " * 400}  # ~19 KB
    async with SQLiteHistoryStore(path, blob_threshold=4096) as store:
        for eid in ("a", "b"):
            await store.create_execution(record(eid))
            await store.append(
                [
                    event(eid, 1, EventType.AGENT_RESPONSE, data={"call_key": "P/0/x/0/1", "response": big}),
                    event(eid, 2, EventType.AGENT_RESPONSE, data={"call_key": "P/0/y/0/1", "response": big}),
                    event(eid, 3, data={"small": True}),
                ]
            )
        calls = await store.completed_calls("b")
        assert calls["P/0/y/0/1"]["report"] == big["report"]
        [back] = await store.read_journal("a", after=1, limit=1)
        assert back.data["response"]["report"] == big["report"]
    conn = raw(path)
    rows = conn.execute("SELECT size, codec, length(content) FROM blobs").fetchall()
    assert len(rows) == 1  # four events carry it, one copy
    size, codec, stored = rows[0]
    assert codec == "json+zlib"
    assert stored < size / 5
    assert conn.execute("SELECT COUNT(*) FROM events WHERE blobs IS NOT NULL").fetchone()[0] == 4
    # every event keeps its small inline part (call key, the markers) in its own row
    assert conn.execute("SELECT COUNT(*) FROM events WHERE data IS NOT NULL").fetchone()[0] == 6


async def test_a_long_text_is_stored_once_wherever_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    report = "".join(f"line {i}: the outlook is constructive.\n" for i in range(400))  # ~14 KB
    response = {"agent_id": "analyst", "text": report, "data": {"stance": "bullish"}}
    snapshot = {"phases": {f"P{i}": {"outputs": {"n": i, "notes": ["x" * 40] * 20}} for i in range(8)}}
    snapshot["phases"]["P0"]["responses"] = {"analyst": response}
    async with SQLiteHistoryStore(path) as store:
        await store.create_execution(record("e1"))
        events = [
            event("e1", 1, EventType.AGENT_RESPONSE, data={"call_key": "P0/0/a/0/1", "response": response}),
            event("e1", 2, EventType.PHASE_COMPLETE, data={"outputs": {"report": report}}),
            event("e1", 3, EventType.CHECKPOINT_CREATED, data={"snapshot": snapshot}),
            event("e1", 4, EventType.CHECKPOINT_CREATED, data={"snapshot": snapshot, "label": "again"}),
        ]
        conn = raw(path)
        await store.append(events[:3])
        blobs = conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
        await store.append(events[3:])
        # The second snapshot repeats the first: nothing new to store.
        assert conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == blobs
        back = await store.read_journal("e1")
        assert [thaw(e.data) for e in back] == [thaw(e.data) for e in events]
        cp = await store.latest_checkpoint("e1")
        assert cp is not None
        assert cp.data["snapshot"]["phases"]["P0"]["responses"]["analyst"]["text"] == report
    sizes = [r[0] for r in conn.execute("SELECT size FROM blobs")]
    # The report is stored once, though four events carry it (two of them twice nested).
    assert sum(1 for size in sizes if size >= len(report)) == 1
    stored = conn.execute("SELECT SUM(length(content)) FROM blobs").fetchone()[0]
    assert stored < len(report) * 1.6  # the report, plus the snapshot's parts once


async def test_prune_frees_blobs_no_longer_referenced(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    ago = {"a": 3, "b": 1, "c": 2}
    async with SQLiteHistoryStore(path, blob_threshold=100) as store:
        for eid, text in (("a", "shared" * 50), ("b", "shared" * 50), ("c", "own" * 50)):
            await store.create_execution(record(eid, created_at=time.time() - 100))
            await store.append(
                [
                    event(eid, 1, EventType.EXECUTION_START),
                    event(eid, 2, data={"text": text}),
                    event(eid, 3, EventType.EXECUTION_COMPLETE, ts=time.time() - ago[eid]),
                ]
            )
        assert raw(path).execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == 2
        assert await store.prune(keep=1) == 2  # a and c go; b (newest) keeps the shared blob
        assert raw(path).execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == 1
        [kept] = await store.read_journal("b", after=1, limit=1)
        assert kept.data["text"] == "shared" * 50
        assert await store.integrity_check() == ["ok"]


async def test_a_task_definition_is_stored_once_and_freed_with_its_last_execution(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    definition = {"name": "committee", "phases": [{"name": f"P{i}", "text": "x" * 200} for i in range(10)]}
    async with SQLiteHistoryStore(path) as store:
        for i, ended in enumerate((time.time() - 100, time.time() - 50)):
            eid = f"e{i}"
            await store.create_execution(record(eid, task_definition=definition, created_at=ended - 1))
            await store.append(
                [
                    event(eid, 1, EventType.EXECUTION_START),
                    event(eid, 2, EventType.EXECUTION_COMPLETE, ts=ended),
                ]
            )
        conn = raw(path)
        assert conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == 1
        assert await store.prune(keep=1) == 1
        assert conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == 1  # e1 still uses it
        rec = await store.get_execution("e1")
        assert rec is not None
        assert thaw(rec.task_definition) == definition
        assert await store.prune(keep=0) == 1
        assert conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == 0


async def test_history_size_grows_linearly_with_work(tmp_path: Path) -> None:
    async def size_after(n: int, name: str) -> int:
        async with SQLiteHistoryStore(tmp_path / name) as store:
            for i in range(n):
                eid = f"e{i}"
                await store.create_execution(record(eid))
                await store.append(
                    [event(eid, 1, EventType.EXECUTION_START)]
                    + [
                        event(eid, s, EventType.AGENT_RESPONSE,
                              data={"call_key": f"P/0/a{s}/0/1", "response": {"text": f"answer {s}" * 5}})
                        for s in range(2, 20)
                    ]
                    + [event(eid, 20, EventType.EXECUTION_COMPLETE, data={"verdict": {"i": i}})]
                )
            await store.vacuum()
            stats = await store.stats()
            assert stats.bytes is not None
            return stats.bytes

    small, large = await size_after(100, "a.db"), await size_after(400, "b.db")
    assert 3.0 < large / small < 5.0


async def test_cumulative_checkpoints_store_each_part_once(tmp_path: Path) -> None:
    """Each checkpoint snapshots every phase completed so far, so the payloads grow with the square of
    the phases; each phase's part is stored once, and only a small index of it repeats."""

    async def stored_and_raw(phases: int) -> tuple[int, int]:
        path = tmp_path / f"p{phases}.db"
        raw_bytes = 0
        async with SQLiteHistoryStore(path) as store:
            await store.create_execution(record("e1"))
            done: dict[str, object] = {}
            for i in range(phases):
                done[f"Phase{i}"] = {
                    "status": "completed",
                    "outputs": {"value": i, "notes": [f"note {i}-{j}" for j in range(100)]},
                }
                data = {"snapshot": {"phases": done}}
                raw_bytes += len(json.dumps(data, separators=(",", ":")))
                await store.append([event("e1", i + 1, EventType.CHECKPOINT_CREATED, data=data)])
            [last] = await store.read_journal("e1", after=phases - 1)
            assert thaw(last.data) == json.loads(json.dumps(data))
        conn = raw(path)
        inline = conn.execute("SELECT SUM(length(data)) FROM events").fetchone()[0]
        blobs = conn.execute("SELECT COALESCE(SUM(length(content)), 0) FROM blobs").fetchone()[0]
        return int(inline + blobs), raw_bytes

    (small, small_raw), (large, large_raw) = await stored_and_raw(10), await stored_and_raw(40)
    assert large_raw / small_raw > 14  # the payloads: quadratic
    assert large / small < 6  # what is stored: close to linear (4x), the repeated index is small
    assert large < large_raw / 5


_JSON_LEAVES = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=90)
)
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=6), inner, max_size=6),
    max_leaves=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(st.dictionaries(st.text(max_size=8), _JSON, max_size=6), min_size=1, max_size=4))
def test_any_payload_round_trips_however_it_is_taken_apart(
    tmp_path_factory: pytest.TempPathFactory, payloads: list[dict[str, object]]
) -> None:
    path = tmp_path_factory.mktemp("rt") / "h.db"

    async def run() -> list[object]:
        # A tiny threshold: most payloads are taken apart, parts shared between the events.
        async with SQLiteHistoryStore(path, blob_threshold=48) as store:
            await store.create_execution(record("e1"))
            events = [event("e1", i + 1, data=p) for i, p in enumerate(payloads + payloads)]
            await store.append(events)
            return [thaw(e.data) for e in await store.read_journal("e1")]

    expected = [json.loads(json.dumps(p)) for p in payloads + payloads]
    assert asyncio.run(run()) == expected


@settings(max_examples=60, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=8), _JSON, max_size=6))
def test_a_payload_encodes_alike_whole_or_in_parts(payload: dict[str, object]) -> None:
    """The two encodings of ``encode_event_data`` (whole, or part by part as a checkpoint's payload is)
    give the same JSON, leaf types included."""
    from quorum.history import _sqlite_blobs as blobs

    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn, path=":memory:")
    kinds = ("t:whole", EventType.CHECKPOINT_CREATED)
    texts = [blobs.encode_event_data(conn, kind, payload, 10**9)[0] for kind in kinds]
    assert texts[0] == texts[1] == json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


# -- schema versions -------------------------------------------------------------------------------


async def test_an_older_schema_is_migrated_in_order_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    conn = raw(path)
    conn.execute("BEGIN IMMEDIATE")
    migrate(conn, path=str(path), migrations=MIGRATIONS[:1])
    now = time.time()
    conn.execute(
        "INSERT INTO executions (id, task, status, created_at, updated_at)"
        " VALUES ('old', 't', 'running', ?, ?)",
        (now, now),
    )
    conn.execute(
        "INSERT INTO events (execution_id, sequence, type, timestamp, data)"
        " VALUES ('old', 1, 'x', ?, '{\"a\":1}')",
        (now,),
    )
    conn.execute("UPDATE executions SET last_sequence = 1")
    conn.execute("COMMIT")
    assert schema_version(conn) == 1
    async with SQLiteHistoryStore(path) as store:
        [e] = await store.read_journal("old")
        assert dict(e.data) == {"a": 1}
        await store.append([event("old", 2, data={"big": "z" * 10_000})])
        assert (await store.read_journal("old", after=1))[0].data["big"] == "z" * 10_000
    assert schema_version(conn) == len(MIGRATIONS)


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    raw(path).execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer than this quorum knows"):
        await SQLiteHistoryStore(path).open()


async def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 100)
    store = SQLiteHistoryStore(path)
    with pytest.raises(StoreError, match="not a usable quorum history database"):
        await store.create_execution(record("e1"))
    assert path.read_text().startswith("these are my notes")


# -- other processes -------------------------------------------------------------------------------


@pytest.mark.concurrency
async def test_another_process_tails_the_journal_while_we_write(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    last = 300
    async with SQLiteHistoryStore(path) as store:
        await store.create_execution(record("e1"))
        await store.append([event("e1", 1, EventType.EXECUTION_START)])
        reader = await asyncio.create_subprocess_exec(
            sys.executable, CHILD, "tail", str(path), "e1", str(last), stdout=asyncio.subprocess.PIPE
        )
        for seq in range(2, last + 1, 3):
            await store.append([event("e1", s) for s in range(seq, min(seq + 3, last + 1))])
            await asyncio.sleep(0.001)
        out, _ = await asyncio.wait_for(reader.communicate(), 60)
    assert reader.returncode == 0
    assert out.decode().split() == ["seen", str(last), "True"]


@pytest.mark.concurrency
async def test_a_reader_holding_a_snapshot_never_blocks_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path, busy_timeout_s=0.5) as store:
        await store.create_execution(record("e1"))
        reader = raw(path)
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
        # A blocked writer would wait out the 0.5 s busy timeout and raise StoreError (the reader keeps its
        # snapshot until after): that the append returns at all is the check, no clock needed.
        await store.append([event("e1", n) for n in range(1, 101)])
        # The reader still sees its snapshot; a new read sees the events.
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
        reader.execute("COMMIT")
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 100


@pytest.mark.concurrency
async def test_control_requests_from_another_process(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path) as store:
        await store.create_execution(record("e1"))
        await store.append([event("e1", 1, EventType.EXECUTION_START)])
        proc = await asyncio.create_subprocess_exec(
            sys.executable, CHILD, "control", str(path), "e1", "abort", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert out.decode().strip() == "sent"
        [req] = await store.take_control_requests("e1")
        assert (req.action, req.reason) == ("abort", "from another process")


@pytest.mark.concurrency
async def test_processes_racing_to_recover_an_orphan_exactly_one_wins(tmp_path: Path) -> None:
    path, go = tmp_path / "h.db", tmp_path / "go"
    async with SQLiteHistoryStore(path) as store:
        await store.create_execution(record("e1"))
        await store.append([event("e1", 1, EventType.EXECUTION_START)])
        await store.acquire_lease("e1", f"{this_host()}:{dead_pid()}:crashed", ttl_s=3600)
        assert [r.id for r in await store.list_orphans()] == ["e1"]
        racers = [
            await asyncio.create_subprocess_exec(
                sys.executable, CHILD, "race", str(path), "e1", str(go), stdout=asyncio.subprocess.PIPE
            )
            for _ in range(4)
        ]
        for racer in racers:  # all four have opened the database and wait at the barrier
            assert racer.stdout is not None
            assert (await asyncio.wait_for(racer.stdout.readline(), 60)) == b"ready\n"
        go.touch()
        outputs = []
        for racer in racers:
            assert racer.stdout is not None
            outputs.append((await asyncio.wait_for(racer.stdout.readline(), 60)).decode().strip())
        # All four have tried while every one of them is still alive: exactly one drives it.
        assert sorted(outputs) == ["lost", "lost", "lost", "won 2"]
        (tmp_path / "go.end").touch()
        for racer in racers:
            await asyncio.wait_for(racer.wait(), 60)
        rec = await store.get_execution("e1")
        assert rec is not None
        assert (rec.epoch, rec.recovery_attempts) == (2, 1)
        # The winner has exited since, without releasing: the execution is an orphan again.
        [orphan] = await store.list_orphans()
        assert orphan.owner is not None
        assert orphan.owner.split(":")[1] in {str(p.pid) for p in racers}


# -- injected storage errors -----------------------------------------------------------------------


@pytest.mark.errors
async def test_a_lock_held_longer_than_the_busy_timeout_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path, busy_timeout_s=0.3) as store:
        await store.create_execution(record("e1"))
        holder = raw(path)
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"locked by another process for more than 0.3s") as info:
            await asyncio.wait_for(store.append([event("e1", 1)]), 10)
        assert "database is locked" not in str(info.value)
        # It waited out the timeout (a lower bound: load cannot break it); the upper bound, 10x the
        # timeout, only catches waiting again and again, not slowness.
        assert 0.25 < time.monotonic() - started < 10 * 0.3
        holder.execute("ROLLBACK")
        # The store is not stuck: the next append goes through, the journal has no hole.
        await store.append([event("e1", 1)])
        assert [e.sequence for e in await store.read_journal("e1")] == [1]


@pytest.mark.errors
@pytest.mark.concurrency
async def test_writes_queued_behind_a_lock_commit_in_order(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path, busy_timeout_s=5) as store:
        await store.create_execution(record("e1"))
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        writes = []
        for seq in range(1, 51):
            # One append per loop turn, none awaited: some find the lock, later ones must queue behind.
            writes.append(asyncio.ensure_future(store.append([event("e1", seq)])))
            await asyncio.sleep(0)
        release = threading.Timer(0.2, lambda: holder.execute("COMMIT"))
        release.start()
        await asyncio.gather(*writes)
        release.join()
        assert [e.sequence for e in await store.read_journal("e1")] == list(range(1, 51))


@pytest.mark.errors
async def test_a_short_lock_is_waited_out(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path, busy_timeout_s=5) as store:
        await store.create_execution(record("e1"))
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
        release.start()
        await store.append([event("e1", 1)])
        release.join()
        assert [e.sequence for e in await store.read_journal("e1")] == [1]


@pytest.mark.errors
async def test_a_full_disk_is_a_clear_error_and_the_journal_stays_whole(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with SQLiteHistoryStore(path, max_bytes=256 * 1024) as store:
        await store.create_execution(record("e1"))
        seq = 0
        failure: StoreError | None = None
        for _ in range(1000):
            try:
                await store.append([event("e1", seq + 1, data={"text": os.urandom(3000).hex()})])
            except StoreError as exc:
                failure = exc
                break
            seq += 1
        assert failure is not None
        assert "is full" in str(failure)
        assert "prune" in str(failure)
        assert seq > 5
        journal = await store.read_journal("e1")
        assert [e.sequence for e in journal] == list(range(1, seq + 1))
        rec = await store.get_execution("e1")
        assert rec is not None
        assert rec.last_sequence == seq
        assert await store.integrity_check() == ["ok"]


# -- crashes ---------------------------------------------------------------------------------------


@pytest.mark.errors
@pytest.mark.integration
@pytest.mark.parametrize("trial", range(4))
def test_sigkill_of_a_writer_leaves_a_sound_gap_free_journal(tmp_path: Path, trial: int) -> None:
    path = tmp_path / "h.db"
    n_exec = 8
    committed = 0
    target = 20 + trial * 37  # kill at a different point in every trial
    with subprocess.Popen(
        [sys.executable, CHILD, "write", str(path), str(n_exec)], stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            committed = int(line.split()[1])
            if committed >= target:
                break
        proc.kill()  # SIGKILL: no cleanup, no flush, in the middle of appends
        proc.wait()
    assert committed >= target
    conn = raw(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for i in range(n_exec):
        rows = conn.execute(
            "SELECT sequence FROM events WHERE execution_id = ? ORDER BY sequence", (f"w{i}",)
        ).fetchall()
        sequences = [r[0] for r in rows]
        last = conn.execute("SELECT last_sequence FROM executions WHERE id = ?", (f"w{i}",)).fetchone()[0]
        # Everything reported as committed is there; the row agrees with the journal; no holes.
        assert last >= committed
        assert sequences == list(range(1, last + 1))
        calls = conn.execute("SELECT COUNT(*) FROM calls WHERE execution_id = ?", (f"w{i}",)).fetchone()[0]
        assert calls == last - 1
