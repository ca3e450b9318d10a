"""The metadata block of a task file as a pydantic model: the source of its published JSON Schema.

``schema.py`` stays the checker that reports problems with file:line (it knows the YAML's lines; a
model does not). This model states the same rules so that a schema can be generated from them, and
``tests/definition/test_h9_metadata_schema.py`` feeds both many blocks to keep them agreeing.

Rules a JSON Schema cannot state (a duration's total, ``maxBackoffMs`` >= ``backoffMs``, an output
expression that compiles, a requirement's default that fits its type) are checked here by validators
that reuse the checker's own parts (``parse_time_string``, the template engine, ``coerce_value``); the
schema carries the form of those values and says in its descriptions what it leaves to quorum.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from quorum.definition.durations import MAX_SECONDS, UNITS, parse_time_string
from quorum.definition.fields import NAME_PATTERN
from quorum.definition.model import Requirement, RequirementType, RetryPolicy
from quorum.definition.requirements import coerce_value, enum_type, fits
from quorum.definition.schema import IDENTIFIER, MAX_ATTEMPTS, MAX_BACKOFF_S, SEMVER
from quorum.templates import TemplateEngine, default_engine

__all__ = ("DURATION_PATTERN", "RequirementSpec", "RetryModel", "TaskMetadata")

# the checker's patterns, anchored: pydantic and JSON Schema search, Python's fullmatch matches whole
NAME_REGEX = f"^{NAME_PATTERN.pattern}$"
IDENTIFIER_REGEX = f"^{IDENTIFIER.pattern}$"
SEMVER_REGEX = f"^{SEMVER.pattern}$"

_NUMBER = r"(?:[0-9]{1,15}(?:\.[0-9]{1,15})?|\.[0-9]{1,15})"
# ECMA-262 regular expressions (JSON Schema's) have no case-insensitive flag: each unit is spelled
# letter by letter ([mM][sS]), longest first, and must not run on into more letters.
_UNIT = "(?:{})(?![A-Za-z])".format(
    "|".join(
        "".join(f"[{c.lower()}{c.upper()}]" for c in unit) for unit in sorted(UNITS, key=lambda u: -len(u))
    )
)
DURATION_PATTERN = rf"^\s*(?:{_NUMBER}|(?:\s*{_NUMBER}\s*{_UNIT}\s*(?:,|and\b)?)+)\s*$"
"""The form of a time string (``500``, ``30s``, ``1h30m``, ``2 days and 3 hours``) as an ECMA-262 regex."""


def _whole(value: Any) -> Any:
    """YAML reads ``3.0`` as a float; the checker takes it as the whole number 3 (JSON Schema does too)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WHOLE = BeforeValidator(_whole)
"""After the range (``Annotated[int, Field(ge=1), WHOLE]``): a range after a validator would not reach
the JSON Schema."""
Number = Annotated[float, Field(allow_inf_nan=False)]
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_REGEX)]


_DURATION = (
    ": a number of milliseconds or a time string (500ms, 30s, 5 minutes, 1h30m, 1.5 hours, 2 days), "
    "each unit once."
)


def _duration_check(*, positive: bool, maximum_s: float) -> AfterValidator:
    def check(value: str | int | float) -> str | int | float:
        seconds = parse_time_string(value)  # a DurationError is a ValueError: pydantic reports it
        if positive and seconds <= 0:
            raise ValueError("must be longer than zero")
        if seconds > maximum_s:
            raise ValueError(f"is absurdly long (at most {maximum_s:g} seconds)")
        return value

    return AfterValidator(check)


def _duration_schema(*, positive: bool, maximum_s: float) -> WithJsonSchema:
    minimum = {"exclusiveMinimum": 0} if positive else {"minimum": 0}
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "number", **minimum, "maximum": maximum_s * 1000},
            ],
        }
    )


TaskDuration = Annotated[
    str | int | float,
    _duration_schema(positive=True, maximum_s=MAX_SECONDS),
    _duration_check(positive=True, maximum_s=MAX_SECONDS),
]
BackoffDuration = Annotated[
    str | int | float,
    _duration_schema(positive=False, maximum_s=MAX_BACKOFF_S),
    _duration_check(positive=False, maximum_s=MAX_BACKOFF_S),
]


class _Block(BaseModel):
    """Strict (``"3"`` is not 3, ``yes`` is not 1) and closed (an unknown key is an error).

    Keys left out are ``None`` inside; a key given as null is refused, like the checker does, so the
    optional fields hide their ``None`` from the schema (``SkipJsonSchema``).
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    nullable_keys: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nullable = cls.nullable_keys
            for key, value in data.items():
                if value is None and key not in nullable:
                    raise ValueError(f"{key} must not be null")
        return data


class RetryModel(_Block):
    """The retry policy; keys left out keep the defaults (1 attempt, 1000 ms, 30000 ms, jitter 0.1)."""

    max_attempts: Annotated[int, Field(ge=1, le=MAX_ATTEMPTS), WHOLE] | SkipJsonSchema[None] = Field(
        None, alias="maxAttempts", description='Attempts, not retries: 1 means "no retry".'
    )
    backoff_ms: BackoffDuration | SkipJsonSchema[None] = Field(
        None, alias="backoffMs", description="The delay before the first retry, 0 to 1 hour" + _DURATION
    )
    max_backoff_ms: BackoffDuration | SkipJsonSchema[None] = Field(
        None,
        alias="maxBackoffMs",
        description="The cap of the delay, 0 to 1 hour, not smaller than backoffMs (checked by quorum)"
        + _DURATION,
    )
    jitter: Annotated[Number, Field(ge=0.0, le=1.0)] | SkipJsonSchema[None] = Field(
        None, description="Each delay moves up or down by at most this share (0 to 1)."
    )

    @model_validator(mode="after")
    def _cap_not_below_start(self) -> RetryModel:
        defaults = RetryPolicy()
        start = _ms(self.backoff_ms, defaults.backoff_ms)
        cap = _ms(self.max_backoff_ms, defaults.max_backoff_ms)
        if cap < start:
            raise ValueError(f"maxBackoffMs ({cap:g}) is smaller than backoffMs ({start:g})")
        return self


def _ms(value: str | int | float | None, default: float) -> float:
    return default if value is None else parse_time_string(value) * 1000.0


class ConcurrencyModel(_Block):
    max_concurrent_phases: Annotated[int, Field(ge=1, le=1000), WHOLE] | SkipJsonSchema[None] = Field(
        None, alias="maxConcurrentPhases", description="Phases running at once."
    )
    max_concurrent_agents: Annotated[int, Field(ge=1, le=10_000), WHOLE] | SkipJsonSchema[None] = Field(
        None, alias="maxConcurrentAgents", description="Agent calls running at once."
    )


class BudgetModel(_Block):
    max_tokens: Annotated[int, Field(ge=1, le=10**12), WHOLE] | SkipJsonSchema[None] = Field(
        None, alias="maxTokens", description="Tokens per execution, all agent calls together."
    )
    max_cost: Annotated[Number, Field(gt=0.0, le=1e9)] | SkipJsonSchema[None] = Field(
        None, alias="maxCost", description="Cost per execution, in the providers' currency (USD)."
    )
    max_calls: Annotated[int, Field(ge=1, le=10**7), WHOLE] | SkipJsonSchema[None] = Field(
        None, alias="maxCalls", description="Agent calls per execution."
    )


PhaseRef = Annotated[str, StringConstraints(pattern=r"\S", max_length=200)]


class ClusterModel(_Block):
    spread: (
        Annotated[Literal["parallel"], WithJsonSchema({"type": "string", "enum": ["parallel"]})]
        | Annotated[list[PhaseRef], Field(min_length=1)]
        | SkipJsonSchema[None]
    ) = Field(
        None,
        union_mode="left_to_right",
        description=(
            "On a Ray cluster, the phases whose agent calls go to every node: their names, or 'parallel' "
            "for every parallel phase (docs/distributed.md). Ignored by a run in one process."
        ),
    )


EnumValue = Annotated[bool | int | float | str, Field(union_mode="left_to_right")]
TypeName = Literal["string", "number", "integer", "boolean", "list", "object"]


def _enum_problem(values: list[Any], kind: str | None) -> str | None:
    """Why these allowed values cannot be used (``kind`` None: inferred from them), or None."""
    if not values:
        return "the allowed values must be a non-empty list"
    if len(set(map(repr, values))) != len(values):
        return "the allowed values must be distinct plain values"
    resolved = kind or enum_type(values)
    if resolved is None:
        return "the allowed values mix types"
    wrong = [v for v in values if not fits(resolved, v)]
    return f"the allowed values must all be of type {resolved}" if wrong else None


def _check_enum_list(values: list[Any]) -> list[Any]:
    problem = _enum_problem(values, None)
    if problem:
        raise ValueError(problem)
    return values


EnumList = Annotated[list[EnumValue], Field(min_length=1), AfterValidator(_check_enum_list)]


class RequirementSpec(_Block):
    """The mapping form of one input field."""

    nullable_keys: ClassVar[frozenset[str]] = frozenset({"type", "description", "pattern"})

    kind: TypeName | None = Field(
        None, alias="type", description="string when left out (or inferred from enum)."
    )
    required: bool | SkipJsonSchema[None] = Field(None, description="true unless a default is given.")
    default: Any = Field(None, description="Must itself satisfy the field's type and rules.")
    description: str | None = None
    minimum: Number | SkipJsonSchema[None] = Field(
        None, alias="min", description="The value of number/integer fields, the length of string/list ones."
    )
    maximum: Number | SkipJsonSchema[None] = Field(None, alias="max", description="See min.")
    pattern: str | None = Field(
        None, description="A Python regular expression the whole text must match (type string only)."
    )
    enum: Annotated[list[EnumValue], Field(min_length=1)] | SkipJsonSchema[None] = Field(
        None, description="The allowed values (distinct, of one type)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> RequirementSpec:
        kind = self.kind
        if self.enum is not None:
            problem = _enum_problem(self.enum, kind)
            if problem:
                raise ValueError(problem)
        resolved: RequirementType = kind or (enum_type(self.enum) if self.enum else None) or "string"
        bounds = (self.minimum, self.maximum)
        if resolved in ("boolean", "object") and any(b is not None for b in bounds):
            raise ValueError(f"min/max do not apply to type {resolved}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("min is greater than max")
        if self.pattern is not None:
            if resolved != "string":
                raise ValueError("pattern applies only to type string")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        if "default" in self.model_fields_set:
            self._check_default(resolved)
        return self

    def _check_default(self, kind: RequirementType) -> None:
        problems: list[str] = []
        field = Requirement(
            name="default",
            type=kind,
            enum=tuple(self.enum) if self.enum else None,
            min=self.minimum,
            max=self.maximum,
            pattern=self.pattern,
        )
        coerce_value(field, self.default, problems)
        if problems:
            raise ValueError(f"the default does not fit: {problems[0]}")


RequirementEntry = Annotated[
    TypeName | EnumList | RequirementSpec,
    Field(
        description="A type, a list of allowed values, or the mapping form",
        union_mode="left_to_right",
    ),
]

Expression = Annotated[str, Field(description="An expression, e.g. phases.Verdict.outputs.decision")]


class TaskMetadata(_Block):
    """The first ```yaml block of a task file, before its first phase."""

    nullable_keys: ClassVar[frozenset[str]] = frozenset({"requirements", "author"})

    model_config = ConfigDict(
        title="quorum task metadata",  # metadata_schema._TITLE keeps this title
        json_schema_extra={
            "description": (
                "The YAML metadata block of a quorum task file (docs/task-format.md, The metadata block)."
            )
        },
    )

    name: str = Field(
        pattern=NAME_REGEX,
        description="The task's name: lowercase letters, digits, '.', '_' and '-' (at most 100 characters).",
    )
    description: Annotated[str, Field(max_length=10_000)] | SkipJsonSchema[None] = Field(
        None, description="One or two sentences."
    )
    version: Annotated[str, Field(pattern=SEMVER_REGEX)] | SkipJsonSchema[None] = Field(
        None, description="A semantic version, MAJOR.MINOR.PATCH[-pre][+build]; 0.0.0 when left out."
    )
    max_execution_time: TaskDuration | SkipJsonSchema[None] = Field(
        None, alias="maxExecutionTime", description="The whole execution's time limit" + _DURATION
    )
    retry: RetryModel | SkipJsonSchema[None] = Field(
        None, description="The retry policy of every phase (a phase may override it)."
    )
    concurrency: ConcurrencyModel | SkipJsonSchema[None] = None
    budget: BudgetModel | SkipJsonSchema[None] = Field(None, description="Limits per execution.")
    requirements: dict[Identifier, RequirementEntry] | None = Field(
        None, description="The input schema: each key is an input field, read by templates as input.<name>."
    )
    output: (
        Annotated[str, StringConstraints(pattern=r"\S")]
        | Annotated[dict[Identifier, Expression], Field(min_length=1)]
        | SkipJsonSchema[None]
    ) = Field(
        None,
        union_mode="left_to_right",
        description="What makes the verdict: a phase name, or a mapping of name: expression.",
    )
    tags: list[str] | SkipJsonSchema[None] = None
    author: Any = None
    metadata: dict[Any, Any] | SkipJsonSchema[None] = Field(
        None, description="Anything else you want to keep."
    )
    cluster: ClusterModel | SkipJsonSchema[None] = Field(
        None, description="How the task runs on a Ray cluster (docs/distributed.md)."
    )

    @field_validator("output")
    @classmethod
    def _expressions_compile(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            return value
        engine = (info.context or {}).get("engine")
        if not isinstance(engine, TemplateEngine):
            engine = default_engine()
        for key, expression in value.items():
            problem = engine.check_expression(expression)
            if problem:
                raise ValueError(f"output.{key}: the expression does not compile: {problem}")
        return value
