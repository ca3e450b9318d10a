"""``quorum diff``: what changed between two task definitions (two versions, or two files)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from quorum.cli.common import ExitCode, out_console
from quorum.cli.options import JsonOpt, TasksDirOpt

if TYPE_CHECKING:
    from quorum.definition.diff import TaskDiff

__all__ = ("diff",)

SideArg = Annotated[
    str,
    typer.Argument(help="A task selector (name, name@1.2.0, name@^1) or a path to a task file.",
                   show_default=False),
]


def diff(
    before: SideArg,
    after: SideArg,
    tasks_dir: TasksDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show what changed from one task definition to another: phases added, removed and changed (steps,
    agents, outputs, dependencies, settings), the phases that run again only because one they depend
    on changed, and the task's own settings.

    Exit status: 0 the definitions are the same, 1 they differ, 2 one of them was not found.
    """
    from quorum.config import load_config
    from quorum.definition.diff import diff_tasks
    from quorum.definition.loader import TaskLoader

    cfg = load_config(tasks_dirs=tasks_dir)
    loader = TaskLoader(list(cfg.tasks_dirs))
    result = diff_tasks(loader.load(before), loader.load(after))
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    else:
        print_diff(result)
    raise typer.Exit(ExitCode.OK if result.same else ExitCode.FAILED)


def _side(label: str, name: str, version: str, source: str | None) -> str:
    return f"{label} {name} {version}" + (f" ({source})" if source else "")


def print_diff(result: TaskDiff) -> None:
    from rich.markup import escape

    console = out_console()
    old, new = result.before, result.after
    console.print(escape(_side("---", old.name, old.version, old.source)), soft_wrap=True)
    console.print(escape(_side("+++", new.name, new.version, new.source)), soft_wrap=True)
    if result.same:
        console.print("no difference in what the engine runs")
        return
    for change in result.task_changes:
        console.print(f"task: {escape(change.describe())}", soft_wrap=True)
    for name in result.added:
        console.print(f"[green]+ phase {escape(name)}[/] (added)", soft_wrap=True)
    for name in result.removed:
        console.print(f"[red]- phase {escape(name)}[/] (removed)", soft_wrap=True)
    for phase in result.changed:
        console.print(f"[yellow]~ phase {escape(phase.name)}[/] (changed)", soft_wrap=True)
        for change in phase.changes:
            console.print(f"    {escape(change.describe())}", soft_wrap=True)
    for name in result.affected:
        console.print(f"[cyan]~ phase {escape(name)}[/] "
                      "(unchanged; runs again: a phase it depends on changed)", soft_wrap=True)
    if result.unchanged:
        console.print(f"unchanged: {escape(', '.join(result.unchanged))}", soft_wrap=True)
    if result.rerun:
        console.print(f"an execution moved to {escape(new.version)} runs again: "
                      f"{escape(', '.join(result.rerun))}", soft_wrap=True)
