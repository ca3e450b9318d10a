"""Large event payloads stored once: content-addressed blobs (the encoding, shared by the SQL backends).

Small payloads (the common case: encoded JSON at most ``threshold`` characters) are stored inline and
cost nothing here. A larger payload is taken apart, to a depth of three levels:

- every string longer than ``threshold`` (a long report, anywhere in the payload) is stored apart —
  the walk that finds strings below that depth runs only when the encoded text has such a run;
- every mapping or list still longer than a quarter of ``threshold`` once its own large parts are
  out (an agent's ``response``, each phase of a checkpoint ``snapshot``) is stored apart.

Containers are assembled from their parts' JSON, so each byte is encoded once. A checkpoint's payload
is always encoded part by part: its settled phases keep their own encoding (``encoded(dumps)``), so a
phase that every later checkpoint of its execution repeats is encoded once for all of them (joined
directly, ``Snapshot.joined``; taken apart as a tree only when too large). Other
payloads are encoded whole, and only one that turns out too large is encoded again in parts.

A value stored apart goes to the backend's ``blobs`` table (through the ``put`` function it gives)
under the sha256 of its JSON and is replaced by a marker ``{"\\u0000blob": "<hash>"}``.
Identical large values — the same report in an ``agent:response``, in the ``phase:complete`` that
carries it as an output, in later checkpoint snapshots and in the verdict — are therefore stored once.

A blob may hold markers of other blobs; ``refs`` lists them so that ``prune`` can sweep the blobs no
event reaches any more.

The backends differ only in how a blob is written and read: :mod:`._sqlite_blobs` (a sqlite3
connection, one lookup at a time) and :mod:`._pg_blobs` (collected, then written in one statement).
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from quorum.errors import StoreError
from quorum.events import EventType
from quorum.history._rules import plain

__all__ = (
    "MARK",
    "Blob",
    "Put",
    "blob_of",
    "digest_of",
    "dumps",
    "encode_payload",
    "loads",
    "pack",
    "resolve",
    "split_refs",
    "unpack",
)

Put = Callable[[str, set[str]], str]
"""Stores one blob: ``put(json_text, hashes_it_refers_to)`` -> its hash."""

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
    # dict and MappingProxyType (every level of an event) are told by type: an ABC check costs more
    is_mapping = kind is dict or kind is MappingProxyType or (
        kind is not list and kind is not tuple and isinstance(value, Mapping))
    is_sequence = kind is list or kind is tuple or (not is_mapping and isinstance(value, list | tuple))
    if depth < _SPLIT_DEPTH and (is_mapping or is_sequence) and 0 < len(value) <= _MAX_FANOUT:
        if is_mapping:
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


def encode_payload(put: Put, kind: str, data: Mapping[str, Any], threshold: int) -> tuple[str, str | None]:
    """``(inline JSON, comma-separated hashes of the blobs it refers to)`` for one event's data."""
    text = _joined(data) if kind == EventType.CHECKPOINT_CREATED else dumps(data)
    if len(text) <= threshold:
        return text, None
    refs: set[str] = set()
    inline = _emit(put, _tree(data, 0), 0, threshold, refs)
    return inline, ",".join(sorted(refs)) or None


def _joined(data: Mapping[str, Any]) -> str:
    """A checkpoint's JSON, its snapshot joined from the kept encodings of its settled phases (see
    ``Snapshot.joined``): the same text as its tree's, without a node per part."""
    parts = []
    for key, value in data.items():
        joined = getattr(value, "joined", None)
        parts.append(f"{_encode_str(key)}:{dumps(value) if joined is None else joined(dumps)}")
    return "{" + ",".join(parts) + "}"


def _emit(put: Put, node: _Node, depth: int, threshold: int, refs: set[str]) -> str:
    """The JSON of ``node`` with its large parts stored apart: strings longer than ``threshold`` and
    containers still longer than a quarter of it once their own large parts are out."""
    if len(node.text) <= threshold // 4:
        return node.text
    inner: set[str] = set()
    if node.children is not None:
        texts = [_emit(put, child, depth + 1, threshold, inner) for child in node.children]
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
            text = dumps(_strings(put, node.value, threshold, inner))
    if depth == 0 or (len(text) <= threshold // 4 and not isinstance(node.value, str)):
        refs |= inner  # small enough once its large parts are out: stays in its parent
        return text
    digest = put(text, inner)
    refs.add(digest)
    return dumps({MARK: digest})


_RUNS: dict[int, re.Pattern[str]] = {}


def _long_run(threshold: int) -> re.Pattern[str]:
    # A string literal longer than the threshold holds at least that many characters without a quote.
    pattern = _RUNS.get(threshold)
    if pattern is None:
        pattern = _RUNS[threshold] = re.compile(f'[^"]{{{threshold},}}')
    return pattern


def _strings(put: Put, value: Any, threshold: int, refs: set[str]) -> Any:
    if isinstance(value, str):
        if len(value) <= threshold:
            return value
        digest = put(dumps(value), set())
        refs.add(digest)
        return {MARK: digest}
    if isinstance(value, Mapping):
        return {k: _strings(put, v, threshold, refs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strings(put, v, threshold, refs) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Blob:
    """One value stored whole as a blob: its content address, size, and what is written."""

    digest: str
    size: int
    codec: str
    content: bytes


_KNOWN_MAX = 64
_known: dict[int, tuple[Any, Blob]] = {}


def blob_of(value: Any) -> Blob:
    """``value`` as one blob (its JSON, hashed and packed).

    A read-only mapping (``MappingProxyType``) is encoded once while it stays in a small cache: the task
    definition that every execution of a task records with its row is one such view, made once per task
    by the engine (40 KB for the committee: its encoding, hash and compression were paid again by each
    execution). A mutable value is encoded every time: it may have changed since."""
    if type(value) is not MappingProxyType:
        return _blob(dumps(value))
    known = _known.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    blob = _blob(dumps(value))
    if len(_known) >= _KNOWN_MAX:
        _known.clear()
    _known[id(value)] = (value, blob)  # the value itself is kept: its id cannot be reused meanwhile
    return blob


def _blob(text: str) -> Blob:
    digest, raw = digest_of(text)
    codec, content = pack(raw)
    return Blob(digest, len(raw), codec, content)


def digest_of(text: str) -> tuple[str, bytes]:
    """``(sha256 hex, utf-8 bytes)`` of a blob's JSON: its content address."""
    raw = text.encode()
    return hashlib.sha256(raw).hexdigest(), raw


def pack(raw: bytes) -> tuple[str, bytes]:
    """``(codec, content)`` to store: zlib when the blob is large and that saves 10 %."""
    if len(raw) >= _COMPRESS_MIN:
        packed = zlib.compress(raw, 1)
        if len(packed) < len(raw) * 0.9:
            return "json+zlib", packed
    return "json", raw


def unpack(codec: str, content: bytes) -> Any:
    """A stored blob's JSON value (its own markers not resolved yet)."""
    raw = zlib.decompress(content) if codec == "json+zlib" else bytes(content)
    return _decode(raw.decode())


def resolve(value: Any, load: Callable[[str], Any]) -> Any:
    """``value`` with every blob marker replaced by ``load(hash)`` (which resolves its own markers)."""
    if isinstance(value, dict):
        if len(value) == 1 and MARK in value:
            return load(value[MARK])
        return {k: resolve(v, load) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, load) for v in value]
    return value


def split_refs(lists: Iterable[str]) -> set[str]:
    """The hashes of comma-separated ``refs`` / ``blobs`` columns."""
    return {h for text in lists for h in text.split(",") if h}
