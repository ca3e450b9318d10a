"""The Typer application: the commands, global options, and the one place errors are turned into output.

Import time matters (``quorum --help`` must stay well under 0.4 s): the command modules import only
Typer and the option declarations at module level; the engine, the parser, the stores and Rich's
renderables are imported inside the commands that use them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer

from quorum.cli import (
    approve_cmd,
    config_cmd,
    control,
    definitions,
    diff_cmd,
    fork_cmd,
    history_cmd,
    recover_cmd,
    run_cmd,
    serve_cmd,
    worker_cmd,
)
from quorum.cli.common import ExitCode, debug_enabled, print_error, set_debug

__all__ = ("app", "run_app")

app = typer.Typer(
    name="quorum",
    help="Run multi-phase, multi-agent workflows written as Markdown.",
    epilog="Example: quorum run investment-committee-meeting ticker=BTC amount=10000 "
    "riskTolerance=medium  ·  docs/cli.md is the reference.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    # Tracebacks are ours to show (with --debug); locals could hold API keys, so never show them.
    pretty_exceptions_show_locals=False,
    add_completion=True,
)


def _version(value: bool) -> None:
    if value:
        from quorum import __version__

        typer.echo(f"quorum {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show Python tracebacks on errors (also QUORUM_DEBUG=1).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Run multi-phase, multi-agent workflows written as Markdown."""
    set_debug(debug)
    _configure_logging()


def _configure_logging() -> None:
    """The engine logs through ``logging``; the CLI shows what matters as events and errors, so its
    records are dropped unless --debug (then everything goes to stderr)."""
    import logging

    logger = logging.getLogger("quorum")
    if debug_enabled():
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    elif not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def _help(command: Callable[..., None]) -> str:
    """A command's docstring with each paragraph on one line, so that --help wraps it to the terminal
    (Typer's Rich mode keeps single line breaks as they are in the source)."""
    import inspect

    text = inspect.cleandoc(command.__doc__ or "")
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n"))


def _example(*lines: str) -> str:
    # Rich markup: each example on its own line in --help.
    return "[b]Examples[/b]\n\n" + "\n\n".join(f"  $ {line}" for line in lines)


def _register(name: str, command: Callable[..., None], *examples: str) -> None:
    app.command(name, help=_help(command), epilog=_example(*examples))(command)


_register(
    "run",
    run_cmd.run,
    "quorum run investment-committee-meeting ticker=BTC amount=10000 timeHorizon='30 days' "
    "riskTolerance=medium",
    "quorum run daily-market-analysis question='Is BTC overbought?' --json",
    "quorum run my-task --input input.json --prices btc.csv --model openai:gpt-4.1-mini",
)
_register("validate", definitions.validate, "quorum validate tasks/my-task.md agents/",
          "quorum validate investment-committee-meeting")
_register("list", definitions.list_tasks, "quorum list", "quorum list committee --versions",
          "quorum list --tasks-dir ./tasks --json")
_register("diff", diff_cmd.diff, "quorum diff committee@1.1 committee@1.2",
          "quorum diff tasks/old.md tasks/new.md --json")
_register("graph", definitions.graph, "quorum graph investment-committee-meeting > committee.mmd")
_register("history", history_cmd.history, "quorum history", "quorum history --status failed --limit 50")
_register("show", history_cmd.show, "quorum show 3f2a9c", "quorum show 3f2a9c --events --json")
_register("export", history_cmd.export, "quorum export 3f2a9c --format markdown -o report.md",
          "quorum export 3f2a9c > run.json")
_register("prune", history_cmd.prune, "quorum prune --older-than 30d", "quorum prune --keep 100")
_register("pause", control.pause, "quorum pause 3f2a9c", "quorum pause 3f2a9c --wait")
_register("resume", control.resume, "quorum resume 3f2a9c",
          "quorum resume 3f2a9c --upgrade-to 1.3.0 --dry-run")
_register("abort", control.abort, "quorum abort 3f2a9c --reason 'wrong inputs'")
_register("fork", fork_cmd.fork, "quorum fork 3f2a9c", "quorum fork 3f2a9c --checkpoint Analysis",
          "quorum fork 3f2a9c --task tasks/my-task.md --rerun Verdict")
_register("approve", approve_cmd.approve, "quorum approve 3f2a9c --comment 'within mandate'",
          "quorum approve 3f2a9c --reject --by alice", "quorum approve 3f2a9c --option half")
_register("approvals", approve_cmd.approvals, "quorum approvals", "quorum approvals --json")
_register("recover", recover_cmd.recover, "quorum recover", "quorum recover --json")
_register("serve", serve_cmd.serve, "quorum serve",
          "QUORUM_API_TOKEN=$(cat token) quorum serve --host 0.0.0.0 --port 8300")
_register("worker", worker_cmd.worker, "quorum worker --head --num-cpus 2",
          "quorum worker --cluster HEAD:6379")
_register("config", config_cmd.config, "quorum config", "QUORUM_DB=/tmp/h.db quorum config --json")


def run_app(argv: list[str] | None = None) -> None:
    """Run the CLI; never lets a user-caused error out as a traceback (unless --debug)."""
    try:
        app(args=argv, prog_name="quorum")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        if debug_enabled():
            raise
        sys.stderr.write("\ninterrupted\n")
        raise SystemExit(ExitCode.INTERRUPTED) from None
    except Exception as exc:
        if debug_enabled():
            raise
        raise SystemExit(print_error(exc)) from None
