"""Agents named in the engine tests' agent files as ``python:engine_test_agents:<name>``."""

from __future__ import annotations

from typing import Any


def from_file(request: Any) -> dict[str, Any]:
    return {"who": "file", "agent": request.agent_id}


def override(request: Any) -> dict[str, Any]:
    return {"who": "override", "agent": request.agent_id}
