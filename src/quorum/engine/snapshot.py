"""Checkpoint snapshots for the history journal: enough to rebuild an execution's state on resume.

A snapshot holds every settled phase. Each phase's JSON form is built once and reused by later
snapshots (finished phases are frozen), and its successful answers are *referenced* by call key — the
journal already holds each one in its ``agent:response`` event — so snapshots never copy answers again
and the journal grows linearly with the work.
"""

from __future__ import annotations

from typing import Any

from quorum.engine.context import Checkpoint, ExecutionContext
from quorum.engine.results import PhaseResult, response_dict

__all__ = ("Snapshots",)


class Snapshots:
    __slots__ = ("_phases", "answer_keys")

    def __init__(self) -> None:
        self._phases: dict[str, tuple[PhaseResult, dict[str, Any]]] = {}
        self.answer_keys: dict[int, str] = {}
        """id(answer) -> its call key (filled by the agent calls while the run is recorded)."""

    def snapshot(self, ctx: ExecutionContext, checkpoint: Checkpoint) -> dict[str, Any]:
        cache = self._phases
        phases: dict[str, Any] = {}
        for name, result in checkpoint.phases.items():
            cached = cache.get(name)
            if cached is None or cached[0] is not result:
                cached = cache[name] = (result, self.phase_json(result))
            phases[name] = cached[1]
        return {
            "sequence": ctx.sequence,
            "started_at": ctx.started_at,
            "paused_s": ctx.paused_s,
            "usage": checkpoint.usage.to_dict(),
            "phases": phases,
            "checkpoints": [c.id for c in ctx.checkpoints],
        }

    def phase_json(self, result: PhaseResult) -> dict[str, Any]:
        if not result.answers:
            return result.to_dict()
        data = _phase_head(result)
        keys = self.answer_keys
        refs: list[Any] = []
        for answer in result.answers:
            key = keys.get(id(answer))
            refs.append(key if key is not None and answer.error is None else response_dict(answer))
        data["answer_refs"] = tuple(refs)
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
