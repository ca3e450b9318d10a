"""The front matter of an agent file: the YAML between two ``---`` lines, loaded safely, with the line
of every top-level key (so that each problem can name its line).

Aliases and anchors are refused before anything is built (no billion-laughs), and only plain data
comes out (``yaml.SafeLoader``).
"""

from __future__ import annotations

from typing import Any

import yaml

from quorum.definition.report import Report

__all__ = ("key_lines", "load_yaml", "split_front_matter")


def split_front_matter(text: str, report: Report) -> tuple[str, int, str] | None:
    """(yaml text, line of the first yaml line, body), or None after reporting why there is none."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").rstrip() != "---":
        report.error(
            "an agent file starts with a YAML front matter block ('---' on the first line)",
            1,
            "begin with ---, then id: and model:, then ---, then the persona",
        )
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() in ("---", "..."):
            return "".join(lines[1:index]), 2, "".join(lines[index + 1 :])
    report.error("the front matter is not closed: no second '---' line", 1)
    return None


def load_yaml(text: str, first_line: int, report: Report) -> tuple[Any, yaml.Node | None] | None:
    """The front matter's data and node tree, or None after reporting why it cannot be read."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                mark = event.start_mark
                report.error(
                    "YAML anchors and aliases are not allowed in agent files",
                    first_line + (mark.line if mark else 0),
                    "write the value out in full",
                )
                return None
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        report.error(
            f"invalid YAML in front matter: {reason}",
            first_line + mark.line if mark is not None else first_line,
        )
        return None
    return data, node


def key_lines(node: yaml.Node | None, first_line: int) -> dict[str, int]:
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                lines[str(key_node.value)] = first_line + key_node.start_mark.line
    return lines
