"""``--db`` takes every documented form of the history setting, and never prints a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import Cli

pytestmark = pytest.mark.integration

SECRET = "hunter2-canary"


def _recorded_in(cli: Cli, db: str) -> list[str]:
    rows = cli("history", "--db", db, "--json")
    assert rows.code == 0, rows
    return [str(r["id"]) for r in rows.json()]


def test_a_relative_sqlite_url_is_a_file_in_the_working_directory(cli: Cli) -> None:
    run = cli.run_demo("--db", "sqlite:///rel.db", "--json")
    assert run.code == 0, run
    assert (cli.cwd / "rel.db").is_file()
    assert _recorded_in(cli, "sqlite:///rel.db") == [run.json()["id"]]
    assert _recorded_in(cli, str(cli.cwd / "rel.db")) == [run.json()["id"]]  # the same file, as a path
    shown = cli("config", "--db", "sqlite:///rel.db", "--json").json()["db"]
    assert shown == {"value": "sqlite:///rel.db", "source": "flag", "origin": "--db"}


def test_an_absolute_sqlite_url_and_a_plain_path(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "abs" / "h.db"
    run = cli.run_demo("--db", f"sqlite:///{target}", "--json")  # target starts with "/": four slashes
    assert run.code == 0, run
    assert target.is_file()
    assert _recorded_in(cli, str(target)) == [run.json()["id"]]
    assert _recorded_in(cli, f"sqlite:///{target}?synchronous=FULL") == [run.json()["id"]]


def test_reading_an_absent_sqlite_url_creates_nothing(cli: Cli) -> None:
    r = cli("history", "--db", "sqlite:///absent.db")
    assert r.code == 0, r
    assert "no executions recorded (history: sqlite:///absent.db)" in r.out
    assert not (cli.cwd / "absent.db").exists()


def test_memory_keeps_nothing(cli: Cli) -> None:
    run = cli.run_demo("--db", ":memory:", "--json")
    assert run.code == 0, run
    assert run.json()["status"] == "completed"
    assert list(cli.cwd.iterdir()) == []
    assert _recorded_in(cli, ":memory:") == []


@pytest.mark.errors
def test_an_unreachable_postgresql_url_is_an_error_without_its_password(cli: Cli) -> None:
    url = f"postgresql://quorum:{SECRET}@db.example/quorum"  # .example never resolves
    for args in (("history", "--db", url), ("show", "abc", "--db", url), ("run", "daily-market-analysis",
                 "question=Is BTC overbought?", "--db", url)):
        r = cli(*args)
        assert r.code == 1, r
        assert "cannot connect to the PostgreSQL history" in r.err
        assert "postgresql://quorum:***@db.example/quorum" in r.err
        assert SECRET not in r.out + r.err
        assert "Traceback" not in r.err
    shown = cli("config", "--db", url)
    assert shown.code == 0, shown
    assert "postgresql://quorum:***@db.example/quorum" in shown.out
    assert SECRET not in cli("config", "--db", url, "--json").out
    debug = cli("--debug", "history", "--db", url, env={"QUORUM_DEBUG": "1"})
    assert SECRET not in debug.out + debug.err
