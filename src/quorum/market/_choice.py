"""``--data``: where a run's prices come from.

``auto`` (the default; ``QUORUM_DATA`` sets another): a fresh cached series, else the first provider that
answers (yfinance, then ccxt:binance), else an older cached series with its age stated.
``yfinance`` / ``ccxt:<exchange>``: that provider (its cached series when it does not answer).
``csv:<file>``: a price file (any format ``--prices`` reads). ``cache``: the cache only, never the
network. ``none``: no market data (the committee then says it has no price history).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from quorum.market._errors import MarketDataError

__all__ = ("AUTO_PROVIDERS", "DataChoice", "parse_choice")

AUTO_PROVIDERS = ("yfinance", "ccxt:binance")
"""The providers ``auto`` asks, in order."""

ChoiceKind = Literal["auto", "provider", "csv", "cache", "none"]
_FORMS = "yfinance, ccxt:<exchange>, csv:<file>, cache, none or auto"


@dataclass(frozen=True, slots=True, kw_only=True)
class DataChoice:
    kind: ChoiceKind
    provider: str | None = None
    path: Path | None = None
    explicit: bool = False
    """Given by the user (``--data`` or ``QUORUM_DATA``), not the default."""

    @property
    def label(self) -> str:
        if self.kind == "provider":
            return str(self.provider)
        if self.kind == "csv":
            return f"csv:{self.path}"
        return self.kind


def parse_choice(text: str | None, env: Mapping[str, str] | None = None) -> DataChoice:
    """``--data``'s value (``None``: ``QUORUM_DATA``, else ``auto``)."""
    explicit = text is not None
    if text is None:
        text = (os.environ if env is None else env).get("QUORUM_DATA") or None
        explicit = text is not None
        where = "QUORUM_DATA"
    else:
        where = "--data"
    value = (text or "auto").strip()
    lowered = value.lower()
    if lowered in ("auto", "cache", "none"):
        return DataChoice(kind=lowered, explicit=explicit)  # type: ignore[arg-type]
    if lowered == "yfinance":
        return DataChoice(kind="provider", provider="yfinance", explicit=explicit)
    if lowered.startswith("ccxt:") and len(lowered) > 5:
        return DataChoice(kind="provider", provider=lowered, explicit=explicit)
    if lowered.startswith("csv:") and len(value) > 4:
        return DataChoice(kind="csv", path=Path(value[4:]).expanduser(), explicit=explicit)
    if lowered == "ccxt":
        raise MarketDataError(f"{where} ccxt: name the exchange", reason="usage", hint="--data ccxt:binance")
    raise MarketDataError(f"{where} {value!r} is not a data source (one of {_FORMS})", reason="usage",
                          hint="--data yfinance")
