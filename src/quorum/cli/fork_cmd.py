"""``quorum fork``: a new execution from a stored one's settled phases (or one of its checkpoints)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quorum.cli.common import CliError, ExitCode, fail, run_async
from quorum.cli.options import AgentsDirOpt, DbOpt, ExecutionIdArg, JsonOpt, ModelOpt, TasksDirOpt

if TYPE_CHECKING:
    from quorum.config import Config
    from quorum.definition.model import Task
    from quorum.events import Event
    from quorum.history.base import ExecutionRecord, HistoryStore

__all__ = ("fork",)


def fork(
    execution_id: ExecutionIdArg,
    checkpoint: Annotated[
        str | None,
        typer.Option("--checkpoint", "-c", metavar="PHASE",
                     help="Start from the checkpoint taken after this phase (or a checkpoint id); "
                     "default: every phase the execution settled."),
    ] = None,
    rerun: Annotated[
        list[str] | None,
        typer.Option("--rerun", metavar="PHASE", show_default=False,
                     help="Run this phase again, with every phase that depends on it (repeatable)."),
    ] = None,
    task_file: Annotated[
        Path | None,
        typer.Option("--task", exists=True, dir_okay=False, metavar="FILE",
                     help="Run this (edited) task file; its phases whose content changed run again."),
    ] = None,
    as_json: JsonOpt = False,
    plain: Annotated[
        bool, typer.Option("--plain", help="One line per event even on a terminal (no live view).")
    ] = False,
    model: ModelOpt = None,
    db: DbOpt = None,
    tasks_dir: TasksDirOpt = None,
    agents_dir: AgentsDirOpt = None,
) -> None:
    """Start a new execution from a recorded one, keeping the phases it completed.

    The recorded execution (ended, paused, or left running by a dead process) is not changed. The fork
    runs the recorded definition with the recorded models, unless --task or --model say otherwise;
    phases not settled at the chosen point, and those named by --rerun, run again. Output and exit
    status as for `quorum run`.
    """
    from quorum.config import load_config

    cfg = load_config(db=db, tasks_dirs=tasks_dir, agents_dirs=agents_dir, models=model)
    raise typer.Exit(run_async(_fork(
        cfg, execution_id, checkpoint=checkpoint, rerun=tuple(rerun or ()), task_file=task_file,
        as_json=as_json, plain=plain, models_given=bool(model),
    )))


async def _fork(
    cfg: Config, execution_id: str, *, checkpoint: str | None, rerun: tuple[str, ...],
    task_file: Path | None, as_json: bool, plain: bool, models_given: bool,
) -> int:
    from quorum.cli.choices import recorded_choices
    from quorum.cli.run_cmd import follow, open_history, view_for
    from quorum.cli.store import db_exists, find_execution

    if not db_exists(cfg):
        fail(f"no execution with id {execution_id!r}", details=(f"history: {cfg.db} (no history yet)",))
    task = _load_task(cfg, task_file) if task_file is not None else None
    store = await open_history(cfg)
    try:
        record = await find_execution(store, execution_id, where=cfg.db)
        checkpoint_id = None if checkpoint is None else await _checkpoint_id(store, record, checkpoint)
        choices = recorded_choices(cfg, record, models_given=models_given)
        return await follow(
            cfg, store, view_for(task, as_json=as_json, plain=plain),
            lambda executor: executor.fork(record.id, checkpoint_id, rerun=rerun, task=task),
            as_json=as_json, choices=choices,
        )
    finally:
        await store.close()


def _load_task(cfg: Config, path: Path) -> Task:
    from quorum.definition.loader import TaskLoader

    return TaskLoader(list(cfg.tasks_dirs)).load(path)


async def _checkpoint_id(store: HistoryStore, record: ExecutionRecord, wanted: str) -> str:
    """The id of the checkpoint ``wanted`` names: a checkpoint id, or the phase it was taken after."""
    from quorum.events import EventType

    taken: list[Event] = [e for e in await store.read_journal(record.id)
                          if e.type == EventType.CHECKPOINT_CREATED and "snapshot" in e.data]
    for event in reversed(taken):  # the latest one after that phase, if it ran more than once
        if wanted in (event.data.get("checkpoint_id"), event.data.get("phase")):
            return str(event.data.get("checkpoint_id"))
    known = [f"{e.data.get('phase')} ({e.data.get('checkpoint_id')})" for e in taken if e.data.get("phase")]
    raise CliError(
        f"execution {record.id} has no checkpoint {wanted!r}",
        details=(
            f"its checkpoints (after each completed phase): {', '.join(known)}" if known
            else "it recorded no checkpoint: fork it without --checkpoint to keep what it settled",
            f"e.g. quorum fork {record.id} --checkpoint {taken[-1].data.get('phase')}" if known else "",
        ),
        code=ExitCode.USAGE,
    )
