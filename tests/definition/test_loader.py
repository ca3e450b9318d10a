from __future__ import annotations

import os
from pathlib import Path

import pytest

from quorum.definition.loader import TaskLoader, builtin_tasks_dir
from quorum.definition.parser import TaskParser
from quorum.errors import DefinitionError, TaskNotFoundError
from tests.work import calls

pytestmark = [pytest.mark.unit]


def write_task(folder: Path, name: str, *, task_name: str | None = None, description: str = "d") -> Path:
    path = folder / f"{name}.md"
    path.write_text(
        f"# {name}\n\n```yaml\nname: {task_name or name}\ndescription: {description}\n```\n\n"
        "## Phase: A\n### Agents\n- x\n### Steps\n- go\n"
    )
    return path


@pytest.fixture
def tasks(tmp_path: Path) -> Path:
    folder = tmp_path / "tasks"
    folder.mkdir()
    write_task(folder, "alpha")
    write_task(folder, "beta")
    return folder


def test_load_by_name_and_by_path(tasks: Path) -> None:
    loader = TaskLoader([tasks], include_builtin=False)
    assert loader.load("alpha").name == "alpha"
    assert loader.load("alpha.md").name == "alpha"
    assert loader.load(tasks / "beta.md").name == "beta"
    assert loader.load(str(tasks / "beta.md")).name == "beta"
    assert loader.resolve("alpha") == (tasks / "alpha.md").resolve()


def test_relative_path_with_md_suffix(tasks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tasks)
    loader = TaskLoader([], include_builtin=False)
    assert loader.load("alpha.md").name == "alpha"
    assert loader.load("./beta.md").name == "beta"


def test_search_order_first_directory_wins(tmp_path: Path, tasks: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    write_task(other, "alpha", description="override")
    loader = TaskLoader([other, tasks], include_builtin=False)
    assert loader.load("alpha").description == "override"
    assert loader.load("beta").description == "d"


def test_cache_returns_same_object_and_reparses_on_change(tasks: Path) -> None:
    loader = TaskLoader([tasks], include_builtin=False)
    first = loader.load("alpha")
    assert loader.load("alpha") is first
    path = tasks / "alpha.md"
    write_task(tasks, "alpha", description="changed and longer")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = loader.load("alpha")
    assert second is not first
    assert second.description == "changed and longer"
    assert loader.load("alpha") is second


def test_cache_is_fast(tasks: Path) -> None:
    loader = TaskLoader([tasks], include_builtin=False)
    first = loader.load("alpha")
    # Counted, not timed (a busy machine cannot fail it): a hit costs a small part of a parse, even of
    # this one-phase file (measured a tenth).
    parse = calls(lambda: TaskParser().parse_task_file(tasks / "alpha.md"))
    assert calls(lambda: loader.load("alpha")) * 5 < parse
    assert loader.load("alpha") is first


@pytest.mark.errors
def test_not_found_lists_where_it_looked(tasks: Path) -> None:
    loader = TaskLoader([tasks], include_builtin=False)
    with pytest.raises(TaskNotFoundError) as info:
        loader.load("alpah")
    message = str(info.value)
    assert "no task named 'alpah'" in message
    assert "did you mean 'alpha'" in message
    assert str(tasks / "alpah.md") in message
    assert "available: alpha, beta" in message


@pytest.mark.errors
@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "..",
        "UPPER",
        "a b",
        "",
        "-x",
        "x" * 200,
        "..\\..\\x",
        "/etc/passwd.md",
    ],
)
def test_names_never_escape(tasks: Path, name: str) -> None:
    loader = TaskLoader([tasks], include_builtin=False)
    with pytest.raises(TaskNotFoundError):
        loader.load(name)


@pytest.mark.errors
def test_paths_refused_when_names_only(tasks: Path) -> None:
    loader = TaskLoader([tasks], include_builtin=False, allow_paths=False)
    with pytest.raises(TaskNotFoundError, match="not a task name"):
        loader.load(str(tasks / "alpha.md"))
    assert loader.load("alpha").name == "alpha"


@pytest.mark.errors
def test_paths_must_be_markdown_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    loader = TaskLoader([], include_builtin=False)
    with pytest.raises(TaskNotFoundError, match=r"end with \.md"):
        loader.load(str(secret))


@pytest.mark.errors
def test_symlink_out_of_directory_is_refused(tmp_path: Path, tasks: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = write_task(outside, "evil")
    (tasks / "evil.md").symlink_to(target)
    loader = TaskLoader([tasks], include_builtin=False)
    with pytest.raises(TaskNotFoundError, match="points outside its directory"):
        loader.load("evil")


def test_symlink_inside_directory_is_fine(tasks: Path) -> None:
    (tasks / "gamma.md").symlink_to(tasks / "alpha.md")
    assert TaskLoader([tasks], include_builtin=False).load("gamma").name == "alpha"


def test_symlinked_directory_is_fine(tmp_path: Path, tasks: Path) -> None:
    link = tmp_path / "linked"
    link.symlink_to(tasks, target_is_directory=True)
    assert TaskLoader([link], include_builtin=False).load("alpha").name == "alpha"


def test_list_tasks_and_scan(tmp_path: Path, tasks: Path) -> None:
    (tasks / "broken.md").write_text("# nothing here\n")
    (tasks / "README.md").write_text("# not a task name\n")
    loader = TaskLoader([tasks], include_builtin=False)
    assert [t.name for t in loader.list_tasks()] == ["alpha", "beta"]
    entries = {e.name: e for e in loader.scan()}
    assert set(entries) == {"alpha", "beta", "broken"}
    assert entries["broken"].error is not None
    assert entries["broken"].task is None
    with pytest.raises(DefinitionError):
        loader.list_tasks(strict=True)


def test_builtin_directory_is_searched_last(tmp_path: Path) -> None:
    builtin = builtin_tasks_dir()
    assert builtin is not None
    assert builtin.name == "tasks"
    loader = TaskLoader([tmp_path])
    assert loader.dirs == (tmp_path, builtin)
    assert TaskLoader([tmp_path], include_builtin=False).dirs == (tmp_path,)


def test_builtin_tasks_found_by_name_from_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builtin = builtin_tasks_dir()
    assert builtin is not None
    shipped = sorted(p.stem for p in builtin.glob("*.md"))
    assert {"daily-market-analysis", "investment-committee-meeting"} <= set(shipped)
    monkeypatch.chdir(tmp_path)
    loader = TaskLoader()
    for name in shipped:
        assert loader.load(name).name == name
    assert {t.name for t in loader.list_tasks(strict=True)} >= set(shipped)
