"""Templates and expressions: Jinja2 in an immutable sandbox, with bounded time and memory.

Task files are code written by people, so templates get a small, safe language:

- ``ImmutableSandboxedEnvironment`` with ``StrictUndefined`` (a missing name is an error, not ""),
  autoescape off (prompts are not HTML), no loader (no include/import/extends), no macros.
- Names and attributes starting with ``_`` are refused when the template is *checked* (so a task file
  is rejected at parse time), and again by the sandbox at run time.
- Only a list of harmless methods may be called (``str.upper``, ``dict.items``, ...). The ones that can
  blow up memory (``str.center``, ``str.format``, ``int.to_bytes`` ...) are not on it.
- Size bombs are refused while rendering, before they are built: ``*`` (``'a' * 10**9``, and
  ``['a' * 199999] * 20000``: the printed size counts, not the length), ``+``, ``~``, ``**`` and integer
  ``*`` (at most ``MAX_INT_BITS``), ``%``, ``range``, ``str()`` and the amplifying filters (center, indent,
  wordwrap, join, replace, batch, slice, format, and every filter that makes text of a collection) check
  the size of their result first. What they do build is charged to one work budget per render
  (``max_work`` characters and items), so that many legal steps cannot add up either; every ``for`` loop
  (recursive calls included) counts against one iteration budget; the rendered text is bounded by
  ``max_output_chars``.
- What can be refused without running (``'a' * 10**9``, ``9 ** 999999``, ``range(10**9)``) is refused
  when the template is checked, so ``quorum validate`` reports it with the file and line.

Compiled templates and expressions are cached by source (LRU), so rendering a known source costs one
dict lookup plus the render itself.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.parser import Parser
from jinja2.runtime import Undefined

from quorum.errors import TemplateRenderError
from quorum.templates._budget import MAX_ITERATIONS, RenderBudget, budget
from quorum.templates._checker import Checker, is_simple
from quorum.templates._sandbox import Sandbox

__all__ = ("TemplateEngine", "default_engine", "strip_expression_braces")


def strip_expression_braces(expression: str) -> str:
    """``"{{ a.b }}"`` -> ``"a.b"``; anything else is returned stripped."""
    text = expression.strip()
    if text.startswith("{{") and text.endswith("}}"):
        inner = text[2:-2]
        if "{{" not in inner and "}}" not in inner:
            return inner.strip()
    return text


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TemplateSyntaxError):
        where = f" (template line {exc.lineno})" if exc.lineno and exc.lineno > 1 else ""
        return f"syntax error: {exc.message}{where}"
    if isinstance(exc, SecurityError):
        return f"refused: {exc}"
    if isinstance(exc, UndefinedError):
        return f"undefined: {exc}"
    if isinstance(exc, RecursionError):
        return "refused: nested too deeply"
    return f"{type(exc).__name__}: {exc}"


def _raise_if_undefined(value: Any, depth: int = 0) -> None:
    """A missing name inside a literal (``[input.a, input.missing]``) fails here, not later in the engine."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if depth < 3 and isinstance(value, list | tuple | dict):
        for item in value.values() if isinstance(value, dict) else value:
            _raise_if_undefined(item, depth + 1)


def _shown(source: str) -> str:
    return source if len(source) <= 300 else source[:297] + "..."


class TemplateEngine:
    """Checks, renders and evaluates templates in the sandbox. Thread-safe; share one (``default_engine``)."""

    def __init__(
        self, *, max_output_chars: int = 200_000, max_work: int | None = None, cache_size: int = 1024
    ) -> None:
        self.max_output_chars = max_output_chars
        self.max_work = 20 * max_output_chars if max_work is None else max_work
        """Characters and items one render may build in all (strings, lists, numbers)."""
        self._env = Sandbox(max_output_chars)
        self._template = functools.lru_cache(maxsize=cache_size)(self._compile_template)
        self._expression = functools.lru_cache(maxsize=cache_size)(self._compile_expression)
        self._checked_template = functools.lru_cache(maxsize=cache_size)(self._check_template)
        self._checked_expression = functools.lru_cache(maxsize=cache_size)(self._check_expression)

    @staticmethod
    def is_template(text: str) -> bool:
        return "{{" in text or "{%" in text

    # -- checking (parse + static checks; no code generation, so it is cheap) ---------------------
    def _parse_template(self, source: str) -> nodes.Template:
        tree = self._env.parse(source)
        result = Checker(self._env).visit(tree)
        assert isinstance(result, nodes.Template)
        return result

    def _parse_expression(self, source: str) -> nodes.Template:
        text = strip_expression_braces(source)
        if "{{" in text or "{%" in text:
            raise TemplateSyntaxError("an expression is one {{ ... }} (or none), not a template", 1)
        parser = Parser(self._env, text, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            token = parser.stream.current
            raise TemplateSyntaxError(f"unexpected {token.value!r} after the expression", token.lineno)
        body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
        tree = nodes.Template(body, lineno=1)
        tree.set_environment(self._env)
        result = Checker(self._env).visit(tree)
        assert isinstance(result, nodes.Template)
        return result

    def check_template(self, source: str) -> str | None:
        """None when ``source`` compiles and passes the sandbox's static checks, else the error text."""
        return self._checked_template(source)

    def check_expression(self, source: str) -> str | None:
        """Like ``check_template`` for one expression (with or without ``{{ }}``)."""
        return self._checked_expression(source)

    def _check_template(self, source: str) -> str | None:
        if is_simple(source):
            return None
        try:
            self._parse_template(source)
        except (TemplateError, SecurityError, RecursionError) as exc:
            return _describe(exc)
        return None

    def _check_expression(self, source: str) -> str | None:
        if not strip_expression_braces(source):
            return "empty expression"
        try:
            self._parse_expression(source)
        except (TemplateError, SecurityError, RecursionError) as exc:
            return _describe(exc)
        return None

    # -- compiling (cached) ---------------------------------------------------------------------
    def _compile_template(self, source: str) -> Any:
        return self._env.from_string(self._parse_template(source))

    def _compile_expression(self, source: str) -> Any:
        return self._env.from_string(self._parse_expression(source))

    def _compiled(self, kind: str, source: str) -> Any:
        try:
            if kind == "template":
                return self._template(source)
            return self._expression(source)
        except (TemplateError, SecurityError, RecursionError) as exc:
            raise TemplateRenderError(f"{kind} {_shown(source)!r}: {_describe(exc)}") from None

    # -- running --------------------------------------------------------------------------------
    def _budget(self) -> RenderBudget:
        return RenderBudget(iterations=MAX_ITERATIONS, work=self.max_work, work_limit=self.max_work)

    def render(self, source: str, context: Mapping[str, Any]) -> str:
        """Render ``source`` with ``context``; text without ``{{``/``{%`` is returned as is."""
        if not self.is_template(source):
            return source
        template = self._compiled("template", source)
        token = budget.set(self._budget())
        try:
            parts: list[str] = []
            size = 0
            for piece in template.root_render_func(template.new_context(dict(context))):
                size += len(piece)
                if size > self.max_output_chars:
                    raise SecurityError(f"rendered text is longer than {self.max_output_chars} characters")
                parts.append(piece)
            return "".join(parts)
        except Exception as exc:
            raise TemplateRenderError(f"template {_shown(source)!r} failed: {_describe(exc)}") from None
        finally:
            budget.reset(token)

    def evaluate(self, expression: str, context: Mapping[str, Any]) -> Any:
        """The value of one expression (``input.amount > 0``, or ``{{ input.amount > 0 }}``)."""
        template = self._compiled("expression", expression)
        token = budget.set(self._budget())
        try:
            ctx = template.new_context(dict(context))
            for _ in template.root_render_func(ctx):
                pass
            value = ctx.vars["result"]
            _raise_if_undefined(value)
            return value
        except Exception as exc:
            raise TemplateRenderError(f"expression {_shown(expression)!r} failed: {_describe(exc)}") from None
        finally:
            budget.reset(token)


@functools.cache
def default_engine() -> TemplateEngine:
    """The shared engine (one compiled-template cache for the process)."""
    return TemplateEngine()
