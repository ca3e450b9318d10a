"""Parse cost, in the benchmarks' short-mode spirit: bounds 10x above the measured figures, as guards
against regressions (measured on a laptop-class CPU: ~7 ms cold for a 7-phase task including first-use
setup, ~70 ms for 200 phases, ~15 µs for a cached load)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from quorum.definition.loader import TaskLoader
from quorum.definition.parser import TaskParser
from quorum.templates import TemplateEngine

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
    start = time.perf_counter()
    task = parser.parse_task_content(text)
    elapsed = time.perf_counter() - start
    assert len(task.phases) == 200
    assert task.phases[-1].depends_on == ("P198",)
    assert elapsed < 1.0, f"200 phases took {elapsed:.3f}s"


def test_seven_phase_flagship_cold(tmp_path: Path) -> None:
    path = tmp_path / "seven.md"
    path.write_text(generate(7).replace("name: big", "name: seven"))
    parser = TaskParser(engine=TemplateEngine())
    start = time.perf_counter()
    parser.parse_task_file(path)
    assert time.perf_counter() - start < 0.1


def test_cached_load(tmp_path: Path) -> None:
    (tmp_path / "seven.md").write_text(generate(7).replace("name: big", "name: seven"))
    loader = TaskLoader([tmp_path], include_builtin=False)
    first = loader.load("seven")
    start = time.perf_counter()
    for _ in range(1000):
        assert loader.load("seven") is first
    assert (time.perf_counter() - start) / 1000 < 0.0005
