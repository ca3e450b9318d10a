"""The immutable task model produced by the parser and consumed by the engine.

Everything here is a frozen, slotted dataclass made of JSON-friendly values (str, int, float, bool,
None, tuples, and ``Mapping`` views), so a Task can be hashed, shared between executions and turned
into JSON and back (``to_dict`` / ``from_dict``) exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Literal

from quorum.definition.backoff import Backoff
from quorum.ids import AgentId, PhaseName, TaskName

__all__ = (
    "BUILTIN_STEP_KINDS",
    "OutputSelector",
    "OutputSpec",
    "Phase",
    "Requirement",
    "RequirementType",
    "RetryPolicy",
    "Step",
    "StepKind",
    "Task",
    "frozen_mapping",
    "json_default",
    "thaw",
)

RequirementType = Literal["string", "number", "integer", "boolean", "list", "object"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def frozen_mapping(value: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view of a *copy* of ``value`` (nested dicts and lists frozen too)."""
    if not value:
        return _EMPTY
    return MappingProxyType({k: _freeze(v) for k, v in value.items()})


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return frozen_mapping(value)
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
"""The types that plain (JSON) data holds as they are: nothing inside them to freeze or thaw."""


def thaw(value: Any, other: Callable[[Any], Any] | None = None) -> Any:
    """Plain dicts and lists from frozen mappings and tuples: what :func:`frozen_mapping` undoes.

    ``other`` converts what is neither (the engine turns agent answers into their dicts); without it,
    such values are kept as they are."""
    kind = type(value)
    # Exact-type checks first: the ABC isinstance checks below are slow and this runs per answer.
    if kind in SCALAR_TYPES:
        return value
    if kind is dict or kind is MappingProxyType:
        leaves = SCALAR_TYPES
        return {k: v if type(v) in leaves else thaw(v, other) for k, v in value.items()}
    if kind is tuple or kind is list:
        leaves = SCALAR_TYPES
        return [v if type(v) in leaves else thaw(v, other) for v in value]
    if isinstance(value, Mapping):
        return {k: thaw(v, other) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v, other) for v in value]
    return value if other is None else other(value)


def json_default(value: Any) -> Any:
    """For ``json.dumps(default=...)``: frozen mappings and tuples (and sets) as JSON, else as str."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


class StepKind(enum.StrEnum):
    PROMPT = "prompt"
    """Plain text (or ``prompt: ...``): sent to every agent of the phase."""
    AGENT = "agent"
    """``agent: <id> - <query>``: one agent, one query."""
    VALIDATION = "validation"
    """``validation: <condition> - <message>``: false ends the execution as failed."""
    AGGREGATE = "aggregate"
    """``aggregate: <type> [key=value ...]``: combine the phase's answers."""
    APPROVAL = "approval"
    """``approval: <question> [timeout=...] [default=...] [approvers=N] [options=a|b]``: wait for people."""
    CUSTOM = "custom"
    """``<type>: <args>``: a step strategy registered at run time."""


BUILTIN_STEP_KINDS: frozenset[str] = frozenset({"prompt", "agent", "validation", "aggregate", "approval"})


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often a failed phase is tried, and how long to wait between attempts (see :attr:`backoff`)."""

    max_attempts: int = 1
    backoff_ms: float = 1000.0
    max_backoff_ms: float = 30_000.0
    jitter: float = 0.1

    @property
    def backoff(self) -> Backoff:
        """The waits between attempts: ``backoff_ms`` doubling up to ``max_backoff_ms``, ± ``jitter``."""
        return Backoff(
            initial_s=self.backoff_ms / 1000.0,
            max_s=self.max_backoff_ms / 1000.0,
            multiplier=2.0,
            jitter=self.jitter,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    """One input field the task needs."""

    name: str
    type: RequirementType = "string"
    required: bool = True
    default: Any = None
    description: str | None = None
    enum: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One bullet of a ``### Steps`` list.

    - PROMPT: ``text`` is the prompt template.
    - AGENT: ``agent`` is the agent id, ``text`` the query template.
    - VALIDATION: ``condition`` is the expression, ``text`` the failure message.
    - AGGREGATE: ``type`` is the aggregator (consensus, vote, ...), ``parameters`` its options.
    - APPROVAL: ``text`` is the question template; ``parameters``: ``timeout_s`` (float or None),
      ``default`` (a choice), ``approvers`` (int), ``options`` (tuple of choices; empty: approve/reject).
    - CUSTOM: ``type`` is the strategy name, ``text`` its raw argument text (a template),
      ``parameters`` the ``key=value`` pairs found in it (empty when it is not all key=value).
    """

    kind: StepKind
    index: int
    text: str = ""
    type: str | None = None
    agent: AgentId | None = None
    condition: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    raw: str = ""
    line: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSpec:
    """A declared phase output: ``- name (type): description``."""

    name: str
    description: str = ""
    type: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    name: PhaseName
    depends_on: tuple[PhaseName, ...] = ()
    parallel: bool = False
    timeout_s: float | None = None
    retry: RetryPolicy | None = None
    """Overrides the task's retry policy when set."""
    checkpoint: bool = False
    when: str | None = None
    optional: bool = False
    min_agents: int | None = None
    rounds: int = 1
    """How many times the phase's prompt steps go around the table (debates)."""
    steps: tuple[Step, ...] = ()
    agents: tuple[AgentId, ...] = ()
    """Static agent ids, in order."""
    agent_expressions: tuple[str, ...] = ()
    """Template expressions evaluated at run time to more agent ids (dynamic activation)."""
    outputs: tuple[OutputSpec, ...] = ()
    description: str = ""
    """Prose of the phase (other ``###`` sections), kept for reports."""
    line: int | None = None
    source: str | None = None
    """The file the phase is written in when that is not the task's own (an ``## Include:``); its
    ``line`` and those of its steps are lines of that file."""
    content_hash: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSelector:
    """What makes the verdict: one phase's outputs, or named expressions. Empty = the final phase(s)."""

    phase: PhaseName | None = None
    fields: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    name: TaskName
    title: str = ""
    description: str = ""
    version: str = "0.0.0"
    max_execution_time_s: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    requirements: tuple[Requirement, ...] = ()
    output: OutputSelector = field(default_factory=OutputSelector)
    max_concurrent_phases: int | None = None
    max_concurrent_agents: int | None = None
    budget: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    """Optional ``maxTokens`` / ``maxCost`` / ``maxCalls`` for each execution."""
    phases: tuple[Phase, ...] = ()
    source: str | None = None
    """The file it came from, if any."""
    document: str = ""
    """The Markdown text, kept for annotated reports."""
    content_hash: str = ""
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    """Unknown top-level YAML keys, kept as given (frozen)."""

    def phase(self, name: str) -> Phase:
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(name)

    @property
    def phase_names(self) -> tuple[PhaseName, ...]:
        return tuple(p.name for p in self.phases)

    @property
    def has_task_steps(self) -> bool:
        """Whether a step runs another task (``- task: ...``, composition)."""
        return any(s.kind is StepKind.CUSTOM and s.type == "task" for p in self.phases for s in p.steps)

    def retry_for(self, phase: Phase) -> RetryPolicy:
        return phase.retry if phase.retry is not None else self.retry

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        return _task_from_dict(data)


def _to_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if hasattr(value, "__dataclass_fields__"):
            out[f.name] = _to_dict(value)
        elif isinstance(value, tuple) and value and hasattr(value[0], "__dataclass_fields__"):
            out[f.name] = [_to_dict(v) for v in value]
        elif isinstance(value, enum.Enum):
            out[f.name] = value.value
        else:
            out[f.name] = thaw(value)
    return out


def _retry(data: Mapping[str, Any] | None) -> RetryPolicy | None:
    return None if data is None else RetryPolicy(**data)


def _step(data: Mapping[str, Any]) -> Step:
    d = dict(data)
    d["kind"] = StepKind(d["kind"])
    d["parameters"] = frozen_mapping(d.get("parameters"))
    return Step(**d)


def _phase(data: Mapping[str, Any]) -> Phase:
    d = dict(data)
    d["depends_on"] = tuple(d.get("depends_on", ()))
    d["retry"] = _retry(d.get("retry"))
    d["steps"] = tuple(_step(s) for s in d.get("steps", ()))
    d["agents"] = tuple(d.get("agents", ()))
    d["agent_expressions"] = tuple(d.get("agent_expressions", ()))
    d["outputs"] = tuple(OutputSpec(**o) for o in d.get("outputs", ()))
    return Phase(**d)


def _requirement(data: Mapping[str, Any]) -> Requirement:
    d = dict(data)
    if d.get("enum") is not None:
        d["enum"] = tuple(d["enum"])
    d["default"] = _freeze(d.get("default"))
    return Requirement(**d)


def _task_from_dict(data: Mapping[str, Any]) -> Task:
    d = dict(data)
    d["retry"] = _retry(d.get("retry")) or RetryPolicy()
    d["requirements"] = tuple(_requirement(r) for r in d.get("requirements", ()))
    out = d.get("output") or {}
    d["output"] = OutputSelector(phase=out.get("phase"), fields=frozen_mapping(out.get("fields")))
    d["budget"] = frozen_mapping(d.get("budget"))
    d["metadata"] = frozen_mapping(d.get("metadata"))
    d["phases"] = tuple(_phase(p) for p in d.get("phases", ()))
    return Task(**d)
