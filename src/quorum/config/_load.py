"""load_config: the effective configuration, each key through the precedence flag > env > file >
default, and the tables of ``quorum.toml`` (``[models]``, ``[providers]``, ``[endpoints]``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from quorum.config._settings import PROVIDERS, Config, Endpoint, ProviderSettings, Source, mask_url
from quorum.config._sources import (
    Layers,
    default_db_path,
    expect_str,
    find_config_file,
    read_toml,
    store_location,
)
from quorum.errors import ConfigurationError

__all__ = ("load_config", "parse_model_spec")

_MODEL_KEYS = frozenset({"default", "agents"})
_PROVIDER_KEYS = frozenset({"base_url", "api_key"})


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
    layers = Layers(file=file, data=read_toml(file) if file else {}, cwd=cwd, env=env)
    if file:
        layers.sources["config_file"] = ("env", "QUORUM_CONFIG") if env.get("QUORUM_CONFIG") else ("file", "")
    layers.sources["db"] = ("default", "XDG_DATA_HOME" if env.get("XDG_DATA_HOME") else "")
    db_path = layers.pick("db", "QUORUM_DB", "--db", None if db is None else os.fspath(db), store_location,
                          str(default_db_path(env)))
    tasks = layers.pick_dirs("tasks_dirs", "QUORUM_TASKS_DIRS", "--tasks-dir", tasks_dirs)
    if tasks is None:
        # like TaskExecutor(tasks_dir="tasks"): a tasks/ folder in the current directory is searched
        tasks = (cwd / "tasks",) if (cwd / "tasks").is_dir() else ()
    agents = layers.pick_dirs("agents_dirs", "QUORUM_AGENTS_DIRS", "--agents-dir", agents_dirs) or ()
    timeout_value = layers.pick("timeout", "QUORUM_TIMEOUT", "--timeout", timeout, lambda text, _: text, None)
    cache = layers.pick("cache", "QUORUM_CACHE", "--cache", None, store_location, None)
    events = layers.pick("events", "QUORUM_EVENTS", "--events", None, lambda text, _: text.strip(), None)
    if events is not None:
        _check_events_url(events, layers.sources["events"])
    data, sources = layers.data, layers.sources
    return Config(
        db=db_path or str(default_db_path(env)),
        tasks_dirs=tasks,
        agents_dirs=agents,
        models=MappingProxyType(_models(data.get("models"), file, env, models, sources)),
        timeout=timeout_value,
        cache=cache,
        events=events,
        telemetry=_telemetry_table(data.get("telemetry"), file),
        providers=MappingProxyType(_providers(data.get("providers"), file, env, sources)),
        endpoints=MappingProxyType(_endpoints(data.get("endpoints"), file, sources)),
        file=file,
        sources=MappingProxyType(sources),
    )


def _telemetry_table(value: object, file: Path | None) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{file}: [telemetry] must be a table, not {type(value).__name__}")
    return MappingProxyType(dict(value))


def _check_events_url(text: str, source: tuple[Source, str]) -> None:
    """Live events go to a Redis server: anything else is a mistake to say now, not at the first event."""
    scheme = text.partition("://")[0].lower()
    if scheme not in ("redis", "rediss", "unix"):
        where = f"{source[1]}: events" if source[0] == "file" else source[1]
        raise ConfigurationError(
            f"{where} = {mask_url(text)!r}: live events are published to Redis; use redis://HOST:6379/0"
        )


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
            put("*", parse_model_spec(expect_str(data["default"], "models.default", file))[1], "file",
                str(file))
        agents = data.get("agents", {})
        if not isinstance(agents, dict):
            raise ConfigurationError(f"{file}: [models.agents] must map agent ids to model strings")
        for agent, model in agents.items():
            put(*parse_model_spec(f"{agent}={expect_str(model, f'models.agents.{agent}', file)}"), "file",
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
                value = expect_str(table[key], f"providers.{name}.{key}", file)
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
            base_url=expect_str(value["base_url"], f"endpoints.{name}.base_url", file),
            api_key=None if api_key is None else expect_str(api_key, f"endpoints.{name}.api_key", file),
        )
        sources[f"endpoints.{name}.base_url"] = ("file", str(file))
        if api_key is not None:
            sources[f"endpoints.{name}.api_key"] = ("file", str(file))
    return out
