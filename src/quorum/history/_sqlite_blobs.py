"""The SQLite side of the content-addressed blobs (:mod:`._blobs` has the encoding): the ``blobs``
table written and read through a sqlite3 connection, and the sweep that ``prune`` runs.

A blob may hold markers of other blobs; ``refs`` lists them so that ``prune`` can sweep the blobs no
event reaches any more.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping
from typing import Any

from quorum.history._blobs import (
    MARK,
    blob_of,
    digest_of,
    dumps,
    encode_payload,
    loads,
    pack,
    split_refs,
    unpack,
)
from quorum.history._blobs import resolve as _resolve_with

__all__ = (
    "MARK",
    "decode_payload",
    "dumps",
    "encode_event_data",
    "load_value",
    "loads",
    "put_value",
    "resolve",
    "sweep",
)


def encode_event_data(
    conn: sqlite3.Connection, kind: str, data: Mapping[str, Any], threshold: int
) -> tuple[str, str | None]:
    """``(inline JSON, comma-separated hashes of the blobs it refers to)`` for one event's data."""
    return encode_payload(functools.partial(_put, conn), kind, data, threshold)


def put_value(conn: sqlite3.Connection, value: Any) -> str:
    """Store ``value`` (JSON) whole as one blob; returns its hash (an identical value is stored once;
    see :func:`~quorum.history._blobs.blob_of`)."""
    blob = blob_of(value)
    if conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (blob.digest,)).fetchone() is None:
        conn.execute(
            "INSERT INTO blobs (hash, size, codec, content, refs) VALUES (?, ?, ?, ?, NULL)",
            (blob.digest, blob.size, blob.codec, blob.content),
        )
    return blob.digest


def load_value(conn: sqlite3.Connection, digest: str) -> Any:
    return _load(conn, digest, {})


def _put(conn: sqlite3.Connection, text: str, refs: set[str]) -> str:
    digest, raw = digest_of(text)
    if conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (digest,)).fetchone() is None:
        codec, content = pack(raw)
        conn.execute(
            "INSERT INTO blobs (hash, size, codec, content, refs) VALUES (?, ?, ?, ?, ?)",
            (digest, len(raw), codec, content, ",".join(sorted(refs)) or None),
        )
    return digest


def resolve(conn: sqlite3.Connection, value: Any, cache: dict[str, Any]) -> Any:
    """``value`` with every blob marker replaced by the blob's content (recursively)."""
    return _resolve_with(value, functools.partial(_load, conn, cache=cache))


def _load(conn: sqlite3.Connection, digest: str, cache: dict[str, Any]) -> Any:
    if digest in cache:
        return cache[digest]
    row = conn.execute("SELECT codec, content FROM blobs WHERE hash = ?", (digest,)).fetchone()
    if row is None:
        value: Any = None  # pruned under a concurrent reader: show the value as missing, not crash
    else:
        value = resolve(conn, unpack(row[0], row[1]), cache)
    cache[digest] = value
    return value


def sweep(conn: sqlite3.Connection) -> int:
    """Delete the blobs that no event reaches any more (mark and sweep); returns how many."""
    reachable: set[str] = set()
    frontier = split_refs(r[0] for r in conn.execute("SELECT blobs FROM events WHERE blobs IS NOT NULL"))
    frontier |= split_refs(
        r[0] for r in conn.execute("SELECT task_definition FROM executions WHERE task_definition IS NOT NULL")
    )
    children = dict(conn.execute("SELECT hash, refs FROM blobs WHERE refs IS NOT NULL").fetchall())
    while frontier:
        digest = frontier.pop()
        if digest not in reachable:
            reachable.add(digest)
            if digest in children:
                frontier |= split_refs([children[digest]])
    every = [r[0] for r in conn.execute("SELECT hash FROM blobs")]
    dead = [(d,) for d in every if d not in reachable]
    conn.executemany("DELETE FROM blobs WHERE hash = ?", dead)
    return len(dead)


def decode_payload(
    conn: sqlite3.Connection, data: str | None, blobs: str | None, cache: dict[str, Any]
) -> Mapping[str, Any] | None:
    """An event's data from its row: the inline JSON, with blob markers resolved when it has any."""
    if data is None:
        return None
    value = loads(data)
    if blobs is not None:
        value = resolve(conn, value, cache)
    return value if isinstance(value, Mapping) else None
