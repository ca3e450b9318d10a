"""The telemetry benchmarks in their short mode: they run and print their tables (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.performance

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(script: str) -> str:
    done = subprocess.run([sys.executable, str(BENCH / script), "--short"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_eta_accuracy_short() -> None:
    out = _run("eta_accuracy.py")
    assert "| start |" in out
    assert "**halfway**" in out


def test_tracing_overhead_short() -> None:
    out = _run("tracing_overhead.py")
    for variant in ("plain-asyncio", "quorum, instrumented, off", "quorum, tracing on"):
        assert f"| {variant} |" in out
