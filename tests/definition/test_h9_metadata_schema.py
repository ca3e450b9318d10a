"""The published JSON Schema of the metadata block, its pydantic model, and the checker's pointers.

The model (``metadata_model.TaskMetadata``) and the checker (``schema.read_metadata`` with
``requirements.read_requirements``, which give file:line) must accept and refuse the same blocks: many
blocks made by hypothesis, the shipped tasks and every task written in the tests are fed to both.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from quorum.definition import schema as checker
from quorum.definition.durations import parse_time_string
from quorum.definition.markdown import outline
from quorum.definition.metadata_model import DURATION_PATTERN, TaskMetadata
from quorum.definition.metadata_schema import (
    SCHEMA_DIALECT,
    SCHEMA_FILE,
    SCHEMA_ID,
    generate_schema,
    schema_text,
    shipped_schema_text,
)
from quorum.definition.parser import TaskParser
from quorum.definition.report import Report
from quorum.definition.requirements import read_requirements
from quorum.definition.yamlsafe import YamlProblem, load_yaml
from quorum.errors import Problem
from quorum.templates import default_engine

pytestmark = [pytest.mark.unit]

ROOT = Path(__file__).resolve().parents[2]
MANY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class _NoAliases(yaml.SafeDumper):
    """A value drawn twice is written twice: the loader refuses anchors and aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_NoAliases, sort_keys=False)


def checker_problems(text: str) -> list[Problem]:
    """What the file:line checker says about a metadata block (its text, as in the ```yaml fence)."""
    report = Report("block")
    meta = checker.read_metadata(report, load_yaml(text), 1, default_engine())
    read_requirements(report, meta.requirements, meta.requirements_line_of or (lambda *p: None))
    return [p for p in report.problems if p.severity == "error"]


def model_accepts(value: Any) -> bool:
    try:
        TaskMetadata.model_validate(value, context={"engine": default_engine()})
    except ValidationError:
        return False
    return True


def assert_agree(text: str) -> None:
    value = load_yaml(text).value
    problems = checker_problems(text)
    accepted = model_accepts(value)
    assert accepted == (not problems), (
        f"the model {'accepts' if accepted else 'refuses'} {value!r}, the checker says: "
        + ("; ".join(p.message for p in problems) or "valid")
    )


# -- the shipped schema --------------------------------------------------------------------------------


def test_the_shipped_schema_is_the_generated_one() -> None:
    assert shipped_schema_text() == schema_text(), (
        "regenerate: python -m quorum.definition.metadata_schema --write docs/metadata.schema.json"
    )
    assert (ROOT / "docs" / SCHEMA_FILE).read_text(encoding="utf-8") == schema_text()


def test_the_schema_is_draft_2020_12_with_an_id_and_names_every_key_the_checker_knows() -> None:
    schema = generate_schema()
    assert schema["$schema"] == SCHEMA_DIALECT == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    assert tuple(schema["properties"]) == checker.TASK_KEYS
    assert schema["required"] == ["name"]
    assert schema["additionalProperties"] is False
    defs = schema["$defs"]
    assert tuple(defs["RetryModel"]["properties"]) == checker.RETRY_KEYS
    assert tuple(defs["ConcurrencyModel"]["properties"]) == checker.CONCURRENCY_KEYS
    assert tuple(defs["BudgetModel"]["properties"]) == checker.BUDGET_KEYS
    assert all(d["additionalProperties"] is False for d in defs.values())
    attempts = defs["RetryModel"]["properties"]["maxAttempts"]
    assert (attempts["type"], attempts["minimum"], attempts["maximum"]) == (
        "integer",
        1,
        checker.MAX_ATTEMPTS,
    )
    assert schema["properties"]["name"]["pattern"] == "^" + checker.NAME_PATTERN.pattern + "$"
    assert schema["properties"]["version"]["pattern"] == "^" + checker.SEMVER.pattern + "$"
    # pydantic's own words are not in it: no "default": null (a null is refused) and no "ge"/"le"
    text = schema_text()
    assert '"default": null' not in text
    assert '"ge"' not in text
    assert '"le"' not in text


DRAFT_07_KEYWORDS = {
    "$schema", "$id", "$ref", "title", "description", "type", "enum", "properties", "patternProperties",
    "additionalProperties", "required", "items", "anyOf", "minimum", "maximum", "exclusiveMinimum",
    "minLength", "maxLength", "pattern", "minItems", "minProperties",
}  # fmt: skip


def _keywords(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            out.add(key)
            if key in ("properties", "patternProperties", "$defs"):
                for sub in value.values():
                    _keywords(sub, out)
            else:
                _keywords(value, out)
    elif isinstance(node, list):
        for item in node:
            _keywords(item, out)
    return out


def test_the_schema_keeps_to_keywords_that_draft_07_editors_know_besides_defs() -> None:
    """VS Code's YAML extension implements draft-07 (docs/task-format.md says so)."""
    schema = generate_schema()
    assert _keywords(schema, set()) - {"$defs"} <= DRAFT_07_KEYWORDS
    refs = {n["$ref"] for n in _walk(schema) if isinstance(n, dict) and "$ref" in n}
    assert refs == {f"#/$defs/{name}" for name in schema["$defs"]}


def _walk(node: Any) -> list[Any]:
    found = [node]
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        found.extend(_walk(child))
    return found


# -- the duration pattern in the schema against the parser --------------------------------------------

duration_texts = st.one_of(
    st.sampled_from([
        "500", "0", "30s", "5 minutes", "1h30m", "1.5 hours", "2 days", "2 days and 3 hours", "1h, 30m",
        "5MIN", "5 msand", "5 msx", "-1s", "1s1", "s", "", "  ", ".5s", "5.s", "1e3", "nan", "inf",
        "\u0661s", "5 mins", "3 wks", "10 fortnights", "1.5.2s",
    ]),
    st.from_regex(r"\A ?[0-9.]{1,4} ?(ms|s|m|h|d|w|min|hours?|days?|x|and)?( ?[0-9]{1,3}[smhdw])?\Z"),
)  # fmt: skip


@given(duration_texts)
@MANY
def test_the_schemas_duration_pattern_accepts_the_forms_the_parser_reads(text: str) -> None:
    """The pattern states the form; the parser also refuses a unit given twice (the schema says so)."""
    try:
        parse_time_string(text)
        parsed = True
    except ValueError as exc:
        parsed = "given twice" in str(exc) or "maximum" in str(exc)
    assert (re.fullmatch(DURATION_PATTERN, text) is not None) == parsed, text


# -- the model and the checker agree ------------------------------------------------------------------

# True but one time in five (ten): hypothesis favours the first choice and small numbers, so "one in
# five" is not integers(0, 4) == 0 (drawn far more often than that)
ONE_IN_FIVE = st.sampled_from([True, True, True, True, False])
ONE_IN_TEN = st.sampled_from([True] * 9 + [False])
plain_text = st.text(st.characters(codec="ascii", categories=["L", "N", "P", "Zs"]), max_size=12)
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**13),
    st.floats(allow_nan=True, allow_infinity=True),
    plain_text,
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2),
)
whole_ish = st.one_of(
    st.integers(-2, 12),
    st.sampled_from([0, 1, 100, 101, 1000, 1001, 10_000, 10_001, 10**7, 10**7 + 1, 10**12, 10**12 + 1]),
    st.sampled_from([3.0, 2.5, -1.0, 1e20, True, False, "3"]),
)
number_ish = st.one_of(
    st.floats(-1, 2),
    st.sampled_from([float("nan"), float("-inf")]),
    st.sampled_from([0, 1, 0.0, 1e9, 1e9 + 1, True, "0.5", float("inf")]),
)
durations = st.one_of(
    duration_texts,
    st.sampled_from([0, 1, 500, 3_600_000, 3_600_001, 2_592_000_000, 2_592_000_001, -5, 1.5, True, None]),
    st.sampled_from(["31 days", "30 days", "1h1h", "2 hours", "59m"]),
)
names = st.one_of(
    st.sampled_from(["demo", "a", "investment-committee", "x" * 100, "x" * 101, "Bad", "-a", "a b", "a.b_c"]),
    st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,5}\Z"),
    junk,
)
versions = st.one_of(
    st.sampled_from(["1.0.0", "0.0.1-rc.1+build.5", "1.0", "v1.0.0", "1.0.0-", "\u0661.0.0", "01.2.3"]),
    junk,
)
identifiers = st.one_of(st.sampled_from(["ticker", "_x", "a1", "1a", "a-b", "x" * 101]), plain_text)
expressions = st.one_of(
    st.sampled_from([
        "phases.A.outputs.x", "input.amount > 1000", "((", "{{ phases.A.outputs.x }}", "", "x |", "1 +",
    ]),
    junk,
)  # fmt: skip
type_names = st.sampled_from(
    ["string", "number", "integer", "boolean", "list", "object", "str", "int", "any"]
)
enum_values = st.one_of(
    st.booleans(), st.integers(-2, 2), st.sampled_from([1.0, 2.5, "a", "b", None, [1], {"a": 1}])
)
spec_values: dict[str, st.SearchStrategy[Any]] = {
    "type": st.one_of(type_names, st.none(), st.integers(0, 1)),
    "required": st.one_of(st.booleans(), st.none(), st.sampled_from(["yes", 1])),
    "default": st.one_of(
        st.integers(-2, 12), st.sampled_from(["a", "10", "true", "[1]", 2.5, True, None, [1]])
    ),
    "description": st.one_of(plain_text, st.none(), st.integers(0, 1)),
    "min": st.one_of(st.integers(-1, 5), st.sampled_from([0.5, True, None, "1", float("nan")])),
    "max": st.one_of(st.integers(-1, 5), st.sampled_from([0.5, True, None, "1"])),
    "pattern": st.one_of(st.sampled_from(["[a-z]+", "[A-Z]{1,5}", "(", "a|b", None, 3]), plain_text),
    "enum": st.one_of(st.lists(enum_values, max_size=3), st.none(), st.sampled_from(["a"])),
    "bogus": st.integers(),
}


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(spec_values)), unique=True, max_size=4))
    return {key: draw(spec_values[key]) for key in keys if key != "bogus" or not draw(ONE_IN_FIVE)}


requirement_entries = st.one_of(type_names, st.lists(enum_values, max_size=3), specs(), junk)


def mapping_of(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Some of ``keys`` (sometimes with an unknown one), each with a value from its strategy."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        chosen = draw(st.lists(st.sampled_from(sorted(keys)), unique=True, max_size=len(keys)))
        out = {key: draw(keys[key]) for key in chosen}
        if not draw(ONE_IN_TEN):
            out[draw(st.sampled_from(["bogus", "max_attempts", "Name"]))] = 1
        return out

    return build()


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Four draws in five from ``good``: a block is valid only when every key is, and both sides must
    meet many valid blocks too, not only ones that a single bad key makes invalid."""

    @st.composite
    def pick(draw: st.DrawFn) -> Any:
        return draw(good if draw(ONE_IN_FIVE) else bad)

    return pick()


good_durations = st.sampled_from(["30s", "5 minutes", "1h30m", 500, 1.5, "2 days", "1.5 hours", "250ms"])
good_backoffs = st.sampled_from([0, 500, "2s", "1 minute", "0ms", 1000, "30s", "1h"])
retry_blocks = mapping_of(
    {
        "maxAttempts": mostly(st.one_of(st.integers(1, 100), st.just(3.0)), whole_ish),
        "backoffMs": mostly(good_backoffs, durations),
        "maxBackoffMs": mostly(good_backoffs, durations),
        "jitter": mostly(st.floats(0, 1), number_ish),
    }
)
good_enums = st.one_of(
    st.lists(st.sampled_from(["low", "medium", "high"]), min_size=1, unique=True),
    st.lists(st.integers(-3, 3), min_size=1, unique=True),
    st.lists(st.sampled_from([0.5, 1.5, 2]), min_size=1, unique=True),
    st.sampled_from([[True, False]]),
)
good_specs = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["integer", "number"])},
        optional={"min": st.integers(0, 3), "max": st.integers(2, 9), "default": st.integers(0, 12),
                  "required": st.booleans(), "description": plain_text},
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["string", "list"])},
        optional={"min": st.integers(0, 2), "max": st.integers(1, 5), "required": st.booleans()},
    ),
    st.fixed_dictionaries(
        {"type": st.just("string")},
        optional={"pattern": st.sampled_from(["[a-z]+", "[A-Z]{1,5}", "a|b"]),
                  "default": st.sampled_from(["abc", "AB", "a", "30 days"]), "description": st.none()},
    ),
    st.fixed_dictionaries({"enum": good_enums}, optional={"required": st.booleans()}),
)  # fmt: skip
good_requirements = st.dictionaries(
    st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,6}\Z"),
    st.one_of(st.sampled_from(["string", "number", "integer", "boolean", "list", "object"]), good_enums,
              good_specs),
    max_size=3,
)  # fmt: skip
task_values: dict[str, st.SearchStrategy[Any]] = {
    "name": mostly(st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,8}\Z"), names),
    "description": mostly(plain_text, st.one_of(st.sampled_from(["x" * 10_001]), junk)),
    "version": mostly(st.sampled_from(["1.0.0", "0.2.10", "2.0.0-rc.1", "1.2.3+abc"]), versions),
    "maxExecutionTime": mostly(good_durations, durations),
    "retry": mostly(retry_blocks, junk),
    "concurrency": mostly(
        mapping_of(
            {"maxConcurrentPhases": mostly(st.integers(1, 1000), whole_ish),
             "maxConcurrentAgents": mostly(st.integers(1, 10_000), whole_ish)}
        ),
        junk,
    ),
    "budget": mostly(
        mapping_of(
            {"maxTokens": mostly(st.integers(1, 10**12), whole_ish),
             "maxCost": mostly(st.floats(0.01, 1e9), number_ish),
             "maxCalls": mostly(st.integers(1, 10**7), whole_ish)}
        ),
        junk,
    ),
    "requirements": mostly(
        good_requirements, st.one_of(st.dictionaries(identifiers, requirement_entries, max_size=3), junk)
    ),
    "output": mostly(
        st.one_of(st.just("Verdict"), st.just({"decision": "phases.A.outputs.x", "big": "input.amount > 1"})),
        st.one_of(
            st.sampled_from(["  ", ""]), st.dictionaries(identifiers, expressions, max_size=3), junk
        ),
    ),
    "tags": mostly(st.lists(plain_text, max_size=3), st.one_of(st.lists(junk, max_size=2), junk)),
    "author": junk,
    "metadata": mostly(st.dictionaries(plain_text, junk, max_size=2), junk),
}  # fmt: skip


@st.composite
def blocks(draw: st.DrawFn) -> str:
    """A metadata block as YAML text; mostly with a good name, so that the other keys are what is tested."""
    data = draw(mapping_of(task_values))
    if "name" not in data and draw(ONE_IN_TEN):
        data["name"] = "demo"
    return to_yaml(data)


@given(blocks())
@MANY
@example("name: demo\nretry: {backoffMs: 40000}\n")  # the default cap (30 s) is below the start
@example("name: demo\nrequirements: {risk: [low, 1]}\n")
@example("name: demo\nrequirements: {amount: {type: integer, default: '12', min: 1}}\n")
@example("name: demo\nrequirements: {flag: {type: boolean, max: 1}}\n")
@example("name: demo\nrequirements: {x: {enum: [1, 2.5], default: 2.5}}\n")
@example("name: demo\nrequirements: {x: {enum: [1, 1.0]}}\n")
@example("name: demo\nrequirements: null\nauthor: null\n")
@example("name: demo\ndescription: null\n")
@example("name: demo\noutput: {decision: '(('}\n")
@example("name: demo\nversion: 1.0.0\nmaxExecutionTime: 30 days\n")
@example("name: demo\nmaxExecutionTime: 1h1h\n")
@example("name: demo\nretry: {maxAttempts: 3.0, jitter: 1}\nbudget: {maxCost: 1, maxTokens: 1.0e+12}\n")
@example("- name: demo\n")
@example('name: demo\nversion: "\u0661.0.0"\n')  # digits of other scripts: no version, no duration
@example('name: demo\nmaxExecutionTime: "\u0661s"\n')
@example("name:\n")
def test_the_model_and_the_checker_accept_the_same_blocks(text: str) -> None:
    assert_agree(text)


LIMITS = [
    ("retry", "maxAttempts", 1, 100, 0, 101),
    ("retry", "jitter", 0, 1, -0.01, 1.01),
    ("retry", "backoffMs", 0, "30s", None, 3_600_001),  # the default cap is 30 s
    ("retry", "maxBackoffMs", "1s", "1h", 999, 3_600_001),  # the default start is 1 s
    ("concurrency", "maxConcurrentPhases", 1, 1000, 0, 1001),
    ("concurrency", "maxConcurrentAgents", 1, 10_000, 0, 10_001),
    ("budget", "maxTokens", 1, 10**12, 0, 10**12 + 1),
    ("budget", "maxCost", 1e-9, 1e9, 0, 1e9 * 1.0000001),
    ("budget", "maxCalls", 1, 10**7, 0, 10**7 + 1),
    (None, "maxExecutionTime", 1, "30 days", 0, "30 days 1s"),
    (None, "description", "", "x" * 10_000, None, "x" * 10_001),
    (None, "name", "a", "a" * 100, "", "a" * 101),
]


@pytest.mark.parametrize(("section", "key", "low", "high", "below", "above"), LIMITS)
def test_the_model_and_the_checker_agree_at_each_limit_and_just_past_it(
    section: str | None, key: str, low: Any, high: Any, below: Any, above: Any
) -> None:
    """Hypothesis seldom draws a value exactly at a bound: each bound is tried by name."""
    for value, valid in ((low, True), (high, True), (below, False), (above, False)):
        if value is None:
            continue
        entry = {key: value}
        data: dict[str, Any] = {"name": "demo", **({section: entry} if section else entry)}
        text = to_yaml(data)
        assert (not checker_problems(text)) == valid, (text, checker_problems(text))
        assert_agree(text)


def _looks_like_metadata(text: str) -> bool:
    """A test's bare metadata text (``make_text(meta=...)``): a mapping with a name, mostly task keys."""
    try:
        value = load_yaml(text).value
    except YamlProblem:
        return False
    return (
        isinstance(value, dict)
        and "name" in value
        and sum(key in checker.TASK_KEYS for key in value) * 2 > len(value)
    )


def _metadata_blocks() -> list[tuple[str, str]]:
    """The metadata block of every task file shipped or written in the tests (.md files, Python strings
    holding a task file), and the tests' bare metadata texts."""
    candidates: list[tuple[str, str | None]] = []
    for path in sorted([*(ROOT / "src" / "quorum").rglob("*.md"), *(ROOT / "tests").rglob("*.md")]):
        candidates.append((str(path.relative_to(ROOT)), outline(path.read_text(encoding="utf-8")).metadata))
    for path in sorted((ROOT / "tests").rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if "```yaml\n" in node.value:
                candidates.append((where, outline(node.value).metadata))
            elif _looks_like_metadata(node.value):
                candidates.append((where, node.value))
    blocks: list[tuple[str, str]] = []
    for where, block in candidates:
        if block is None:
            continue
        try:
            load_yaml(block)
        except YamlProblem:
            continue  # refused before either side sees a value
        blocks.append((where, block))
    return blocks


METADATA_BLOCKS = _metadata_blocks()


def test_the_shipped_tasks_and_the_tests_tasks_are_many() -> None:
    shipped = [w for w, _ in METADATA_BLOCKS if w.startswith("src/")]
    assert len(shipped) >= 2
    assert len(METADATA_BLOCKS) >= 60


@pytest.mark.parametrize(("where", "block"), METADATA_BLOCKS, ids=[w for w, _ in METADATA_BLOCKS])
def test_the_model_and_the_checker_agree_on_every_task_in_the_project(where: str, block: str) -> None:
    assert_agree(block)


def test_the_shipped_tasks_are_valid_for_the_model() -> None:
    for where, block in METADATA_BLOCKS:
        if where.startswith("src/"):
            assert model_accepts(load_yaml(block).value), where


# -- pointers -----------------------------------------------------------------------------------------

POINTED = """\
name: demo
retry: {maxAttempts: 0, bogus: 1, backoffMs: 40000}
concurrency:
  maxConcurrentPhases: 0
budget: {maxCost: 0, maxCalls: yes}
requirements:
  risk: [low, 1]
  amount: {type: integer, default: lots}
  flag: {type: boolean, colour: red}
  a/b~c: string
output: {decision: '((', 1x: phases.A.outputs.y}
tags: 3
maxExecutionTime: 0
"""


def test_each_problem_in_the_metadata_block_carries_its_json_pointer() -> None:
    problems = {(p.pointer, p.line) for p in checker_problems(POINTED)}
    assert problems == {
        ("/retry/maxAttempts", 2),
        ("/retry/bogus", 2),
        ("/retry/maxBackoffMs", 2),
        ("/concurrency/maxConcurrentPhases", 4),
        ("/budget/maxCost", 5),
        ("/budget/maxCalls", 5),
        ("/requirements/risk", 7),
        ("/requirements/amount/default", 8),
        ("/requirements/flag/colour", 9),
        ("/requirements/a~1b~0c", 10),
        ("/output/decision", 11),
        ("/output/1x", 11),
        ("/tags", 12),
        ("/maxExecutionTime", 13),
    }


def test_a_pointer_names_the_place_in_the_schema_of_what_is_wrong() -> None:
    """Every pointer's first step is a key of the schema, so an editor can find the rule it broke."""
    keys = set(generate_schema()["properties"])
    pointers = [p.pointer for p in checker_problems(POINTED)]
    assert pointers
    assert all(p is not None and p.split("/")[1] in keys for p in pointers)


def test_the_whole_block_and_a_missing_name_point_at_the_root_and_phase_headers_point_nowhere() -> None:
    assert [p.pointer for p in checker_problems("- a list\n")] == [""]
    assert [p.pointer for p in checker_problems("description: x\n")] == [""]
    assert [p.pointer for p in checker_problems("name:\n")] == ["/name"]
    text = "# T\n\n```yaml\nname: t\n```\n\n## Phase: A\nretry: {maxAttempts: 0}\n\n### Steps\n- hi\n"
    errors = [p for p in TaskParser().lint_content(text) if p.severity == "error"]
    assert [(p.line, p.pointer) for p in errors] == [(8, None)]


def test_the_schema_is_json_the_standard_library_reads() -> None:
    loaded = json.loads(shipped_schema_text())
    assert loaded["$id"] == SCHEMA_ID


def test_the_outputs_references_point_at_their_output_field() -> None:
    """Found after the phases are read (a phase the output names, an input it reads), still in the block."""
    text = (
        "# T\n\n```yaml\nname: t\nrequirements: {ticker: string}\n"
        "output: {decision: phases.Nope.outputs.x, size: input.tikcer}\n```\n\n"
        "## Phase: A\n\n### Agents\n- analyst\n\n### Steps\n- Look at {{ input.ticker }}\n"
    )
    found = {(p.severity, p.pointer) for p in TaskParser().lint_content(text) if p.line == 6}
    assert found == {("error", "/output/decision"), ("warning", "/output/size")}
    named = "# T\n\n```yaml\nname: t\noutput: Nope\n```\n\n## Phase: A\n\n### Steps\n- hi\n"
    errors = [p for p in TaskParser().lint_content(named) if p.severity == "error"]
    assert [(p.line, p.pointer) for p in errors] == [(5, "/output")]
