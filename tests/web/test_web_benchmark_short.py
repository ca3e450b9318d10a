"""benchmarks/dashboard_latency.py in its short mode: it runs end to end in Chromium and reports every
figure (no timing assertions: the numbers are for the note, not for CI on a loaded machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .browser import require_chromium

pytestmark = [pytest.mark.performance, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "dashboard_latency.py"


@pytest.mark.timeout(300)
def test_the_dashboard_benchmark_runs_in_short_mode(tmp_path: Path) -> None:
    require_chromium()
    proc = subprocess.run([sys.executable, str(SCRIPT), "--short", "--json"], capture_output=True, text=True,
                          timeout=280, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [row["pages"] for row in result["phases"]] == [1, 3]
    for row in result["phases"]:
        assert row["n"] > 0  # each page showed phases that completed after it was ready
        assert row["p95_ms"] >= row["p50_ms"] >= 0
    assert result["wide"]["agent_calls"] == 10
    assert result["wide"]["ready"]["n"] == 2
    assert result["list"]["executions"] == 200
    assert result["list"]["rows_shown"] == 50
