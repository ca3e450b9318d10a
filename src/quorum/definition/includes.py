"""``## Include: <path>``: phases written in another file, pulled into a task where the section stands.

::

    ## Include: shared/risk-review.md      every phase of that file
    ## Include: shared/common.md           only the phases listed under it
    - Intake
    - Sizing

The path is relative to the including file (an absolute path is taken as it is) and must end with
``.md``. Resolved — symlinks followed — it must lie inside one of the *include roots*: the task
directory the including task was found in (``TaskLoader``), or the directory of a task file loaded by
path; so neither ``../`` nor an absolute path nor a symlink can reach a file outside them. An included
file holds ``## Phase:`` sections (its title, prose and metadata block are not used) and may include
further files, up to :data:`MAX_INCLUDE_DEPTH` levels and :data:`MAX_INCLUDED_FILES` files in all; a file
that includes itself, directly or through others, is an error naming the chain.

Every problem inside an included file is reported with that file's path and line (each file has its
own :class:`Report` view); problems with the include itself point at the ``## Include:`` line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from quorum.definition.markdown import IncludeBlock, Outline, PhaseBlock, outline
from quorum.definition.report import Report
from quorum.definition.suggest import did_you_mean
from quorum.definition.text import read_task_text
from quorum.errors import DefinitionError

__all__ = ("MAX_INCLUDED_FILES", "MAX_INCLUDE_DEPTH", "Expansion", "SourcedBlock", "expand")

MAX_INCLUDE_DEPTH = 8
MAX_INCLUDED_FILES = 64
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class SourcedBlock:
    """A phase section and the file it is written in (``source`` None: the task's own document)."""

    block: PhaseBlock
    report: Report
    source: str | None


@dataclass(slots=True)
class Expansion:
    blocks: list[SourcedBlock] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    """``(path inside its root, text)`` of every file included, in the order met (for the content
    hash)."""


@dataclass(slots=True)
class _Walk:
    roots: tuple[str, ...]
    max_bytes: int
    out: Expansion


def expand(
    report: Report,
    doc: Outline,
    source: str | None,
    roots: Sequence[str | os.PathLike[str]] | None,
    *,
    max_bytes: int,
) -> Expansion:
    """The document's phase sections with its includes replaced by the phases they pull in."""
    if roots is None:
        roots = () if source is None else (os.path.dirname(os.path.realpath(source)),)
    walk = _Walk(roots=tuple(os.path.realpath(r) for r in roots), max_bytes=max_bytes, out=Expansion())
    base = None if source is None else os.path.dirname(os.path.realpath(source))
    stack = () if source is None else (os.path.realpath(source),)
    walk.out.blocks = _blocks(walk, report, doc, None, base, stack)
    return walk.out


def _blocks(
    walk: _Walk, report: Report, doc: Outline, source: str | None, base: str | None, stack: tuple[str, ...]
) -> list[SourcedBlock]:
    out: list[SourcedBlock] = []
    includes = sorted(doc.includes, key=lambda inc: inc.position)
    pending = 0
    for index, block in enumerate([*doc.phases, None]):
        while pending < len(includes) and includes[pending].position <= index:
            out.extend(_include(walk, report, includes[pending], base, stack))
            pending += 1
        if block is not None:
            out.append(SourcedBlock(block=block, report=report, source=source))
    return out


def _include(
    walk: _Walk, report: Report, inc: IncludeBlock, base: str | None, stack: tuple[str, ...]
) -> list[SourcedBlock]:
    real = _target(walk, report, inc, base, stack)
    if real is None:
        return []
    text = _read(walk, report, inc, real)
    if text is None:
        return []
    # hashed by its path inside its root: moving the whole task directory changes no hash
    root = next(r for r in walk.roots if os.path.commonpath([r, real]) == r)
    walk.out.files.append((os.path.relpath(real, root), text))
    child = report.for_source(real)
    doc = outline(text)
    for line, message, hint, is_error in doc.problems:
        child.add(message, line, hint, severity="error" if is_error else "warning")
    if doc.metadata is not None:
        child.warning("the metadata block of an included file is not used", doc.metadata_line - 1,
                      "only its '## Phase:' sections are taken; the including task's metadata counts")
    blocks = _blocks(walk, child, doc, real, os.path.dirname(real), (*stack, real))
    if inc.names:
        blocks = _select(report, inc, real, blocks)
    if not blocks and not report.has_errors:
        report.warning(f"include {inc.target!r} adds no phases", inc.line,
                       "an included file holds '## Phase: <name>' sections")
    return blocks


def _target(
    walk: _Walk, report: Report, inc: IncludeBlock, base: str | None, stack: tuple[str, ...]
) -> str | None:
    target = inc.target
    if not target:
        report.error("an include names no file", inc.line, "write '## Include: path/to/phases.md'")
        return None
    if not walk.roots:
        report.error(f"include {target!r}: this text is not a file, and no include roots were given",
                     inc.line, "load the task from a file, or give include_roots (TaskParser, TaskBuilder)")
        return None
    if not target.endswith(".md"):
        report.error(f"include {target!r} is not a Markdown file", inc.line, "included files end with .md")
        return None
    written = Path(target).expanduser()
    # text that is no file reads relative paths from its first root
    candidate = written if written.is_absolute() else Path(base or walk.roots[0], written)
    real = os.path.realpath(candidate)
    if not any(os.path.commonpath([root, real]) == root for root in walk.roots):
        via = " (through a symlink)" if os.path.normpath(os.path.abspath(candidate)) != real else ""
        report.error(
            f"include {target!r} resolves to {real}{via}, outside the task directories "
            f"({', '.join(walk.roots)})",
            inc.line,
            "an included file must lie inside the task directory of the task that includes it",
        )
        return None
    if real in stack:
        chain = " -> ".join(os.path.basename(p) for p in (*stack[stack.index(real):], real))
        report.error(f"include cycle: {chain}", inc.line, "a file cannot include itself, directly or not")
        return None
    if len(stack) > MAX_INCLUDE_DEPTH:
        report.error(f"include {target!r} is nested more than {MAX_INCLUDE_DEPTH} levels deep", inc.line,
                     "include the shared file from the task directly")
        return None
    if len(walk.out.files) >= MAX_INCLUDED_FILES:
        report.error(f"the task includes more than {MAX_INCLUDED_FILES} files", inc.line,
                     "merge some of the included files")
        return None
    return real


def _read(walk: _Walk, report: Report, inc: IncludeBlock, real: str) -> str | None:
    if not os.path.exists(real):
        report.error(f"include {inc.target!r}: no such file ({real})", inc.line)
        return None
    try:
        text = read_task_text(real, max_bytes=walk.max_bytes)
    except DefinitionError as exc:
        first = exc.problems[0] if exc.problems else None
        where = f" (line {first.line})" if first is not None and first.line else ""
        report.error(f"include {inc.target!r}: {first.message if first else exc}{where}", inc.line)
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = _CONTROL.search(text)
    if bad is not None:
        report.for_source(real).error(f"the file contains a control character {bad.group()!r}",
                                      text.count("\n", 0, bad.start()) + 1, "task files are plain text")
        return None
    return text


def _select(report: Report, inc: IncludeBlock, real: str, blocks: list[SourcedBlock]) -> list[SourcedBlock]:
    wanted = [item.text.strip() for item in inc.names]
    have = [b.block.name for b in blocks]
    for item, name in zip(inc.names, wanted, strict=True):
        if name not in have:
            report.error(f"{os.path.basename(real)} has no phase {name!r}{did_you_mean(name, have)}",
                         item.line, "its phases: " + (", ".join(have) or "none"))
    return [b for b in blocks if b.block.name in wanted]
