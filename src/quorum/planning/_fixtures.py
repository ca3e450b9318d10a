"""Fixtures: recorded answers that stand in for every agent, so a whole execution runs at no cost.

The file (JSON)::

    {
      "format": "quorum.fixtures/1",                       (optional)
      "answers": {
        "intake-validator": {"data": {"valid": true}, "stance": "neutral", "confidence": 0.9},
        "Analysis/technical-analyst": {"stance": "bullish", "confidence": 0.7, "text": "Trend up."},
        "Debate/bull-advocate": [{"text": "round 1"}, {"text": "round 2"}],
        "scribe": "plain text answer"
      }
    }

A key is ``<phase>/<agent>`` (that agent in that phase) or ``<agent>`` (that agent in every phase);
the phase's key wins. An answer is a string (its ``text``), or an object of
:class:`~quorum.agents.protocol.AgentResponse` fields (``text``, ``data``, ``stance``, ``recommendation``,
``confidence``, ``rationale``, ``model``, ``tokens_in``, ``tokens_out``, ``cost_usd``, ``latency_ms``,
``error``), or a list of those: the calls of that key in the order they are made (rounds, round-table
turns, retries), the last one repeated for any further call.

Before the run, every call the inputs decide (:mod:`quorum.planning._static`) is looked up: all the
missing answers are named at once (agent, phase, the key to add), and nothing runs. A call decided only
at run time (an agent list from earlier phases) without an answer fails as an agent error, and
:func:`simulate` raises :class:`MissingFixtureError` naming it after the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.definition.model import Task, frozen_mapping, thaw
from quorum.errors import AgentError, ConfigurationError
from quorum.events import Event, EventType
from quorum.ids import AgentId

if TYPE_CHECKING:
    from quorum.engine.executor import TaskExecutor
    from quorum.engine.results import ExecutionResult
    from quorum.planning._plan import DryRunParts

__all__ = ("FixtureAgents", "Fixtures", "MissingFixtureError", "check_fixtures", "fixture_executor",
           "fixtures_from_journal", "load_fixtures", "parse_fixtures", "simulate")

FORMAT: Final = "quorum.fixtures/1"
_FIELDS: Final = frozenset({"text", "data", "stance", "recommendation", "confidence", "rationale", "model",
                            "tokens_in", "tokens_out", "cost_usd", "latency_ms", "error"})
_STANCES: Final = frozenset({"bullish", "bearish", "neutral"})


class MissingFixtureError(ConfigurationError):
    """Calls the fixtures hold no answer for: ``missing`` is ``(agent, phase)`` pairs, in call order."""

    def __init__(self, missing: Sequence[tuple[str, str]], *, source: str = "the fixtures",
                 result: ExecutionResult | None = None) -> None:
        self.missing = tuple(dict.fromkeys(missing))
        self.result = result
        lines = [f"agent {agent!r} in phase {phase!r}" for agent, phase in self.missing]
        first_agent, first_phase = self.missing[0]
        super().__init__(
            f"{source} holds no answer for {len(self.missing)} call(s): " + "; ".join(lines)
            + f". Add it under \"answers\": \"{first_phase}/{first_agent}\": {{\"text\": \"...\"}} (that "
            f"phase only) or \"{first_agent}\": {{...}} (every phase); see docs/cli.md, \"Dry runs and "
            "fixtures\"")


@dataclass(frozen=True, slots=True)
class Fixtures:
    """Key (``phase/agent`` or ``agent``) -> its answers, in call order (see the module)."""

    answers: Mapping[str, tuple[AgentResponse, ...]]
    source: str = "the fixtures"

    def key_for(self, agent: str, phase: str) -> str | None:
        for key in (f"{phase}/{agent}", agent):
            if key in self.answers:
                return key
        return None

    def has(self, agent: str, phase: str) -> bool:
        return self.key_for(agent, phase) is not None


def _answer(value: Any, where: str) -> AgentResponse:
    if isinstance(value, str):
        return AgentResponse(agent_id=AgentId("?"), text=value)
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where}: an answer is a string or an object of answer fields "
                                 f"({', '.join(sorted(_FIELDS))}), not {type(value).__name__}")
    unknown = sorted(set(value) - _FIELDS - {"agent_id"})
    if unknown:
        raise ConfigurationError(f"{where}: unknown answer field(s) {', '.join(map(repr, unknown))}; "
                                 f"known: {', '.join(sorted(_FIELDS))}")
    fields = {k: v for k, v in value.items() if k in _FIELDS}
    if "data" in fields and not isinstance(fields["data"], Mapping):
        raise ConfigurationError(f"{where}: \"data\" must be an object")
    if fields.get("stance") is not None and fields["stance"] not in _STANCES:
        raise ConfigurationError(f"{where}: \"stance\" must be one of bullish, bearish, neutral")
    for name in ("confidence", "cost_usd", "latency_ms"):
        number = fields.get(name)
        if number is not None and (isinstance(number, bool) or not isinstance(number, int | float)):
            raise ConfigurationError(f"{where}: \"{name}\" must be a number")
    for name in ("tokens_in", "tokens_out"):
        count = fields.get(name)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise ConfigurationError(f"{where}: \"{name}\" must be a whole number >= 0")
    fields["data"] = frozen_mapping(fields.get("data"))
    fields.setdefault("model", "fixture")
    return AgentResponse(agent_id=AgentId("?"), **fields)


def parse_fixtures(document: Any, *, source: str = "the fixtures") -> Fixtures:
    """A :class:`Fixtures` from the decoded JSON document (errors name the key at fault)."""
    example = '{"answers": {"agent-id": {"text": "..."}}}'
    if not isinstance(document, Mapping) or not isinstance(document.get("answers"), Mapping):
        raise ConfigurationError(f"{source}: expected an object with \"answers\", e.g. {example}")
    declared = document.get("format", FORMAT)
    if declared != FORMAT:
        raise ConfigurationError(f"{source}: format {declared!r} is not {FORMAT!r}")
    extra = sorted(set(document) - {"format", "answers", "task", "execution_id"})
    if extra:
        raise ConfigurationError(f"{source}: unknown key(s) {', '.join(map(repr, extra))}; "
                                 "known: format, answers, task, execution_id")
    answers: dict[str, tuple[AgentResponse, ...]] = {}
    for key, value in document["answers"].items():
        where = f"{source}: answers[{key!r}]"
        if not str(key).strip() or str(key).endswith("/"):
            raise ConfigurationError(f"{where}: a key is \"<agent>\" or \"<phase>/<agent>\"")
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ConfigurationError(f"{where}: an empty list answers nothing; give at least one answer")
        answers[str(key)] = tuple(_answer(v, f"{where}[{i}]" if isinstance(value, list) else where)
                                  for i, v in enumerate(items))
    return Fixtures(answers=answers, source=source)


def load_fixtures(path: str | Path) -> Fixtures:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the fixtures file {path}: {exc.strerror or exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    return parse_fixtures(document, source=str(path))


class FixtureAgents:
    """An agent directory that answers every call from :class:`Fixtures` and never calls an agent.

    It knows the agents ``inner`` knows (so a dry run and a simulation refuse an unknown agent as a real
    run does); ``missing`` lists the calls it had no answer for."""

    def __init__(self, inner: Any, fixtures: Fixtures) -> None:
        self.inner = inner
        self.fixtures = fixtures
        self.missing: list[tuple[str, str]] = []
        self.calls = 0
        self._used: dict[str, int] = {}

    def has_agent(self, agent_id: str, /) -> bool:
        return bool(self.inner.has_agent(agent_id))

    def agent_ids(self) -> list[AgentId]:
        return list(self.inner.agent_ids())

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        self.calls += 1
        key = self.fixtures.key_for(request.agent_id, request.phase)
        if key is None:
            self.missing.append((request.agent_id, request.phase))
            raise AgentError(request.agent_id, f"no recorded answer in {self.fixtures.source} for agent "
                             f"{request.agent_id!r} in phase {request.phase!r}")
        answers = self.fixtures.answers[key]
        index = self._used.get(key, 0)
        self._used[key] = index + 1
        answer = answers[min(index, len(answers) - 1)]
        return answer.with_(agent_id=request.agent_id)


def fixtures_from_journal(events: Sequence[Event]) -> dict[str, Any]:
    """A fixtures document (JSON-ready) holding every answer of a recorded execution, keyed
    ``phase/agent`` in call order: :func:`simulate` with it replays that execution."""
    answers: dict[str, list[dict[str, Any]]] = {}
    task = execution = None
    for event in events:
        if event.type == EventType.EXECUTION_START:
            task, execution = event.task, event.execution_id
        if event.type != EventType.AGENT_RESPONSE or event.phase is None:
            continue
        response = event.data.get("response")
        if not isinstance(response, Mapping):
            continue
        kept = {k: thaw(response.get(k)) for k in sorted(_FIELDS) if response.get(k) not in (None, "", {})}
        answers.setdefault(f"{event.phase}/{event.agent}", []).append(kept)
    return {"format": FORMAT, "task": task, "execution_id": execution, "answers": answers}


async def _no_wait(_seconds: float) -> None:
    """Retries in a simulation do not wait (nothing is called that could recover)."""


def check_fixtures(task: Task, input: Mapping[str, Any], directory: Any, fixtures: Fixtures) -> None:
    """Raise :class:`MissingFixtureError` naming every call the (checked) input decides that ``fixtures``
    holds no answer for."""
    from quorum.planning._static import decide

    missing = [(agent, s.phase.name) for s in decide(task, input, directory.has_agent)
               if s.fate in ("runs", "may-run") for agent in s.calls_by_agent
               if not fixtures.has(agent, s.phase.name)]
    if missing:
        raise MissingFixtureError(missing, source=fixtures.source)


def fixture_executor(directory: Any, fixtures: Fixtures, *,
                     time_limit_s: float | None = 300.0) -> tuple[TaskExecutor, FixtureAgents]:
    """An executor whose agents answer from ``fixtures`` (knowing the agents ``directory`` knows), with
    no history store and retries that do not wait: the caller closes it (``aclose``)."""
    from quorum.engine.executor import TaskExecutor

    agents = FixtureAgents(directory, fixtures)
    executor = TaskExecutor(tasks_dir=None, agent_manager=agents, history_store=None, sleep=_no_wait,
                            max_execution_time=time_limit_s)
    return executor, agents


async def simulate(source: TaskExecutor | DryRunParts, task: Task | str, input: Mapping[str, Any] | None,
                   fixtures: Fixtures, *, on_event: Callable[[Event], object] | None = None,
                   ) -> ExecutionResult:
    """Run ``task`` with every agent answered from ``fixtures``: the events (to ``on_event``), outputs
    and verdict of a real run; no agent is called and nothing is recorded in a history store. Raises
    :class:`MissingFixtureError` before the run for every call the inputs decide that has no answer,
    and after it for a call decided at run time."""
    from quorum.planning._plan import DryRunParts, _check, _parts

    if isinstance(source, DryRunParts):
        if not isinstance(task, Task):
            raise TypeError("with DryRunParts, pass a parsed Task (TaskLoader().load(name))")
        parsed = task
    else:
        parsed = source.load_task(task)
    parts = _parts(source, parsed)
    checked = _check(source, parts, parsed, input or {})
    check_fixtures(parsed, checked, parts.directory, fixtures)
    executor, agents = fixture_executor(parts.directory, fixtures, time_limit_s=parts.time_limit_s)
    if on_event is not None:
        executor.on("*", on_event)
    try:
        result = await executor.execute(parsed, checked)
    finally:
        await executor.aclose()
    if agents.missing:
        raise MissingFixtureError(agents.missing, source=fixtures.source, result=result)
    return result
