"""The task format, rule by rule: what each construct parses to."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from quorum.definition.model import RetryPolicy, StepKind, Task
from quorum.definition.parser import TaskParser

pytestmark = [pytest.mark.unit]

FULL = """\
# Investment Committee Meeting

Free prose is allowed anywhere outside the metadata block.

```yaml
name: investment-committee
description: A committee
version: 1.2.3
maxExecutionTime: 5 minutes
retry: {maxAttempts: 2, backoffMs: 500, maxBackoffMs: 5000, jitter: 0.2}
concurrency: {maxConcurrentPhases: 4, maxConcurrentAgents: 8}
budget: {maxTokens: 200000, maxCost: 2.5, maxCalls: 100}
tags: [committee]
requirements:
  ticker: string
  amount: {type: number, min: 1, description: Amount in USD}
  timeHorizon: {type: string, default: 30 days}
  riskTolerance: [low, medium, high]
  prices: {type: list, required: false}
output: Verdict
```

## Phase: Activation
checkpoint: true

### Steps
- validation: input.amount > 0 - The amount must be positive
- agent: intake-validator - Check the request for {{ input.ticker }}

### Outputs
- request (object): the validated request

## Phase: Analysis
dependsOn: [Activation]
parallel: true
timeout: 60s
retry: {maxAttempts: 3}
minAgents: 2
when: input.amount > 0
optional: true
rounds: 2
description: Everyone looks at it.

### Agents
- technical-analyst
- macro-analyst - the macro view
- {{ phases.Activation.outputs.agents }}

### Steps
- Analyse {{ input.ticker }} for a {{ input.timeHorizon }} horizon
  - momentum
  - valuation
- aggregate: consensus weight=confidence min=0.6

### Notes
Prose under another heading is kept as the description.

### Outputs
- consensus (object): the committee view
- stance: bullish, bearish or neutral

## Phase: Verdict
dependsOn: Analysis

### Steps
- agent: committee-chair - Decide on {{ input.ticker }}

### Outputs
- decision (string): buy, sell or hold
"""


@pytest.fixture
def task(parser: TaskParser) -> Task:
    return parser.parse_task_content(FULL, source="committee.md")


def test_metadata(task: Task) -> None:
    assert task.name == "investment-committee"
    assert task.title == "Investment Committee Meeting"
    assert task.description == "A committee"
    assert task.version == "1.2.3"
    assert task.max_execution_time_s == 300.0
    assert task.retry == RetryPolicy(max_attempts=2, backoff_ms=500.0, max_backoff_ms=5000.0, jitter=0.2)
    assert (task.max_concurrent_phases, task.max_concurrent_agents) == (4, 8)
    assert dict(task.budget) == {"maxTokens": 200000, "maxCost": 2.5, "maxCalls": 100}
    assert task.metadata["tags"] == ("committee",)
    assert task.output.phase == "Verdict"
    assert task.source == "committee.md"
    assert task.document == FULL


def test_requirements(task: Task) -> None:
    reqs = {r.name: r for r in task.requirements}
    assert list(reqs) == ["ticker", "amount", "timeHorizon", "riskTolerance", "prices"]
    assert reqs["ticker"].type == "string"
    assert reqs["ticker"].required
    assert reqs["amount"].type == "number"
    assert reqs["amount"].min == 1
    assert reqs["amount"].description == "Amount in USD"
    assert reqs["timeHorizon"].default == "30 days"
    assert not reqs["timeHorizon"].required
    assert reqs["riskTolerance"].enum == ("low", "medium", "high")
    assert reqs["riskTolerance"].type == "string"
    assert reqs["prices"].type == "list"
    assert not reqs["prices"].required
    assert reqs["ticker"].line == 15


def test_phase_headers(task: Task) -> None:
    activation, analysis, verdict = task.phases
    assert activation.checkpoint
    assert not activation.parallel
    assert analysis.depends_on == ("Activation",)
    assert analysis.parallel
    assert analysis.optional
    assert analysis.timeout_s == 60.0
    assert analysis.retry == RetryPolicy(max_attempts=3, backoff_ms=500.0, max_backoff_ms=5000.0, jitter=0.2)
    assert task.retry_for(analysis).max_attempts == 3
    assert task.retry_for(activation).max_attempts == 2
    assert analysis.min_agents == 2
    assert analysis.rounds == 2
    assert analysis.when == "input.amount > 0"
    assert verdict.depends_on == ("Analysis",)  # one name, not a list
    lines = FULL.splitlines()
    assert activation.line == lines.index("## Phase: Activation") + 1
    assert analysis.line == lines.index("## Phase: Analysis") + 1


def test_description_collects_header_and_prose(task: Task) -> None:
    description = task.phase("Analysis").description
    assert description.startswith("Everyone looks at it.")
    assert "### Notes\nProse under another heading is kept as the description." in description


def test_steps(task: Task) -> None:
    validation, agent = task.phase("Activation").steps
    assert validation.kind is StepKind.VALIDATION
    assert validation.condition == "input.amount > 0"
    assert validation.text == "The amount must be positive"
    assert (
        validation.line
        == FULL.splitlines().index("- validation: input.amount > 0 - The amount must be positive") + 1
    )
    assert validation.index == 0
    assert agent.index == 1
    assert agent.kind is StepKind.AGENT
    assert agent.agent == "intake-validator"
    assert agent.text == "Check the request for {{ input.ticker }}"
    prompt, aggregate = task.phase("Analysis").steps
    assert prompt.kind is StepKind.PROMPT
    assert (
        prompt.text
        == "Analyse {{ input.ticker }} for a {{ input.timeHorizon }} horizon\n- momentum\n- valuation"
    )
    assert aggregate.kind is StepKind.AGGREGATE
    assert aggregate.type == "consensus"
    assert dict(aggregate.parameters) == {"weight": "confidence", "min": 0.6}


def test_agents_static_and_dynamic(task: Task) -> None:
    analysis = task.phase("Analysis")
    assert analysis.agents == ("technical-analyst", "macro-analyst")
    assert analysis.agent_expressions == ("phases.Activation.outputs.agents",)


def test_outputs(task: Task) -> None:
    consensus, stance = task.phase("Analysis").outputs
    assert (consensus.name, consensus.type, consensus.description) == (
        "consensus",
        "object",
        "the committee view",
    )
    assert (stance.name, stance.type, stance.description) == ("stance", None, "bullish, bearish or neutral")


def test_hashes_are_stable_and_present(task: Task, parser: TaskParser) -> None:
    again = parser.parse_task_content(FULL, source="elsewhere.md")
    assert task.content_hash == again.content_hash
    assert len(task.content_hash) == 64
    assert [p.content_hash for p in task.phases] == [p.content_hash for p in again.phases]
    assert len({p.content_hash for p in task.phases}) == 3


def test_phase_hash_changes_downstream_only(task: Task, parser: TaskParser) -> None:
    changed = parser.parse_task_content(FULL.replace("Everyone looks at it.", "Everyone looks hard."))
    before = {str(p.name): p.content_hash for p in task.phases}
    after = {str(p.name): p.content_hash for p in changed.phases}
    assert before["Activation"] == after["Activation"]
    assert before["Analysis"] != after["Analysis"]
    assert before["Verdict"] != after["Verdict"]  # downstream of the change
    assert task.content_hash != changed.content_hash


def test_moving_prose_keeps_phase_hashes(task: Task, parser: TaskParser) -> None:
    moved = parser.parse_task_content(
        FULL.replace("Free prose is allowed", "More prose here.\n\nFree prose is allowed")
    )
    assert [p.content_hash for p in moved.phases] == [p.content_hash for p in task.phases]
    assert moved.content_hash != task.content_hash


def test_trailing_whitespace_does_not_change_the_task_hash(task: Task, parser: TaskParser) -> None:
    noisy = parser.parse_task_content(FULL.replace("\n", "   \n") + "\n\n\n")
    assert noisy.content_hash == task.content_hash


def test_task_level_retry_change_changes_phase_hashes(task: Task, parser: TaskParser) -> None:
    changed = parser.parse_task_content(FULL.replace("maxAttempts: 2,", "maxAttempts: 4,"))
    assert changed.phase("Activation").content_hash != task.phase("Activation").content_hash


def test_json_round_trip(task: Task) -> None:
    data = json.loads(json.dumps(task.to_dict()))
    assert Task.from_dict(data) == task


@pytest.mark.parametrize(
    ("bullet", "kind", "fields"),
    [
        ("Plain text prompt", StepKind.PROMPT, {"text": "Plain text prompt"}),
        ("Note: capitalised is a prompt", StepKind.PROMPT, {"text": "Note: capitalised is a prompt"}),
        ("prompt: note: x", StepKind.PROMPT, {"text": "note: x"}),
        ("see http://example.com", StepKind.PROMPT, {"text": "see http://example.com"}),
        ("ratio:3 without a space", StepKind.PROMPT, {"text": "ratio:3 without a space"}),
        (
            "agent: risk-officer - Review - carefully",
            StepKind.AGENT,
            {"agent": "risk-officer", "text": "Review - carefully"},
        ),
        (
            "validation: input.x in ['a - b', 'c'] - bad x",
            StepKind.VALIDATION,
            {"condition": "input.x in ['a - b', 'c']", "text": "bad x"},
        ),
        (
            "validation: (a - b) > 0 - must grow",
            StepKind.VALIDATION,
            {"condition": "(a - b) > 0", "text": "must grow"},
        ),
        (
            "validation: input.ok",
            StepKind.VALIDATION,
            {"condition": "input.ok", "text": "validation failed: input.ok"},
        ),
        ("aggregate: vote", StepKind.AGGREGATE, {"type": "vote"}),
        ("aggregate: average field='a b' n=3 flag=true", StepKind.AGGREGATE, {"type": "average"}),
        (
            "custom-analysis: depth=3 mode=fast",
            StepKind.CUSTOM,
            {"type": "custom-analysis", "text": "depth=3 mode=fast"},
        ),
        (
            "summarize: the {{ input.ticker }} story",
            StepKind.CUSTOM,
            {"type": "summarize", "text": "the {{ input.ticker }} story"},
        ),
    ],
)
def test_step_rules(
    parser: TaskParser, text: Callable[..., str], bullet: str, kind: StepKind, fields: dict[str, str]
) -> None:
    task = parser.parse_task_content(text(f"## Phase: A\n### Agents\n- x\n### Steps\n- {bullet}\n"))
    (step,) = task.phases[0].steps
    assert step.kind is kind
    for name, value in fields.items():
        assert getattr(step, name) == value
    assert step.raw == bullet


def test_step_parameters(parser: TaskParser, text: Callable[..., str]) -> None:
    body = (
        "## Phase: A\n### Agents\n- x\n### Steps\n"
        "- aggregate: average field='a b' n=3 flag=true\n- mine: k=v 2\n"
        "- mine: k=v j='[1, 2]'\n"
    )
    agg, mixed, listy = parser.parse_task_content(text(body)).phases[0].steps
    assert dict(agg.parameters) == {"field": "a b", "n": 3, "flag": True}
    assert dict(mixed.parameters) == {}  # not all tokens are key=value
    assert mixed.text == "k=v 2"
    assert dict(listy.parameters) == {"k": "v", "j": (1, 2)}


def test_ordered_lists_and_star_bullets(parser: TaskParser, text: Callable[..., str]) -> None:
    body = "## Phase: A\n### Agents\n* x\n+ y\n### Steps\n1. first\n2) second\n"
    phase = parser.parse_task_content(text(body)).phases[0]
    assert phase.agents == ("x", "y")
    assert [s.text for s in phase.steps] == ["first", "second"]


def test_header_as_yaml_fence(parser: TaskParser, text: Callable[..., str]) -> None:
    body = (
        "## Phase: A\n### Agents\n- x\n### Steps\n- a\n\n## Phase: B\n```yaml\n"
        "dependsOn: [A]\ntimeout: 5s\n```\n### Steps\n- agent: x - go\n"
    )
    phase = parser.parse_task_content(text(body)).phase("B")
    assert phase.depends_on == ("A",)
    assert phase.timeout_s == 5.0


def test_heading_in_code_block_is_not_a_phase(parser: TaskParser, text: Callable[..., str]) -> None:
    body = "## Phase: A\n### Agents\n- x\n### Steps\n- a\n\n### Example\n```markdown\n## Phase: Fake\n```\n"
    task = parser.parse_task_content(text(body))
    assert task.phase_names == ("A",)


def test_comment_lines_in_header(parser: TaskParser, text: Callable[..., str]) -> None:
    body = (
        "## Phase: A\n# a YAML comment (a Markdown h1)\n"
        "parallel: true   # trailing comment\n### Agents\n- x\n### Steps\n- a\n"
    )
    assert parser.parse_task_content(text(body)).phases[0].parallel is True


def test_other_h2_sections_are_prose(parser: TaskParser, text: Callable[..., str]) -> None:
    body = SIMPLE = "## Phase: A\n### Agents\n- x\n### Steps\n- a\n\n## Appendix\n\n- not a step\n"
    task = parser.parse_task_content(text(body))
    assert len(task.phases[0].steps) == 1
    assert SIMPLE in task.document


def test_output_mapping(parser: TaskParser, text: Callable[..., str]) -> None:
    meta = (
        "name: demo\nrequirements: {ticker: string}\noutput:\n"
        "  decision: phases.Decide.outputs.decision\n  ticker: '{{ input.ticker }}'"
    )
    task = parser.parse_task_content(text(meta=meta))
    assert task.output.phase is None
    assert dict(task.output.fields) == {
        "decision": "phases.Decide.outputs.decision",
        "ticker": "{{ input.ticker }}",
    }


def test_no_output_means_default_selector(parser: TaskParser, text: Callable[..., str]) -> None:
    task = parser.parse_task_content(text())
    assert task.output.phase is None
    assert not task.output.fields


def test_when_accepts_booleans_and_quoted_templates(parser: TaskParser, text: Callable[..., str]) -> None:
    body = (
        "## Phase: A\nwhen: false\n### Agents\n- x\n### Steps\n- a\n## Phase: B\n"
        "when: \"{{ input.ticker == 'X' }}\"\n### Agents\n- x\n### Steps\n- a\n"
    )
    task = parser.parse_task_content(text(body))
    assert task.phase("A").when == "false"
    assert task.phase("B").when == "{{ input.ticker == 'X' }}"


def test_backoff_accepts_time_strings(parser: TaskParser, text: Callable[..., str]) -> None:
    task = parser.parse_task_content(text(meta="name: demo\nretry: {backoffMs: 2s, maxBackoffMs: 1 minute}"))
    assert task.retry.backoff_ms == 2000.0
    assert task.retry.max_backoff_ms == 60000.0


def test_phase_names_with_spaces_and_unicode(parser: TaskParser, text: Callable[..., str]) -> None:
    body = (
        "## Phase: Round Table\n### Agents\n- x\n### Steps\n- a\n## Phase: Débat\n"
        "dependsOn: [Round Table]\n### Agents\n- x\n### Steps\n- a\n"
    )
    task = parser.parse_task_content(text(body))
    assert task.phase_names == ("Round Table", "Débat")
    assert task.phase("Débat").depends_on == ("Round Table",)


def test_custom_step_types_given_to_parser_are_not_warned(text: Callable[..., str]) -> None:
    body = "## Phase: A\n### Agents\n- x\n### Steps\n- fetch-prices: symbol=BTC\n"
    assert any("fetch-prices" in p.message for p in TaskParser().lint_content(text(body)))
    assert TaskParser(step_types=["fetch-prices"]).lint_content(text(body)) == []


def test_agent_ids_known(text: Callable[..., str]) -> None:
    task = TaskParser(agent_ids=["analyst", "chair"]).parse_task_content(text())
    assert task.phase("Gather").agents == ("analyst",)


def test_file_name_mismatch_is_a_warning(tmp_path: object, text: Callable[..., str]) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "other-name.md"
    path.write_text(text())
    problems = TaskParser().lint_file(path)
    assert [p.severity for p in problems] == ["warning"]
    assert "other-name" in problems[0].message
    assert TaskParser().parse_task_file(path).name == "demo"
