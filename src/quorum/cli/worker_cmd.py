"""``quorum worker``: make this machine a node of a Ray cluster that runs quorum executions.

A thin front to ``ray start`` (Ray places the work and watches the nodes; quorum adds nothing to that):
``--head`` starts a cluster here, with Ray's client server on ``--client-port`` for ``quorum run
--cluster ray://HOST:10001``; ``--cluster HOST:6379`` joins one. Either way the node offers the
``quorum_driver`` resource, so the execution drivers are placed on quorum's nodes, and it stays in the
foreground (``--block``) until Ctrl-C, which stops it. ``--dry-run`` prints the ``ray start`` command.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from typing import Annotated

import typer

from quorum.cli.common import ExitCode, fail, out_console

__all__ = ("ray_start_command", "worker")

DRIVER_SLOTS = 1000
"""Executions one node may drive at once (a driver slot each; an execution mostly waits on agents)."""


def ray_start_command(*, head: bool, cluster: str | None, num_cpus: int | None, port: int,
                      client_port: int, object_store_mb: int | None) -> list[str]:
    """The ``ray start`` command line for this node."""
    from quorum.cluster.runner import DRIVER_RESOURCE

    ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray") or "ray"
    args = [ray, "start", "--block", "--include-dashboard=false",
            f"--resources={json.dumps({DRIVER_RESOURCE: DRIVER_SLOTS})}"]
    if head:
        args += ["--head", f"--port={port}", f"--ray-client-server-port={client_port}"]
    else:
        assert cluster is not None
        args.append(f"--address={cluster.removeprefix('ray://')}")
    if num_cpus is not None:
        args.append(f"--num-cpus={num_cpus}")
    if object_store_mb is not None:
        args.append(f"--object-store-memory={object_store_mb * 1024 * 1024}")
    return args


def worker(
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", metavar="HOST:PORT",
                     help="The head's address to join (its GCS port, 6379 by default); also QUORUM_CLUSTER."),
    ] = None,
    head: Annotated[bool, typer.Option("--head", help="Start a new cluster here instead.")] = False,
    num_cpus: Annotated[
        int | None, typer.Option("--num-cpus", min=0, help="CPUs this node offers (default: all).")
    ] = None,
    port: Annotated[int, typer.Option("--port", help="With --head: the GCS port.")] = 6379,
    client_port: Annotated[
        int, typer.Option("--client-port", help="With --head: Ray's client server (ray://HOST:PORT).")
    ] = 10001,
    object_store_mb: Annotated[
        int | None, typer.Option("--object-store-mb", min=64, help="Object store size in MiB.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the ray start command only.")] = False,
) -> None:
    """Run a node of a Ray cluster for quorum (a head with --head, else a worker joining --cluster).

    Needs pip install 'quorum\\[ray]' and, on every node, the same versions of Python, Ray and quorum.
    Executions need the PostgreSQL history store, reachable from every node (see docs/distributed.md).
    """
    address = cluster if cluster is not None else (os.environ.get("QUORUM_CLUSTER") or None)
    if head and address is not None and cluster is not None:
        fail("--head starts a new cluster; --cluster joins one: give one of them", code=ExitCode.USAGE)
    if not head:
        if address is None:
            fail("which cluster? give --cluster HOST:6379 (the head's address), or --head to start one",
                 code=ExitCode.USAGE)
        if address == "auto" or address.startswith("ray://"):
            fail(f"--cluster {address!r}: a node joins by the head's GCS address, HOST:6379 (ray:// is "
                 "for clients such as quorum run)", code=ExitCode.USAGE)
    args = ray_start_command(head=head, cluster=address, num_cpus=num_cpus, port=port,
                             client_port=client_port, object_store_mb=object_store_mb)
    if dry_run:
        out_console().print(shlex.join(args), soft_wrap=True, markup=False, highlight=False)
        return
    if not (os.path.isabs(args[0]) or shutil.which(args[0])):
        fail("`ray` is not installed here: pip install 'quorum[ray]'", code=ExitCode.USAGE)
    try:
        code = subprocess.call(args)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)
