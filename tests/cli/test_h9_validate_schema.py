"""``quorum validate --schema`` prints the metadata block's JSON Schema; ``--json`` problems carry their
JSON Pointer into the block and name that schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quorum.definition.metadata_schema import SCHEMA_ID, schema_text

from .helpers import AGENTS, DEMO_TASK, Cli

pytestmark = pytest.mark.integration

POINTED_TASK = """\
# Pointed

```yaml
name: pointed
retry: {maxAttempts: 0}
concurrency:
  maxConcurrentPhases: 0
requirements:
  ticker: {type: text}
```

## Phase: A
retry: {maxAttempts: 0}

### Agents
- analyst-b

### Steps
- Look at {{ input.ticker }}
"""


def test_validate_schema_prints_the_shipped_schema_and_needs_no_target(cli: Cli) -> None:
    r = cli("validate", "--schema")
    assert r.code == 0, r
    assert r.out == schema_text()
    schema = json.loads(r.out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    assert "maxExecutionTime" in schema["properties"]


def test_validate_with_no_target_and_no_schema_option_is_a_usage_error_that_names_both(cli: Cli) -> None:
    r = cli("validate")
    assert r.code == 2, r
    assert "give task or agent files" in r.err
    assert "--schema" in r.err
    assert "Traceback" not in r.err


def test_validate_json_gives_each_metadata_problem_its_pointer_and_names_the_schema(
    cli: Cli, tmp_path: Path
) -> None:
    task = tmp_path / "pointed.md"
    task.write_text(POINTED_TASK)
    r = cli("validate", "--json", str(task), "--agents-dir", str(AGENTS))
    assert r.code == 1, r
    [checked] = json.loads(r.out)
    assert checked["metadataSchema"] == SCHEMA_ID
    by_line = {(p["line"], p["pointer"]) for p in checked["problems"] if p["severity"] == "error"}
    assert by_line == {
        (5, "/retry/maxAttempts"),
        (7, "/concurrency/maxConcurrentPhases"),
        (9, "/requirements/ticker/type"),
        (13, None),  # a phase header is not in the metadata block: file:line only
    }


def test_validate_json_of_a_valid_task_and_of_an_agent_file(cli: Cli) -> None:
    r = cli("validate", "--json", str(DEMO_TASK), str(AGENTS), "--agents-dir", str(AGENTS))
    assert r.code == 0, r
    results = json.loads(r.out)
    tasks = [c for c in results if c["kind"] == "task"]
    agents = [c for c in results if c["kind"] == "agent"]
    assert tasks
    assert agents
    assert all(c["metadataSchema"] == SCHEMA_ID for c in tasks)
    assert all("metadataSchema" not in c for c in agents)  # agent files are not task metadata
    assert all(p["pointer"] is None for c in agents for p in c["problems"])
