"""Cursor paging of ``GET /executions`` over the store's newest-first listing.

The store lists the newest N executions (``find_executions(limit=...)``: its ``list_executions``, or
the versions a ``name@selector`` picks); a cursor names the last
execution of a page and its position, so the next page starts right after it even when new executions
were recorded meanwhile (they come before it, not into the next page).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from quorum.history.queries import find_executions
from quorum.server.problems import ApiError

if TYPE_CHECKING:
    from quorum.history.base import ExecutionRecord, HistoryStore

__all__ = ("Cursor", "page_of")

_SLACK = 64
"""Extra rows read past the cursor's position: executions recorded since the previous page."""


@dataclass(frozen=True, slots=True)
class Cursor:
    position: int
    last_id: str

    def encode(self) -> str:
        raw = json.dumps([self.position, self.last_id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            position, last_id = json.loads(raw)
            if not isinstance(position, int) or position < 0 or not isinstance(last_id, str):
                raise ValueError
        except (ValueError, TypeError, json.JSONDecodeError):
            raise ApiError(400, f"cursor {text[:40]!r} is not one this server gave; use the next_cursor "
                           "of a previous page, or none for the first page") from None
        return cls(position, last_id)


async def page_of(store: HistoryStore, *, limit: int, status: str | None, task: str | None,
                  since: float | None, cursor: Cursor | None) -> tuple[list[ExecutionRecord], Cursor | None]:
    start = 0
    if cursor is not None:
        wanted = cursor.position + _SLACK + limit + 1
        rows = await find_executions(store, limit=wanted, status=status, task=task)
        ids: list[str] = [r.id for r in rows]
        if cursor.last_id not in ids:
            rows = await find_executions(store, limit=1_000_000, status=status, task=task)
            ids = [r.id for r in rows]
        if cursor.last_id not in ids:
            raise ApiError(400, "the cursor's execution is no longer in the history (pruned); start again "
                           "from the first page")
        start = ids.index(cursor.last_id) + 1
    else:
        rows = await find_executions(store, limit=limit + 1, status=status, task=task)
    window = rows[start:start + limit + 1]
    if since is not None:
        kept = [r for r in window if r.created_at >= since]
        if len(kept) < len(window):  # newest first: everything after the first older one is older
            return kept[:limit], None
    if len(window) <= limit:
        return window, None
    page = window[:limit]
    return page, Cursor(start + limit - 1, page[-1].id)
