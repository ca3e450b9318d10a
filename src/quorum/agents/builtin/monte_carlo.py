"""Monte Carlo horizon VaR/CVaR by bootstrap: the quant-risk analyst's CPU-heavy complement to the
historical figures of :mod:`quorum.agents.builtin.risk_methods`.

Each simulated path draws ``horizon_bars`` one-bar log returns, with replacement, from the price
history (an i.i.d. bootstrap: no distribution is assumed, the history's fat tails are kept, its
volatility clustering is not); the path's loss is ``1 - exp(sum of its draws)``. VaR at level q is the
k-th worst loss of ``paths`` paths, k = ceil((1 - q) x paths), and CVaR the mean of those k — the same
definitions as the empirical historical figures, so the two can be read side by side. Where the
history holds few independent horizons (a long horizon on a short history), the historical figure
falls back to a parametric one and the bootstrap is the only non-parametric reading there is.

The seed is derived from the data (ticker, horizon, the closes themselves), so a re-run — in this
process, a worker process or on another machine — gives the same numbers to the last digit.
Pure Python (``random.Random``): about 0.1 s for 20,000 paths of 10 bars, which is why its agent
runs with ``executor: process``.
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from quorum.agents.builtin.indicators import log_returns

__all__ = ("DEFAULT_PATHS", "MonteCarloTail", "bootstrap_tail", "seed_for")

DEFAULT_PATHS = 20_000
MIN_RETURNS = 20
_BLOCK = 4096  # paths drawn at once: bounded memory whatever the number of paths


@dataclass(frozen=True, slots=True, kw_only=True)
class MonteCarloTail:
    var: float
    cvar: float
    level: float
    horizon_bars: int
    paths: int
    seed: int
    observations: int

    def describe(self) -> str:
        return (f"bootstrap {self.level:.0%} VaR/CVaR of {self.paths:,} simulated {self.horizon_bars}-bar "
                f"paths drawn from {self.observations} one-bar log returns (seed {self.seed})")

    def to_dict(self) -> dict[str, float | int | str]:
        return {"var": self.var, "cvar": self.cvar, "level": self.level, "horizon_days": self.horizon_bars,
                "paths": self.paths, "seed": self.seed, "observations": self.observations,
                "method": "bootstrap"}


def seed_for(label: str, closes: Sequence[float], horizon_bars: int) -> int:
    """A seed that depends only on the data (stable across processes, unlike ``hash``)."""
    digest = hashlib.sha256(label.encode())
    digest.update(struct.pack("<q", horizon_bars))
    for close in closes:
        digest.update(struct.pack("<d", close))
    return int.from_bytes(digest.digest()[:8], "little")


def bootstrap_tail(closes: Sequence[float], *, horizon_bars: int, level: float = 0.95,
                   paths: int = DEFAULT_PATHS, seed: int) -> MonteCarloTail | None:
    """The bootstrap VaR and CVaR (see the module doc); None with fewer than 20 returns."""
    if horizon_bars < 1 or paths < 1 or not 0.0 < level < 1.0:
        raise ValueError("horizon_bars and paths must be at least 1 and level within (0, 1)")
    returns = log_returns(closes)
    if len(returns) < MIN_RETURNS:
        return None
    rng = random.Random(seed)
    losses: list[float] = []
    left = paths
    while left:
        block = min(_BLOCK, left)
        draws = rng.choices(returns, k=block * horizon_bars)
        losses.extend(-math.expm1(math.fsum(draws[i : i + horizon_bars]))
                      for i in range(0, len(draws), horizon_bars))
        left -= block
    k = max(1, math.ceil((1.0 - level) * paths))
    worst = sorted(losses, reverse=True)[:k]
    return MonteCarloTail(var=max(0.0, worst[-1]), cvar=max(0.0, math.fsum(worst) / k), level=level,
                          horizon_bars=horizon_bars, paths=paths, seed=seed, observations=len(returns))
