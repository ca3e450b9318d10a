"""Reading a task file's text: size checked before reading, UTF-8 only (the parser and includes)."""

from __future__ import annotations

import os
import stat

from quorum.errors import DefinitionError, Problem

__all__ = ("DEFAULT_MAX_BYTES", "read_task_text")

DEFAULT_MAX_BYTES = 1_000_000


def read_task_text(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The text of a task file: size checked before reading, UTF-8 only, no NUL or control bytes."""
    source = os.fspath(path)
    try:
        info = os.stat(source)
    except OSError as exc:
        raise DefinitionError(f"cannot read the file: {exc.strerror or exc}", source=source) from None
    if not stat.S_ISREG(info.st_mode):
        raise DefinitionError("not a regular file (task files are Markdown files)", source=source)
    if info.st_size > max_bytes:
        raise DefinitionError(f"the file is {info.st_size} bytes; the limit is {max_bytes}", source=source)
    try:
        with open(source, "rb") as handle:
            data = handle.read(max_bytes + 1)  # the file may have grown since stat()
    except OSError as exc:
        raise DefinitionError(f"cannot read the file: {exc.strerror or exc}", source=source) from None
    if len(data) > max_bytes:
        raise DefinitionError(f"the file is larger than the limit of {max_bytes} bytes", source=source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DefinitionError(
            [
                Problem(
                    message=f"not valid UTF-8 (byte {exc.start})",
                    source=source,
                    line=line,
                    hint="save the file as UTF-8",
                )
            ],
            source=source,
        ) from None
    return text
