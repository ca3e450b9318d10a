"""Price histories: accepted shapes, ordering, and errors that name the place (file:line, prices[i])."""

from __future__ import annotations

from pathlib import Path

import pytest

from quorum.agents.builtin.prices import (
    PricePoint,
    closes,
    parse_price_history,
    parse_prices_csv,
    read_prices_csv,
)
from quorum.errors import InputValidationError

pytestmark = pytest.mark.unit


def test_rows_numbers_and_csv_text_give_the_same_points() -> None:
    rows = [{"date": "2024-01-01", "close": 10}, {"date": "2024-01-02", "close": "11.5", "volume": 7}]
    points = parse_price_history(rows)
    assert points == (
        PricePoint(date="2024-01-01", close=10.0),
        PricePoint(date="2024-01-02", close=11.5, volume=7.0),
    )
    assert parse_price_history("date,close,volume\n2024-01-01,10,\n2024-01-02,11.5,7\n") == points
    assert closes(parse_price_history([1, 2, 3])) == [1.0, 2.0, 3.0]
    assert parse_price_history(None) == ()


def test_a_history_given_newest_first_is_reversed() -> None:
    rows = [
        {"date": "2024-01-03", "close": 3},
        {"date": "2024-01-02", "close": 2},
        {"date": "2024-01-01", "close": 1},
    ]
    assert closes(parse_price_history(rows)) == [1.0, 2.0, 3.0]


def test_rows_in_no_order_are_sorted_and_conflicting_repeats_refused() -> None:
    rows = [
        {"date": "2024-01-02", "close": 2},
        {"date": "2024-01-01", "close": 1},
        {"date": "2024-01-03", "close": 3},
    ]
    assert closes(parse_price_history(rows)) == [1.0, 2.0, 3.0]
    with pytest.raises(InputValidationError, match="appears more than once with different values"):
        parse_price_history([{"date": "2024-01-01", "close": 1}, {"date": "2024-01-01", "close": 2}])


def test_every_bad_row_is_reported_with_its_position() -> None:
    with pytest.raises(InputValidationError) as info:
        parse_price_history([{"date": "d1", "close": "abc"}, {"date": "d2", "close": -1}, {"date": "d3"}])
    problems = info.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("prices[0]: close 'abc'")
    assert problems[1].startswith("prices[1]: close -1")
    assert problems[2].startswith("prices[2]: no 'close'")


def test_csv_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "btc.csv"
    path.write_text("date,close\n2024-01-01,100\n2024-01-02,oops\n\n2024-01-04,-3\n", encoding="utf-8")
    with pytest.raises(InputValidationError) as info:
        read_prices_csv(path)
    assert [p.split(": ")[0] for p in info.value.problems] == [f"{path}:3", f"{path}:5"]


def test_csv_header_volume_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputValidationError, match=r"<prices>:1: the header lacks close"):
        parse_prices_csv("date,price\n2024-01-01,1\n")
    with pytest.raises(InputValidationError, match=r":2: volume 'x'"):
        parse_prices_csv("date,close,volume\n2024-01-01,1,x\n")
    with pytest.raises(InputValidationError, match="no such price file"):
        read_prices_csv(tmp_path / "missing.csv")
    good = tmp_path / "ok.csv"
    good.write_text("\ufeffDate,Close\n2024-01-01,1\n2024-01-02,2\n", encoding="utf-8")
    assert closes(parse_price_history(str(good))) == [1.0, 2.0]


def test_a_mapping_is_not_a_history() -> None:
    with pytest.raises(InputValidationError, match="expected a list"):
        parse_price_history({"close": 1})
