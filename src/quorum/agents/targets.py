"""The function a ``builtin:<name>`` or ``python:<module>:<attr>`` model string names.

Shared by the providers (an agent in this process) and the worker processes (``executor: process``),
which resolve the same string to the same function.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, cast

from quorum.agents.function import AgentCallable
from quorum.errors import AgentError

__all__ = ("resolve_function",)


def resolve_function(agent_id: str, model: str, where: str = "") -> AgentCallable:
    """The function a ``builtin:<name>`` or ``python:<module>:<attr>`` model names (a class is
    instantiated; its async ``query`` is used when it has one)."""
    provider, _, target = model.partition(":")
    where = where or f" (model {model!r})"
    if provider == "builtin":
        from quorum.agents.builtin import get_specialist

        try:
            return get_specialist(target)
        except KeyError as exc:
            raise AgentError(agent_id, f"{exc.args[0]}{where}") from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise AgentError(agent_id, f"cannot import module {module_name!r}{where}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AgentError(agent_id, f"module {module_name!r} has no attribute {attr!r}{where}") from None
    if not callable(obj):
        raise AgentError(agent_id, f"{module_name}:{attr} is not callable{where}")
    if inspect.isclass(obj):
        obj = obj()
        query = getattr(obj, "query", None)
        if query is not None and inspect.iscoroutinefunction(query):
            obj = query
    return cast("AgentCallable", obj)
