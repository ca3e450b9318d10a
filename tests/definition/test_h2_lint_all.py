"""A lint run reports every problem at once: unknown agents do not hide the problems after them."""

from __future__ import annotations

from quorum.definition.parser import TaskParser

from .conftest import make_text, messages

_PHASES = """\
## Phase: Gather
### Agents
- analst
- bogus

### Steps
- Look at {{ input.ticker }} and {{ phases.Nope.summary }}

## Phase: Decide
dependsOn: [Gather]

### Steps
- agent: chiar - Decide on {{ input.tickr }} {{ input.ticker | nosuchfilter }}
- validation: phases.Gathr.ok - the gathering must succeed
"""


def test_unknown_agents_do_not_stop_the_other_checks() -> None:
    parser = TaskParser(agent_ids={"analyst", "chair"})
    problems = parser.lint_content(make_text(_PHASES), source="task.md")
    text = messages(problems)
    # every unknown agent, each at its own line
    assert "unknown agent 'analst' (did you mean 'analyst'?)" in text
    assert "unknown agent 'bogus'" in text
    assert "unknown agent 'chiar' (did you mean 'chair'?)" in text
    # and the problems after them: the agent step's query template, the cross-references
    assert "unknown filter 'nosuchfilter'" in text
    assert "reads phases.Nope, which is not a phase" in text
    assert "reads phases.Gathr, which is not a phase (did you mean 'Gather'?)" in text
    assert "reads input.tickr, which is not a requirement (did you mean 'ticker'?)" in text
    # the unknown agents are still listed agents: no "prompt steps but no agents" warning
    assert "no agents to send them to" not in text
    assert all(p.line is not None and p.source == "task.md" for p in problems)


def test_references_are_checked_when_the_phases_have_a_cycle() -> None:
    phases = """\
## Phase: A
dependsOn: [B]

### Steps
- Read {{ phases.Missing.x }}

## Phase: B
dependsOn: [A]

### Steps
- Read {{ phases.A.x }}
"""
    text = messages(TaskParser().lint_content(make_text(phases), source="task.md"))
    assert "circular dependency" in text
    assert "reads phases.Missing, which is not a phase" in text
