"""A history file damaged in the middle: found on open or on the first read that meets it, reported as
one clear HistoryCorruptError, and never written to."""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from quorum.errors import HistoryCorruptError, StoreError
from quorum.history.sqlite import SQLiteHistoryStore

from .helpers import event, record

pytestmark = pytest.mark.errors

EXECUTIONS = 20
PAGE = 4096


async def _filled(path: Path) -> None:
    async with SQLiteHistoryStore(path) as store:
        for i in range(EXECUTIONS):
            await store.create_execution(record(f"e{i}"))
            answers = [event(f"e{i}", n, data={"text": f"answer {i}.{n} " * 20}) for n in range(1, 51)]
            await store.append(answers)
    assert not path.with_name(path.name + "-wal").exists()  # all of it is in the file itself


def _damage_the_middle(path: Path) -> None:
    """Overwrite eight pages a third of the way in with garbage (the first page, the header, is kept)."""
    pages = path.stat().st_size // PAGE
    assert pages > 40, "the file is too small to have a middle"
    garbage = random.Random(15).randbytes(8 * PAGE)
    with path.open("r+b") as f:
        f.seek((pages // 3) * PAGE)
        f.write(garbage)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wal_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


async def test_damage_is_found_on_open_and_the_file_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    await _filled(path)
    _damage_the_middle(path)
    before = _digest(path)
    store = SQLiteHistoryStore(path)
    with pytest.raises(HistoryCorruptError) as info:
        await store.open()
    message = str(info.value)
    assert str(path) in message
    assert f"sqlite3 {path} .recover" in message
    assert info.value.path == str(path)
    assert isinstance(info.value, StoreError)
    # Every later use is refused at once, the write first of all.
    with pytest.raises(HistoryCorruptError):
        await store.create_execution(record("new"))
    with pytest.raises(HistoryCorruptError):
        await store.list_executions()
    await store.close()
    assert _digest(path) == before
    assert _wal_size(path) == 0
    # A new store on the same file finds it too, without a traceback of sqlite3 in between.
    with pytest.raises(HistoryCorruptError, match="not a usable quorum history database"):
        await SQLiteHistoryStore(path).create_execution(record("new"))
    assert _digest(path) == before


async def test_damage_met_by_a_read_after_open_stops_every_write(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    await _filled(path)
    async with SQLiteHistoryStore(path) as store:  # sound when it opens
        _damage_the_middle(path)
        wal_before = _wal_size(path)
        found: list[HistoryCorruptError] = []
        for i in range(EXECUTIONS):
            try:
                await store.read_journal(f"e{i}")
            except HistoryCorruptError as exc:
                found.append(exc)
                break
        assert found, "no read met the damaged pages"
        assert "malformed" in found[0].detail
        with pytest.raises(HistoryCorruptError):
            await store.create_execution(record("new"))
        with pytest.raises(HistoryCorruptError):
            await store.append([event("e0", 51)])
        assert _wal_size(path) == wal_before  # nothing was written


async def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"my notes, not a database\n" * 400)
    with pytest.raises(HistoryCorruptError, match="file is not a database"):
        await SQLiteHistoryStore(path).list_executions()
    assert path.read_bytes().startswith(b"my notes")


async def test_content_that_cannot_be_decoded_is_damage(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    async with SQLiteHistoryStore(path) as store:
        await store.create_execution(record("e1"))
        await store.append([event("e1", 1, data={"a": 1})])
    with sqlite3.connect(path) as conn:  # bytes SQLite keeps intact but quorum never wrote
        conn.execute("UPDATE events SET data = '{\"a\": 1' WHERE execution_id = 'e1'")
    conn.close()
    async with SQLiteHistoryStore(path) as store:
        with pytest.raises(HistoryCorruptError, match="cannot be decoded"):
            await store.read_journal("e1")
        with pytest.raises(HistoryCorruptError):
            await store.append([event("e1", 2)])


@pytest.mark.integration
def test_the_cli_reports_damage_in_one_error_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    asyncio.run(_filled(path))
    _damage_the_middle(path)
    before = _digest(path)
    for args in (["history"], ["show", "e1"], ["prune", "--keep", "1"]):
        proc = subprocess.run(
            [sys.executable, "-m", "quorum", *args, "--db", str(path)], capture_output=True, text=True,
            timeout=60, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(tmp_path)}, cwd=tmp_path,
        )
        assert proc.returncode == 1, proc
        assert proc.stderr.startswith(f"error: {path} is not a usable quorum history database"), proc.stderr
        assert ".recover" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert _digest(path) == before
