"""``- task: <other>[@version] input.<field>=<template> ... [foreach=...]``: the syntax, and the checks
across files (children exist, their inputs, no cycle of tasks calling each other)."""

from __future__ import annotations

from pathlib import Path

import pytest

from quorum.definition.composition import tokens
from quorum.definition.loader import TaskLoader
from quorum.definition.model import StepKind
from quorum.definition.parser import TaskParser
from quorum.errors import DefinitionError
from tests.definition.conftest import make_text
from tests.work import calls

pytestmark = [pytest.mark.unit]


def test_tokens_keep_quoted_and_template_spans() -> None:
    assert tokens('review@^1 input.a={{ input.x / 2 }} input.b="two words" foreach=input.tickers') == [
        "review@^1", "input.a={{ input.x / 2 }}", "input.b=two words", "foreach=input.tickers"]


def test_a_task_step_parses_to_its_parameters() -> None:
    task = TaskParser().parse_task_content(make_text(
        "## Phase: Each\n### Steps\n- task: ticker-review@^1 input.ticker={{ item }} "
        "input.amount={{ input.amount / 2 }} foreach=input.tickers\n",
        meta="name: folio\nrequirements:\n  tickers: list\n  amount: number"))
    [step] = task.phase("Each").steps
    assert (step.kind, step.type) == (StepKind.CUSTOM, "task")
    assert step.parameters["task"] == "ticker-review@^1"
    assert dict(step.parameters["input"]) == {"ticker": "{{ item }}", "amount": "{{ input.amount / 2 }}"}
    assert step.parameters["foreach"] == "input.tickers"
    assert task.has_task_steps


@pytest.mark.errors
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("", "names no task"),
        ("Review", "not a valid task name"),
        ("review@latest", "not a version selector"),
        ("review ticker=x", "only input.<field>=... and foreach=..."),
        ("review input.a", "is not input.<field>=<template>"),
        ("review input.a=1 input.a=2", "input.a is given twice"),
        ("review input.a={{ x", "is not closed"),
        ("review input.a={{ x + }}", "template error"),
        ("review foreach=input.x+", "foreach does not compile"),
    ],
)
def test_bad_task_steps_are_errors(args: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        TaskParser().parse_task_content(make_text(f"## Phase: A\n### Steps\n- task: {args}\n"))


def write(folder: Path, name: str, steps: str, requirements: str = "ticker: string") -> Path:
    path = folder / f"{name}.md"
    path.write_text(f"# {name}\n\n```yaml\nname: {name}\nrequirements:\n  {requirements}\n```\n\n"
                    f"## Phase: Main\n### Steps\n{steps}\n")
    return path


def test_children_and_their_inputs_are_checked(tmp_path: Path) -> None:
    write(tmp_path, "review", "- agent: analyst - review {{ input.ticker }}")
    write(tmp_path, "folio", "- task: review input.ticker={{ input.ticker }}")
    loader = TaskLoader([tmp_path], include_builtin=False)
    assert loader.load("folio").has_task_steps
    write(tmp_path, "typo", "- task: review input.tikcer={{ input.ticker }}")
    with pytest.raises(DefinitionError) as info:
        loader.load("typo")
    messages = [p.message for p in info.value.errors]
    assert messages == ["phase 'Main': task 'review' has no input 'tikcer' (did you mean 'ticker'?)",
                        "phase 'Main': task 'review' needs input ticker"]
    assert {(p.source, p.line) for p in info.value.errors} == {(str((tmp_path / "typo.md").resolve()), 11)}
    write(tmp_path, "lost", "- task: nowhere input.ticker=x")
    with pytest.raises(DefinitionError, match="phase 'Main': task step: no task named 'nowhere'"):
        loader.load("lost")


@pytest.mark.errors
def test_a_cycle_of_tasks_is_a_definition_error_with_each_step(tmp_path: Path) -> None:
    a = write(tmp_path, "a", "- task: b input.ticker={{ input.ticker }}")
    b = write(tmp_path, "b", "- agent: x - go\n- task: c input.ticker={{ input.ticker }}")
    c = write(tmp_path, "c", "- task: a input.ticker={{ input.ticker }}")
    loader = TaskLoader([tmp_path], include_builtin=False)
    with pytest.raises(DefinitionError) as info:
        loader.load("a")
    [problem] = info.value.errors
    assert problem.message == (
        f"tasks call each other in a cycle: a -> b -> c -> a; the steps: {a.resolve()}:11 (a, phase 'Main'); "
        f"{b.resolve()}:12 (b, phase 'Main'); {c.resolve()}:11 (c, phase 'Main')")
    assert (problem.source, problem.line) == (str(a.resolve()), 11)
    write(tmp_path, "self", "- task: self input.ticker=x")
    with pytest.raises(DefinitionError, match="a cycle: self -> self"):
        loader.load("self")


def test_validate_reports_composition_problems(tmp_path: Path) -> None:
    from tests.cli.helpers import Cli

    write(tmp_path, "a", "- task: a input.ticker=x")
    (tmp_path / "run").mkdir()
    r = Cli.in_folder(tmp_path / "run")("validate", str(tmp_path / "a.md"), "--tasks-dir", str(tmp_path))
    assert r.code == 1, r
    assert "tasks call each other in a cycle: a -> a" in r.out


def test_loading_a_task_without_task_steps_costs_no_more(tmp_path: Path) -> None:
    write(tmp_path, "plain", "- agent: x - go")
    loader = TaskLoader([tmp_path], include_builtin=False)
    first = loader.load("plain")
    assert calls(lambda: loader.load("plain")) <= calls(lambda: loader.load_file_only("plain")) + 10
    assert loader.load("plain") is first
