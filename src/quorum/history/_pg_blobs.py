"""The PostgreSQL side of the content-addressed blobs (:mod:`._blobs` has the encoding, shared).

Writing: the blobs of one transaction are collected while its events are encoded (:class:`BlobBatch`)
and written in one statement, ``ON CONFLICT DO NOTHING`` (an identical value is stored once).
Reading: the blobs a set of rows refers to, and the blobs those refer to, come back in one recursive
query (:func:`blob_loader`), then markers are resolved in memory.

``prune`` sweeps the blobs no event nor execution reaches any more in one recursive ``DELETE``. So that
the sweep never deletes a blob an append is just about to refer to (its new event not yet visible to
the sweep), an append that writes blobs holds a shared advisory lock and the sweep the exclusive one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from quorum.history._blobs import blob_of, digest_of, encode_payload, loads, pack, resolve, unpack

__all__ = ("BLOB_LOCK", "BlobBatch", "blob_loader", "decode_payload", "sweep")

BLOB_LOCK: Final = "quorum:blobs"
"""The advisory lock (by ``hashtextextended``) between writers of blobs (shared) and the sweep."""

_FETCH = """WITH RECURSIVE wanted(hash) AS (
    SELECT unnest($1::text[])
    UNION
    SELECT unnest(string_to_array(b.refs, ',')) FROM blobs b JOIN wanted w ON b.hash = w.hash
    WHERE b.refs IS NOT NULL
)
SELECT b.hash, b.codec, b.content FROM blobs b JOIN wanted w ON b.hash = w.hash"""

_SWEEP = """WITH RECURSIVE reach(hash) AS (
    SELECT unnest(string_to_array(blobs, ',')) FROM events WHERE blobs IS NOT NULL
    UNION
    SELECT task_definition FROM executions WHERE task_definition IS NOT NULL
    UNION
    SELECT unnest(string_to_array(b.refs, ',')) FROM blobs b JOIN reach r ON b.hash = r.hash
    WHERE b.refs IS NOT NULL
)
DELETE FROM blobs WHERE hash NOT IN (SELECT hash FROM reach)"""


class BlobBatch:
    """The blobs of one write transaction, collected as values are encoded."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, int, str, bytes, str | None]] = {}

    def put(self, text: str, refs: set[str]) -> str:
        digest, raw = digest_of(text)
        if digest not in self.rows:
            codec, content = pack(raw)
            self.rows[digest] = (digest, len(raw), codec, content, ",".join(sorted(refs)) or None)
        return digest

    def put_value(self, value: Any) -> str:
        """Store ``value`` whole (no parts apart; see :func:`~quorum.history._blobs.blob_of`)."""
        blob = blob_of(value)
        self.rows.setdefault(blob.digest, (blob.digest, blob.size, blob.codec, blob.content, None))
        return blob.digest

    def encode(self, kind: str, data: Mapping[str, Any], threshold: int) -> tuple[str, str | None]:
        return encode_payload(self.put, kind, data, threshold)

    async def write(self, conn: Any) -> None:
        if not self.rows:
            return
        await conn.execute("SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))", BLOB_LOCK)
        await conn.executemany(
            "INSERT INTO blobs (hash, size, codec, content, refs) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (hash) DO NOTHING",
            list(self.rows.values()),
        )


async def blob_loader(conn: Any, refs: Iterable[str | None]) -> Callable[[str], Any]:
    """A function hash -> value (markers resolved) for every blob that ``refs`` (``blobs`` columns:
    comma-separated hashes, or None) reach, fetched in one query; a missing blob reads as None."""
    wanted = sorted({h for text in refs if text for h in text.split(",") if h})
    raw: dict[str, Any] = {}
    if wanted:
        for digest, codec, content in await conn.fetch(_FETCH, wanted):
            raw[digest] = unpack(codec, content)
    done: dict[str, Any] = {}

    def load(digest: str) -> Any:
        if digest not in done:
            value = raw.get(digest)
            done[digest] = None if value is None else resolve(value, load)
        return done[digest]

    return load


def decode_payload(
    data: str | None, blobs: str | None, load: Callable[[str], Any]
) -> Mapping[str, Any] | None:
    """An event's data from its row: the inline JSON, with blob markers resolved when it has any."""
    if data is None:
        return None
    value = loads(data)
    if blobs is not None:
        value = resolve(value, load)
    return value if isinstance(value, Mapping) else None


async def sweep(conn: Any) -> int:
    """Delete the blobs nothing reaches (in the caller's transaction); returns how many."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", BLOB_LOCK)
    status: str = await conn.execute(_SWEEP)
    return int(status.rsplit(" ", 1)[-1])
