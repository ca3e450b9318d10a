"""The options several commands share, so that they are spelled and documented once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = (
    "AgentsDirOpt",
    "ClusterOpt",
    "DbOpt",
    "ExecutionIdArg",
    "JsonOpt",
    "ModelOpt",
    "PlainOpt",
    "TaskArg",
    "TasksDirOpt",
    "complete_execution_id",
    "complete_task",
)


def complete_task(incomplete: str) -> list[str]:
    """Shell completion of task names: the ``*.md`` files of the task directories and the built-ins
    (file names only; nothing is parsed, so completion stays instant)."""
    from quorum.config import load_config
    from quorum.definition.loader import builtin_tasks_dir

    try:
        dirs = [*load_config().tasks_dirs, builtin_tasks_dir()]
    except Exception:  # completion must never print an error into the user's shell
        return []
    names = {p.stem for d in dirs if d is not None and d.is_dir() for p in d.glob("*.md")}
    return sorted(n for n in names if n.startswith(incomplete))


def complete_execution_id(incomplete: str) -> list[str]:
    """Shell completion of execution ids: the most recent ones in the history."""
    from quorum.cli.common import run_async
    from quorum.cli.store import db_exists, opened_store
    from quorum.config import load_config

    async def recent() -> list[str]:
        cfg = load_config()
        if not db_exists(cfg):
            return []
        async with opened_store(cfg) as store:
            return [r.id for r in await store.list_executions(limit=50)]

    try:
        ids = run_async(recent())
    except Exception:  # completion must never print an error into the user's shell
        return []
    return [i for i in ids if i.startswith(incomplete)]


TaskArg = Annotated[
    str,
    typer.Argument(help="Task name (see `quorum list`) or path to a task file.", show_default=False,
                   autocompletion=complete_task),
]

TasksDirOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--tasks-dir",
        help="Directory of task files (repeatable). Overrides QUORUM_TASKS_DIRS and quorum.toml; "
        "the built-in tasks are always found.",
        metavar="DIR",
        file_okay=False,
        show_default=False,
    ),
]

AgentsDirOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--agents-dir",
        help="Directory of agent files (repeatable). Overrides QUORUM_AGENTS_DIRS and quorum.toml.",
        metavar="DIR",
        file_okay=False,
        show_default=False,
    ),
]

# A str, not a Path: a Path would fold the slashes of a store URL (sqlite:///h.db -> sqlite:/h.db).
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="History database: a SQLite file path, or a store URL (sqlite:///relative.db, "
        "sqlite:////absolute.db, memory:). Default: $QUORUM_DB, quorum.toml, else "
        "$XDG_DATA_HOME/quorum/history.db (~/.local/share/quorum/history.db).",
        metavar="PATH|URL",
        show_default=False,
    ),
]

ModelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        help="Model override (repeatable): PROVIDER:MODEL for every agent, or AGENT=PROVIDER:MODEL for "
        "one, e.g. openai:gpt-4.1-mini or risk-officer=anthropic:claude-sonnet-4-5.",
        metavar="SPEC",
        show_default=False,
    ),
]

ClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Run on a Ray cluster: ray://HOST:10001 (a head's client server), HOST:6379 from a node, "
        "or auto (this machine's cluster). Also QUORUM_CLUSTER. Needs a postgresql:// --db and "
        "pip install 'quorum\\[ray]' (docs/distributed.md).",
        metavar="ADDRESS",
        show_default=False,
    ),
]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only (for scripts).")]

ExecutionIdArg = Annotated[
    str,
    typer.Argument(help="Execution id (a unique prefix is enough).", show_default=False,
                   autocompletion=complete_execution_id),
]

PlainOpt = Annotated[
    bool, typer.Option("--plain", help="One line per event even on a terminal (no live view).")
]
