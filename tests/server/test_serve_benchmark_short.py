"""benchmarks/serve_latency.py in its short mode: it runs end to end and reports every figure (no timing
assertions: the numbers are for the note, not for CI on a loaded machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.performance

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "serve_latency.py"


def test_the_serve_benchmark_runs_in_short_mode(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--short", "--json"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [row["clients"] for row in result["events"]] == [1, 3]
    for row in result["events"]:
        assert row["events"] > 0  # every client got the events recorded after it connected
        assert row["p95_ms"] >= row["p50_ms"] >= 0
    assert result["list"]["executions"] == 200
    assert {"first page (50)", "page 21 by cursor", "status=pending"} <= set(result["list"])
