"""Which task files of a search path declare which task name and version (the loader's index).

Every ``*.md`` file of each search directory whose stem is a task name — or a task name followed by
``@<version>`` (``committee@1.2.0.md``) — is a candidate. An earlier directory's file hides a later
directory's file of the same stem (a user's ``committee.md`` overrides the shipped one); the files left
are indexed by the ``name`` and ``version`` they *declare*, so several versions of a task can live side
by side under any file names, in one folder or across the search path.

Reading a whole task to learn its name would make loading one task parse every file of the path, so the
name and version are read from the top-level ``name:`` / ``version:`` lines of the file's first
``yaml`` fence (a file where they are written otherwise is parsed in full, once per change). The entry
of each file is cached by ``(st_mtime_ns, st_size, st_ino)``, each directory's listing by its mtime.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from quorum.definition.versions import Version, VersionSyntaxError

__all__ = ("FILE_STEM", "Found", "TaskCatalog")

FILE_STEM = re.compile(r"([a-z0-9][a-z0-9._-]{0,99})(?:@([0-9A-Za-z.+-]{1,80}))?")
"""A task file's stem: a task name, optionally ``@`` and the version it holds."""

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*ya?ml[ \t]*$", re.IGNORECASE | re.MULTILINE)
_PHASE_OR_INCLUDE = re.compile(r"^ {0,3}##[ \t]+(?:phase|include)[ \t]*:", re.IGNORECASE | re.MULTILINE)
_KEY = re.compile(
    r"""^(name|version)[ \t]*:[ \t]*(?:"([^"\n]*)"|'([^'\n]*)'|([^\s#'"][^\s#]*))[ \t]*(?:#.*)?$""",
    re.MULTILINE,
)
_HEAD_BYTES = 64 * 1024

Signature = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Found:
    """One visible task file: where it is, and what it declares (None: unreadable or not declared)."""

    stem: str
    path: Path
    """The path in its search directory (as listed, symlinks not followed)."""
    real: str
    """Its resolved path (symlinks followed): two entries of one real file are one file."""
    directory: Path
    builtin: bool
    signature: Signature
    name: str | None
    version: Version | None
    version_text: str | None
    escapes: bool = False
    """A symlink that leads out of its directory: never read, and refused when selected."""


def sniff(text: str) -> tuple[str | None, str | None] | None:
    """``(name, version)`` from the first yaml fence before the first phase, or None when the fence
    does not write them as plain top-level lines (then only a full parse can tell)."""
    fence = _FENCE.search(text)
    boundary = _PHASE_OR_INCLUDE.search(text)
    if fence is None or (boundary is not None and boundary.start() < fence.start()):
        return None, None  # no metadata block: nothing declared
    marker = fence.group(1)
    end = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$", re.MULTILINE)
    close = end.search(text, fence.end())
    block = text[fence.end() : close.start() if close else len(text)]
    found: dict[str, str] = {}
    for match in _KEY.finditer(block):
        if match.group(1) in found:
            return None  # written twice: the parser says which one counts (or that it is an error)
        found[match.group(1)] = match.group(2) or match.group(3) or match.group(4) or ""
    if "name" not in found and re.search(r"^\s*\{|^name\b", block, re.MULTILINE):
        return None  # a flow mapping, or a name written in a way the lines above do not read
    return found.get("name"), found.get("version", "0.0.0")


class TaskCatalog:
    """The visible task files of the search path, indexed by declared name (see the module doc)."""

    def __init__(
        self, dirs: tuple[Path, ...], builtin: Path | None, declared: Callable[[Path], tuple[str, str] | None]
    ) -> None:
        self._dirs = dirs
        self._builtin = builtin
        self._declared = declared  # a full parse: (name, version), None when the file does not load
        self._listings: dict[Path, tuple[int, list[tuple[str, Path]]]] = {}
        self._entries: dict[Path, Found] = {}
        self._real_dirs: dict[Path, str] = {}

    def _real_dir(self, directory: Path) -> str:
        real = self._real_dirs.get(directory)
        if real is None:
            real = os.path.realpath(directory)
            self._real_dirs[directory] = real
        return real

    def _listing(self, directory: Path) -> list[tuple[str, Path]]:
        try:
            mtime = os.stat(directory).st_mtime_ns
        except OSError:
            return []
        cached = self._listings.get(directory)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            with os.scandir(directory) as scan:
                files = [(item.name[:-3], Path(directory, item.name)) for item in scan
                         if item.name.endswith(".md") and FILE_STEM.fullmatch(item.name[:-3])]
        except OSError:
            return []
        files.sort()
        self._listings[directory] = (mtime, files)
        return files

    def files(self) -> list[Found]:
        """Every visible file, in search order (an earlier directory's stem hides a later one's)."""
        seen: set[str] = set()
        out: list[Found] = []
        for directory in self._dirs:
            for stem, path in self._listing(directory):
                if stem in seen:
                    continue
                entry = self._entry(stem, path, directory)
                if entry is None:
                    continue
                seen.add(stem)
                out.append(entry)
        return out

    def _entry(self, stem: str, path: Path, directory: Path) -> Found | None:
        try:
            info = os.stat(path)
        except OSError:
            return None  # a dangling symlink, or removed since the listing
        signature = (info.st_mtime_ns, info.st_size, info.st_ino)
        cached = self._entries.get(path)
        if cached is not None and cached.signature == signature:
            return cached
        real = os.path.realpath(path)
        root = self._real_dir(directory)
        if os.path.commonpath([root, real]) != root:
            return Found(stem=stem, path=path, real=real, directory=directory, builtin=False,
                         signature=signature, name=None, version=None, version_text=None, escapes=True)
        name, version_text = self._read(path)
        version: Version | None = None
        if version_text is not None:
            try:
                version = Version.parse(version_text)
            except VersionSyntaxError:
                version = None  # the parser reports it when the file is loaded
        entry = Found(
            stem=stem, path=path, real=real, directory=directory,
            builtin=directory == self._builtin, signature=signature, name=name, version=version,
            version_text=version_text,
        )  # fmt: skip
        self._entries[path] = entry
        return entry

    def _read(self, path: Path) -> tuple[str | None, str | None]:
        try:
            with open(path, "rb") as handle:
                head = handle.read(_HEAD_BYTES).decode("utf-8", "replace")
        except OSError:
            return None, None
        sniffed = sniff(head.replace("\r\n", "\n"))
        if sniffed is not None:
            return sniffed
        declared = self._declared(path)
        return (None, None) if declared is None else declared

    def named(self, name: str, files: list[Found] | None = None) -> list[Found]:
        """The visible files declaring ``name``; a file of that stem that declares another name (or
        none: it is broken) comes last, found by its file name as before versions existed. ``files``:
        :meth:`files` already listed (a scan lists once)."""
        if files is None:
            files = self.files()
        declared = [f for f in files if f.name == name]
        by_stem = [f for f in files if f.stem == name and f.name != name]
        return declared + by_stem
