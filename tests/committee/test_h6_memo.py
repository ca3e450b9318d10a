"""The committee's verdict read as a memo: ``quorum export --format markdown`` through the real CLI, and
the input checks of the new inputs (policy, position) ending the meeting at Activation with the reason."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from pathlib import Path

import pytest

import quorum.engine.executor as executor_module
from quorum.agents.builtin.prices import read_prices_csv
from quorum.cli.memo import memo_markdown
from quorum.market._inputs import provenance_of_file  # what --prices stores as marketData

from ..cli.helpers import Cli

pytestmark = pytest.mark.integration


def _prices_csv(path: Path, n: int = 300) -> Path:
    rng, price, rows = random.Random(6), 100.0, ["date,close,volume"]
    for i in range(n):
        price *= math.exp(rng.gauss(0.003, 0.012))
        day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=n - 1 - i)  # ends today: not stale
        rows.append(f"{day.isoformat()},{price:.4f},{50_000 + i}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_markdown_export_reads_as_a_memo(tmp_path: Path) -> None:
    cli = Cli.in_folder(tmp_path)
    prices = _prices_csv(tmp_path / "xyz.csv")
    news = json.dumps(["Adoption grows as approval nears", "Record inflows, analysts upgrade"])
    r = cli(
        "run",
        "investment-committee-meeting",
        "ticker=XYZ",
        "amount=10000",
        "riskTolerance=medium",
        "portfolioValue=250000",
        f"news={news}",
        "--prices",
        str(prices),
        "--json",
    )
    assert r.code == 0, r
    result = r.json()
    verdict = result["verdict"]
    assert verdict["decision"].startswith("APPROVE"), verdict["summary"]
    md = cli("export", result["id"], "--format", "markdown")
    assert md.code == 0, md
    memo = md.out.split("## Verdict", 1)[1]
    for heading in (
        "#### Thesis",
        "#### The debate",
        "#### Scenarios over the horizon",
        "#### Exit plan",
        "#### Risk",
        "#### The vote",
        "#### Data",
        "#### Provenance of every number",
        "#### Clamp log",
    ):
        assert heading in memo
    assert "| bull |" in memo
    assert "| base |" in memo
    assert "| bear |" in memo
    assert "Loss at the stop" in memo
    assert "Gap risk" in memo
    assert "Costs and slippage" in memo  # volume was given: impact estimated
    assert "```json" not in memo  # a memo, not a dump of the record
    assert "liquidity" in json.dumps(verdict["validation"]["checks"])


def test_a_verdict_of_another_task_is_not_a_memo() -> None:
    assert memo_markdown({"answer": "yes", "confidence": 0.5}) is None
    assert memo_markdown(None) is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"policy": {"ewma_lamda": 0.9}}, "policy.ewma_lamda: unknown policy field"),
        (
            {"policy": {"limits": {"medium": {"target_volatility": -1}}}},
            "policy.limits.medium.target_volatility",
        ),
        ({"position": {"shares": 3}}, "position: expected {value: ...} or {quantity: ...}"),
    ],
)
async def test_bad_new_inputs_end_the_meeting_at_activation_with_the_reason(
    tmp_path: Path, extra: dict[str, object], message: str
) -> None:
    inputs = {"ticker": "XYZ", "amount": 10_000, "riskTolerance": "medium", **extra}
    result = await executor_module.TaskExecutor(tasks_dir=tmp_path).execute(
        "investment-committee-meeting", inputs
    )
    assert result.status.value == "failed"
    assert "The request is invalid" in str(result.error)
    assert message in str(result.error)


async def test_the_data_layers_provenance_reaches_the_verdict(tmp_path: Path) -> None:
    prices = _prices_csv(tmp_path / "xyz.csv")
    rows = [{"date": p.date, "close": p.close, "volume": p.volume} for p in read_prices_csv(prices)]
    meta = provenance_of_file(prices, ticker="XYZ")
    for market_data in (meta, {"byTicker": {"XYZ": meta}}):
        inputs = {
            "ticker": "XYZ",
            "amount": 10_000,
            "riskTolerance": "medium",
            "prices": rows,
            "marketData": market_data,
        }
        result = await executor_module.TaskExecutor(tasks_dir=tmp_path).execute(
            "investment-committee-meeting", inputs
        )
        assert result.status.value == "completed", result.error
        data = result.to_dict()["verdict"]["data"]
        assert data["provenance"]["symbol"] == "xyz.csv"
        assert data["source"] == meta["provider"] or data["source"] == meta["source"]
        assert data["as_of"] == (meta["as_of"] or rows[-1]["date"])
