"""open_store: URLs and paths to backends; owner strings and dead owners."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quorum.errors import ConfigurationError
from quorum.history.base import HistoryStore
from quorum.history.memory import MemoryHistoryStore
from quorum.history.owner import owner_is_dead, parse_owner, process_owner
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.history.stores import open_store, register_backend

from .helpers import dead_pid

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("url", ["memory:", "memory://", "MEMORY:"])
def test_memory_urls(url: str) -> None:
    assert isinstance(open_store(url), MemoryHistoryStore)


def test_sqlite_urls_follow_sqlalchemy(tmp_path: Path) -> None:
    rel = open_store("sqlite:///history.db")
    assert isinstance(rel, SQLiteHistoryStore)
    assert rel.path == Path("history.db")
    absolute = open_store(f"sqlite:///{tmp_path}/h.db")  # tmp_path starts with "/": four slashes
    assert isinstance(absolute, SQLiteHistoryStore)
    assert absolute.path == tmp_path / "h.db"
    tuned = open_store(f"sqlite:///{tmp_path}/h.db?synchronous=full&busy_timeout=0.5")
    assert isinstance(tuned, SQLiteHistoryStore)
    assert (tuned.synchronous, tuned.busy_timeout_s) == ("FULL", 0.5)
    spaced = open_store(f"sqlite:///{tmp_path}/my%20history.db")
    assert isinstance(spaced, SQLiteHistoryStore)
    assert spaced.path.name == "my history.db"


def test_plain_paths_are_sqlite(tmp_path: Path) -> None:
    for target in (str(tmp_path / "h.db"), tmp_path / "h.db", "relative/h.db", "C:\\quorum\\h.db"):
        store = open_store(target)
        assert isinstance(store, SQLiteHistoryStore)
        assert str(store.path) == str(target)


@pytest.mark.errors
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://user:secret@db/quorum?schema=1bad", "plain identifier"),
        ("postgres://user:secret@db/quorum?pool_max=lots", "whole number"),
        ("ftp://example/h.db", "unknown scheme 'ftp'"),
        ("sqlite://h.db", "sqlite:///relative/path.db"),
        ("sqlite:///", "path is missing"),
        ("sqlite:///h.db?synchronous=off", "NORMAL or FULL"),
        ("sqlite:///h.db?busy_timeout=soon", "number of seconds"),
        ("sqlite:///h.db?journal=delete", "unknown option"),
        ("memory:///x", "takes no path"),
    ],
)
def test_bad_urls_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        open_store(url)
    assert "secret" not in str(info.value)


def test_a_registered_backend_serves_its_scheme() -> None:
    made: list[str] = []

    def factory(url: str) -> HistoryStore:
        made.append(url)
        return MemoryHistoryStore()

    register_backend("testdb", factory)
    assert isinstance(open_store("testdb://host/name"), MemoryHistoryStore)
    assert made == ["testdb://host/name"]


def test_process_owner_is_host_pid_nonce() -> None:
    owner = process_owner()
    assert owner == process_owner()
    parsed = parse_owner(owner)
    assert parsed is not None
    host, pid, nonce = parsed
    assert (host, pid) == (socket.gethostname(), os.getpid())
    assert len(nonce) == 8
    assert parse_owner("fe80::1:123:abc") == ("fe80::1", 123, "abc")
    assert parse_owner("no-pid-here") is None
    assert parse_owner("host:notanumber:n") is None


def test_dead_owners() -> None:
    host = socket.gethostname()
    assert owner_is_dead(f"{host}:{dead_pid()}:n")
    assert not owner_is_dead(process_owner())
    assert not owner_is_dead(f"another-host:{dead_pid()}:n")  # only the lease can tell there
    assert not owner_is_dead("garbage")


def test_an_unreaped_killed_child_counts_as_dead() -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as proc:
        proc.kill()
        # Not reaped yet: a zombie still answers kill(pid, 0), but it is gone.
        for _ in range(200):
            if owner_is_dead(f"{socket.gethostname()}:{proc.pid}:n"):
                break
            time.sleep(0.005)
        assert owner_is_dead(f"{socket.gethostname()}:{proc.pid}:n")
        proc.wait()
