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
    executor                      where a builtin:/python: agent's function runs: thread (the default) or
                                  process (a worker process: CPU-bound work in parallel with the loop,
                                  killed by its timeout or an abort; see quorum.agents.workers)
    tags                          free labels
    outputs                       the phase outputs this agent owns ([technical]): it is asked for those
                                  and no others (aggregates and other agents' outputs never); unset: the
                                  phase's outputs are offered as optional keys
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
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from quorum.agents.front_matter import key_lines, load_yaml, split_front_matter
from quorum.agents.models import check_model_string
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
)
from quorum.definition.model import frozen_mapping
from quorum.definition.report import Report
from quorum.errors import Problem
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
        "stream", "options", "price", "circuit_breaker", "outputs", "executor",
    }
)  # fmt: skip
_RESPONSE_FORMATS = frozenset({"json_schema", "json_object", "text"})
EXECUTORS = ("thread", "process")
_OFFLOADABLE = frozenset({"builtin", "python"})
_PRICE_KEYS = ("input", "output")
_BREAKER_KEYS = ("failures", "reset")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TAGS = "[committee, analysis]"
_OUTPUTS = "[technical, evidence]"

P = ParamSpec("P")
T = TypeVar("T")


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
    outputs: tuple[str, ...] | None = None
    """The phase outputs this agent owns (asked of it, required); ``None``: the file names none, and the
    phase's outputs are offered as optional keys. See :mod:`quorum.agents.answer_shape`."""
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
    executor: str = "thread"
    """``thread`` or ``process`` (builtin: and python: agents): where the agent's function runs."""

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
    definition, report = _parse_path(Path(path), max_bytes=max_bytes)
    report.raise_if_errors()
    assert definition is not None
    return definition


def parse_agent_content(
    text: str, *, source: str | None = None, max_bytes: int = MAX_AGENT_FILE_BYTES
) -> AgentDefinition:
    definition, report = _parse_text(text, report=Report(source), max_bytes=max_bytes)
    report.raise_if_errors()
    assert definition is not None
    return definition


def lint_agent_file(path: str | os.PathLike[str], *, max_bytes: int = MAX_AGENT_FILE_BYTES) -> list[Problem]:
    """Every error and warning in the file; never raises for a bad file."""
    return _parse_path(Path(path), max_bytes=max_bytes)[1].problems


def lint_agent_content(text: str, *, source: str | None = None) -> list[Problem]:
    return _parse_text(text, report=Report(source), max_bytes=MAX_AGENT_FILE_BYTES)[1].problems


def inspect_agent_content(
    text: str, *, source: str | None = None, max_bytes: int = MAX_AGENT_FILE_BYTES
) -> tuple[AgentDefinition | None, list[Problem]]:
    """The definition (None when there are errors) and every problem, in one pass."""
    definition, report = _parse_text(text, report=Report(source), max_bytes=max_bytes)
    return definition, report.problems


def _parse_path(path: Path, *, max_bytes: int) -> tuple[AgentDefinition | None, Report]:
    report = Report(str(path))
    try:
        size = path.stat().st_size
        if size > max_bytes:
            _too_big(report, size, max_bytes)
            return None, report
        raw = path.read_bytes()
    except OSError as exc:
        report.error(f"cannot read agent file: {exc.strerror or exc}")
        return None, report
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        report.error(f"not valid UTF-8 (byte {exc.start})", line, "save the file as UTF-8")
        return None, report
    return _parse_text(text, report=report, max_bytes=max_bytes)


def _too_big(report: Report, size: int, limit: int) -> None:
    report.error(
        f"agent file is {size} bytes; the limit is {limit}",
        hint="keep personas short; move reference material elsewhere",
    )


class _Settings:
    """The front matter's values, each read with the shared field checkers and reported at its key's
    line (a nested value, like ``price.input``, at its parent's). An absent or empty value is unset."""

    __slots__ = ("data", "default_line", "lines", "report")

    def __init__(
        self, report: Report, data: Mapping[Any, Any], lines: Mapping[str, int], default_line: int
    ) -> None:
        self.report = report
        self.data = data
        self.lines = lines
        self.default_line = default_line

    def line(self, key: str) -> int:
        return self.lines.get(key, self.default_line)

    def read(
        self,
        key: str,
        check: Callable[Concatenate[Report, Any, str, int | None, P], T | None],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T | None:
        value = self.data.get(key)
        if value is None:
            return None
        return check(self.report, value, repr(key), self.line(key), *args, **kwargs)

    def read_within(
        self,
        parent: str,
        inner: Mapping[str, Any],
        key: str,
        check: Callable[Concatenate[Report, Any, str, int | None, P], T | None],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T | None:
        value = inner.get(key)
        if value is None:
            return None
        return check(self.report, value, repr(f"{parent}.{key}"), self.line(parent), *args, **kwargs)

    def text(self, key: str, *, required: bool = False) -> str | None:
        if required and self.data.get(key) is None:
            self.report.error(f"missing required setting {key!r}", self.line(key))
            return None
        value = self.read(key, check_text)
        return None if value is None else value.strip()

    def table(self, key: str, keys: tuple[str, ...], example: str) -> dict[str, Any]:
        """A nested mapping of known keys (``price``, ``circuit_breaker``); {} when unset or wrong."""
        inner = self.read(key, check_mapping, example)
        if inner is None:
            return {}
        check_keys(
            self.report, inner, keys, key, lambda _: self.line(key), noun="setting", suggestion_as_hint=True
        )
        return inner


def _parse_text(text: str, *, report: Report, max_bytes: int) -> tuple[AgentDefinition | None, Report]:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        _too_big(report, size, max_bytes)
        return None, report
    text = text.removeprefix("\ufeff")
    split = split_front_matter(text, report)
    if split is None:
        return None, report
    front, first_line, body = split
    loaded = load_yaml(front, first_line, report)
    if loaded is None:
        return None, report
    data, node = loaded
    if not isinstance(data, Mapping):
        report.error("the front matter must be a YAML mapping of settings", first_line)
        return None, report
    settings = _Settings(report, data, key_lines(node, first_line), first_line)
    definition = _read_definition(settings, persona=body.strip(), text=text)
    return (None if report.has_errors else definition), report


def _read_definition(settings: _Settings, *, persona: str, text: str) -> AgentDefinition | None:
    """Every setting checked (all problems reported); the definition when id and model are usable."""
    report, read = settings.report, settings.read
    if "api_key" in settings.data:
        report.error(
            "API keys never belong in agent files",
            settings.line("api_key"),
            "name the variable instead: api_key_env: MY_KEY",
        )
    others = {key: value for key, value in settings.data.items() if key != "api_key"}
    check_keys(
        report, others, sorted(KNOWN_KEYS), "the agent file", settings.line, noun="setting",
        suggestion_as_hint=True,
    )
    agent_id = settings.text("id", required=True)
    if agent_id is not None and not NAME_PATTERN.fullmatch(agent_id):
        report.error(f"invalid id {agent_id!r}", settings.line("id"), NAME_RULE)
        agent_id = None
    model = settings.text("model", required=True)
    if model is not None:
        for message, hint in check_model_string(model):
            report.error(message, settings.line("model"), hint)
    response_format = settings.text("response_format")
    if response_format is not None and response_format not in _RESPONSE_FORMATS:
        report.error(
            f"unknown response_format {response_format!r}",
            settings.line("response_format"),
            "one of " + ", ".join(sorted(_RESPONSE_FORMATS)),
        )
    executor = settings.text("executor") or "thread"
    if executor not in EXECUTORS:
        report.error(f"unknown executor {executor!r}", settings.line("executor"), "thread or process")
        executor = "thread"
    elif executor == "process" and model is not None and model.partition(":")[0] not in _OFFLOADABLE:
        report.error(
            f"executor: process runs a builtin: or python: agent's function in a worker process; "
            f"model {model!r} waits on the network, not the CPU",
            settings.line("executor"), "remove 'executor', or use it on a builtin:/python: agent",
        )
        executor = "thread"
    api_key_env = settings.text("api_key_env")
    if api_key_env is not None and not _ENV_NAME.fullmatch(api_key_env):
        report.error(
            "'api_key_env' must name an environment variable (like MY_API_KEY)", settings.line("api_key_env")
        )
    tags = settings.data.get("tags")
    if isinstance(tags, str):
        tags = [tags]  # one tag need not be written as a list
    words = None if tags is None else check_words(report, tags, "'tags'", settings.line("tags"), _TAGS)
    outputs = _read_outputs(settings)
    price = settings.table("price", _PRICE_KEYS, "{input: 0.4, output: 1.6}")
    breaker = settings.table("circuit_breaker", _BREAKER_KEYS, "{failures: 5, reset: 30s}")
    temperature = read("temperature", check_number, minimum=0.0, maximum=2.0)
    price_in = settings.read_within("price", price, "input", check_number, minimum=0.0)
    price_out = settings.read_within("price", price, "output", check_number, minimum=0.0)
    timeout_s = read("timeout", check_duration)
    max_concurrency = read("max_concurrency", check_int, minimum=1)
    max_retries = read("max_retries", check_int, minimum=0, maximum=20)
    cache_ttl_s = read("cache_ttl", check_duration, positive=False)
    max_tokens = read("max_tokens", check_int, minimum=1)
    stream = read("stream", check_bool)
    options = read("options", check_mapping, "{top_p: 0.9, seed: 7}")
    breaker_failures = settings.read_within("circuit_breaker", breaker, "failures", check_int, minimum=1)
    breaker_reset_s = settings.read_within("circuit_breaker", breaker, "reset", check_duration)
    name, role, description = settings.text("name"), settings.text("role"), settings.text("description")
    base_url = settings.text("base_url")
    if not persona:
        report.warning("the agent has no persona (the text after the front matter)", settings.line("id"))
    if agent_id is None or model is None:
        return None
    return AgentDefinition(
        id=AgentId(agent_id),
        model=model,
        name=name or "",
        role=role or "",
        description=description or "",
        persona=persona,
        temperature=None if temperature is None else float(temperature),
        timeout_s=timeout_s,
        max_concurrency=max_concurrency,
        max_retries=max_retries,
        cache_ttl_s=cache_ttl_s,
        tags=tuple(tag.strip() for tag in words or ()),
        outputs=outputs,
        max_tokens=max_tokens,
        base_url=base_url,
        api_key_env=api_key_env,
        response_format=response_format,
        stream=stream,
        options=frozen_mapping(options),
        price_in_per_mtok=None if price_in is None else float(price_in),
        price_out_per_mtok=None if price_out is None else float(price_out),
        breaker_failures=breaker_failures,
        breaker_reset_s=breaker_reset_s,
        source=report.source,
        line=settings.line("id"),
        content_hash=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        executor=executor,
    )


def _read_outputs(settings: _Settings) -> tuple[str, ...] | None:
    """``outputs``: the names of the phase outputs the agent owns (one name need not be a list)."""
    if "outputs" not in settings.data:
        return None
    value = settings.data["outputs"]
    line = settings.line("outputs")
    if value is None:
        value = []  # ``outputs:`` with nothing after it: the agent owns none
    if isinstance(value, str):
        value = [value]
    names = check_words(settings.report, value, "'outputs'", line, _OUTPUTS)
    if names is None:
        return None
    cleaned = tuple(dict.fromkeys(name.strip() for name in names))
    if any(not name for name in cleaned):
        settings.report.error("'outputs' holds an empty name", line, f"list output names, e.g. {_OUTPUTS}")
        return None
    return cleaned
