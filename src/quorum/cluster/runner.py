"""RayRunner: the connection to a Ray cluster and the drivers that run executions there.

::

    runner = RayRunner("ray://head:10001", store_url="postgresql://.../quorum")
    ref = runner.submit(execution_id, task, input)      # a Ray ObjectRef of the result's dict

``drivers`` async actors (default: one per node that can take one) are made on first use, spread over the
nodes, each able to drive many executions; an execution goes to one of them, by a hash of its id.
They belong to the runner's process (gone with it) unless ``detached``: then they are named
``quorum-driver-<n>`` in the namespace, outlive the caller (``quorum run --cluster`` exiting does not
stop its execution) and every caller shares them.
Each actor is restarted by Ray when its node is lost (``max_restarts=-1``), on a node still alive, and
the calls it was running are made again there (``max_task_retries=-1``): a call takes its execution over
from the journal (see :mod:`quorum.cluster.driver`). Ray detects a lost node by missed health checks;
its default is 5 misses of a 3 s check, so about 15 s (the tests and the benchmark use 0.5 s × 3).

Ray is imported here, on first use, never by ``import quorum``.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from quorum.cluster.address import ClusterAddress, parse_cluster
from quorum.cluster.nodes import live_nodes, ray_nodes
from quorum.cluster.settings import AgentFactory, DefaultAgents, DriverSettings
from quorum.definition.model import Task
from quorum.errors import ConfigurationError

__all__ = ("DRIVER_RESOURCE", "RayRunner")

DRIVER_RESOURCE = "quorum_driver"
"""A node started with ``--resources '{"quorum_driver": 1000}'`` takes drivers; without any such node,
drivers go to any node (``ray start`` on a worker: see docs/distributed.md)."""


class RayRunner:
    """Runs executions on a Ray cluster; every execution's state lives in the PostgreSQL store."""

    def __init__(
        self,
        address: str = "auto",
        *,
        store_url: str,
        agents: AgentFactory | None = None,
        drivers: int | None = None,
        lease_ttl_s: float = 10.0,
        control_poll_s: float = 0.2,
        namespace: str = "quorum",
        runtime_env: Mapping[str, Any] | None = None,
        detached: bool = False,
    ) -> None:
        if not store_url.startswith(("postgresql://", "postgres://")):
            raise ConfigurationError(
                f"a cluster needs the PostgreSQL history store (every node reads and writes the same "
                f"journal); got {_scheme(store_url)!r}: pass --db postgresql://USER@HOST:5432/DB "
                "(or QUORUM_DB)"
            )
        self.cluster: ClusterAddress = parse_cluster(address)
        self.settings = DriverSettings(store_url=store_url, agents=agents or DefaultAgents(),
                                       lease_ttl_s=lease_ttl_s, control_poll_s=control_poll_s)
        self.namespace = namespace
        self.runtime_env = dict(runtime_env) if runtime_env is not None else None
        self.detached = detached
        self._wanted_drivers = drivers
        self._drivers: list[Any] = []
        self._connected_here = False

    # --- the cluster --------------------------------------------------------------------------------
    def connect(self) -> None:
        """Join the cluster (once); a ConfigurationError when it cannot be reached or Ray is missing."""
        try:
            import ray
        except ImportError:
            raise ConfigurationError("running on a cluster needs Ray: pip install 'quorum[ray]'") from None
        if ray.is_initialized():
            return
        try:
            ray.init(address=self.cluster.address, namespace=self.namespace, runtime_env=self.runtime_env,
                     include_dashboard=False, log_to_driver=False, configure_logging=False)
        except ConnectionError as exc:
            raise ConfigurationError(f"the Ray cluster at {self.cluster.shown} cannot be reached: {exc}; "
                                     "start a head with `ray start --head` (docs/distributed.md)") from None
        except RuntimeError as exc:
            text = str(exc)
            if "version" in text.lower():
                raise ConfigurationError(f"the Ray cluster at {self.cluster.shown} runs another version "
                                         f"of Ray or Python than this machine: {text}") from None
            raise ConfigurationError(f"the Ray cluster at {self.cluster.shown}: {text}") from None
        self._connected_here = True

    def drivers(self) -> list[Any]:
        """The driver actors (made on first use)."""
        if not self._drivers:
            self.connect()
            self._drivers = [self._make_driver(i) for i in range(self._driver_count())]
        return self._drivers

    def _driver_count(self) -> int:

        if self._wanted_drivers is not None:
            return max(1, self._wanted_drivers)
        nodes = live_nodes()
        marked = [n for n in nodes if n.get("Resources", {}).get(DRIVER_RESOURCE)]
        return max(1, len(marked or [n for n in nodes if n.get("Resources", {}).get("CPU")]))

    def _make_driver(self, index: int) -> Any:
        import ray

        from quorum.cluster.driver import ExecutionDriver

        marked = any(n.get("Alive") and n.get("Resources", {}).get(DRIVER_RESOURCE) for n in ray_nodes())
        shared: dict[str, Any] = (
            {"name": f"quorum-driver-{index}", "lifetime": "detached", "get_if_exists": True}
            if self.detached else {}
        )
        actor = ray.remote(ExecutionDriver).options(
            num_cpus=0, resources={DRIVER_RESOURCE: 1} if marked else None,
            max_restarts=-1, max_task_retries=-1, max_concurrency=10_000,
            scheduling_strategy="SPREAD", **shared,
        )
        return actor.remote()

    # --- executions ---------------------------------------------------------------------------------
    def submit(self, execution_id: str, task: Task | None, input: Mapping[str, Any], *,
               resume: bool = False) -> Any:
        """Start ``execution_id`` (``task`` given), or take it over from the store, on a driver; a Ray
        ObjectRef of its result's dict. ``resume``: a paused one goes on (else it stays paused)."""
        drivers = self.drivers()
        driver = drivers[zlib.crc32(execution_id.encode()) % len(drivers)]
        definition = None if task is None else task.to_dict()
        return driver.drive.remote(execution_id, definition, dict(input), self.settings, resume=resume)

    def close(self) -> None:
        """End the drivers (executions they still run are left in the store, resumable) unless they
        are detached (shared by every caller, kept), and leave the cluster if this runner joined it."""
        import ray

        for driver in self._drivers:
            if not self.detached:
                ray.kill(driver, no_restart=True)
        self._drivers = []
        if self._connected_here:
            ray.shutdown()
            self._connected_here = False


def _scheme(url: str) -> str:
    if url.startswith("memory"):
        return "memory:"
    return url.split("://", 1)[0] if "://" in url else "a file path (SQLite)"
