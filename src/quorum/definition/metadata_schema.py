"""The published JSON Schema (draft 2020-12) of a task file's metadata block, made from ``TaskMetadata``.

The package ships it as ``metadata.schema.json`` next to this module (``quorum validate --schema``
prints it) and docs/metadata.schema.json is a copy for editors. Regenerate both after changing the
model::

    python -m quorum.definition.metadata_schema --write docs/metadata.schema.json

A test checks that the shipped files equal what this module generates.
"""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

__all__ = (
    "SCHEMA_DIALECT",
    "SCHEMA_FILE",
    "SCHEMA_ID",
    "generate_schema",
    "main",
    "schema_text",
    "shipped_schema_text",
)

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:quorum:schema:task-metadata:1"
"""The schema's ``$id``: a name, not an address (the schema is shipped, not served); bump the last
part when a change refuses blocks the previous schema accepted."""
SCHEMA_FILE = "metadata.schema.json"
_TITLE = "quorum task metadata"


def generate_schema() -> dict[str, Any]:
    from quorum.definition.metadata_model import TaskMetadata

    body = TaskMetadata.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **_tidy(body)}


def _tidy(node: Any) -> Any:
    """Without pydantic's noise: ``"default": null`` (a key left out is not null: null is refused)
    and the titles it makes from field names (``Maxattempts``); the schema's own title stays."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "default" and value is None:
            continue
        if key == "title" and isinstance(value, str) and value != _TITLE:
            continue
        out[key] = _tidy(value)
    if "patternProperties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False  # a key that matches no pattern is refused, as the model does
    return out


def schema_text() -> str:
    """The schema as the shipped file holds it: sorted keys would scatter related ones, so model order."""
    return json.dumps(generate_schema(), indent=2, ensure_ascii=False) + "\n"


def shipped_schema_text() -> str:
    return files("quorum.definition").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Write the schema into the package, and to each path given after ``--write``."""
    args = sys.argv[1:] if argv is None else argv
    targets = [Path(__file__).with_name(SCHEMA_FILE)]
    if args[:1] == ["--write"]:
        targets.extend(Path(arg) for arg in args[1:])
    elif args:
        sys.stderr.write("usage: python -m quorum.definition.metadata_schema [--write EXTRA_PATH ...]\n")
        return 2
    text = schema_text()
    for target in targets:
        target.write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
