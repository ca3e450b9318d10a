"""``quorum run --cluster`` against the real test cluster, its usage errors, and ``quorum worker``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from quorum.cli.worker_cmd import ray_start_command, worker
from quorum.engine.executor import TaskExecutor
from tests.cluster.conftest import ROOT
from tests.cluster.inputs import committee_input
from tests.cluster.test_cluster_run import comparable
from tests.history.pg import fresh_schema

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]


def quorum(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "quorum", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=env)


async def test_quorum_run_on_the_cluster_prints_the_local_verdict(ray_cluster: Any, tmp_path: Path) -> None:
    inputs = committee_input(4)
    (tmp_path / "in.json").write_text(json.dumps(inputs))
    task = ("run", "investment-committee-meeting", "--input", str(tmp_path / "in.json"), "--json")
    async with fresh_schema() as url:
        done = quorum(*task, "--cluster", ray_cluster.address, "--db", url)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["status"] == "completed"
        # the input as the command made it (with its market data provenance), run in one process
        local = await TaskExecutor(tasks_dir=None).execute("investment-committee-meeting", result["input"])
        assert comparable(result["verdict"]) == comparable(local.to_dict()["verdict"])
        plain = quorum(*task[:-1], "--plain", "--cluster", ray_cluster.address, "--db", url)
        assert plain.returncode == 0, plain.stderr
        assert "runs on the cluster at" in plain.stderr
        for said in ("Activation", "Verdict", "completed", "full record: quorum show"):
            assert said in plain.stdout, plain.stdout[-2000:]
        shown = quorum("show", result["id"], "--db", url, "--json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["status"] == "completed"


def test_quorum_run_cluster_usage_errors_say_how(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_text(json.dumps(committee_input(0)))
    task = ("run", "investment-committee-meeting", "--input", str(tmp_path / "in.json"))
    bad = quorum(*task, "--cluster", "http://head:10001", "--db", "postgresql://u@127.0.0.1/test")
    assert bad.returncode == 2
    assert "unknown scheme 'http'" in bad.stderr
    assert "ray://HOST:10001" in bad.stderr
    assert "Traceback" not in bad.stderr
    sqlite = quorum(*task, "--cluster", "ray://head:10001", "--db", str(tmp_path / "h.db"))
    assert sqlite.returncode == 2
    assert "needs the PostgreSQL history store" in sqlite.stderr
    assert "Traceback" not in sqlite.stderr
    local = quorum(*task, "--cluster", "ray://head:10001", "--no-history")
    assert local.returncode == 2
    assert "--no-history" in local.stderr


def test_quorum_worker_runs_ray_start_with_the_driver_resource() -> None:
    app = typer.Typer()
    app.command()(worker)
    joined = CliRunner().invoke(app, ["--cluster", "10.0.0.5:6379", "--num-cpus", "1", "--dry-run"])
    assert joined.exit_code == 0, joined.output
    assert "start --block" in joined.output
    assert "--address=10.0.0.5:6379" in joined.output
    assert "quorum_driver" in joined.output
    assert "--num-cpus=1" in joined.output
    head = ray_start_command(head=True, cluster=None, num_cpus=None, port=6379, client_port=10001,
                             object_store_mb=200)
    assert "--head" in head
    assert "--ray-client-server-port=10001" in head
    assert f"--object-store-memory={200 * 1024 * 1024}" in head
    nowhere = CliRunner().invoke(app, ["--dry-run"], env={"QUORUM_CLUSTER": ""})
    assert nowhere.exit_code != 0
    client = CliRunner().invoke(app, ["--cluster", "ray://head:10001", "--dry-run"])
    assert client.exit_code != 0
