"""quorum.market's public surface: sorted, complete, every name resolving; importing it loads no provider."""

from __future__ import annotations

import subprocess
import sys

import pytest

import quorum.market

pytestmark = pytest.mark.unit


def test_every_exported_name_resolves_and_the_list_is_sorted() -> None:
    names = quorum.market.__all__
    # constants, then types, then functions, each alphabetical (ruff's isort-style order of __all__)
    assert list(names) == sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))
    assert set(names) == set(quorum.market._EXPORTS)
    for name in names:
        assert getattr(quorum.market, name) is not None


def test_importing_the_market_package_and_prices_loads_no_provider_library() -> None:
    code = ("import sys, quorum.market, quorum.agents.builtin.prices; "
            "from quorum.market import infer_frequency, quality_flags; "
            "print(sorted(m for m in ('yfinance', 'ccxt', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
