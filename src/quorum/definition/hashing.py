"""Stable content hashes, used to refuse resuming an execution whose task has changed.

- ``Task.content_hash``: SHA-256 of the whole file, normalised (line endings to ``\\n``, trailing
  whitespace of each line and trailing blank lines removed), so re-saving a file in another editor
  does not change it, while any change of a character that matters does.
- ``Phase.content_hash``: SHA-256 of the phase's own definition as canonical JSON (everything the
  engine uses, *without* line numbers, so moving prose around does not count), its effective retry
  policy, and the hashes of the phases it depends on. A change to a phase therefore changes the hash
  of every phase downstream of it, and only of those: a resume can keep the checkpoints of phases
  whose hash is unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from quorum.definition.model import Phase, RetryPolicy, _to_dict

__all__ = ("hash_document", "hash_phases", "hash_with_includes")


def hash_document(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def hash_with_includes(text: str, included: Sequence[tuple[str, str]]) -> str:
    """The task's content hash: its document's, or — when it includes files — that of the document and
    of every included file (path and text), so an edit of an included file changes it too."""
    if not included:
        return hash_document(text)
    digest = hashlib.sha256(hash_document(text).encode("ascii"))
    for path, body in included:
        digest.update(f"\n{path}\n{hash_document(body)}".encode())
    return digest.hexdigest()


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k not in ("line", "content_hash")}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def hash_phases(phases: Sequence[Phase], order: Sequence[str], task_retry: RetryPolicy) -> tuple[Phase, ...]:
    """``phases`` with ``content_hash`` filled in; ``order`` must be topological."""
    by_name: Mapping[str, Phase] = {p.name: p for p in phases}
    hashes: dict[str, str] = {}
    for name in order:
        phase = by_name[name]
        body = _strip_lines(_to_dict(phase))
        body.pop("source", None)  # where it is written is no part of what it does
        body["effective_retry"] = _to_dict(phase.retry or task_retry)
        body["upstream"] = [hashes[d] for d in phase.depends_on]
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        hashes[name] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return tuple(replace(p, content_hash=hashes[p.name]) for p in phases)
