"""Where ``quorum serve`` takes its token and allowed hosts from, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from quorum.errors import ConfigurationError
from quorum.server.settings import is_loopback, resolve_settings

pytestmark = pytest.mark.unit


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "quorum.toml"
    path.write_text(text)
    return path


def test_the_environment_wins_over_quorum_toml(tmp_path: Path) -> None:
    file = _toml(tmp_path, '[serve]\ntoken = "from-the-file-0123456789"\n')
    from_env = resolve_settings(host="127.0.0.1", port=1, config_file=file,
                                env={"QUORUM_API_TOKEN": "from-the-env-0123456789"})
    from_file = resolve_settings(host="127.0.0.1", port=1, config_file=file, env={})
    assert (from_env.token, from_env.token_source) == ("from-the-env-0123456789", "QUORUM_API_TOKEN")
    assert (from_file.token, from_file.token_source) == ("from-the-file-0123456789", "quorum.toml")
    assert "0123456789" not in repr(from_env) + repr(from_file)  # a settings object never shows it


def test_without_a_token_one_is_made_each_time_and_only_loopback_is_allowed(tmp_path: Path) -> None:
    first = resolve_settings(host="127.0.0.1", port=1, config_file=None, env={})
    second = resolve_settings(host="::1", port=1, config_file=None, env={})
    assert first.token_source == second.token_source == "generated"
    assert first.token != second.token
    assert len(first.token) >= 32
    with pytest.raises(ConfigurationError, match="needs a token set on purpose"):
        resolve_settings(host="0.0.0.0", port=1, config_file=None, env={})
    with pytest.raises(ConfigurationError, match="needs a token set on purpose"):
        resolve_settings(host="192.168.1.20", port=1, config_file=None, env={})


def test_allowed_hosts_come_from_the_host_the_file_and_the_environment(tmp_path: Path) -> None:
    file = _toml(tmp_path, '[serve]\nallowed_hosts = ["Quorum.Internal"]\n')
    env = {"QUORUM_API_TOKEN": "x" * 20, "QUORUM_ALLOWED_HOSTS": "a.example, b.example"}
    settings = resolve_settings(host="10.0.0.5", port=1, config_file=file, env=env)
    assert {"127.0.0.1", "localhost", "::1", "10.0.0.5", "quorum.internal", "a.example",
            "b.example"} <= settings.allowed_hosts


@pytest.mark.errors
@pytest.mark.parametrize(("text", "message"), [
    ('[serve]\ntoken = 3\n', "token must be a string"),
    ('[serve]\nallowed_hosts = "one"\n', "allowed_hosts must be a list"),
    ('[serve]\nport = 80\n', "unknown key"),
    ('serve = 1\n', "serve must be a table"),
])
def test_a_bad_serve_section_names_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    file = _toml(tmp_path, text)
    with pytest.raises(ConfigurationError, match=message) as caught:
        resolve_settings(host="127.0.0.1", port=1, config_file=file, env={})
    assert str(file) in str(caught.value)


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com"))
