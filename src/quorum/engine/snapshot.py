"""Checkpoint snapshots for the history journal: enough to rebuild an execution's state on resume.

A snapshot holds every settled phase. Its successful answers are *referenced* by call key — the
journal already holds each one in its ``agent:response`` event — so snapshots never copy answers again
and the journal grows linearly with the work. The references of a phase are worked out once and reused
by later snapshots (finished phases are frozen); the JSON form itself is made when a store reads the
snapshot to write it, so a store that keeps events as objects (in memory) keeps a small view of the
checkpoint's own results instead of a copy per checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from quorum._keyed import KeyedView
from quorum.engine.context import Checkpoint, ExecutionContext
from quorum.engine.results import PhaseResult, Usage, response_dict
from quorum.ids import ExecutionId

__all__ = ("PhaseRecord", "Snapshot", "Snapshots")

_json_str: Callable[[str], str] = json.encoder.encode_basestring


class Snapshots:
    __slots__ = ("_keys", "_phases")

    def __init__(self) -> None:
        self._phases: dict[str, PhaseRecord] = {}
        self._keys: dict[str, list[str]] = {}
        """phase -> the call keys of its (latest attempt's) answers, in their order."""

    def keys_of(self, phase: str) -> list[str]:
        """A fresh list for the call keys of an attempt at ``phase`` (filled in step with its answers)."""
        keys = self._keys[phase] = []
        return keys

    def snapshot(self, ctx: ExecutionContext, checkpoint: Checkpoint) -> Mapping[str, Any]:
        cache = self._phases
        phases: list[PhaseRecord] = []
        for name, result in checkpoint.phases.items():
            cached = cache.get(name)
            if cached is None or cached.result is not result:
                cached = cache[name] = PhaseRecord(result, self._answer_refs(result))
            phases.append(cached)
        return Snapshot(sequence=ctx.sequence, started_at=ctx.started_at, paused_s=ctx.paused_s,
                        usage=checkpoint.usage, children=checkpoint.children, phases=tuple(phases),
                        checkpoints=tuple(c.id for c in ctx.checkpoints))

    def _answer_refs(self, result: PhaseResult) -> tuple[Any, ...] | None:
        if not result.answers:
            return None
        keys = self._keys.get(result.name)
        if keys is None or len(keys) != len(result.answers):  # not from a run recorded here: copies
            return tuple(response_dict(answer) for answer in result.answers)
        return tuple(key if answer.error is None else response_dict(answer)
                     for key, answer in zip(keys, result.answers, strict=True))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Snapshot(KeyedView):
    """A checkpoint's snapshot: ``{sequence, started_at, paused_s, usage, children, phases,
    checkpoints}``, ``children`` each child execution counted in ``usage`` (id -> its usage), each
    phase as its JSON form (a :class:`PhaseRecord`: ``to_dict()``, its answers as references), made
    when read.

    Only a store that writes the journal out reads it (once); the in-memory store keeps this object,
    which refers to the checkpoint's own (frozen) results, instead of a dict of each phase's JSON per
    checkpoint (kept for the memory it saves: benchmarks/PROFILE.md, "Kept").
    """

    KEYS = ("sequence", "started_at", "paused_s", "usage", "children", "phases", "checkpoints")

    sequence: int
    started_at: float | None
    paused_s: float
    usage: Usage
    children: Mapping[ExecutionId, Usage]
    phases: tuple[PhaseRecord, ...]
    checkpoints: tuple[str, ...]

    def joined(self, encode: Callable[[Any], str]) -> str:
        """``encode(self.to_dict())`` made by joining: each settled phase is its own kept encoding
        (:meth:`PhaseRecord.encoded`), so a checkpoint costs the encoding of what changed since the last
        one (the stores write a checkpoint this way unless it is large enough to store parts apart)."""
        head = encode({"sequence": self.sequence, "started_at": self.started_at, "paused_s": self.paused_s,
                       "usage": self.usage.to_dict(), "children": self._children_json()})
        phases = ",".join(f"{_json_str(r.result.name)}:{r.encoded(encode)}" for r in self.phases)
        return f'{head[:-1]},"phases":{{{phases}}},"checkpoints":{encode(list(self.checkpoints))}}}'

    def _children_json(self) -> dict[str, Any]:
        return {child: usage.to_dict() for child, usage in self.children.items()}

    def __getitem__(self, key: str) -> Any:
        if key == "phases":
            return {record.result.name: record for record in self.phases}
        if key == "usage":
            return self.usage.to_dict()
        if key == "children":
            return self._children_json()
        if key == "checkpoints":
            return list(self.checkpoints)
        if key in self.KEYS:
            return getattr(self, key)
        raise KeyError(key)


class PhaseRecord(Mapping[str, Any]):
    """A settled phase in a snapshot: its JSON form (``to_dict()``, its answers as references), made
    when read.

    A phase is frozen once settled, and each snapshot holds every settled phase, so one record serves
    every later snapshot of the execution and can keep its own encoding (:meth:`encoded`): a store
    that writes the journal as JSON then encodes each phase once, not once per later checkpoint.
    """

    __slots__ = ("_encoded", "refs", "result")

    def __init__(self, result: PhaseResult, refs: tuple[Any, ...] | None) -> None:
        self.result = result
        self.refs = refs
        self._encoded: tuple[Callable[[Any], str], str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return _phase_json(self.result, self.refs)

    def encoded(self, encode: Callable[[Any], str]) -> str:
        """``encode(self.to_dict())``, worked out once per encoder."""
        kept = self._encoded
        if kept is None or kept[0] is not encode:
            kept = self._encoded = (encode, encode(self.to_dict()))
        return kept[1]

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def __repr__(self) -> str:
        return f"PhaseRecord({self.to_dict()!r})"


def _phase_json(result: PhaseResult, refs: tuple[Any, ...] | None) -> dict[str, Any]:
    if refs is None:
        return result.to_dict()
    data = _phase_head(result)
    data["answer_refs"] = refs
    return data


def _phase_head(result: PhaseResult) -> dict[str, Any]:
    return {
        # The outputs as they are (frozen): the stores encode frozen mappings and tuples like dicts and
        # lists, and resume freezes what it reads; a thawed copy would duplicate every answer's data.
        # Tuples, not lists (an empty one is shared): the journal keeps every phase's form for the life of
        # the execution, and the stores write tuples as lists.
        "name": result.name, "status": result.status.value, "outputs": result.outputs, "answers": (),
        "attempts": result.attempts, "duration_ms": result.duration_ms, "started_at": result.started_at,
        "ended_at": result.ended_at, "error": result.error, "skipped_reason": result.skipped_reason,
        "warnings": result.warnings,
    }
