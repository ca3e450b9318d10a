"""``quorum history`` in a pipe keeps every value whole; ``show`` and the Markdown export summarise a
price history in one line (the JSON export keeps every row)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from quorum.history.sqlite import SQLiteHistoryStore

from ..history.helpers import record
from .helpers import Cli

pytestmark = pytest.mark.integration

LONG_TASK = "quarterly-rebalancing-review-of-the-emerging-markets-sleeve-with-a-very-long-task-name-indeed"


def _prices(n: int) -> list[dict[str, Any]]:
    start = date(2024, 1, 1)
    return [{"date": (start + timedelta(days=i)).isoformat(), "close": 40_000.0 + i} for i in range(n)]


def _recorded(db: Path, **fields: Any) -> None:
    async def write() -> None:
        async with SQLiteHistoryStore(db) as store:
            await store.create_execution(record("exec-h4-1", **fields))

    asyncio.run(write())


def test_history_in_a_pipe_prints_whole_values(cli: Cli) -> None:
    _recorded(cli.db, task=LONG_TASK)
    r = cli("history", env={"COLUMNS": "80"})  # captured: not a terminal
    assert r.code == 0, r
    assert "…" not in r.out
    [row] = [line for line in r.out.splitlines() if "exec-h4-1" in line]
    assert LONG_TASK in row
    assert "pending" in row
    assert row.split() == ["exec-h4-1", LONG_TASK, "pending", *row.split()[3:5], "—"]


def test_show_and_markdown_summarise_a_price_history(cli: Cli) -> None:
    prices = _prices(500)
    _recorded(cli.db, task="cli-demo", input={"ticker": "BTC", "prices": prices,
                                                "pricesByTicker": {"ETH": _prices(3)}})
    shown = cli("show", "exec-h4-1")
    assert shown.code == 0, shown
    assert "500 closes, 2024-01-01..2025-05-14" in shown.out
    assert "3 closes, 2024-01-01..2024-01-03" in shown.out
    assert "40499" not in shown.out.replace(",", "")  # no row of the history itself
    assert "BTC" in shown.out
    markdown = cli("export", "exec-h4-1", "--format", "markdown")
    assert markdown.code == 0, markdown
    [line] = [ln for ln in markdown.out.splitlines() if ln.startswith("> - input:")]
    assert "`prices` = 500 closes, 2024-01-01..2025-05-14" in line
    assert "3 closes, 2024-01-01..2024-01-03" in line
    assert "40499" not in markdown.out
    exported = cli("export", "exec-h4-1").json()
    assert exported["input"]["prices"] == prices  # the JSON export keeps every row
    assert cli("show", "exec-h4-1", "--json").json()["input"]["prices"] == prices


def test_series_summary_forms() -> None:
    from quorum.cli.history_view import input_for_display, series_summary

    assert series_summary([{"close": 1.0}]) == "1 close"
    assert series_summary([{"date": "2024-01-01", "close": 1.0}, {"close": 2.0}]) == "2 closes"
    assert series_summary([1.0, 2.0, 3.5], key="closes") == "3 closes"
    assert series_summary([1, 2, 3], key="weights") is None  # numbers, but not prices
    assert series_summary([{"name": "x"}]) is None
    assert series_summary([]) is None
    assert input_for_display({"a": {"b": {"prices": [1.0]}}, "n": 3}) == {"a": {"b": {"prices": "1 close"}},
                                                                          "n": 3}
