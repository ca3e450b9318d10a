"""History locations: store URLs parsed by SQLAlchemy's rules, passwords never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from quorum.config import Config, load_config
from quorum.errors import ConfigurationError
from quorum.history._location import is_store_url, parse_location, redact_url
from quorum.history.memory import MemoryHistoryStore
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.history.stores import open_store

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("sqlite:///rel.db", "rel.db"),
        ("sqlite:///sub/dir/h.db", "sub/dir/h.db"),
        ("sqlite:////abs/path.db", "/abs/path.db"),
        ("sqlite:////abs/my%20history.db?synchronous=FULL", "/abs/my history.db"),
        ("/plain/abs.db", "/plain/abs.db"),
        ("plain/rel.db", "plain/rel.db"),
        ("C:\\quorum\\h.db", "C:\\quorum\\h.db"),
    ],
)
def test_sqlite_paths_follow_the_third_slash(text: str, path: str) -> None:
    location = parse_location(text)
    assert (location.scheme, location.path) == ("sqlite", path)
    store = open_store(text)
    assert isinstance(store, SQLiteHistoryStore)
    assert str(store.path) == path


@pytest.mark.parametrize("text", [":memory:", "memory:", "memory://", "sqlite://", "sqlite:///:memory:"])
def test_memory_forms(text: str) -> None:
    assert parse_location(text).scheme == "memory"
    assert is_store_url(text)
    assert isinstance(open_store(text), MemoryHistoryStore)


def test_a_memory_setting_is_not_resolved_as_a_file(tmp_path: Path) -> None:
    assert load_config(cwd=tmp_path, env={"QUORUM_DB": ":memory:"}).db == ":memory:"
    assert load_config(cwd=tmp_path, db="sqlite:////abs/h.db", env={}).db == "sqlite:////abs/h.db"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@host/db", "postgresql://u:***@host/db"),
        ("postgresql://u:p%40ss:w@host:5432/db?sslmode=require", "postgresql://u:***@host:5432/db?sslmode=require"),
        ("postgresql://host/db?user=u&password=pw", "postgresql://host/db?user=u&password=***"),
        ("postgresql://u@host/db", "postgresql://u@host/db"),
        ("sqlite:///h.db?synchronous=FULL", "sqlite:///h.db?synchronous=FULL"),
        ("/plain/path.db", "/plain/path.db"),
        ("postgresql://u:pw@[::1/db", "postgresql://***"),
    ],
)
def test_passwords_are_masked(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "pw" not in shown.replace("pwd", "")


def test_the_configuration_never_shows_the_password(tmp_path: Path) -> None:
    cfg = load_config(cwd=tmp_path, db="postgresql://u:hunter2@host/db", env={})
    assert cfg.db == "postgresql://u:hunter2@host/db"  # kept for the backend
    assert "hunter2" not in repr(cfg)
    assert cfg.db_shown == "postgresql://u:***@host/db"
    assert "hunter2" not in repr(Config(db="postgresql://u:hunter2@host/db"))


@pytest.mark.errors
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u:hunter2@host/db?schema=no-dash", "plain identifier"),
        ("postgres://u:hunter2@host/db?notify=maybe", "notify must be on or off"),
        ("mysql://u:hunter2@host/db", "unknown scheme 'mysql'"),
        ("sqlite://u:hunter2@host/h.db", "three slashes"),
        ("postgresql://u:hunter2@[::1/db", "not a valid URL"),
    ],
)
def test_url_errors_never_show_the_password(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        open_store(url)
    assert "hunter2" not in str(info.value)
