"""Templates are bounded while they render: each bomb is refused with a clear error before it is built,
in a few MB (counted with tracemalloc) and within the loop budget (counted calls), never by wall time."""

from __future__ import annotations

from typing import Any

import pytest

from quorum.definition.parser import TaskParser
from quorum.errors import TemplateRenderError
from quorum.templates import TemplateEngine
from quorum.templates._budget import MAX_ITERATIONS
from tests.work import allocated, calls

from .conftest import make_text

pytestmark = [pytest.mark.unit, pytest.mark.errors]

# Data a phase may hand on: 2,000 references to one 100,000-character string (tiny in memory, but
# 200 MB once every item is copied), and 20,000 references to a 199,999-character one (4 GB printed).
CTX: dict[str, Any] = {
    "rows": ["x" * 100_000] * 2000,
    "big": ["a" * 199_999] * 20_000,
    "lines": "\n" * 100_000,
}


@pytest.fixture(scope="module")
def engine() -> TemplateEngine:
    return TemplateEngine()


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ ['a' * 199999] * 20000 }}", "this repetition makes"),
        ("{{ ['a' * x] * n }}", "larger than the limit"),
        ("{{ (2**50000) * (2**50000) * (2**50000) }}", "limited to 100000 bits"),
        ("{{ 10 ** (10 ** 8) }}", "limited to 100000 bits"),
        ("{{ 9 ** p }}", "limited to 100000 bits"),
        ("{% for x in [2**50000] recursive %}{{ loop([x * x]) if x > 0 }}{% endfor %}", "100000 bits"),
        ("{% for x in [1] recursive %}{{ loop([x + 1, x + 1]) if x < 40 }}{% endfor %}", "loops ran more"),
        ("{{ rows|map('upper')|list|length }}", "built more than"),
        ("{{ rows|map('upper')|map('lower')|list|length }}", "built more than"),
        ("{{ rows|map('replace', 'x', 'xy')|list|length }}", "built more than"),
        ("{{ big }}", "larger than the limit"),
        ("{{ big|string }}", "larger than the limit"),
        ("{{ big|tojson }}", "larger than the limit"),
        ("{{ big|join }}", "larger than the limit"),
        ("{{ big|pprint }}", "larger than the limit"),
        ("{{ big|e }}", "larger than the limit"),
        ("{{ big ~ '' }}", "larger than the limit"),
        ("{{ '%s' % big }}", "larger than the limit"),
        ("{{ '%s'|format(big) }}", "larger than the limit"),
        ("{{ str(big) }}", "larger than the limit"),
        ("{{ big + big }}", "larger than the limit"),
        ("{{ sum(big, []) }}", "sum adds numbers"),
        ("{{ big|sum(start=[]) }}", "sum adds numbers"),
        ("{{ lines|indent(1000) }}", "larger than the limit"),
        ("{{ ('x' * 100000)|wordwrap(1, true, 'y' * 1000) }}", "larger than the limit"),
    ],
)
def test_bombs_are_refused_while_rendering(engine: TemplateEngine, source: str, reason: str) -> None:
    context = {**CTX, "x": 199_999, "n": 20_000, "p": 999_999}

    def refuse() -> None:
        with pytest.raises(TemplateRenderError, match=reason):
            engine.render(source, context)

    refuse()  # compiled once: the counts below are the render's
    assert allocated(refuse) < 16_000_000
    # At most the loop budget's worth of work (a recursive loop costs a few dozen calls an iteration).
    assert calls(refuse) < 50 * MAX_ITERATIONS


def test_what_is_within_the_limits_still_renders(engine: TemplateEngine) -> None:
    assert (
        engine.render("{{ rows|length }} {{ rows[0]|length }} {{ ['ab'] * 3 }}", CTX)
        == '2000 100000 ["ab", "ab", "ab"]'
    )
    assert engine.render("{{ 10 ** 10 ** 8 }}", {}) == str(10**80)  # Jinja's ** groups left: (10**10)**8
    assert engine.render("{{ [1, 2]|sum }} {{ sum([1, 2], 3) }} {{ 'a\nb'|indent(2) }}", {}) == "3 6 a\n  b"
    assert engine.render("{{ (rows[:2]|map('upper')|list)[1]|length }}", CTX) == "100000"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ ['a' * 199999] * 20000 }}", "this repetition makes 4000060000 characters"),
        ("{{ [input.ticker] * 10**9 }}", "this repetition makes"),
        ("{{ 9**999999 }}", "9 ** 999999 is too large"),
        ("{{ 10 ** (10 ** 8) }}", "is too large"),
        ("{{ (2**50000) * (2**50000) * (2**50000) }}", "this product is too large"),
        ("{% for i in range(10**9) %}{{ i }}{% endfor %}", "range of 1000000000 numbers"),
    ],
)
def test_constant_bombs_are_refused_by_validate_with_the_line(source: str, reason: str) -> None:
    steps = f"### Steps\n- Look at {{{{ input.ticker }}}}\n- {source}\n"
    phases = f"## Phase: Gather\n### Agents\n- analyst\n\n{steps}"
    problems = TaskParser().lint_content(make_text(phases), source="task.md")
    found = [p for p in problems if reason in p.message]
    assert found, problems
    assert found[0].line == 17
    assert found[0].source == "task.md"
    assert str(found[0]).startswith("task.md:17: error: phase 'Gather': prompt: template error: refused:")
