"""The engine's door to :mod:`quorum.templates` (imported on first use: Jinja2 is not on the import path
of ``import quorum``). Text without ``{{``/``{%`` is never handed to Jinja.

Fast path: most prompts only insert plain values — ``Assess {{ input.topic }}``. Such a template (text
and ``{{ a.b.c }}`` lookups, nothing else) is rendered here by dict lookups, exactly as the sandbox
would render it, when every step of every lookup is a key of a plain ``dict``/``MappingProxyType``
(not a method name, which Jinja would resolve to the method) and every value found is a ``str``,
``int``, ``float`` or ``bool`` (printed with ``str()``, as the sandbox's ``finalize`` leaves them).
Anything else — filters, expressions, a missing name (an error to report), a mapping or list value
(printed as JSON), text with ``\\r`` (Jinja normalises newlines), an output over the size limit — goes
to Jinja. Jinja costs ~9 µs per render; the fast path about 1 µs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quorum.templates import TemplateEngine

__all__ = ("agent_names", "engine", "evaluate", "is_template", "render")

_engine: TemplateEngine | None = None

_LOOKUP = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
_PLAIN_MAPPINGS = (dict, MappingProxyType)
_PRINTABLE = (str, int, float, bool)
_NOT_SIMPLE: tuple[str, ...] = ()

# source -> (texts, paths): texts[i] precedes paths[i]; the last text follows the last lookup.
# Not simple -> _NOT_SIMPLE. Bounded: prompts are few, but a custom step may render arbitrary text.
_plans: dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...]] | tuple[str, ...]] = {}
_PLANS_MAX = 512


def engine() -> TemplateEngine:
    global _engine
    if _engine is None:
        from quorum.templates import default_engine

        _engine = default_engine()
    return _engine


def is_template(text: str) -> bool:
    # Same test as TemplateEngine.is_template, inlined: it runs for every prompt and must not import Jinja.
    return "{{" in text or "{%" in text


def _plan(source: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]] | tuple[str, ...]:
    plan = _plans.get(source)
    if plan is not None:
        return plan
    texts: list[str] = []
    paths: list[tuple[str, ...]] = []
    position = 0
    for match in _LOOKUP.finditer(source):
        texts.append(source[position:match.start()])
        paths.append(tuple(match.group(1).split(".")))
        position = match.end()
    texts.append(source[position:])
    simple = bool(paths) and "\r" not in source and not any(
        "{{" in t or "{%" in t or "{#" in t for t in texts
    )
    result: tuple[tuple[str, ...], tuple[tuple[str, ...], ...]] | tuple[str, ...] = (
        (tuple(texts), tuple(paths)) if simple else _NOT_SIMPLE
    )
    if len(_plans) >= _PLANS_MAX:
        _plans.clear()
    _plans[source] = result
    return result


def _fast_render(source: str, context: Mapping[str, Any], limit: int) -> str | None:
    """The rendered text, or None when Jinja must do it (see the module docstring)."""
    plan = _plan(source)
    if plan is _NOT_SIMPLE:
        return None
    texts, paths = plan
    parts: list[str] = [texts[0]]
    for path, text in zip(paths, texts[1:], strict=True):
        value: Any = context
        for name in path:
            if type(value) not in _PLAIN_MAPPINGS or hasattr(value, name):
                return None
            try:
                value = value[name]
            except KeyError:
                return None
        if type(value) not in _PRINTABLE:
            return None
        parts.append(str(value))
        parts.append(text)
    rendered = "".join(parts)
    return rendered if len(rendered) <= limit else None


def render(text: str, context: Mapping[str, Any]) -> str:
    if "{{" not in text and "{%" not in text:
        return text
    jinja = engine()
    if type(context) in _PLAIN_MAPPINGS:
        rendered = _fast_render(text, context, jinja.max_output_chars)
        if rendered is not None:
            return rendered
    return jinja.render(text, context)


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    return engine().evaluate(expression, context)


def agent_names(value: Any, expression: str) -> list[str]:
    """The agent ids a dynamic agent expression gave: one id, or a list of them (none for null or an
    empty list). Anything else is a :class:`TemplateRenderError` saying what it gave and what it must."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    from quorum.errors import TemplateRenderError

    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise TemplateRenderError(
        f"the agent expression {expression!r} gave {shown} ({type(value).__name__}); it must give an "
        "agent id or a list of agent ids")
