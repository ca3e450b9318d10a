"""Finding agent files: the package's built-ins, ``agents/`` beside the tasks, and extra directories.

Search order (a later definition of the same id overrides an earlier one):

1. the built-in agent files shipped in the package (``quorum/agents/library/*.md``);
2. for each tasks directory ``T``: ``T/../agents`` (a sibling folder) then ``T/agents``;
3. each directory in ``agents_dirs``, in order.

Two files with the same id in one directory are an error (which one would win is not obvious).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

from quorum.agents.definitions import MAX_AGENT_FILE_BYTES, AgentDefinition, inspect_agent_content
from quorum.errors import DefinitionError, Problem

__all__ = ("BUILTIN_LIBRARY", "AgentRegistry")

BUILTIN_LIBRARY = "quorum.agents.library"


def _builtin_files() -> list[tuple[str, str]]:
    """(source label, text) of each built-in agent file; none when the library is not installed."""
    try:
        root = resources.files(BUILTIN_LIBRARY)
    except ModuleNotFoundError:
        return []
    found = [entry for entry in root.iterdir() if entry.name.endswith(".md") and entry.is_file()]
    return [
        (f"<builtin>/{entry.name}", entry.read_text(encoding="utf-8")) for entry in sorted(found, key=str)
    ]


class AgentRegistry:
    """Loads every agent definition along the search path."""

    def __init__(
        self,
        agents_dirs: Iterable[str | os.PathLike[str]] = (),
        *,
        tasks_dirs: Iterable[str | os.PathLike[str]] = (),
        include_builtin: bool = True,
        max_bytes: int = MAX_AGENT_FILE_BYTES,
    ) -> None:
        self.include_builtin = include_builtin
        self.max_bytes = max_bytes
        self.agents_dirs = tuple(Path(d) for d in agents_dirs)
        self.tasks_dirs = tuple(Path(d) for d in tasks_dirs)

    def directories(self) -> list[Path]:
        """The folders searched (after the built-ins), in override order, existing or not, without repeats."""
        candidates: list[Path] = []
        for tasks in self.tasks_dirs:
            candidates += [tasks.parent / "agents", tasks / "agents"]
        candidates += list(self.agents_dirs)
        seen: set[Path] = set()
        out: list[Path] = []
        for folder in candidates:
            key = folder.resolve()
            if key not in seen:
                seen.add(key)
                out.append(folder)
        return out

    def _sources(self) -> list[list[tuple[str, str | None, Problem | None]]]:
        """Per searched location: (source, text or None, read problem)."""
        groups: list[list[tuple[str, str | None, Problem | None]]] = []
        if self.include_builtin:
            groups.append([(source, text, None) for source, text in _builtin_files()])
        for folder in self.directories():
            if not folder.is_dir():
                continue
            groups.append([self._read(path) for path in sorted(folder.glob("*.md"))])
        return groups

    def _read(self, path: Path) -> tuple[str, str | None, Problem | None]:
        source = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            return (
                source,
                None,
                Problem(message=f"cannot read agent file: {exc.strerror or exc}", source=source),
            )
        if len(raw) > self.max_bytes:
            return (
                source,
                None,
                Problem(
                    message=f"agent file is {len(raw)} bytes; the limit is {self.max_bytes}", source=source
                ),
            )
        try:
            return source, raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            return (
                source,
                None,
                Problem(
                    message=f"not valid UTF-8 (byte {exc.start})",
                    source=source,
                    line=line,
                    hint="save it as UTF-8",
                ),
            )

    def load(self) -> dict[str, AgentDefinition]:
        """Every definition by id (overrides applied). Raises DefinitionError listing every problem."""
        definitions, problems = self._load()
        if any(p.severity == "error" for p in problems):
            raise DefinitionError(problems)
        return definitions

    def lint(self) -> list[Problem]:
        """Every error and warning in every agent file; never raises for bad files."""
        return self._load()[1]

    def _load(self) -> tuple[dict[str, AgentDefinition], list[Problem]]:
        definitions: dict[str, AgentDefinition] = {}
        problems: list[Problem] = []
        for group in self._sources():
            in_group: dict[str, str] = {}
            for source, text, problem in group:
                if problem is not None:
                    problems.append(problem)
                    continue
                assert text is not None
                definition, found = inspect_agent_content(text, source=source, max_bytes=self.max_bytes)
                problems += found
                if definition is None:
                    continue
                earlier = in_group.get(definition.id)
                if earlier is not None:
                    problems.append(
                        Problem(
                            message=f"agent id {definition.id!r} is also defined in {earlier}",
                            source=source,
                            line=definition.line,
                            hint="give each agent file its own id",
                        )
                    )
                    continue
                in_group[definition.id] = source
                stem = Path(source).stem
                if stem != definition.id:
                    problems.append(
                        Problem(
                            message=f"file name {stem!r} differs from the agent id {definition.id!r}",
                            source=source,
                            line=definition.line,
                            hint=f"name the file {definition.id}.md",
                            severity="warning",
                        )
                    )
                definitions[definition.id] = definition
        return definitions, problems

    def get(self, agent_id: str) -> AgentDefinition:
        definitions = self.load()
        try:
            return definitions[agent_id]
        except KeyError:
            where = ", ".join(str(d) for d in self.directories()) or "(no directories)"
            raise DefinitionError(f"no agent {agent_id!r}; searched the built-ins and {where}") from None

    def ids(self) -> Sequence[str]:
        return sorted(self.load())
