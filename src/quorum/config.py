"""Effective configuration of the ``quorum`` command: flags, environment, ``quorum.toml``, defaults.

Precedence, highest first (documented in ``docs/cli.md``)::

    command-line flags  >  environment variables  >  quorum.toml  >  built-in defaults

For every key the highest source that sets it wins (search paths are *replaced*, not merged, so that
what ``quorum config`` shows is exactly what is searched). Model overrides are the one exception:
they are merged per target (``*`` = every agent, or one agent id), each target taking the value of the
highest source that names it.

``quorum.toml`` is found by walking up from the current directory (the first one found wins), unless
``QUORUM_CONFIG`` names a file. Relative paths inside it are relative to the file's own directory;
relative paths from flags and the environment are relative to the current directory.

Only the standard library is imported here: the CLI reads the configuration before anything heavy.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from quorum.errors import ConfigurationError

__all__ = (
    "CONFIG_FILENAME",
    "ENV_VARS",
    "PROVIDERS",
    "Config",
    "Endpoint",
    "ProviderSettings",
    "Source",
    "default_db_path",
    "find_config_file",
    "load_config",
    "mask_secret",
    "mask_url",
    "parse_model_spec",
)

CONFIG_FILENAME = "quorum.toml"

Source = Literal["default", "file", "env", "flag"]

PROVIDERS: tuple[str, ...] = ("openai", "anthropic")
"""Providers whose base URL and API key the configuration carries (the SDKs' own variables)."""

ENV_VARS: Mapping[str, str] = MappingProxyType(
    {
        "QUORUM_CONFIG": "path of the quorum.toml to use (skips the upward search)",
        "QUORUM_DB": "path of the SQLite history database",
        "QUORUM_TASKS_DIRS": f"task directories, separated by {os.pathsep!r}",
        "QUORUM_AGENTS_DIRS": f"agent directories, separated by {os.pathsep!r}",
        "QUORUM_MODEL": "model overrides, comma-separated, as for --model",
        "QUORUM_TIMEOUT": "default time limit of `quorum run` (e.g. 5m)",
        "QUORUM_DEBUG": "1 shows Python tracebacks on errors",
        "OPENAI_BASE_URL": "base URL of an OpenAI-compatible server",
        "OPENAI_API_KEY": "API key for openai:<model> agents (secret)",
        "ANTHROPIC_BASE_URL": "base URL of the Anthropic API",
        "ANTHROPIC_API_KEY": "API key for anthropic:<model> agents (secret)",
        "XDG_DATA_HOME": "where the default history database lives (quorum/history.db under it)",
    }
)

_TOP_KEYS = frozenset({"db", "tasks_dirs", "agents_dirs", "timeout", "models", "providers", "endpoints"})
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]+:")
_MODEL_KEYS = frozenset({"default", "agents"})
_PROVIDER_KEYS = frozenset({"base_url", "api_key"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSettings:
    base_url: str | None = None
    api_key: str | None = None

    def __repr__(self) -> str:  # never print a key by accident
        key = None if self.api_key is None else mask_secret(self.api_key)
        return f"ProviderSettings(base_url={self.base_url!r}, api_key={key!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """A named OpenAI- or Anthropic-compatible server that agent files refer to (``base_url: ollama``)."""

    base_url: str
    api_key: str | None = None

    def __repr__(self) -> str:
        key = None if self.api_key is None else mask_secret(self.api_key)
        return f"Endpoint(base_url={mask_url(self.base_url)!r}, api_key={key!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    db: str
    """A path of the SQLite history, or a store URL (``sqlite:///h.db?synchronous=FULL``, ``memory:``)."""
    tasks_dirs: tuple[Path, ...] = ()
    agents_dirs: tuple[Path, ...] = ()
    models: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Model overrides: ``"*"`` for every agent, else an agent id -> model string."""
    timeout: str | None = None
    """Time limit of ``quorum run`` as given (a time string); None = the task's own."""
    providers: Mapping[str, ProviderSettings] = field(default_factory=lambda: MappingProxyType({}))
    endpoints: Mapping[str, Endpoint] = field(default_factory=lambda: MappingProxyType({}))
    file: Path | None = None
    """The quorum.toml that was read, if any."""
    sources: Mapping[str, tuple[Source, str]] = field(default_factory=lambda: MappingProxyType({}))
    """key -> (source, origin) for every key above."""

    def __repr__(self) -> str:
        return f"Config(db={self.db!s}, file={self.file!s}, models={dict(self.models)!r})"

    def provider_variables(self) -> dict[str, str | None]:
        """Settings from quorum.toml under the environment variable names the agent layer reads
        (``OPENAI_BASE_URL``, ``QUORUM_<ENDPOINT>_API_KEY``...); the real environment still wins there."""
        out: dict[str, str | None] = {}
        for name, settings in self.providers.items():
            prefix = name.upper()
            if settings.base_url:
                out[f"{prefix}_BASE_URL"] = settings.base_url
            if settings.api_key:
                out[f"{prefix}_API_KEY"] = settings.api_key
        for name, endpoint in self.endpoints.items():
            prefix = "QUORUM_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()
            out[f"{prefix}_BASE_URL"] = endpoint.base_url
            if endpoint.api_key:
                out[f"{prefix}_API_KEY"] = endpoint.api_key
        return out

    def model_specs(self) -> list[str]:
        """The overrides in ``--model`` form (``provider:model``, ``agent=provider:model``)."""
        return [model if target == "*" else f"{target}={model}" for target, model in self.models.items()]

    def endpoint_urls(self) -> dict[str, str]:
        return {name: e.base_url for name, e in self.endpoints.items()}


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


def parse_model_spec(spec: str) -> tuple[str, str]:
    """``openai:gpt-4.1`` -> ("*", model); ``risk-officer=anthropic:claude`` -> (agent, model)."""
    text = spec.strip()
    target, sep, model = text.partition("=")
    if not sep or ":" in target:
        target, model = "*", text
    target, model = target.strip(), model.strip()
    if not target or not model or ":" not in model:
        raise ConfigurationError(
            f"bad model override {spec!r}: use PROVIDER:MODEL for every agent or AGENT=PROVIDER:MODEL "
            "for one (e.g. openai:gpt-4.1-mini, risk-officer=builtin:risk-officer)"
        )
    return target, model


def mask_secret(value: str) -> str:
    """Show that a secret is set without revealing it: the last 4 characters of long ones only."""
    if len(value) >= 16:
        return "****" + value[-4:]
    return "****"


def mask_url(url: str) -> str:
    """Hide ``user:password@`` in a URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        netloc = "****@" + netloc.rsplit("@", 1)[1]
    return f"{scheme}://{netloc}{slash}{path}"


def load_config(
    *,
    db: str | os.PathLike[str] | None = None,
    tasks_dirs: Iterable[str | os.PathLike[str]] | None = None,
    agents_dirs: Iterable[str | os.PathLike[str]] | None = None,
    models: Iterable[str] | None = None,
    timeout: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """The effective configuration. Keyword arguments are the command-line flags (None = not given)."""
    env = os.environ if env is None else env
    cwd = (cwd or Path.cwd()).resolve()
    file = find_config_file(cwd, env)
    layers = _Layers(file=file, data=_read_toml(file) if file else {}, cwd=cwd, env=env)
    if file:
        layers.sources["config_file"] = ("env", "QUORUM_CONFIG") if env.get("QUORUM_CONFIG") else ("file", "")
    layers.sources["db"] = ("default", "XDG_DATA_HOME" if env.get("XDG_DATA_HOME") else "")
    db_path = layers.pick("db", "QUORUM_DB", "--db", None if db is None else os.fspath(db), _db,
                          str(default_db_path(env)))
    tasks = layers.pick_dirs("tasks_dirs", "QUORUM_TASKS_DIRS", "--tasks-dir", tasks_dirs)
    if tasks is None:
        # like TaskExecutor(tasks_dir="tasks"): a tasks/ folder in the current directory is searched
        tasks = (cwd / "tasks",) if (cwd / "tasks").is_dir() else ()
    agents = layers.pick_dirs("agents_dirs", "QUORUM_AGENTS_DIRS", "--agents-dir", agents_dirs) or ()
    timeout_value = layers.pick("timeout", "QUORUM_TIMEOUT", "--timeout", timeout, lambda text, _: text, None)
    data, sources = layers.data, layers.sources
    return Config(
        db=db_path or str(default_db_path(env)),
        tasks_dirs=tasks,
        agents_dirs=agents,
        models=MappingProxyType(_models(data.get("models"), file, env, models, sources)),
        timeout=timeout_value,
        providers=MappingProxyType(_providers(data.get("providers"), file, env, sources)),
        endpoints=MappingProxyType(_endpoints(data.get("endpoints"), file, sources)),
        file=file,
        sources=MappingProxyType(sources),
    )


@dataclass(slots=True, kw_only=True)
class _Layers:
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
            result = tuple(_path(v, base) for v in value)
            self.sources[key] = ("file", str(self.file))
        if self.env.get(env_name):
            result = tuple(_path(v, self.cwd) for v in self.env[env_name].split(os.pathsep) if v)
            self.sources[key] = ("env", env_name)
        flags = [os.fspath(v) for v in given or ()]
        if flags:
            result = tuple(_path(v, self.cwd) for v in flags)
            self.sources[key] = ("flag", flag)
        return result


def _read_toml(path: Path) -> dict[str, Any]:
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


def _expect_str(value: Any, key: str, file: Path | None) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{file}: {key} must be a non-empty string, got {value!r}")
    return value


def _db(text: str, base: Path) -> str:
    """A store URL is kept as written (one-letter "schemes" are Windows drives); a path is resolved."""
    if _URL.match(text) and not re.match(r"^[a-zA-Z]:[\\/]", text):
        return text
    return str(_path(text, base))


def _path(text: str, base: Path) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def _models(
    data: Any,
    file: Path | None,
    env: Mapping[str, str],
    flags: Iterable[str] | None,
    sources: dict[str, tuple[Source, str]],
) -> dict[str, str]:
    models: dict[str, str] = {}

    def put(target: str, model: str, source: Source, origin: str) -> None:
        models[target] = model
        key = "models.default" if target == "*" else f"models.agents.{target}"
        sources[key] = (source, origin)

    if data is not None:
        if not isinstance(data, dict) or set(data) - _MODEL_KEYS:
            raise ConfigurationError(
                f"{file}: [models] takes 'default' (a model for every agent) and [models.agents] "
                "(agent id = model)"
            )
        if "default" in data:
            put("*", parse_model_spec(_expect_str(data["default"], "models.default", file))[1], "file",
                str(file))
        agents = data.get("agents", {})
        if not isinstance(agents, dict):
            raise ConfigurationError(f"{file}: [models.agents] must map agent ids to model strings")
        for agent, model in agents.items():
            put(*parse_model_spec(f"{agent}={_expect_str(model, f'models.agents.{agent}', file)}"), "file",
                str(file))
    for spec in (s for s in env.get("QUORUM_MODEL", "").split(",") if s.strip()):
        put(*parse_model_spec(spec), "env", "QUORUM_MODEL")
    for spec in flags or ():
        put(*parse_model_spec(spec), "flag", "--model")
    return models


def _providers(
    data: Any,
    file: Path | None,
    env: Mapping[str, str],
    sources: dict[str, tuple[Source, str]],
) -> dict[str, ProviderSettings]:
    if data is not None and (not isinstance(data, dict) or set(data) - set(PROVIDERS)):
        raise ConfigurationError(f"{file}: [providers] takes the tables {', '.join(PROVIDERS)}")
    out: dict[str, ProviderSettings] = {}
    for name in PROVIDERS:
        table = (data or {}).get(name, {})
        if not isinstance(table, dict) or set(table) - _PROVIDER_KEYS:
            raise ConfigurationError(f"{file}: [providers.{name}] takes base_url and api_key")
        values: dict[str, str | None] = {}
        for key in ("base_url", "api_key"):
            value: str | None = None
            if key in table:
                value = _expect_str(table[key], f"providers.{name}.{key}", file)
                sources[f"providers.{name}.{key}"] = ("file", str(file))
            env_name = f"{name.upper()}_{key.upper()}"
            if env.get(env_name):
                value = env[env_name]
                sources[f"providers.{name}.{key}"] = ("env", env_name)
            values[key] = value
        out[name] = ProviderSettings(base_url=values["base_url"], api_key=values["api_key"])
    return out


def _endpoints(
    data: Any, file: Path | None, sources: dict[str, tuple[Source, str]]
) -> dict[str, Endpoint]:
    """``[endpoints]``: ``name = "URL"`` or ``[endpoints.name]`` with base_url and api_key."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"{file}: [endpoints] must map names to base URLs")
    out: dict[str, Endpoint] = {}
    for name, value in data.items():
        if isinstance(value, str):
            value = {"base_url": value}
        if not isinstance(value, dict) or set(value) - _PROVIDER_KEYS or "base_url" not in value:
            raise ConfigurationError(
                f"{file}: endpoints.{name} must be a URL, or a table with base_url (and api_key)"
            )
        api_key = value.get("api_key")
        out[name] = Endpoint(
            base_url=_expect_str(value["base_url"], f"endpoints.{name}.base_url", file),
            api_key=None if api_key is None else _expect_str(api_key, f"endpoints.{name}.api_key", file),
        )
        sources[f"endpoints.{name}.base_url"] = ("file", str(file))
        if api_key is not None:
            sources[f"endpoints.{name}.api_key"] = ("file", str(file))
    return out
