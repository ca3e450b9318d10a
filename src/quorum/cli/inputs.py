"""Task inputs from the command line: ``key=value`` pairs, ``--input file.json``, ``--prices file.csv``.

Values typed on the command line stay strings here; the parser's ``validate_task_requirements``
coerces them by the task's requirements (``amount=10000`` -> a number, ``tickers=BTC,ETH`` -> a list),
checks every field and applies defaults. A bad input ends the command before anything starts, listing
every requirement with its type.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quorum.cli.common import ExitCode, fail

if TYPE_CHECKING:
    from rich.console import RenderableType

    from quorum.definition.model import Requirement, Task

__all__ = ("build_input", "read_prices", "requirements_table", "usage_line")


def build_input(
    task: Task,
    pairs: Sequence[str],
    *,
    input_file: Path | None = None,
    prices: Path | None = None,
) -> dict[str, Any]:
    """The raw input mapping (file, then prices, then key=value pairs, later ones winning)."""
    data: dict[str, Any] = {}
    if input_file is not None:
        data.update(_read_json_object(input_file))
    if prices is not None:
        data["prices"] = read_prices(prices)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            fail(
                f"bad input {pair!r}: inputs are given as key=value",
                code=ExitCode.USAGE,
                details=(usage_line(task),),
            )
        # kept as text: the task's requirements coerce it (amount=10000 -> 10000, flag=yes -> True)
        data[key] = value
    return data


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"--input {path}: {exc.strerror or exc}", code=ExitCode.USAGE)
    except UnicodeDecodeError:
        fail(f"--input {path}: not UTF-8 text", code=ExitCode.USAGE)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--input {path}:{exc.lineno}: not valid JSON: {exc.msg}", code=ExitCode.USAGE)
    if not isinstance(value, dict):
        fail(
            f"--input {path}: must hold a JSON object (key: value), got {type(value).__name__}",
            code=ExitCode.USAGE,
        )
    return value


def read_prices(path: Path) -> list[dict[str, Any]]:
    """A price history CSV (``date,close[,volume]``) as input rows; every bad row is reported with
    ``file:line`` (the built-in specialists' reader, so the CLI and the agents agree on the format)."""
    from quorum.agents.builtin.prices import read_prices_csv

    _check_utf8(path)
    rows: list[dict[str, Any]] = []
    for point in read_prices_csv(path):
        row: dict[str, Any] = {"date": point.date, "close": point.close}
        if point.volume is not None:
            row["volume"] = point.volume
        rows.append(row)
    return rows


def _check_utf8(path: Path, *, max_bytes: int = 20_000_000) -> None:
    """A price file that is not UTF-8 is refused with its line and column (the decoder knows only the
    byte offset). Missing or oversized files are left to the reader, which says so."""
    from quorum.errors import InputValidationError

    try:
        if path.stat().st_size > max_bytes:
            return
        data = path.read_bytes()
    except OSError:
        return
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputValidationError(
            [
                f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}); "
                "save the file as UTF-8"
            ]
        ) from None


def type_label(r: Requirement) -> str:
    if r.enum:
        return "one of " + ", ".join(str(v) for v in r.enum)
    label = r.type
    bounds = []
    if r.min is not None:
        bounds.append(f">= {r.min:g}")
    if r.max is not None:
        bounds.append(f"<= {r.max:g}")
    if r.pattern:
        bounds.append(f"matching {r.pattern}")
    return f"{label} ({', '.join(bounds)})" if bounds else label


def requirements_table(task: Task) -> RenderableType:
    """Every requirement of the task with its type, whether it is required, default and description."""
    from rich.markup import escape

    from quorum.cli.report import table as make_table

    table = make_table("name", "type", "required", "description", title=f"inputs of {task.name}")
    table.columns[0].no_wrap = True
    for r in task.requirements:
        if r.required and r.default is None:
            needed = "yes"
        elif r.default is not None:
            needed = f"no (default {_show(r.default)})"
        else:
            needed = "no"
        table.add_row(escape(r.name), escape(type_label(r)), escape(needed), escape(r.description or ""))
    return table


def usage_line(task: Task) -> str:
    parts = []
    for r in task.requirements:
        example = f"{r.name}=<{r.type}>" if not r.enum else f"{r.name}={'|'.join(str(v) for v in r.enum)}"
        if r.name == "prices" and r.type == "list":
            example = "--prices FILE.csv"
        parts.append(example if r.required and r.default is None else f"[{example}]")
    return f"usage: quorum run {task.name} " + " ".join(parts)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)  # true, 1.5, ["a"]: as it would be written in JSON
