"""The price formats people have: generic CSV, Yahoo exports, ccxt OHLCV (JSON and CSV), dates as dates,
order and duplicates, each change noted and each refusal naming its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from quorum.agents.builtin.prices import (
    closes,
    parse_price_history,
    parse_price_series,
    read_prices_csv,
)
from quorum.errors import InputValidationError
from quorum.market import infer_frequency

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_yahoo_export_uses_adj_close_and_says_so() -> None:
    series = parse_price_series(str(FIXTURES / "yahoo_export_aapl.csv"))
    assert len(series.points) == 10  # the holiday's null row is skipped
    assert series.points[0].date == "2024-01-02"
    assert series.points[0].close == pytest.approx(184.734970)  # Adj Close, not Close (185.64)
    assert series.points[0].volume == 82488700
    notes = " ".join(series.notes)
    assert "Adj Close" in notes
    assert "1 row(s) with null prices skipped" in notes
    assert infer_frequency(series.points).calendar == "weekdays"


def test_ccxt_ohlcv_json_list_reads_millisecond_timestamps() -> None:
    points = read_prices_csv(FIXTURES / "ccxt_ohlcv_btc_usdt_1d.json")
    assert [p.date for p in points][:2] == ["2024-01-01", "2024-01-02"]
    assert points[0].close == 44179.55
    assert points[0].volume == pytest.approx(27174.29903)
    assert infer_frequency(points).calendar == "24/7"  # 2024-01-06 is a Saturday


def test_ccxt_csv_with_hourly_timestamps_keeps_the_time() -> None:
    series = parse_price_series(str(FIXTURES / "ccxt_ohlcv_eth_usdt_1h.csv"))
    assert [p.date for p in series.points][:2] == ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"]
    assert "milliseconds" in " ".join(series.notes)
    assert infer_frequency(series.points).kind == "hourly"


def test_ccxt_lists_as_task_input_and_a_seconds_timestamp_is_refused() -> None:
    points = parse_price_history([[1704067200000, 1, 2, 0.5, 1.5, 10], [1704153600000, 1.5, 2, 1, 1.7, 11]])
    assert [(p.date, p.close) for p in points] == [("2024-01-01", 1.5), ("2024-01-02", 1.7)]
    with pytest.raises(InputValidationError, match=r"prices\[0\]: timestamp 1704067200 is not milliseconds"):
        parse_price_history([[1704067200, 1, 2, 0.5, 1.5, 10]])


def test_dates_are_compared_as_dates_not_text() -> None:
    # as text "2024-1-10" < "2024-1-9"; as dates the ninth comes first
    points = parse_price_history(
        [{"date": "2024-1-8", "close": 1}, {"date": "2024-1-9", "close": 2},
         {"date": "2024-1-10", "close": 3}]
    )
    assert [p.date for p in points] == ["2024-01-08", "2024-01-09", "2024-01-10"]
    assert closes(points) == [1.0, 2.0, 3.0]


def test_an_ambiguous_slashed_date_names_its_line_and_asks_for_the_format(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("date,close\n03/04/2024,1\n04/04/2024,2\n", encoding="utf-8")
    with pytest.raises(InputValidationError) as info:
        read_prices_csv(path)
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}:2: the date '03/04/2024' could be day-first or month-first")
    assert "YYYY-MM-DD" in problem


def test_slashed_dates_the_rows_settle_are_read_in_that_order(tmp_path: Path) -> None:
    series = parse_price_series("date,close\n12/04/2024,1\n13/04/2024,2\n", source="p.csv")
    assert [p.date for p in series.points] == ["2024-04-12", "2024-04-13"]
    assert "DD/MM/YYYY" in " ".join(series.notes)
    settled = r"p.csv:2: dates are written day-first at p.csv:2 .* month-first at p.csv:3"
    with pytest.raises(InputValidationError, match=settled):
        parse_price_series("date,close\n13/04/2024,1\n04/14/2024,2\n", source="p.csv")


def test_unsorted_rows_are_sorted_with_a_note() -> None:
    series = parse_price_series(
        [{"date": "2024-01-02", "close": 2}, {"date": "2024-01-01", "close": 1},
         {"date": "2024-01-03", "close": 3}]
    )
    assert closes(series.points) == [1.0, 2.0, 3.0]
    assert series.notes == ("prices: 1 row(s) out of date order; the rows were sorted by date",)
    newest_first = parse_price_series([{"date": "2024-01-02", "close": 2},
                                       {"date": "2024-01-01", "close": 1}])
    assert closes(newest_first.points) == [1.0, 2.0]
    assert "newest first" in newest_first.notes[0]


def test_identical_duplicates_are_dropped_conflicting_ones_refused(tmp_path: Path) -> None:
    series = parse_price_series("date,close\n2024-01-01,1\n2024-01-02,2\n2024-01-02,2\n", source="d.csv")
    assert closes(series.points) == [1.0, 2.0]
    assert series.notes == ("d.csv: 1 identical duplicate row(s) dropped",)
    with pytest.raises(InputValidationError) as info:
        parse_price_series("date,close\n2024-01-01,1\n2024-01-02,2\n2024-01-02,2.5\n", source="d.csv")
    (problem,) = info.value.problems
    assert problem.startswith("d.csv:3 and d.csv:4: the date 2024-01-02 appears more than once")
    assert "2 and 2.5" in problem


def test_a_word_is_not_a_date_and_positions_do_not_mix_with_dates() -> None:
    with pytest.raises(InputValidationError, match=r"prices\[1\]: 'Jan 2nd' is not a date"):
        parse_price_history([{"date": "2024-01-01", "close": 1}, {"date": "Jan 2nd", "close": 2}])
    with pytest.raises(InputValidationError, match="a position among dates"):
        parse_price_history([{"date": "2024-01-01", "close": 1}, {"date": "2", "close": 2}])


def test_a_non_utf8_price_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"date,close\n2024-01-01,1\n2024-01-02,2 \xe9\n")
    with pytest.raises(InputValidationError, match=rf"{path}:3: not UTF-8"):
        read_prices_csv(path)


def test_a_pandas_export_of_daily_bars_keeps_its_local_dates() -> None:
    text = ("Date,Open,High,Low,Close,Adj Close,Volume\n"
            "2024-01-02 00:00:00-05:00,1,1,1,10,9.5,100\n"
            "2024-01-03 00:00:00-05:00,1,1,1,11,10.5,100\n")
    points = parse_price_series(text, source="aapl.csv").points
    assert [p.date for p in points] == ["2024-01-02", "2024-01-03"]
    intraday = parse_price_history("date,close\n2024-01-02T14:30:00-05:00,1\n2024-01-02T15:30:00-05:00,2\n")
    assert [p.date for p in intraday] == ["2024-01-02T19:30:00Z", "2024-01-02T20:30:00Z"]
