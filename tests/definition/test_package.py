from __future__ import annotations

import subprocess
import sys

import pytest

import quorum.definition
from quorum.definition.loader import TaskLoader
from quorum.definition.parser import TaskParser, parse_time_string

pytestmark = [pytest.mark.unit]


def test_lazy_exports() -> None:
    assert quorum.definition.TaskParser is TaskParser
    assert quorum.definition.TaskLoader is TaskLoader
    assert quorum.definition.parse_time_string is parse_time_string
    with pytest.raises(AttributeError):
        _ = quorum.definition.Nope


def test_model_import_stays_light() -> None:
    code = (
        "import sys, quorum.definition.model, quorum.graph\n"
        "heavy = [m for m in ('jinja2', 'yaml', 'markdown_it', 'pydantic') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
