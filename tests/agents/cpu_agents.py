"""Functions the worker-process tests run as ``python:tests.agents.cpu_agents:<name>`` agents."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from quorum.agents.protocol import AgentRequest


def crunch(request: AgentRequest) -> dict[str, Any]:
    """CPU-bound: sums squares for a while; answers with the pid that did it."""
    n = int(request.context.get("input", {}).get("n", 200_000))
    total = sum(i * i for i in range(n))
    return {"text": f"sum of squares below {n}", "total": total, "pid": os.getpid(), "stance": "neutral",
            "confidence": 0.5}


def spin(request: AgentRequest) -> dict[str, Any]:
    """Never ends on its own: records its pid, then burns CPU until killed."""
    Path(str(request.context["input"]["pid_file"])).write_text(str(os.getpid()))
    while True:
        pass


def fail(request: AgentRequest) -> dict[str, Any]:
    raise ValueError("the simulation diverged")
