"""Step strategies and aggregators from installed packages (entry points), looked up lazily; a broken
plugin is a clear error naming its entry point. The package is a real distribution on sys.path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quorum.errors import ConfigurationError
from quorum.steps.registry import AGGREGATOR_GROUP, STEP_STRATEGY_GROUP, StepRegistry

pytestmark = [pytest.mark.unit]

_PLUGIN = """
IMPORTED = True

def sentiment(step, phase, context):
    return {"output": "positive"}

def median(answers, parameters):
    return {"median": sorted(answers)[len(answers) // 2]}

NOT_CALLABLE = 42
"""


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[Path]:
    """A distribution ``h2-plugin`` with a module and an entry_points.txt, importable from tmp_path."""
    (tmp_path / "h2_plugin_mod.py").write_text(_PLUGIN)
    info = tmp_path / "h2_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: h2-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{STEP_STRATEGY_GROUP}]\nsentiment = h2_plugin_mod:sentiment\n"
        "broken = h2_plugin_missing_mod:nothing\n"
        "constant = h2_plugin_mod:NOT_CALLABLE\n"
        f"\n[{AGGREGATOR_GROUP}]\nmedian = h2_plugin_mod:median\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("h2_plugin_mod", None)


def test_installed_strategies_and_aggregators_are_found_lazily(installed: Path) -> None:
    registry = StepRegistry()
    assert "h2_plugin_mod" not in sys.modules  # nothing imported until a task uses the name
    strategy = registry.strategy("sentiment")
    assert strategy is not None
    assert strategy.__module__ == "h2_plugin_mod"
    aggregator: Any = registry.aggregator("median")  # the plugin's own signature, not the protocol's
    assert aggregator is not None
    assert aggregator([3, 1, 2], {}) == {"median": 2}
    assert registry.strategy("unknown-kind") is None
    assert registry.aggregator("unknown-agg") is None


def test_a_registered_strategy_wins_over_an_installed_one(installed: Path) -> None:
    registry = StepRegistry()

    def mine(step: object, phase: object, context: object) -> dict[str, str]:
        return {"output": "mine"}

    registry.register_step_strategy("sentiment", mine)
    assert registry.strategy("sentiment") is mine


def test_a_broken_plugin_names_its_entry_point(installed: Path) -> None:
    registry = StepRegistry()
    with pytest.raises(
        ConfigurationError,
        match=r"step strategy 'broken' \(entry point broken = "
        r"h2_plugin_missing_mod:nothing in quorum.step_strategies\) failed to load: "
        r"ModuleNotFoundError",
    ):
        registry.strategy("broken")
    with pytest.raises(
        ConfigurationError, match=r"'constant' .*h2_plugin_mod:NOT_CALLABLE.* is not callable"
    ):
        registry.strategy("constant")
