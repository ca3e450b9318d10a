"""AttemptRunner: one attempt at one phase — its steps in order, and how they make the phase's outputs.

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
from typing import Any, assert_never

from quorum.agents.protocol import AgentDirectory, AgentResponse
from quorum.definition.model import Phase, Step, StepKind
from quorum.engine import templating
from quorum.engine.approvals import REJECT, Approvals
from quorum.engine.calls import AgentCaller, AttemptAnswers
from quorum.engine.context import ExecutionContext
from quorum.engine.ports import Emitter, Gate
from quorum.engine.status import PhaseStatus
from quorum.engine.step_events import aggregate_data, step_data
from quorum.errors import AgentError, BudgetExceededError, ExecutionError, StepValidationError
from quorum.events import EventType
from quorum.ids import AgentId, PhaseName
from quorum.steps.protocol import StepContext
from quorum.steps.registry import StepRegistry

__all__ = ("AttemptFailedError", "AttemptRunner", "answer_value", "phase_outputs")


class AttemptFailedError(ExecutionError):
    """This attempt at the phase failed (the phase's retry policy decides what next)."""


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


class AttemptRunner:
    __slots__ = (
        "_agents", "_approvals", "_caller", "_ctx", "_directory", "_emitter", "_gate", "_registry", "_views",
        "attempt", "collected", "name", "phase", "results"
    )

    def __init__(
        self,
        ctx: ExecutionContext,
        answers: AttemptAnswers,
        *,
        caller: AgentCaller,
        gate: Gate,
        emitter: Emitter,
        registry: StepRegistry,
        directory: AgentDirectory,
        approvals: Approvals | None = None,
    ) -> None:
        self._ctx = ctx
        self._approvals = approvals
        self._caller = caller
        self._gate = gate
        self._emitter = emitter
        self._registry = registry
        self._directory = directory
        self.phase = answers.phase
        self.name: PhaseName = answers.phase.name
        self.attempt = answers.attempt
        self.collected = answers
        self.results: list[Mapping[str, Any]] = []
        self._views = ctx.phase_views()
        self._agents: tuple[AgentId, ...] = self.phase.agents

    @property
    def answers(self) -> list[AgentResponse]:
        return self.collected.answers

    def context(self, rnd: int = 0) -> dict[str, Any]:
        """The template context of this attempt's steps."""
        ctx = self._ctx
        merged: dict[str, Any] = {}
        for result in self.results:
            merged.update(result)
        return {
            "input": ctx.input,
            "task": ctx.task_view,
            "phases": self._views,
            "phase": {
                "name": self.name, "attempt": self.attempt, "round": rnd, "outputs": merged,
                "answers": self.answers,
            },
            "execution": {"id": ctx.id, "started_at": ctx.started_at},
        }

    async def run(self) -> tuple[dict[str, Any], tuple[str, ...]]:
        """Run the steps; return the phase's outputs and warnings."""
        steps = self.phase.steps
        if self.phase.agent_expressions:
            self._agents = self._resolve_agents()
        i, n = 0, len(steps)
        while i < n:
            await self._gate.boundary()
            if steps[i].kind is StepKind.AGENT and self.phase.parallel:
                j = i + 1
                while j < n and steps[j].kind is StepKind.AGENT:
                    j += 1
                if j - i > 1:
                    await self._agent_group(steps[i:j])
                    i = j
                    continue
            await self._step(steps[i])
            i += 1
        return phase_outputs(self.phase, self.results, self.answers)

    def _resolve_agents(self) -> tuple[AgentId, ...]:
        agents = list(self.phase.agents)
        context = self.context()
        for expression in self.phase.agent_expressions:
            for agent in templating.agent_names(templating.evaluate(expression, context), expression):
                agent_id = AgentId(agent)
                if not self._directory.has_agent(agent_id):
                    raise AgentError(agent_id, f"no such agent (from {expression!r} in phase {self.name!r})")
                if agent_id not in agents:
                    agents.append(agent_id)
        return tuple(agents)

    async def _step(self, step: Step) -> None:
        data = step_data(step.kind, step.type)
        self._emitter.emit(EventType.STEP_START, phase=self.name, step=step.index, data=data)
        started = time.perf_counter()
        kind = step.kind
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
        elif kind is StepKind.APPROVAL:
            result = await self._approval(step)
        else:
            assert_never(kind)
        self.results.append(result)
        if kind is StepKind.AGGREGATE and self._emitter.wants(EventType.STEP_COMPLETE):
            data = aggregate_data(data, result)
        self._emitter.emit(EventType.STEP_COMPLETE, phase=self.name, step=step.index,
                           duration_ms=(time.perf_counter() - started) * 1000.0, data=data)

    def _required(self) -> int:
        return self.phase.min_agents if self.phase.min_agents is not None else 1

    async def _prompt(self, step: Step) -> Mapping[str, Any]:
        agents = self._agents
        if not agents:
            raise AttemptFailedError(
                f"phase {self.name!r} has a prompt step (line {step.line}) but no agents")
        source = step.text
        template = templating.is_template(source)
        peers: tuple[AgentResponse, ...] = ()
        result: dict[str, Any] = {}
        errors: dict[str, str | None] = {}
        for rnd in range(max(self.phase.rounds, 1)):
            context = self.context(rnd)
            prompt = templating.render(source, context) if template else source
            if self.phase.parallel:
                answers = await self._caller.fan_out(self.collected, agents, prompt, step.index, rnd, peers,
                                                     context)
                answered = tuple(a for a in answers if a.error is None)
                peers += answered  # once per round: a fan-out can be thousands of agents wide
                for answer in answered:
                    result[answer.agent_id] = answer_value(answer)
                errors.update((a.agent_id, a.error) for a in answers if a.error is not None)
                continue
            for turn, agent in enumerate(agents):  # a round table: each sees the answers before it
                if turn or rnd:
                    await self._gate.boundary()
                answer = await self._caller.call(self.collected, agent, prompt, step.index, rnd, peers,
                                                 context)
                if answer.error is None:
                    peers += (answer,)
                    result[agent] = answer_value(answer)
                else:
                    errors[agent] = answer.error
        required = min(self._required(), len(agents))
        if len(result) < required:
            failed = "; ".join(f"{a}: {errors.get(a, 'no answer')}" for a in agents if a not in result)
            raise AttemptFailedError(
                f"only {len(result)} of {len(agents)} agents answered step {step.index} of phase "
                f"{self.name!r} (minAgents {required}); {failed}"
            )
        return result

    async def _agent(self, step: Step) -> Mapping[str, Any]:
        agent = step.agent
        if agent is None:
            raise AttemptFailedError(f"agent step {step.index} of phase {self.name!r} names no agent")
        context = self.context()
        prompt = templating.render(step.text, context)
        peers = tuple(a for a in self.answers if a.error is None)
        answer = await self._caller.call(self.collected, agent, prompt, step.index, 0, peers, context)
        if answer.error is not None:
            if self._required() > 0:
                raise AttemptFailedError(f"agent {agent!r} failed in phase {self.name!r}: {answer.error}")
            return {}
        return {agent: answer_value(answer)}

    async def _agent_group(self, steps: Sequence[Step]) -> None:
        for step in steps:
            self._emitter.emit(EventType.STEP_START, phase=self.name, step=step.index,
                               data={"kind": step.kind.value, "type": step.type, "concurrent": True})
        started = time.perf_counter()
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._agent_outcome(step)) for step in steps]
        except* BudgetExceededError as stops:
            # A budget stop is one execution-level failure, not a group of step failures to retry.
            raise stops.exceptions[0] from None
        elapsed = (time.perf_counter() - started) * 1000.0
        outcomes = [t.result() for t in tasks]
        for step, outcome in zip(steps, outcomes, strict=True):
            if not isinstance(outcome, AttemptFailedError):
                self.results.append(outcome)
            self._emitter.emit(EventType.STEP_COMPLETE, phase=self.name, step=step.index, duration_ms=elapsed,
                               data={"kind": step.kind.value, "type": step.type, "concurrent": True})
        failures = [o for o in outcomes if isinstance(o, AttemptFailedError)]
        if failures:
            raise failures[0]  # the first failed agent step fails the phase

    async def _agent_outcome(self, step: Step) -> Mapping[str, Any] | AttemptFailedError:
        try:
            return await self._agent(step)
        except AttemptFailedError as exc:
            return exc

    def _validate(self, step: Step) -> Mapping[str, Any]:
        condition = step.condition or "false"
        context = self.context()
        if not templating.evaluate(condition, context):
            text = step.text or f"validation failed: {condition}"
            raise StepValidationError(templating.render(text, context), phase=self.name, condition=condition)
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
            names = list(self._ctx.task.phase_names)
        for name in names:
            done = self._ctx.phases.get(PhaseName(name))
            if done is not None and done.status is PhaseStatus.COMPLETED:
                answers.extend(a for a in done.answers if a.error is None)
        return answers

    async def _aggregate(self, step: Step) -> Mapping[str, Any]:
        name = step.type or "collect"
        aggregator = self._registry.aggregator(name)
        if aggregator is None:
            raise AttemptFailedError(f"no aggregator {name!r} (register it with register_aggregator)")
        parameters = {k: v for k, v in step.parameters.items() if k != "from"}
        outcome = aggregator(self._aggregate_input(step), parameters)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        return _as_result(outcome)

    async def _approval(self, step: Step) -> Mapping[str, Any]:
        """Wait for people's decision at this step (see :mod:`quorum.engine.approvals`)."""
        if self._approvals is None:
            raise AttemptFailedError("approval steps need an executor that keeps approvals")
        p = step.parameters
        timeout = p.get("timeout_s")
        gate = self._approvals.open(
            f"{self.name}/{step.index}", question=templating.render(step.text, self.context()),
            options=tuple(p.get("options") or ()), approvers=int(p.get("approvers") or 1),
            default=str(p.get("default") or REJECT),
            timeout_s=float(timeout) if timeout is not None else None,
        )
        await self._approvals.wait(gate)
        return gate.summary()

    async def _custom(self, step: Step) -> Mapping[str, Any]:
        name = step.type or ""
        strategy = self._registry.strategy(name)
        if strategy is None:
            raise AttemptFailedError(f"no step strategy {name!r} (register it with register_step_strategy)")
        queries = itertools.count()
        step_context = StepContext(
            execution=self._ctx,
            phase=self.phase,
            step=step,
            attempt=self.attempt,
            answers=self.answers,
            results=self.results,
            template_context=self.context(),
            render=templating.render,
            evaluate=templating.evaluate,
            # The n-th query of a custom step is "round" n of its call key: stable across runs.
            query=lambda agent, prompt: self._caller.call(
                self.collected, AgentId(agent), prompt, step.index, next(queries), (), self.context()
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
