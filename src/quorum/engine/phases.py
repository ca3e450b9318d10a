"""One attempt of one phase: its steps in order, and how they make the phase's outputs.

- prompt: to every agent of the phase, ``rounds`` times. ``parallel: true`` -> all at once (bounded),
  each round's agents seeing the answers of earlier rounds as ``peers``; otherwise a round table, one
  agent after another, each seeing every earlier answer of this step. The execution may pause between
  two turns of a round table. At least ``minAgents`` (default 1) agents must answer a prompt step.
- agent: one agent, once, seeing the phase's earlier answers as ``peers``. Consecutive ``agent:`` steps
  of a parallel phase run concurrently. A failed agent step fails the phase unless ``minAgents: 0``.
- validation: false ends the execution as failed (StepValidationError, never retried).
- aggregate: the phase's successful answers so far; a phase without answers aggregates the answers of
  the phases finished before it (``from=A,B`` picks them), in task order.
- custom: the registered strategy's mapping.

Outputs: see :func:`phase_outputs`.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, assert_never

from quorum.agents.protocol import AgentResponse
from quorum.definition.model import Phase, Step, StepKind
from quorum.engine import templating
from quorum.engine.calls import call_agent, fan_out
from quorum.engine.status import PhaseStatus
from quorum.errors import AgentError, BudgetExceededError, ExecutionError, StepValidationError
from quorum.events import EventType
from quorum.ids import AgentId, PhaseName
from quorum.steps.protocol import StepContext

if TYPE_CHECKING:
    from quorum.engine.live import LiveExecution

__all__ = ("PhaseError", "PhaseRunner", "answer_value", "phase_outputs")


_STEP_START = EventType.STEP_START
_STEP_COMPLETE = EventType.STEP_COMPLETE
_STEP_DATA: dict[tuple[str, str | None], Mapping[str, Any]] = {}
"""Payload of step:start/step:complete per (kind, type): the same few values for every step of every
execution, so one shared read-only mapping each instead of two new dicts per step (a journal keeps
them all)."""


def _step_data(kind: StepKind, step_type: str | None) -> Mapping[str, Any]:
    key = (kind.value, step_type)
    data = _STEP_DATA.get(key)
    if data is None:
        if len(_STEP_DATA) >= 1024:  # custom step types are open-ended: stay bounded
            _STEP_DATA.clear()
        data = _STEP_DATA[key] = MappingProxyType({"kind": kind.value, "type": step_type})
    return data


class PhaseError(ExecutionError):
    """This attempt of the phase failed (the retry policy decides what next)."""


def answer_value(answer: AgentResponse) -> Any:
    """What a prompt/agent step's result holds for one answer: its structured data, else its text."""
    return answer.data if answer.data else answer.text


def phase_outputs(
    phase: Phase, results: Sequence[Mapping[str, Any]], answers: Sequence[AgentResponse]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A declared output takes the value of the latest step result having its name; else the agents'
    data (one answer having it -> its value; several -> the last to answer); else None and a warning.
    Without declared outputs, the outputs are the step results merged in order."""
    merged: dict[str, Any] = {}
    for result in results:
        merged.update(result)
    if not phase.outputs:
        return merged, ()
    outputs: dict[str, Any] = {}
    warnings: list[str] = []
    for spec in phase.outputs:
        name = spec.name
        if name in merged:
            outputs[name] = merged[name]
            continue
        for answer in reversed(answers):
            if answer.error is None and name in answer.data:
                outputs[name] = answer.data[name]
                break
        else:
            outputs[name] = None
            warnings.append(f"output {name!r} of phase {phase.name!r} was not produced by any step")
    return outputs, tuple(warnings)


class PhaseRunner:
    __slots__ = ("agents", "answer_keys", "answers", "attempt", "live", "name", "phase", "results", "views")

    def __init__(self, live: LiveExecution, phase: Phase, attempt: int) -> None:
        self.live = live
        self.phase = phase
        self.name: PhaseName = phase.name
        self.attempt = attempt
        self.answers: list[AgentResponse] = []
        # The call key of each answer, in step with ``answers``, while the run is recorded: checkpoint
        # snapshots refer to the journal's answers by key instead of copying them.
        self.answer_keys: list[str] | None = None
        if live.recorder is not None:
            self.answer_keys = live.snapshots.keys_of(self.name)
        self.results: list[Mapping[str, Any]] = []
        self.views = live.ctx.phase_views()
        self.agents: tuple[AgentId, ...] = phase.agents

    # --- context ----------------------------------------------------------------------------------
    def context(self, rnd: int = 0) -> dict[str, Any]:
        ctx = self.live.ctx
        merged: dict[str, Any] = {}
        for result in self.results:
            merged.update(result)
        return {
            "input": ctx.input,
            "task": ctx._task_view,
            "phases": self.views,
            "phase": {
                "name": self.name, "attempt": self.attempt, "round": rnd, "outputs": merged,
                "answers": self.answers,
            },
            "execution": {"id": ctx.id, "started_at": ctx.started_at},
        }

    # --- the step loop ----------------------------------------------------------------------------
    async def run(self) -> tuple[dict[str, Any], tuple[str, ...]]:
        live = self.live
        steps = self.phase.steps
        if self.phase.agent_expressions:
            self.agents = self._resolve_agents()
        i, n = 0, len(steps)
        while i < n:
            await live.boundary()
            step = steps[i]
            if step.kind is StepKind.AGENT and self.phase.parallel:
                j = i + 1
                while j < n and steps[j].kind is StepKind.AGENT:
                    j += 1
                if j - i > 1:
                    await self._agent_group(steps[i:j])
                    i = j
                    continue
            await self._step(step)
            i += 1
        return phase_outputs(self.phase, self.results, self.answers)

    def _resolve_agents(self) -> tuple[AgentId, ...]:
        agents = list(self.phase.agents)
        context = self.context()
        for expression in self.phase.agent_expressions:
            value = templating.evaluate(expression, context)
            values = [value] if isinstance(value, str) else list(value or ())
            for agent in values:
                agent_id = AgentId(str(agent))
                if not self.live.directory.has_agent(agent_id):
                    raise AgentError(agent_id, f"no such agent (from {expression!r} in phase {self.name!r})")
                if agent_id not in agents:
                    agents.append(agent_id)
        return tuple(agents)

    async def _step(self, step: Step) -> None:
        live = self.live
        kind = step.kind
        if live.wants(_STEP_START):
            live.emit(_STEP_START, phase=self.name, step=step.index, data=_step_data(kind, step.type))
        else:
            live.ctx.sequence += 1
        started = time.perf_counter()
        if kind is StepKind.PROMPT:
            result = await self._prompt(step)
        elif kind is StepKind.AGENT:
            result = await self._agent(step)
        elif kind is StepKind.VALIDATION:
            result = self._validate(step)
        elif kind is StepKind.AGGREGATE:
            result = await self._aggregate(step)
        elif kind is StepKind.CUSTOM:
            result = await self._custom(step)
        else:
            assert_never(kind)
        self.results.append(result)
        if live.wants(_STEP_COMPLETE):
            live.emit(_STEP_COMPLETE, phase=self.name, step=step.index,
                      duration_ms=(time.perf_counter() - started) * 1000.0,
                      data=_step_data(kind, step.type))
        else:
            live.ctx.sequence += 1

    def _required(self) -> int:
        return self.phase.min_agents if self.phase.min_agents is not None else 1

    async def _prompt(self, step: Step) -> Mapping[str, Any]:
        agents = self.agents
        if not agents:
            raise PhaseError(f"phase {self.name!r} has a prompt step (line {step.line}) but no agents")
        live = self.live
        source = step.text
        template = templating.is_template(source)
        peers: tuple[AgentResponse, ...] = ()
        result: dict[str, Any] = {}
        errors: dict[str, str | None] = {}
        index = step.index
        for rnd in range(max(self.phase.rounds, 1)):
            context = self.context(rnd)
            prompt = templating.render(source, context) if template else source
            if self.phase.parallel:
                answers = await fan_out(self, agents, prompt, index, rnd, peers, context)
                ok = tuple(a for a in answers if a.error is None)
                peers += ok
                for a in ok:
                    result[a.agent_id] = answer_value(a)
                if len(ok) < len(answers):
                    errors.update((a.agent_id, a.error) for a in answers if a.error is not None)
            else:
                for turn, agent in enumerate(agents):
                    if turn or rnd:
                        await live.boundary()
                    answer = await call_agent(self, agent, prompt, index, rnd, peers, context)
                    if answer.error is None:
                        peers += (answer,)
                        result[agent] = answer_value(answer)
                    else:
                        errors[agent] = answer.error
        required = min(self._required(), len(agents))
        if len(result) < required:
            failed = "; ".join(f"{a}: {errors.get(a, 'no answer')}" for a in agents if a not in result)
            raise PhaseError(
                f"only {len(result)} of {len(agents)} agents answered step {index} of phase {self.name!r} "
                f"(minAgents {required}); {failed}"
            )
        return result

    async def _agent(self, step: Step) -> Mapping[str, Any]:
        agent = step.agent
        if agent is None:
            raise PhaseError(f"agent step {step.index} of phase {self.name!r} names no agent")
        context = self.context()
        prompt = templating.render(step.text, context)
        peers = tuple(a for a in self.answers if a.error is None)
        answer = await call_agent(self, agent, prompt, step.index, 0, peers, context)
        if answer.error is not None:
            if self._required() > 0:
                raise PhaseError(f"agent {agent!r} failed in phase {self.name!r}: {answer.error}")
            return {}
        return {agent: answer_value(answer)}

    async def _agent_group(self, steps: Sequence[Step]) -> None:
        live = self.live
        for step in steps:
            live.emit(EventType.STEP_START, phase=self.name, step=step.index,
                      data={"kind": step.kind.value, "type": step.type, "concurrent": True})
        started = time.perf_counter()
        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(self._agent_collect(step)) for step in steps]
        except* BudgetExceededError as group:
            # A budget stop is one execution-level failure, not a group of step failures to retry.
            raise group.exceptions[0] from None
        elapsed = (time.perf_counter() - started) * 1000.0
        errors = [e for e in (t.result() for t in tasks) if isinstance(e, PhaseError)]
        for step, t in zip(steps, tasks, strict=True):
            outcome = t.result()
            if isinstance(outcome, Mapping):
                self.results.append(outcome)
            live.emit(EventType.STEP_COMPLETE, phase=self.name, step=step.index, duration_ms=elapsed,
                      data={"kind": step.kind.value, "type": step.type, "concurrent": True})
        if errors:
            raise errors[0]  # the first failed agent step fails the phase

    async def _agent_collect(self, step: Step) -> Mapping[str, Any] | PhaseError:
        try:
            return await self._agent(step)
        except PhaseError as exc:
            return exc

    def _validate(self, step: Step) -> Mapping[str, Any]:
        condition = step.condition or "false"
        context = self.context()
        value = templating.evaluate(condition, context)
        if not value:
            text = step.text or f"validation failed: {condition}"
            message = templating.render(text, context)
            raise StepValidationError(message, phase=self.name, condition=condition)
        return {}

    def _aggregate_input(self, step: Step) -> list[AgentResponse]:
        answers = [a for a in self.answers if a.error is None]
        if answers:
            return answers
        chosen = step.parameters.get("from")
        if isinstance(chosen, str):
            names = [n.strip() for n in chosen.split(",") if n.strip()]
        elif chosen:
            names = [str(n) for n in chosen]
        else:
            names = list(self.live.task.phase_names)
        phases = self.live.ctx.phases
        for name in names:
            done = phases.get(PhaseName(name))
            if done is not None and done.status is PhaseStatus.COMPLETED:
                answers.extend(a for a in done.answers if a.error is None)
        return answers

    async def _aggregate(self, step: Step) -> Mapping[str, Any]:
        name = step.type or "collect"
        aggregator = self.live.registry.aggregator(name)
        if aggregator is None:
            raise PhaseError(f"no aggregator {name!r} (register it with register_aggregator)")
        parameters = {k: v for k, v in step.parameters.items() if k != "from"}
        outcome = aggregator(self._aggregate_input(step), parameters)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        return _as_result(outcome)

    async def _custom(self, step: Step) -> Mapping[str, Any]:
        name = step.type or ""
        strategy = self.live.registry.strategy(name)
        if strategy is None:
            raise PhaseError(f"no step strategy {name!r} (register it with register_step_strategy)")
        queries = itertools.count()
        step_context = StepContext(
            execution=self.live.ctx,
            phase=self.phase,
            step=step,
            attempt=self.attempt,
            answers=self.answers,
            results=self.results,
            template_context=self.context(),
            render=templating.render,
            evaluate=templating.evaluate,
            # The n-th query of a custom step is "round" n of its call key: stable across runs.
            query=lambda agent, prompt: call_agent(
                self, AgentId(agent), prompt, step.index, next(queries), (), self.context()
            ),
        )
        outcome = strategy(step, self.phase, step_context)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        return _as_result(outcome)


def _as_result(outcome: Any) -> Mapping[str, Any]:
    if outcome is None:
        return {}
    if isinstance(outcome, Mapping):
        return outcome
    return {"result": outcome}
