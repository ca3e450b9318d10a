"""The engine's door to :mod:`quorum.templates` (imported on first use: Jinja2 is not on the import path
of ``import quorum``). Text without ``{{``/``{%`` is never handed to Jinja."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quorum.templates import TemplateEngine

__all__ = ("engine", "evaluate", "is_template", "render")

_engine: TemplateEngine | None = None


def engine() -> TemplateEngine:
    global _engine
    if _engine is None:
        from quorum.templates import default_engine

        _engine = default_engine()
    return _engine


def is_template(text: str) -> bool:
    # Same test as TemplateEngine.is_template, inlined: it runs for every prompt and must not import Jinja.
    return "{{" in text or "{%" in text


def render(text: str, context: Mapping[str, Any]) -> str:
    if "{{" not in text and "{%" not in text:
        return text
    return engine().render(text, context)


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    return engine().evaluate(expression, context)
