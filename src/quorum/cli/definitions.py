"""``quorum validate``, ``quorum list`` and ``quorum graph``: commands on task and agent files."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from quorum.cli.common import ExitCode, err_console, fail, out_console
from quorum.cli.options import AgentsDirOpt, JsonOpt, TaskArg, TasksDirOpt

if TYPE_CHECKING:
    from quorum.config import Config
    from quorum.definition.loader import TaskLoader
    from quorum.errors import Problem

__all__ = ("graph", "list_tasks", "validate")

Kind = Literal["task", "agent"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Checked:
    """The outcome of linting one file."""

    path: Path
    kind: Kind
    problems: tuple[Problem, ...]
    summary: str = ""

    @property
    def errors(self) -> int:
        return sum(p.severity == "error" for p in self.problems)

    @property
    def warnings(self) -> int:
        return sum(p.severity == "warning" for p in self.problems)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": str(self.path),
            "kind": self.kind,
            "valid": self.errors == 0,
            "summary": self.summary,
            "problems": [
                {"source": p.source, "line": p.line, "severity": p.severity, "message": p.message,
                 "hint": p.hint, "pointer": p.pointer}
                for p in self.problems
            ],
        }
        if self.kind == "task":
            from quorum.definition.metadata_schema import SCHEMA_ID

            # the schema the problems' pointers point into (quorum validate --schema prints it)
            out["metadataSchema"] = SCHEMA_ID
        return out


def validate(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Task or agent files, directories of them, or task names.", show_default=False),
    ] = None,
    tasks_dir: TasksDirOpt = None,
    agents_dir: AgentsDirOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    as_json: JsonOpt = False,
    schema: Annotated[
        bool,
        typer.Option(
            "--schema",
            help="Print the JSON Schema of a task's metadata block (for editors) and exit; needs no target.",
        ),
    ] = False,
) -> None:
    """Check task and agent files: every problem with file:line, what is wrong and how to fix it.

    Exit status: 0 all valid, 1 some file is invalid, 2 a target was not found.
    A file starting with '---' (YAML front matter) is an agent file; any other .md file is a task.
    With --json, a problem in a task's metadata block also carries its JSON Pointer into the block
    ("pointer": "/retry/maxAttempts"), in terms of the schema that --schema prints.
    """
    if schema:
        from quorum.definition.metadata_schema import shipped_schema_text

        sys.stdout.write(shipped_schema_text())
        return
    if not targets:
        fail(
            "Missing argument 'TARGETS...': give task or agent files, directories or task names",
            code=ExitCode.USAGE,
            details=("e.g. quorum validate tasks/my-task.md, or quorum validate --schema for the schema",),
        )
    from quorum.config import load_config

    cfg = load_config(tasks_dirs=tasks_dir, agents_dirs=agents_dir)
    files = _expand(targets, cfg)
    agent_ids = _known_agent_ids(cfg)
    loader = _loader(cfg)
    results = [_check(path, kind, agent_ids, loader) for path, kind in files]
    bad = [r for r in results if r.errors or (strict and r.warnings)]
    if as_json:
        sys.stdout.write(json.dumps([r.to_dict() for r in results], indent=2) + "\n")
    else:
        _print_checked(results, strict=strict)
    if bad:
        raise typer.Exit(ExitCode.FAILED)


def _expand(targets: list[str], cfg: Config) -> list[tuple[Path, Kind]]:
    """Paths (files or directories) as given; anything else is a task name resolved by the loader."""
    from quorum.errors import TaskNotFoundError

    loader = _loader(cfg)
    out: list[tuple[Path, Kind]] = []
    missing: list[str] = []
    for target in targets:
        path = Path(target).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.md") if p.is_file())
            if not found:
                missing.append(f"{target}: a directory with no .md files")
            out.extend((p, _kind_of(p)) for p in found)
        elif path.is_file():
            out.append((path, _kind_of(path)))
        else:
            try:
                out.append((loader.resolve(target), "task"))
            except TaskNotFoundError as exc:
                missing.append(exc.problems[0].message if exc.problems else f"{target}: not found")
    if missing:
        fail("cannot validate: " + missing[0], code=ExitCode.USAGE, details=tuple(missing[1:]))
    return out


def _kind_of(path: Path) -> Kind:
    """Agent files open with YAML front matter (``---``); task files with a title and a yaml block."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return "task"  # the linter reports the read error with the path
    first = next((line for line in head.splitlines() if line.strip()), b"")
    return "agent" if first.strip() == b"---" else "task"


def _in_line_order(problems: list[Problem]) -> tuple[Problem, ...]:
    """By line, file by file (a task's own problems, then those of each file it includes)."""
    files: dict[str | None, int] = {}
    for p in problems:
        files.setdefault(p.source, len(files))
    return tuple(sorted(problems, key=lambda p: (files[p.source], p.line if p.line is not None else 0)))


def _check(path: Path, kind: Kind, agent_ids: frozenset[str] | None, loader: TaskLoader) -> Checked:
    if kind == "agent":
        from quorum.agents.definitions import lint_agent_file

        problems = _in_line_order(lint_agent_file(path))
        summary = "" if any(p.severity == "error" for p in problems) else "agent file"
        return Checked(path=path, kind=kind, problems=problems, summary=summary)
    from quorum.definition.parser import TaskParser

    parser = TaskParser(agent_ids=agent_ids)
    roots = loader.include_roots(path)  # includes read from the task directory, as a run reads them
    problems = _in_line_order(parser.lint_file(path, include_roots=roots))
    summary = ""
    if not any(p.severity == "error" for p in problems):
        task = parser.parse_task_file(path, include_roots=roots)
        summary = f"task {task.name} {task.version}, {len(task.phases)} phases"
        if task.has_task_steps:  # the tasks it calls: they exist, take these inputs, call no one back
            problems = _in_line_order([*problems, *loader.check_composition(task)])
            if any(p.severity == "error" for p in problems):
                summary = ""
    return Checked(path=path, kind=kind, problems=problems, summary=summary)


def _known_agent_ids(cfg: Config) -> frozenset[str] | None:
    """The agent ids the default agent directory knows (built-ins and agent files), to catch typos in
    tasks; None when the agent files themselves are broken (their own check reports that)."""
    from quorum.errors import QuorumError

    try:
        from quorum.agents.defaults import default_agent_manager

        manager = default_agent_manager(agents_dirs=list(cfg.agents_dirs))
    except QuorumError:
        return None
    return frozenset(manager.agent_ids())


def _print_checked(results: list[Checked], *, strict: bool) -> None:
    from rich.markup import escape

    console = out_console()
    for r in results:
        failed = r.errors or (strict and r.warnings)
        mark = "[red]✗[/]" if failed else "[green]✓[/]"
        tail = f"  [dim]{escape(r.summary)}[/]" if r.summary else ""
        console.print(f"{mark} {escape(str(r.path))}{tail}", soft_wrap=True)
        for p in r.problems:
            colour = "red" if p.severity == "error" else "yellow"
            console.print(f"  [{colour}]{escape(str(p))}[/]", soft_wrap=True)
    n_bad = sum(bool(r.errors or (strict and r.warnings)) for r in results)
    errors = sum(r.errors for r in results)
    warnings = sum(r.warnings for r in results)
    console.print(
        f"{len(results)} file{'s' if len(results) != 1 else ''} checked: {len(results) - n_bad} valid, "
        f"{n_bad} invalid ({errors} error{'s' if errors != 1 else ''}, "
        f"{warnings} warning{'s' if warnings != 1 else ''})"
    )


def _loader(cfg: Config) -> TaskLoader:
    from quorum.definition.loader import TaskLoader

    return TaskLoader(list(cfg.tasks_dirs))


def list_tasks(
    name: Annotated[
        str | None, typer.Argument(help="Only this task (its name, without a version).", show_default=False)
    ] = None,
    versions: Annotated[
        bool, typer.Option("--versions", help="Show the file of each version (every version is listed).")
    ] = False,
    tasks_dir: TasksDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the tasks found, every version of each: the built-in ones and those in the task directories.

    The default version of a task (what its plain name runs: the newest release) is marked; run another
    with `quorum run <name>@<version>` (`@1.2.0` exactly, `@1.2` the newest 1.2.x, `@^1` the newest 1.x).
    """
    from rich.markup import escape

    from quorum.cli import report
    from quorum.config import load_config
    from quorum.definition.versions import Version

    cfg = load_config(tasks_dirs=tasks_dir)
    entries = _loader(cfg).scan()
    if name is not None:
        entries = [e for e in entries if e.name == name]
        if not entries:
            fail(f"no task named {name!r}", code=ExitCode.USAGE,
                 details=("see every task with `quorum list`",))
    loaded = [e for e in entries if e.task is not None and e.version is not None]
    loaded.sort(key=lambda e: Version.parse(e.version or "0.0.0").key, reverse=True)  # newest first,
    loaded.sort(key=lambda e: e.name)  # within each name (the sort is stable)
    for broken in (e for e in entries if e.error is not None):
        first = broken.error.errors[0].message if broken.error and broken.error.errors else ""
        err_console().print(f"[yellow]warning:[/] {escape(str(broken.path))} does not load "
                            f"({len(broken.error.errors) if broken.error else 0} errors"
                            f"{': ' + escape(first) if first else ''}); "
                            f"see `quorum validate {escape(str(broken.path))}`", soft_wrap=True)
    if as_json:
        rows = [
            {"name": e.task.name, "version": e.task.version, "default": e.default,
             "phases": len(e.task.phases), "title": e.task.title, "description": e.task.description,
             "source": e.task.source}
            for e in loaded if e.task is not None
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    console = out_console()
    if not loaded:
        console.print("no tasks found (searched the built-in tasks and: "
                      f"{', '.join(map(str, cfg.tasks_dirs)) or 'no task directories'})")
        return
    table = report.table("name", "version", "phases", "file" if versions else "description")
    table.columns[0].no_wrap = True
    table.columns[2].justify = "right"
    if versions:
        table.columns[3].overflow = "fold"  # a path cut short is no use
    counts: dict[str, int] = {}
    for e in loaded:
        counts[e.name] = counts.get(e.name, 0) + 1
    for e in loaded:
        assert e.task is not None
        last = str(e.path) if versions else (e.task.description or e.task.title)
        # the default is worth saying only where there is a choice
        several = counts[e.name] > 1 or versions
        shown = f"{e.task.version} (default)" if e.default and several else e.task.version
        table.add_row(escape(e.task.name), escape(shown), str(len(e.task.phases)), escape(last))
    console.print(table)


def graph(
    task: TaskArg,
    tasks_dir: TasksDirOpt = None,
    no_critical: Annotated[
        bool, typer.Option("--no-critical", help="Do not mark the critical path.")
    ] = False,
) -> None:
    """Print the phase DAG as a Mermaid flowchart, with the critical path marked.

    The critical path is the longest chain of dependent phases (weighted by phase timeouts when all
    phases declare one); paste the output into any Mermaid viewer, or a ```mermaid block on GitHub.
    """
    from quorum.config import load_config
    from quorum.graph import PhaseGraph

    cfg = load_config(tasks_dirs=tasks_dir)
    parsed = _loader(cfg).load(task)
    mermaid = PhaseGraph.from_task(parsed).to_mermaid(mark_critical=not no_critical)
    sys.stdout.write(mermaid if mermaid.endswith("\n") else mermaid + "\n")
