"""``TaskParser``: a Markdown task file -> a validated, immutable ``Task``, or every problem at once.

The stages (each in its own module): ``markdown`` outlines the document, ``yamlsafe`` loads the YAML
parts in bounded time and memory, ``schema`` checks the metadata and phase headers, ``steps`` reads the
three list sections, ``requirements`` the input schema, ``graph`` finds cycles, ``hashing`` hashes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from quorum.definition import durations
from quorum.definition.fields import json_pointer
from quorum.definition.hashing import hash_phases, hash_with_includes
from quorum.definition.includes import SourcedBlock, expand
from quorum.definition.lookalike import suspicious_characters
from quorum.definition.markdown import Item, Outline, PhaseBlock, outline
from quorum.definition.model import Phase, StepKind, Task, frozen_mapping
from quorum.definition.references import check_references
from quorum.definition.report import Report
from quorum.definition.requirements import read_requirements, validate_input
from quorum.definition.schema import PhaseHeader, TaskMeta, read_metadata, read_phase_header
from quorum.definition.steps import StepContext, parse_agents, parse_outputs, parse_step
from quorum.definition.suggest import did_you_mean, normalise_name
from quorum.definition.text import DEFAULT_MAX_BYTES, read_task_text
from quorum.definition.yamlsafe import YamlProblem, load_yaml
from quorum.errors import DefinitionError, Problem
from quorum.graph import PhaseGraph, find_cycles, format_cycle
from quorum.ids import PhaseName, TaskName
from quorum.templates import TemplateEngine, default_engine

__all__ = ("DEFAULT_MAX_BYTES", "TaskParser", "parse_time_string", "read_task_text")

MAX_PHASE_NAME = 100
MAX_PHASES = 1000
MAX_ITEMS = 1000
"""Steps, agents or outputs of one phase."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_BAD_PHASE_CHARS = re.compile(r'[{}"`\n]')
# Counted before the Markdown parse, which would otherwise run in full on a file of 10,000 phases. An
# upper bound (a heading inside a code fence counts too); the outline then counts exactly.
_PHASE_HEADING = re.compile(r"^ {0,3}##[ \t]+phase[ \t]*:", re.IGNORECASE | re.MULTILINE)

parse_time_string = durations.parse_time_string


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


class TaskParser:
    """Parses and lints task files. ``step_types``: custom step types that will be registered (no
    warning for them); ``agent_ids``: when given, agent ids not in it are errors."""

    def __init__(
        self,
        *,
        step_types: Iterable[str] = (),
        agent_ids: Iterable[str] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        engine: TemplateEngine | None = None,
    ) -> None:
        self.step_types = frozenset(step_types)
        self.agent_ids = None if agent_ids is None else frozenset(agent_ids)
        self.max_bytes = max_bytes
        self.engine = engine or default_engine()

    parse_time_string = staticmethod(durations.parse_time_string)

    # -- public API --------------------------------------------------------------------------------
    def parse_task_file(
        self, path: str | os.PathLike[str], *, include_roots: Sequence[str | os.PathLike[str]] | None = None
    ) -> Task:
        """``include_roots``: the directories ``## Include:`` sections may read from (default: the
        file's own directory)."""
        source = os.fspath(path)
        task, report = self._analyse(read_task_text(source, max_bytes=self.max_bytes), source, from_file=True,
                                     include_roots=include_roots)
        report.raise_if_errors()
        assert task is not None
        return task

    def parse_task_content(
        self, text: str, *, source: str | None = None,
        include_roots: Sequence[str | os.PathLike[str]] | None = None,
    ) -> Task:
        """Text that is no file includes nothing unless ``include_roots`` are given (a relative include
        is then read from the first of them): posted text must not read the server's files."""
        task, report = self._analyse(text, source, include_roots=include_roots)
        report.raise_if_errors()
        assert task is not None
        return task

    def lint_file(
        self, path: str | os.PathLike[str], *, include_roots: Sequence[str | os.PathLike[str]] | None = None
    ) -> list[Problem]:
        """Errors and warnings of a file (and of the files it includes), in line order. Never raises for
        a bad file."""
        source = os.fspath(path)
        try:
            text = read_task_text(source, max_bytes=self.max_bytes)
        except DefinitionError as exc:
            return list(exc.problems)
        return self._analyse(text, source, from_file=True, include_roots=include_roots)[1].problems

    def lint_content(
        self, text: str, *, source: str | None = None,
        include_roots: Sequence[str | os.PathLike[str]] | None = None,
    ) -> list[Problem]:
        return self._analyse(text, source, include_roots=include_roots)[1].problems

    def validate_task_requirements(self, task: Task, input: Mapping[str, Any]) -> dict[str, Any]:
        return validate_input(task.requirements, input, task=task.name)

    # -- the work ----------------------------------------------------------------------------------
    def _analyse(
        self, text: str, source: str | None, *, from_file: bool = False,
        include_roots: Sequence[str | os.PathLike[str]] | None = None,
    ) -> tuple[Task | None, Report]:
        report = Report(source)
        if len(text) > self.max_bytes or len(text.encode("utf-8", "surrogatepass")) > self.max_bytes:
            report.error(f"the text is larger than the limit of {self.max_bytes} bytes")
            return None, report
        if text.startswith("\ufeff"):
            text = text[1:]
        bad = _CONTROL.search(text)
        if bad is not None:
            what = "NUL byte" if bad.group() == "\x00" else f"control character {bad.group()!r}"
            report.error(
                f"the file contains a {what}", _line_at(text, bad.start()), "task files are plain text"
            )
            return None, report
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            report.error("the text contains an unpaired surrogate", _line_at(text, exc.start))
            return None, report
        if self._too_many_phases(report, text):
            return None, report
        doc = outline(text)
        for line, message, hint, is_error in doc.problems:
            report.add(message, line, hint, severity="error" if is_error else "warning")
        meta = self._metadata(report, doc)
        requirements = read_requirements(
            report, meta.requirements, meta.requirements_line_of or (lambda *p: None)
        )
        expansion = expand(report, doc, source if from_file else None, include_roots,
                           max_bytes=self.max_bytes)
        phases, reports = self._phases(report, doc, expansion.blocks, meta)
        check_references(report, phases, requirements, meta.output.fields, meta.output_line,
                         report_of=lambda phase: reports.get(phase.name, report))
        if report.has_errors or meta.name is None:
            return None, report
        order = PhaseGraph.from_edges([p.name for p in phases], {p.name: p.depends_on for p in phases}).order
        task = Task(
            name=TaskName(meta.name), title=doc.title, description=meta.description, version=meta.version,
            max_execution_time_s=meta.max_execution_time_s, retry=meta.retry, requirements=requirements,
            output=meta.output, max_concurrent_phases=meta.max_concurrent_phases,
            max_concurrent_agents=meta.max_concurrent_agents, budget=frozen_mapping(meta.budget),
            phases=hash_phases(phases, order, meta.retry), source=source, document=text,
            content_hash=hash_with_includes(text, expansion.files), metadata=frozen_mapping(meta.metadata),
        )  # fmt: skip
        if from_file and source is not None:
            stem = Path(source).stem
            if stem != task.name and re.fullmatch(r"[a-z0-9][a-z0-9._-]*", stem):
                report.warning(
                    f"the file is named {stem!r} but the task is named {task.name!r}",
                    doc.metadata_line,
                    f"name the file {task.name}.md (or {task.name}@{task.version}.md, one of several "
                    "versions side by side) so that people find it where quorum does",
                )
        return task, report

    @staticmethod
    def _too_many_phases(report: Report, text: str) -> bool:
        headings = _PHASE_HEADING.finditer(text)
        for count, match in enumerate(headings, start=1):
            if count > MAX_PHASES:
                total = count + sum(1 for _ in headings)
                report.error(
                    f"the task has {total} phases; at most {MAX_PHASES} are allowed",
                    _line_at(text, match.start()),
                    "split it into several tasks",
                )
                return True
        return False

    def _metadata(self, report: Report, doc: Outline) -> TaskMeta:
        if doc.metadata is None:
            report.error(
                "no ```yaml metadata block before the first phase",
                doc.title_line or 1,
                "add a fenced ```yaml block with at least 'name: my-task' under the title",
            )
            return TaskMeta()
        try:
            data = load_yaml(doc.metadata)
        except YamlProblem as exc:
            line = doc.metadata_line + (exc.line or 1) - 1
            report.error(f"metadata block: {exc}", line, _yaml_hint(doc.metadata))
            return TaskMeta()
        return read_metadata(report, data, doc.metadata_line, self.engine)

    def _phases(
        self, report: Report, doc: Outline, blocks: list[SourcedBlock], meta: TaskMeta
    ) -> tuple[list[Phase], dict[PhaseName, Report]]:
        """The phases, and the report of the file each one is written in (an include's, or the task's)."""
        if not blocks:
            if not doc.includes:
                report.error(
                    "the task has no phases",
                    doc.title_line or 1,
                    "add at least one '## Phase: <name>' section with a '### Steps' list",
                )
            elif not report.has_errors:
                report.error("the task has no phases: its includes add none", doc.includes[0].line,
                             "add a '## Phase: <name>' section, or include a file that has some")
            return [], {}
        seen: dict[str, SourcedBlock] = {}
        names: list[str] = []
        headers: list[PhaseHeader] = []
        built: list[Phase] = []
        reports: dict[PhaseName, Report] = {}
        if len(blocks) > MAX_PHASES:
            extra = blocks[MAX_PHASES]
            extra.report.error(
                f"the task has {len(blocks)} phases; at most {MAX_PHASES} are allowed",
                extra.block.line,
                "split it into several tasks",
            )
        for sourced in blocks[:MAX_PHASES]:
            block, where = sourced.block, sourced.report
            if where.full:
                break
            name = block.name
            if not self._name_ok(where, block):
                continue
            key = normalise_name(name)
            if key in seen:
                first = seen[key]
                same = (
                    ""
                    if first.block.name == name
                    else f" (the same as {first.block.name!r} once case and Unicode are normalised)"
                )
                at = f"line {first.block.line}" if first.source == sourced.source else (
                    f"{first.source or first.report.source or '<input>'}:{first.block.line}")
                report_line = f"duplicate phase name {name!r}{same}; the first is at {at}"
                where.error(report_line, block.line, "give each phase its own name")
                continue
            seen[key] = sourced
            header = self._header(where, block, meta)
            phase = self._phase(where, block, header)
            if sourced.source is not None:
                phase = _with_source(phase, sourced.source)
            names.append(name)
            headers.append(header)
            built.append(phase)
            reports[phase.name] = where
        self._check_dependencies(reports, built, headers, names)
        if meta.output.phase is not None and meta.output.phase not in names:
            report.error(
                f"output names unknown phase {meta.output.phase!r}{did_you_mean(meta.output.phase, names)}",
                meta.output_line,
                "name a phase, e.g. output: Verdict",
                pointer=json_pointer("output"),
            )
        return built, reports

    @staticmethod
    def _name_ok(report: Report, block: PhaseBlock) -> bool:
        name = block.name
        if not name:
            report.error("a phase has no name", block.line, "write '## Phase: <name>'")
            return False
        if len(name) > MAX_PHASE_NAME or _BAD_PHASE_CHARS.search(name):
            report.error(
                f"phase name {name[:40]!r} is not allowed",
                block.line,
                f'at most {MAX_PHASE_NAME} characters, without {{ }} " or `',
            )
            return False
        odd = suspicious_characters(name)
        if odd is not None:
            report.error(
                f"phase name {name!r} {odd}",
                block.line,
                "retype the name with plain letters: it would look like another name",
            )
            return False
        return True

    def _header(self, report: Report, block: PhaseBlock, meta: TaskMeta) -> PhaseHeader:
        try:
            data = load_yaml(block.header)
        except YamlProblem as exc:
            report.error(
                f"the header of phase {block.name!r}: {exc}",
                block.header_line + (exc.line or 1) - 1,
                _yaml_hint(block.header),
            )
            return PhaseHeader()
        return read_phase_header(
            report, data, block.header_line, block.name, block.line, self.engine, meta.retry
        )

    def _phase(self, report: Report, block: PhaseBlock, header: PhaseHeader) -> Phase:
        ctx = StepContext(
            report=report,
            engine=self.engine,
            phase=block.name,
            step_types=self.step_types,
            agent_ids=self.agent_ids,
        )
        sections = {kind: self._items(report, block, kind) for kind in ("steps", "agents", "outputs")}
        steps = []
        for index, item in enumerate(sections["steps"]):
            if report.full:
                break
            steps.append(parse_step(ctx, item, index))
        agents, dynamic = parse_agents(ctx, sections["agents"])
        outputs = parse_outputs(ctx, sections["outputs"])
        kept = tuple(s for s in steps if s is not None)
        if not kept and not agents and not dynamic and "steps" not in block.sections:
            report.warning(
                f"phase {block.name!r} has no steps and no agents",
                block.line,
                "add a '### Steps' list (and '### Agents' for prompts)",
            )
        elif any(s.kind is StepKind.PROMPT for s in kept) and not agents and not dynamic:
            report.warning(
                f"phase {block.name!r} has prompt steps but no agents to send them to",
                block.line,
                "add a '### Agents' list, or use 'agent: <id> - <query>' steps",
            )
        if header.min_agents is not None and not dynamic and header.min_agents > len(agents):
            report.warning(
                f"phase {block.name!r} needs {header.min_agents} agents (minAgents) but lists {len(agents)}",
                block.line,
            )
        description = "\n\n".join(part for part in (header.description, *block.prose) if part)
        return Phase(
            name=PhaseName(block.name), depends_on=tuple(PhaseName(d) for d, _ in header.depends_on),
            parallel=header.parallel, timeout_s=header.timeout_s, retry=header.retry,
            checkpoint=header.checkpoint,
            when=header.when, optional=header.optional, min_agents=header.min_agents, rounds=header.rounds,
            steps=kept, agents=agents, agent_expressions=dynamic, outputs=outputs, description=description,
            line=block.line,
        )  # fmt: skip

    @staticmethod
    def _items(report: Report, block: PhaseBlock, kind: str) -> list[Item]:
        items = block.sections.get(kind, [])
        if len(items) > MAX_ITEMS:
            report.error(
                f"phase {block.name!r} has {len(items)} {kind}; at most {MAX_ITEMS} are allowed",
                items[MAX_ITEMS].line,
            )
            return items[:MAX_ITEMS]
        return items

    def _check_dependencies(
        self, reports: Mapping[PhaseName, Report], phases: list[Phase], headers: list[PhaseHeader],
        names: list[str],
    ) -> None:
        by_normal = {normalise_name(n): n for n in names}
        known = set(names)
        valid: dict[str, list[str]] = {}
        for index, (phase, header) in enumerate(zip(phases, headers, strict=True)):
            report = reports[phase.name]
            kept: list[str] = []
            for dep, line in header.depends_on:
                if dep not in known:
                    close = by_normal.get(normalise_name(dep))
                    hint = f" (did you mean {close!r}?)" if close else did_you_mean(dep, names)
                    report.error(
                        f"phase {phase.name!r} depends on unknown phase {dep!r}{hint}",
                        line or phase.line,
                        "phases: " + ", ".join(names),
                    )
                elif dep in kept:
                    report.warning(f"phase {phase.name!r} lists {dep!r} twice in dependsOn", line)
                else:
                    kept.append(dep)
            valid[phase.name] = kept
            if kept != list(phase.depends_on):
                phases[index] = _with_deps(phase, kept)
        line_of = {p.name: p.line for p in phases}
        for cycle in find_cycles(names, valid):
            reports[PhaseName(cycle[0])].error(
                f"circular dependency: {format_cycle(cycle)}",
                line_of[PhaseName(cycle[0])],
                "remove one of these dependsOn entries",
            )


def _with_deps(phase: Phase, deps: list[str]) -> Phase:
    return replace(phase, depends_on=tuple(PhaseName(d) for d in deps))


def _with_source(phase: Phase, source: str) -> Phase:
    return replace(phase, source=source)


def _yaml_hint(text: str) -> str | None:
    if "{{" in text:
        return 'quote values that start with {{ in YAML, e.g. when: "{{ input.amount > 0 }}"'
    if "\t" in text:
        return "YAML does not allow tabs for indentation; use spaces"
    return None
