"""What common models cost per million tokens, so that a ``maxCost`` budget holds whatever ``--model`` says.

An agent file may set ``price: {input, output}`` (USD per million tokens); an answer priced that way
carries its cost. An answer without a cost (its agent's file names no price, e.g. a built-in agent moved
to an LLM by ``--model``) is priced from this table by its model string when a budget counts it.

The table (:data:`DEFAULT_PRICES`, list prices as published by the providers; check them before relying
on them) is replaced entry by entry by a price file: JSON or TOML mapping a model string to
``{input = 2.0, output = 8.0}``, given with ``quorum run --model-prices FILE`` or ``QUORUM_MODEL_PRICES``.
A model string matches its own entry, else the longest entry it starts with followed by ``-`` (dated
snapshots: ``openai:gpt-4.1-mini-2025-04-14`` is priced as ``openai:gpt-4.1-mini``).
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quorum.errors import ConfigurationError

__all__ = ("DEFAULT_PRICES", "Price", "PriceTable", "active_prices", "load_price_file", "using_prices")


@dataclass(frozen=True, slots=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_per_mtok + tokens_out * self.output_per_mtok) / 1e6


DEFAULT_PRICES: Mapping[str, Price] = {
    "openai:gpt-4o": Price(2.50, 10.00),
    "openai:gpt-4o-mini": Price(0.15, 0.60),
    "openai:gpt-4.1": Price(2.00, 8.00),
    "openai:gpt-4.1-mini": Price(0.40, 1.60),
    "openai:gpt-4.1-nano": Price(0.10, 0.40),
    "openai:o3": Price(2.00, 8.00),
    "openai:o3-mini": Price(1.10, 4.40),
    "openai:o4-mini": Price(1.10, 4.40),
    "anthropic:claude-opus-4-1": Price(15.00, 75.00),
    "anthropic:claude-opus-4": Price(15.00, 75.00),
    "anthropic:claude-sonnet-4-5": Price(3.00, 15.00),
    "anthropic:claude-sonnet-4": Price(3.00, 15.00),
    "anthropic:claude-3-7-sonnet": Price(3.00, 15.00),
    "anthropic:claude-haiku-4-5": Price(1.00, 5.00),
    "anthropic:claude-3-5-haiku": Price(0.80, 4.00),
}


class PriceTable:
    """Model string -> :class:`Price`, with the dated-snapshot fallback described above."""

    __slots__ = ("_prices",)

    def __init__(self, prices: Mapping[str, Price] = DEFAULT_PRICES) -> None:
        self._prices = dict(prices)

    def price_of(self, model: str) -> Price | None:
        found = self._prices.get(model)
        if found is not None:
            return found
        best = ""
        for name in self._prices:
            if model.startswith(name + "-") and len(name) > len(best):
                best = name
        return self._prices[best] if best else None

    def cost(self, model: str | None, tokens_in: int, tokens_out: int) -> float | None:
        price = None if model is None else self.price_of(model)
        return None if price is None else price.cost(tokens_in, tokens_out)

    def updated(self, prices: Mapping[str, Price]) -> PriceTable:
        return PriceTable({**self._prices, **prices})

    def __len__(self) -> int:
        return len(self._prices)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigurationError(f"{where} must be a number >= 0 (USD per million tokens), not {value!r}")
    return float(value)


def load_price_file(path: Path, base: PriceTable | None = None) -> PriceTable:
    """``base`` (default: the built-in table) with the entries of a JSON or TOML price file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the price file {path}: {exc.strerror or exc}") from None
    data: Any
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    example = 'e.g. {"openai:gpt-4.1-mini": {"input": 0.4, "output": 1.6}}'
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{path}: a price file maps model strings to prices; {example}")
    prices: dict[str, Price] = {}
    for model, entry in data.items():
        where = f"{path}: {model!r}"
        if not isinstance(entry, Mapping) or set(entry) - {"input", "output"} or not entry:
            raise ConfigurationError(
                f"{where}: expected {{input, output}} in USD per million tokens; {example}"
            )
        prices[str(model)] = Price(_number(entry.get("input", 0), f"{where} input"),
                                   _number(entry.get("output", 0), f"{where} output"))
    return (base or PriceTable()).updated(prices)


_BUILTIN = PriceTable()
_ACTIVE: contextvars.ContextVar[PriceTable | None] = contextvars.ContextVar("quorum_prices", default=None)


def active_prices() -> PriceTable:
    """The table budgets price unpriced answers with (the built-in one unless :func:`using_prices`)."""
    table = _ACTIVE.get()
    return _BUILTIN if table is None else table


@contextmanager
def using_prices(table: PriceTable) -> Iterator[None]:
    """Price with ``table`` in this context (and the tasks started from it)."""
    token = _ACTIVE.set(table)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
