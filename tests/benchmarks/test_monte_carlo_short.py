"""benchmarks/monte_carlo.py in its short mode: every way of running the step gives the same numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.performance

ROOT = Path(__file__).resolve().parents[2]


def test_the_monte_carlo_benchmark_runs_and_every_way_agrees() -> None:
    proc = subprocess.run([sys.executable, "benchmarks/monte_carlo.py", "--short", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {r["way"] for r in rows} == {"in the loop", "threads", "worker processes"}
    assert len({(r["var"], r["cvar"]) for r in rows}) == 1
    assert all(r["wall_s"] > 0 for r in rows)
