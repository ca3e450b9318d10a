"""``quorum config``: the effective configuration, where each value comes from, secrets masked."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quorum.cli.common import out_console
from quorum.cli.options import AgentsDirOpt, DbOpt, JsonOpt, ModelOpt, TasksDirOpt

if TYPE_CHECKING:
    from quorum.config import Config, Source

__all__ = ("ConfigEntry", "config", "config_entries")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigEntry:
    """One effective setting as shown (secrets already masked)."""

    key: str
    value: str
    source: Source
    origin: str = ""
    """Where it came from: the flag, the variable or the file."""

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source, "origin": self.origin}


def config_entries(cfg: Config) -> list[ConfigEntry]:
    """Every setting of ``cfg`` for display; API keys masked, passwords in URLs hidden (``db``: the
    password of its URL shown as ``***``, the user and host kept, so one can tell which database)."""
    from quorum.config import PROVIDERS, ProviderSettings, mask_secret, mask_url

    out: list[ConfigEntry] = []

    def add(key: str, value: str) -> None:
        source, origin = cfg.sources.get(key, ("default", ""))
        out.append(ConfigEntry(key=key, value=value, source=source, origin=origin))

    add("config_file", str(cfg.file) if cfg.file else "(none found)")
    add("db", cfg.db_shown)
    add("tasks_dirs", os.pathsep.join(map(str, cfg.tasks_dirs)) or "(built-in tasks only)")
    add("agents_dirs",
        os.pathsep.join(map(str, cfg.agents_dirs)) or "(built-in agents, agents/ beside the tasks)")
    add("timeout", cfg.timeout or "(the task's own maxExecutionTime)")
    add("cache", cfg.cache_shown or "(none)")
    add("events", cfg.events_shown or "(none)")
    add("models.default", cfg.models.get("*", "(each agent's own model)"))
    for agent in sorted(k for k in cfg.models if k != "*"):
        add(f"models.agents.{agent}", cfg.models[agent])
    for name in PROVIDERS:
        settings = cfg.providers.get(name, ProviderSettings())
        add(f"providers.{name}.base_url", mask_url(settings.base_url) if settings.base_url else "(unset)")
        add(f"providers.{name}.api_key", mask_secret(settings.api_key) if settings.api_key else "(unset)")
    for name in sorted(cfg.endpoints):
        endpoint = cfg.endpoints[name]
        add(f"endpoints.{name}.base_url", mask_url(endpoint.base_url))
        if endpoint.api_key:
            add(f"endpoints.{name}.api_key", mask_secret(endpoint.api_key))
    return out


def config(
    db: DbOpt = None,
    tasks_dir: TasksDirOpt = None,
    agents_dir: AgentsDirOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the effective configuration: each key, its value and where it came from.

    Precedence: command-line flags > environment variables > quorum.toml (searched upward from the
    current directory, or QUORUM_CONFIG) > defaults. API keys are masked.
    """
    from rich.markup import escape

    from quorum.cli import report
    from quorum.config import load_config

    cfg = load_config(db=db, tasks_dirs=tasks_dir, agents_dirs=agents_dir, models=model)
    entries = config_entries(cfg)
    if as_json:
        sys.stdout.write(json.dumps({e.key: e.to_dict() for e in entries}, indent=2) + "\n")
        return
    table = report.table("key", "value", "source", title="quorum configuration")
    for entry in entries:
        source = entry.source if not entry.origin else f"{entry.source} ({entry.origin})"
        table.add_row(entry.key, escape(entry.value), escape(source))
    out_console().print(table)
