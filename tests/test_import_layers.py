"""The package's imports run one way: no module of quorum imports, even indirectly, one that imports
it back. (The engine's layers are an import-linter contract in pyproject.toml, run by CI as
``lint-imports``.)"""

from __future__ import annotations

import graphlib

import grimp
import pytest

pytestmark = pytest.mark.unit


def _cycle(graph: grimp.ImportGraph) -> tuple[str, ...] | None:
    """One import cycle among the package's modules (TYPE_CHECKING imports count), or None."""
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for module in graph.modules:
        sorter.add(module, *(m for m in graph.find_modules_directly_imported_by(module) if m != module))
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        return tuple(exc.args[1])
    return None


def test_no_module_of_the_package_is_part_of_an_import_cycle() -> None:
    graph = grimp.build_graph("quorum", cache_dir=None)
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(module)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    assert _cycle(graph) is None
    graph.add_import(importer="p.c", imported="p.a")
    cycle = _cycle(graph)
    assert cycle is not None
    assert set(cycle) == {"p.a", "p.b", "p.c"}
