"""Where configuration comes from: ``quorum.toml`` (found by walking up, or named by ``QUORUM_CONFIG``),
the environment and the command-line flags; :class:`Layers` applies their precedence to one key."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from quorum.config._settings import Source
from quorum.errors import ConfigurationError
from quorum.history._location import is_store_url

__all__ = (
    "CONFIG_FILENAME",
    "ENV_VARS",
    "Layers",
    "default_db_path",
    "expect_str",
    "find_config_file",
    "read_toml",
    "resolve_path",
    "store_location",
)

CONFIG_FILENAME = "quorum.toml"

ENV_VARS: Mapping[str, str] = MappingProxyType(
    {
        "QUORUM_CONFIG": "path of the quorum.toml to use (skips the upward search)",
        "QUORUM_DB": "the history database: a SQLite path or a store URL (sqlite:///h.db, memory:)",
        "QUORUM_TASKS_DIRS": f"task directories, separated by {os.pathsep!r}",
        "QUORUM_AGENTS_DIRS": f"agent directories, separated by {os.pathsep!r}",
        "QUORUM_MODEL": "model overrides, comma-separated, as for --model",
        "QUORUM_TIMEOUT": "default time limit of `quorum run` (e.g. 5m)",
        "QUORUM_DEBUG": "1 shows Python tracebacks on errors",
        "QUORUM_CACHE": "the agent-response cache: a SQLite path, sqlite:///FILE, memory: or redis://HOST:6379/0",
        "QUORUM_EVENTS": "publish every execution's live events to Redis (redis://HOST:6379/0)",
        "OPENAI_BASE_URL": "base URL of an OpenAI-compatible server",
        "OPENAI_API_KEY": "API key for openai:<model> agents (secret)",
        "ANTHROPIC_BASE_URL": "base URL of the Anthropic API",
        "ANTHROPIC_API_KEY": "API key for anthropic:<model> agents (secret)",
        "QUORUM_DATA": "default --data of `quorum run`: yfinance, ccxt:<exchange>, csv:<file>, cache or none",
        "QUORUM_DATA_DIR": "where the market data cache lives (default $XDG_DATA_HOME/quorum)",
        "XDG_DATA_HOME": "where the default history database lives (quorum/history.db under it)",
    }
)

_TOP_KEYS = frozenset({"db", "tasks_dirs", "agents_dirs", "timeout", "models", "providers", "endpoints",
                       "serve", "cache", "events", "telemetry"})


def default_db_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/quorum/history.db``, else ``~/.local/share/quorum/history.db``."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME")
    root = Path(base).expanduser() if base else Path.home() / ".local" / "share"
    return root / "quorum" / "history.db"


def find_config_file(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    explicit = env.get("QUORUM_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"QUORUM_CONFIG names {path}, which is not a file")
        return path
    here = (cwd or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
    return None


@dataclass(slots=True, kw_only=True)
class Layers:
    """The file, the environment and the flags of one load; ``pick`` applies the precedence to a key
    and records where its value came from."""

    file: Path | None
    data: dict[str, Any]
    cwd: Path
    env: Mapping[str, str]
    sources: dict[str, tuple[Source, str]] = field(default_factory=dict)

    def pick(self, key: str, env_name: str, flag: str, given: str | None,
             convert: Callable[[str, Path], str], default: str | None) -> str | None:
        """Flag, else environment, else file, else default; relative paths against where they were given."""
        value = default
        if key in self.data:
            raw = self.data[key]
            if isinstance(raw, bool) or not isinstance(raw, str | int | float) or raw == "":
                raise ConfigurationError(f"{self.file}: {key} must be a non-empty string, got {raw!r}")
            value = convert(str(raw), self.file.parent if self.file else self.cwd)
            self.sources[key] = ("file", str(self.file))
        if self.env.get(env_name):
            value = convert(self.env[env_name], self.cwd)
            self.sources[key] = ("env", env_name)
        if given is not None:
            value = convert(given, self.cwd)
            self.sources[key] = ("flag", flag)
        return value

    def pick_dirs(self, key: str, env_name: str, flag: str,
                  given: Iterable[str | os.PathLike[str]] | None) -> tuple[Path, ...] | None:
        result: tuple[Path, ...] | None = None
        if key in self.data:
            value = self.data[key]
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ConfigurationError(
                    f"{self.file}: {key} must be a list of directory paths, got {value!r}"
                )
            base = self.file.parent if self.file else self.cwd
            result = tuple(resolve_path(v, base) for v in value)
            self.sources[key] = ("file", str(self.file))
        if self.env.get(env_name):
            result = tuple(resolve_path(v, self.cwd) for v in self.env[env_name].split(os.pathsep) if v)
            self.sources[key] = ("env", env_name)
        flags = [os.fspath(v) for v in given or ()]
        if flags:
            result = tuple(resolve_path(v, self.cwd) for v in flags)
            self.sources[key] = ("flag", flag)
        return result


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc.strerror or exc}") from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{path}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(_TOP_KEYS))}"
        )
    return data


def expect_str(value: Any, key: str, file: Path | None) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{file}: {key} must be a non-empty string, got {value!r}")
    return value


def store_location(text: str, base: Path) -> str:
    """A store URL is kept as written (one-letter "schemes" are Windows drives); a path is resolved."""
    if is_store_url(text):
        return text
    return str(resolve_path(text, base))


def resolve_path(text: str, base: Path) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path
