"""Agent files: parsing, linting with file:line, safety limits, the search path, model overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from quorum.agents.definitions import (
    KNOWN_KEYS,
    AgentDefinition,
    inspect_agent_content,
    lint_agent_content,
    lint_agent_file,
    parse_agent_content,
    parse_agent_file,
)
from quorum.agents.models import ModelOverrides, check_model_string, parse_model_overrides
from quorum.agents.registry import AgentRegistry
from quorum.errors import ConfigurationError, DefinitionError

pytestmark = pytest.mark.unit

GOOD = """---
id: technical-analyst
name: Technical Analyst
role: Price action, trend and momentum
model: openai:gpt-4.1-mini
temperature: 0.2
timeout: 30s
max_concurrency: 4
max_retries: 2
cache_ttl: 1h
tags: [committee, analysis]
max_tokens: 800
base_url: local-llm
api_key_env: MY_LLM_KEY
response_format: json_schema
stream: true
options: {top_p: 0.9, seed: 7}
price: {input: 0.4, output: 1.6}
circuit_breaker: {failures: 3, reset: 10s}
---
You are the committee's technical analyst.

Be brief.
"""


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def errors_of(text: str) -> list[str]:
    return [str(p) for p in lint_agent_content(text, source="a.md") if p.severity == "error"]


def test_every_setting_is_read(tmp_path: Path) -> None:
    d = parse_agent_file(write(tmp_path, "technical-analyst.md", GOOD))
    assert d.id == "technical-analyst"
    assert d.name == "Technical Analyst"
    assert d.role == "Price action, trend and momentum"
    assert d.model == "openai:gpt-4.1-mini"
    assert d.provider == "openai"
    assert (d.temperature, d.timeout_s, d.max_concurrency, d.max_retries) == (0.2, 30.0, 4, 2)
    assert d.cache_ttl_s == 3600.0
    assert d.tags == ("committee", "analysis")
    assert (d.max_tokens, d.base_url, d.api_key_env) == (800, "local-llm", "MY_LLM_KEY")
    assert (d.response_format, d.stream) == ("json_schema", True)
    assert dict(d.options) == {"top_p": 0.9, "seed": 7}
    assert (d.price_in_per_mtok, d.price_out_per_mtok) == (0.4, 1.6)
    assert (d.breaker_failures, d.breaker_reset_s) == (3, 10.0)
    assert d.persona == "You are the committee's technical analyst.\n\nBe brief."
    assert d.source
    assert d.source.endswith("technical-analyst.md")
    assert d.line == 2
    assert len(d.content_hash) == 64


def test_minimal_file_and_plain_number_durations_are_milliseconds() -> None:
    d = parse_agent_content("---\nid: a\nmodel: builtin:a\ntimeout: 1500\n---\nPersona.\n")
    assert d == AgentDefinition(
        id=d.id, model="builtin:a", persona="Persona.", timeout_s=1.5, line=2, content_hash=d.content_hash
    )
    with pytest.raises(AttributeError):
        d.model = "x"  # type: ignore[misc]


def test_unknown_key_has_file_line_and_did_you_mean() -> None:
    text = "---\nid: a\nmodel: builtin:a\ntemprature: 0.3\n---\nx\n"
    with pytest.raises(DefinitionError) as caught:
        parse_agent_content(text, source="agents/a.md")
    problem = caught.value.problems[0]
    assert (problem.source, problem.line) == ("agents/a.md", 4)
    assert "unknown setting 'temprature'" in problem.message
    assert problem.hint == "did you mean 'temperature'?"
    assert "agents/a.md:4: error: unknown setting 'temprature'" in str(caught.value)


def test_every_problem_is_reported_at_its_line() -> None:
    text = (
        "---\n"  # 1
        "id: Bad Id\n"  # 2
        "model: openai\n"  # 3
        "timeout: soon\n"  # 4
        "temperature: 7\n"  # 5
        "max_concurrency: 0\n"  # 6
        "cache_ttl: -5s\n"  # 7
        "tags: 3\n"  # 8
        "response_format: xml\n"  # 9
        "circuit_breaker: {failures: 0, resett: 1s}\n"  # 10
        "---\nx\n"
    )
    problems = [p for p in lint_agent_content(text, source="a.md") if p.severity == "error"]
    lines = sorted({p.line or 0 for p in problems})
    assert lines == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    by_line = {p.line: p for p in problems}
    assert "invalid id 'Bad Id'" in by_line[2].message
    assert "expected <provider>:<model>" in by_line[3].message
    assert "soon" in by_line[4].message
    assert "between 0 and 2" in by_line[5].message
    assert "at least 1" in by_line[6].message
    assert "unknown response_format 'xml'" in by_line[9].message
    assert any("resett" in p.message and p.hint == "did you mean 'reset'?" for p in problems)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("builtin:risk-officer", None),
        ("python:my_pkg.agents:analyst", None),
        ("python:my_pkg.agents:Analyst.query", None),
        ("openai:gpt-4.1-mini", None),
        ("anthropic:claude-sonnet-4-5", None),
        ("gpt-4", "expected <provider>:<model>"),
        ("openai:", "expected <provider>:<model>"),
        ("opena:gpt-4", "did you mean 'openai'?"),
        ("python:my_pkg", "bad python model"),
        ("python:1bad:fn", "bad python model"),
        ("builtin:Risk Officer", "no spaces"),
        ("builtin:Risk_Officer", "bad built-in agent name"),
        ("Open AI:x", "bad provider"),
        ("openai:" + "x" * 300, "longer than"),
    ],
)
def test_model_strings(model: str, expected: str | None) -> None:
    problems = check_model_string(model)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in message or expected == hint for message, hint in problems), problems


def test_api_keys_are_refused_in_files() -> None:
    errors = errors_of("---\nid: a\nmodel: openai:x\napi_key: sk-123456789\n---\nx\n")
    assert len(errors) == 1
    assert "a.md:4: error: API keys never belong in agent files" in errors[0]
    assert "api_key_env" in errors[0]


def test_yaml_aliases_are_refused() -> None:
    text = "---\nid: a\nmodel: builtin:a\noptions: &o {a: 1}\ntags: *o\n---\nx\n"
    errors = errors_of(text)
    assert len(errors) == 1
    assert "aliases are not allowed" in errors[0]
    assert "a.md:4:" in errors[0]


def test_billion_laughs_is_refused_quickly() -> None:
    lol = "---\nid: a\nmodel: builtin:a\noptions:\n  a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        lol += f"  b{i}: &b{i} [*{'a' if i == 1 else f'b{i - 1}'}, *{'a' if i == 1 else f'b{i - 1}'}]\n"
    lol += "---\nx\n"
    assert any("aliases are not allowed" in e for e in errors_of(lol))


def test_yaml_that_would_build_python_objects_is_an_error() -> None:
    errors = errors_of(
        "---\nid: a\nmodel: builtin:a\noptions: !!python/object/apply:os.system [echo]\n---\nx\n"
    )
    assert len(errors) == 1
    assert "invalid YAML" in errors[0]


def test_invalid_yaml_reports_its_line() -> None:
    errors = errors_of("---\nid: a\nmodel: builtin:a\ntags: [a, b\n---\nx\n")
    assert len(errors) == 1
    assert "invalid YAML" in errors[0]
    assert errors[0].startswith("a.md:")


def test_front_matter_must_open_and_close() -> None:
    assert "starts with a YAML front matter" in errors_of("id: a\n")[0]
    assert "not closed" in errors_of("---\nid: a\nmodel: builtin:a\n")[0]
    assert "must be a YAML mapping" in errors_of("---\n- a\n- b\n---\nx\n")[0]


def test_missing_required_settings() -> None:
    errors = errors_of("---\nname: A\n---\nx\n")
    assert any("missing required setting 'id'" in e for e in errors)
    assert any("missing required setting 'model'" in e for e in errors)


def test_missing_persona_is_a_warning() -> None:
    problems = lint_agent_content("---\nid: a\nmodel: builtin:a\n---\n\n", source="a.md")
    assert [p.severity for p in problems] == ["warning"]
    assert "no persona" in problems[0].message
    assert parse_agent_content("---\nid: a\nmodel: builtin:a\n---\n").persona == ""


def test_size_cap(tmp_path: Path) -> None:
    big = "---\nid: a\nmodel: builtin:a\n---\n" + "x" * 300_000
    path = write(tmp_path, "a.md", big)
    problems = lint_agent_file(path)
    assert len(problems) == 1
    assert "the limit is 262144" in problems[0].message
    with pytest.raises(DefinitionError, match="limit"):
        parse_agent_content(big)


def test_non_utf8_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.md", b"---\nid: a\nmodel: builtin:a\n---\ncaf\xe9\n")
    problems = lint_agent_file(path)
    assert len(problems) == 1
    assert problems[0].line == 5
    assert "not valid UTF-8" in problems[0].message
    with pytest.raises(DefinitionError, match="UTF-8"):
        parse_agent_file(path)


def test_bom_and_crlf_are_accepted() -> None:
    d = parse_agent_content("\ufeff---\r\nid: a\r\nmodel: builtin:a\r\n---\r\nHello\r\n")
    assert d.id == "a"
    assert d.persona == "Hello"


def test_unreadable_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    problems = lint_agent_file(tmp_path / "missing.md")
    assert len(problems) == 1
    assert "cannot read agent file" in problems[0].message


def agent_file(folder: Path, agent_id: str, model: str, persona: str = "P.") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write(folder, f"{agent_id}.md", f"---\nid: {agent_id}\nmodel: {model}\n---\n{persona}\n")


def test_registry_search_order_and_overrides(tmp_path: Path) -> None:
    tasks = tmp_path / "project" / "tasks"
    tasks.mkdir(parents=True)
    agent_file(tmp_path / "project" / "agents", "a", "builtin:a", "sibling")
    agent_file(tmp_path / "project" / "agents", "b", "builtin:b")
    agent_file(tasks / "agents", "a", "openai:m", "inside")
    extra = tmp_path / "extra"
    agent_file(extra, "b", "anthropic:m", "extra")
    registry = AgentRegistry([extra], tasks_dirs=[tasks], include_builtin=False)
    assert registry.directories() == [tmp_path / "project" / "agents", tasks / "agents", extra]
    found = registry.load()
    assert (found["a"].persona, found["a"].model) == ("inside", "openai:m")
    assert (found["b"].persona, found["b"].model) == ("extra", "anthropic:m")
    assert registry.ids() == ["a", "b"]
    assert registry.get("b").model == "anthropic:m"
    with pytest.raises(DefinitionError, match="no agent 'zz'"):
        registry.get("zz")


def test_registry_collects_problems_from_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "agents"
    agent_file(folder, "good", "builtin:good")
    write(folder, "bad.md", "---\nid: bad\nmodel: nope\n---\nx\n")
    write(folder, "other.md", "---\nid: good\nmodel: builtin:good\n---\nx\n")
    write(folder, "misnamed.md", "---\nid: c\nmodel: builtin:c\n---\nx\n")
    registry = AgentRegistry([folder], include_builtin=False)
    problems = registry.lint()
    messages = [str(p) for p in problems]
    assert any("bad.md:3: error: bad model 'nope'" in m for m in messages)
    assert any("other.md:2: error: agent id 'good' is also defined in" in m for m in messages)
    assert any(
        "misnamed.md:2: warning: file name 'misnamed' differs from the agent id 'c'" in m for m in messages
    )
    with pytest.raises(DefinitionError) as caught:
        registry.load()
    assert len(caught.value.errors) == 2


def test_missing_directories_are_skipped(tmp_path: Path) -> None:
    assert AgentRegistry([tmp_path / "nope"], include_builtin=False).load() == {}


def test_model_overrides() -> None:
    overrides = parse_model_overrides(["openai:gpt-4.1-mini", "risk-officer=anthropic:claude-x"])
    assert overrides == ModelOverrides(all_agents="openai:gpt-4.1-mini", per_agent=overrides.per_agent)
    assert dict(overrides.per_agent) == {"risk-officer": "anthropic:claude-x"}
    assert overrides.model_for("risk-officer", "builtin:risk-officer") == "anthropic:claude-x"
    assert overrides.model_for("macro-analyst", "builtin:macro-analyst") == "openai:gpt-4.1-mini"
    only_one = parse_model_overrides("risk-officer=python:pkg.mod:fn")
    assert only_one.model_for("macro", "builtin:macro") == "builtin:macro"
    d = parse_agent_content("---\nid: risk-officer\nmodel: builtin:risk-officer\n---\nx\n")
    assert only_one.model_for(d.id, d.model) == "python:pkg.mod:fn"
    assert d.model == "builtin:risk-officer"
    assert only_one.unknown_agents(["macro"]) == ["risk-officer"]
    assert not parse_model_overrides(None)
    assert not parse_model_overrides([])


@pytest.mark.parametrize("value", ["gpt-4", "risk-officer=gpt-4", "openai", "x=opena:m"])
def test_bad_model_overrides_are_configuration_errors(value: str) -> None:
    with pytest.raises(ConfigurationError, match="--model"):
        parse_model_overrides([value])


@pytest.mark.errors
@given(st.text(max_size=300))
def test_lint_never_raises_on_any_text(text: str) -> None:
    for body in (text, "---\n" + text + "\n---\nP\n", "---\nid: a\nmodel: builtin:a\n" + text + "\n---\n"):
        problems = lint_agent_content(body, source="x.md")
        assert all(p.source == "x.md" for p in problems)


@pytest.mark.errors
@given(
    st.dictionaries(
        st.sampled_from(sorted(KNOWN_KEYS | {"bogus"})),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
        max_size=8,
    )
)
def test_any_setting_values_give_problems_not_crashes(settings: dict[str, object]) -> None:
    text = "---\n" + yaml.safe_dump(settings) + "---\nP\n"
    definition, problems = inspect_agent_content(text, source="x.md")
    assert (definition is None) == any(p.severity == "error" for p in problems)
