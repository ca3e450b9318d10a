"""Property tests: the parser raises nothing but DefinitionError, and parsed tasks round-trip."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quorum.definition.model import Task
from quorum.definition.parser import TaskParser
from quorum.errors import DefinitionError, TemplateRenderError
from quorum.templates import TemplateEngine

pytestmark = [pytest.mark.unit, pytest.mark.errors]

PARSER = TaskParser()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text that looks a little like a task file, so that the parser gets past the first checks.
fragments = st.sampled_from([
    "# Title\n", "```yaml\n", "```\n", "name: demo\n", "## Phase: A\n", "## Phase: B\n", "### Steps\n",
    "### Agents\n", "### Outputs\n", "- agent: x - y\n", "- validation: a > 1 - m\n", "- aggregate: vote\n",
    "- {{ input.x }}\n", "dependsOn: [A]\n", "dependsOn: [B]\n", "retry: {maxAttempts: 0}\n", "timeout: -1\n",
    "  - nested\n", "when: {{ x }}\n", "&a [1]\n", "*a\n", "\t\n", "- \n", ":\n", "{%\n", "\ufeff", "\r\n",
])  # fmt: skip


@FAST
@given(st.text(max_size=2000))
def test_arbitrary_text_raises_only_definition_error(document: str) -> None:
    try:
        PARSER.parse_task_content(document)
    except DefinitionError:
        pass
    assert isinstance(PARSER.lint_content(document), list)


@FAST
@given(st.lists(st.one_of(fragments, st.text(max_size=30)), max_size=60))
def test_task_like_text_raises_only_definition_error(parts: list[str]) -> None:
    try:
        PARSER.parse_task_content("".join(parts))
    except DefinitionError:
        pass


yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "name",
        "description",
        "version",
        "maxExecutionTime",
        "retry",
        "concurrency",
        "budget",
        "requirements",
        "output",
        "tags",
        "metadata",
        "other",
    ]
)
phase_keys = st.sampled_from(
    [
        "dependsOn",
        "parallel",
        "timeout",
        "retry",
        "checkpoint",
        "when",
        "optional",
        "minAgents",
        "rounds",
        "description",
        "bogus",
    ]
)


@FAST
@given(st.dictionaries(keys, yaml_values, max_size=8), st.dictionaries(phase_keys, yaml_values, max_size=6))
def test_arbitrary_yaml_blocks_raise_only_definition_error(
    meta: dict[str, Any], header: dict[str, Any]
) -> None:
    meta_text = yaml.safe_dump(meta, default_flow_style=False, allow_unicode=True)
    header_text = yaml.safe_dump(header, default_flow_style=False, allow_unicode=True) if header else ""
    document = (
        f"# T\n\n```yaml\n{meta_text}```\n\n## Phase: A\n{header_text}\n### Agents\n- x\n### Steps\n- go\n"
        "\n## Phase: B\n### Agents\n- x\n### Steps\n- go\n"
    )
    try:
        task = PARSER.parse_task_content(document)
    except DefinitionError:
        return
    assert Task.from_dict(json.loads(json.dumps(task.to_dict()))) == task


@FAST
@given(st.text(max_size=300))
def test_arbitrary_yaml_text_in_metadata(block: str) -> None:
    document = (
        f"# T\n\n```yaml\n{block.replace('`', '')}\n```\n\n## Phase: A\n### Agents\n- x\n### Steps\n- go\n"
    )
    try:
        PARSER.parse_task_content(document)
    except DefinitionError:
        pass


names = st.from_regex(r"[A-Z][a-z]{0,8}( [A-Z][a-z]{0,6})?", fullmatch=True)
agent_ids = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
step_lines = st.one_of(
    st.builds(lambda a: f"agent: {a} - ask about {{{{ input.ticker }}}}", agent_ids),
    st.just("validation: input.amount > 0 - need money"),
    st.builds(
        lambda k, v: f"aggregate: consensus {k}={v}",
        st.sampled_from(["min", "weight"]),
        st.sampled_from(["0.6", "confidence", "3", "true"]),
    ),
    st.from_regex(r"[A-Z][a-z ]{0,30}", fullmatch=True),
)


@st.composite
def tasks(draw: st.DrawFn) -> str:
    phase_names = draw(st.lists(names, min_size=1, max_size=6, unique_by=lambda n: n.casefold()))
    parts = [
        "# Generated\n\n```yaml\nname: generated\nversion: 1.0.0\nrequirements:\n  ticker: string\n"
        "  amount: {type: number, min: 0}\n"
        f"maxExecutionTime: {draw(st.integers(1, 10_000))}\n```\n"
    ]
    for index, name in enumerate(phase_names):
        deps = draw(st.lists(st.sampled_from(phase_names[:index]), unique=True)) if index else []
        header = f"dependsOn: [{', '.join(deps)}]\n" if deps else ""
        header += f"parallel: {draw(st.booleans())}\n".lower()
        if draw(st.booleans()):
            header += f"retry: {{maxAttempts: {draw(st.integers(1, 5))}}}\n"
        agents = draw(st.lists(agent_ids, min_size=1, max_size=3, unique=True))
        steps = draw(st.lists(step_lines, min_size=1, max_size=4))
        parts.append(
            f"\n## Phase: {name}\n{header}\n### Agents\n"
            + "".join(f"- {a}\n" for a in agents)
            + "\n### Steps\n"
            + "".join(f"- {s}\n" for s in steps)
            + "\n### Outputs\n- result (string): the result\n"
        )
    return "".join(parts)


@FAST
@given(tasks())
def test_parsed_tasks_round_trip_through_json(document: str) -> None:
    task = PARSER.parse_task_content(document, source="generated.md")
    data = json.loads(json.dumps(task.to_dict()))
    again = Task.from_dict(data)
    assert again == task
    assert again.to_dict() == task.to_dict()
    assert PARSER.parse_task_content(document).content_hash == task.content_hash


ENGINE = TemplateEngine(max_output_chars=10_000)
template_bits = st.sampled_from([
    "{{", "}}", "{%", "%}", "(", ")", "[", "]", " x ", "input", ".", "a", "*", "**", "9", "'s'", "|", "join",
    "for", "in", "range", "if", "endif", "endfor", "~", "+", "__class__", "_", ",", "loop", "self", "-",
])  # fmt: skip


@FAST
@given(st.lists(st.one_of(template_bits, st.text(max_size=5)), max_size=40))
def test_templates_fail_only_with_template_errors(parts: list[str]) -> None:
    source = "".join(parts)
    problem = ENGINE.check_template(source)
    assert problem is None or isinstance(problem, str)
    try:
        ENGINE.render(source, {"input": {"a": [1, 2], "x": "y"}, "x": 3})
    except TemplateRenderError:
        pass
    try:
        ENGINE.evaluate(source, {"input": {"a": [1, 2]}})
    except TemplateRenderError:
        pass
