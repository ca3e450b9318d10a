"""``quorum run --record FILE`` / ``--replay FILE``: every agent exchange written to a file, or answered
from one without reaching any model (the response cache of :mod:`quorum.agents.cache` in its ``record``
and ``replay`` modes, kept in that SQLite file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ("Exchanges",)


@dataclass(frozen=True, slots=True, kw_only=True)
class Exchanges:
    path: Path
    mode: Literal["record", "replay"]

    def manager_options(self) -> dict[str, Any]:
        """The ``default_agent_manager`` options that record to (or replay from) the file."""
        from quorum.agents.cache import ResponseCache

        return {"cache": ResponseCache(self.path, mode=self.mode), "cache_mode": self.mode}
