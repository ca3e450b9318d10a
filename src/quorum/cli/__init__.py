"""The ``quorum`` command line (Typer + Rich). ``main`` is the console-script entry point."""

from __future__ import annotations

__all__ = ("main",)


def main() -> None:
    from quorum.cli.app import run_app

    run_app()
