"""``quorum serve``: the HTTP API (REST, Server-Sent Events, OpenAPI) over the same history as the CLI.

FastAPI and uvicorn come with the ``serve`` extra and are imported only here, when the command runs.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Annotated

import typer

from quorum.cli.common import ExitCode, fail
from quorum.cli.options import AgentsDirOpt, DbOpt, TasksDirOpt

__all__ = ("serve",)


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on. Anything but a loopback "
                                      "address needs QUORUM_API_TOKEN (or token under \\[serve] in "
                                      "quorum.toml).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8300,
    db: DbOpt = None,
    tasks_dir: TasksDirOpt = None,
    agents_dir: AgentsDirOpt = None,
) -> None:
    """Serve the HTTP API: start, list, watch (Server-Sent Events) and steer executions.

    Every route but /healthz needs 'Authorization: Bearer <token>': QUORUM_API_TOKEN, token under
    \\[serve] in quorum.toml, or a token made now and printed once. The OpenAPI document is at
    /api/v1/openapi.json (docs/api.md is the guide). Ctrl-C stops the server: the executions it drives
    are paused and left resumable (`quorum resume <id>`).
    """
    try:
        import uvicorn

        from quorum.server.app import create_app
    except ImportError as exc:
        from quorum.server import MISSING_EXTRA

        fail(MISSING_EXTRA, code=ExitCode.USAGE, details=(f"({exc.name} is not installed)",))
    from quorum.config import find_config_file, load_config
    from quorum.server.runtime import ConfigFlags
    from quorum.server.settings import resolve_settings

    cfg = load_config(db=db, tasks_dirs=tasks_dir, agents_dirs=agents_dir)
    settings = resolve_settings(host=host, port=port, config_file=find_config_file())
    flags = ConfigFlags(db=db, tasks_dirs=None if not tasks_dir else tuple(map(str, tasks_dir)),
                        agents_dirs=None if not agents_dir else tuple(map(str, agents_dir)))
    app = create_app(cfg, settings, flags)
    shown = f"[{host}]" if ":" in host else host
    lines = [f"quorum serve: http://{shown}:{port}/api/v1 (history {cfg.db_shown})"]
    if settings.token_source == "generated":
        # shown once, here, to whoever started the server; never logged
        lines.append(f"API token (made for this run; set QUORUM_API_TOKEN to choose one): {settings.token}")
    else:
        lines.append(f"API token: from {settings.token_source}")
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()
    server = _server_class()(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                    lifespan="on", timeout_graceful_shutdown=35))
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn raises the signal again once it has stopped cleanly
        pass


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, ending the event streams as soon as it is told to stop (see
        ``Runtime.begin_shutdown``)."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            runtime = getattr(getattr(self.config.app, "state", None), "runtime", None)
            loop = getattr(runtime, "loop", None)
            if runtime is not None and loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(runtime.begin_shutdown)
            super().handle_exit(sig, frame)

    return Server
