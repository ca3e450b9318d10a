"""default_agent_manager: the built-in library, agent folders, overrides, cache, an LLM override."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quorum.agents.cache import ResponseCache
from quorum.agents.defaults import builtin_specialist_names, default_agent_manager, load_definitions
from quorum.agents.function import FunctionAgent
from quorum.agents.llm import LLMAgent
from quorum.agents.protocol import AgentRequest
from quorum.definition.model import OutputSpec, frozen_mapping
from quorum.errors import ConfigurationError, DefinitionError
from quorum.ids import AgentId, ExecutionId, PhaseName

from .llm_server import LLMServer, Reply, answer

pytestmark = pytest.mark.integration

COMMITTEE = [
    "intake-validator", "data-steward", "technical-analyst", "fundamental-analyst", "sentiment-analyst",
    "macro-analyst", "quant-risk-analyst", "bull-advocate", "bear-advocate", "red-team",
    "execution-strategist", "risk-officer", "compliance-officer", "committee-chair", "portfolio-manager",
]  # fmt: skip
DAILY = [
    "question-classifier", "market-technician", "macro-strategist", "news-sentiment", "risk-monitor",
    "answer-synthesizer",
]  # fmt: skip
INPUT = {"ticker": "BTC", "amount": 10000, "timeHorizon": "30 days", "riskTolerance": "medium"}


def req(agent: str) -> AgentRequest:
    return AgentRequest(
        agent_id=AgentId(agent),
        prompt="Check the request",
        execution_id=ExecutionId("e"),
        phase=PhaseName("Activation"),
        context=frozen_mapping({"input": INPUT}),
        outputs=(OutputSpec(name="request", type="object"),),
    )


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = "quorum_test_default_agents"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            def officer(request):
                return {"stance": "bearish", "confidence": 0.9, "who": "user code"}
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


async def test_the_shipped_agents_are_all_there_and_answer_offline() -> None:
    manager = default_agent_manager()
    ids = set(manager.agent_ids())
    assert set(COMMITTEE) <= ids
    assert set(DAILY) <= ids
    assert set(builtin_specialist_names()) <= ids
    response = await manager.query(req("intake-validator"))
    assert response.ok
    assert response.model == "builtin:intake-validator"
    assert "request" in response.data


def test_the_shipped_agent_files_lint_clean() -> None:
    from quorum.agents.registry import AgentRegistry

    registry = AgentRegistry()
    assert registry.lint() == []
    definitions = registry.load()
    assert definitions  # the library is found through importlib.resources
    assert all(d.source and d.source.startswith("<builtin>/") for d in definitions.values())


async def test_agent_folders_override_built_ins(tmp_path: Path, user_module: str) -> None:
    project = tmp_path / "project"
    (project / "tasks").mkdir(parents=True)
    beside = project / "agents"
    beside.mkdir()
    (beside / "risk-officer.md").write_text(
        f"---\nid: risk-officer\nmodel: python:{user_module}:officer\n---\nP\n"
    )
    manager = default_agent_manager(tasks_dirs=[project / "tasks"])
    response = await manager.query(req("risk-officer"))
    assert (response.stance, response.data["who"]) == ("bearish", "user code")
    assert manager.has_agent("technical-analyst")  # the other built-ins stay


async def test_model_overrides_for_one_agent_and_for_all(user_module: str) -> None:
    manager = default_agent_manager(model_overrides=[f"risk-officer=python:{user_module}:officer"])
    assert (await manager.query(req("risk-officer"))).data["who"] == "user code"
    assert isinstance(manager.get("technical-analyst"), FunctionAgent)
    everyone = default_agent_manager(model_overrides="openai:gpt-4.1-mini", env={})
    assert all(isinstance(everyone.get(a), LLMAgent) for a in everyone.agent_ids())
    policy = everyone.policy("technical-analyst")
    assert policy.provider == "openai"
    assert policy.breaker is not None
    assert policy.max_retries == 2


def test_unknown_agent_in_an_override_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown agent 'risk-oficer'; did you mean 'risk-officer'"):
        default_agent_manager(model_overrides=["risk-oficer=openai:x"])


def test_bad_agent_files_stop_the_build(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_text("---\nid: bad\nmodel: builtin:bad\nmax_retries: lots\n---\nP\n")
    with pytest.raises(DefinitionError, match=r"bad\.md:4: error: 'max_retries' must be a whole number"):
        default_agent_manager(agents_dirs=[tmp_path])


def test_cache_can_be_a_path(tmp_path: Path) -> None:
    manager = default_agent_manager(cache=tmp_path / "c.db", cache_mode="replay", include_builtin=False)
    assert isinstance(manager.cache, ResponseCache)
    assert manager.cache.mode == "replay"
    assert (tmp_path / "c.db").exists()
    manager.cache.close()


def test_without_built_ins_nothing_is_loaded(tmp_path: Path) -> None:
    assert load_definitions([tmp_path], include_builtin=False) == {}


@pytest.fixture
async def server() -> AsyncIterator[LLMServer]:
    srv = await LLMServer("openai").start()
    try:
        yield srv
    finally:
        await srv.close()


async def test_one_line_switches_an_agent_to_an_openai_compatible_server(server: LLMServer) -> None:
    server.push(Reply(content=answer(request={"ticker": "BTC"}, stance="neutral")))
    manager = default_agent_manager(
        model_overrides=["intake-validator=openai:local-model"],
        config={"QUORUM_OPENAI_BASE_URL": server.base_url},
        env={},
    )
    try:
        response = await manager.query(req("intake-validator"))
    finally:
        await manager.aclose()
    assert response.model == "openai:local-model"
    assert response.data["request"] == {"ticker": "BTC"}
    body = server.requests[0].body
    assert body["model"] == "local-model"
    persona = load_definitions()["intake-validator"].persona
    assert persona
    assert body["messages"][0] == {"role": "system", "content": persona}  # the built-in file's persona
