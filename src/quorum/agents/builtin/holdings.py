"""The current position and the data's provenance, read from the task input.

- ``position``: this ticker's current holding: a value in the account currency (``5000``), or
  ``{value: 5000}``, or ``{quantity: 0.1}`` (valued at the last close).
- ``holdings``: the portfolio's holdings by ticker, each in one of the forms of ``position``; the
  ticker's own entry is its position when ``position`` is not given.
- ``marketData``: the provenance of ``prices`` (provider, symbol, interval, as-of time, quality notes),
  as the data layer (``--data``, ``--prices``) writes it, or ``{byTicker: {TICKER: ...}}``; copied into
  the snapshot and the memo as given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from quorum.definition.model import thaw
from quorum.errors import InputValidationError

__all__ = ("current_position", "provenance")


def _positive_or_zero(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InputValidationError(
            [f"{where}: expected a value of zero or more in the account currency, got {value!r}"]
        )
    return float(value)


def _holding_value(raw: Any, where: str, last_close: float | None) -> float:
    if isinstance(raw, Mapping):
        if "value" in raw:
            return _positive_or_zero(raw["value"], f"{where}.value")
        if "quantity" in raw:
            quantity = _positive_or_zero(raw["quantity"], f"{where}.quantity")
            if last_close is None:
                raise InputValidationError(
                    [f"{where}.quantity: a quantity needs a price history to be valued; give {where}.value"]
                )
            return quantity * last_close
        raise InputValidationError([f"{where}: expected {{value: ...}} or {{quantity: ...}}, got {raw!r}"])
    return _positive_or_zero(raw, where)


def current_position(inputs: Mapping[str, Any], ticker: str, last_close: float | None) -> tuple[float, str]:
    """The value held in ``ticker`` now and where it was read (0 and 'none' without either input)."""
    if inputs.get("position") is not None:
        return _holding_value(inputs["position"], "position", last_close), "input.position"
    holdings = inputs.get("holdings")
    if holdings is None:
        return 0.0, "none"
    if not isinstance(holdings, Mapping):
        raise InputValidationError([f"holdings: expected a mapping ticker -> value, got {holdings!r}"])
    for key, raw in holdings.items():
        if str(key).strip().upper() == ticker:
            return _holding_value(raw, f"holdings.{key}", last_close), f"input.holdings.{key}"
    return 0.0, "input.holdings (no entry for the ticker)"


def provenance(inputs: Mapping[str, Any], ticker: str = "") -> dict[str, Any] | None:
    """The ticker's ``marketData``: the object itself, or its entry under ``byTicker`` (several tickers)."""
    raw = inputs.get("marketData")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InputValidationError([f"marketData: expected a mapping (provider, as_of, ...), got {raw!r}"])
    by_ticker = raw.get("byTicker")
    if isinstance(by_ticker, Mapping):
        entry = next((v for k, v in by_ticker.items() if str(k).strip().upper() == ticker), None)
        return {str(k): thaw(v) for k, v in entry.items()} if isinstance(entry, Mapping) else None
    return {str(k): thaw(v) for k, v in raw.items()}
