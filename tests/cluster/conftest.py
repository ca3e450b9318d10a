"""One real Ray cluster for the cluster tests: a head and two worker nodes on this machine.

Sized for a 2-core machine: the head takes no work (``num_cpus=0``), each worker one CPU and 100 driver
slots, object stores of 100 MiB, no dashboard. Node loss is detected after 3 missed health checks of
0.5 s (Ray's default is 5 of 3 s). The cluster's processes get this checkout on their PYTHONPATH, so
the test agents (``tests.cluster.agents``) are imported there by reference.

Ray missing: skipped locally, a failure in CI (``CI`` set), as the servers are (tests/servers.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
STORE_MB = 100 * 1024 * 1024
SYSTEM_CONFIG = {"health_check_period_ms": 500, "health_check_failure_threshold": 3,
                 "health_check_initial_delay_ms": 0}


def add_worker(cluster: Any) -> Any:
    from quorum.cluster import DRIVER_RESOURCE

    return cluster.add_node(num_cpus=1, resources={DRIVER_RESOURCE: 100}, object_store_memory=STORE_MB)


@pytest.fixture(scope="package")  # torn down when tests/cluster is done: no idle Ray under the rest
def ray_cluster() -> Iterator[Any]:
    try:
        import ray
        from ray.cluster_utils import Cluster
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI needs Ray for tests/cluster: pip install -e '.[test]'", pytrace=False)
        pytest.skip("Ray is not installed: pip install 'quorum[ray]'")
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, path) if p)
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "object_store_memory": STORE_MB, "include_dashboard": False,
        "_system_config": SYSTEM_CONFIG,
    })
    try:
        add_worker(cluster)
        add_worker(cluster)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]  # Ray leaves it untyped
        if path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = path
