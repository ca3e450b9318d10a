"""The built-in offline specialists: deterministic agents that compute real analysis from the inputs.

``get_specialist(name)`` returns a sync callable ``(AgentRequest) -> dict``; ``SPECIALISTS`` maps every id.
They read ``request.context["input"]``, earlier outputs and answers (``request.context["phases"]``) and
this step's earlier answers (``request.peers``), and return the phase's declared outputs they can fill plus
``stance``, ``recommendation``, ``confidence``, ``rationale`` and ``text``. Where a role lacks the data it
needs it abstains and says so; it never invents a number.
"""

from __future__ import annotations

from quorum.agents.builtin.registry import SPECIALISTS, Specialist, get_specialist

__all__ = ("SPECIALISTS", "Specialist", "get_specialist")
