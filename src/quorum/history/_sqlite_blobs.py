"""Large event payloads stored once: content-addressed blobs.

Small payloads (the common case: encoded JSON at most ``threshold`` characters) are stored inline and
cost nothing here. A larger payload is taken apart, to a depth of three levels:

- every string longer than ``threshold`` (a long report, anywhere in the payload) is stored apart —
  the walk that finds strings below that depth runs only when the encoded text has such a run;
- every mapping or list still longer than a quarter of ``threshold`` once its own large parts are
  out (an agent's ``response``, each phase of a checkpoint ``snapshot``) is stored apart.

Containers are assembled from their parts' JSON, so each byte is encoded once. A checkpoint's payload
is always encoded part by part: its settled phases keep their own encoding (``encoded(dumps)``), so a
phase that every later checkpoint of its execution repeats is encoded once for all of them. Other
payloads are encoded whole, and only one that turns out too large is encoded again in parts.

A value stored apart goes to the ``blobs`` table under the sha256 of its JSON and is replaced by a
marker ``{"\\u0000blob": "<hash>"}``. Identical large values — the same report in an
``agent:response``, in the ``phase:complete`` that carries it as an output, in later checkpoint
snapshots and in the verdict — are therefore stored once.

A blob may hold markers of other blobs; ``refs`` lists them so that ``prune`` can sweep the blobs no
event reaches any more.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from quorum.errors import StoreError
from quorum.events import EventType
from quorum.history._rules import plain

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

MARK = "\x00blob"
_COMPRESS_MIN = 16 * 1024
"""Blobs this large are zlib-compressed when that saves 10 % (smaller ones: the CPU costs more than
the disk saved)."""

def _default(value: Any) -> Any:
    # Called by the C encoder only for what JSON lacks: frozen mappings (the engine's events are
    # MappingProxyType all the way down), read-only views and objects with to_dict() (answers, an
    # agent:response's data), call keys, enums. One level at a time, so a payload is never
    # deep-copied before encoding: the encoder calls back for what the returned dict holds.
    if type(value) is MappingProxyType:
        return dict(value)
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    if isinstance(value, Mapping):
        return dict(value)
    return plain(value)


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default)
_decode = json.JSONDecoder().decode


def dumps(value: Any) -> str:
    try:
        return _encoder.encode(value)
    except ValueError as exc:  # a circular reference
        raise StoreError(f"cannot store this value in the history: {exc}") from None


def loads(text: str) -> Any:
    return _decode(text)


_SPLIT_DEPTH = 3
"""How deep a large payload is taken apart (deeper values are stored whole)."""
_MAX_FANOUT = 64
"""Containers with more items than this are not taken apart (one Python step per item is too dear)."""


_encode_str = json.encoder.encode_basestring
_SCALAR_JSON: dict[type, Any] = {
    int: int.__repr__,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}
"""Leaves met when a payload is taken apart, encoded without a call into the encoder (floats go to
it: it owns their NaN/infinity rules)."""
_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})


@dataclass(slots=True)
class _Node:
    """A value and its JSON, with the JSON of its parts when it was encoded part by part."""

    text: str
    value: Any
    keys: list[str] | None = None
    """A mapping's keys, JSON-encoded (None for a list or a leaf)."""
    children: list[_Node] | None = None


def _tree(value: Any, depth: int) -> _Node:
    # Bottom-up: every byte is encoded once (by the C encoder); containers are assembled by joining.
    kind = type(value)
    if kind is str:
        return _Node(_encode_str(value), value)
    if kind in _SCALAR_JSON:
        return _Node(_SCALAR_JSON[kind](value), value)
    encoded = getattr(value, "encoded", None)
    if encoded is not None:  # a part that keeps its own encoding (a settled phase in a checkpoint)
        return _Node(encoded(dumps), value)
    if depth < _SPLIT_DEPTH and isinstance(value, Mapping | list | tuple) and 0 < len(value) <= _MAX_FANOUT:
        if isinstance(value, Mapping):
            if kind is not dict and hasattr(value, "to_dict"):
                value = value.to_dict()  # a view: read each item once
            if all(type(k) is str for k in value):
                parts = value.values()
                if all(type(v) in _LEAF_TYPES for v in parts):
                    return _Node(dumps(value), value)  # nothing to take apart (_emit finds long strings)
                keys = [_encode_str(k) for k in value]
                children = [_tree(v, depth + 1) for v in parts]
                text = "{" + ",".join(f"{k}:{c.text}" for k, c in zip(keys, children, strict=True)) + "}"
                return _Node(text, value, keys, children)
        elif all(type(v) in _LEAF_TYPES for v in value):
            return _Node(dumps(value), value)
        else:
            children = [_tree(v, depth + 1) for v in value]
            return _Node("[" + ",".join(c.text for c in children) + "]", value, None, children)
    return _Node(dumps(value), value)


def encode_event_data(
    conn: sqlite3.Connection, kind: str, data: Mapping[str, Any], threshold: int
) -> tuple[str, str | None]:
    """``(inline JSON, comma-separated hashes of the blobs it refers to)`` for one event's data."""
    node = _tree(data, 0) if kind == EventType.CHECKPOINT_CREATED else None
    text = dumps(data) if node is None else node.text
    if len(text) <= threshold:
        return text, None
    refs: set[str] = set()
    inline = _emit(conn, node or _tree(data, 0), 0, threshold, refs)
    return inline, ",".join(sorted(refs)) or None


def _emit(conn: sqlite3.Connection, node: _Node, depth: int, threshold: int, refs: set[str]) -> str:
    """The JSON of ``node`` with its large parts stored apart: strings longer than ``threshold`` and
    containers still longer than a quarter of it once their own large parts are out."""
    if len(node.text) <= threshold // 4:
        return node.text
    inner: set[str] = set()
    if node.children is not None:
        texts = [_emit(conn, child, depth + 1, threshold, inner) for child in node.children]
        if node.keys is not None:
            text = "{" + ",".join(f"{k}:{t}" for k, t in zip(node.keys, texts, strict=True)) + "}"
        else:
            text = "[" + ",".join(texts) + "]"
    elif isinstance(node.value, str):
        if len(node.value) <= threshold:
            return node.text
        text = node.text
    else:
        text = node.text
        if _long_run(threshold).search(text) is not None:
            # A long string inside a part stored whole: walk it (in Python) to put such strings apart.
            text = dumps(_strings(conn, node.value, threshold, inner))
    if depth == 0 or (len(text) <= threshold // 4 and not isinstance(node.value, str)):
        refs |= inner  # small enough once its large parts are out: stays in its parent
        return text
    digest = _put(conn, text, inner)
    refs.add(digest)
    return dumps({MARK: digest})


_RUNS: dict[int, re.Pattern[str]] = {}


def _long_run(threshold: int) -> re.Pattern[str]:
    # A string literal longer than the threshold holds at least that many characters without a quote.
    pattern = _RUNS.get(threshold)
    if pattern is None:
        pattern = _RUNS[threshold] = re.compile(f'[^"]{{{threshold},}}')
    return pattern


def _strings(conn: sqlite3.Connection, value: Any, threshold: int, refs: set[str]) -> Any:
    if isinstance(value, str):
        if len(value) <= threshold:
            return value
        digest = _put(conn, dumps(value), set())
        refs.add(digest)
        return {MARK: digest}
    if isinstance(value, Mapping):
        return {k: _strings(conn, v, threshold, refs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strings(conn, v, threshold, refs) for v in value]
    return value


def put_value(conn: sqlite3.Connection, value: Any) -> str:
    """Store ``value`` (JSON) as one blob; returns its hash (an identical value is stored once)."""
    return _put(conn, dumps(value), set())


def load_value(conn: sqlite3.Connection, digest: str) -> Any:
    return _load(conn, digest, {})


def _put(conn: sqlite3.Connection, text: str, refs: set[str]) -> str:
    raw = text.encode()
    digest = hashlib.sha256(raw).hexdigest()
    if conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (digest,)).fetchone() is None:
        codec, content = "json", raw
        if len(raw) >= _COMPRESS_MIN:
            packed = zlib.compress(raw, 1)
            if len(packed) < len(raw) * 0.9:
                codec, content = "json+zlib", packed
        conn.execute(
            "INSERT INTO blobs (hash, size, codec, content, refs) VALUES (?, ?, ?, ?, ?)",
            (digest, len(raw), codec, content, ",".join(sorted(refs)) or None),
        )
    return digest


def resolve(conn: sqlite3.Connection, value: Any, cache: dict[str, Any]) -> Any:
    """``value`` with every blob marker replaced by the blob's content (recursively)."""
    if isinstance(value, dict):
        if len(value) == 1 and MARK in value:
            return _load(conn, value[MARK], cache)
        return {k: resolve(conn, v, cache) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(conn, v, cache) for v in value]
    return value


def _load(conn: sqlite3.Connection, digest: str, cache: dict[str, Any]) -> Any:
    if digest in cache:
        return cache[digest]
    row = conn.execute("SELECT codec, content FROM blobs WHERE hash = ?", (digest,)).fetchone()
    if row is None:
        value: Any = None  # pruned under a concurrent reader: show the value as missing, not crash
    else:
        codec, content = row
        raw = zlib.decompress(content) if codec == "json+zlib" else bytes(content)
        value = resolve(conn, _decode(raw.decode()), cache)
    cache[digest] = value
    return value


def sweep(conn: sqlite3.Connection) -> int:
    """Delete the blobs that no event reaches any more (mark and sweep); returns how many."""
    reachable: set[str] = set()
    frontier = _split(r[0] for r in conn.execute("SELECT blobs FROM events WHERE blobs IS NOT NULL"))
    frontier |= _split(
        r[0] for r in conn.execute("SELECT task_definition FROM executions WHERE task_definition IS NOT NULL")
    )
    children = dict(conn.execute("SELECT hash, refs FROM blobs WHERE refs IS NOT NULL").fetchall())
    while frontier:
        digest = frontier.pop()
        if digest not in reachable:
            reachable.add(digest)
            if digest in children:
                frontier |= _split([children[digest]])
    every = [r[0] for r in conn.execute("SELECT hash FROM blobs")]
    dead = [(d,) for d in every if d not in reachable]
    conn.executemany("DELETE FROM blobs WHERE hash = ?", dead)
    return len(dead)


def _split(lists: Iterable[str]) -> set[str]:
    return {h for text in lists for h in text.split(",") if h}


def decode_payload(
    conn: sqlite3.Connection, data: str | None, blobs: str | None, cache: dict[str, Any]
) -> Mapping[str, Any] | None:
    """An event's data from its row: the inline JSON, with blob markers resolved when it has any."""
    if data is None:
        return None
    value = _decode(data)
    if blobs is not None:
        value = resolve(conn, value, cache)
    return value if isinstance(value, Mapping) else None
