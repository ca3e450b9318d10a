"""Collecting the problems of one file, so that all of them are reported together."""

from __future__ import annotations

from quorum.errors import DefinitionError, Problem, Severity

__all__ = ("MAX_PROBLEMS", "Report")

MAX_PROBLEMS = 100
"""Problems kept per file: a hostile file must not produce an unbounded report."""


class Report:
    """The problems found in one source, in the order found (sorted by line when read)."""

    __slots__ = ("_dropped", "_errors", "_items", "source")

    def __init__(self, source: str | None) -> None:
        self.source = source
        self._items: list[Problem] = []
        self._dropped = 0
        self._errors = 0  # counted even when dropped: a dropped error still fails the file

    def add(
        self,
        message: str,
        line: int | None = None,
        hint: str | None = None,
        *,
        severity: Severity = "error",
        pointer: str | None = None,
    ) -> None:
        if severity == "error":
            self._errors += 1
        if len(self._items) >= MAX_PROBLEMS:
            self._dropped += 1
            if severity == "warning" or not self._drop_a_warning():
                return
        self._items.append(
            Problem(
                message=message, source=self.source, line=line, hint=hint, severity=severity, pointer=pointer
            )
        )

    def _drop_a_warning(self) -> bool:
        """Make room for an error by dropping the latest warning (errors matter more)."""
        for index in range(len(self._items) - 1, -1, -1):
            if self._items[index].severity == "warning":
                del self._items[index]
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
        return self._errors > 0

    @property
    def full(self) -> bool:
        """No more problems can be shown and the file has failed: further analysis is wasted work."""
        return self._errors > 0 and len(self._items) >= MAX_PROBLEMS

    @property
    def problems(self) -> list[Problem]:
        items = sorted(self._items, key=lambda p: p.line or 0)
        if self._dropped:
            items.append(
                Problem(
                    message=f"{self._dropped} more problems not shown",
                    source=self.source,
                    severity="error" if self.has_errors else "warning",
                )
            )
        return items

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise DefinitionError(self.problems, source=self.source)
