from __future__ import annotations

import pytest

from quorum.definition.model import Phase, Task
from quorum.errors import DefinitionError
from quorum.graph import PhaseGraph, find_cycles
from quorum.ids import PhaseName, TaskName

pytestmark = [pytest.mark.unit]


def task_of(edges: dict[str, list[str]]) -> Task:
    return Task(
        name=TaskName("t"),
        phases=tuple(
            Phase(name=PhaseName(n), depends_on=tuple(PhaseName(d) for d in deps))
            for n, deps in edges.items()
        ),
    )


DIAMOND = {"Start": [], "Left": ["Start"], "Right": ["Start"], "Join": ["Left", "Right"], "Side": []}


def test_order_is_topological_with_file_order_ties() -> None:
    graph = PhaseGraph.from_task(task_of(DIAMOND))
    assert graph.order == ("Start", "Left", "Right", "Join", "Side")
    reverse_file = PhaseGraph.from_task(task_of({"B": ["A"], "A": [], "C": []}))
    assert reverse_file.order == ("A", "B", "C")


def test_neighbours_roots_sinks() -> None:
    graph = PhaseGraph.from_task(task_of(DIAMOND))
    assert graph.dependencies("Join") == ("Left", "Right")
    assert graph.dependents("Start") == ("Left", "Right")
    assert graph.roots() == ("Start", "Side")
    assert graph.sinks() == ("Join", "Side")
    assert graph.upstream("Join") == {"Start", "Left", "Right"}


def test_sorter_is_prepared() -> None:
    sorter = PhaseGraph.from_task(task_of(DIAMOND)).sorter()
    assert set(sorter.get_ready()) == {"Start", "Side"}


def test_cycles_raise_with_path() -> None:
    with pytest.raises(DefinitionError, match="circular dependency: A -> B -> C -> A"):
        PhaseGraph.from_task(task_of({"A": ["B"], "B": ["C"], "C": ["A"]}))
    with pytest.raises(DefinitionError, match="unknown phase 'Z'"):
        PhaseGraph.from_task(task_of({"A": ["Z"]}))


def test_find_cycles_handles_long_chains_without_recursion() -> None:
    names = [f"p{i}" for i in range(5000)]
    deps = {names[i]: [names[i - 1]] for i in range(1, 5000)}
    assert find_cycles(names, deps) == []
    deps[names[0]] = [names[-1]]
    (cycle,) = find_cycles(names, deps)
    assert cycle[0] == cycle[-1] == "p0"
    assert len(cycle) == 5001


def test_critical_path_default_and_weighted() -> None:
    graph = PhaseGraph.from_task(task_of(DIAMOND))
    assert graph.critical_path() == ("Start", "Left", "Join")
    assert graph.critical_path({"Start": 1, "Left": 1, "Right": 5, "Join": 1, "Side": 2}) == (
        "Start",
        "Right",
        "Join",
    )
    assert graph.critical_path({"Side": 100}) == ("Side",)
    assert PhaseGraph.from_task(task_of({})).critical_path() == ()


def test_mermaid_marks_the_critical_path() -> None:
    graph = PhaseGraph.from_task(task_of({**DIAMOND, 'Say "hi"': ["Join"]}))
    text = graph.to_mermaid()
    assert text.startswith("flowchart TD\n")
    assert '    p0["Start"]' in text
    assert '["Say #34;hi#34;"]' in text
    assert "    p0 --> p1" in text
    assert "    p2 --> p3" in text
    assert "classDef critical" in text
    assert "    class p0,p1,p3,p5 critical" in text
    assert "linkStyle 0,2,4 " in text  # Start->Left, Left->Join, Join->Say
    plain = graph.to_mermaid(mark_critical=False)
    assert "critical" not in plain
    assert "linkStyle" not in plain
