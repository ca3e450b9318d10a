"""quorum: run multi-phase, multi-agent workflows written as Markdown.

The public API is re-exported here. Heavy modules are imported on first use (PEP 562), so that
``import quorum`` stays fast for the CLI and for scripts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # definition
    "OutputSelector": "quorum.definition.model",
    "OutputSpec": "quorum.definition.model",
    "Phase": "quorum.definition.model",
    "Requirement": "quorum.definition.model",
    "RetryPolicy": "quorum.definition.model",
    "Step": "quorum.definition.model",
    "StepKind": "quorum.definition.model",
    "Task": "quorum.definition.model",
    # agents
    "Agent": "quorum.agents.protocol",
    "AgentRequest": "quorum.agents.protocol",
    "AgentResponse": "quorum.agents.protocol",
    "CallKey": "quorum.agents.protocol",
    "AgentManager": "quorum.agents.manager",
    "FunctionAgent": "quorum.agents.function",
    # events, signals, history
    "Event": "quorum.events",
    "EventType": "quorum.events",
    "AbortSignal": "quorum.signals",
    "ExecutionRecord": "quorum.history.base",
    "HistoryStore": "quorum.history.base",
    # errors
    "AgentError": "quorum.errors",
    "AgentTimeoutError": "quorum.errors",
    "BudgetExceededError": "quorum.errors",
    "ConfigurationError": "quorum.errors",
    "DefinitionError": "quorum.errors",
    "ExecutionError": "quorum.errors",
    "ExecutionInterrupt": "quorum.errors",
    "ExecutionNotFoundError": "quorum.errors",
    "ExecutionTimeoutError": "quorum.errors",
    "InputValidationError": "quorum.errors",
    "InvalidTransitionError": "quorum.errors",
    "LeaseLostError": "quorum.errors",
    "PhaseFailedError": "quorum.errors",
    "Problem": "quorum.errors",
    "QuorumError": "quorum.errors",
    "ResumeRefusedError": "quorum.errors",
    "StepValidationError": "quorum.errors",
    "StoreError": "quorum.errors",
    "TaskNotFoundError": "quorum.errors",
    "TemplateRenderError": "quorum.errors",
    # ids
    "AgentId": "quorum.ids",
    "ExecutionId": "quorum.ids",
    "PhaseName": "quorum.ids",
}

__all__ = (
    "AbortSignal",
    "Agent",
    "AgentError",
    "AgentId",
    "AgentManager",
    "AgentRequest",
    "AgentResponse",
    "AgentTimeoutError",
    "BudgetExceededError",
    "CallKey",
    "ConfigurationError",
    "DefinitionError",
    "Event",
    "EventType",
    "ExecutionError",
    "ExecutionId",
    "ExecutionInterrupt",
    "ExecutionNotFoundError",
    "ExecutionRecord",
    "ExecutionTimeoutError",
    "FunctionAgent",
    "HistoryStore",
    "InputValidationError",
    "InvalidTransitionError",
    "LeaseLostError",
    "OutputSelector",
    "OutputSpec",
    "Phase",
    "PhaseFailedError",
    "PhaseName",
    "Problem",
    "QuorumError",
    "Requirement",
    "ResumeRefusedError",
    "RetryPolicy",
    "Step",
    "StepKind",
    "StepValidationError",
    "StoreError",
    "Task",
    "TaskNotFoundError",
    "TemplateRenderError",
    "__version__",
)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'quorum' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from quorum.agents.function import FunctionAgent
    from quorum.agents.manager import AgentManager
    from quorum.agents.protocol import Agent, AgentRequest, AgentResponse, CallKey
    from quorum.definition.model import (
        OutputSelector,
        OutputSpec,
        Phase,
        Requirement,
        RetryPolicy,
        Step,
        StepKind,
        Task,
    )
    from quorum.errors import (
        AgentError,
        AgentTimeoutError,
        BudgetExceededError,
        ConfigurationError,
        DefinitionError,
        ExecutionError,
        ExecutionInterrupt,
        ExecutionNotFoundError,
        ExecutionTimeoutError,
        InputValidationError,
        InvalidTransitionError,
        LeaseLostError,
        PhaseFailedError,
        Problem,
        QuorumError,
        ResumeRefusedError,
        StepValidationError,
        StoreError,
        TaskNotFoundError,
        TemplateRenderError,
    )
    from quorum.events import Event, EventType
    from quorum.history.base import ExecutionRecord, HistoryStore
    from quorum.ids import AgentId, ExecutionId, PhaseName
    from quorum.signals import AbortSignal
