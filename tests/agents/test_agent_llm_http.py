"""OpenAI-compatible and Anthropic agents end to end against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import AsyncIterator
from typing import Any

import pytest

from quorum.agents.definitions import AgentDefinition
from quorum.agents.failures import ProviderError
from quorum.agents.llm import ON_CHUNK
from quorum.agents.manager import AgentManager
from quorum.agents.policy import AgentPolicy
from quorum.agents.protocol import AgentRequest, AgentResponse
from quorum.agents.providers import ProviderContext, build_agent
from quorum.agents.resilience import Backoff
from quorum.definition.model import OutputSpec, frozen_mapping
from quorum.errors import AgentError, AgentTimeoutError, ConfigurationError
from quorum.ids import AgentId, ExecutionId, PhaseName

from .llm_server import LLMServer, Reply, answer

pytestmark = [pytest.mark.integration, pytest.mark.errors]

CANARY = "sk-canary-0123456789abcdef-DO-NOT-LEAK"
KEY_VAR = "QUORUM_TEST_CANARY_KEY"


@pytest.fixture(params=["openai", "anthropic"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[LLMServer]:
    srv = await LLMServer(request.param).start()
    try:
        yield srv
    finally:
        await srv.close()


_open_managers: list[AgentManager] = []


@pytest.fixture(autouse=True)
async def _close_managers() -> AsyncIterator[None]:
    """Close every manager a test made, even when the test fails (no leaked sockets)."""
    yield
    while _open_managers:
        await _open_managers.pop().aclose()


def definition(server: LLMServer, **changes: Any) -> AgentDefinition:
    fields: dict[str, Any] = {
        "id": AgentId("analyst"),
        "model": f"{server.protocol}:test-model",
        "persona": "You are a terse market analyst.",
        "base_url": server.base_url,
        "api_key_env": KEY_VAR,
        "temperature": 0.1,
    }
    fields.update(changes)
    return AgentDefinition(**fields)


def manager_for(
    server: LLMServer, *, retries: int = 0, timeout_s: float | None = None, **changes: Any
) -> tuple[AgentManager, list[float]]:
    delays: list[float] = []

    async def record_sleep(seconds: float) -> None:
        delays.append(seconds)

    manager = AgentManager(sleep=record_sleep, backoff=Backoff(initial_s=0.01, jitter=0.0))
    _open_managers.append(manager)
    d = definition(server, **changes)
    agent = build_agent(d, ProviderContext(env={KEY_VAR: CANARY}))
    manager.register(
        "analyst",
        agent,
        policy=AgentPolicy(max_retries=retries, timeout_s=timeout_s, provider=server.protocol),
    )
    return manager, delays


def request(**changes: Any) -> AgentRequest:
    fields: dict[str, Any] = {
        "agent_id": AgentId("analyst"),
        "prompt": "Analyse BTC for a 30 day horizon",
        "execution_id": ExecutionId("e1"),
        "phase": PhaseName("Analysis"),
        "context": frozen_mapping({"input": {"ticker": "BTC", "amount": 10000}}),
        "outputs": (OutputSpec(name="target_price", type="number", description="12-month target"),),
        "timeout_s": 5.0,
    }
    fields.update(changes)
    return AgentRequest(**fields)


def sent_messages(server: LLMServer, index: int = 0) -> list[dict[str, Any]]:
    return list(server.requests[index].body["messages"])


def assert_no_canary(*things: object) -> None:
    for thing in things:
        assert CANARY not in str(thing)
        assert CANARY not in repr(thing)


def assert_exception_clean(exc: BaseException) -> None:
    seen: BaseException | None = exc
    while seen is not None:
        assert_no_canary(seen, seen.args, vars(seen) if hasattr(seen, "__dict__") else "")
        seen = seen.__cause__ or seen.__context__
    assert CANARY not in "".join(traceback.format_exception(exc))


async def test_answer_is_parsed_validated_and_counted(server: LLMServer) -> None:
    server.push(Reply(content=answer(target_price=71000.5), tokens_in=120, tokens_out=40))
    manager, _ = manager_for(server)
    response = await manager.query(request())
    await manager.aclose()
    assert response.ok
    assert response.stance == "bullish"
    assert response.confidence == 0.7
    assert response.recommendation == "buy a small position"
    assert response.data["target_price"] == 71000.5
    assert (response.tokens_in, response.tokens_out) == (120, 40)
    assert response.model == f"{server.protocol}:test-model"
    assert response.response_model == "test-model"  # what the server said answered
    sent = server.requests[0]
    if server.protocol == "openai":
        assert sent.path == "/v1/chat/completions"
        assert sent.headers["authorization"] == f"Bearer {CANARY}"
        messages = sent_messages(server)
        assert messages[0] == {"role": "system", "content": "You are a terse market analyst."}
        user = messages[1]["content"]
        assert sent.body["response_format"] == {"type": "json_object"}
    else:
        assert sent.path == "/v1/messages"
        # SDK versions send the key as x-api-key or as a bearer token.
        assert CANARY in (sent.headers.get("x-api-key"), sent.headers.get("authorization", "")[7:])
        assert sent.body["system"] == "You are a terse market analyst."
        assert sent.body["max_tokens"] > 0
        user = sent_messages(server)[0]["content"]
    assert "Analyse BTC for a 30 day horizon" in user
    assert '"ticker":"BTC"' in user
    assert '"target_price" (number): 12-month target' in user
    assert "exactly one JSON object" in user
    assert sent.body["temperature"] == 0.1


async def test_streaming_surfaces_chunks(server: LLMServer) -> None:
    content = answer(target_price=1)
    server.push(Reply(content=content, chunks=[content[:5], content[5:20], content[20:]], tokens_out=33))
    manager, _ = manager_for(server)
    chunks: list[str] = []
    response = await manager.query(request(metadata=frozen_mapping({ON_CHUNK: chunks.append})))
    await manager.aclose()
    assert chunks == [content[:5], content[5:20], content[20:]]
    assert response.data["target_price"] == 1
    assert response.tokens_out == 33
    assert server.requests[0].body["stream"] is True


async def test_a_dropped_stream_is_repaired_not_trusted(server: LLMServer) -> None:
    content = answer(target_price=9)
    server.push(Reply(content=content, cut_after=3), Reply(content=content))
    manager, _ = manager_for(server)
    chunks: list[str] = []
    response = await manager.query(request(metadata=frozen_mapping({ON_CHUNK: chunks.append})))
    assert response.data["target_price"] == 9
    assert len(server.requests) == 2  # the partial answer was not valid JSON: one repair round
    assert "not valid JSON" in sent_messages(server, 1)[-1]["content"]


async def test_streaming_can_be_turned_off_per_agent(server: LLMServer) -> None:
    server.push(Reply(content=answer(target_price=1)))
    manager, _ = manager_for(server, stream=False)
    chunks: list[str] = []
    response = await manager.query(request(metadata=frozen_mapping({ON_CHUNK: chunks.append})))
    assert response.data["target_price"] == 1
    assert chunks == []
    assert "stream" not in server.requests[0].body


async def test_a_manager_wide_chunk_hook_sees_every_agent(server: LLMServer) -> None:
    content = answer(target_price=1)
    server.push(Reply(content=content))
    seen: list[tuple[str, str]] = []
    agent = build_agent(
        definition(server),
        ProviderContext(env={KEY_VAR: CANARY}, on_chunk=lambda r, text: seen.append((r.agent_id, text))),
    )
    manager = AgentManager()
    _open_managers.append(manager)
    manager.register("analyst", agent)
    await manager.query(request())
    assert "".join(text for _, text in seen) == content
    assert {agent_id for agent_id, _ in seen} == {"analyst"}


async def test_429_is_retried_after_the_servers_retry_after(server: LLMServer) -> None:
    server.push(
        Reply(status=429, content="slow down", headers={"retry-after-ms": "250"}),
        Reply(content=answer(target_price=2)),
    )
    manager, delays = manager_for(server, retries=2)
    response = await manager.query(request())
    await manager.aclose()
    assert response.data["target_price"] == 2
    assert len(server.requests) == 2
    assert delays == [pytest.approx(0.25)]


async def test_retry_after_in_seconds_is_honoured(server: LLMServer) -> None:
    server.push(Reply(status=429, headers={"retry-after": "0.5"}), Reply(content=answer(target_price=2)))
    manager, delays = manager_for(server, retries=1)
    await manager.query(request())
    await manager.aclose()
    assert delays == [pytest.approx(0.5)]


async def test_500s_are_retried_with_backoff_then_give_up(server: LLMServer) -> None:
    server.push(Reply(status=500), Reply(status=503), Reply(content=answer(target_price=3)))
    manager, delays = manager_for(server, retries=2)
    assert (await manager.query(request())).data["target_price"] == 3
    assert delays == [pytest.approx(0.01), pytest.approx(0.02)]  # exponential: initial, then doubled
    server.default = Reply(status=500, content="boom")
    before = len(server.requests)
    with pytest.raises(ProviderError) as caught:
        await manager.query(request())
    await manager.aclose()
    assert len(server.requests) - before == 3  # one call, two retries
    assert caught.value.transient
    assert caught.value.status == 500
    assert "HTTP 500" in str(caught.value)
    assert_exception_clean(caught.value)


async def test_client_errors_are_not_retried(server: LLMServer) -> None:
    server.push(Reply(status=400, content="bad request"))
    manager, delays = manager_for(server, retries=3)
    with pytest.raises(ProviderError) as caught:
        await manager.query(request())
    await manager.aclose()
    assert caught.value.status == 400
    assert not caught.value.transient
    assert len(server.requests) == 1
    assert delays == []


async def test_slow_answer_times_out_and_a_retry_can_succeed(server: LLMServer) -> None:
    # A 0.5 s limit: the retry's prompt answer must come back within it on a loaded machine too.
    server.push(Reply(content=answer(), delay_s=4.0))
    manager, _ = manager_for(server, timeout_s=0.5)
    with pytest.raises(AgentTimeoutError):
        await manager.query(request())
    server.push(Reply(content=answer(), delay_s=4.0), Reply(content=answer(target_price=4)))
    manager2, delays = manager_for(server, retries=1, timeout_s=0.5)
    response = await manager2.query(request())
    await manager.aclose()
    await manager2.aclose()
    assert response.data["target_price"] == 4
    assert len(delays) == 1


async def test_request_deadline_bounds_all_attempts(server: LLMServer) -> None:
    # Each attempt would take 4 s; the request's 1 s deadline ends the first and leaves no room for a
    # retry. (1 s, not less: a loaded machine may take a few hundred ms to send the first request.)
    server.default = Reply(content=answer(), delay_s=4.0)
    manager, _ = manager_for(server, retries=5)
    with pytest.raises(AgentTimeoutError):
        await manager.query(request(timeout_s=1.0))
    await manager.aclose()
    assert len(server.requests) == 1


async def test_malformed_json_is_repaired_once(server: LLMServer) -> None:
    server.push(Reply(content='{"stance": "bullish", oops'), Reply(content=answer(target_price=5)))
    manager, _ = manager_for(server)
    response = await manager.query(request())
    await manager.aclose()
    assert response.data["target_price"] == 5
    assert len(server.requests) == 2
    repair = sent_messages(server, 1)
    assert repair[-2] == {"role": "assistant", "content": '{"stance": "bullish", oops'}
    assert "not valid JSON" in repair[-1]["content"]
    assert (response.tokens_in, response.tokens_out) == (22, 14)  # both calls counted


async def test_json_in_prose_or_fences_is_accepted(server: LLMServer) -> None:
    server.push(Reply(content="Here you go:\n```json\n" + answer(target_price=6) + "\n```"))
    manager, _ = manager_for(server)
    response = await manager.query(request())
    await manager.aclose()
    assert response.data["target_price"] == 6
    assert len(server.requests) == 1


async def test_schema_invalid_answers_fail_explicitly(server: LLMServer) -> None:
    bad = answer(confidence=1.7, stance="hold")  # no target_price, confidence out of range, bad stance
    server.push(Reply(content=bad), Reply(content=bad))
    manager, _ = manager_for(server, retries=3, outputs=("target_price",))
    with pytest.raises(AgentError) as caught:
        await manager.query(request())
    await manager.aclose()
    message = str(caught.value)
    assert "invalid answer after one repair attempt" in message
    assert "confidence" in message
    assert "stance" in message
    assert "target_price" in message
    assert len(server.requests) == 2  # one repair, and no retries: the failure is not transient
    assert "confidence" in sent_messages(server, 1)[-1]["content"]


async def test_json_schema_mode_sends_the_schema(server: LLMServer) -> None:
    server.push(Reply(content=answer(target_price=7)))
    manager, _ = manager_for(server, response_format="json_schema", outputs=("target_price",))
    await manager.query(request())
    await manager.aclose()
    body = server.requests[0].body
    if server.protocol == "openai":
        assert body["response_format"]["type"] == "json_schema"
        schema = body["response_format"]["json_schema"]["schema"]
    else:
        assert body["output_config"]["format"]["type"] == "json_schema"
        schema = body["output_config"]["format"]["schema"]
    assert schema["properties"]["target_price"]["type"] == "number"
    assert schema["properties"]["stance"]["enum"] == ["bullish", "bearish", "neutral"]
    assert set(schema["required"]) == {"target_price", "stance", "recommendation", "confidence", "rationale"}


async def test_provider_options_reach_the_server(server: LLMServer) -> None:
    server.push(Reply(content=answer(target_price=7)))
    manager, _ = manager_for(server, options=frozen_mapping({"top_p": 0.5, "seed": 42}), max_tokens=99)
    await manager.query(request())
    await manager.aclose()
    body = server.requests[0].body
    assert (body["top_p"], body["seed"], body["max_tokens"]) == (0.5, 42, 99)


async def test_canary_key_never_leaks(server: LLMServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # Every error body echoes the request headers, including the key.
    server.push(
        Reply(status=429, content="rate limited", headers={"retry-after-ms": "1"}),
        Reply(status=401, content="who are you"),
    )
    manager, _ = manager_for(server, retries=1)
    with pytest.raises(AgentError) as caught:
        await manager.query(request())
    assert "HTTP 401" in str(caught.value)
    assert_exception_clean(caught.value)
    # A successful answer that quotes the key back (a hostile or broken server): masked.
    server.push(Reply(content=answer(rationale=f"your key is {CANARY}", target_price=1)))
    response = await manager.query(request())
    assert "***" in response.rationale if response.rationale else False
    assert_no_canary(
        response, json.dumps(response.to_dict()), manager.get("analyst"), manager.health(), manager
    )
    await manager.aclose()
    assert CANARY not in caplog.text
    assert all(CANARY not in str(r.args) for r in caplog.records)


async def test_connection_refused_is_transient(server: LLMServer) -> None:
    manager, delays = manager_for(server, retries=1)
    await server.close()
    with pytest.raises(ProviderError) as caught:
        await manager.query(request())
    await manager.aclose()
    assert caught.value.transient
    assert len(delays) == 1
    assert_exception_clean(caught.value)


async def test_missing_key_for_anthropic_is_a_clear_error() -> None:
    d = AgentDefinition(id=AgentId("x"), model="anthropic:m", api_key_env="QUORUM_TEST_NO_SUCH_KEY")
    agent = build_agent(d, ProviderContext(env={}))
    with pytest.raises(AgentError, match="no API key for Anthropic: set QUORUM_TEST_NO_SUCH_KEY"):
        await agent.query(request(agent_id=AgentId("x")))


async def test_llm_agent_response_round_trips_to_dict(server: LLMServer) -> None:
    server.push(Reply(content=answer(target_price=8, extra_note="kept")))
    manager, _ = manager_for(server)
    response = await manager.query(request())
    await manager.aclose()
    assert response.data["extra_note"] == "kept"
    assert AgentResponse.from_dict(response.to_dict()) == response


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_one_manager_serves_several_event_loops(protocol: str) -> None:
    """The blocking helper may call asyncio.run() more than once with the same manager."""
    import asyncio
    import threading

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    srv = asyncio.run_coroutine_threadsafe(LLMServer(protocol).start(), loop).result(5)  # type: ignore[arg-type]
    srv.default = Reply(content=answer(target_price=1))
    try:
        manager, _ = manager_for(srv)
        _open_managers.remove(manager)

        async def ask(close: bool) -> AgentResponse:
            try:
                return await manager.query(request())
            finally:
                transport = manager.get("analyst").transport  # type: ignore[attr-defined]
                if close:
                    await manager.aclose()
                else:
                    # The loop's connections go away with it while the agent still holds its client
                    # (as when asyncio.run() ends): closed here only to leave no socket behind.
                    await transport._client.close()

        assert asyncio.run(ask(close=False)).data["target_price"] == 1
        assert asyncio.run(ask(close=True)).data["target_price"] == 1  # a fresh client for the new loop
        assert len(srv.requests) == 2
    finally:
        asyncio.run_coroutine_threadsafe(srv.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


async def test_the_sdk_is_imported_when_the_agent_is_built_not_in_its_first_call(
    server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imported inside the first call, the SDK would spend that call's time limit (on a loaded machine,
    # all of it): it must be loaded by the time the agent exists.
    monkeypatch.delitem(sys.modules, server.protocol, raising=False)
    manager, _ = manager_for(server)
    assert server.protocol in sys.modules
    server.push(Reply(content=answer(target_price=3)))
    assert (await manager.query(request())).data["target_price"] == 3


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_missing_sdk_is_a_usage_error_when_the_agent_is_built(
    provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, provider, None)  # importing it now raises ImportError
    d = AgentDefinition(id=AgentId("x"), model=f"{provider}:m", base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match=rf"pip install 'quorum\[{provider}\]'"):
        build_agent(d, ProviderContext(env={}))
