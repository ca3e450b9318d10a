"""Approval gates: an ``approval:`` step waits for people's decisions, with a deadline and a default.

A gate is identified by ``<phase>/<step index>``. Reaching it emits ``approval:requested`` (the question,
the choices, the approvers needed, the deadline as epoch seconds); each decision is an
``approval:decided`` event (who, what, when, comment). Both are in the journal, so a process that takes
the execution over (``quorum approve``, ``quorum recover``) rebuilds every gate and its decisions from it:
the deadline set when the gate was first reached stays, and no decision is asked twice.

Closing rules: without ``options``, the choices are ``approve`` and ``reject``; one rejection closes the
gate as rejected, ``approvers`` approvals by different people close it as approved. With ``options``, the
gate closes once ``approvers`` different people have chosen; the most chosen option wins (a tie goes to
the option chosen first). A person counts once. When the deadline passes with the gate open, the default
(``reject`` unless the step says otherwise) is recorded as decided ``by: deadline`` and closes it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from quorum.engine.ports import Emitter
from quorum.errors import InvalidDecisionError
from quorum.events import EventType

__all__ = ("APPROVE", "BY_DEADLINE", "REJECT", "Approvals", "Decision", "Gate", "gates_of", "open_gates")

APPROVE = "approve"
REJECT = "reject"
BY_DEADLINE = "deadline"
_MAX_TEXT = 2_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    gate: str
    decision: str
    by: str
    comment: str = ""
    at: float = 0.0
    """Epoch seconds."""

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "decision": self.decision, "by": self.by, "comment": self.comment,
                "at": self.at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """A decision from an event or a control request; InvalidDecisionError when malformed."""
        try:
            gate, decision, by = str(data["gate"]), str(data["decision"]), str(data.get("by") or "")
        except (KeyError, TypeError):
            raise InvalidDecisionError("a decision needs a gate and a decision") from None
        comment = str(data.get("comment") or "")
        if not by.strip():
            raise InvalidDecisionError("a decision needs who made it (by)")
        if len(by) > 200 or len(comment) > _MAX_TEXT:
            raise InvalidDecisionError(f"a decision's 'by' is at most 200 characters and its comment at "
                                       f"most {_MAX_TEXT}")
        at = data.get("at")
        return cls(gate=gate, decision=decision, by=by.strip(), comment=comment,
                   at=float(at) if isinstance(at, int | float) else time.time())

    def to_request(self) -> str:
        """The decision as the text of a ``decide`` control request (see ``ControlAction``)."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_request(cls, text: str) -> Decision:
        try:
            data = json.loads(text)
        except ValueError:
            raise InvalidDecisionError("a decide request must carry the decision as JSON") from None
        if not isinstance(data, Mapping):
            raise InvalidDecisionError("a decide request must carry the decision as a JSON object")
        return cls.from_dict(data)


@dataclass(slots=True, kw_only=True)
class Gate:
    id: str
    question: str
    options: tuple[str, ...] = ()
    approvers: int = 1
    default: str = REJECT
    deadline: float | None = None
    """Epoch seconds; None: it waits until decided."""
    decisions: list[Decision] = field(default_factory=list)
    signal: asyncio.Event | None = field(default=None, repr=False, compare=False)
    """Set when the gate closes (made for the first step that waits on it)."""

    @property
    def choices(self) -> tuple[str, ...]:
        return self.options or (APPROVE, REJECT)

    def outcome(self) -> str | None:
        """The gate's decision once it has closed (see the module docstring); None while open."""
        for d in self.decisions:
            if d.by == BY_DEADLINE:
                return d.decision
        if not self.options:
            if any(d.decision == REJECT for d in self.decisions):
                return REJECT
            return APPROVE if len(self.people(APPROVE)) >= self.approvers else None
        if len(self.people()) < self.approvers:
            return None
        counts: dict[str, int] = {}
        for d in self.decisions:
            counts[d.decision] = counts.get(d.decision, 0) + 1
        return max(counts, key=lambda option: counts[option])  # max keeps the first of equal counts

    def people(self, decision: str | None = None) -> set[str]:
        return {d.by for d in self.decisions if decision is None or d.decision == decision}

    def check(self, decision: Decision) -> None:
        """InvalidDecisionError unless ``decision`` can be counted at this gate now."""
        if self.outcome() is not None:
            raise InvalidDecisionError(f"the approval at {self.id!r} is already decided ({self.outcome()})")
        if decision.decision not in self.choices:
            raise InvalidDecisionError(f"{decision.decision!r} is not a choice at {self.id!r}: "
                                       f"choose one of {', '.join(self.choices)}")
        if decision.by in self.people():
            raise InvalidDecisionError(f"{decision.by} has already decided at {self.id!r} "
                                       "(a person counts once)")

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.id, "question": self.question, "options": list(self.options),
                "choices": list(self.choices), "approvers": self.approvers, "default": self.default,
                "deadline": self.deadline}

    def summary(self) -> dict[str, Any]:
        """What the step gives its phase: ``decision``, ``approvals`` (every decision), the question."""
        outcome = self.outcome()
        return {"decision": outcome, "approved": outcome == APPROVE if not self.options else None,
                "approvals": [d.to_dict() for d in self.decisions], "question": self.question,
                "gate": self.id}


class Approvals:
    """The gates of one execution: opened by ``approval:`` steps, decided from any process, waited for.

    ``on_wait(gate_id)`` / ``on_waited(gate_id)`` tell the execution's control that a step started or
    stopped waiting for a person (the status is ``waiting`` meanwhile, and its clocks stop)."""

    __slots__ = ("_clock", "_emitter", "_gates", "_on_wait", "_on_waited", "_status")

    def __init__(
        self,
        emitter: Emitter,
        *,
        status: Callable[[], str],
        on_wait: Callable[[str], None],
        on_waited: Callable[[str], None],
        recorded: Iterable[tuple[str, Mapping[str, Any]]] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._emitter = emitter
        self._status = status
        self._on_wait = on_wait
        self._on_waited = on_waited
        self._clock = clock
        self._gates: dict[str, Gate] = {}
        for event_type, data in recorded:
            if event_type == EventType.APPROVAL_REQUESTED:
                self._gates[str(data["gate"])] = _gate_from(data)
            elif event_type == EventType.APPROVAL_DECIDED:
                gate = self._gates.get(str(data.get("gate")))
                if gate is not None:
                    gate.decisions.append(Decision.from_dict(data))

    def gate(self, gate_id: str) -> Gate | None:
        return self._gates.get(gate_id)

    @property
    def open_gates(self) -> list[Gate]:
        return [g for g in self._gates.values() if g.outcome() is None]

    def decided(self) -> dict[str, dict[str, Any]]:
        """The closed gates' summaries by gate id, in the order they were opened (for the verdict)."""
        return {g.id: g.summary() for g in self._gates.values() if g.outcome() is not None}

    def open(self, gate_id: str, *, question: str, options: Sequence[str], approvers: int, default: str,
             timeout_s: float | None) -> Gate:
        """The gate at ``gate_id``: the one recorded earlier (its deadline unchanged), else a new one,
        announced by ``approval:requested``."""
        gate = self._gates.get(gate_id)
        if gate is not None:
            return gate
        deadline = None if timeout_s is None else self._clock() + timeout_s
        gate = self._gates[gate_id] = Gate(id=gate_id, question=question, options=tuple(options),
                                           approvers=approvers, default=default, deadline=deadline)
        phase, _, step = gate_id.rpartition("/")
        self._emitter.emit(EventType.APPROVAL_REQUESTED, phase=phase, step=int(step),
                           data={**gate.to_dict(), "status": "waiting"})
        return gate

    def decide(self, decision: Decision) -> Gate:
        """Count ``decision`` at its gate (InvalidDecisionError when it cannot be) and record it."""
        gate = self._gates.get(decision.gate)
        if gate is None:
            waiting = ", ".join(g.id for g in self.open_gates) or "none"
            raise InvalidDecisionError(f"no approval is waiting at {decision.gate!r} (waiting: {waiting})")
        gate.check(decision)
        self._record(gate, decision)
        return gate

    def _record(self, gate: Gate, decision: Decision) -> None:
        gate.decisions.append(decision)
        closed = gate.outcome() is not None
        phase, _, step = gate.id.rpartition("/")
        status = self._status()
        # The status after it: a closing decision ends the wait unless another gate still waits.
        after = "running" if closed and status == "waiting" and not self.open_gates else status
        self._emitter.emit(EventType.APPROVAL_DECIDED, phase=phase, step=int(step),
                           data={**decision.to_dict(), "outcome": gate.outcome(), "status": after})
        if closed and gate.signal is not None:
            gate.signal.set()

    async def wait(self, gate: Gate) -> str:
        """The gate's decision: at once when it has one, else when it closes or its deadline passes
        (then its default, decided ``by: deadline``)."""
        outcome = gate.outcome()
        if outcome is not None:
            return outcome
        if gate.expired(self._clock()):
            return self._time_out(gate)
        if gate.signal is None:
            gate.signal = asyncio.Event()
        self._on_wait(gate.id)
        try:
            timeout = None if gate.deadline is None else max(0.0, gate.deadline - self._clock())
            try:
                async with asyncio.timeout(timeout):
                    await gate.signal.wait()
            except TimeoutError:
                pass
            outcome = gate.outcome()
            return outcome if outcome is not None else self._time_out(gate)
        finally:
            self._on_waited(gate.id)

    def _time_out(self, gate: Gate) -> str:
        self._record(gate, Decision(gate=gate.id, decision=gate.default, by=BY_DEADLINE,
                                    comment="no decision before the deadline", at=self._clock()))
        outcome = gate.outcome()
        assert outcome is not None
        return outcome


def _gate_from(data: Mapping[str, Any]) -> Gate:
    deadline = data.get("deadline")
    return Gate(id=str(data["gate"]), question=str(data.get("question") or ""),
                options=tuple(str(o) for o in data.get("options") or ()),
                approvers=int(data.get("approvers") or 1), default=str(data.get("default") or REJECT),
                deadline=float(deadline) if isinstance(deadline, int | float) else None)


def gates_of(journal: Iterable[Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The approval events of a journal, as ``(type, data)`` pairs for :class:`Approvals`."""
    return [(e.type, e.data) for e in journal
            if e.type in (EventType.APPROVAL_REQUESTED, EventType.APPROVAL_DECIDED)]


def open_gates(journal: Iterable[Any]) -> list[Gate]:
    """The gates of a stored journal still waiting for a decision (for ``quorum approvals``)."""
    gates: dict[str, Gate] = {}
    for event_type, data in gates_of(journal):
        if event_type == EventType.APPROVAL_REQUESTED:
            gates[str(data["gate"])] = _gate_from(data)
        else:
            gate = gates.get(str(data.get("gate")))
            if gate is not None:
                gate.decisions.append(Decision.from_dict(data))
    return [g for g in gates.values() if g.outcome() is None]
