"""Where the market data cache lives: ``$QUORUM_DATA_DIR``, else ``$XDG_DATA_HOME/quorum``, else
``~/.local/share/quorum`` (beside the default history database)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ("cache_path", "data_dir")


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get("QUORUM_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_DATA_HOME")
    root = Path(base).expanduser() if base else Path.home() / ".local" / "share"
    return root / "quorum"


def cache_path(env: Mapping[str, str] | None = None) -> Path:
    return data_dir(env) / "market-data.sqlite3"
