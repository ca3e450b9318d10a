"""Bounded YAML loading for task files: one pass over libyaml's event stream, building plain values.

Why not ``yaml.safe_load``: it expands aliases (a "billion laughs" file becomes a huge object graph the
moment anything walks it), recurses once per nesting level, silently keeps the last of two equal keys and
gives no line numbers. Here anchors and aliases are refused outright, nesting depth and node count are
capped, duplicate keys are errors, only the standard scalar tags are accepted, and every key's line is
recorded so that problems can point at it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

__all__ = ("MAX_DEPTH", "MAX_NODES", "YamlDoc", "YamlProblem", "load_yaml")

MAX_DEPTH = 20
MAX_NODES = 100_000

Path = tuple[str | int, ...]

try:
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_RESOLVER = Resolver()
_CONSTRUCTOR = SafeConstructor()
_SCALAR_TAGS: dict[str, Callable[[SafeConstructor, ScalarNode], Any]] = {
    tag: _CONSTRUCTOR.yaml_constructors[tag]
    for tag in (
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:str",
        "tag:yaml.org,2002:timestamp",
    )
}
_STR = "tag:yaml.org,2002:str"
_COLLECTION_TAGS = {None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


class YamlProblem(ValueError):
    """The YAML text is invalid or refused. ``line`` is 1-based within the text given."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class YamlDoc:
    value: Any
    lines: dict[Path, int]
    """The 1-based line of each key (and sequence item) by its path, e.g. ``("retry", "maxAttempts")``."""

    def line_of(self, *path: str | int) -> int | None:
        """The line of ``path``, or of its closest ancestor that has one."""
        p: Path = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


def _scalar(event: yaml.ScalarEvent, line: int | None) -> Any:
    tag = event.tag
    if tag in (None, "!"):
        if not event.implicit[0]:
            return event.value  # quoted: always a string
        tag = _RESOLVER.resolve(ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
    build = _SCALAR_TAGS.get(tag)
    if build is None:
        raise YamlProblem(f"YAML tag {tag!r} is not allowed (only plain values)", line)
    try:
        value = build(_CONSTRUCTOR, ScalarNode(tag, event.value))
    except (ValueError, yaml.YAMLError) as exc:
        raise YamlProblem(f"cannot read {event.value[:40]!r}: {exc}", line) from None
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()  # keep the model JSON-friendly
    return value


_MISSING = object()


class _Frame:
    __slots__ = ("container", "key", "path")

    def __init__(self, container: dict[str, Any] | list[Any], path: Path) -> None:
        self.container = container
        self.path = path
        self.key: Any = _MISSING  # pending mapping key


def load_yaml(text: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> YamlDoc:
    """Load one YAML document of plain values (mappings with string keys, lists, scalars)."""
    lines: dict[Path, int] = {}
    stack: list[_Frame] = []
    result: Any = None
    documents = 0
    nodes = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise YamlProblem("only one YAML document is allowed here (remove the '---')", line)
                continue
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise YamlProblem("YAML anchors and aliases (&name, *name) are not allowed", line)
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                stack.pop()
                continue
            value: Any
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                if event.tag not in _COLLECTION_TAGS:
                    raise YamlProblem(f"YAML tag {event.tag!r} is not allowed", line)
                if len(stack) >= max_depth:
                    raise YamlProblem(f"nested deeper than {max_depth} levels", line)
                value = {} if isinstance(event, yaml.MappingStartEvent) else []
            elif isinstance(event, yaml.ScalarEvent):
                value = _scalar(event, line)
            else:
                continue
            nodes += 1
            if nodes > max_nodes:
                raise YamlProblem(f"more than {max_nodes} values", line)
            if stack:
                path = _attach(stack[-1], value, line, lines)
            else:
                result, path = value, ()
            if isinstance(value, dict | list):
                stack.append(_Frame(value, path))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise YamlProblem(f"invalid YAML: {message}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"invalid YAML: {exc}") from None
    return YamlDoc(result, lines)


def _attach(top: _Frame, value: Any, line: int | None, lines: dict[Path, int]) -> Path:
    """Put ``value`` into the innermost open collection; return the path it got."""
    if isinstance(top.container, list):
        path: Path = (*top.path, len(top.container))
        if line is not None:
            lines[path] = line
        top.container.append(value)
        return path
    if top.key is _MISSING:
        if isinstance(value, dict | list):
            raise YamlProblem("mapping keys must be plain values, not lists or mappings", line)
        if not isinstance(value, str):
            raise YamlProblem(f"keys must be text, not {value!r} (quote it)", line)
        if value in top.container:
            raise YamlProblem(f"key {value!r} appears twice", line)
        top.key = value
        if line is not None:
            lines[(*top.path, value)] = line
        return (*top.path, value)
    key = top.key
    top.container[key] = value
    top.key = _MISSING
    return (*top.path, key)
