"""What the PostgreSQL store does beyond the contract suite: URLs and secrets, migrations under a lock,
group commit, SKIP LOCKED among recoverers, LISTEN/NOTIFY, and lost connections."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import pytest

from quorum.errors import ConfigurationError, LeaseLostError, StoreError
from quorum.events import EventType
from quorum.history._pg_schema import MIGRATIONS
from quorum.history.base import ChangeFeed, HistoryStore
from quorum.history.memory import MemoryHistoryStore
from quorum.history.postgres import PostgresHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.history.stores import open_store
from tests.servers import require_postgres

from .helpers import dead_pid, event, record, this_host
from .pg import fresh_schema, terminate_store_connections

pytestmark = pytest.mark.integration

CHILD = str(Path(__file__).with_name("child_pg.py"))
SECRET = "hunter2-canary"


async def _connect(schema: str) -> asyncpg.Connection:
    return await asyncpg.connect(require_postgres(), server_settings={"search_path": schema})


def _popen(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


# -- URLs and secrets -----------------------------------------------------------------------------------


def test_both_schemes_open_the_postgresql_store() -> None:
    for url in ("postgresql://root@127.0.0.1/test", "postgres://root@127.0.0.1/test?schema=s1&pool_max=3"):
        opened = open_store(url)
        assert isinstance(opened, HistoryStore)
        assert isinstance(opened, ChangeFeed)
        assert isinstance(opened, PostgresHistoryStore)
        store = opened
    assert store.settings.schema == "s1"
    assert store.settings.pool_max == 3
    assert "schema" not in store.settings.dsn
    assert "pool_max" not in store.settings.dsn


def test_memory_and_sqlite_have_no_change_feed(tmp_path: Path) -> None:
    assert not isinstance(MemoryHistoryStore(), ChangeFeed)
    assert not isinstance(SQLiteHistoryStore(tmp_path / "h.db"), ChangeFeed)


@pytest.mark.errors
def test_without_asyncpg_the_url_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # import asyncpg now fails as if not installed
    monkeypatch.delitem(sys.modules, "quorum.history.postgres", raising=False)
    with pytest.raises(ConfigurationError, match=r"pip install 'quorum\[postgres\]'") as info:
        open_store(f"postgresql://u:{SECRET}@host/db")
    assert SECRET not in str(info.value)
    assert "postgresql://u:***@host/db" in str(info.value)


@pytest.mark.errors
@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://quorum:{SECRET}@127.0.0.1:1/test",  # nothing listens on port 1
        f"postgresql://quorum:{SECRET}@no-such-host.invalid/test?connect_timeout=3",
        f"postgresql://root:{SECRET}@127.0.0.1/no_such_database_here",
        f"postgresql://127.0.0.1/no_such_database_here?user=root&password={SECRET}",
    ],
)
async def test_a_failed_connection_is_a_clear_error_without_the_password(url: str) -> None:
    require_postgres()
    store = PostgresHistoryStore(url)
    with pytest.raises(StoreError, match="cannot connect to the PostgreSQL history") as info:
        await store.list_executions()
    text = str(info.value) + repr(info.value) + str(info.value.__cause__) + str(info.value.__context__)
    assert SECRET not in text
    assert "***" in str(info.value)
    assert SECRET not in repr(store)


# -- migrations ---------------------------------------------------------------------------------------------


async def test_opening_migrates_once_and_records_each_version() -> None:
    async with fresh_schema() as url:
        first = PostgresHistoryStore(url)
        await first.open()
        second = PostgresHistoryStore(url)
        await second.open()
        assert (first.migrations_applied, second.migrations_applied) == (len(MIGRATIONS), 0)
        conn = await _connect(first.settings.schema)
        try:
            rows = await conn.fetch("SELECT version, name FROM quorum_migrations ORDER BY version")
        finally:
            await conn.close()
        assert [(r[0], r[1]) for r in rows] == [(i + 1, m.name) for i, m in enumerate(MIGRATIONS)]
        await first.close()
        await second.close()


async def test_migrating_waits_for_the_advisory_lock() -> None:
    async with fresh_schema() as url:
        store = PostgresHistoryStore(url)
        holder = await asyncpg.connect(require_postgres())
        try:
            key = f"quorum:migrate:{store.settings.schema}"
            await holder.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", key)
            opening = asyncio.create_task(store.open())
            await asyncio.sleep(0.5)
            assert not opening.done(), "the migration ran while another process held the lock"
            await holder.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
            await asyncio.wait_for(opening, 10)
        finally:
            await holder.close()
        assert store.migrations_applied == len(MIGRATIONS)
        await store.close()


@pytest.mark.concurrency
async def test_processes_opening_a_new_schema_at_once_migrate_it_once(tmp_path: Path) -> None:
    async with fresh_schema() as url:
        go = tmp_path / "go"
        procs = [_popen("migrate", url, str(go)) for _ in range(4)]
        await asyncio.sleep(1.0)  # all four started and waiting
        go.touch()
        outs = [p.communicate(timeout=60) for p in procs]
        assert all(p.returncode == 0 for p in procs), [err for _out, err in outs]
        applied = sorted(int(out.split()[-1]) for out, _err in outs)
        assert applied == [0, 0, 0, len(MIGRATIONS)]


# -- group commit and fencing --------------------------------------------------------------------------------


async def test_concurrent_appends_share_transactions() -> None:
    async with fresh_schema() as url, PostgresHistoryStore(url) as store:
        ids = [f"e{i}" for i in range(40)]
        for eid in ids:
            await store.create_execution(record(eid))
        before = store.commits
        for seq in range(1, 6):
            await asyncio.gather(*(store.append([event(eid, seq)]) for eid in ids))
        assert store.commits - before < 40  # 200 appends; one transaction per batch
        for eid in ids:
            assert [e.sequence for e in await store.read_journal(eid)] == [1, 2, 3, 4, 5]


async def test_a_refused_append_in_a_batch_leaves_the_others_written() -> None:
    async with fresh_schema() as url, PostgresHistoryStore(url) as store:
        for eid in ("a", "b", "c"):
            await store.create_execution(record(eid))
        results = await asyncio.gather(
            store.append([event("a", 1)]), store.append([event("b", 2)]), store.append([event("c", 1)]),
            return_exceptions=True,
        )
        assert results[0] is None
        assert results[2] is None
        assert isinstance(results[1], StoreError)
        assert "gap" in str(results[1])
        assert [len(await store.read_journal(e)) for e in ("a", "b", "c")] == [1, 0, 1]


async def test_a_write_from_another_store_is_never_overwritten() -> None:
    """A store writes by what it last saw of a row; the statement's fence refuses a row that another
    process changed meanwhile (a new epoch, a longer journal), and the rules are applied to what is
    really there."""
    async with fresh_schema() as url, PostgresHistoryStore(url) as first, PostgresHistoryStore(url) as other:
        await first.create_execution(record("e1"))
        mine = await first.acquire_lease("e1", "elsewhere:1:a", ttl_s=0.0)
        assert mine is not None
        await first.append([event("e1", 1, EventType.EXECUTION_START)], epoch=mine.epoch)  # cached here
        taken = await other.acquire_lease("e1", f"{this_host()}:{dead_pid()}:n", ttl_s=60)
        assert taken is not None
        await other.append([event("e1", 2)], epoch=taken.epoch)
        with pytest.raises(LeaseLostError):
            await first.append([event("e1", 2)], epoch=mine.epoch)
        with pytest.raises(StoreError, match="a duplicate"):
            await first.append([event("e1", 2)])
        await first.append([event("e1", 3)], epoch=taken.epoch)  # the row as it is now: accepted
        assert [e.sequence for e in await other.read_journal("e1")] == [1, 2, 3]
        rec = await other.get_execution("e1")
        assert rec is not None
        assert (rec.last_sequence, rec.epoch) == (3, taken.epoch)


async def test_an_execution_costs_two_writes_from_start_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """Created with its lease (one statement), its end written with the lease's end (one statement): the
    release after it knows there is nothing left to do and sends nothing. A store that did not write the
    end (another process's) still sends the release, which then changes nothing."""
    from quorum.history import _pg_ops

    sent: list[str] = []
    real_release = _pg_ops.release_lease

    async def counted_release(conn: object, lease: object) -> None:
        sent.append("release")
        await real_release(conn, lease)  # type: ignore[arg-type]

    monkeypatch.setattr(_pg_ops, "release_lease", counted_release)
    owner = f"{this_host()}:{dead_pid()}:n"
    async with fresh_schema() as url, PostgresHistoryStore(url) as store, PostgresHistoryStore(url) as other:
        lease = await store.create_execution(record("e1"), owner=owner, ttl_s=60)
        assert lease is not None
        commits = store.commits
        await store.append(
            [event("e1", 1, EventType.EXECUTION_START), event("e1", 2, EventType.EXECUTION_COMPLETE)],
            epoch=lease.epoch,
        )
        assert store.commits == commits + 1
        await store.release_lease(lease)
        assert sent == []
        await other.release_lease(lease)
        assert sent == ["release"]
        # a lease of an execution that has not ended is released by a statement, as always
        paused = await store.create_execution(record("e2"), owner=owner, ttl_s=60)
        assert paused is not None
        await store.append(
            [event("e2", 1, EventType.EXECUTION_START), event("e2", 2, EventType.EXECUTION_PAUSED)],
            epoch=paused.epoch,
        )
        await store.release_lease(paused)
        assert sent == ["release", "release"]
        rows = {str(r.id): r for r in await other.list_executions(limit=5)}
        assert (rows["e1"].owner, rows["e1"].status) == (None, "completed")
        assert (rows["e2"].owner, rows["e2"].status) == (None, "paused")


async def test_claiming_orphans_by_status_and_leaving_some_out() -> None:
    dead = f"{this_host()}:{dead_pid()}:n"
    async with fresh_schema() as url, PostgresHistoryStore(url) as store:
        for eid, last in (("run1", EventType.PHASE_START), ("run2", EventType.PHASE_START),
                          ("held", EventType.EXECUTION_PAUSED)):
            assert await store.create_execution(record(eid), owner=dead, ttl_s=3600) is not None
            await store.append([event(eid, 1, EventType.EXECUTION_START), event(eid, 2, last)])
        untouched = {str(r.id): r for r in await store.list_executions(limit=5)}
        leases = await store.claim_orphans("me:1:n", ttl_s=60, statuses=["running"], exclude=["run2"])
        assert [lease.execution_id for lease in leases] == ["run1"]
        after = {str(r.id): r for r in await store.list_executions(limit=5)}
        assert after["run1"].owner == "me:1:n"
        for eid in ("run2", "held"):  # not written to at all
            assert (after[eid].owner, after[eid].epoch) == (untouched[eid].owner, untouched[eid].epoch)
        rest = await store.claim_orphans("me:1:n", ttl_s=60)
        assert {lease.execution_id for lease in rest} == {"run2", "held"}


async def test_checkpoints_keep_their_parent_for_fork_lineage() -> None:
    async with fresh_schema() as url, PostgresHistoryStore(url) as store:
        await store.create_execution(record("e1"))
        await store.append([
            event("e1", 1, EventType.EXECUTION_START),
            event("e1", 2, EventType.CHECKPOINT_CREATED, phase="A", data={"snapshot": {"n": 1}}),
            event("e1", 3, EventType.PHASE_START),
            event("e1", 4, EventType.CHECKPOINT_CREATED, phase="B", data={"snapshot": {"n": 2}}),
        ])
        conn = await _connect(store.settings.schema)
        try:
            rows = await conn.fetch("SELECT sequence, phase, parent FROM checkpoints ORDER BY sequence")
        finally:
            await conn.close()
        assert [tuple(r) for r in rows] == [(2, "A", None), (4, "B", 2)]


# -- recoverers: SKIP LOCKED, each orphan taken once -------------------------------------------------------


@pytest.mark.concurrency
@pytest.mark.parametrize("mode", ["claim", "lease"])
async def test_two_recoverers_never_take_the_same_orphan(tmp_path: Path, mode: str) -> None:
    n = 150
    async with fresh_schema() as url:
        async with PostgresHistoryStore(url) as store:
            dead = f"{this_host()}:{dead_pid()}:n"
            for i in range(n):
                await store.create_execution(record(f"o{i}"))
                await store.append([event(f"o{i}", 1, EventType.EXECUTION_START)])
                await store.acquire_lease(f"o{i}", dead, ttl_s=3600)
        go = tmp_path / "go"
        procs = [_popen("recover", url, str(go), mode) for _ in range(2)]
        for p in procs:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        go.touch()
        if mode == "lease":
            for p in procs:
                assert p.stdout is not None
                assert p.stdout.readline().split() == ["listed", str(n)]
            (tmp_path / "go.race").touch()
        taken: list[list[str]] = []
        for p in procs:
            assert p.stdout is not None
            lines = []
            while (line := p.stdout.readline().strip()) != "done":
                assert line, p.stderr.read() if p.stderr else ""
                lines.append(line.split()[1])
            taken.append(lines)
        async with PostgresHistoryStore(url) as store:
            assert await store.list_orphans() == []  # both recoverers hold their leases, alive
        (tmp_path / "go.end").touch()
        for p in procs:
            _out, err = p.communicate(timeout=30)
            assert p.returncode == 0, err
        counts = Counter(eid for lines in taken for eid in lines)
        assert set(counts) == {f"o{i}" for i in range(n)}, "every orphan was recovered"
        assert set(counts.values()) == {1}, "no orphan was taken twice"


# -- LISTEN/NOTIFY -------------------------------------------------------------------------------------


async def test_the_feed_reports_appends_and_control_requests_from_another_process() -> None:
    async with fresh_schema() as url, PostgresHistoryStore(url) as store:
        await store.create_execution(record("e1"))
        await store.create_execution(record("e2"))
        await store.append([event("e1", 1, EventType.EXECUTION_START)])
        journal: list[tuple[str, int]] = []
        controls: list[tuple[str, int]] = []
        only_e2: list[tuple[str, int]] = []
        got = asyncio.Event()

        def on_control(eid: str, number: int) -> None:
            controls.append((eid, number))
            got.set()

        async with asyncio.TaskGroup() as tg:
            watchers = [
                tg.create_task(store.watch(lambda e, n: journal.append((e, n)))),
                tg.create_task(store.watch(on_control, kind="control", execution_id="e1")),
                tg.create_task(store.watch(lambda e, n: only_e2.append((e, n)), execution_id="e2")),
            ]
            await asyncio.sleep(0.3)  # listening
            appended = await asyncio.to_thread(
                subprocess.run, [sys.executable, CHILD, "append", url, "e1", "2", "3"],
                capture_output=True, text=True, timeout=60, check=False,
            )
            assert appended.returncode == 0, appended.stderr
            started = time.monotonic()
            sent = await asyncio.to_thread(
                subprocess.run, [sys.executable, CHILD, "control", url, "e1", "pause"],
                capture_output=True, text=True, timeout=60, check=False,
            )
            assert sent.returncode == 0, sent.stderr
            await asyncio.wait_for(got.wait(), 5)
            del started
            await asyncio.sleep(0.2)
            for w in watchers:
                w.cancel()
        assert journal == [("e1", 2), ("e1", 3), ("e1", 4)]
        assert [eid for eid, _n in controls] == ["e1"]
        [request] = await store.take_control_requests("e1")
        assert (request.id, request.action) == (controls[0][1], "pause")
        assert only_e2 == []


async def test_watchers_that_come_and_go_share_one_listening_connection() -> None:
    async with fresh_schema() as url, PostgresHistoryStore(url) as store:
        for i in range(20):  # each cancelled at once, most while the connection is still opening
            watching = store.watch(lambda e, n: None, kind="control", execution_id=f"e{i}")
            watcher = asyncio.create_task(watching)
            await asyncio.sleep(0.001 * (i % 3))
            watcher.cancel()
            with pytest.raises(asyncio.CancelledError):
                await watcher
        got = asyncio.Event()
        watcher = asyncio.create_task(store.watch(lambda e, n: got.set(), kind="control"))
        await store.create_execution(record("e1"))
        await store.append([event("e1", 1, EventType.EXECUTION_START)])
        await asyncio.sleep(0.3)
        await store.request_control("e1", "pause")
        await asyncio.wait_for(got.wait(), 5)
        watcher.cancel()
        assert store._listeners is not None
        assert store._listeners["control"].connects == 1
        assert store._listeners["journal"].connects == 0  # nobody watched a journal


# -- lost connections ---------------------------------------------------------------------------------------


@pytest.mark.errors
async def test_appends_survive_terminated_connections_without_losing_an_event() -> None:
    async with fresh_schema() as url, PostgresHistoryStore(url) as store:
        ids = [f"e{i}" for i in range(10)]
        for eid in ids:
            await store.create_execution(record(eid))
        written: dict[str, int] = dict.fromkeys(ids, 0)
        failures: list[BaseException] = []

        async def drive(eid: str) -> None:
            for _ in range(60):
                try:
                    await store.append([event(eid, written[eid] + 1, data={"n": written[eid] + 1})])
                except StoreError as exc:  # a clean failure: then the event must not be there
                    failures.append(exc)
                    continue
                written[eid] += 1

        async def killer() -> None:
            for _ in range(8):
                await asyncio.sleep(0.05)
                await terminate_store_connections(store.settings.schema)

        async with asyncio.TaskGroup() as tg:
            for eid in ids:
                tg.create_task(drive(eid))
            tg.create_task(killer())
        for eid in ids:
            journal = await store.read_journal(eid)
            assert [e.sequence for e in journal] == list(range(1, written[eid] + 1)), (
                "every append that returned is in the journal, and nothing else"
            )
            assert [e.data["n"] for e in journal] == list(range(1, written[eid] + 1))
        for exc in failures:
            assert "was not written" in str(exc)
        assert sum(written.values()) > 0


@pytest.mark.errors
async def test_an_append_fails_cleanly_when_the_server_stays_away() -> None:
    async with fresh_schema() as url:
        store = PostgresHistoryStore(url, retry_s=0.5)
        await store.open()
        await store.create_execution(record("e1"))
        await store.append([event("e1", 1)])
        # Point the pool at a port where nothing listens, then drop its connections: every retry fails.
        store._pool.set_connect_args(dsn="postgresql://root:x@127.0.0.1:1/test")
        await store._pool.expire_connections()
        await terminate_store_connections(store.settings.schema)
        with pytest.raises(StoreError, match="was not written") as info:
            await store.append([event("e1", 2)])
        assert "root:x@" not in str(info.value)
        await store.close()
        async with PostgresHistoryStore(url) as again:
            assert [e.sequence for e in await again.read_journal("e1")] == [1]
