"""Agent files: Markdown with YAML front matter, parsed into frozen :class:`AgentDefinition` objects.

::

    ---
    id: technical-analyst
    name: Technical Analyst
    model: builtin:technical-analyst        # or openai:gpt-4.1-mini, anthropic:claude-..., python:mod:fn
    timeout: 30s
    ---
    You are the committee's technical analyst. ...   <- the persona (system prompt for LLM agents)

Settings (only ``id`` and ``model`` are required; durations are time strings or milliseconds):

    id, name, role, description   identity; ``id`` is ``[a-z0-9][a-z0-9._-]*``
    model                         builtin:<name> | python:<module>:<callable> | openai:<model> |
                                  anthropic:<model> | <entry-point provider>:<...>
    temperature, max_tokens       generation parameters (LLM agents)
    timeout                       per attempt
    max_concurrency, max_retries  the agent's pool size; retries of transient failures
    cache_ttl                     how long answers are cached (when the manager has a cache)
    tags                          free labels
    base_url, api_key_env         a URL or a configured endpoint name; the NAME of the key's variable
    response_format, stream       json_schema | json_object | text; false turns streaming off
    options                       provider options passed through (top_p, seed, ...)
    price: {input, output}        USD per million tokens, for cost and budgets
    circuit_breaker: {failures, reset}

Every problem is reported with ``file:line`` in one :class:`~quorum.errors.DefinitionError`. The YAML is
loaded safely and aliases/anchors are refused (no billion-laughs). API keys never belong in these files:
``api_key`` is an error that points to ``api_key_env``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from quorum.agents._fields import FieldReader, Problems, closest
from quorum.agents.models import check_model_string
from quorum.definition.model import frozen_mapping
from quorum.errors import DefinitionError, Problem
from quorum.ids import AgentId

__all__ = (
    "KNOWN_KEYS",
    "MAX_AGENT_FILE_BYTES",
    "AgentDefinition",
    "inspect_agent_content",
    "lint_agent_content",
    "lint_agent_file",
    "parse_agent_content",
    "parse_agent_file",
)

MAX_AGENT_FILE_BYTES = 256 * 1024

_EMPTY: Mapping[str, Any] = frozen_mapping()

KNOWN_KEYS: frozenset[str] = frozenset(
    {
        "id", "name", "role", "description", "model", "temperature", "timeout", "max_concurrency",
        "max_retries", "cache_ttl", "tags", "max_tokens", "base_url", "api_key_env", "response_format",
        "stream", "options", "price", "circuit_breaker",
    }
)  # fmt: skip
_RESPONSE_FORMATS = frozenset({"json_schema", "json_object", "text"})


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentDefinition:
    """One agent, as its file declares it. Durations are in seconds."""

    id: AgentId
    model: str
    name: str = ""
    role: str = ""
    description: str = ""
    persona: str = ""
    """The Markdown body: the system prompt of LLM agents."""
    temperature: float | None = None
    timeout_s: float | None = None
    max_concurrency: int | None = None
    max_retries: int | None = None
    cache_ttl_s: float | None = None
    tags: tuple[str, ...] = ()
    max_tokens: int | None = None
    base_url: str | None = None
    """A URL, or the name of an endpoint configured elsewhere (quorum.toml, ``QUORUM_<NAME>_BASE_URL``)."""
    api_key_env: str | None = None
    """The *name* of the environment variable holding the key (never the key)."""
    response_format: str | None = None
    """``json_schema`` (native structured output), ``json_object`` (JSON mode) or ``text``."""
    stream: bool | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    """Provider options passed through to the API call (``top_p``, ``seed``, ...)."""
    price_in_per_mtok: float | None = None
    price_out_per_mtok: float | None = None
    breaker_failures: int | None = None
    breaker_reset_s: float | None = None
    source: str | None = None
    line: int | None = None
    content_hash: str = ""

    @property
    def provider(self) -> str:
        return self.model.partition(":")[0]

    @property
    def display_name(self) -> str:
        return self.name or self.id


def parse_agent_file(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_AGENT_FILE_BYTES
) -> AgentDefinition:
    """Parse one agent file; raises :class:`DefinitionError` listing every problem."""
    definition, problems = _parse_path(Path(path), max_bytes=max_bytes)
    _raise_if_errors(problems, str(path))
    assert definition is not None
    return definition


def parse_agent_content(
    text: str, *, source: str | None = None, max_bytes: int = MAX_AGENT_FILE_BYTES
) -> AgentDefinition:
    definition, problems = _parse_text(text, source=source, max_bytes=max_bytes)
    _raise_if_errors(problems, source)
    assert definition is not None
    return definition


def lint_agent_file(path: str | os.PathLike[str], *, max_bytes: int = MAX_AGENT_FILE_BYTES) -> list[Problem]:
    """Every error and warning in the file; never raises for a bad file."""
    return list(_parse_path(Path(path), max_bytes=max_bytes)[1])


def lint_agent_content(text: str, *, source: str | None = None) -> list[Problem]:
    return list(_parse_text(text, source=source, max_bytes=MAX_AGENT_FILE_BYTES)[1])


def inspect_agent_content(
    text: str, *, source: str | None = None, max_bytes: int = MAX_AGENT_FILE_BYTES
) -> tuple[AgentDefinition | None, list[Problem]]:
    """The definition (None when there are errors) and every problem, in one pass."""
    definition, problems = _parse_text(text, source=source, max_bytes=max_bytes)
    return definition, list(problems)


def _raise_if_errors(problems: Problems, source: str | None) -> None:
    if any(p.severity == "error" for p in problems):
        raise DefinitionError(problems, source=source)


def _parse_path(path: Path, *, max_bytes: int) -> tuple[AgentDefinition | None, Problems]:
    source = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, [_too_big(source, size, max_bytes)]
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(message=f"cannot read agent file: {exc.strerror or exc}", source=source)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [
            Problem(
                message=f"not valid UTF-8 (byte {exc.start})",
                source=source,
                line=line,
                hint="save the file as UTF-8",
            )
        ]
    return _parse_text(text, source=source, max_bytes=max_bytes)


def _too_big(source: str | None, size: int, limit: int) -> Problem:
    return Problem(
        message=f"agent file is {size} bytes; the limit is {limit}",
        source=source,
        hint="keep personas short; move reference material elsewhere",
    )


def _split_front_matter(text: str, source: str | None) -> tuple[str, int, str, Problem | None]:
    """(yaml text, line of the first yaml line, body, problem)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").rstrip() != "---":
        return (
            "",
            0,
            text,
            Problem(
                message="an agent file starts with a YAML front matter block ('---' on the first line)",
                source=source,
                line=1,
                hint="begin with ---, then id: and model:, then ---, then the persona",
            ),
        )
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() in ("---", "..."):
            return "".join(lines[1:index]), 2, "".join(lines[index + 1 :]), None
    return (
        "",
        0,
        text,
        Problem(message="the front matter is not closed: no second '---' line", source=source, line=1),
    )


def _load_yaml(text: str, first_line: int, source: str | None) -> tuple[Any, yaml.Node | None, Problems]:
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                mark = event.start_mark
                return (
                    None,
                    None,
                    [
                        Problem(
                            message="YAML anchors and aliases are not allowed in agent files",
                            source=source,
                            line=first_line + (mark.line if mark else 0),
                            hint="write the value out in full",
                        )
                    ],
                )
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        return (
            None,
            None,
            [
                Problem(
                    message=f"invalid YAML in front matter: {reason}",
                    source=source,
                    line=first_line + mark.line if mark is not None else first_line,
                )
            ],
        )
    return data, node, []


def _key_lines(node: yaml.Node | None, first_line: int) -> dict[str, int]:
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                lines[str(key_node.value)] = first_line + key_node.start_mark.line
    return lines


def _parse_text(text: str, *, source: str | None, max_bytes: int) -> tuple[AgentDefinition | None, Problems]:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return None, [_too_big(source, size, max_bytes)]
    text = text.removeprefix("\ufeff")
    front, first_line, body, problem = _split_front_matter(text, source)
    if problem is not None:
        return None, [problem]
    data, node, problems = _load_yaml(front, first_line, source)
    if problems:
        return None, problems
    if not isinstance(data, Mapping):
        return None, [
            Problem(
                message="the front matter must be a YAML mapping of settings", source=source, line=first_line
            )
        ]
    reader = FieldReader(data, _key_lines(node, first_line), source=source, default_line=first_line)
    for key in data:
        if key == "api_key":
            reader.error(
                key,
                "API keys never belong in agent files",
                hint="name the variable instead: api_key_env: MY_KEY",
            )
        elif key not in KNOWN_KEYS:
            guess = closest(str(key), KNOWN_KEYS)
            reader.error(
                key,
                f"unknown setting {key!r}",
                hint=f"did you mean {guess!r}?" if guess else "known: " + ", ".join(sorted(KNOWN_KEYS)),
            )
    agent_id = reader.ident("id", required=True)
    model = reader.text("model", required=True)
    if model is not None:
        for message, hint in check_model_string(model):
            reader.error("model", message, hint=hint)
    temperature = reader.number("temperature", minimum=0.0, maximum=2.0)
    timeout_s = reader.duration("timeout")
    max_concurrency = reader.integer("max_concurrency", minimum=1)
    max_retries = reader.integer("max_retries", minimum=0, maximum=20)
    cache_ttl_s = reader.duration("cache_ttl", allow_zero=True)
    max_tokens = reader.integer("max_tokens", minimum=1)
    response_format = reader.text("response_format")
    if response_format is not None and response_format not in _RESPONSE_FORMATS:
        reader.error(
            "response_format",
            f"unknown response_format {response_format!r}",
            hint="one of " + ", ".join(sorted(_RESPONSE_FORMATS)),
        )
    price = reader.mapping("price", keys=("input", "output"))
    breaker = reader.mapping("circuit_breaker", keys=("failures", "reset"))
    breaker_failures = reader.integer("failures", minimum=1, within="circuit_breaker", data=breaker)
    breaker_reset = reader.duration("reset", within="circuit_breaker", data=breaker)
    persona = body.strip()
    if not persona:
        reader.warning("id", "the agent has no persona (the text after the front matter)")
    name, role, description = reader.text("name"), reader.text("role"), reader.text("description")
    tags, base_url = reader.string_list("tags"), reader.text("base_url")
    api_key_env, stream = reader.env_name("api_key_env"), reader.boolean("stream")
    options = reader.mapping("options")
    price_in = reader.number("input", minimum=0.0, within="price", data=price)
    price_out = reader.number("output", minimum=0.0, within="price", data=price)
    if reader.has_errors or agent_id is None or model is None:
        return None, reader.problems
    definition = AgentDefinition(
        id=AgentId(agent_id),
        model=model,
        name=name or "",
        role=role or "",
        description=description or "",
        persona=persona,
        temperature=temperature,
        timeout_s=timeout_s,
        max_concurrency=max_concurrency,
        max_retries=max_retries,
        cache_ttl_s=cache_ttl_s,
        tags=tags,
        max_tokens=max_tokens,
        base_url=base_url,
        api_key_env=api_key_env,
        response_format=response_format,
        stream=stream,
        options=frozen_mapping(options),
        price_in_per_mtok=price_in,
        price_out_per_mtok=price_out,
        breaker_failures=breaker_failures,
        breaker_reset_s=breaker_reset,
        source=source,
        line=reader.line_of("id"),
        content_hash=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
    )
    return definition, reader.problems
