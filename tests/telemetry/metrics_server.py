"""``quorum serve`` with ``/metrics``, for tests/telemetry, until the route and ``instrument`` are wired in
(quorum/server/routes.py includes ``routes_metrics.router``; ``build_executor`` calls ``instrument``).

The same app ``quorum serve`` builds (``create_app``), on the same uvicorn, with the metrics router
included at the root and every executor it builds instrumented with ``metrics=True``.

    python -m tests.telemetry.metrics_server PORT [--tasks-dir DIR] [--agents-dir DIR]
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

import quorum.cli.run_cmd as run_cmd
from quorum.config import find_config_file, load_config
from quorum.server import routes_metrics
from quorum.server.app import create_app
from quorum.server.routes import route_table
from quorum.server.runtime import ConfigFlags
from quorum.server.settings import resolve_settings
from quorum.telemetry import instrument
from quorum.telemetry.settings import settings_of


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--tasks-dir", action="append", default=[])
    ap.add_argument("--agents-dir", action="append", default=[])
    args = ap.parse_args()
    cfg = load_config(tasks_dirs=args.tasks_dir or None, agents_dirs=args.agents_dir or None)
    built = run_cmd.build_executor

    def build_executor(*a: Any, **kw: Any) -> Any:
        executor = built(*a, **kw)
        instrument(executor, settings_of(cfg), metrics=True)
        return executor

    run_cmd.build_executor = build_executor
    settings = resolve_settings(host="127.0.0.1", port=args.port, config_file=find_config_file())
    flags = ConfigFlags(tasks_dirs=tuple(args.tasks_dir) or None, agents_dirs=tuple(args.agents_dir) or None)
    app = create_app(cfg, settings, flags)
    if ("GET", "/metrics") not in route_table():
        app.include_router(routes_metrics.router)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, lifespan="on")


if __name__ == "__main__":
    main()
