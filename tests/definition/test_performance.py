"""Parse cost, in the benchmarks' short-mode spirit: guards against regressions in how the work grows,
counted in function calls (``tests.work``) so that a busy machine cannot fail them; the speed itself is
measured by benchmarks/ (on a laptop-class CPU: ~7 ms cold for a 7-phase task including first-use setup,
~70 ms for 200 phases, ~15 µs for a cached load)."""

from __future__ import annotations

from pathlib import Path

import pytest

from quorum.definition.loader import TaskLoader
from quorum.definition.parser import TaskParser
from quorum.templates import TemplateEngine
from tests.work import calls, growth

pytestmark = [pytest.mark.performance]


def generate(phases: int) -> str:
    parts = ["# Big\n\n```yaml\nname: big\nrequirements:\n  ticker: string\n```\n"]
    for i in range(phases):
        dep = f"dependsOn: [P{i - 1}]\n" if i else ""
        parts.append(
            f"\n## Phase: P{i}\n{dep}parallel: true\ntimeout: 30s\n\n"
            f"### Agents\n- agent-{i % 7}\n- agent-{(i + 1) % 7}\n"
            f"\n### Steps\n- Analyse {{{{ input.ticker }}}} in step {i}\n"
            f"- agent: agent-{i % 7} - Check {{{{ phases.P{max(i - 1, 0)}.outputs.x }}}}\n"
            "- validation: input.ticker != '' - need a ticker\n- aggregate: consensus min=0.6\n"
            f"\n### Outputs\n- x (string): the result {i}\n"
        )
    return "".join(parts)


def test_two_hundred_phases() -> None:
    text = generate(200)
    parser = TaskParser(engine=TemplateEngine())
    task = parser.parse_task_content(text)
    assert len(task.phases) == 200
    assert task.phases[-1].depends_on == ("P198",)

    def parse(phases: int) -> None:
        TaskParser(engine=TemplateEngine()).parse_task_content(generate(phases))

    assert growth(parse, 25) < 6  # 25 to 100 phases: linear is 4 (measured 4.0), quadratic 16


def test_seven_phase_flagship_cold(tmp_path: Path) -> None:
    path = tmp_path / "seven.md"
    path.write_text(generate(7).replace("name: big", "name: seven"))
    cold = calls(lambda: TaskParser(engine=TemplateEngine()).parse_task_file(path))
    parser = TaskParser(engine=TemplateEngine())
    parser.parse_task_file(path)
    warm = calls(lambda: parser.parse_task_file(path))
    assert cold < 2 * warm  # first use sets up little beyond the parse (measured 1.3x in a fresh process)


def test_cached_load(tmp_path: Path) -> None:
    (tmp_path / "seven.md").write_text(generate(7).replace("name: big", "name: seven"))
    loader = TaskLoader([tmp_path], include_builtin=False)
    first = loader.load("seven")
    for _ in range(1000):
        assert loader.load("seven") is first
    parse = calls(lambda: TaskParser().parse_task_file(tmp_path / "seven.md"))
    assert calls(lambda: loader.load("seven")) * 50 < parse  # measured 1/180 of a parse
