"""Markdown -> outline: the title, the metadata block and each phase's raw parts, with line numbers.

markdown-it-py finds the block structure (so fenced code, nested lists and headings inside code are
right); inline parsing is switched off because nothing here needs it, which also keeps pathological
inline syntax from costing time. Text is then taken from the *source lines* that each block token maps
to, so a step keeps exactly what the author wrote (``**bold**``, backslashes, nested bullets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ("IncludeBlock", "Item", "Outline", "PhaseBlock", "outline")

_PHASE = re.compile(r"phase\s*:\s*(.*)", re.IGNORECASE | re.DOTALL)
_INCLUDE = re.compile(r"include\s*:\s*(.*)", re.IGNORECASE | re.DOTALL)
_LOOKS_LIKE_PHASE = re.compile(r"phase\b", re.IGNORECASE)
_MARKER = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
SECTIONS = ("steps", "agents", "outputs")


@dataclass(frozen=True, slots=True)
class Item:
    """One list item: its text with the marker removed (nested lines dedented) and its first line."""

    text: str
    line: int


@dataclass(slots=True)
class PhaseBlock:
    name: str
    line: int
    header: str = ""
    header_line: int = 0
    sections: dict[str, list[Item]] = field(default_factory=dict)
    section_lines: dict[str, int] = field(default_factory=dict)
    prose: list[str] = field(default_factory=list)


@dataclass(slots=True)
class IncludeBlock:
    """``## Include: <path>``, and the phase names listed under it (none: every phase of the file)."""

    target: str
    line: int
    position: int
    """How many phases of this document come before it: the included phases go there."""
    names: list[Item] = field(default_factory=list)


@dataclass(slots=True)
class Outline:
    title: str = ""
    title_line: int | None = None
    metadata: str | None = None
    metadata_line: int = 0
    """1-based line of the first line *inside* the metadata fence."""
    phases: list[PhaseBlock] = field(default_factory=list)
    includes: list[IncludeBlock] = field(default_factory=list)
    problems: list[tuple[int, str, str | None, bool]] = field(default_factory=list)
    """(line, message, hint, is_error) found while outlining."""


@cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"maxNesting": 20})
    md.disable("inline")
    return md


def _item_text(lines: list[str], start: int, end: int) -> str:
    first = lines[start]
    marker = _MARKER.match(first)
    indent = marker.end() if marker else 0
    out = [first[indent:].strip()]
    for raw in lines[start + 1 : end]:
        stripped = raw.lstrip(" \t")
        removed = min(len(raw) - len(stripped), indent)
        out.append(raw[removed:].rstrip())
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def _list_items(tokens: list[Token], i: int, lines: list[str]) -> tuple[list[Item], int]:
    """Items of the list opening at ``tokens[i]``; returns them and the index after the list."""
    items: list[Item] = []
    depth = 0
    while i < len(tokens):
        tok = tokens[i]
        depth += tok.nesting
        if tok.type == "list_item_open" and tok.level == 1 and tok.map:
            items.append(Item(_item_text(lines, tok.map[0], tok.map[1]), tok.map[0] + 1))
        i += 1
        if depth == 0:
            break
    return items, i


def _heading_text(tokens: list[Token], i: int) -> str:
    inline = tokens[i + 1] if i + 1 < len(tokens) else None
    return inline.content.strip() if inline is not None and inline.type == "inline" else ""


def outline(text: str) -> Outline:
    """Split a task document into its parts. Never raises for any text."""
    lines = text.split("\n")
    tokens = _markdown().parse(text)
    out = Outline()
    phase: PhaseBlock | None = None
    section: str | None = None  # "header", one of SECTIONS, "prose", "include", or None (outside phases)
    include: IncludeBlock | None = None
    header_start = 0
    header_tokens: list[Token] = []
    prose_start: int | None = None

    def close_region(end_line: int) -> None:
        # The phase header (or a prose section) runs from its start to the next h2/h3 heading.
        nonlocal prose_start
        if phase is None:
            return
        if section == "header":
            phase.header = _region_text(header_tokens, lines, header_start, end_line)
            phase.header_line = header_start + 1
        elif section == "prose" and prose_start is not None:
            chunk = "\n".join(lines[prose_start:end_line]).strip()
            if chunk:
                phase.prose.append(chunk)
        prose_start = None

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.level != 0 or tok.map is None:
            i += 1
            continue
        start = tok.map[0]
        if tok.type == "heading_open" and tok.tag in ("h2", "h3"):
            heading = _heading_text(tokens, i)
            close_region(start)
            if tok.tag == "h2":
                match = _PHASE.fullmatch(heading)
                included = None if match else _INCLUDE.fullmatch(heading)
                include = None
                if included:
                    include = IncludeBlock(target=included.group(1).strip(), line=start + 1,
                                           position=len(out.phases))
                    out.includes.append(include)
                    phase, section = None, "include"
                elif match:
                    phase = PhaseBlock(name=match.group(1).strip(), line=start + 1)
                    out.phases.append(phase)
                    section, header_start = "header", tok.map[1]
                    header_tokens.clear()
                else:
                    if _LOOKS_LIKE_PHASE.match(heading):
                        out.problems.append(
                            (
                                start + 1,
                                f"heading {heading!r} looks like a phase but is not one",
                                "write '## Phase: <name>' (with the colon)",
                                False,
                            ),
                        )
                    phase, section = None, None
            elif phase is not None:
                kind = heading.lower()
                if kind in SECTIONS:
                    if kind in phase.sections:
                        out.problems.append(
                            (
                                start + 1,
                                f"phase {phase.name!r} has a second '### {heading}' section",
                                "merge the two lists into one section",
                                True,
                            ),
                        )
                    phase.sections.setdefault(kind, [])
                    phase.section_lines.setdefault(kind, start + 1)
                    section = kind
                else:
                    section, prose_start = "prose", start
            else:
                section = None  # an h3 under an include ends its list of phase names
            i += 3
            continue
        if section == "header" and tok.nesting >= 0:
            header_tokens.append(tok)
        if tok.type == "heading_open" and tok.tag == "h1" and phase is None and out.title_line is None:
            out.title, out.title_line = _heading_text(tokens, i), start + 1
        elif (tok.type == "fence" and phase is None and out.metadata is None and not out.phases
              and not out.includes):
            if tok.info.strip().lower() in ("yaml", "yml"):
                out.metadata, out.metadata_line = tok.content, start + 2
        elif tok.type in ("bullet_list_open", "ordered_list_open") and section == "include" and include:
            items, i = _list_items(tokens, i, lines)
            include.names.extend(items)
            continue
        elif (
            tok.type in ("bullet_list_open", "ordered_list_open")
            and phase is not None
            and section in SECTIONS
        ):
            items, i = _list_items(tokens, i, lines)
            phase.sections[section].extend(items)
            continue
        i += 1
    close_region(len(lines))
    return out


def _region_text(blocks: list[Token], lines: list[str], start: int, end: int) -> str:
    """The raw header lines; a header written as one fenced ```yaml block gives the block's content."""
    if len(blocks) == 1 and blocks[0].type == "fence":
        fence = blocks[0]
        assert fence.map is not None
        # keep line numbers: blank lines stand in for the fence markers
        return "\n" * (fence.map[0] - start + 1) + fence.content
    return "\n".join(lines[start:end])
