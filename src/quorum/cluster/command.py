"""``quorum run --cluster``: the execution runs on a Ray cluster; this process shows it and its verdict.

The store must be PostgreSQL (``--db``/``QUORUM_DB``), the one every node writes. The task is loaded
and its input checked here; the definition goes to the cluster with the execution. The events are read
from the journal as the driving node writes them, so the live view is the one a local run shows.
Ctrl-C stops following (the execution goes on there: ``quorum show ID --follow``, ``quorum pause ID``).
The drivers are detached actors: this command exiting does not stop them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from quorum.cli.common import ExitCode, err_console, exit_code_for_status, fail

if TYPE_CHECKING:
    from collections.abc import Callable

    from quorum.cli.render import EventSink
    from quorum.config import Config
    from quorum.definition.model import Task

__all__ = ("CLUSTER_ENV", "cluster_choice", "run_on_cluster")

CLUSTER_ENV = "QUORUM_CLUSTER"


def cluster_choice(given: str | None) -> str | None:
    """``--cluster``, else ``$QUORUM_CLUSTER``, else None (run here); checked (a usage error says how)."""
    from quorum.cluster.address import parse_cluster
    from quorum.errors import ConfigurationError

    value = given if given is not None else (os.environ.get(CLUSTER_ENV) or None)
    if value is None:
        return None
    try:
        parse_cluster(value, where="--cluster" if given is not None else CLUSTER_ENV)
    except ConfigurationError as exc:
        fail(str(exc), code=ExitCode.USAGE)
    return value


async def run_on_cluster(cfg: Config, task: Task, input: dict[str, Any], *, cluster: str, as_json: bool,
                         view: EventSink | None, print_result: Callable[..., None]) -> int:
    """``view`` and ``print_result`` are ``quorum run``'s own (given, so that this module does not import
    the command back)."""
    from quorum.cluster.executor import ClusterExecutor
    from quorum.cluster.runner import RayRunner
    from quorum.cluster.settings import DefaultAgents
    from quorum.errors import ConfigurationError

    agents = DefaultAgents(agents_dirs=tuple(str(d) for d in cfg.agents_dirs),
                           model_overrides=tuple(cfg.model_specs()))
    try:
        runner = RayRunner(cluster, store_url=cfg.db, agents=agents, detached=True)
        runner.connect()
    except ConfigurationError as exc:
        if view is not None:
            view.close()
        fail(str(exc).replace(cfg.db, cfg.db_shown), code=ExitCode.USAGE)
    try:
        async with ClusterExecutor(runner, tasks_dir=None) as executor:
            handle = await executor.start(task, input)
            if not as_json:
                err_console().print(f"[dim]execution {handle.id} runs on the cluster at "
                                    f"{runner.cluster.shown}[/]", soft_wrap=True)
            try:
                async for event in handle.events():
                    if view is not None:
                        view.on_event(event)
                result = await handle.result()
            except (KeyboardInterrupt, asyncio.CancelledError):
                err_console().print(f"stopped following; execution {handle.id} goes on on the cluster "
                                    f"(quorum show {handle.id} --follow, quorum pause {handle.id})")
                return ExitCode.INTERRUPTED
    finally:
        if view is not None:
            view.close()
        runner.close()
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    else:
        print_result(result, recorded=True)
    return exit_code_for_status(result.status.value)
