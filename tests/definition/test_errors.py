"""Every definition error: the message names what is wrong, where, and how to fix it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from quorum.definition.parser import TaskParser
from quorum.errors import DefinitionError, Problem

pytestmark = [pytest.mark.errors]

Errors = Callable[[str], list[Problem]]
Text = Callable[..., str]


def one(errors: Errors, document: str) -> Problem:
    found = errors(document)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def line_of(document: str, fragment: str) -> int:
    for number, line in enumerate(document.splitlines(), 1):
        if fragment in line:
            return number
    raise AssertionError(fragment)


PHASE = "### Agents\n- x\n### Steps\n- do it\n"


def test_duplicate_phase_names(errors: Errors, text: Text) -> None:
    doc = text(f"## Phase: A\n{PHASE}\n## Phase: A\n{PHASE}")
    problem = one(errors, doc)
    assert "duplicate phase name 'A'" in problem.message
    assert problem.line == doc.splitlines().index("## Phase: A", line_of(doc, "## Phase: A")) + 1
    assert problem.source == "task.md"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Analysis", "ANALYSIS"),
        ("Ａｎａｌｙｓｉｓ", "Analysis"),
        ("Straße", "STRASSE"),
        ("Round  Table", "round table"),
    ],
)
def test_duplicate_phase_names_after_normalisation(
    errors: Errors, text: Text, first: str, second: str
) -> None:
    problem = one(errors, text(f"## Phase: {first}\n{PHASE}\n## Phase: {second}\n{PHASE}"))
    assert "duplicate phase name" in problem.message
    assert "normalised" in problem.message


def test_unknown_depends_on_with_suggestion(errors: Errors, text: Text) -> None:
    doc = text(f"## Phase: Analysis\n{PHASE}\n## Phase: B\ndependsOn: [Analysys]\n{PHASE}")
    problem = one(errors, doc)
    assert "unknown phase 'Analysys'" in problem.message
    assert "did you mean 'Analysis'" in problem.message
    assert problem.line == line_of(doc, "dependsOn: [Analysys]")


def test_unknown_depends_on_case_mismatch_suggests_exact_name(errors: Errors, text: Text) -> None:
    problem = one(
        errors, text(f"## Phase: Round Table\n{PHASE}\n## Phase: B\ndependsOn: round table\n{PHASE}")
    )
    assert "did you mean 'Round Table'" in problem.message


def test_circular_dependency_reports_the_path(errors: Errors, text: Text) -> None:
    doc = text(
        f"## Phase: A\ndependsOn: [C]\n{PHASE}\n## Phase: B\ndependsOn: [A]\n{PHASE}\n"
        f"## Phase: C\ndependsOn: [B]\n{PHASE}"
    )
    problem = one(errors, doc)
    assert problem.message == "circular dependency: A -> C -> B -> A"
    assert problem.line == line_of(doc, "## Phase: A")
    assert problem.hint


def test_self_dependency_and_two_cycles(errors: Errors, text: Text) -> None:
    doc = text(
        f"## Phase: A\ndependsOn: [A]\n{PHASE}\n## Phase: B\ndependsOn: [C]\n{PHASE}\n"
        f"## Phase: C\ndependsOn: [B]\n{PHASE}"
    )
    found = [p.message for p in errors(doc)]
    assert found == ["circular dependency: A -> A", "circular dependency: B -> C -> B"]


def test_no_phases(errors: Errors, text: Text) -> None:
    problem = one(errors, text("Just prose.\n"))
    assert "no phases" in problem.message
    assert "## Phase:" in (problem.hint or "")


def test_missing_name(errors: Errors, text: Text) -> None:
    problem = one(errors, text(meta="description: nameless"))
    assert "no name" in problem.message
    assert "name:" in (problem.hint or "")


def test_missing_metadata_block(errors: Errors) -> None:
    problem = one(errors, f"# Title\n\n## Phase: A\n{PHASE}")
    assert "no ```yaml metadata block" in problem.message


@pytest.mark.parametrize("name", ["Has Spaces", "UPPER", "../escape", "a/b", "-dash", "x" * 101, "é"])
def test_bad_task_names(errors: Errors, text: Text, name: str) -> None:
    problem = one(errors, text(meta=f"name: '{name}'"))
    assert "is not allowed" in problem.message
    assert problem.line == 6


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("-5s", "negative"),
        ("5 parsecs", "unknown unit"),
        ("45 days", "maximum of 30 days"),
        (".nan", "finite"),
        (".inf", "finite"),
        ("0", "longer than zero"),
        ("yes", "not bool"),
        ("[1]", "not list"),
    ],
)
def test_bad_durations(errors: Errors, text: Text, value: str, fragment: str) -> None:
    doc = text(f"## Phase: A\ntimeout: {value}\n{PHASE}", meta=f"name: demo\nmaxExecutionTime: {value}")
    found = errors(doc)
    assert len(found) == 2
    assert all(fragment in p.message for p in found), found
    assert [p.line for p in found] == [line_of(doc, "maxExecutionTime"), line_of(doc, "timeout:")]


@pytest.mark.parametrize(
    ("value", "fragment", "hint"),
    [
        ("0", "at least 1", None),
        ("-2", "at least 1", None),
        ("1000000", "absurdly large", None),
        ("yes", "not the boolean true", "booleans"),
        ("'3'", "not the text '3'", "without quotes"),
        ("2.5", "whole number", None),
        ("[3]", "whole number", None),
    ],
)
def test_bad_retries(errors: Errors, text: Text, value: str, fragment: str, hint: str | None) -> None:
    doc = text(
        f"## Phase: A\nretry: {{maxAttempts: {value}}}\n{PHASE}",
        meta=f"name: demo\nretry:\n  maxAttempts: {value}",
    )
    found = errors(doc)
    assert len(found) == 2, found
    for problem in found:
        assert fragment in problem.message
        assert "maxAttempts" in problem.message
        if hint:
            assert hint in (problem.hint or "")
    assert found[0].line == line_of(doc, "  maxAttempts")


def test_bad_retry_fields(errors: Errors, text: Text) -> None:
    doc = text(meta="name: demo\nretry: {backoffMs: -1, jitter: 2, maxBackof: 3, maxBackoffMs: 2 hours}")
    found = " | ".join(p.message for p in errors(doc))
    assert "retry.backoffMs" in found
    assert "negative" in found
    assert "retry.jitter" in found
    assert "at most 1" in found
    assert "unknown key 'maxBackof'" in found
    assert "did you mean 'maxBackoffMs'" in found
    assert "retry.maxBackoffMs" in found
    assert "absurdly long" in found


def test_backoff_larger_than_maximum(errors: Errors, text: Text) -> None:
    problem = one(errors, text(meta="name: demo\nretry: {backoffMs: 5000, maxBackoffMs: 100}"))
    assert "smaller than backoffMs" in problem.message


@pytest.mark.parametrize(
    ("kind", "suggested"),
    [("agnet", "agent"), ("aggregat", "aggregate"), ("validaton", "validation"), ("promt", "prompt")],
)
def test_unknown_step_type_near_builtin(errors: Errors, text: Text, kind: str, suggested: str) -> None:
    doc = text(f"## Phase: A\n### Agents\n- x\n### Steps\n- {kind}: something\n")
    problem = one(errors, doc)
    assert f"unknown step type '{kind}'" in problem.message
    assert f"did you mean '{suggested}'" in problem.message
    assert problem.line == line_of(doc, f"- {kind}:")


def test_unknown_aggregator_near_builtin(errors: Errors, text: Text) -> None:
    problem = one(errors, text("## Phase: A\n### Agents\n- x\n### Steps\n- aggregate: concensus\n"))
    assert "did you mean 'consensus'" in problem.message


@pytest.mark.parametrize(
    ("bullet", "fragment"),
    [
        ("Analyse {{ input.ticker }", "template error"),
        ("agent: x - Check {% if %}", "template error"),
        ("validation: input.amount > - positive", "does not compile"),
        ("validation: input.amount >> 2 - x", "does not compile"),
        ("validation:  - only a message", "no condition"),
        ("agent: x", "needs a query"),
        ("agent: Bad_Id - hello", "not an agent id"),
        ("aggregate:", "needs a type"),
        ("aggregate: vote 'unbalanced", "quotes"),
        ("aggregate: vote notkeyvalue", "key=value"),
        ("prompt:", "empty prompt"),
        ("my-step: {{ broken", "template error"),
        ("Use {{ ''.__class__ }}", "refused"),
    ],
)
def test_step_errors(errors: Errors, text: Text, bullet: str, fragment: str) -> None:
    doc = text(f"## Phase: A\n### Agents\n- x\n### Steps\n- {bullet}\n")
    problem = one(errors, doc)
    assert fragment in problem.message, problem
    assert problem.line == line_of(doc, bullet.split()[0])


def test_condition_that_does_not_compile(errors: Errors, text: Text) -> None:
    doc = text(f"## Phase: A\nwhen: input.amount >\n{PHASE}")
    problem = one(errors, doc)
    assert "when" in problem.message
    assert "does not compile" in problem.message
    assert problem.line == line_of(doc, "when:")


def test_unquoted_template_in_header_gets_a_hint(errors: Errors, text: Text) -> None:
    problem = one(errors, text(f"## Phase: A\nwhen: {{{{ input.x }}}}\n{PHASE}"))
    assert "quote" in (problem.hint or "")


@pytest.mark.parametrize(
    ("spec", "fragment", "hint"),
    [
        ("str", "unknown type the text 'str'", "did you mean 'string'?"),
        ("{type: int}", "unknown type the text 'int'", "did you mean 'integer'?"),
        ("strng", "unknown type", "did you mean 'string'?"),
        ("42", "must be a type", None),
        ("{type: number, min: 5, max: 1}", "greater than max", None),
        ("{type: string, pattern: '('}", "pattern does not compile", None),
        ("{type: number, pattern: 'x'}", "applies only to type string", None),
        ("{type: boolean, min: 1}", "does not apply", None),
        ("{type: number, default: abc}", "default does not fit", None),
        ("{type: string, reqired: false}", "unknown key 'reqired'", None),
        ("[]", "non-empty list", None),
        ("[a, 1]", "mix types", None),
        ("[a, a]", "distinct", None),
        ("{enum: [a, b], default: c}", "default does not fit", None),
    ],
)
def test_bad_requirements(errors: Errors, text: Text, spec: str, fragment: str, hint: str | None) -> None:
    doc = text(meta=f"name: demo\nrequirements:\n  ticker: string\n  field: {spec}")
    problem = one(errors, doc)
    assert fragment in problem.message, problem
    assert problem.line == line_of(doc, "field:")
    if hint:
        assert hint in (problem.hint or problem.message)


def test_requirement_names_must_be_identifiers(errors: Errors, text: Text) -> None:
    problem = one(errors, text(meta="name: demo\nrequirements:\n  ticker: string\n  bad-name: string"))
    assert "not an identifier" in problem.message


def test_unknown_agent_ids_with_registry(text: Text) -> None:
    doc = text("## Phase: A\n### Agents\n- analyts\n### Steps\n- agent: chiar - go\n")
    with pytest.raises(DefinitionError) as info:
        TaskParser(agent_ids=["analyst", "chair"]).parse_task_content(doc)
    found = [p.message for p in info.value.errors]
    assert len(found) == 2
    assert "unknown agent 'analyts'" in found[0]
    assert "did you mean 'analyst'" in found[0]
    assert "unknown agent 'chiar'" in found[1]
    assert "did you mean 'chair'" in found[1]


def test_unknown_agents_are_fine_without_registry(parser: TaskParser, text: Text) -> None:
    parser.parse_task_content(text("## Phase: A\n### Agents\n- anyone\n### Steps\n- a\n"))


@pytest.mark.parametrize(
    ("meta", "fragment"),
    [
        (
            "name: demo\ndescripton: x",
            "unknown key 'descripton' in the task metadata (did you mean 'description'?)",
        ),
        ("name: demo\nmax_execution_time: 5s", "did you mean 'maxExecutionTime'"),
        ("name: demo\nconcurrency: {maxPhases: 2}", "unknown key 'maxPhases'"),
        ("name: demo\nbudget: {maxTokens: 0}", "at least 1"),
        ("name: demo\nbudget: {maxCost: -1}", "greater than 0"),
        ("name: demo\nversion: 1.0", "semantic version"),
        ("name: demo\noutput: Verdikt", "unknown phase 'Verdikt'"),
        ("name: demo\noutput: [a]", "phase name or a mapping"),
        ("name: demo\noutput: {decision: 'a b'}", "does not compile"),
        ("name: demo\ntags: tag", "tags must be a list"),
        ("- just\n- a list", "must be a YAML mapping"),
        ("name: demo\nname: again", "appears twice"),
        ("name: [demo", "invalid YAML"),
    ],
)
def test_metadata_errors(errors: Errors, text: Text, meta: str, fragment: str) -> None:
    found = errors(text(meta=meta))
    assert any(fragment in p.message for p in found), found


def test_unknown_phase_keys(errors: Errors, text: Text) -> None:
    doc = text(f"## Phase: A\ndepends: [B]\nparalel: true\n{PHASE}")
    found = errors(doc)
    assert [p.line for p in found] == [line_of(doc, "depends:"), line_of(doc, "paralel")]
    assert "did you mean 'dependsOn'" in found[0].message
    assert "did you mean 'parallel'" in found[1].message


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("parallel: maybe", "true or false"),
        ("minAgents: 0", "at least 1"),
        ("rounds: 1000", "absurdly large"),
        ("dependsOn: [{a: 1}]", "must be phase names"),
        ("Some prose that should be under a heading.", "'key: value' lines"),
    ],
)
def test_phase_header_errors(errors: Errors, text: Text, header: str, fragment: str) -> None:
    problem = one(errors, text(f"## Phase: A\n{header}\n{PHASE}"))
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("### Agents\n- two words here\n", "not an agent id"),
        ("### Agents\n- x\n- x\n", "listed twice"),
        ("### Agents\n- {{ broken( }}\n", "does not compile"),
        ("### Outputs\n- bad-name: x\n", "not an identifier"),
        ("### Outputs\n- a (str): x\n", "unknown type 'str'"),
        ("### Outputs\n- a: x\n- a: y\n", "declared twice"),
        ("### Steps\n- a\n### Steps\n- b\n", "second '### Steps'"),
    ],
)
def test_section_errors(errors: Errors, text: Text, section: str, fragment: str) -> None:
    found = errors(
        text(
            f"## Phase: A\n### Agents\n- y\n{section}"
            if "Agents" not in section
            else f"## Phase: A\n{section}### Steps\n- s\n"
        )
    )
    assert any(fragment in p.message for p in found), found


@pytest.mark.parametrize("name", ['Bad "quote"', "Curly {x}"])
def test_bad_phase_names(errors: Errors, text: Text, name: str) -> None:
    problem = one(errors, text(f"## Phase: {name}\n{PHASE}"))
    assert "is not allowed" in problem.message


def test_empty_phase_name(errors: Errors, text: Text) -> None:
    problem = one(errors, text(f"## Phase:\n{PHASE}"))
    assert "no name" in problem.message


def test_all_errors_are_reported_together(parser: TaskParser, text: Text) -> None:
    doc = text(
        "## Phase: A\ntimeout: -1s\n### Agents\n- x\n### Steps\n- agnet: x\n\n## Phase: B\ndependsOn: [Z]\n"
        "retry: {maxAttempts: 0}\n### Agents\n- x\n### Steps\n- validation: a > - m\n",
        meta="name: demo\nversoin: 1.0.0",
    )
    with pytest.raises(DefinitionError) as info:
        parser.parse_task_content(doc, source="t.md")
    found = info.value.errors
    assert len(found) == 6
    assert [p.line for p in found] == sorted(p.line or 0 for p in found)  # in file order
    text_of_error = str(info.value)
    assert text_of_error.count("t.md:") == 6
    assert "Traceback" not in text_of_error


def test_lint_returns_warnings_and_errors_without_raising(parser: TaskParser, text: Text) -> None:
    doc = text("## Phase: A\n### Steps\n- a prompt without agents\n- custom-thing: x\n## Phase B\n")
    problems = parser.lint_content(doc)
    assert {p.severity for p in problems} == {"warning"}
    joined = " | ".join(p.message for p in problems)
    assert "no agents" in joined
    assert "custom-thing" in joined
    assert "looks like a phase" in joined


def test_min_agents_warning(parser: TaskParser, text: Text) -> None:
    problems = parser.lint_content(text("## Phase: A\nminAgents: 3\n### Agents\n- x\n### Steps\n- go\n"))
    assert any("minAgents" in p.message for p in problems)


def test_problem_str_has_location_and_hint(errors: Errors, text: Text) -> None:
    problem = one(errors, text(meta="description: nameless"))
    assert str(problem).startswith("task.md:6: error: the task has no name (hint: ")


def test_template_reading_an_unknown_phase(errors: Errors, text: Text) -> None:
    doc = text(
        "## Phase: Gather\n### Agents\n- x\n### Steps\n- go\n## Phase: B\ndependsOn: [Gather]\n"
        "### Agents\n- x\n### Steps\n- Use {{ phases.Gathr.outputs.x }}\n"
    )
    problem = one(errors, doc)
    assert "reads phases.Gathr, which is not a phase (did you mean 'Gather'?)" in problem.message
    assert problem.line == line_of(doc, "phases.Gathr")


def test_expression_reading_an_unknown_phase(errors: Errors, text: Text) -> None:
    problem = one(errors, text(f'## Phase: A\nwhen: phases["No Such"].outputs.ok\n{PHASE}'))
    assert "phases.No Such, which is not a phase" in problem.message


def test_output_mapping_reading_an_unknown_phase(errors: Errors, text: Text) -> None:
    problem = one(errors, text(meta="name: demo\noutput: {d: phases.Nope.outputs.d}"))
    assert "output.d reads phases.Nope" in problem.message


def test_reading_a_phase_that_is_not_upstream_is_a_warning(parser: TaskParser, text: Text) -> None:
    doc = text(
        "## Phase: A\n### Agents\n- x\n### Steps\n- go\n## Phase: B\n### Agents\n- x\n### Steps\n"
        "- Use {{ phases.A.outputs.x }} and {{ phases.B.outputs.y }}\n- phases.A in plain prose is fine\n"
    )
    problems = parser.lint_content(doc)
    assert [p.severity for p in problems] == ["warning"]
    assert "reads the outputs of 'A' but does not depend on it" in problems[0].message


def test_reading_an_undeclared_input_is_a_warning(parser: TaskParser, text: Text) -> None:
    problems = parser.lint_content(text(f"## Phase: A\nwhen: input.tiker == 'x'\n{PHASE}"))
    assert len(problems) == 1
    assert problems[0].severity == "warning"
    assert "input.tiker, which is not a requirement (did you mean 'ticker'?)" in problems[0].message


def test_a_task_step_reads_its_templates_not_the_childs_field_names(parser: TaskParser, text: Text) -> None:
    doc = text("## Phase: A\n### Steps\n"
               "- task: other input.company={{ input.ticker }} input.size={{ input.sise }}\n")
    problems = parser.lint_content(doc)
    messages = [p.message for p in problems if "not a requirement" in p.message]
    assert len(messages) == 1  # input.company and input.size are the child's fields
    assert "input.sise, which is not a requirement" in messages[0]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("{type: string, required: maybe}", "required must be true or false"),
        ("{type: string, description: 5}", "description must be text"),
        ("{type: number, min: abc}", "min must be a number"),
        ("{type: number, max: .inf}", "max must be a number"),
        ("{enum: 5}", "non-empty list"),
        ("{type: boolean, enum: [1, 2]}", "the allowed values must all be of type boolean"),
        ("{type: integer, enum: ['1', '2']}", "the allowed values must all be of type integer"),
    ],
)
def test_more_requirement_errors(errors: Errors, text: Text, spec: str, fragment: str) -> None:
    doc = text(meta=f"name: demo\nrequirements:\n  ticker: string\n  field: {spec}")
    found = errors(doc)
    assert any(fragment in p.message for p in found), found


def test_requirements_must_be_a_mapping(errors: Errors, text: Text) -> None:
    problem = one(errors, text(meta="name: demo\nrequirements: [ticker]"))
    assert "requirements must be a mapping" in problem.message


@pytest.mark.parametrize(
    ("bullet", "fragment", "severity"),
    [
        ("aggregate: Vote", "is not an aggregator name", "error"),
        ("aggregate: weighted-median", "is not built in", "warning"),
        ("aggregate: average 'a b'", "key=value", "error"),
    ],
)
def test_aggregate_names(parser: TaskParser, text: Text, bullet: str, fragment: str, severity: str) -> None:
    problems = parser.lint_content(text(f"## Phase: A\n### Agents\n- x\n### Steps\n- {bullet}\n"))
    assert [p.severity for p in problems] == [severity]
    assert fragment in problems[0].message


def test_long_description_is_refused(errors: Errors, text: Text) -> None:
    problem = one(errors, text(meta="name: demo\ndescription: " + "x" * 10_001))
    assert "longer than 10000 characters" in problem.message


def test_phase_description_must_be_text(errors: Errors, text: Text) -> None:
    problem = one(errors, text(f"## Phase: A\ndescription: [a]\n{PHASE}"))
    assert "description must be text" in problem.message


def test_timeout_as_plain_milliseconds(parser: TaskParser, text: Text) -> None:
    task = parser.parse_task_content(text(f"## Phase: A\ntimeout: 1500\n{PHASE}"))
    assert task.phases[0].timeout_s == 1.5
