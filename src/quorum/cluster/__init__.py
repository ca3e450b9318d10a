"""Distributed execution on Ray (``pip install 'quorum[ray]'``; see docs/distributed.md).

Importing this package does not import Ray; joining a cluster (:meth:`RayRunner.connect`, first use)
does. The pieces:

- :class:`RayRunner` — the connection and the driver actors (:mod:`.runner`, :mod:`.driver`);
- :class:`ClusterExecutor` / :class:`ClusterHandle` — start, follow and control executions there;
- :class:`RayTaskPool` — ``executor: process`` agents as Ray tasks (installed in every driver);
- :mod:`.spread` — a task's ``cluster: {spread: [...]}`` phases: their agent calls on every node's
  call server;
- :func:`parse_cluster` — the ``--cluster`` value; :class:`DriverSettings`, :class:`DefaultAgents`.
"""

from quorum.cluster.address import ClusterAddress, parse_cluster
from quorum.cluster.executor import ClusterExecutor, ClusterHandle
from quorum.cluster.pool import RayTaskPool
from quorum.cluster.runner import DRIVER_RESOURCE, RayRunner
from quorum.cluster.settings import AgentFactory, DefaultAgents, DriverSettings

__all__ = (
    "DRIVER_RESOURCE",
    "AgentFactory",
    "ClusterAddress",
    "ClusterExecutor",
    "ClusterHandle",
    "DefaultAgents",
    "DriverSettings",
    "RayRunner",
    "RayTaskPool",
    "parse_cluster",
)
