"""Several versions of one task side by side: every selector form, across the search path, the errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from quorum.definition.loader import TaskLoader
from quorum.errors import DefinitionError, TaskNotFoundError
from tests.versioning.helpers import write_version
from tests.work import calls

pytestmark = [pytest.mark.unit]


@pytest.fixture
def three(tmp_path: Path) -> Path:
    folder = tmp_path / "tasks"
    folder.mkdir()
    write_version(folder, "1.1.0")
    write_version(folder, "1.2.0")
    write_version(folder, "1.2.4", file="committee")  # any file name: the declared name counts
    write_version(folder, "2.0.0-rc.1")
    write_version(folder, "1.0.0", name="other")
    return folder


@pytest.mark.parametrize(
    ("selector", "version"),
    [
        ("committee", "1.2.4"),
        ("committee@1.1.0", "1.1.0"),
        ("committee@1.2.0", "1.2.0"),
        ("committee@1.2", "1.2.4"),
        ("committee@1.1", "1.1.0"),
        ("committee@^1", "1.2.4"),
        ("committee@^1.1", "1.2.4"),
        ("committee@1", "1.2.4"),
        ("committee@2", "2.0.0-rc.1"),
        ("committee@2.0.0-rc.1", "2.0.0-rc.1"),
        ("committee.md", "1.2.4"),
    ],
)
def test_every_selector_form(three: Path, selector: str, version: str) -> None:
    loader = TaskLoader([three], include_builtin=False)
    task = loader.load(selector)
    assert (task.name, task.version) == ("committee", version)
    assert loader.resolve(selector) == Path(task.source or "")


def test_versions_across_the_search_path(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    write_version(first, "1.0.0")
    write_version(second, "1.1.0")
    loader = TaskLoader([first, second], include_builtin=False)
    assert loader.load("committee").version == "1.1.0"
    assert loader.load("committee@1.0").version == "1.0.0"
    assert [(v.version, v.default) for v in loader.versions("committee")] == [("1.1.0", True),
                                                                              ("1.0.0", False)]


def test_an_earlier_directory_still_hides_a_later_file_of_the_same_file_name(tmp_path: Path) -> None:
    mine, shipped = tmp_path / "mine", tmp_path / "shipped"
    mine.mkdir()
    shipped.mkdir()
    write_version(mine, "1.0.0", file="committee")
    write_version(shipped, "1.0.0", file="committee")
    assert TaskLoader([mine, shipped], include_builtin=False).load("committee").source == str(
        (mine / "committee.md").resolve())


def test_no_match_lists_the_versions(three: Path) -> None:
    loader = TaskLoader([three], include_builtin=False)
    with pytest.raises(TaskNotFoundError) as info:
        loader.load("committee@^3")
    assert str(info.value).endswith(
        "task 'committee' has no version matching '^3'; versions: 2.0.0-rc.1, 1.2.4 (default), 1.2.0, 1.1.0")
    with pytest.raises(TaskNotFoundError, match=r"no version matching '1\.2\.1'"):
        loader.load("committee@1.2.1")


def test_bad_selector_is_a_clear_error(three: Path) -> None:
    loader = TaskLoader([three], include_builtin=False)
    with pytest.raises(TaskNotFoundError, match=r"'latest' is not a version selector; write committee@1\.2"):
        loader.load("committee@latest")


def test_same_name_and_version_twice_names_both_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    one = write_version(first, "1.0.0")
    two = write_version(second, "1.0.0", file="committee-copy")
    write_version(first, "1.1.0")
    loader = TaskLoader([first, second], include_builtin=False)
    for selector in ("committee", "committee@1.0.0"):
        with pytest.raises(DefinitionError) as info:
            loader.load(selector)
        problems = info.value.problems
        assert {p.source for p in problems} == {str(one), str(two)}
        assert f"version 1.0.0 is declared by two files: {one} and {two}" in problems[0].message
    entries = [e for e in loader.scan() if e.name == "committee"]
    assert sum(e.error is not None for e in entries) == 3  # the name is ambiguous: each file says so


def test_symlink_to_another_version_file_is_not_a_duplicate(three: Path) -> None:
    (three / "committee-latest.md").symlink_to(three / "committee.md")
    loader = TaskLoader([three], include_builtin=False)
    assert loader.load("committee").version == "1.2.4"
    assert loader.load("committee-latest").version == "1.2.4"


def test_version_symlink_outside_its_directory_is_refused(tmp_path: Path, three: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (three / "committee@9.0.0.md").symlink_to(write_version(outside, "9.0.0"))
    loader = TaskLoader([three], include_builtin=False)
    assert loader.load("committee").version == "1.2.4"  # never read, so never chosen
    with pytest.raises(TaskNotFoundError, match="no version matching '9'"):
        loader.load("committee@9")


def test_a_new_version_file_is_seen_at_once(three: Path) -> None:
    loader = TaskLoader([three], include_builtin=False)
    assert loader.load("committee").version == "1.2.4"
    write_version(three, "1.3.0")
    assert loader.load("committee").version == "1.3.0"
    (three / "committee@1.3.0.md").unlink()
    assert loader.load("committee").version == "1.2.4"


def test_an_edited_version_is_seen(three: Path) -> None:
    loader = TaskLoader([three], include_builtin=False)
    path = three / "committee@1.1.0.md"
    path.write_text(path.read_text().replace("version: 1.1.0", "version: 1.5.0"))
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    assert loader.load("committee").version == "1.5.0"


def test_metadata_written_unusually_is_still_found(tmp_path: Path) -> None:
    (tmp_path / "odd.md").write_text(
        "# Odd\n\n```yaml\n{name: committee, version: 3.0.0}\n```\n\n## Phase: A\n### Agents\n- x\n"
        "### Steps\n- go\n"
    )
    write_version(tmp_path, "1.0.0")
    assert TaskLoader([tmp_path], include_builtin=False).load("committee").version == "3.0.0"


def test_cached_versioned_load_is_cheap(three: Path) -> None:
    loader = TaskLoader([three], include_builtin=False)
    first = loader.load("committee@^1")
    assert loader.load("committee@^1") is first
    parse = calls(lambda: loader.parser.parse_task_file(three / "committee.md"))
    assert calls(lambda: loader.load("committee@^1")) * 5 < parse


async def test_the_http_api_loads_a_selector(three: Path) -> None:
    """The server's ``load_task`` (names only, no paths) passes selectors through to the loader."""
    from quorum.config import load_config
    from quorum.history.memory import MemoryHistoryStore
    from quorum.server.problems import ApiError
    from quorum.server.runtime import ConfigFlags, Runtime
    from quorum.server.settings import ServeSettings

    runtime = Runtime(cfg=load_config(tasks_dirs=[three]), flags=ConfigFlags(),
                      settings=ServeSettings(token="t" * 32), store=MemoryHistoryStore())
    try:
        for selector, version in (("committee@1.1.0", "1.1.0"), ("committee@^1", "1.2.4"),
                                  ("committee", "1.2.4")):
            assert runtime.load_task(selector).version == version
        with pytest.raises(ApiError):
            runtime.load_task("../committee@1.1.0")
        with pytest.raises(TaskNotFoundError, match="no version matching '7'"):
            runtime.load_task("committee@7")
    finally:
        await runtime.close()
