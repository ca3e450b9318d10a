"""quorum: run multi-phase, multi-agent workflows written as Markdown.

The public API is re-exported here. Heavy modules are imported on first use (PEP 562), so that
``import quorum`` stays fast for the CLI and for scripts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorum._lazy import lazy_exports

__version__ = "0.1.0"  # the one place the number is written: pyproject.toml reads it from here

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Budget": "quorum.agents.budget",
    "ResponseCache": "quorum.agents.cache",
    "default_agent_manager": "quorum.agents.defaults",
    "AgentDefinition": "quorum.agents.definitions",
    "parse_agent_file": "quorum.agents.definitions",
    "ProviderError": "quorum.agents.failures",
    "FunctionAgent": "quorum.agents.function",
    "AgentManager": "quorum.agents.manager",
    "parse_model_overrides": "quorum.agents.models",
    "Agent": "quorum.agents.protocol",
    "AgentRequest": "quorum.agents.protocol",
    "AgentResponse": "quorum.agents.protocol",
    "CallKey": "quorum.agents.protocol",
    "register_provider": "quorum.agents.providers",
    "AgentRegistry": "quorum.agents.registry",
    "CircuitOpenError": "quorum.agents.resilience",
    "parse_time_string": "quorum.definition.durations",
    "TaskLoader": "quorum.definition.loader",
    "OutputSelector": "quorum.definition.model",
    "OutputSpec": "quorum.definition.model",
    "Phase": "quorum.definition.model",
    "Requirement": "quorum.definition.model",
    "RetryPolicy": "quorum.definition.model",
    "Step": "quorum.definition.model",
    "StepKind": "quorum.definition.model",
    "Task": "quorum.definition.model",
    "TaskParser": "quorum.definition.parser",
    "TaskBuilder": "quorum.definition.builder",
    "run": "quorum.engine.api",
    "Checkpoint": "quorum.engine.context",
    "ExecutionContext": "quorum.engine.context",
    "TaskExecutor": "quorum.engine.executor",
    "ActiveExecution": "quorum.engine.handle",
    "ExecutionHandle": "quorum.engine.handle",
    "ExecutionResult": "quorum.engine.results",
    "PhaseResult": "quorum.engine.results",
    "Usage": "quorum.engine.results",
    "ExecutionStatus": "quorum.engine.status",
    "PhaseStatus": "quorum.engine.status",
    "AgentError": "quorum.errors",
    "AgentTimeoutError": "quorum.errors",
    "BudgetExceededError": "quorum.errors",
    "ConfigurationError": "quorum.errors",
    "DefinitionError": "quorum.errors",
    "ExecutionError": "quorum.errors",
    "ExecutionInterrupt": "quorum.errors",
    "ExecutionNotFoundError": "quorum.errors",
    "ExecutionTimeoutError": "quorum.errors",
    "HistoryCorruptError": "quorum.errors",
    "InvalidDecisionError": "quorum.errors",
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
    "Event": "quorum.events",
    "EventType": "quorum.events",
    "PhaseGraph": "quorum.graph",
    "ExecutionRecord": "quorum.history.base",
    "HistoryStore": "quorum.history.base",
    "MemoryHistoryStore": "quorum.history.memory",
    "SQLiteHistoryStore": "quorum.history.sqlite",
    "open_store": "quorum.history.stores",
    "AgentId": "quorum.ids",
    "ExecutionId": "quorum.ids",
    "PhaseName": "quorum.ids",
    "DryRunPlan": "quorum.planning",
    "AbortSignal": "quorum.signals",
    "Aggregator": "quorum.steps.protocol",
    "StepContext": "quorum.steps.protocol",
    "StepStrategy": "quorum.steps.protocol",
    "TemplateEngine": "quorum.templates",
}

__all__ = (
    "AbortSignal",
    "ActiveExecution",
    "Agent",
    "AgentDefinition",
    "AgentError",
    "AgentId",
    "AgentManager",
    "AgentRegistry",
    "AgentRequest",
    "AgentResponse",
    "AgentTimeoutError",
    "Aggregator",
    "Budget",
    "BudgetExceededError",
    "CallKey",
    "Checkpoint",
    "CircuitOpenError",
    "ConfigurationError",
    "DefinitionError",
    "DryRunPlan",
    "Event",
    "EventType",
    "ExecutionContext",
    "ExecutionError",
    "ExecutionHandle",
    "ExecutionId",
    "ExecutionInterrupt",
    "ExecutionNotFoundError",
    "ExecutionRecord",
    "ExecutionResult",
    "ExecutionStatus",
    "ExecutionTimeoutError",
    "FunctionAgent",
    "HistoryCorruptError",
    "HistoryStore",
    "InputValidationError",
    "InvalidDecisionError",
    "InvalidTransitionError",
    "LeaseLostError",
    "MemoryHistoryStore",
    "OutputSelector",
    "OutputSpec",
    "Phase",
    "PhaseFailedError",
    "PhaseGraph",
    "PhaseName",
    "PhaseResult",
    "PhaseStatus",
    "Problem",
    "ProviderError",
    "QuorumError",
    "Requirement",
    "ResponseCache",
    "ResumeRefusedError",
    "RetryPolicy",
    "SQLiteHistoryStore",
    "Step",
    "StepContext",
    "StepKind",
    "StepStrategy",
    "StepValidationError",
    "StoreError",
    "Task",
    "TaskBuilder",
    "TaskExecutor",
    "TaskLoader",
    "TaskNotFoundError",
    "TaskParser",
    "TemplateEngine",
    "TemplateRenderError",
    "Usage",
    "__version__",
    "default_agent_manager",
    "open_store",
    "parse_agent_file",
    "parse_model_overrides",
    "parse_time_string",
    "register_provider",
    "run",
)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)


if TYPE_CHECKING:
    from quorum.agents.budget import Budget
    from quorum.agents.cache import ResponseCache
    from quorum.agents.defaults import default_agent_manager
    from quorum.agents.definitions import AgentDefinition, parse_agent_file
    from quorum.agents.failures import ProviderError
    from quorum.agents.function import FunctionAgent
    from quorum.agents.manager import AgentManager
    from quorum.agents.models import parse_model_overrides
    from quorum.agents.protocol import Agent, AgentRequest, AgentResponse, CallKey
    from quorum.agents.providers import register_provider
    from quorum.agents.registry import AgentRegistry
    from quorum.agents.resilience import CircuitOpenError
    from quorum.definition.builder import TaskBuilder
    from quorum.definition.durations import parse_time_string
    from quorum.definition.loader import TaskLoader
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
    from quorum.definition.parser import TaskParser
    from quorum.engine.api import run
    from quorum.engine.context import Checkpoint, ExecutionContext
    from quorum.engine.executor import TaskExecutor
    from quorum.engine.handle import ActiveExecution, ExecutionHandle
    from quorum.engine.results import ExecutionResult, PhaseResult, Usage
    from quorum.engine.status import ExecutionStatus, PhaseStatus
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
        HistoryCorruptError,
        InputValidationError,
        InvalidDecisionError,
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
    from quorum.graph import PhaseGraph
    from quorum.history.base import ExecutionRecord, HistoryStore
    from quorum.history.memory import MemoryHistoryStore
    from quorum.history.sqlite import SQLiteHistoryStore
    from quorum.history.stores import open_store
    from quorum.ids import AgentId, ExecutionId, PhaseName
    from quorum.planning import DryRunPlan
    from quorum.signals import AbortSignal
    from quorum.steps.protocol import Aggregator, StepContext, StepStrategy
    from quorum.templates import TemplateEngine
