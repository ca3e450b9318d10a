"""Planning an execution before it spends anything: the dry run, and whole simulated runs from recorded
answers.

- :func:`dry_run` -> :class:`DryRunPlan`: the phases that will run (and why others will not), the agent
  calls of each, the critical path, the expected wall time and cost with the basis of every number
  (the history of the task version, else the timeouts and the prices table). No agent is called,
  nothing is recorded.
- :func:`simulate` with :class:`Fixtures` (:func:`load_fixtures`): a whole execution, its events,
  outputs and verdict, with every agent answered from a file of recorded answers (docs/cli.md, "Dry
  runs and fixtures"); :func:`fixtures_from_journal` makes such a file from a past execution.
"""

from __future__ import annotations

from quorum.planning._estimate import AgentFacts, Estimate
from quorum.planning._fixtures import (
    FixtureAgents,
    Fixtures,
    MissingFixtureError,
    check_fixtures,
    fixture_executor,
    fixtures_from_journal,
    load_fixtures,
    parse_fixtures,
    simulate,
)
from quorum.planning._plan import DryRunParts, DryRunPlan, PhasePlan, dry_run

__all__ = (
    "AgentFacts",
    "DryRunParts",
    "DryRunPlan",
    "Estimate",
    "FixtureAgents",
    "Fixtures",
    "MissingFixtureError",
    "PhasePlan",
    "check_fixtures",
    "dry_run",
    "fixture_executor",
    "fixtures_from_journal",
    "load_fixtures",
    "parse_fixtures",
    "simulate",
)
