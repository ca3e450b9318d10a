"""Hostile files: refused in bounded time and memory, with a line number where there is one.

"Bounded" is checked by counting work (function calls, allocated memory: ``tests.work``), not with a
clock: a hostile input costs no more than a harmless one of its size, and work grows no faster than the
input. A hang is left to the per-test timeout.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from quorum.definition.parser import TaskParser
from quorum.definition.yamlsafe import YamlProblem, load_yaml
from quorum.errors import DefinitionError, Problem
from tests.work import allocated, calls, growth

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
# The same nine lists with their anchors dropped and their aliases spelt out: nothing to expand.
HARMLESS_LAUGHS = re.sub(r"\*[a-z]", '"lol"', re.sub(r"&[a-z] ", "", BILLION_LAUGHS))


def test_yaml_alias_bomb_is_refused_fast() -> None:
    def refuse() -> None:
        with pytest.raises(YamlProblem, match="anchors and aliases"):
            load_yaml(BILLION_LAUGHS)

    assert load_yaml(HARMLESS_LAUGHS).value is not None
    assert calls(refuse) <= calls(lambda: load_yaml(HARMLESS_LAUGHS))  # 9**9 strings, were it expanded


def test_billion_laughs_task_file(
    text: Callable[..., str], errors: Callable[[str], list[Problem]], parser: TaskParser
) -> None:
    found = errors(text(meta="name: demo\n" + BILLION_LAUGHS))
    bomb, harmless = (text(meta="name: demo\n" + laughs) for laughs in (BILLION_LAUGHS, HARMLESS_LAUGHS))
    assert calls(lambda: parser.lint_content(bomb)) <= calls(lambda: parser.lint_content(harmless))
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


def _refuse_nesting(depth: int) -> None:
    with pytest.raises(YamlProblem, match="nest"):
        load_yaml("[" * depth + "]" * depth)
    with pytest.raises(YamlProblem, match="nest"):
        load_yaml("{a: " * depth + "1" + "}" * depth)


@pytest.mark.parametrize("depth", [25, 5000, 200_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    _refuse_nesting(depth)
    # Refused on the way down: however deep the file goes, no more work than one level too deep.
    assert calls(lambda: _refuse_nesting(depth)) <= 2 * calls(lambda: _refuse_nesting(21))


def test_nesting_limit_is_exact() -> None:
    assert load_yaml("[" * 20 + "]" * 20).value is not None
    with pytest.raises(YamlProblem):
        load_yaml("[" * 21 + "]" * 21)


def test_deeply_nested_markdown_is_bounded(text: Callable[..., str], parser: TaskParser) -> None:
    # Within the size limit (a list nested d deep is d² bytes of indentation: 3,000 levels would be
    # refused for their 9 MB before any nesting is looked at), the work grows with the bytes, not faster.
    def document(depth: int) -> str:
        nested = "".join("  " * i + "- x\n" for i in range(depth))
        return text("## Phase: A\n### Steps\n" + nested + ">" * (depth * 20) + " deep\n")

    small, big = document(100), document(200)
    problems = parser.lint_content(big)
    assert not any("larger than the limit" in p.message for p in problems)
    more_work = calls(lambda: parser.lint_content(big)) / calls(lambda: parser.lint_content(small))
    assert more_work < 1.5 * len(big) / len(small)


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

    def refuse() -> None:
        with pytest.raises(DefinitionError, match="limit is 1000"):
            parser.parse_task_file(big)

    assert allocated(refuse) < 1_000_000  # the 50 MB are never read
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
    def parse(n: int) -> None:
        parser.parse_task_content(text("## Phase: A\n### Agents\n- x\n### Steps\n- " + "[" * n + "*a" * n))

    assert growth(parse, 5000) < 6  # 5,000 to 20,000 of each: linear is 4, quadratic 16


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
    def lint(n: int) -> None:
        agents = "".join(f"- agent{i}\n" for i in range(n))
        problems = TaskParser(agent_ids=["agent1"]).lint_content(text(f"## Phase: A\n### Agents\n{agents}"))
        assert any("at most 1000" in p.message for p in problems)

    assert growth(lint, 1100) < 6  # 1,100 to 4,400 agents: linear is 4, quadratic 16


def test_deeply_nested_template_in_a_step(
    errors: Callable[[str], list[Problem]], text: Callable[..., str]
) -> None:
    deep = "(" * 3000 + "1" + ")" * 3000
    doc = text(f"## Phase: A\nwhen: {deep} > 0\n### Agents\n- a\n### Steps\n- Use {{{{ {deep} }}}}\n")
    found = errors(doc)
    assert len(found) == 2
    assert all("nested too deeply" in p.message for p in found)
