from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quorum.definition.durations import MAX_SECONDS, DurationError, format_duration, parse_time_string
from quorum.definition.parser import TaskParser
from quorum.definition.parser import parse_time_string as module_level

pytestmark = [pytest.mark.unit]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("30 seconds", 30.0),
        ("5 minutes", 300.0),
        ("5 min", 300.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1 hour and 30 minutes", 5400.0),
        ("1.5 hours", 5400.0),
        ("2 days", 172800.0),
        ("1 week", 604800.0),
        ("1 WEEK", 604800.0),
        (".5s", 0.5),
        ("1500", 1.5),
        ("  250  ", 0.25),
        (1500, 1.5),
        (2.5, 0.0025),
        ("0", 0.0),
        ("0s", 0.0),
    ],
)
def test_parses(text: str | int | float, seconds: float) -> None:
    assert parse_time_string(text) == pytest.approx(seconds)


def test_plain_numbers_are_milliseconds_and_result_is_seconds() -> None:
    assert parse_time_string(1000) == 1.0
    assert parse_time_string("1000") == 1.0


def test_exposed_on_parser_and_module() -> None:
    assert TaskParser.parse_time_string("2s") == 2.0
    assert TaskParser().parse_time_string("2s") == 2.0
    assert module_level("2s") == 2.0


@pytest.mark.errors
@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("-5s", "negative"),
        (-1, "negative"),
        ("nan", "finite"),
        (math.nan, "finite"),
        (math.inf, "finite"),
        ("inf", "finite"),
        ("", "empty"),
        ("   ", "empty"),
        ("5 fortnights", "unknown unit 'fortnights'"),
        ("5 secs x", "cannot read"),
        ("31 days", "maximum of 30 days"),
        ("9999999999999 hours", "maximum"),
        (10**20, "maximum"),
        ("1" * 100, "longer than 64"),
        ("1e400", "unknown unit 'e'"),
        ("5s 5s", "given twice"),
        (True, "not bool"),
        ([1], "not list"),
    ],
)
def test_refuses(value: object, fragment: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_time_string(value)  # type: ignore[arg-type]
    message = str(info.value)
    assert fragment in message
    assert "500ms" in message  # every message says what is allowed


@pytest.mark.errors
def test_misspelt_unit_gets_a_suggestion() -> None:
    with pytest.raises(DurationError, match="did you mean 'minute"):
        parse_time_string("5 minuts")


def test_maximum_is_allowed_exactly() -> None:
    assert parse_time_string("30 days") == MAX_SECONDS


@given(st.integers(min_value=0, max_value=MAX_SECONDS * 1000))
def test_format_parse_round_trip(ms: int) -> None:
    seconds = ms / 1000
    text = format_duration(seconds)
    assert parse_time_string(text) == seconds


@given(st.integers(min_value=0, max_value=MAX_SECONDS * 1000))
def test_numeric_strings_round_trip(ms: int) -> None:
    assert parse_time_string(str(ms)) == ms / 1000


def test_format_examples() -> None:
    assert format_duration(5400) == "1h30m"
    assert format_duration(0.25) == "250ms"
    assert format_duration(0) == "0ms"
    assert format_duration(90061.5) == "1d1h1m1s500ms"
    with pytest.raises(ValueError):
        format_duration(-1)
