"""The task's input schema: reading ``requirements`` from YAML, and checking (and coercing) real inputs.

Input values may come from Python (typed) or from the command line (always text), so text is coerced:
``"10000"`` -> 10000 for numbers, ``"true"``/``"no"`` -> booleans, JSON (or ``a,b,c``) for lists, JSON for
objects. Every problem is listed, each naming the field, the expected type and what was given.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from quorum.definition.fields import json_pointer, type_name
from quorum.definition.model import Requirement, RequirementType, _freeze, thaw
from quorum.definition.report import Report
from quorum.definition.suggest import did_you_mean
from quorum.errors import InputValidationError

__all__ = (
    "MAX_INPUT_CHARS",
    "MAX_INPUT_FIELDS",
    "REQUIREMENT_TYPES",
    "coerce_value",
    "enum_type",
    "fits",
    "read_requirements",
    "validate_input",
)

MAX_INPUT_FIELDS = 200
MAX_INPUT_CHARS = 2_000_000
"""The input of one execution, printed as JSON: it is stored with the execution and read by templates."""

REQUIREMENT_TYPES: tuple[RequirementType, ...] = ("string", "number", "integer", "boolean", "list", "object")
SPEC_KEYS = ("type", "required", "default", "description", "min", "max", "pattern", "enum")
_ALIASES = {
    "str": "string", "text": "string", "int": "integer", "float": "number", "double": "number",
    "bool": "boolean", "array": "list", "dict": "object", "map": "object", "mapping": "object",
}  # fmt: skip
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_TRUE = frozenset({"true", "yes", "on", "1", "y"})
_FALSE = frozenset({"false", "no", "off", "0", "n"})


def enum_type(values: list[Any]) -> RequirementType | None:
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "number"
    if all(isinstance(v, str) for v in values):
        return "string"
    return None


def _type_problem(name: str, given: Any) -> tuple[str, str | None]:
    alias = _ALIASES.get(str(given).lower()) if isinstance(given, str) else None
    hint = (
        f"did you mean {alias!r}?"
        if alias
        else did_you_mean(str(given), REQUIREMENT_TYPES).strip(" ()") or None
    )
    return (
        f"requirement {name!r}: unknown type {type_name(given)}; use one of {', '.join(REQUIREMENT_TYPES)}",
        hint,
    )


def read_requirements(
    report: Report, value: Any, line_of: Callable[..., int | None]
) -> tuple[Requirement, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        report.error(
            f"requirements must be a mapping of field: type, not {type_name(value)}",
            line_of("requirements"),
            "e.g. requirements: {ticker: string, amount: number}",
            pointer=json_pointer("requirements"),
        )
        return ()
    out: list[Requirement] = []
    for name, spec in value.items():
        line = line_of("requirements", name)
        if not _FIELD.fullmatch(name):
            report.error(
                f"requirement name {name!r} is not an identifier",
                line,
                "use letters, digits and '_' (templates read it as input.<name>)",
                pointer=json_pointer("requirements", name),
            )
            continue
        req = _read_one(
            report,
            name,
            spec,
            line,
            lambda *p, n=name: line_of("requirements", n, *p),
            lambda *p, n=name: json_pointer("requirements", n, *p),
        )
        if req is not None:
            out.append(req)
    return tuple(out)


def _read_one(
    report: Report,
    name: str,
    spec: Any,
    line: int | None,
    line_of: Callable[..., int | None],
    at: Callable[..., str],
) -> Requirement | None:
    """One field's spec; ``line_of(key)`` and ``at(key)`` place a key of its mapping form (line, JSON
    Pointer), ``at()`` the field itself."""
    if isinstance(spec, str):
        if spec not in REQUIREMENT_TYPES:
            message, hint = _type_problem(name, spec)
            report.error(message, line, hint, pointer=at())
            return None
        return Requirement(name=name, type=spec, line=line)
    if isinstance(spec, list):
        # the list form is the enum itself: its problems are at the field's line and pointer
        spec = {"enum": spec}
        field_at = at()
        line_of, at = (lambda *p: line), (lambda *p: field_at)
    if not isinstance(spec, dict):
        report.error(
            f"requirement {name!r} must be a type, a list of allowed values or a mapping, not "
            f"{type_name(spec)}",
            line,
            "e.g. ticker: string, or risk: [low, medium, high]",
            pointer=at(),
        )
        return None
    ok = True
    for key in spec:
        if key not in SPEC_KEYS:
            report.error(
                f"requirement {name!r}: unknown key {key!r}{did_you_mean(key, SPEC_KEYS)}",
                line_of(key),
                "known keys: " + ", ".join(SPEC_KEYS),
                pointer=at(key),
            )
            ok = False
    enum: tuple[Any, ...] | None = None
    kind: Any = spec.get("type")
    if "enum" in spec:
        values = spec["enum"]
        if not isinstance(values, list) or not values:
            report.error(
                f"requirement {name!r}: the allowed values must be a non-empty list",
                line_of("enum"),
                pointer=at("enum"),
            )
            return None
        if any(isinstance(v, dict | list) or v is None for v in values) or len(set(map(repr, values))) != len(
            values
        ):
            report.error(
                f"requirement {name!r}: the allowed values must be distinct plain values",
                line_of("enum"),
                pointer=at("enum"),
            )
            return None
        enum = tuple(values)
        inferred = enum_type(values)
        if kind is None:
            kind = inferred
            if kind is None:
                report.error(
                    f"requirement {name!r}: the allowed values mix types",
                    line_of("enum"),
                    "quote them all to make them text",
                    pointer=at("enum"),
                )
                return None
    kind = "string" if kind is None else kind
    if kind not in REQUIREMENT_TYPES:
        message, hint = _type_problem(name, kind)
        report.error(message, line_of("type"), hint, pointer=at("type"))
        return None
    required = spec.get("required", "default" not in spec)
    if not isinstance(required, bool):
        report.error(
            f"requirement {name!r}: required must be true or false, not {type_name(required)}",
            line_of("required"),
            pointer=at("required"),
        )
        ok = False
    description = spec.get("description")
    if description is not None and not isinstance(description, str):
        report.error(
            f"requirement {name!r}: description must be text",
            line_of("description"),
            pointer=at("description"),
        )
        ok = False
    bounds: dict[str, float | None] = {"min": None, "max": None}
    for key in bounds:
        if key in spec:
            bound = spec[key]
            if isinstance(bound, bool) or not isinstance(bound, int | float) or not math.isfinite(bound):
                report.error(
                    f"requirement {name!r}: {key} must be a number, not {type_name(bound)}",
                    line_of(key),
                    pointer=at(key),
                )
                ok = False
            elif kind in ("boolean", "object"):
                report.error(
                    f"requirement {name!r}: {key} does not apply to type {kind}",
                    line_of(key),
                    "min/max bound numbers, and the length of text and lists",
                    pointer=at(key),
                )
                ok = False
            else:
                bounds[key] = bound
    if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
        report.error(
            f"requirement {name!r}: min ({bounds['min']:g}) is greater than max ({bounds['max']:g})",
            line_of("min"),
            pointer=at("min"),
        )
        ok = False
    pattern = spec.get("pattern")
    if pattern is not None:
        if kind != "string" or not isinstance(pattern, str):
            report.error(
                f"requirement {name!r}: pattern must be text and applies only to type string",
                line_of("pattern"),
                pointer=at("pattern"),
            )
            ok = False
        else:
            try:
                re.compile(pattern)
            except re.error as exc:
                report.error(
                    f"requirement {name!r}: pattern does not compile: {exc}",
                    line_of("pattern"),
                    pointer=at("pattern"),
                )
                ok = False
    if not ok:
        return None
    req = Requirement(
        name=name,
        type=kind,
        required=required,
        default=None,
        description=description,
        enum=enum,
        min=bounds["min"],
        max=bounds["max"],
        pattern=pattern,
        line=line,
    )
    if enum is not None:
        wrong = [v for v in enum if not fits(kind, v)]
        if wrong:
            report.error(
                f"requirement {name!r}: the allowed values must all be of type {kind}, not "
                f"{type_name(wrong[0])}",
                line_of("enum"),
                pointer=at("enum"),
            )
            return None
    if "default" in spec:
        problems: list[str] = []
        default = coerce_value(req, spec["default"], problems)
        if problems:
            report.error(
                f"requirement {name!r}: the default does not fit: {problems[0]}",
                line_of("default"),
                pointer=at("default"),
            )
            return None
        req = replace(req, default=_freeze(default))
    return req


def _from_text(req: Requirement, text: str) -> Any:
    """Coerce command-line text to the requirement's type; raises ValueError when it cannot."""
    stripped = text.strip()
    if req.type == "integer":
        return int(stripped)
    if req.type == "number":
        if re.fullmatch(r"[+-]?\d+", stripped):
            return int(stripped)
        return float(stripped)
    if req.type == "boolean":
        lowered = stripped.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(text)
    if req.type == "list":
        if stripped.startswith("["):
            return json.loads(stripped)
        return [part.strip() for part in stripped.split(",") if part.strip()]
    if req.type == "object":
        return json.loads(stripped)
    return text


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,), "list": (list, tuple),
    "object": (Mapping,),
}  # fmt: skip


def fits(kind: str, value: Any) -> bool:
    """``value`` is of requirement type ``kind`` as it stands (no coercion from text)."""
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "number":
        return isinstance(value, int | float)
    return isinstance(value, _PYTHON_TYPES[kind])


def coerce_value(req: Requirement, value: Any, problems: list[str]) -> Any:
    """``value`` converted to ``req``'s type and checked; appends a message to ``problems`` when it fails."""
    expected = f"expected {req.type}"
    given = type_name(value)
    if isinstance(value, str) and req.type != "string":
        try:
            value = _from_text(req, value)
        except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
            problems.append(f"{req.name}: {expected}, got {given}")
            return None
    if isinstance(value, float) and req.type == "integer" and value.is_integer():
        value = int(value)
    kinds = _PYTHON_TYPES[req.type]
    if not isinstance(value, kinds) or (isinstance(value, bool) and req.type not in ("boolean",)):
        problems.append(f"{req.name}: {expected}, got {given}")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{req.name}: {expected} (finite), got {given}")
        return None
    if req.enum is not None and value not in req.enum:
        allowed = ", ".join(map(str, req.enum))
        problems.append(
            f"{req.name}: expected one of {allowed}, got {given}"
            + did_you_mean(str(value), [str(v) for v in req.enum])
        )
        return None
    checked: Any = value  # isinstance against a tuple of types narrows to object; it is one of them
    measure: float | None = None
    what = "value"
    if req.type in ("number", "integer"):
        measure = float(checked)
    elif req.type in ("string", "list"):
        measure, what = len(checked), "length"
    if measure is not None:
        if req.min is not None and measure < req.min:
            problems.append(f"{req.name}: {what} must be at least {req.min:g}, got {measure:g}")
            return None
        if req.max is not None and measure > req.max:
            problems.append(f"{req.name}: {what} must be at most {req.max:g}, got {measure:g}")
            return None
    if req.pattern is not None and isinstance(value, str) and re.fullmatch(req.pattern, value) is None:
        problems.append(f"{req.name}: expected text matching {req.pattern!r}, got {given}")
        return None
    if isinstance(value, tuple):
        value = list(value)
    return value


def validate_input(
    requirements: tuple[Requirement, ...], data: Mapping[str, Any], *, task: str | None = None
) -> dict[str, Any]:
    """Coerced inputs with defaults applied; ``InputValidationError`` lists every problem.

    Fields the task does not declare are refused (a typo would otherwise be silently ignored), unless
    the task declares no requirements at all, in which case the input passes through unchanged.
    """
    if not isinstance(data, Mapping):
        raise InputValidationError(
            [f"the input must be a mapping of field: value, not {type_name(data)}"], task=task
        )
    _check_input_size(data, task)
    if not requirements:
        return dict(data)
    problems: list[str] = []
    names = [r.name for r in requirements]
    out: dict[str, Any] = {}
    problems.extend(
        f"{key}: not an input of this task{did_you_mean(str(key), names)}; inputs: {', '.join(names)}"
        for key in data
        if key not in names
    )
    for req in requirements:
        if data.get(req.name) is None:
            if req.default is not None:
                out[req.name] = thaw(req.default)
            elif req.required:
                problems.append(f"{req.name}: required ({req.type}{_describe(req)}), but not given")
            continue
        before = len(problems)
        value = coerce_value(req, data[req.name], problems)
        if len(problems) == before:
            out[req.name] = value
    if problems:
        raise InputValidationError(problems, task=task)
    return out


def _check_input_size(data: Mapping[Any, Any], task: str | None) -> None:
    from quorum.templates._budget import printed_size

    if len(data) > MAX_INPUT_FIELDS:
        raise InputValidationError(
            [f"the input has {len(data)} fields; at most {MAX_INPUT_FIELDS} are allowed"], task=task
        )
    size = printed_size(data, MAX_INPUT_CHARS)
    if size > MAX_INPUT_CHARS:
        raise InputValidationError(
            [
                f"the input is larger than {MAX_INPUT_CHARS} characters (as JSON); pass big data as a file "
                "an agent reads, not as an input"
            ],
            task=task,
        )


def _describe(req: Requirement) -> str:
    parts = []
    if req.enum is not None:
        parts.append("one of " + ", ".join(map(str, req.enum)))
    if req.description:
        parts.append(req.description)
    return (": " + "; ".join(parts)) if parts else ""
