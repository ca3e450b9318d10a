"""Which models and servers the agents of a command are built with: the run's own, or the recorded ones.

``quorum run`` records its choices (``--model``, ``QUORUM_MODEL``, the configuration's ``[models]``,
base URLs) with the execution; ``quorum resume``/``recover`` build the agents from what was recorded, so
that an execution is not finished by other models than it started with. Only an explicit ``--model`` on
resume changes them, and the change is recorded (an ``execution:resumed`` event, in ``quorum show``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorum.agents.choices import AgentChoices

if TYPE_CHECKING:
    from quorum.config import Config
    from quorum.history.base import ExecutionRecord

__all__ = ("current_choices", "recorded_choices")


def current_choices(cfg: Config) -> AgentChoices:
    """The choices of a new run: this configuration's model overrides and base URLs."""
    return AgentChoices.current(cfg.model_specs(), endpoints=cfg.endpoint_urls(),
                                config=cfg.provider_variables())


def recorded_choices(cfg: Config, record: ExecutionRecord, *, models_given: bool) -> AgentChoices:
    """The choices to go on with ``record``: the recorded ones; with ``--model`` given (``models_given``)
    the recorded servers with this command's models. An execution recorded before choices were kept
    goes on with the current configuration's."""
    recorded = AgentChoices.from_mapping(record.agent_choices)
    if recorded is None:
        return current_choices(cfg)
    if models_given:
        return recorded.with_models(cfg.model_specs())
    return recorded
