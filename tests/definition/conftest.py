"""Helpers for the definition tests: build small task documents and collect their problems."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from quorum.definition.parser import TaskParser
from quorum.errors import DefinitionError, Problem

SIMPLE_PHASES = """\
## Phase: Gather
### Agents
- analyst

### Steps
- Look at {{ input.ticker }}

## Phase: Decide
dependsOn: [Gather]

### Steps
- agent: chair - Decide on {{ input.ticker }}

### Outputs
- decision (string): buy or sell
"""


def make_text(phases: str = SIMPLE_PHASES, meta: str = "name: demo\nrequirements:\n  ticker: string") -> str:
    return f"# Demo task\n\nSome prose.\n\n```yaml\n{meta}\n```\n\n{phases}"


@pytest.fixture
def text() -> Callable[..., str]:
    return make_text


@pytest.fixture
def parser() -> TaskParser:
    return TaskParser()


@pytest.fixture
def errors(parser: TaskParser) -> Callable[[str], list[Problem]]:
    """The error problems of a document (asserting that parsing raised DefinitionError)."""

    def collect(document: str) -> list[Problem]:
        with pytest.raises(DefinitionError) as info:
            parser.parse_task_content(document, source="task.md")
        found = list(info.value.errors)
        assert found, "DefinitionError without error problems"
        return found

    return collect


def messages(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)
