"""A task whose work grows with its inputs: an intro call, then a round table of the panel the input
names (``input.panel``: agent ids), each panellist a latency-injecting agent."""

from __future__ import annotations

import dataclasses
from typing import Any

from quorum.agents.manager import AgentManager
from quorum.definition.model import Task
from quorum.testing import ScriptedAgent, make_manager
from tests.engine.run_helpers import agent_step, phase, prompt, task

PANEL = tuple(f"p{i}" for i in range(1, 9))
LATENCY_S = 0.1


def panel_task(**kw: Any) -> Task:
    built = task(
        phase("Intro", agent_step("host", "Introduce {{ input.topic }}")),
        phase("Panel", prompt("Your view on {{ input.topic }}"), depends_on="Intro",
              agent_expressions=("input.panel",)),
        phase("Close", agent_step("host", "Close the panel"), depends_on="Panel"),
        name="panel", **kw)
    return dataclasses.replace(built, content_hash="panel-v1")


def panel_agents(latency_s: float = LATENCY_S) -> tuple[AgentManager, dict[str, ScriptedAgent]]:
    agents = {"host": ScriptedAgent({"v": "host"}, delay=latency_s / 2)}
    agents.update({a: ScriptedAgent({"v": a}, delay=latency_s) for a in PANEL})
    return make_manager(agents), agents
