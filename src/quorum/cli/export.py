"""``quorum export --format markdown``: the task document annotated with what the run produced.

The task file is the report's skeleton: after each ``## Phase: <name>`` section comes a block with the
phase's status, timing and outputs; a run summary follows the title and the verdict closes the report.
Headings inside fenced code blocks are left alone. Without the document (the file is gone), a skeleton
with one section per phase is written instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from quorum.cli.history_view import ExecutionView, PhaseRow, input_for_display
from quorum.cli.memo import memo_markdown
from quorum.cli.report import format_scalar, humanize
from quorum.definition.model import thaw

__all__ = ("markdown_report",)

_PHASE = re.compile(r"^##\s+Phase:\s*(?P<name>.+?)\s*#*\s*$")
_SECTION_END = re.compile(r"^#{1,2}\s")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


def markdown_report(view: ExecutionView, document: str | None, *, changed: bool = False) -> str:
    lines = (document or _skeleton(view)).splitlines()
    out: list[str] = []
    current: str | None = None
    fence: str | None = None
    summary_done = False
    seen: set[str] = set()
    for line in lines:
        marker = _FENCE.match(line)
        if fence is not None:
            # inside a fenced block: only a fence of the same kind, at least as long, closes it
            out.append(line)
            if marker and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence):
                fence = None
            continue
        if marker:
            fence = marker.group(1)
            out.append(line)
            continue
        heading = _PHASE.match(line)
        if current is not None and (heading or _SECTION_END.match(line)):
            out.extend(_phase_block(view.phases.get(current), current))
            seen.add(current)
            current = None
        if heading:
            current = heading.group("name")
        out.append(line)
        if not summary_done and line.startswith("# "):
            out.extend(["", *_summary(view, changed=changed)])
            summary_done = True
    if current is not None:
        out.extend(_phase_block(view.phases.get(current), current))
        seen.add(current)
    if not summary_done:
        out[:0] = [f"# {view.record.task}", "", *_summary(view, changed=changed)]
    missing = [name for name in view.phases if name not in seen]
    for name in missing:
        out.extend(["", f"## Phase: {name}", *_phase_block(view.phases[name], name)])
    out.extend(["", "## Verdict", "", *_verdict(view.record.verdict)])
    return "\n".join(out).rstrip() + "\n"


def _skeleton(view: ExecutionView) -> str:
    parts = [f"# {view.record.task}", ""]
    for name in view.phases:
        parts += [f"## Phase: {name}", ""]
    return "\n".join(parts)


def _when(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _summary(view: ExecutionView, *, changed: bool) -> list[str]:
    r = view.record
    duration = f"{r.duration_ms / 1000:.2f} s" if r.duration_ms is not None else "—"
    rows = [
        "> **quorum run report**",
        ">",
        f"> - execution: `{r.id}`",
        f"> - status: **{r.status}**" + (f" — {_one_line(r.error)}" if r.error else ""),
        f"> - started: {_when(r.started_at)}; ended: {_when(r.ended_at)}; duration: {duration}",
    ]
    if r.input:
        shown = input_for_display(r.input)  # a price history as one line; the JSON export keeps it all
        rows.append("> - input: " + ", ".join(f"`{k}` = {_inline(v)}" for k, v in shown.items()))
    if changed:
        rows.append("> - note: the task file has changed since this run; the text below is the current one")
    return [*rows, ""]


def _phase_block(row: PhaseRow | None, name: str) -> list[str]:
    if row is None:
        return ["", "> **Run:** not reached", ""]
    bits = [f"**{row.status}**"]
    if row.duration_ms is not None:
        bits.append(f"{row.duration_ms / 1000:.2f} s")
    if row.attempts > 1:
        bits.append(f"{row.attempts} attempts")
    if row.answers or row.agent_errors:
        bits.append(_count(row.answers, "answer") + (f", {_count(row.agent_errors, 'agent error')}"
                                                      if row.agent_errors else ""))
    lines = ["", "> **Run:** " + " · ".join(bits)]
    if row.error:
        lines.append(f"> error: {_one_line(row.error)}")
    if row.skipped_reason:
        lines.append(f"> skipped: {_one_line(row.skipped_reason)}")
    lines.append("")
    if row.outputs:
        lines += [f"#### Outputs of {name}", "", *_mapping(row.outputs)]
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _verdict(verdict: Mapping[str, Any] | None) -> list[str]:
    if not verdict:
        return ["No verdict was produced."]
    memo = memo_markdown(verdict)  # the committee's verdict reads as a memo; any other, field by field
    return memo if memo is not None else _mapping(verdict)


def _mapping(values: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, value in values.items():
        if _scalar(value) or (isinstance(value, list | tuple) and all(_scalar(v) for v in value)
                              and len(value) <= 12):
            lines.append(f"- **{humanize(str(key))}**: {_inline(value)}")
        else:
            lines += [f"- **{humanize(str(key))}**:", "", "  ```json",
                      *("  " + ln for ln in json.dumps(thaw(value), indent=2, default=str,
                                                        ensure_ascii=False).splitlines()),
                      "  ```", ""]
    return [*lines, ""]


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _inline(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_inline(v) for v in value) or "—"
    if isinstance(value, Mapping):
        return "`" + json.dumps(thaw(value), default=str, ensure_ascii=False) + "`"
    return _one_line(format_scalar(value))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
