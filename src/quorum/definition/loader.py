"""``TaskLoader``: find task files by name or path, parse them once, re-parse when they change.

Search order: the directories given (first match wins), then the tasks shipped in the package
(``quorum/tasks/*.md``). A *name* (``investment-committee-meeting``) must match
``[a-z0-9][a-z0-9._-]*`` and resolves to ``<dir>/<name>.md``; the resolved file (symlinks followed) must
lie inside that directory, so a name can never reach anything else. A *path* (it contains a slash, or
ends with ``.md`` and exists) is loaded as given, and must end with ``.md``.

The cache is keyed by the resolved path and checked against ``(st_mtime_ns, st_size, st_ino)`` on every
``load``, which costs one ``stat`` per directory searched.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from quorum.definition.model import Task
from quorum.definition.parser import TaskParser
from quorum.definition.suggest import did_you_mean
from quorum.errors import DefinitionError, TaskNotFoundError

__all__ = ("TaskEntry", "TaskLoader", "builtin_tasks_dir")

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


def builtin_tasks_dir() -> Path | None:
    """The package's ``quorum/tasks`` directory (None when the package is not on a file system)."""
    folder = resources.files("quorum").joinpath("tasks")
    return folder if isinstance(folder, Path) and folder.is_dir() else None


@dataclass(frozen=True, slots=True)
class TaskEntry:
    """One task file found while listing: its task, or the error that keeps it from loading."""

    name: str
    path: Path
    builtin: bool
    task: Task | None = None
    error: DefinitionError | None = None


Signature = tuple[int, int, int]


class TaskLoader:
    def __init__(
        self,
        dirs: Sequence[str | os.PathLike[str]] = (),
        *,
        include_builtin: bool = True,
        parser: TaskParser | None = None,
        allow_paths: bool = True,
    ) -> None:
        self.parser = parser or TaskParser()
        self.allow_paths = allow_paths
        self._dirs: list[Path] = [Path(d).expanduser() for d in dirs]
        builtin = builtin_tasks_dir() if include_builtin else None
        self._builtin = builtin
        if builtin is not None:
            self._dirs.append(builtin)
        self._cache: dict[str, tuple[Signature, Task]] = {}
        self._real_dirs: dict[Path, str] = {}
        self._lock = threading.Lock()

    @property
    def dirs(self) -> tuple[Path, ...]:
        return tuple(self._dirs)

    # -- resolving ---------------------------------------------------------------------------------
    def _is_path(self, name_or_path: str | os.PathLike[str]) -> bool:
        if not isinstance(name_or_path, str):
            return True
        if "/" in name_or_path or os.sep in name_or_path or (os.altsep and os.altsep in name_or_path):
            return True
        return name_or_path.endswith(".md") and os.path.isfile(name_or_path)

    def resolve(self, name_or_path: str | os.PathLike[str]) -> Path:
        """The file a name or path refers to. ``TaskNotFoundError`` lists where it looked."""
        if self._is_path(name_or_path):
            return self._resolve_path(name_or_path)
        return self._resolve_name(str(name_or_path))[0]

    def _resolve_path(self, given: str | os.PathLike[str]) -> Path:
        text = os.fspath(given)
        if not self.allow_paths:
            raise TaskNotFoundError(
                f"{text!r} is not a task name; names use lowercase letters, digits, "
                "'.', '_' and '-' (paths are not accepted here)"
            )
        path = Path(text).expanduser()
        if path.suffix != ".md":
            raise TaskNotFoundError(f"{text!r} is not a task file: task files end with .md", source=text)
        if not path.is_file():
            raise TaskNotFoundError(f"no task file at {text!r}", source=text)
        return path.resolve()

    def _real_dir(self, directory: Path) -> str:
        real = self._real_dirs.get(directory)
        if real is None:
            real = os.path.realpath(directory)
            self._real_dirs[directory] = real
        return real

    def _resolve_name(self, name: str) -> tuple[Path, os.stat_result]:
        stem = name[:-3] if name.endswith(".md") else name
        if not _NAME.fullmatch(stem):
            raise TaskNotFoundError(
                f"{name!r} is not a valid task name: use lowercase letters, digits, '.', '_' and '-', "
                "starting with a letter or digit (or give a path to a .md file)"
            )
        looked: list[str] = []
        for directory in self._dirs:
            candidate = directory / f"{stem}.md"
            looked.append(str(candidate))
            try:
                info = os.stat(candidate)
            except OSError:
                continue
            real = os.path.realpath(candidate)
            root = self._real_dir(directory)
            if os.path.commonpath([root, real]) != root:
                raise TaskNotFoundError(
                    f"task {stem!r} at {candidate} points outside its directory ({real}); "
                    "refusing to follow it",
                    source=str(candidate),
                )
            return Path(real), info
        known = [entry.name for entry in self._files()]
        raise TaskNotFoundError(
            f"no task named {stem!r}{did_you_mean(stem, known)}; "
            f"looked in: {', '.join(looked) or '(no directories)'}"
            + (f"; available: {', '.join(sorted(set(known)))}" if known else "")
        )

    # -- loading -----------------------------------------------------------------------------------
    def load(self, name_or_path: str | os.PathLike[str]) -> Task:
        """The parsed task (cached; re-parsed when the file's mtime, size or inode changes)."""
        if self._is_path(name_or_path):
            path = self._resolve_path(name_or_path)
            try:
                info = os.stat(path)
            except OSError as exc:  # removed between resolving and loading
                raise TaskNotFoundError(f"cannot read {path}: {exc.strerror}", source=str(path)) from None
        else:
            path, info = self._resolve_name(str(name_or_path))
        key = str(path)
        signature = (info.st_mtime_ns, info.st_size, info.st_ino)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        task = self.parser.parse_task_file(path)
        with self._lock:
            self._cache[key] = (signature, task)
        return task

    def _files(self) -> list[TaskEntry]:
        seen: set[str] = set()
        out: list[TaskEntry] = []
        for directory in self._dirs:
            try:
                files = sorted(directory.glob("*.md"))
            except OSError:
                continue
            for file in files:
                name = file.stem
                if name in seen or not _NAME.fullmatch(name):
                    continue
                seen.add(name)
                out.append(TaskEntry(name=name, path=file, builtin=directory == self._builtin))
        return out

    def scan(self) -> list[TaskEntry]:
        """Every task file found (earlier directories hide later ones of the same name), loaded or not."""
        entries = []
        for entry in self._files():
            try:
                task = self.load(entry.name)
            except DefinitionError as exc:
                entries.append(TaskEntry(name=entry.name, path=entry.path, builtin=entry.builtin, error=exc))
            else:
                entries.append(TaskEntry(name=entry.name, path=entry.path, builtin=entry.builtin, task=task))
        return entries

    def list_tasks(self, *, strict: bool = False) -> list[Task]:
        """The tasks that load, built-ins included; ``strict=True`` raises the first file's errors instead."""
        tasks = []
        for entry in self.scan():
            if entry.error is not None:
                if strict:
                    raise entry.error
                continue
            assert entry.task is not None
            tasks.append(entry.task)
        return tasks

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
