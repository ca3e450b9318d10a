"""What the ETA model learns besides phase quantiles: agent calls and cost per phase, latency per agent
and per model, and a duration-per-call line where the call count varied (only where the data supports
it)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from quorum.engine.executor import TaskExecutor
from quorum.history.memory import MemoryHistoryStore
from quorum.telemetry.eta import EtaModel, fit_scale
from quorum.testing import ScriptedAgent, make_manager
from tests.engine.run_helpers import phase, prompt, task

pytestmark = pytest.mark.unit


def test_the_line_is_least_squares_and_refused_where_the_data_does_not_support_it() -> None:
    points = [(2, 0.21), (3, 0.30), (4, 0.42), (5, 0.49), (3, 0.31)]
    scale = fit_scale(points)
    assert scale is not None
    slope, intercept = np.polyfit([c for c, _ in points], [y for _, y in points], 1)
    assert scale.per_call == pytest.approx(slope)
    assert scale.intercept == pytest.approx(intercept)
    assert scale.r2 > 0.95
    assert (scale.calls_min, scale.calls_max, scale.n) == (2, 5, 5)
    assert scale.at(8) == pytest.approx(intercept + 8 * slope)
    assert fit_scale(points[:3]) is None  # too few samples
    assert fit_scale([(3, 0.1), (3, 0.2), (3, 0.3), (3, 0.4)]) is None  # one call count
    assert fit_scale([(2, 0.5), (3, 0.4), (4, 0.3), (5, 0.2)]) is None  # shrinking with calls
    assert fit_scale([(2, 0.1), (3, 0.9), (4, 0.1), (5, 0.6)]) is None  # noise, R² < 0.5


async def test_calls_latency_cost_and_scale_from_the_history() -> None:
    store = MemoryHistoryStore()
    await store.open()
    agents = {f"p{i}": ScriptedAgent({"v": i}, delay=0.05) for i in range(1, 6)}
    priced = ScriptedAgent(lambda r: {"v": 0}, delay=0.005)
    manager = make_manager({**agents, "host": priced})
    the_task = dataclasses.replace(task(
        phase("Host", prompt("open"), agents=("host",)),
        phase("Panel", prompt("talk"), depends_on="Host", agent_expressions=("input.panel",)),
        name="scaled"), content_hash="scaled-v1")
    executor = TaskExecutor(agent_manager=manager, history_store=store)
    sizes = (1, 2, 3, 4, 5, 2)
    # a first run pays for imports and template compilation: it is another version, not learned from
    await executor.execute(dataclasses.replace(the_task, content_hash="warm-up"), {"panel": ["p1"]})
    for size in sizes:
        await executor.execute(the_task, {"panel": [f"p{i}" for i in range(1, size + 1)]})
    await executor.aclose()
    model = await EtaModel.from_history(store, "scaled", "scaled-v1")
    assert model.basis == len(sizes)
    assert model.phase_calls["Panel"].p50 == pytest.approx(float(np.percentile(sizes, 50)))
    assert model.phase_calls["Host"].p50 == 1
    assert model.agent_latency["p1"].n == len(sizes)
    assert model.agent_latency["p1"].p50 == pytest.approx(0.05, abs=0.03)
    assert model.model_latency["scripted"].n == sum(sizes) + len(sizes)
    scale = model.phase_scale["Panel"]
    assert scale.per_call == pytest.approx(0.05, rel=0.5)
    assert "Host" not in model.phase_scale  # always one call: no line, its quantiles serve
    scaled = model.phase_estimate("Panel", 8)
    assert scaled is not None
    assert scaled.basis == "history-scaled"
    assert scaled.p50 == pytest.approx(scale.at(8))
    plain = model.phase_estimate("Host", 1)
    assert plain is not None
    assert plain.basis == "history"
    assert model.phase_estimate("Nowhere") is None
