"""Huge and hostile task files and inputs are refused early, with the limit and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from quorum.cli.inputs import read_prices
from quorum.definition.model import Requirement
from quorum.definition.parser import MAX_PHASES, TaskParser
from quorum.definition.requirements import MAX_INPUT_CHARS, MAX_INPUT_FIELDS, validate_input
from quorum.errors import InputValidationError
from tests.work import calls, growth

from .conftest import make_text, messages

pytestmark = [pytest.mark.unit, pytest.mark.errors]


def _document(phases: int) -> str:
    parts = []
    for i in range(phases):
        depends = f"dependsOn: [P{i - 1}]\n" if i else ""
        steps = "### Steps\n- Look at {{ input.ticker }}\n"
        parts.append(f"## Phase: P{i}\n{depends}\n### Agents\n- analyst\n\n{steps}")
    return make_text("\n".join(parts))


def test_ten_thousand_phases_are_refused_before_the_full_parse() -> None:
    parser = TaskParser()
    huge = _document(10_000)
    problems = parser.lint_content(huge, source="task.md")
    assert len(problems) == 1
    assert problems[0].message == f"the task has 10000 phases; at most {MAX_PHASES} are allowed"
    assert problems[0].line == huge.split("\n").index(f"## Phase: P{MAX_PHASES}") + 1
    # refused with less work than parsing a tenth of it
    small = _document(1_000)
    assert calls(lambda: parser.lint_content(huge)) < calls(lambda: parser.lint_content(small)) / 10


def test_parse_time_grows_linearly_with_the_phases() -> None:
    parser = TaskParser()
    assert growth(lambda n: parser.lint_content(_document(n)), 250, 4) < 5


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("G\u0430ther", "mixes scripts in 'G\u0430ther': CYRILLIC '\u0430' U+0430"),
        ("Ga\u200bther", "invisible character U+200B (ZERO WIDTH SPACE)"),
        ("Gather\u202e", "invisible character U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("Round\u00a0Table", "invisible character U+00A0 (NO-BREAK SPACE)"),
    ],
)
def test_look_alike_phase_names_are_refused_with_the_line(name: str, what: str) -> None:
    phases = f"## Phase: {name}\n### Agents\n- analyst\n\n### Steps\n- Look at {{{{ input.ticker }}}}\n"
    problems = TaskParser().lint_content(make_text(phases), source="task.md")
    found = [p for p in problems if what in p.message]
    assert found, messages(problems)
    assert found[0].line == 11
    assert found[0].source == "task.md"


def test_plain_names_in_other_scripts_pass() -> None:
    phases = "## Phase: Анализ рынка\n### Agents\n- analyst\n\n### Steps\n- Look at {{ input.ticker }}\n"
    assert not [p for p in TaskParser().lint_content(make_text(phases)) if p.severity == "error"]


def test_look_alike_agent_ids_say_which_character() -> None:
    phases = "## Phase: Gather\n### Agents\n- \u0430nalyst\n\n### Steps\n- Look at {{ input.ticker }}\n"
    text = messages(TaskParser(agent_ids={"analyst"}).lint_content(make_text(phases), source="task.md"))
    assert "task.md:13: error: phase 'Gather': '\u0430nalyst' is not an agent id (it mixes scripts" in text
    assert "U+0430 (CYRILLIC SMALL LETTER A)" in text


def test_input_is_bounded_in_fields_and_size() -> None:
    with pytest.raises(InputValidationError, match=f"at most {MAX_INPUT_FIELDS} are allowed"):
        validate_input((), {f"k{i}": 1 for i in range(MAX_INPUT_FIELDS + 1)})
    huge = {"notes": ["x" * 100_000] * 1_000}  # 100 MB as JSON, held as one string
    with pytest.raises(InputValidationError, match=f"larger than {MAX_INPUT_CHARS} characters"):
        validate_input((), huge)
    declared = (Requirement(name="notes", type="string"),)
    with pytest.raises(InputValidationError, match="larger than"):
        validate_input(declared, {"notes": "x" * (MAX_INPUT_CHARS + 1)})
    with pytest.raises(
        InputValidationError, match="tickr: not an input of this task \\(did you mean 'ticker'\\?\\)"
    ):
        validate_input((Requirement(name="ticker", type="string"),), {"tickr": "BTC"})


def test_a_price_file_that_is_not_utf8_gives_its_line(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_bytes(b"date,close\n2024-01-01,1\n2024-01-02,\xff2\n")
    with pytest.raises(InputValidationError) as info:
        read_prices(path)
    assert f"{path}:3: not UTF-8 text (byte 0xff at column 12)" in str(info.value)
