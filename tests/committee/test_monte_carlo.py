"""The bootstrap Monte Carlo VaR/CVaR of the quant-risk analyst, checked against numpy's own bootstrap
and the empirical quantile it converges to."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from quorum.agents.builtin.monte_carlo import bootstrap_tail, seed_for

pytestmark = pytest.mark.unit


def _closes(n: int = 400, seed: int = 11) -> list[float]:
    rng, price, out = random.Random(seed), 100.0, []
    for _ in range(n):
        price *= math.exp(rng.gauss(0.0005, 0.02) + (rng.random() < 0.03) * rng.gauss(-0.05, 0.03))
        out.append(price)
    return out


def test_one_bar_paths_converge_to_the_empirical_quantile_of_one_bar_losses() -> None:
    closes = _closes()
    losses = -np.expm1(np.diff(np.log(closes)))
    tail = bootstrap_tail(closes, horizon_bars=1, paths=200_000, seed=1)
    assert tail is not None
    assert tail.var == pytest.approx(np.quantile(losses, 0.95, method="higher"), abs=0.002)
    worst = np.sort(losses)[::-1][: math.ceil(0.05 * len(losses))]
    assert tail.cvar == pytest.approx(worst.mean(), rel=0.05)


def test_horizon_figures_agree_with_numpys_bootstrap() -> None:
    closes = _closes()
    returns = np.diff(np.log(closes))
    rng = np.random.default_rng(7)
    horizon, paths = 10, 200_000
    sums = returns[rng.integers(0, len(returns), size=(paths, horizon))].sum(axis=1)
    losses = np.sort(-np.expm1(sums))[::-1]
    k = math.ceil(0.05 * paths)
    tail = bootstrap_tail(closes, horizon_bars=horizon, paths=100_000, seed=seed_for("X", closes, horizon))
    assert tail is not None
    assert tail.var == pytest.approx(losses[k - 1], rel=0.05)
    assert tail.cvar == pytest.approx(losses[:k].mean(), rel=0.05)
    assert tail.cvar >= tail.var > 0


def test_the_same_data_gives_the_same_numbers_and_other_data_another_seed() -> None:
    closes = _closes()
    seed = seed_for("BTC", closes, 30)
    assert seed == seed_for("BTC", list(closes), 30)
    assert seed != seed_for("ETH", closes, 30)
    assert seed != seed_for("BTC", closes, 31)
    first = bootstrap_tail(closes, horizon_bars=30, seed=seed)
    assert first == bootstrap_tail(closes, horizon_bars=30, seed=seed)


def test_too_short_a_history_gives_no_figure_and_bad_arguments_an_error() -> None:
    assert bootstrap_tail(_closes(15), horizon_bars=5, seed=1) is None
    with pytest.raises(ValueError, match="horizon_bars"):
        bootstrap_tail(_closes(), horizon_bars=0, seed=1)
