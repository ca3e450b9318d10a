"""Configuration: precedence (flags > environment > quorum.toml > defaults) and ``quorum config``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from quorum.cli.config_cmd import config_entries
from quorum.config import ENV_VARS, default_db_path, load_config, mask_secret
from quorum.errors import ConfigurationError

from .helpers import Cli

pytestmark = pytest.mark.unit

CANARY = "sk-canary-3f9a1c0d5e7b2a4c6d8e"

TOML = """\
db = "data/history.db"
tasks_dirs = ["tasks", "/abs/tasks"]
timeout = "5m"

[models]
default = "openai:gpt-4.1-mini"

[models.agents]
risk-officer = "anthropic:claude-sonnet-4-5"

[providers.openai]
base_url = "http://127.0.0.1:11434/v1"
api_key = "sk-from-file-0123456789"

[endpoints]
ollama = "http://user:secret@127.0.0.1:11434/v1"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "quorum.toml").write_text(TOML)
    return root


def test_defaults_without_anything(tmp_path: Path) -> None:
    cfg = load_config(cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert cfg.db == str(default_db_path({"HOME": str(tmp_path)}))
    assert cfg.file is None
    assert cfg.tasks_dirs == ()
    assert cfg.models == {}
    assert load_config(cwd=tmp_path, env={"XDG_DATA_HOME": "/x"}).db == "/x/quorum/history.db"


def test_file_is_found_upward_and_relative_paths_are_its_own(project: Path) -> None:
    cfg = load_config(cwd=project / "sub" / "deeper", env={})
    assert cfg.file == project / "quorum.toml"
    assert cfg.db == str(project / "data" / "history.db")
    assert cfg.tasks_dirs == (project / "tasks", Path("/abs/tasks"))
    assert cfg.timeout == "5m"
    assert cfg.models == {"*": "openai:gpt-4.1-mini", "risk-officer": "anthropic:claude-sonnet-4-5"}
    assert cfg.model_specs() == ["openai:gpt-4.1-mini", "risk-officer=anthropic:claude-sonnet-4-5"]
    assert cfg.provider_variables()["OPENAI_BASE_URL"] == "http://127.0.0.1:11434/v1"
    assert cfg.endpoint_urls() == {"ollama": "http://user:secret@127.0.0.1:11434/v1"}
    assert cfg.provider_variables()["QUORUM_OLLAMA_BASE_URL"] == "http://user:secret@127.0.0.1:11434/v1"


def test_environment_beats_the_file_and_flags_beat_both(project: Path) -> None:
    env = {"QUORUM_DB": "env.db", "QUORUM_TASKS_DIRS": "a:b", "QUORUM_MODEL": "builtin:x,chair=builtin:y",
           "QUORUM_TIMEOUT": "1m", "OPENAI_API_KEY": CANARY}
    cfg = load_config(cwd=project, env=env)
    assert cfg.db == str(project / "env.db")
    assert cfg.sources["db"] == ("env", "QUORUM_DB")
    assert cfg.tasks_dirs == (project / "a", project / "b")
    assert cfg.timeout == "1m"
    assert cfg.models == {"*": "builtin:x", "risk-officer": "anthropic:claude-sonnet-4-5",
                          "chair": "builtin:y"}
    assert cfg.providers["openai"].api_key == CANARY
    flags = load_config(cwd=project, env=env, db="/flag.db", tasks_dirs=["t"], models=["python:m:f"],
                        timeout="10s")
    assert flags.db == "/flag.db"
    assert flags.sources["db"] == ("flag", "--db")
    assert flags.tasks_dirs == (project / "t",)
    assert flags.models["*"] == "python:m:f"
    assert flags.timeout == "10s"
    assert load_config(cwd=project, env={"QUORUM_DB": "sqlite:///x.db?synchronous=FULL"}).db == (
        "sqlite:///x.db?synchronous=FULL")  # store URLs are kept as written


@pytest.mark.errors
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("db = [1]", "db must be a non-empty string"),
        ("dbb = 'x'", "unknown key(s) dbb"),
        ("tasks_dirs = 3", "tasks_dirs must be a list"),
        ("[models]\nfoo = 'x'", "[models] takes 'default'"),
        ("[models]\ndefault = 'gpt4'", "bad model override"),
        ("[providers.openai]\nkey = 'x'", "takes base_url and api_key"),
        ("this is = not toml =", "not valid TOML"),
    ],
)
def test_bad_files_are_configuration_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "quorum.toml").write_text(text)
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        load_config(cwd=tmp_path, env={})


def test_secrets_are_masked_in_every_view(project: Path) -> None:
    cfg = load_config(cwd=project, env={"ANTHROPIC_API_KEY": CANARY})
    shown = repr(cfg) + repr(cfg.providers) + repr(cfg.endpoints) + str(config_entries(cfg))
    assert CANARY not in shown
    assert "sk-from-file-0123456789" not in shown
    assert "user:secret" not in shown
    entries = {e.key: e for e in config_entries(cfg)}
    assert entries["providers.anthropic.api_key"].value == mask_secret(CANARY) == "****6d8e"
    assert entries["endpoints.ollama.base_url"].value == "http://****@127.0.0.1:11434/v1"
    assert mask_secret("short") == "****"


@pytest.mark.integration
def test_quorum_config_shows_sources_and_masks_keys(cli: Cli, project: Path) -> None:
    r = cli("config", "--json", env={"QUORUM_CONFIG": str(project / "quorum.toml"), "OPENAI_API_KEY": CANARY})
    assert r.code == 0, r
    assert CANARY not in r.out
    data = r.json()
    assert data["config_file"]["value"] == str(project / "quorum.toml")
    assert data["providers.openai.api_key"] == {"value": "****6d8e", "source": "env",
                                                "origin": "OPENAI_API_KEY"}
    assert data["db"]["source"] == "env"  # the test harness sets QUORUM_DB, which beats the file
    assert data["models.agents.risk-officer"]["value"] == "anthropic:claude-sonnet-4-5"
    table = cli("config", env={"OPENAI_API_KEY": CANARY})
    assert CANARY not in table.out
    assert "env (OPENAI_API_KEY)" in table.out
    broken = cli("config", env={"QUORUM_CONFIG": str(project / "missing.toml")})
    assert broken.code == 2
    assert broken.err.startswith("error: configuration: QUORUM_CONFIG names")


def test_the_reference_documents_every_environment_variable() -> None:
    reference = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    missing = [name for name in ENV_VARS if f"`{name}`" not in reference]
    assert not missing
