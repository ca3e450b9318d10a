"""Simulated runs from recorded answers: the file format and its errors, every missing answer named
before the run, answers in call order, and a recorded committee replayed to the same verdict with no
agent called and nothing recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quorum.engine.executor import TaskExecutor
from quorum.errors import ConfigurationError
from quorum.events import Event
from quorum.history.memory import MemoryHistoryStore
from quorum.ids import PhaseName
from quorum.planning import (
    MissingFixtureError,
    fixtures_from_journal,
    load_fixtures,
    parse_fixtures,
    simulate,
)
from quorum.testing import ScriptedAgent, make_manager
from tests.engine.run_helpers import agent_step, phase, prompt, task

pytestmark = pytest.mark.integration

TASKS = Path(__file__).resolve().parents[2] / "src" / "quorum" / "tasks"
COMMITTEE = "investment-committee-meeting"
COMMITTEE_INPUT = {"ticker": "BTC", "amount": 1000, "riskTolerance": "low"}

DEBATE = task(
    phase("Open", agent_step("host", "open")),
    phase("Debate", prompt("argue"), agents=("pro", "con"), depends_on="Open", rounds=2,
          outputs=("pro", "con")),
    name="debate", output="Debate")


def _executor() -> tuple[TaskExecutor, dict[str, ScriptedAgent]]:
    agents = {a: ScriptedAgent({"v": a}) for a in ("host", "pro", "con")}
    return TaskExecutor(agent_manager=make_manager(agents)), agents


async def test_answers_by_phase_then_agent_in_call_order() -> None:
    executor, agents = _executor()
    fixtures = parse_fixtures({"answers": {
        "host": "welcome",
        "Debate/pro": [{"data": {"claim": "up"}, "stance": "bullish"}, {"data": {"claim": "still up"}}],
        "con": {"data": {"claim": "down"}, "stance": "bearish", "cost_usd": 0.01},
    }})
    events: list[Event] = []
    result = await simulate(executor, DEBATE, {}, fixtures, on_event=events.append)
    assert result.status.value == "completed"
    assert sum(a.calls for a in agents.values()) == 0
    debate = result.phases[PhaseName("Debate")]
    assert [a.agent_id for a in debate.answers] == ["pro", "con", "pro", "con"]
    assert [dict(a.data).get("claim") for a in debate.answers] == ["up", "down", "still up", "down"]
    assert result.phases[PhaseName("Open")].answers[0].text == "welcome"
    assert result.usage.cost_usd == pytest.approx(0.02)
    kinds = [e.type for e in events]
    assert kinds[0] == "execution:start"
    assert kinds[-1] == "execution:complete"
    assert kinds.count("agent:response") == 5
    await executor.aclose()


async def test_every_missing_answer_is_named_before_anything_runs() -> None:
    executor, agents = _executor()
    fixtures = parse_fixtures({"answers": {"pro": "yes"}}, source="answers.json")
    events: list[Event] = []
    with pytest.raises(MissingFixtureError) as caught:
        await simulate(executor, DEBATE, {}, fixtures, on_event=events.append)
    assert caught.value.missing == (("host", "Open"), ("con", "Debate"))
    message = str(caught.value)
    assert "answers.json holds no answer for 2 call(s)" in message
    assert "agent 'host' in phase 'Open'" in message
    assert '"Open/host"' in message
    assert events == []
    assert sum(a.calls for a in agents.values()) == 0
    await executor.aclose()


async def test_a_call_decided_at_run_time_without_an_answer_is_named_after_the_run() -> None:
    executor, _ = _executor()
    later = task(phase("Pick", agent_step("host", "who")),
                 phase("Talk", prompt("talk"), depends_on="Pick",
                       agent_expressions=("phases.Pick.outputs.host.who",)), name="later")
    fixtures = parse_fixtures({"answers": {"host": {"data": {"who": "pro"}}}})
    with pytest.raises(MissingFixtureError) as caught:
        await simulate(executor, later, {}, fixtures)
    assert caught.value.missing == (("pro", "Talk"),)
    assert caught.value.result is not None
    assert caught.value.result.status.value == "failed"
    await executor.aclose()


@pytest.mark.parametrize(("document", "error"), [
    ([], "expected an object with \"answers\""),
    ({"answers": {"a": 3}}, "answers['a']: an answer is a string or an object"),
    ({"answers": {"a": {"txt": "x"}}}, "unknown answer field(s) 'txt'"),
    ({"answers": {"a": {"stance": "up"}}}, "\"stance\" must be one of"),
    ({"answers": {"a": {"tokens_in": -1}}}, "\"tokens_in\" must be a whole number"),
    ({"answers": {"a": []}}, "an empty list answers nothing"),
    ({"answers": {"Debate/": "x"}}, "a key is"),
    ({"format": "other/2", "answers": {}}, "format 'other/2'"),
    ({"answers": {}, "extra": 1}, "unknown key(s) 'extra'"),
])
def test_a_bad_fixtures_document_says_where(document: object, error: str) -> None:
    with pytest.raises(ConfigurationError, match=None) as caught:
        parse_fixtures(document, source="f.json")
    assert error in str(caught.value)
    assert str(caught.value).startswith("f.json")


def test_a_file_that_is_not_json_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text('{\n  "answers": {,}\n}\n')
    with pytest.raises(ConfigurationError, match=r"f\.json:2: not valid JSON"):
        load_fixtures(path)
    with pytest.raises(ConfigurationError, match="cannot read the fixtures file"):
        load_fixtures(tmp_path / "absent.json")


async def test_a_recorded_committee_replays_to_the_same_verdict(tmp_path: Path) -> None:
    store = MemoryHistoryStore()
    await store.open()
    executor = TaskExecutor(tasks_dir=TASKS, history_store=store)
    recorded = await executor.execute(COMMITTEE, COMMITTEE_INPUT)
    assert recorded.status.value == "completed"
    path = tmp_path / "committee.json"
    path.write_text(json.dumps(fixtures_from_journal(await store.read_journal(recorded.id)), default=str))
    events: list[Event] = []
    simulated = await simulate(executor, COMMITTEE, COMMITTEE_INPUT, load_fixtures(path),
                               on_event=events.append)
    assert simulated.status == recorded.status
    assert simulated.verdict == recorded.verdict
    assert simulated.usage.calls == recorded.usage.calls
    outputs = {n: p.outputs for n, p in recorded.phases.items()}
    assert {n: p.outputs for n, p in simulated.phases.items()} == outputs
    assert [e.type for e in events if e.type.startswith("phase:")] == [
        e.type for e in await store.read_journal(recorded.id) if e.type.startswith("phase:")]
    assert len(await store.list_executions(limit=10)) == 1  # the simulation is not in the history
    await executor.aclose()
