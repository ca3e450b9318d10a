"""The shipped portfolio-review task: a committee per ticker as child executions, then the allocation."""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path
from typing import Any

import pytest

from quorum.engine.allocation import allocate
from quorum.engine.executor import TaskExecutor
from quorum.errors import ExecutionError
from quorum.history.memory import MemoryHistoryStore
from quorum.ids import PhaseName

from ..cli.helpers import Cli


def _child(ticker: str, decision: str, conviction: float, approved: float) -> dict[str, Any]:
    return {"execution_id": f"id-{ticker}", "item": ticker,
            "verdict": {"ticker": ticker, "decision": decision, "conviction": conviction,
                        "approved_amount": approved, "rating": "Buy"}}


def test_the_budget_is_split_by_decision_times_conviction_within_each_approval() -> None:
    out = allocate([_child("A", "APPROVE", 80, 100_000), _child("B", "APPROVE_WITH_CONDITIONS", 80, 100_000),
                    _child("C", "REJECT", 90, 0)], 90_000)
    rows = {r["ticker"]: r for r in out["allocation"]}
    # scores 0.8, 0.4, 0: two thirds and one third of the budget
    assert (rows["A"]["amount"], rows["B"]["amount"], rows["C"]["amount"]) == (60_000, 30_000, 0)
    assert (rows["A"]["weight"], rows["C"]["weight"]) == (pytest.approx(2 / 3, abs=1e-6), 0)
    assert out["invested"] == 90_000
    assert out["cash"] == 0
    assert [r["ticker"] for r in out["allocation"]] == ["A", "B", "C"]  # the children's order


def test_a_committees_approval_caps_its_ticker_and_the_rest_stays_in_cash() -> None:
    out = allocate([_child("A", "APPROVE", 50, 10_000), _child("B", "APPROVE", 50, 100_000)], 100_000)
    rows = {r["ticker"]: r for r in out["allocation"]}
    assert rows["A"]["amount"] == 10_000
    assert rows["A"]["capped"] is True
    assert rows["B"]["amount"] == 50_000
    assert rows["B"]["capped"] is False
    assert out["cash"] == 40_000
    assert out["summary"] == "A 10.0%, B 50.0%; cash 40.0%"


def test_max_weight_caps_one_ticker_and_no_conviction_means_cash() -> None:
    out = allocate([_child("A", "APPROVE", 90, 1e9)], 1_000, max_weight=0.25)
    assert out["allocation"][0]["amount"] == 250
    assert out["cash"] == 750
    none = allocate([_child("A", "DEFER", 0, 0), _child("B", "REJECT", 70, 0)], 1_000)
    assert none["invested"] == 0
    assert none["cash"] == 1_000
    assert none["summary"].startswith("no position")
    with pytest.raises(ExecutionError, match="budget must be positive"):
        allocate([], 0)
    with pytest.raises(ExecutionError, match="element 0 is str"):
        allocate(["A"], 100)  # type: ignore[list-item]


def _rows(drift: float, seed: int, n: int = 300) -> list[dict[str, Any]]:
    rng, price, rows = random.Random(seed), 100.0, []
    for i in range(n):
        price *= math.exp(rng.gauss(drift, 0.012))
        day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=n - 1 - i)
        rows.append({"date": day.isoformat(), "close": round(price, 4), "volume": 50_000 + i})
    return rows


async def test_portfolio_review_runs_a_committee_per_ticker_and_allocates_to_the_ones_they_back(
    tmp_path: Path,
) -> None:
    store = MemoryHistoryStore()
    prices = {"UPCO": _rows(0.003, 6), "DOWNCO": _rows(-0.004, 7)}
    async with TaskExecutor(tasks_dir=tmp_path, history_store=store) as executor:
        result = await executor.execute("portfolio-review", {
            "tickers": ["upco", "downco"], "amount": 100_000, "riskTolerance": "medium",
            "portfolioValue": 250_000,
            "pricesByTicker": prices,
            "newsByTicker": {"UPCO": ["Adoption grows as approval nears", "Record inflows, analysts upgrade"],
                             "DOWNCO": ["Guidance cut", "Regulator opens probe"]},
        })
    assert result.status.value == "completed", result.error
    verdict = result.verdict
    assert verdict is not None
    rows = {r["ticker"]: r for r in verdict["allocation"]}
    assert list(rows) == ["UPCO", "DOWNCO"]
    up, down = rows["UPCO"], rows["DOWNCO"]
    assert up["decision"].startswith("APPROVE")
    assert 0 < up["approved_amount"] < 50_000
    # its share (all of the scores, capped at maxWeight 0.5) is above what its committee approved
    assert up["amount"] == up["approved_amount"]
    assert up["capped"] is True
    assert down["amount"] == 0  # its committee did not back it
    assert verdict["invested"] + verdict["cash"] == pytest.approx(100_000)
    children = result.phases[PhaseName("Committees")].outputs["children"]
    for child, row in zip(children, verdict["allocation"], strict=True):
        record = await store.get_execution(child["execution_id"])
        assert record is not None
        assert record.task == "investment-committee-meeting"
        assert record.parent_id == result.id
        assert record.status == "completed"
        assert row["execution_id"] == child["execution_id"]
        assert child["verdict"]["approved_amount"] == row["approved_amount"]


def test_portfolio_review_runs_offline_from_the_command_line(tmp_path: Path) -> None:
    cli = Cli.in_folder(tmp_path)  # QUORUM_DATA=none: no market data provider is asked
    run = cli("run", "portfolio-review", "tickers=AAPL,MSFT", "amount=100000", "--json", timeout=120)
    assert run.code == 0, run
    out = run.json()
    assert out["status"] == "completed"
    verdict = out["verdict"]
    assert [r["ticker"] for r in verdict["allocation"]] == ["AAPL", "MSFT"]
    # without price histories every committee defers: the budget stays in cash
    assert [r["decision"] for r in verdict["allocation"]] == ["DEFER", "DEFER"]
    assert verdict["cash"] == 100_000
    shown = cli("show", out["id"], "--json")
    assert shown.code == 0, shown
    assert [c["task"] for c in shown.json()["children"]] == ["investment-committee-meeting"] * 2
    assert [c["status"] for c in shown.json()["children"]] == ["completed", "completed"]
