"""Hostile files: refused in bounded time and memory, with a line number where there is one."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from quorum.definition.parser import TaskParser
from quorum.definition.yamlsafe import YamlProblem, load_yaml
from quorum.errors import DefinitionError, Problem

pytestmark = [pytest.mark.errors]

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_yaml_alias_bomb_is_refused_fast() -> None:
    start = time.perf_counter()
    with pytest.raises(YamlProblem, match="anchors and aliases"):
        load_yaml(BILLION_LAUGHS)
    assert time.perf_counter() - start < 0.5


def test_billion_laughs_task_file(text: Callable[..., str], errors: Callable[[str], list[Problem]]) -> None:
    start = time.perf_counter()
    found = errors(text(meta="name: demo\n" + BILLION_LAUGHS))
    assert time.perf_counter() - start < 1.0
    assert "anchors and aliases" in found[0].message
    assert found[0].line == 7  # the first anchor, counted from the top of the file


def test_billion_laughs_in_a_phase_header(
    text: Callable[..., str], errors: Callable[[str], list[Problem]]
) -> None:
    found = errors(text("## Phase: A\n" + BILLION_LAUGHS + "\n### Steps\n- agent: x - y\n"))
    assert "anchors and aliases" in found[0].message


def test_single_alias_is_refused_too() -> None:
    with pytest.raises(YamlProblem, match="anchors"):
        load_yaml("a: &x 1\nb: *x\n")


@pytest.mark.parametrize("depth", [25, 5000, 200_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    start = time.perf_counter()
    with pytest.raises(YamlProblem, match="nest"):
        load_yaml("[" * depth + "]" * depth)
    with pytest.raises(YamlProblem, match="nest"):
        load_yaml("{a: " * depth + "1" + "}" * depth)
    assert time.perf_counter() - start < 2.0


def test_nesting_limit_is_exact() -> None:
    assert load_yaml("[" * 20 + "]" * 20).value is not None
    with pytest.raises(YamlProblem):
        load_yaml("[" * 21 + "]" * 21)


def test_deeply_nested_markdown_is_bounded(text: Callable[..., str], parser: TaskParser) -> None:
    nested = "".join("  " * i + "- x\n" for i in range(3000))
    quotes = ">" * 5000 + " deep\n"
    start = time.perf_counter()
    problems = parser.lint_content(text("## Phase: A\n### Steps\n" + nested + quotes))
    assert time.perf_counter() - start < 5.0
    assert isinstance(problems, list)


def test_python_tags_are_refused() -> None:
    for doc in (
        "a: !!python/object/apply:os.system ['echo hi']",
        "a: !!binary aGk=",
        "a: !custom x",
        "!!set {a, b}",
    ):
        with pytest.raises(YamlProblem, match="tag"):
            load_yaml(doc)


def test_huge_integer_is_an_error_not_a_crash() -> None:
    with pytest.raises(YamlProblem):
        load_yaml("a: " + "9" * 6000)


def test_size_cap_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.md"
    with open(big, "wb") as handle:
        handle.truncate(50_000_000)  # sparse: no real memory or disk used
    parser = TaskParser(max_bytes=1000)
    start = time.perf_counter()
    with pytest.raises(DefinitionError, match="limit is 1000"):
        parser.parse_task_file(big)
    assert time.perf_counter() - start < 0.5
    problems = parser.lint_file(big)
    assert problems
    assert "limit" in problems[0].message


def test_size_cap_for_content() -> None:
    with pytest.raises(DefinitionError, match="larger than the limit of 100"):
        TaskParser(max_bytes=100).parse_task_content("x" * 101)
    with pytest.raises(DefinitionError, match="larger than the limit"):
        TaskParser(max_bytes=100).parse_task_content("é" * 60)  # 120 bytes in UTF-8


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    with pytest.raises(DefinitionError, match="not a regular file"):
        TaskParser().parse_task_file(fifo)


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="not a regular file"):
        TaskParser().parse_task_file(tmp_path)
    with pytest.raises(DefinitionError, match="cannot read"):
        TaskParser().parse_task_file(tmp_path / "absent.md")


def test_non_utf8_is_refused_with_line(tmp_path: Path, text: Callable[..., str]) -> None:
    path = tmp_path / "latin.md"
    path.write_bytes(text().encode() + b"\n\ncaf\xe9\n")
    with pytest.raises(DefinitionError) as info:
        TaskParser().parse_task_file(path)
    problem = info.value.problems[0]
    assert "UTF-8" in problem.message
    assert problem.line == text().count("\n") + 3
    assert problem.source == str(path)


def test_nul_byte_is_refused_with_line(tmp_path: Path, text: Callable[..., str]) -> None:
    path = tmp_path / "nul.md"
    path.write_bytes(b"# T\n\nline two\x00\n" + text().encode())
    with pytest.raises(DefinitionError) as info:
        TaskParser().parse_task_file(path)
    assert "NUL" in info.value.problems[0].message
    assert info.value.problems[0].line == 3


def test_control_characters_are_refused(parser: TaskParser) -> None:
    with pytest.raises(DefinitionError, match="control character"):
        parser.parse_task_content("# T\n\x1b[31m red\n")


def test_bom_and_crlf_are_accepted(parser: TaskParser, text: Callable[..., str]) -> None:
    task = parser.parse_task_content("\ufeff" + text().replace("\n", "\r\n"))
    assert task.name == "demo"
    assert task.content_hash == parser.parse_task_content(text()).content_hash


def test_many_problems_are_capped(parser: TaskParser, text: Callable[..., str]) -> None:
    phases = "".join(
        f"## Phase: P{i}\ndependsOn: [Nope{i}]\n### Steps\n- agent: x - y\n\n" for i in range(300)
    )
    with pytest.raises(DefinitionError) as info:
        parser.parse_task_content(text(phases))
    assert len(info.value.problems) <= 101
    assert "more problems not shown" in info.value.problems[-1].message


def test_pathological_inline_markdown_is_fast(parser: TaskParser, text: Callable[..., str]) -> None:
    body = "## Phase: A\n### Agents\n- x\n### Steps\n- " + "[" * 20000 + "*a" * 20000 + "\n"
    start = time.perf_counter()
    parser.parse_task_content(text(body))
    assert time.perf_counter() - start < 3.0


def test_phase_count_is_limited(parser: TaskParser, text: Callable[..., str]) -> None:
    phases = "".join(f"## Phase: P{i}\n### Agents\n- a\n### Steps\n- go\n" for i in range(1002))
    with pytest.raises(DefinitionError) as info:
        parser.parse_task_content(text(phases))
    (problem,) = info.value.errors
    assert "1002 phases; at most 1000" in problem.message
    assert problem.line == text(phases).splitlines().index("## Phase: P1000") + 1


@pytest.mark.parametrize(
    ("section", "bullet"), [("Steps", "- go"), ("Agents", "- a{i}"), ("Outputs", "- o{i}")]
)
def test_items_per_phase_are_limited(
    parser: TaskParser, text: Callable[..., str], section: str, bullet: str
) -> None:
    items = "\n".join(bullet.format(i=i) for i in range(1001))
    base = {"Agents": "### Agents\n- a\n", "Steps": "### Steps\n- go\n", "Outputs": ""}
    base[section] = f"### {section}\n{items}\n"
    with pytest.raises(DefinitionError, match=f"1001 {section.lower()}; at most 1000"):
        parser.parse_task_content(text("## Phase: A\n" + "".join(base.values())))


def test_an_error_after_many_warnings_still_fails(parser: TaskParser, text: Callable[..., str]) -> None:
    warned = "".join(f"- custom{i}: x\n" for i in range(150))
    document = text(f"## Phase: A\n### Agents\n- a\n### Steps\n{warned}- agent: x\n")
    with pytest.raises(DefinitionError) as info:
        parser.parse_task_content(document)
    assert info.value.problems[-1].message == "51 more problems not shown"
    assert info.value.problems[-1].severity == "error"
    assert any("needs a query" in p.message for p in info.value.errors)  # errors displace warnings


def test_huge_lists_are_refused_in_bounded_time(text: Callable[..., str]) -> None:
    agents = "".join(f"- agent{i}\n" for i in range(60_000))
    start = time.perf_counter()
    problems = TaskParser(agent_ids=["agent1"]).lint_content(text(f"## Phase: A\n### Agents\n{agents}"))
    assert time.perf_counter() - start < 10.0
    assert any("at most 1000" in p.message for p in problems)


def test_deeply_nested_template_in_a_step(
    errors: Callable[[str], list[Problem]], text: Callable[..., str]
) -> None:
    deep = "(" * 3000 + "1" + ")" * 3000
    doc = text(f"## Phase: A\nwhen: {deep} > 0\n### Agents\n- a\n### Steps\n- Use {{{{ {deep} }}}}\n")
    found = errors(doc)
    assert len(found) == 2
    assert all("nested too deeply" in p.message for p in found)
