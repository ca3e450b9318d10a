"""``TaskBuilder``: assemble a task from parts in Python — phases from several files, generated phases.

::

    task = (
        TaskBuilder("screen", version="1.0.0", requirements={"ticker": "string"})
        .phases_from("tasks/shared/common.md", "Intake")      # some phases of a file (none named: all)
        .phase("Screen", depends_on=["Intake"], agents=["analyst"],
               steps=["Screen {{ input.ticker }}"], outputs=["verdict (string): pass or fail"])
        .build()
    )

The builder writes the task file it describes (``document()``) and parses it with the same parser as
any file, so a built task is validated exactly like a parsed one: the same checks, the same messages.
Problems in a generated part point at lines of ``document()`` (source ``<built task NAME>``); problems in
a phase taken from a file point into that file, as for an ``## Include:`` (which is what it becomes).
Files are read from inside ``include_roots`` (default: the directories of the files named).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from quorum.definition.model import Task
from quorum.definition.parser import TaskParser

__all__ = ("TaskBuilder",)


def _yaml(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, width=1000).rstrip("\n")


def _bullet(text: str) -> str:
    """A list item; further lines indented under it, so no text can open a section of its own."""
    first, *rest = str(text).split("\n")
    return "\n".join([f"- {first}", *(f"  {line}" if line.strip() else "" for line in rest)])


def _one_line(what: str, text: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} {text!r} spans several lines; it must be one line")
    return text


class TaskBuilder:
    """Collects metadata and phases; ``build()`` returns the validated :class:`Task` (or raises
    :class:`~quorum.errors.DefinitionError` with every problem). ``metadata``: the other keys of a
    task's metadata block, spelt as in a file (``requirements``, ``retry``, ``output``, ``budget``,
    ``concurrency``, ``maxExecutionTime``, ...)."""

    def __init__(
        self,
        name: str,
        *,
        version: str = "0.0.0",
        title: str = "",
        description: str = "",
        include_roots: Iterable[str | os.PathLike[str]] | None = None,
        **metadata: Any,
    ) -> None:
        self.name = name
        self.title = _one_line("title", title or name)
        self._meta: dict[str, Any] = {"name": name, "version": version}
        if description:
            self._meta["description"] = description
        self._meta.update(metadata)
        self._roots = None if include_roots is None else [Path(r) for r in include_roots]
        self._parts: list[str] = []
        self._files: list[Path] = []

    def phases_from(self, path: str | os.PathLike[str], *names: str) -> TaskBuilder:
        """The phases of a task file (or a file of phases), or only those named, here in the order."""
        real = Path(os.path.realpath(path))
        self._files.append(real)
        listed = "".join(f"\n{_bullet(_one_line('phase name', n))}" for n in names)
        self._parts.append(f"## Include: {real}{listed}")
        return self

    def phase(
        self,
        name: str,
        *,
        steps: Sequence[str] = (),
        agents: Sequence[str] = (),
        outputs: Sequence[str] = (),
        depends_on: Sequence[str] = (),
        description: str = "",
        **header: Any,
    ) -> TaskBuilder:
        """A generated phase. ``steps``, ``agents`` and ``outputs`` are list items as a file writes them
        (``"agent: chair - Decide"``, ``"aggregate: consensus"``, ``"{{ phases.A.outputs.ids }}"``,
        ``"decision (string): what"``); ``header``: phase header keys as in a file (``parallel``,
        ``timeout``, ``when``, ``retry``, ...)."""
        fields: dict[str, Any] = {}
        if depends_on:
            fields["dependsOn"] = list(depends_on)
        fields.update(header)
        lines = [f"## Phase: {_one_line('phase name', name)}"]
        if fields:
            lines += ["```yaml", _yaml(fields), "```"]
        if description:
            lines += ["", description.strip()]
        for title, items in (("Agents", agents), ("Steps", steps), ("Outputs", outputs)):
            if items:
                lines += ["", f"### {title}", *(_bullet(item) for item in items)]
        self._parts.append("\n".join(lines))
        return self

    def phase_markdown(self, text: str) -> TaskBuilder:
        """Phase sections written as Markdown (``## Phase: ...``), taken as they are."""
        self._parts.append(text.strip("\n"))
        return self

    def document(self) -> str:
        """The task file this builder describes."""
        head = f"# {self.title}\n\n```yaml\n{_yaml(self._meta)}\n```"
        return "\n\n".join([head, *self._parts]) + "\n"

    def build(self, parser: TaskParser | None = None) -> Task:
        roots = self._roots if self._roots is not None else sorted({f.parent for f in self._files})
        task = (parser or TaskParser()).parse_task_content(
            self.document(), source=f"<built task {self.name}>", include_roots=roots
        )
        return replace(task, source=None)  # no file holds it: nothing to reload or compare with later
