"""Providers by model string: python:, builtin:, entry points, code-registered; endpoints and keys."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from quorum.agents.definitions import AgentDefinition, parse_agent_content
from quorum.agents.endpoints import resolve_endpoint
from quorum.agents.function import FunctionAgent
from quorum.agents.models import check_model_string, entry_point_providers
from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.agents.providers import ProviderContext, build_agent, register_provider
from quorum.agents.secrets import redact
from quorum.definition.model import frozen_mapping
from quorum.errors import AgentError, ConfigurationError, DefinitionError
from quorum.ids import AgentId, ExecutionId, PhaseName

pytestmark = pytest.mark.unit


def req(agent: str = "a", **context: Any) -> AgentRequest:
    return AgentRequest(
        agent_id=AgentId(agent),
        prompt="What now?",
        execution_id=ExecutionId("e"),
        phase=PhaseName("P"),
        context=frozen_mapping(context),
    )


def d(model: str, agent: str = "a", **extra: Any) -> AgentDefinition:
    return AgentDefinition(id=AgentId(agent), model=model, source="agents/a.md", line=2, **extra)


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = "quorum_test_user_agents"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            import asyncio

            def sync_agent(request):
                return {"stance": "bearish", "confidence": 0.25, "echo": request.prompt}

            async def async_agent(request):
                await asyncio.sleep(0)
                return "async " + request.prompt

            class ClassAgent:
                async def query(self, request):
                    return {"stance": "neutral", "confidence": 0.5, "kind": "class"}

            NOT_CALLABLE = 3
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


async def test_python_provider_sync_async_and_class(user_module: str) -> None:
    sync = build_agent(d(f"python:{user_module}:sync_agent"))
    response = await sync.query(req())
    assert (response.stance, response.confidence, response.data["echo"]) == ("bearish", 0.25, "What now?")
    assert response.model == f"python:{user_module}:sync_agent"
    assert (await build_agent(d(f"python:{user_module}:async_agent")).query(req())).text == "async What now?"
    assert (await build_agent(d(f"python:{user_module}:ClassAgent")).query(req())).data["kind"] == "class"


@pytest.mark.errors
async def test_python_provider_errors_are_clear(user_module: str) -> None:
    missing = build_agent(d("python:quorum_test_no_such_module:fn"))  # building never imports
    with pytest.raises(AgentError) as caught:
        await missing.query(req())
    message = str(caught.value)
    assert "cannot import module 'quorum_test_no_such_module'" in message
    assert "agents/a.md:2" in message
    with pytest.raises(AgentError, match=f"module '{user_module}' has no attribute 'nope'"):
        await build_agent(d(f"python:{user_module}:nope")).query(req())
    with pytest.raises(AgentError, match="is not callable"):
        await build_agent(d(f"python:{user_module}:NOT_CALLABLE")).query(req())


async def test_builtin_provider_uses_the_shipped_specialists() -> None:
    agent = build_agent(d("builtin:intake-validator", agent="intake-validator"))
    assert isinstance(agent, FunctionAgent)
    response = await agent.query(
        req(
            "intake-validator",
            input={"ticker": "BTC", "amount": 10000, "timeHorizon": "30 days", "riskTolerance": "medium"},
        )
    )
    assert response.ok
    assert response.stance in ("bullish", "bearish", "neutral")


@pytest.mark.errors
def test_unknown_builtin_is_a_definition_error_with_a_suggestion() -> None:
    with pytest.raises(DefinitionError) as caught:
        build_agent(d("builtin:risk-oficer"))
    problem = caught.value.problems[0]
    assert (problem.source, problem.line) == ("agents/a.md", 2)
    assert problem.hint == "did you mean 'builtin:risk-officer'?"


@pytest.mark.errors
async def test_missing_builtin_package_fails_at_query_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "quorum.agents.builtin", None)  # import now raises ImportError
    agent = build_agent(d("builtin:technical-analyst"))
    with pytest.raises(AgentError, match="built-in specialists are not available"):
        await agent.query(req())


async def test_entry_point_providers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry_point_providers.cache_clear()
    assert "unknown model provider 'echo'" in check_model_string("echo:loud")[0][0]
    (tmp_path / "quorum_test_echo_provider.py").write_text(
        textwrap.dedent(
            """
            from quorum.agents.function import FunctionAgent

            def factory(definition, context):
                model = definition.model.partition(":")[2]
                return FunctionAgent(definition.id, lambda request: f"{model}: {request.prompt}")
            """
        )
    )
    dist = tmp_path / "quorum_test_echo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: quorum-test-echo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[quorum.providers]\necho = quorum_test_echo_provider:factory\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry_point_providers.cache_clear()
    try:
        assert "echo" in entry_point_providers()
        assert check_model_string("echo:loud") == []
        agent = build_agent(d("echo:loud"))
        assert (await agent.query(req())).text == "loud: What now?"
    finally:
        entry_point_providers.cache_clear()


async def test_code_registered_providers_and_unknown_ones() -> None:
    def factory(definition: AgentDefinition, context: ProviderContext) -> FunctionAgent:
        return FunctionAgent(definition.id, lambda request: "custom")

    register_provider("quorum-test-custom", factory)
    assert (await build_agent(d("quorum-test-custom:x")).query(req())).text == "custom"
    with pytest.raises(ConfigurationError, match="no model provider 'quorum-test-nothing'"):
        build_agent(d("quorum-test-nothing:x"))

    register_provider("quorum-test-broken", lambda definition, context: 42)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigurationError, match="returned int, not an agent"):
        build_agent(d("quorum-test-broken:x"))


def test_endpoint_resolution_order() -> None:
    env = {
        "OPENAI_API_KEY": "sk-plain-openai-key",
        "QUORUM_OPENAI_API_KEY": "sk-quorum-openai-key",
        "OPENAI_BASE_URL": "http://plain.example/v1",
        "QUORUM_LOCAL_LLM_BASE_URL": "http://local.example/v1",
        "QUORUM_LOCAL_LLM_API_KEY": "sk-local-llm-key",
        "MY_KEY": "sk-my-own-key-123",
    }
    plain = resolve_endpoint("openai", d("openai:m"), env=env)
    assert (plain.base_url, plain.api_key) == ("http://plain.example/v1", "sk-quorum-openai-key")
    env2 = {**env, "QUORUM_OPENAI_BASE_URL": "http://quorum.example/v1"}
    assert resolve_endpoint("openai", d("openai:m"), env=env2).base_url == "http://quorum.example/v1"
    alias = resolve_endpoint("openai", d("openai:m", base_url="local-llm"), env=env)
    assert (alias.base_url, alias.api_key) == ("http://local.example/v1", "sk-local-llm-key")
    configured = resolve_endpoint(
        "openai", d("openai:m", base_url="local-llm"), endpoints={"local-llm": "http://cfg/v1"}, env=env
    )
    assert configured.base_url == "http://cfg/v1"
    own = resolve_endpoint("openai", d("openai:m", base_url="http://x/v1", api_key_env="MY_KEY"), env=env)
    assert (own.base_url, own.api_key) == ("http://x/v1", "sk-my-own-key-123")
    from_config = resolve_endpoint(
        "openai", d("openai:m"), config={"OPENAI_API_KEY": "sk-from-config-1"}, env={}
    )
    assert from_config.api_key == "sk-from-config-1"
    assert "sk-" not in repr(own)
    assert redact("key=sk-my-own-key-123.") == "key=***."  # every key read is masked from then on
    with pytest.raises(ConfigurationError, match=r"unknown endpoint 'nowhere'.*QUORUM_NOWHERE_BASE_URL"):
        resolve_endpoint("openai", d("openai:m", base_url="nowhere"), env={})


@pytest.mark.errors
async def test_openai_without_key_or_base_url_is_a_clear_error() -> None:
    agent = build_agent(d("openai:gpt-x"), ProviderContext(env={}))
    with pytest.raises(
        AgentError, match="no API key for OpenAI: set QUORUM_OPENAI_API_KEY or OPENAI_API_KEY"
    ):
        await agent.query(req())


def test_llm_agent_repr_has_no_secrets() -> None:
    agent = build_agent(
        parse_agent_content("---\nid: a\nmodel: openai:m\napi_key_env: K\n---\nP\n"),
        ProviderContext(env={"K": "sk-secret-in-env-999"}),
    )
    text = repr(agent) + repr(getattr(agent, "transport", ""))
    assert "sk-secret" not in text
    assert "LLMAgent(id='a', model='openai:m')" in text


def test_response_dicts_stay_plain() -> None:
    response = AgentResponse(agent_id=AgentId("a"), data=frozen_mapping({"x": [1, {"y": 2}]}))
    assert response.to_dict()["data"] == {"x": [1, {"y": 2}]}
