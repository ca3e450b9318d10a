"""The three list sections of a phase: ``### Steps``, ``### Agents`` and ``### Outputs``.

A step bullet is *typed* when its text starts with ``<type>:`` followed by whitespace (or nothing),
``<type>`` matching ``[a-z][a-z0-9_-]*``; ``prompt:`` forces a prompt; anything else is a prompt.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection
from typing import Any

from quorum.definition.composition import ALLOCATE_STEP, TASK_STEP, call_parameters, parse_task_call
from quorum.definition.durations import DurationError, parse_time_string
from quorum.definition.lookalike import suspicious_characters
from quorum.definition.markdown import Item
from quorum.definition.model import BUILTIN_STEP_KINDS, OutputSpec, Step, StepKind, frozen_mapping
from quorum.definition.report import Report
from quorum.definition.schema import IDENTIFIER, NAME_PATTERN
from quorum.definition.suggest import TYPO_CUTOFF, did_you_mean, suggest
from quorum.definition.yamlsafe import YamlProblem, load_yaml
from quorum.ids import AgentId
from quorum.templates import TemplateEngine

__all__ = (
    "BUILTIN_AGGREGATORS",
    "OUTPUT_TYPES",
    "StepContext",
    "parse_agents",
    "parse_outputs",
    "parse_step",
)

BUILTIN_AGGREGATORS = ("consensus", "vote", "average", "merge", "collect")
OUTPUT_TYPES = ("string", "number", "integer", "boolean", "list", "object")
_TYPED = re.compile(r"([a-z][a-z0-9_-]*):(?=\s|$)")
_OUTPUT = re.compile(r"([^\s():]+)\s*(?:\(\s*([^)]*?)\s*\))?\s*(?::\s*(.*))?", re.DOTALL)
_AGENT = re.compile(r"(\S+)(?:\s+-\s+(.*))?", re.DOTALL)
_KEY_VALUE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)=(.*)", re.DOTALL)
_MAX_PARAMETERS = 50


class StepContext:
    """What step parsing needs to know about its surroundings."""

    __slots__ = ("agent_ids", "engine", "phase", "report", "step_types")

    def __init__(
        self,
        *,
        report: Report,
        engine: TemplateEngine,
        phase: str,
        step_types: Collection[str],
        agent_ids: Collection[str] | None,
    ) -> None:
        self.report = report
        self.engine = engine
        self.phase = phase
        self.step_types = step_types
        self.agent_ids = agent_ids

    def check_template(self, text: str, what: str, line: int) -> None:
        if self.engine.is_template(text):
            problem = self.engine.check_template(text)
            if problem:
                self.report.error(f"phase {self.phase!r}: {what}: template error: {problem}", line)

    def check_agent(self, agent: str, line: int) -> bool:
        """Reports a malformed or unknown agent id. True when the id is well-formed, even if unknown:
        the rest of the phase is still checked then, so that one run of the linter shows every problem
        (the task is not built while any error stands)."""
        if not NAME_PATTERN.fullmatch(agent):
            odd = suspicious_characters(agent)
            self.report.error(
                f"phase {self.phase!r}: {agent!r} is not an agent id{f' (it {odd})' if odd else ''}",
                line,
                "agent ids use lowercase letters, digits, '.', '_' and '-'",
            )
            return False
        if self.agent_ids is not None and agent not in self.agent_ids:
            self.report.error(
                f"phase {self.phase!r}: unknown agent {agent!r}{did_you_mean(agent, self.agent_ids)}",
                line,
                "define it in an agents directory, or fix the id",
            )
        return True


def split_outside(text: str, separator: str = " - ") -> tuple[str, str | None]:
    """Split at the first ``separator`` that is not inside brackets, parentheses, braces or quotes."""
    depth = 0
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif depth == 0 and text.startswith(separator, i):
            return text[:i], text[i + len(separator) :]
        i += 1
    return text, None


def _parameters(tokens: list[str]) -> dict[str, Any] | None:
    """``key=value`` tokens with YAML-scalar values, or None when some token is not ``key=value``."""
    params: dict[str, Any] = {}
    for token in tokens[:_MAX_PARAMETERS]:
        match = _KEY_VALUE.fullmatch(token)
        if match is None:
            return None
        key, raw = match.group(1), match.group(2)
        try:
            value = load_yaml(raw, max_depth=3, max_nodes=100).value if raw else ""
        except YamlProblem:
            value = raw
        params[key] = raw if isinstance(value, dict) else value
    return params if len(tokens) <= _MAX_PARAMETERS else None


def _near_builtin(kind: str) -> str | None:
    """The built-in step type that ``kind`` misspells, if any (then it is an error, not a custom type)."""
    return suggest(kind, sorted(BUILTIN_STEP_KINDS), cutoff=TYPO_CUTOFF)


def parse_step(ctx: StepContext, item: Item, index: int) -> Step | None:
    text = item.text.strip()
    line = item.line
    if not text:
        ctx.report.error(f"phase {ctx.phase!r}: step {index + 1} is empty", line)
        return None
    match = _TYPED.match(text)
    kind = match.group(1) if match else None
    rest = text[match.end() :].strip() if match else text
    base: dict[str, Any] = {"index": index, "raw": item.text, "line": line}
    if kind is None or kind == "prompt":
        if not rest:
            ctx.report.error(f"phase {ctx.phase!r}: empty prompt", line, "write the prompt after 'prompt: '")
            return None
        ctx.check_template(rest, "prompt", line)
        return Step(kind=StepKind.PROMPT, text=rest, **base)
    if kind == "agent":
        agent, query = split_outside(" " + rest)
        agent = agent.strip()
        if query is None or not query.strip():
            ctx.report.error(
                f"phase {ctx.phase!r}: agent step needs a query",
                line,
                "write: agent: <agent-id> - <what to ask>",
            )
            return None
        well_formed = ctx.check_agent(agent, line)
        ctx.check_template(query.strip(), "agent query", line)
        if not well_formed:
            return None
        return Step(kind=StepKind.AGENT, agent=AgentId(agent), text=query.strip(), **base)
    if kind == "validation":
        condition, message = split_outside(" " + rest)  # the space lets "validation: - msg" split
        condition = condition.strip()
        if not condition:
            ctx.report.error(
                f"phase {ctx.phase!r}: validation step has no condition",
                line,
                "write: validation: <condition> - <message>",
            )
            return None
        problem = ctx.engine.check_expression(condition)
        if problem:
            ctx.report.error(
                f"phase {ctx.phase!r}: validation condition does not compile: {problem}",
                line,
                "write one expression, e.g. input.amount > 0",
            )
            return None
        message = (message or "").strip() or f"validation failed: {condition}"
        ctx.check_template(message, "validation message", line)
        return Step(kind=StepKind.VALIDATION, condition=condition, text=message, **base)
    if kind == "aggregate":
        return _aggregate(ctx, rest, base)
    if kind == "approval":
        return _approval(ctx, rest, base)
    if kind == TASK_STEP and kind not in ctx.step_types:
        return _task_call(ctx, rest, base)
    if kind == ALLOCATE_STEP and kind not in ctx.step_types:
        return _allocate(ctx, rest, base)
    near = _near_builtin(kind)
    if near is not None and kind not in ctx.step_types:
        ctx.report.error(
            f"phase {ctx.phase!r}: unknown step type {kind!r} (did you mean {near!r}?)",
            line,
            f"built-in types: {', '.join(sorted(BUILTIN_STEP_KINDS))}; write 'prompt: {kind}: ...' "
            "if this is prompt text",
        )
        return None
    if kind not in ctx.step_types:
        close = suggest(kind, ctx.step_types)
        ctx.report.warning(
            f"phase {ctx.phase!r}: step type {kind!r} is not built in; it needs a step strategy registered "
            f"at run time{f' (did you mean {close!r}?)' if close else ''}",
            line,
            "register it with executor.register_step_strategy, or write 'prompt: ...' for a prompt",
        )
    ctx.check_template(rest, f"{kind} step", line)
    try:
        params = _parameters(shlex.split(rest)) or {}
    except ValueError:
        params = {}
    return Step(kind=StepKind.CUSTOM, type=kind, text=rest, parameters=frozen_mapping(params), **base)


def _aggregate(ctx: StepContext, rest: str, base: dict[str, Any]) -> Step | None:
    line = base["line"]
    try:
        tokens = shlex.split(rest)
    except ValueError as exc:
        ctx.report.error(f"phase {ctx.phase!r}: aggregate step: {exc} (unbalanced quotes)", line)
        return None
    if not tokens:
        ctx.report.error(
            f"phase {ctx.phase!r}: aggregate step needs a type",
            line,
            f"write: aggregate: <type> [key=value ...]; types: {', '.join(BUILTIN_AGGREGATORS)}",
        )
        return None
    kind = tokens[0]
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", kind):
        ctx.report.error(
            f"phase {ctx.phase!r}: {kind!r} is not an aggregator name",
            line,
            f"built-in aggregators: {', '.join(BUILTIN_AGGREGATORS)}",
        )
        return None
    if kind not in BUILTIN_AGGREGATORS:
        near = suggest(kind, BUILTIN_AGGREGATORS, cutoff=TYPO_CUTOFF)
        if near is not None:
            ctx.report.error(
                f"phase {ctx.phase!r}: unknown aggregator {kind!r} (did you mean {near!r}?)", line
            )
            return None
        ctx.report.warning(
            f"phase {ctx.phase!r}: aggregator {kind!r} is not built in; it must be registered at run time",
            line,
            f"built-in aggregators: {', '.join(BUILTIN_AGGREGATORS)}",
        )
    params = _parameters(tokens[1:])
    if params is None:
        ctx.report.error(
            f"phase {ctx.phase!r}: aggregate options must be key=value pairs",
            line,
            "e.g. aggregate: consensus weight=confidence min=0.6",
        )
        return None
    return Step(kind=StepKind.AGGREGATE, type=kind, text=rest, parameters=frozen_mapping(params), **base)


def parse_agents(ctx: StepContext, items: list[Item]) -> tuple[tuple[AgentId, ...], tuple[str, ...]]:
    """Static ids, and the expressions of dynamic bullets (``{{ ... }}``, stored without the braces)."""
    static: list[AgentId] = []
    listed: set[str] = set()
    dynamic: list[str] = []
    for item in items:
        if ctx.report.full:
            break
        text = item.text.strip()
        if text.startswith("{{") and text.endswith("}}") and "}}" not in text[2:-2]:
            expression = text[2:-2].strip()
            problem = ctx.engine.check_expression(expression)
            if problem:
                ctx.report.error(
                    f"phase {ctx.phase!r}: agent expression does not compile: {problem}", item.line
                )
            else:
                dynamic.append(expression)
            continue
        match = _AGENT.fullmatch(text)
        agent = match.group(1) if match else text
        if match is None or "\n" in agent:
            ctx.report.error(
                f"phase {ctx.phase!r}: {text!r} is not an agent id",
                item.line,
                "one id per bullet, optionally followed by ' - description', or one {{ expression }}",
            )
            continue
        if agent in listed:
            ctx.report.error(f"phase {ctx.phase!r}: agent {agent!r} is listed twice", item.line)
            continue
        listed.add(agent)
        if ctx.check_agent(agent, item.line):
            static.append(AgentId(agent))
    return tuple(static), tuple(dynamic)


def parse_outputs(ctx: StepContext, items: list[Item]) -> tuple[OutputSpec, ...]:
    out: list[OutputSpec] = []
    seen: set[str] = set()
    for item in items:
        if ctx.report.full:
            break
        text = item.text.strip()
        match = _OUTPUT.fullmatch(text)
        if match is None or not IDENTIFIER.fullmatch(match.group(1)):
            shown = match.group(1) if match else text
            ctx.report.error(
                f"phase {ctx.phase!r}: output name {shown!r} is not an identifier",
                item.line,
                "write: - name (type): description, with a name of letters, digits and '_'",
            )
            continue
        name, kind, description = match.group(1), match.group(2), (match.group(3) or "").strip()
        if kind is not None and kind not in OUTPUT_TYPES:
            ctx.report.error(
                f"phase {ctx.phase!r}: output {name!r} has unknown type {kind!r}"
                f"{did_you_mean(kind, OUTPUT_TYPES)}",
                item.line,
                f"types: {', '.join(OUTPUT_TYPES)}",
            )
            continue
        if name in seen:
            ctx.report.error(f"phase {ctx.phase!r}: output {name!r} is declared twice", item.line)
            continue
        seen.add(name)
        out.append(OutputSpec(name=name, description=description, type=kind or None, line=item.line))
    return tuple(out)


_APPROVAL_OPTIONS = ("timeout", "default", "approvers", "options")
_APPROVAL_FORM = ("write: approval: <question> [timeout=2d] [default=approve|reject] [approvers=N] "
                  "[options=a|b|c]")
_TRAILING_OPTION = re.compile(r"\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)$")


def _approval(ctx: StepContext, rest: str, base: dict[str, Any]) -> Step | None:
    """``approval: <question> [timeout=..] [default=..] [approvers=N] [options=a|b|c]``: the options
    are the ``key=value`` words at the end; everything before them is the question (a template)."""
    line = base["line"]
    question, given = " " + rest, {}
    while (match := _TRAILING_OPTION.search(question)) is not None:
        key, value = match.group(1), match.group(2)
        if key not in _APPROVAL_OPTIONS:
            hint = did_you_mean(key, _APPROVAL_OPTIONS)
            ctx.report.error(f"phase {ctx.phase!r}: unknown approval option {key!r}{hint}", line,
                             _APPROVAL_FORM)
            return None
        if key in given:
            ctx.report.error(f"phase {ctx.phase!r}: approval option {key!r} given twice", line,
                             _APPROVAL_FORM)
            return None
        given[key] = value
        question = question[: match.start()]
    question = question.strip()
    if not question:
        ctx.report.error(f"phase {ctx.phase!r}: approval step needs a question", line, _APPROVAL_FORM)
        return None
    ctx.check_template(question, "approval question", line)
    params: dict[str, Any] = {"timeout_s": None, "approvers": 1, "options": ()}
    options = tuple(o.strip() for o in given.get("options", "").split("|") if o.strip())
    if "options" in given and (len(options) < 2 or len(set(options)) != len(options)):
        ctx.report.error(f"phase {ctx.phase!r}: approval options must be two or more different choices", line,
                         "e.g. options=buy|hold|sell")
        return None
    params["options"] = options
    if "timeout" in given:
        try:
            params["timeout_s"] = parse_time_string(given["timeout"])
        except DurationError as exc:
            ctx.report.error(f"phase {ctx.phase!r}: approval timeout: {exc}", line)
            return None
    if "approvers" in given:
        raw = given["approvers"]
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            ctx.report.error(f"phase {ctx.phase!r}: approvers={raw} must be a whole number from 1 to 100",
                             line, "e.g. approvers=2 (the gate closes at 2 approvals)")
            return None
        params["approvers"] = int(raw)
    choices = options or ("approve", "reject")
    default = given.get("default", "reject" if not options else None)
    if default is not None and default not in choices:
        ctx.report.error(f"phase {ctx.phase!r}: default={default} is not a choice of this approval", line,
                         f"choose one of {', '.join(choices)}")
        return None
    if default is None and params["timeout_s"] is not None:
        ctx.report.error(f"phase {ctx.phase!r}: an approval with options and a timeout needs a default", line,
                         f"add default=<one of {', '.join(choices)}>: it is applied when the deadline passes")
        return None
    params["default"] = default
    return Step(kind=StepKind.APPROVAL, text=question, parameters=frozen_mapping(params), **base)


def _allocate(ctx: StepContext, rest: str, base: dict[str, Any]) -> Step | None:
    """``allocate: from=<expression> budget=<expression> [maxWeight=<fraction or expression>]`` (the engine's
    :mod:`quorum.engine.allocation`: a budget split over child executions' verdicts)."""
    line = base["line"]
    hint = "write allocate: from=<list of children> budget=<amount> [maxWeight=0.4]"
    try:
        params = _parameters(shlex.split(rest))
    except ValueError as exc:
        ctx.report.error(f"phase {ctx.phase!r}: allocate step: {exc}", line, hint)
        return None
    if params is None or not params.get("from") or not params.get("budget"):
        ctx.report.error(f"phase {ctx.phase!r}: allocate step needs from=... and budget=...", line, hint)
        return None
    unknown = sorted(set(params) - {"from", "budget", "maxWeight"})
    if unknown:
        ctx.report.error(f"phase {ctx.phase!r}: allocate step: unknown option {', '.join(unknown)}",
                         line, hint)
        return None
    weight = params.get("maxWeight", 1.0)
    for key in ("from", "budget", "maxWeight"):
        if key in params and isinstance(params[key], str):
            problem = ctx.engine.check_expression(params[key])
            if problem:
                ctx.report.error(f"phase {ctx.phase!r}: allocate {key}= does not compile: {problem}",
                                 line, hint)
                return None
    if not isinstance(weight, str) and (isinstance(weight, bool) or not isinstance(weight, int | float)
                                        or not 0 < weight <= 1):
        ctx.report.error(
            f"phase {ctx.phase!r}: allocate maxWeight must be a fraction in (0, 1], not {weight!r}",
            line, hint)
        return None
    return Step(kind=StepKind.CUSTOM, type=ALLOCATE_STEP, text=rest, parameters=frozen_mapping(params),
                **base)


def _task_call(ctx: StepContext, rest: str, base: dict[str, Any]) -> Step | None:
    """``task: <name>[@version] input.<field>=<template> ... [foreach=<expression>]`` (composition)."""
    line = base["line"]
    try:
        call = parse_task_call(rest)
    except ValueError as exc:
        ctx.report.error(f"phase {ctx.phase!r}: task step {exc}", line,
                         "write task: <name>[@version] input.<field>=<template> ... "
                         "[foreach=<list expression>]")
        return None
    for field, template in call.input.items():
        ctx.check_template(template, f"task step input.{field}", line)
    if call.foreach is not None:
        problem = ctx.engine.check_expression(call.foreach)
        if problem:
            ctx.report.error(f"phase {ctx.phase!r}: task step foreach does not compile: {problem}", line,
                             "write one expression giving a list, e.g. foreach=input.tickers")
            return None
    return Step(kind=StepKind.CUSTOM, type=TASK_STEP, text=rest,
                parameters=frozen_mapping(call_parameters(call)), **base)
