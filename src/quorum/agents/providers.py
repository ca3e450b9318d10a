"""From a model string to an agent: ``builtin:``, ``python:``, ``openai:``, ``anthropic:``, and plug-ins.

A provider is a factory ``(definition, context) -> Agent``. Further providers come from the entry point
group ``quorum.providers`` (the entry point's name is the prefix before the colon), or from
:func:`register_provider` in code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from quorum.agents.definitions import AgentDefinition
from quorum.agents.function import FunctionAgent
from quorum.agents.llm import ChunkHook, LLMAgent
from quorum.agents.models import ENTRY_POINT_GROUP
from quorum.agents.protocol import Agent, AgentRequest, AgentResponse
from quorum.agents.targets import resolve_function
from quorum.definition.model import frozen_mapping
from quorum.definition.suggest import suggest
from quorum.errors import AgentError, ConfigurationError, DefinitionError, Problem

if TYPE_CHECKING:
    from quorum.agents.sdk_transport import SDKChatTransport

__all__ = ("ProviderContext", "ProviderFactory", "build_agent", "register_provider")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderContext:
    """What providers may use besides the definition. Secrets stay in ``config``/``env``, never in files."""

    endpoints: Mapping[str, str] = field(default_factory=frozen_mapping)
    """Named base URLs (``base_url: <name>`` in agent files)."""
    config: Mapping[str, str | None] = field(default_factory=frozen_mapping)
    """Settings that take precedence over the environment (``OPENAI_API_KEY``, ``QUORUM_OPENAI_BASE_URL``)."""
    env: Mapping[str, str] | None = None
    """The environment to read (``None``: ``os.environ``)."""
    on_chunk: ChunkHook | None = None
    """Receives streamed text of every LLM agent (besides ``request.metadata['on_chunk']``)."""

    def __repr__(self) -> str:
        return f"ProviderContext(endpoints={sorted(self.endpoints)!r}, config=<{len(self.config)} keys>)"


ProviderFactory = Callable[[AgentDefinition, ProviderContext], Agent]

_registered: dict[str, ProviderFactory] = {}


def register_provider(name: str, factory: ProviderFactory) -> None:
    """Make ``<name>:...`` model strings build agents with ``factory`` (in this process)."""
    _registered[name] = factory


class _UnavailableAgent:
    """Stands in for an agent that cannot be built yet; explains why at query time."""

    __slots__ = ("id", "reason")

    def __init__(self, agent_id: str, reason: str) -> None:
        self.id = agent_id
        self.reason = reason

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        raise AgentError(request.agent_id, self.reason)


class _PythonAgent:
    """``python:<module>:<callable>``, imported on first use so a broken module fails only its own calls."""

    __slots__ = ("_inner", "definition")

    def __init__(self, definition: AgentDefinition) -> None:
        self.definition = definition
        self._inner: FunctionAgent | None = None

    def _resolve(self) -> FunctionAgent:
        d = self.definition
        where = f" (model {d.model!r}" + (f" in {d.source}:{d.line})" if d.source else ")")
        return FunctionAgent(d.id, resolve_function(d.id, d.model, where), model=d.model)

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        if self._inner is None:
            self._inner = self._resolve()
        return await self._inner.query(request)


def _builtin(definition: AgentDefinition, context: ProviderContext) -> Agent:
    name = definition.model.partition(":")[2]
    try:
        builtin = importlib.import_module("quorum.agents.builtin")
    except ImportError as exc:
        return _UnavailableAgent(definition.id, f"the built-in specialists are not available ({exc})")
    try:
        fn = builtin.get_specialist(name)
    except LookupError:
        known = list(getattr(builtin, "SPECIALISTS", {}) or ())
        guess = suggest(name, known)
        raise DefinitionError(
            [
                Problem(
                    message=f"unknown built-in specialist {name!r}",
                    source=definition.source,
                    line=definition.line,
                    hint=f"did you mean 'builtin:{guess}'?"
                    if guess
                    else "known: " + ", ".join(sorted(known)),
                )
            ],
            source=definition.source,
        ) from None
    if definition.executor == "process":
        return _in_process(definition)
    return FunctionAgent(definition.id, fn, model=definition.model)


def _in_process(definition: AgentDefinition) -> Agent:
    from quorum.agents.workers import ProcessAgent

    return ProcessAgent(definition.id, definition.model)


def _python(definition: AgentDefinition, context: ProviderContext) -> Agent:
    return _in_process(definition) if definition.executor == "process" else _PythonAgent(definition)


def _openai(definition: AgentDefinition, context: ProviderContext) -> Agent:
    from quorum.agents.openai_chat import OpenAIChatTransport

    return _sdk_agent(OpenAIChatTransport, definition, context, default_response_format="json_object")


def _anthropic(definition: AgentDefinition, context: ProviderContext) -> Agent:
    from quorum.agents.anthropic_messages import AnthropicMessagesTransport

    return _sdk_agent(AnthropicMessagesTransport, definition, context, default_response_format="text")


def _sdk_agent(
    transport: type[SDKChatTransport],
    definition: AgentDefinition,
    context: ProviderContext,
    *,
    default_response_format: str,
) -> Agent:
    """An LLM agent that talks to ``transport.provider`` through its SDK transport."""
    from quorum.agents.endpoints import resolve_endpoint

    endpoint = resolve_endpoint(
        transport.provider, definition, endpoints=context.endpoints, config=context.config, env=context.env
    )
    return LLMAgent(
        definition,
        transport(endpoint, agent_id=definition.id),
        model_name=definition.model.partition(":")[2],
        default_response_format=default_response_format,
        on_chunk=context.on_chunk,
    )


_BUILTIN_FACTORIES: dict[str, ProviderFactory] = {
    "builtin": _builtin,
    "python": _python,
    "openai": _openai,
    "anthropic": _anthropic,
}


def _entry_point_factory(provider: str) -> ProviderFactory | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP, name=provider):
        try:
            factory = ep.load()
        except Exception as exc:
            raise ConfigurationError(
                f"the model provider {provider!r} (entry point {ep.value}) failed to load: {exc}"
            ) from exc
        if not callable(factory):
            raise ConfigurationError(f"the model provider {provider!r} ({ep.value}) is not callable")
        return factory  # type: ignore[no-any-return]  # entry points are untyped by nature
    return None


def build_agent(definition: AgentDefinition, context: ProviderContext | None = None) -> Agent:
    """The agent for ``definition.model``. Unknown providers raise :class:`ConfigurationError`."""
    context = context or ProviderContext()
    provider = definition.provider
    factory = _registered.get(provider) or _BUILTIN_FACTORIES.get(provider) or _entry_point_factory(provider)
    if factory is None:
        raise ConfigurationError(
            f"agent {definition.id!r}: no model provider {provider!r} "
            f"(model {definition.model!r}); install a package that provides it"
        )
    agent = factory(definition, context)
    if not isinstance(agent, Agent):
        raise ConfigurationError(
            f"the model provider {provider!r} returned {type(agent).__name__}, not an agent"
        )
    return agent
