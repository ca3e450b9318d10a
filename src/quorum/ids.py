"""Typed identifiers: plain strings at run time, distinct types for the checker."""

from __future__ import annotations

from typing import NewType

__all__ = ("AgentId", "CheckpointId", "ExecutionId", "PhaseName", "TaskName")

ExecutionId = NewType("ExecutionId", str)
TaskName = NewType("TaskName", str)
PhaseName = NewType("PhaseName", str)
AgentId = NewType("AgentId", str)
CheckpointId = NewType("CheckpointId", str)
