"""Collecting the problems of one file, so that all of them are reported together."""

from __future__ import annotations

from quorum.errors import DefinitionError, Problem, Severity

__all__ = ("MAX_PROBLEMS", "Report")

MAX_PROBLEMS = 100
"""Problems kept per file: a hostile file must not produce an unbounded report."""


class _Shared:
    """What the reports of one parse share: the problems, the counts, the order files were met in."""

    __slots__ = ("dropped", "errors", "items", "sources")

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.dropped = 0
        self.errors = 0  # counted even when dropped: a dropped error still fails the file
        self.sources: dict[str | None, int] = {}


class Report:
    """The problems found in one source, in the order found (sorted by line when read).

    ``for_source(path)`` is a view that reports into the same collection with another source: the
    problems of an included file carry that file's name, and count against the one limit."""

    __slots__ = ("_shared", "source")

    def __init__(self, source: str | None, *, _shared: _Shared | None = None) -> None:
        self.source = source
        self._shared = _shared or _Shared()
        self._shared.sources.setdefault(source, len(self._shared.sources))

    def for_source(self, source: str | None) -> Report:
        return Report(source, _shared=self._shared)

    def add(
        self,
        message: str,
        line: int | None = None,
        hint: str | None = None,
        *,
        severity: Severity = "error",
        pointer: str | None = None,
    ) -> None:
        shared = self._shared
        if severity == "error":
            shared.errors += 1
        if len(shared.items) >= MAX_PROBLEMS:
            shared.dropped += 1
            if severity == "warning" or not self._drop_a_warning():
                return
        shared.items.append(
            Problem(
                message=message, source=self.source, line=line, hint=hint, severity=severity, pointer=pointer
            )
        )

    def _drop_a_warning(self) -> bool:
        """Make room for an error by dropping the latest warning (errors matter more)."""
        items = self._shared.items
        for index in range(len(items) - 1, -1, -1):
            if items[index].severity == "warning":
                del items[index]
                return True
        return False

    def error(
        self, message: str, line: int | None = None, hint: str | None = None, *, pointer: str | None = None
    ) -> None:
        self.add(message, line, hint, pointer=pointer)

    def warning(
        self, message: str, line: int | None = None, hint: str | None = None, *, pointer: str | None = None
    ) -> None:
        self.add(message, line, hint, severity="warning", pointer=pointer)

    @property
    def has_errors(self) -> bool:
        return self._shared.errors > 0

    @property
    def full(self) -> bool:
        """No more problems can be shown and the file has failed: further analysis is wasted work."""
        return self._shared.errors > 0 and len(self._shared.items) >= MAX_PROBLEMS

    @property
    def problems(self) -> list[Problem]:
        """In line order, file by file (the file itself first, then the files it includes)."""
        order = self._shared.sources
        items = sorted(self._shared.items, key=lambda p: (order.get(p.source, 0), p.line or 0))
        if self._shared.dropped:
            items.append(
                Problem(
                    message=f"{self._shared.dropped} more problems not shown",
                    source=self.source,
                    severity="error" if self.has_errors else "warning",
                )
            )
        return items

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise DefinitionError(self.problems, source=self.source)
