"""The committee's evidence score does not depend on the order the answers arrived in: a parallel phase's
answers come in any order, and a run on the cluster must reach the verdict a local run reaches."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from quorum.agents.builtin.evidence import net_score

pytestmark = pytest.mark.unit


def test_the_net_score_is_the_same_in_every_order() -> None:
    pairs = (("bullish", 0.1), ("bearish", 0.7), ("bullish", 0.2), ("bullish", 0.3), ("bearish", 0.35),
             ("neutral", 0.9))
    items: list[dict[str, Any]] = [{"direction": d, "strength": s} for d, s in pairs]
    # plain float addition gives several answers across these orders; the score must give one
    signed = [s if d == "bullish" else -s for d, s in pairs if d != "neutral"]
    naive = {sum(order) for order in itertools.permutations(signed)}
    assert len(naive) > 1
    scores = {net_score(order) for order in itertools.permutations(items)}
    assert len(scores) == 1
    assert scores.pop() == pytest.approx((0.1 + 0.2 + 0.3 - 0.7 - 0.35) / 1.65)
