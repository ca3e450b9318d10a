"""Readable reports: the verdict of an execution, and any nested output, rendered with Rich.

The investment committee's verdict gets a headline (decision, action, conviction) and its sections in a
reader's order (sizing, risk, conditions, dissent, ...); any other verdict — or any phase output — is
rendered generically: scalars inline, lists as bullets, lists of records as tables, mappings nested.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

__all__ = ("format_scalar", "humanize", "render_value", "render_verdict", "status_text", "table")

_HEADLINE = ("decision", "action", "answer", "summary", "recommendation", "conviction", "confidence",
             "stance", "question_type")
"""Shown first, inline, when present."""
_SECTION_ORDER = ("sizing", "approved_amount", "amount", "tranches", "position", "risk", "risks",
                  "key_risks", "conditions", "invalidation", "invalidation_criteria", "votes", "tally",
                  "dissent", "validation", "checks", "clamps", "review", "key_points", "tickers",
                  "agents_used")
"""Then these, in this order; then every other key in the verdict's own order."""
_DETAIL_KEYS = frozenset({"sources", "provenance", "trace", "debug"})
"""Left out of the compact report (where each figure came from is in ``quorum show``)."""
_DECISION_STYLE = {
    "APPROVE": "bold green",
    "APPROVE_WITH_CONDITIONS": "bold yellow",
    "REJECT": "bold red",
    "DEFER": "bold magenta",
}
_STATUS_STYLE = {
    "completed": "bold green",
    "failed": "bold red",
    "timeout": "bold red",
    "aborted": "bold red",
    "paused": "bold magenta",
    "running": "bold yellow",
    "pending": "dim",
}
_MAX_DEPTH = 5
_MAX_ITEMS = 50
_COMPACT_ITEMS = 8
_MAX_TEXT = 2_000


def humanize(key: str) -> str:
    """``approved_amount`` / ``approvedAmount`` -> ``Approved amount``; ``var95`` -> ``VaR95``."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(key)).replace("_", " ").replace("-", " ").strip()
    words = text.split()
    known = {"var95": "VaR95", "cvar95": "CVaR95", "var": "VaR", "cvar": "CVaR", "pm": "PM", "rsi": "RSI",
             "macd": "MACD", "usd": "USD", "id": "id"}
    out = [known.get(w.lower(), w.lower()) for w in words]
    if out and out[0] == out[0].lower():
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out) or str(key)


def format_scalar(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
        if abs(value) >= 1000:
            return f"{value:,.2f}"
        return f"{value:.4g}"
    text = str(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def table(*columns: str, title: str | None = None) -> Table:
    """The one table style of the CLI: a bold header underlined, no boxes (readable in a pipe too)."""
    from rich import box
    from rich.table import Table

    out = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                show_edge=False, pad_edge=False, header_style="bold")
    for column in columns:
        out.add_column(column)
    return out


def status_text(status: str) -> RenderableType:
    from rich.text import Text

    return Text(status, style=_STATUS_STYLE.get(status, "bold"))


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def render_value(
    value: Any, *, depth: int = 0, raw_keys: bool = False, compact: bool = False
) -> RenderableType:
    """Any JSON-like value as a Rich renderable (``raw_keys``: show mapping keys as they are;
    ``compact``: records one line each, long lists cut, for a report that fits on a screen)."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    if _is_scalar(value):
        return Text(format_scalar(value))
    if depth >= _MAX_DEPTH:
        return Text(_compact(value), style="dim")
    if isinstance(value, Mapping):
        if not value:
            return Text("—", style="dim")
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        for key, item in list(value.items())[:_MAX_ITEMS]:
            label = str(key) if raw_keys else humanize(str(key))
            inner = render_value(item, depth=depth + 1, raw_keys=raw_keys, compact=compact)
            grid.add_row(escape(label), inner)
        if len(value) > _MAX_ITEMS:
            grid.add_row("…", Text(f"{len(value) - _MAX_ITEMS} more", style="dim"))
        return grid
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = list(value)
        if not items:
            return Text("—", style="dim")
        if all(_is_scalar(i) for i in items):
            if all(isinstance(i, str | int | float) and len(format_scalar(i)) <= 12 for i in items):
                return Text(", ".join(format_scalar(i) for i in items))
            return _bullets(items[:_MAX_ITEMS], depth=depth, raw_keys=raw_keys)  # wrapped lines indent
        records = [i for i in items if isinstance(i, Mapping)]
        if compact and len(records) == len(items):
            shown = records[:_COMPACT_ITEMS]
            lines = _record_lines(shown, more=len(records) - len(shown))
            return _TableOrList(shown, lines) if _tabular(shown) else lines
        bullets = _bullets(items[:_MAX_ITEMS], depth=depth, raw_keys=raw_keys)
        if len(records) == len(items) and _tabular(records):
            return _TableOrList(records[:_MAX_ITEMS], bullets)
        return bullets
    return Text(escape(_compact(value)))


_CELL_MAX = 28
"""Records whose values are all this short become a table; longer text reads better as key: value."""


def _tabular(records: list[Mapping[str, Any]]) -> bool:
    keys = {k for r in records for k in r}
    return 0 < len(keys) <= 7 and all(
        _is_scalar(v) and len(format_scalar(v)) <= _CELL_MAX for r in records for v in r.values()
    )


def _bullets(items: list[Any], *, depth: int, raw_keys: bool) -> RenderableType:
    from rich.console import Group
    from rich.table import Table

    rows: list[RenderableType] = []
    for item in items:
        row = Table.grid(padding=(0, 1))
        row.add_column(no_wrap=True)
        row.add_column()
        row.add_row("•", render_value(item, depth=depth + 1, raw_keys=raw_keys))
        rows.append(row)
    return Group(*rows)


def _record_lines(records: list[Mapping[str, Any]], *, more: int) -> RenderableType:
    """One line per record: its first value, then ``key: value`` for the others, cut at the width."""
    from rich.console import Group
    from rich.text import Text

    lines: list[RenderableType] = []
    for record in records:
        items = list(record.items())
        head = format_scalar(items[0][1]) if items and _is_scalar(items[0][1]) else ""
        rest = items[1:] if head else items
        tail = "; ".join(f"{humanize(str(k)).lower()}: {_one_line(v)}" for k, v in rest)
        text = Text(f"• {head}", style="bold") if head else Text("•")
        if tail:
            text.append((" — " if head else " ") + tail, style="")
        text.no_wrap = True
        text.overflow = "ellipsis"
        lines.append(text)
    if more > 0:
        lines.append(Text(f"  … and {more} more", style="dim"))
    return Group(*lines)


def _one_line(value: Any) -> str:
    return " ".join(format_scalar(value).split()) if _is_scalar(value) else _compact(value)


class _TableOrList:
    """Records as a table when the table fits the width it is given, else as a bulleted list (a table
    squeezed into a nested column wraps every cell into an unreadable tower of fragments)."""

    def __init__(self, records: list[Mapping[str, Any]], fallback: RenderableType) -> None:
        self._records = records
        self._fallback = fallback

    def _width(self) -> int:
        keys: list[str] = []
        for r in self._records:
            keys.extend(k for k in r if k not in keys)
        widths = [
            max(len(humanize(k)), *(len(format_scalar(r.get(k))) for r in self._records)) for k in keys
        ]
        return sum(widths) + len(widths) - 1

    def __rich_console__(self, console: Any, options: Any) -> Any:
        if self._width() <= options.max_width:
            yield _records_table(self._records)
        else:
            yield self._fallback


def _records_table(records: list[Mapping[str, Any]]) -> RenderableType:
    from rich.markup import escape
    from rich.table import Table

    keys: list[str] = []
    for r in records:
        keys.extend(k for k in r if k not in keys)
    table = Table(show_edge=False, pad_edge=False, header_style="bold", box=None)
    for k in keys:
        table.add_column(escape(humanize(k)), overflow="fold")
    for r in records:
        table.add_row(*(escape(format_scalar(r.get(k))) for k in keys))
    return table


def _compact(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 200 else text[:200] + "…"


def render_verdict(verdict: Mapping[str, Any] | None, *, compact: bool = False) -> RenderableType:
    """The verdict: its headline and other plain fields in one aligned block, then one titled,
    indented section per structured field (sizing, risk, conditions, dissent, ...).

    ``compact`` (the report at the end of ``quorum run``): provenance fields are left out and records
    take one line each; ``quorum show`` has everything."""
    from rich.console import Group
    from rich.markup import escape
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    if not verdict:
        return Text("no verdict", style="dim")
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold", no_wrap=True)
    fields.add_column()
    headline = [k for k in _HEADLINE if k in verdict and _is_scalar(verdict[k])]
    ordered = headline + [k for k in _SECTION_ORDER if k in verdict and k not in headline]
    ordered += [k for k in verdict if k not in ordered]
    sections: list[RenderableType] = []
    for key in ordered:
        value = verdict[key]
        if compact and str(key).lower() in _DETAIL_KEYS:
            continue
        if _is_scalar(value):
            style = _DECISION_STYLE.get(str(value), "bold") if key == "decision" else ""
            fields.add_row(escape(humanize(str(key))), Text(format_scalar(value), style=style))
        else:
            sections.append(Text(humanize(str(key)), style="bold underline"))
            sections.append(Padding(render_value(value, depth=1, compact=compact), (0, 0, 0, 2)))
    parts: list[RenderableType] = [fields] if fields.row_count else []
    return Group(*parts, *sections)
