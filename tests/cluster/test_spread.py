"""A wide phase's agent calls spread over the cluster's nodes (``cluster: {spread: [...]}``), on a real
Ray cluster: the calls run in the call servers of both worker nodes, not in the driver; the driver
records each answer once; a node lost mid-phase has its calls in flight made again elsewhere, and no
call the journal had recorded runs again (the agents' own ledger says so)."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from quorum.cluster import ClusterExecutor, RayRunner
from quorum.cluster.spread import spread_phases
from quorum.definition.model import Task
from quorum.definition.parser import TaskParser
from quorum.errors import ConfigurationError, DefinitionError
from quorum.events import EventType
from tests.cluster.agents import LedgerAgents, drill_task
from tests.cluster.conftest import add_worker
from tests.cluster.test_chaos import ledger, until_calls_answered
from tests.history.pg import fresh_schema

WIDE = 1000
"""The issue's 1,000-wide fan-out, 20 ms agents (up to 10 × that, so the answers come over a while)."""


def test_the_spread_option_names_phases_of_the_task() -> None:
    shape = (("Gather", 2, True), ("Discuss", 2, False), ("Review", 2, True))
    assert spread_phases(drill_task(shape)) == frozenset()
    assert spread_phases(drill_task(shape, spread=("Discuss",))) == {"Discuss"}
    parallel = dataclasses.replace(drill_task(shape), metadata={"cluster": {"spread": "parallel"}})
    assert spread_phases(parallel) == {"Gather", "Review"}
    with pytest.raises(ConfigurationError) as caught:
        spread_phases(drill_task(shape, spread=("Gather", "Fan")))
    assert "no phase 'Fan'" in str(caught.value)
    assert "its phases: Gather, Discuss, Review" in str(caught.value)
    bad = dataclasses.replace(drill_task(shape), metadata={"cluster": {"spread": 3}})
    with pytest.raises(ConfigurationError, match="a list of phase names or 'parallel', not 3"):
        spread_phases(bad)


def task_file(cluster: str) -> str:
    return f"""# Wide

```yaml
name: wide
{cluster}
```

## Phase: Gather
```yaml
parallel: true
```
### Agents
- analyst-a
- analyst-b

### Steps
1. Give your view.

## Phase: Decide
### Agents
- analyst-a

### Steps
1. Decide.
"""


def test_a_task_file_names_its_spread_phases_and_a_bad_form_says_how_to_write_it() -> None:
    parser = TaskParser()
    task = parser.parse_task_content(task_file("cluster:\n  spread: [Gather]"), source="wide.md")
    assert spread_phases(task) == {"Gather"}
    task = parser.parse_task_content(task_file("cluster: {spread: parallel}"), source="wide.md")
    assert spread_phases(task) == {"Gather"}
    assert Task.from_dict(task.to_dict()).metadata == task.metadata  # it travels with the execution
    assert spread_phases(parser.parse_task_content(task_file(""), source="wide.md")) == frozenset()
    for bad, said in (("cluster: {spread: Gather}", "wide.md:5: error: cluster.spread must be a list of "
                                                     "phase names or 'parallel', not the text 'Gather'"),
                      ("cluster: {spread: []}", "cluster.spread must be a list"),
                      ("cluster: {spred: [Gather]}", "spred"),
                      ("cluster: [Gather]", "cluster must be a mapping")):
        with pytest.raises(DefinitionError) as caught:
            parser.parse_task_content(task_file(bad), source="wide.md")
        assert said in str(caught.value), str(caught.value)
        assert "wide.md:5" in str(caught.value)
    with pytest.raises(ConfigurationError, match="no phase 'Gathr'"):
        spread_phases(parser.parse_task_content(task_file("cluster: {spread: [Gathr]}"), source="wide.md"))


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_a_spread_phase_runs_on_both_nodes_and_survives_losing_one(ray_cluster: Any,
                                                                          tmp_path: Path) -> None:
    shape = (("Fan", WIDE, True), ("Decide", 1, False))
    book = tmp_path / "ledger"
    async with fresh_schema() as url:
        runner = RayRunner(ray_cluster.address, store_url=url, lease_ttl_s=5.0, drivers=1,
                           agents=LedgerAgents(str(book), shape, spread=10))
        async with ClusterExecutor(runner, tasks_dir=None) as cluster:
            store = cluster.history_store
            (driver,) = runner.drivers()
            warm = await cluster.execute(drill_task((("Fan", 10, True),), spread=("Fan",)), {"seed": 0})
            assert warm.status.value == "completed", warm.error  # the call servers are up
            # at most 100 calls in flight: the phase's calls go out over a while, a few batches a turn
            handle = await cluster.start(drill_task(shape, spread=("Fan",), max_agents=100), {"seed": 5})
            await until_calls_answered(store, [handle.id], at_least=WIDE // 5)
            first = await driver.where.remote()
            servers = await driver.call_servers.remote()
            assert {s["node_id"] for s in servers} == {n.node_id for n in ray_cluster.worker_nodes}
            victim = next(n for n in ray_cluster.worker_nodes if n.node_id != first["node_id"])
            lost_pids = {s["pid"] for s in servers if s["node_id"] == victim.node_id}
            answered_before = {str(e.data["call_key"]) for e in await store.read_journal(handle.id)
                               if e.type == EventType.AGENT_RESPONSE}
            ray_cluster.remove_node(victim)
            result = await handle.result()
            assert result.status.value == "completed", result.error
            journal = await store.read_journal(handle.id)
            assert [e.sequence for e in journal] == list(range(1, len(journal) + 1))
            assert not any(e.type == EventType.EXECUTION_RESUMED for e in journal), "no takeover"
            recorded = collections.Counter(str(e.data["call_key"]) for e in journal
                                           if e.type == EventType.AGENT_RESPONSE)
            assert len(recorded) == WIDE + 1
            assert set(recorded.values()) == {1}, "one answer per call"
            assert len(answered_before) < WIDE, "the node was removed mid-phase"
            runs = [run for run in ledger(book) if run[0] == handle.id]
            counts = collections.Counter(call for _e, call, _pid in runs)
            assert set(counts) == set(recorded)
            assert all(counts[call] == 1 for call in answered_before), "an answered call ran again"
            first_pid: dict[str, int] = {}
            for _e, call, pid in runs:
                first_pid.setdefault(call, pid)
            again = [call for call, n in counts.items() if n > 1]
            assert all(first_pid[call] in lost_pids for call in again), "only the lost node's calls rerun"
            assert max(counts.values()) <= 2
            fan_pids = {pid for _e, call, pid in runs if call.startswith("Fan/")}
            assert first["pid"] not in fan_pids, "the spread phase ran on the call servers"
            assert {pid for _e, call, pid in runs if call.startswith("Decide/")} == {first["pid"]}
            answered_by = {first_pid[call] for call in recorded if call.startswith("Fan/")}
            assert answered_by == {s["pid"] for s in servers}, "both nodes answered"
            after = await driver.where.remote()
            assert after["spread_calls"] >= WIDE
            print(f"answered before the loss: {len(answered_before)}; made again: {len(again)}")
        runner.close()
    add_worker(ray_cluster)
    ray_cluster.wait_for_nodes()
    await asyncio.sleep(0)
