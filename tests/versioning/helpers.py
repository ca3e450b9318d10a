"""Writing small versioned task files for the versioning tests."""

from __future__ import annotations

from pathlib import Path

__all__ = ("write_version",)


def write_version(
    folder: Path, version: str, *, name: str = "committee", file: str | None = None, phases: str | None = None
) -> Path:
    """``folder/<file>.md`` (default ``<name>@<version>``) declaring ``name`` at ``version``."""
    path = folder / f"{file or f'{name}@{version}'}.md"
    body = phases or "## Phase: A\n### Agents\n- x\n### Steps\n- go\n"
    path.write_text(f"# {name}\n\n```yaml\nname: {name}\nversion: {version}\n```\n\n{body}")
    return path
