"""``TaskLoader``: find task files by name, version or path, parse them once, re-parse when they change.

Search order: the directories given (first match wins), then the tasks shipped in the package
(``quorum/tasks/*.md``). A *selector* is a task name (``investment-committee-meeting``, which must match
``[a-z0-9][a-z0-9._-]*``), optionally with a version: ``committee@1.2.0`` (exactly), ``committee@1.2``
(the newest 1.2.x), ``committee@^1`` (the newest 1.x); the plain name loads the newest version. Tasks
are found by the name their files *declare* (see :mod:`quorum.definition.catalog`: an earlier
directory's file hides a later one's of the same file name), so several versions live side by side;
two files declaring one name and version are a :class:`DefinitionError` naming both. A resolved file
(symlinks followed) must lie inside its directory, so a name can never reach anything else. A *path*
(it contains a slash, or ends with ``.md`` and exists) is loaded as given, and must end with ``.md``.

The cache is keyed by the resolved path and checked against ``(st_mtime_ns, st_size, st_ino)`` on every
``load``, which costs a ``stat`` per directory and per task file of the search path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NoReturn

from quorum.definition.catalog import Found, TaskCatalog
from quorum.definition.model import Task
from quorum.definition.parser import TaskParser
from quorum.definition.suggest import did_you_mean
from quorum.definition.versions import Selector, VersionSyntaxError, newest, parse_selector
from quorum.errors import DefinitionError, Problem, TaskNotFoundError

__all__ = ("TaskEntry", "TaskLoader", "TaskVersion", "builtin_tasks_dir", "check_unique", "describe_versions")


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
    version: str | None = None
    """The version the file declares (None when it does not load)."""
    default: bool = False
    """Whether the plain name loads this file (the newest version)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskVersion:
    """One version of a task on the search path."""

    name: str
    version: str
    path: Path
    builtin: bool
    default: bool


def _is_name(text: str) -> bool:
    try:
        parse_selector(text)
    except VersionSyntaxError:
        return False
    return True


def check_unique(name: str, files: Sequence[Found]) -> None:
    """Refuse two distinct files declaring one version of ``name`` (a symlink to the other is fine)."""
    first: dict[object, Found] = {}
    problems: list[Problem] = []
    for found in files:
        if found.version is None:
            continue
        seen = first.setdefault(found.version.key, found)
        if seen is not found and seen.real != found.real:
            message = (f"task {name!r} version {found.version} is declared by two files: {seen.path} and "
                       f"{found.path}")
            hint = "give one of them another version, or remove it"
            problems += [Problem(message=message, source=str(seen.path), hint=hint),
                         Problem(message=message, source=str(found.path), hint=hint)]
    if problems:
        raise DefinitionError(problems, source=problems[0].source)


def describe_versions(files: Sequence[Found]) -> str:
    """``1.2.0 (default), 1.1.0, 1.0.0``: the versions found, newest first."""
    found = sorted((f.version for f in files if f.version is not None), key=lambda v: v.key, reverse=True)
    chosen = newest(Selector("x"), ((v, v) for v in found))
    return ", ".join(f"{v} (default)" if chosen is not None and v is chosen[0] else str(v) for v in found)


_Signature = tuple[int, int, int] | None
"""A file's mtime, size and inode; None when it cannot be read."""


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
        self._cache: dict[str, tuple[tuple[int, int, int], Task, dict[str, _Signature]]] = {}
        """Each file's task, with the signature of the file and of every file it includes (an edited
        include makes the task stale as much as an edited file does)."""
        self._lock = threading.Lock()
        self._catalog = TaskCatalog(tuple(self._dirs), builtin, self._declared)

    def _declared(self, path: Path) -> tuple[str, str] | None:
        """What a file declares, by parsing it (for files whose metadata the catalog cannot sniff)."""
        try:
            task = self._load_file(Path(os.path.realpath(path)), os.stat(path))
        except (DefinitionError, OSError):
            return None
        return task.name, task.version

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

    def _resolve_name(self, name: str) -> tuple[Path, os.stat_result]:
        found = self._select(name)
        try:
            info = os.stat(found.path)
        except OSError as exc:  # removed since it was listed
            raise TaskNotFoundError(f"cannot read {found.path}: {exc.strerror}",
                                    source=str(found.path)) from None
        return Path(found.real), info

    def _select(self, text: str, files: list[Found] | None = None) -> Found:
        """The file a selector (``name``, ``name@1.2``, ...) picks; see :mod:`quorum.definition.versions`.
        ``files``: the catalog's files, when the caller has listed them already."""
        try:
            selector = parse_selector(text[:-3] if text.endswith(".md") else text)
        except VersionSyntaxError as exc:
            raise TaskNotFoundError(f"{exc} (or give a path to a .md file)") from None
        candidates = self._catalog.named(selector.name, files)
        if not candidates:
            self._not_found(selector.name)
        declared = [c for c in candidates if c.name == selector.name]
        versioned = [c for c in declared if c.version is not None and not c.escapes]
        if versioned:
            check_unique(selector.name, versioned)
            chosen = newest(selector, ((c.version, c) for c in versioned if c.version is not None))
            if chosen is None:
                raise TaskNotFoundError(
                    f"task {selector.name!r} has no version matching {selector.spec!r}; "
                    f"versions: {describe_versions(versioned)}"
                )
            return chosen[1]
        if selector.spec and declared:
            raise TaskNotFoundError(
                f"task {selector.name!r} has no version matching {selector.spec!r}: "
                f"{declared[0].path} declares an invalid version (see `quorum validate {declared[0].path}`)",
                source=str(declared[0].path),
            )
        first = candidates[0]  # a broken file, or one found by its file name: loading it says what is wrong
        if first.escapes:
            raise TaskNotFoundError(
                f"task {first.stem!r} at {first.path} points outside its directory ({first.real}); "
                "refusing to follow it",
                source=str(first.path),
            )
        return first

    def _not_found(self, name: str) -> NoReturn:
        looked = [str(d / f"{name}.md") for d in self._dirs]
        known = sorted({f.name or f.stem for f in self._catalog.files()})
        raise TaskNotFoundError(
            f"no task named {name!r}{did_you_mean(name, known)}; "
            f"looked in: {', '.join(looked) or '(no directories)'}"
            + (f"; available: {', '.join(known)}" if known else "")
        )

    def versions(self, name: str) -> list[TaskVersion]:
        """Every version of task ``name`` on the search path, newest first (``default``: what the plain
        name loads). Refused like a load when two files declare one version."""
        selector = parse_selector(name)
        found = [c for c in self._catalog.named(selector.name) if c.name == selector.name and c.version]
        check_unique(selector.name, found)
        chosen = newest(Selector(selector.name), ((c.version, c) for c in found if c.version is not None))
        ordered = sorted(found, key=lambda c: c.version.key if c.version else (), reverse=True)
        return [
            TaskVersion(name=selector.name, version=str(c.version), path=c.path, builtin=c.builtin,
                        default=chosen is not None and chosen[1] is c)
            for c in ordered
        ]

    # -- loading -----------------------------------------------------------------------------------
    def load(self, name_or_path: str | os.PathLike[str]) -> Task:
        """The parsed task (cached; re-parsed when the file's mtime, size or inode changes). A task with
        ``task:`` steps is checked against the tasks it calls too (:func:`check_composition`)."""
        task = self.load_file_only(name_or_path)
        if task.has_task_steps:
            problems = self.check_composition(task)
            if any(p.severity == "error" for p in problems):
                raise DefinitionError(problems, source=task.source)
        return task

    def check_composition(self, task: Task) -> list[Problem]:
        """The problems of ``task``'s ``task:`` steps that need the tasks they call (see
        :mod:`quorum.definition.composition`)."""
        from quorum.definition.composition import check_task_calls

        return check_task_calls(task, self.load_file_only)

    def load_file_only(self, name_or_path: str | os.PathLike[str]) -> Task:
        """The parsed task, without checking the tasks its ``task:`` steps call."""
        if self._is_path(name_or_path):
            path = self._resolve_path(name_or_path)
            try:
                info = os.stat(path)
            except OSError as exc:  # removed between resolving and loading
                raise TaskNotFoundError(f"cannot read {path}: {exc.strerror}", source=str(path)) from None
        else:
            path, info = self._resolve_name(str(name_or_path))
        return self._load_file(path, info)

    def _load_file(self, path: Path, info: os.stat_result) -> Task:
        key = str(path)
        signature = (info.st_mtime_ns, info.st_size, info.st_ino)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == signature and _includes_unchanged(cached[2]):
            return cached[1]
        task = self.parser.parse_task_file(path, include_roots=self.include_roots(path))
        included = {source: _file_signature(source) for source in _included_sources(task)}
        with self._lock:
            self._cache[key] = (signature, task, included)
        return task

    def include_roots(self, path: str | os.PathLike[str]) -> tuple[Path, ...]:
        """Where a file's includes may point: the search directory it is in (resolved), or its own
        directory when it was loaded by path from elsewhere."""
        real = os.path.realpath(path)
        for directory in self._dirs:
            root = os.path.realpath(directory)
            if os.path.commonpath([root, real]) == root:
                return (Path(root),)
        return (Path(real).parent,)

    def scan(self) -> list[TaskEntry]:
        """Every visible task file (earlier directories hide later ones of the same file name), loaded
        or not, each version of a task on its own; ``default`` marks what each plain name loads."""
        files = self._catalog.files()
        defaults: dict[str, str] = {}
        entries = []
        listed: set[str] = set()
        for found in files:
            if found.real in listed:
                continue  # a symlink to a file listed already
            listed.add(found.real)
            name = found.name or found.stem
            try:
                if found.escapes:
                    self._select(found.stem, files)  # raises: it points outside its directory
                if name not in defaults:
                    defaults[name] = self._select(name, files).real if _is_name(name) else ""
                task = self._load_file(Path(found.real), os.stat(found.path))
                if found.name is not None:
                    check_unique(name, [f for f in files if f.name == name])
            except DefinitionError as exc:
                defaults.setdefault(name, "")
                entries.append(TaskEntry(name=name, path=found.path, builtin=found.builtin, error=exc))
            except OSError as exc:
                error = DefinitionError(f"cannot read the file: {exc.strerror}", source=str(found.path))
                entries.append(TaskEntry(name=name, path=found.path, builtin=found.builtin, error=error))
            else:
                entries.append(TaskEntry(name=name, path=found.path, builtin=found.builtin, task=task,
                                         version=task.version, default=defaults[name] == found.real))
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



def _file_signature(path: str) -> _Signature:
    """mtime, size and inode of a file (None when it cannot be read: gone, or unreadable)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def _included_sources(task: Task) -> set[str]:
    return {p.source for p in task.phases if p.source and p.source != task.source}


def _includes_unchanged(included: dict[str, _Signature]) -> bool:
    return all(_file_signature(source) == before for source, before in included.items())
