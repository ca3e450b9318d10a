"""Task definitions: the immutable model, the Markdown parser and linter, durations, loading.

The parser and loader pull in markdown-it, PyYAML and Jinja2, so they are loaded on first use: code
that only needs the model (the engine's hot path) does not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quorum._lazy import lazy_exports

__all__ = ("TaskBuilder", "TaskLoader", "TaskParser", "format_duration", "parse_time_string")

_EXPORTS = {
    "TaskBuilder": "quorum.definition.builder",
    "TaskLoader": "quorum.definition.loader",
    "TaskParser": "quorum.definition.parser",
    "format_duration": "quorum.definition.durations",
    "parse_time_string": "quorum.definition.durations",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)


if TYPE_CHECKING:
    from quorum.definition.builder import TaskBuilder
    from quorum.definition.durations import format_duration, parse_time_string
    from quorum.definition.loader import TaskLoader
    from quorum.definition.parser import TaskParser
