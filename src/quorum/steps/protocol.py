"""Extension points for steps: custom step strategies and aggregators, and what they are given.

A *step strategy* handles a custom step type (``<type>: <args>`` in a task file)::

    def handler(step: Step, phase: Phase, context: StepContext) -> Mapping[str, Any] | None: ...
    async def handler(step, phase, context) -> Mapping[str, Any] | None: ...

The mapping it returns is the step's result (it feeds the phase's outputs). A non-mapping value is
wrapped as ``{"result": value}``. Raising an ``Exception`` fails the phase (and so triggers its retry
policy); the execution's abort reaches the strategy as cancellation and through ``context.abort``.

An *aggregator* combines answers (``aggregate: <type> key=value ...``)::

    def aggregator(answers: Sequence[AgentResponse], parameters: Mapping[str, Any]) -> Mapping[str, Any]
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from quorum.agents.protocol import AgentResponse
from quorum.definition.model import Phase, Step
from quorum.signals import AbortSignal

if TYPE_CHECKING:
    from quorum.engine.context import ExecutionContext

__all__ = ("Aggregator", "StepContext", "StepOutcome", "StepStrategy")

StepOutcome = Mapping[str, Any] | Any | None


class StepContext:
    """What a step strategy gets: the execution's state, its abort signal, templates and agents."""

    __slots__ = (
        "_evaluate",
        "_query",
        "_render",
        "abort",
        "answers",
        "attempt",
        "execution",
        "phase",
        "results",
        "step",
        "template_context",
    )

    def __init__(
        self,
        *,
        execution: ExecutionContext,
        phase: Phase,
        step: Step,
        attempt: int,
        answers: Sequence[AgentResponse],
        results: Sequence[Mapping[str, Any]],
        template_context: Mapping[str, Any],
        render: Callable[[str, Mapping[str, Any]], str],
        evaluate: Callable[[str, Mapping[str, Any]], Any],
        query: Callable[[str, str], Awaitable[AgentResponse]],
    ) -> None:
        self.execution = execution
        self.phase = phase
        self.step = step
        self.attempt = attempt
        self.answers = answers
        """This phase's agent answers so far (arrival order)."""
        self.results = results
        """The results of this phase's earlier steps."""
        self.template_context = template_context
        self.abort: AbortSignal = execution.get_abort_signal()
        self._render = render
        self._evaluate = evaluate
        self._query = query

    @property
    def input(self) -> Mapping[str, Any]:
        return self.execution.input

    @property
    def phases(self) -> Mapping[str, Any]:
        return self.template_context["phases"]  # type: ignore[no-any-return]

    def get_abort_signal(self) -> AbortSignal:
        return self.abort

    def render(self, text: str) -> str:
        """Render a template with the step's context (TemplateRenderError on failure)."""
        return self._render(text, self.template_context)

    def evaluate(self, expression: str) -> Any:
        return self._evaluate(expression, self.template_context)

    async def query(self, agent_id: str, prompt: str) -> AgentResponse:
        """Ask one agent, through the engine (events, timeouts, history); returns its answer.

        A failed call returns an ``AgentResponse`` with ``error`` set rather than raising.
        """
        return await self._query(agent_id, prompt)


class StepStrategy(Protocol):
    """A custom step handler, sync or async."""

    def __call__(
        self, step: Step, phase: Phase, context: StepContext, /
    ) -> StepOutcome | Awaitable[StepOutcome]: ...


class Aggregator(Protocol):
    """Combines answers into a result mapping (sync or async)."""

    def __call__(
        self, answers: Sequence[AgentResponse], parameters: Mapping[str, Any], /
    ) -> Mapping[str, Any] | Awaitable[Mapping[str, Any]]: ...
