"""A damaged history file, told apart from the other failures of SQLite, and looked for on open.

SQLite reports damage as ``SQLITE_CORRUPT`` ("database disk image is malformed") or ``SQLITE_NOTADB``
("file is not a database"), but only when a query happens to touch a damaged page: the rest of the
file still reads, so without a check a history damaged in the middle is half-read and written to.
Hence ``PRAGMA quick_check`` when the store opens (linear in the file's size, and it reads every page
of every table), and every later failure of a read or a write is classified here.

Content that SQLite returns intact but quorum cannot decode (JSON it wrote, a zlib blob) is damage too.
"""

from __future__ import annotations

import json
import sqlite3
import zlib

from quorum.errors import HistoryCorruptError

__all__ = ("DAMAGED_CONTENT", "damage_in", "quick_check")

_DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_DAMAGE_WORDS = ("malformed", "not a database")
DAMAGED_CONTENT: tuple[type[Exception], ...] = (json.JSONDecodeError, UnicodeDecodeError, zlib.error)
"""What decoding a stored value raises when its bytes were damaged."""
_MAX_CAUSES = 8


def damage_in(exc: BaseException | None) -> str | None:
    """What SQLite said, when ``exc`` (or one of its causes) means the file is damaged; else None."""
    for _ in range(_MAX_CAUSES):
        if exc is None:
            return None
        if isinstance(exc, HistoryCorruptError):
            return exc.detail
        if isinstance(exc, sqlite3.DatabaseError):
            code = getattr(exc, "sqlite_errorcode", None)
            text = str(exc)
            # The primary code is the low byte (SQLITE_CORRUPT_INDEX & 0xff == SQLITE_CORRUPT).
            if (code is not None and code & 0xFF in _DAMAGE_CODES) or any(
                word in text.lower() for word in _DAMAGE_WORDS
            ):
                return text
        elif isinstance(exc, DAMAGED_CONTENT):
            return f"a stored value cannot be decoded: {exc}"
        exc = exc.__cause__
    return None


def quick_check(conn: sqlite3.Connection, path: str) -> None:
    """Raise :class:`HistoryCorruptError` unless ``PRAGMA quick_check`` finds the file sound."""
    try:
        problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        detail = damage_in(exc)
        if detail is None:
            raise
        raise HistoryCorruptError(path, detail) from exc
    if problems != ["ok"]:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise HistoryCorruptError(path, f"quick_check: {problems[0]}{more}")
