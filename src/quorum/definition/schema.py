"""The YAML parts of a task file: the metadata block and each phase header, checked key by key."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from quorum.definition.fields import (
    NAME_PATTERN,
    NAME_RULE,
    check_bool,
    check_duration,
    check_int,
    check_keys,
    check_mapping,
    check_number,
    check_text,
    check_words,
    json_pointer,
    type_name,
)
from quorum.definition.model import OutputSelector, RetryPolicy
from quorum.definition.report import Report
from quorum.definition.yamlsafe import YamlDoc
from quorum.ids import PhaseName
from quorum.templates import TemplateEngine

__all__ = (
    "IDENTIFIER",
    "NAME_PATTERN",
    "PHASE_KEYS",
    "TASK_KEYS",
    "PhaseHeader",
    "TaskMeta",
    "read_metadata",
    "read_phase_header",
)

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
SEMVER = re.compile(r"[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}(?:-[0-9A-Za-z.-]{1,64})?(?:\+[0-9A-Za-z.-]{1,64})?")

TASK_KEYS = (
    "name", "description", "version", "maxExecutionTime", "retry", "concurrency", "budget",
    "requirements", "output", "tags", "author", "metadata", "cluster",
)  # fmt: skip
PHASE_KEYS = (
    "dependsOn", "parallel", "timeout", "retry", "checkpoint", "when", "optional", "minAgents", "rounds",
    "description",
)  # fmt: skip
RETRY_KEYS = ("maxAttempts", "backoffMs", "maxBackoffMs", "jitter")
CONCURRENCY_KEYS = ("maxConcurrentPhases", "maxConcurrentAgents")
BUDGET_KEYS = ("maxTokens", "maxCost", "maxCalls")
CLUSTER_KEYS = ("spread",)

MAX_ATTEMPTS = 100
MAX_BACKOFF_S = 3600.0
MAX_ROUNDS = 100
MAX_AGENTS = 1000

LineOf = Callable[..., int | None]
PointerOf = Callable[..., str | None]
"""The JSON Pointer of a key path in the metadata block; phase headers are not in it (no pointer)."""


def _no_pointer(*path: str | int) -> None:
    return None


def _line_of(doc: YamlDoc, base_line: int) -> LineOf:
    def line_of(*path: str | int) -> int | None:
        rel = doc.line_of(*path)
        return None if rel is None else base_line + rel - 1

    return line_of


@dataclass(slots=True)
class TaskMeta:
    name: str | None = None
    description: str = ""
    version: str = "0.0.0"
    max_execution_time_s: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrent_phases: int | None = None
    max_concurrent_agents: int | None = None
    budget: dict[str, float] = field(default_factory=dict)
    requirements: Any = None
    requirements_line_of: LineOf | None = None
    output: OutputSelector = field(default_factory=OutputSelector)
    output_line: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def read_retry(
    report: Report,
    value: Any,
    base: RetryPolicy,
    what: str,
    line_of: LineOf,
    *path: str,
    pointer_of: PointerOf = _no_pointer,
) -> RetryPolicy:
    """``{maxAttempts, backoffMs, maxBackoffMs, jitter}``; keys not given keep ``base``'s values."""
    line = line_of(*path)
    mapping = check_mapping(
        report, value, what, line, "{maxAttempts: 3, backoffMs: 500}", pointer=pointer_of(*path)
    )
    if mapping is None:
        return base
    check_keys(
        report,
        mapping,
        RETRY_KEYS,
        what,
        lambda k: line_of(*path, k),
        pointer_of=lambda k: pointer_of(*path, k),
    )
    changes: dict[str, Any] = {}
    if "maxAttempts" in mapping:
        attempts = check_int(
            report,
            mapping["maxAttempts"],
            f"{what}.maxAttempts",
            line_of(*path, "maxAttempts"),
            minimum=1,
            maximum=MAX_ATTEMPTS,
            pointer=pointer_of(*path, "maxAttempts"),
        )
        if attempts is not None:
            changes["max_attempts"] = attempts
    for key, attr in (("backoffMs", "backoff_ms"), ("maxBackoffMs", "max_backoff_ms")):
        if key in mapping:
            seconds = check_duration(
                report,
                mapping[key],
                f"{what}.{key}",
                line_of(*path, key),
                positive=False,
                maximum=MAX_BACKOFF_S,
                pointer=pointer_of(*path, key),
            )
            if seconds is not None:
                changes[attr] = seconds * 1000.0
    if "jitter" in mapping:
        jitter = check_number(
            report,
            mapping["jitter"],
            f"{what}.jitter",
            line_of(*path, "jitter"),
            minimum=0.0,
            maximum=1.0,
            pointer=pointer_of(*path, "jitter"),
        )
        if jitter is not None:
            changes["jitter"] = float(jitter)
    policy = replace(base, **changes)
    if policy.max_backoff_ms < policy.backoff_ms:
        report.error(
            f"{what}: maxBackoffMs ({policy.max_backoff_ms:g}) is smaller than backoffMs "
            f"({policy.backoff_ms:g})",
            line,
            "raise maxBackoffMs or lower backoffMs",
            pointer=pointer_of(*path, "maxBackoffMs"),
        )
    return policy


def read_metadata(report: Report, doc: YamlDoc, base_line: int, engine: TemplateEngine) -> TaskMeta:
    meta = TaskMeta()
    line_of = _line_of(doc, base_line)
    data = doc.value
    if not isinstance(data, dict):
        report.error(
            f"the metadata block must be a YAML mapping, not {type_name(data)}",
            base_line,
            "start it with 'name: my-task'",
            pointer=json_pointer(),
        )
        return meta
    check_keys(report, data, TASK_KEYS, "the task metadata", line_of, pointer_of=json_pointer)
    name = data.get("name")
    if name is None:
        report.error(
            "the task has no name",
            line_of() or base_line,
            "add 'name: my-task' to the metadata block",
            pointer=json_pointer("name") if "name" in data else json_pointer(),
        )
    elif check_text(report, name, "name", line_of("name"), pointer=json_pointer("name")) is not None:
        if NAME_PATTERN.fullmatch(name):
            meta.name = name
        else:
            report.error(
                f"task name {name!r} is not allowed",
                line_of("name"),
                f"use {NAME_RULE}, e.g. investment-committee",
                pointer=json_pointer("name"),
            )
    if "description" in data:
        meta.description = (
            check_text(
                report,
                data["description"],
                "description",
                line_of("description"),
                pointer=json_pointer("description"),
            )
            or ""
        )
    if "version" in data:
        version = data["version"]
        if isinstance(version, str) and SEMVER.fullmatch(version):
            meta.version = version
        else:
            report.error(
                f"version must be a semantic version like 1.0.0, not {type_name(version)}",
                line_of("version"),
                "write version: 1.0.0 (three numbers)",
                pointer=json_pointer("version"),
            )
    if "maxExecutionTime" in data:
        meta.max_execution_time_s = check_duration(
            report,
            data["maxExecutionTime"],
            "maxExecutionTime",
            line_of("maxExecutionTime"),
            pointer=json_pointer("maxExecutionTime"),
        )
    if "retry" in data:
        meta.retry = read_retry(
            report, data["retry"], RetryPolicy(), "retry", line_of, "retry", pointer_of=json_pointer
        )
    if "concurrency" in data:
        _read_concurrency(report, data["concurrency"], meta, line_of)
    if "budget" in data:
        _read_budget(report, data["budget"], meta, line_of)
    if "cluster" in data:
        _read_cluster(report, data["cluster"], meta, line_of)
    if "requirements" in data:
        meta.requirements = data["requirements"]
        meta.requirements_line_of = line_of
    if "output" in data:
        meta.output_line = line_of("output")
        meta.output = _read_output(report, data["output"], line_of, engine)
    for key in ("tags", "author", "metadata"):
        if key in data:
            meta.metadata[key] = data[key]
    if "tags" in data:
        check_words(
            report,
            data["tags"],
            "tags",
            line_of("tags"),
            "[committee, equities]",
            pointer=json_pointer("tags"),
        )
    if "metadata" in data:
        check_mapping(
            report,
            data["metadata"],
            "metadata",
            line_of("metadata"),
            "{owner: research}",
            pointer=json_pointer("metadata"),
        )
    return meta


def _read_concurrency(report: Report, value: Any, meta: TaskMeta, line_of: LineOf) -> None:
    mapping = check_mapping(
        report,
        value,
        "concurrency",
        line_of("concurrency"),
        "{maxConcurrentPhases: 4}",
        pointer=json_pointer("concurrency"),
    )
    if mapping is None:
        return
    check_keys(
        report,
        mapping,
        CONCURRENCY_KEYS,
        "concurrency",
        lambda k: line_of("concurrency", k),
        pointer_of=lambda k: json_pointer("concurrency", k),
    )
    if "maxConcurrentPhases" in mapping:
        meta.max_concurrent_phases = check_int(
            report,
            mapping["maxConcurrentPhases"],
            "concurrency.maxConcurrentPhases",
            line_of("concurrency", "maxConcurrentPhases"),
            minimum=1,
            maximum=1000,
            pointer=json_pointer("concurrency", "maxConcurrentPhases"),
        )
    if "maxConcurrentAgents" in mapping:
        meta.max_concurrent_agents = check_int(
            report,
            mapping["maxConcurrentAgents"],
            "concurrency.maxConcurrentAgents",
            line_of("concurrency", "maxConcurrentAgents"),
            minimum=1,
            maximum=10_000,
            pointer=json_pointer("concurrency", "maxConcurrentAgents"),
        )


def _read_cluster(report: Report, value: Any, meta: TaskMeta, line_of: LineOf) -> None:
    """``cluster: {spread: [Analysis]}`` (or ``spread: parallel``): on a Ray cluster, the agent calls of
    those phases go to every node (docs/distributed.md); kept in the task's metadata. That the names are
    phases of the task is checked when it starts on a cluster."""
    mapping = check_mapping(
        report, value, "cluster", line_of("cluster"), "{spread: [Analysis]}", pointer=json_pointer("cluster")
    )
    if mapping is None:
        return
    check_keys(
        report,
        mapping,
        CLUSTER_KEYS,
        "cluster",
        lambda k: line_of("cluster", k),
        pointer_of=lambda k: json_pointer("cluster", k),
    )
    if "spread" not in mapping:
        return
    spread = mapping["spread"]
    if spread == "parallel":
        meta.metadata["cluster"] = {"spread": "parallel"}
    elif (
        isinstance(spread, list)
        and spread
        and all(isinstance(name, str) and name.strip() and len(name) <= 200 for name in spread)
    ):
        meta.metadata["cluster"] = {"spread": [name.strip() for name in spread]}
    else:
        report.error(
            f"cluster.spread must be a list of phase names or 'parallel', not {type_name(spread)}",
            line_of("cluster", "spread"),
            "e.g. spread: [Analysis] (those phases), or spread: parallel (every parallel phase)",
            pointer=json_pointer("cluster", "spread"),
        )


def _read_budget(report: Report, value: Any, meta: TaskMeta, line_of: LineOf) -> None:
    mapping = check_mapping(
        report,
        value,
        "budget",
        line_of("budget"),
        "{maxTokens: 200000, maxCost: 2.5}",
        pointer=json_pointer("budget"),
    )
    if mapping is None:
        return
    check_keys(
        report,
        mapping,
        BUDGET_KEYS,
        "budget",
        lambda k: line_of("budget", k),
        pointer_of=lambda k: json_pointer("budget", k),
    )
    limits = {"maxTokens": 10**12, "maxCalls": 10**7}
    for key, maximum in limits.items():
        if key in mapping:
            count = check_int(
                report,
                mapping[key],
                f"budget.{key}",
                line_of("budget", key),
                minimum=1,
                maximum=maximum,
                pointer=json_pointer("budget", key),
            )
            if count is not None:
                meta.budget[key] = count
    if "maxCost" in mapping:
        cost = check_number(
            report,
            mapping["maxCost"],
            "budget.maxCost",
            line_of("budget", "maxCost"),
            minimum=0.0,
            maximum=1e9,
            exclusive_minimum=True,
            pointer=json_pointer("budget", "maxCost"),
        )
        if cost is not None:
            meta.budget["maxCost"] = cost


def _read_output(report: Report, value: Any, line_of: LineOf, engine: TemplateEngine) -> OutputSelector:
    if isinstance(value, str) and value.strip():
        return OutputSelector(phase=PhaseName(value.strip()))
    if isinstance(value, dict) and value:
        fields: dict[str, str] = {}
        for key, expression in value.items():
            line = line_of("output", key)
            if not IDENTIFIER.fullmatch(key):
                report.error(
                    f"output field {key!r} is not an identifier",
                    line,
                    "use letters, digits and '_'",
                    pointer=json_pointer("output", key),
                )
                continue
            if not isinstance(expression, str):
                report.error(
                    f"output.{key} must be an expression (text), not {type_name(expression)}",
                    line,
                    "e.g. decision: phases.Verdict.outputs.decision",
                    pointer=json_pointer("output", key),
                )
                continue
            problem = engine.check_expression(expression)
            if problem:
                report.error(
                    f"output.{key}: the expression does not compile: {problem}",
                    line,
                    pointer=json_pointer("output", key),
                )
                continue
            fields[key] = expression
        return OutputSelector(fields=fields)
    report.error(
        f"output must be a phase name or a mapping of name: expression, not {type_name(value)}",
        line_of("output"),
        "e.g. output: Verdict, or output: {decision: phases.Verdict.outputs.decision}",
        pointer=json_pointer("output"),
    )
    return OutputSelector()


@dataclass(slots=True)
class PhaseHeader:
    depends_on: list[tuple[str, int | None]] = field(default_factory=list)
    parallel: bool = False
    timeout_s: float | None = None
    retry: RetryPolicy | None = None
    checkpoint: bool = False
    when: str | None = None
    optional: bool = False
    min_agents: int | None = None
    rounds: int = 1
    description: str = ""


def read_phase_header(
    report: Report,
    doc: YamlDoc,
    base_line: int,
    phase: str,
    heading_line: int,
    engine: TemplateEngine,
    task_retry: RetryPolicy,
) -> PhaseHeader:
    header = PhaseHeader()
    data = doc.value
    if data is None:
        return header
    line_of = _line_of(doc, base_line)
    what = f"phase {phase!r}"
    if not isinstance(data, dict):
        report.error(
            f"the header of {what} must be 'key: value' lines, not {type_name(data)}",
            line_of() or heading_line,
            "put prose under a '### <heading>' of its own",
        )
        return header
    check_keys(report, data, PHASE_KEYS, f"the header of {what}", line_of)
    if "dependsOn" in data:
        deps = data["dependsOn"]
        items = deps if isinstance(deps, list) else [deps]
        for index, dep in enumerate(items):
            line = line_of("dependsOn", index) if isinstance(deps, list) else line_of("dependsOn")
            if isinstance(dep, str) and dep.strip():
                header.depends_on.append((dep.strip(), line))
            else:
                report.error(
                    f"{what}: dependsOn entries must be phase names, not {type_name(dep)}",
                    line,
                    "e.g. dependsOn: [Activation, Analysis]",
                )
    for key in ("parallel", "checkpoint", "optional"):
        if key in data:
            flag = check_bool(report, data[key], f"{what}: {key}", line_of(key))
            if flag is not None:
                setattr(header, key, flag)
    if "timeout" in data:
        header.timeout_s = check_duration(report, data["timeout"], f"{what}: timeout", line_of("timeout"))
    if "retry" in data:
        header.retry = read_retry(report, data["retry"], task_retry, f"{what}: retry", line_of, "retry")
    if "when" in data:
        header.when = _read_condition(report, data["when"], f"{what}: when", line_of("when"), engine)
    if "minAgents" in data:
        header.min_agents = check_int(
            report,
            data["minAgents"],
            f"{what}: minAgents",
            line_of("minAgents"),
            minimum=1,
            maximum=MAX_AGENTS,
        )
    if "rounds" in data:
        rounds = check_int(
            report, data["rounds"], f"{what}: rounds", line_of("rounds"), minimum=1, maximum=MAX_ROUNDS
        )
        header.rounds = rounds or 1
    if "description" in data:
        header.description = (
            check_text(report, data["description"], f"{what}: description", line_of("description")) or ""
        )
    return header


def _read_condition(
    report: Report, value: Any, what: str, line: int | None, engine: TemplateEngine
) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str) or not value.strip():
        report.error(
            f"{what} must be a condition (an expression), not {type_name(value)}",
            line,
            "e.g. when: input.amount > 1000",
        )
        return None
    problem = engine.check_expression(value)
    if problem:
        report.error(
            f"{what}: the condition does not compile: {problem}",
            line,
            "write one expression, e.g. input.amount > 1000 or {{ phases.A.outputs.ok }}",
        )
        return None
    return value.strip()
