from __future__ import annotations

from typing import Any

import pytest

from quorum.definition.model import Task
from quorum.definition.parser import TaskParser
from quorum.errors import InputValidationError

pytestmark = [pytest.mark.unit]

META = """\
name: demo
requirements:
  ticker: {type: string, pattern: '[A-Z]{1,5}'}
  amount: {type: number, min: 1, max: 1000000}
  shares: {type: integer, required: false}
  confirm: {type: boolean, default: false}
  timeHorizon: {type: string, default: 30 days}
  riskTolerance: [low, medium, high]
  tickers: {type: list, required: false, max: 3}
  options: {type: object, required: false}
  level: [1, 2, 3]
"""


@pytest.fixture
def task(parser: TaskParser, text: Any) -> Task:
    return parser.parse_task_content(text(meta=META))


def validate(parser: TaskParser, task: Task, data: dict[str, Any]) -> dict[str, Any]:
    return parser.validate_task_requirements(task, data)


def test_typed_input_passes_and_defaults_apply(parser: TaskParser, task: Task) -> None:
    out = validate(parser, task, {"ticker": "BTC", "amount": 10000, "riskTolerance": "medium", "level": 2})
    assert out == {
        "ticker": "BTC",
        "amount": 10000,
        "riskTolerance": "medium",
        "level": 2,
        "confirm": False,
        "timeHorizon": "30 days",
    }


def test_cli_strings_are_coerced(parser: TaskParser, task: Task) -> None:
    out = validate(parser, task, {
        "ticker": "BTC", "amount": "10000", "shares": "12", "confirm": "yes", "riskTolerance": "low",
        "tickers": '["A", "B"]', "options": '{"x": 1}', "level": "3",
    })  # fmt: skip
    assert out["amount"] == 10000
    assert isinstance(out["amount"], int)
    assert out["shares"] == 12
    assert out["confirm"] is True
    assert out["tickers"] == ["A", "B"]
    assert out["options"] == {"x": 1}
    assert out["level"] == 3
    assert (
        validate(parser, task, {**out, "amount": "2.5", "tickers": "A, B", "confirm": "off"})["amount"] == 2.5
    )
    assert validate(parser, task, {**out, "tickers": "A, B"})["tickers"] == ["A", "B"]
    assert validate(parser, task, {**out, "confirm": "false"})["confirm"] is False


@pytest.mark.errors
def test_every_problem_is_listed(parser: TaskParser, task: Task) -> None:
    with pytest.raises(InputValidationError) as info:
        validate(parser, task, {
            "ticker": "btc", "amount": "lots", "shares": 1.5, "confirm": "perhaps",
            "riskTolerance": "extreme", "tickers": ["a", "b", "c", "d"], "options": "[1]", "level": 7,
            "tiker": "X",
        })  # fmt: skip
    problems = info.value.problems
    joined = "\n".join(problems)
    assert len(problems) == 9, joined
    assert "ticker: expected text matching '[A-Z]{1,5}', got the text 'btc'" in joined
    assert "amount: expected number, got the text 'lots'" in joined
    assert "shares: expected integer, got the number 1.5" in joined
    assert "confirm: expected boolean, got the text 'perhaps'" in joined
    assert "riskTolerance: expected one of low, medium, high, got the text 'extreme'" in joined
    assert "tickers: length must be at most 3, got 4" in joined
    assert "options: expected object" in joined
    assert "level: expected one of 1, 2, 3, got the number 7" in joined
    assert "tiker: not an input of this task (did you mean 'ticker'?)" in joined
    assert info.value.task == "demo"


@pytest.mark.errors
def test_missing_required(parser: TaskParser, task: Task) -> None:
    with pytest.raises(InputValidationError) as info:
        validate(parser, task, {})
    joined = "\n".join(info.value.problems)
    assert "ticker: required (string), but not given" in joined
    assert "riskTolerance: required (string: one of low, medium, high), but not given" in joined
    assert "confirm" not in joined  # has a default


@pytest.mark.errors
@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("amount", 0, "at least 1"),
        ("amount", 2_000_000, "at most 1e+06"),
        ("amount", float("nan"), "finite"),
        ("amount", True, "expected number, got the boolean true"),
        ("ticker", 5, "expected string, got the number 5"),
        ("shares", "1e3", "expected integer"),
        ("tickers", "[1,", "expected list"),
    ],
)
def test_single_problems(parser: TaskParser, task: Task, field: str, value: Any, fragment: str) -> None:
    data = {"ticker": "BTC", "amount": 5, "riskTolerance": "low", "level": 1, field: value}
    with pytest.raises(InputValidationError) as info:
        validate(parser, task, data)
    assert len(info.value.problems) == 1, info.value.problems
    assert fragment in info.value.problems[0]


def test_task_without_requirements_passes_input_through(parser: TaskParser, text: Any) -> None:
    task = parser.parse_task_content(text(meta="name: free"))
    assert validate(parser, task, {"anything": 1}) == {"anything": 1}


@pytest.mark.errors
def test_input_must_be_a_mapping(parser: TaskParser, task: Task) -> None:
    with pytest.raises(InputValidationError, match="must be a mapping"):
        parser.validate_task_requirements(task, ["x"])  # type: ignore[arg-type]


def test_defaults_are_fresh_copies(parser: TaskParser, text: Any) -> None:
    task = parser.parse_task_content(
        text(meta="name: d\nrequirements:\n  items: {type: list, default: [1, 2]}")
    )
    first = validate(parser, task, {})
    first["items"].append(3)
    assert validate(parser, task, {})["items"] == [1, 2]


@pytest.mark.errors
def test_deeply_nested_json_input_is_an_input_error(parser: TaskParser, task: Task) -> None:
    data = {"ticker": "BTC", "amount": 5, "riskTolerance": "low", "level": 1, "options": "[" * 100_000}
    with pytest.raises(InputValidationError, match="options: expected object"):
        validate(parser, task, data)
    data["options"] = '{"a":' * 50_000 + "1" + "}" * 50_000
    with pytest.raises(InputValidationError, match="options: expected object"):
        validate(parser, task, data)
