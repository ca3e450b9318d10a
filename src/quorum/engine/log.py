"""The executor's logger: the seed's logger object (debug/info/warn|warning/error) or stdlib logging.

Messages are formatted only when the level is enabled (stdlib) — the hot path never formats text for a
logger that will drop it.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ("EngineLogger",)


class EngineLogger:
    __slots__ = ("_debug", "_error", "_info", "_std", "_warn")

    def __init__(self, logger: Any = None) -> None:
        if logger is None:
            logger = logging.getLogger("quorum.engine")
        self._std = logger if isinstance(logger, logging.Logger) else None
        self._debug = getattr(logger, "debug", None)
        self._info = getattr(logger, "info", None)
        self._warn = getattr(logger, "warning", None) or getattr(logger, "warn", None)
        self._error = getattr(logger, "error", None)

    def _log(self, level: int, fn: Any, msg: str, args: tuple[Any, ...]) -> None:
        if fn is None:
            return
        if self._std is not None:
            if self._std.isEnabledFor(level):
                fn(msg, *args)
            return
        try:
            fn(msg % args if args else msg)
        except Exception:  # a user's logger must not break an execution
            pass

    @property
    def debug_enabled(self) -> bool:
        return self._std is None or self._std.isEnabledFor(logging.DEBUG)

    def debug(self, msg: str, *args: Any) -> None:
        self._log(logging.DEBUG, self._debug, msg, args)

    def info(self, msg: str, *args: Any) -> None:
        self._log(logging.INFO, self._info, msg, args)

    def warning(self, msg: str, *args: Any) -> None:
        self._log(logging.WARNING, self._warn, msg, args)

    def error(self, msg: str, *args: Any) -> None:
        self._log(logging.ERROR, self._error, msg, args)
