"""The phase DAG of a task: order, neighbours, cycles with their path, critical path, Mermaid.

``order`` is topological with file order breaking ties (Kahn's algorithm over a heap of file
positions), so a task whose phases are written in dependency order runs in that order.

Critical path: the chain of phases with the largest total weight. Weights default to 1 per phase (the
longest chain of dependent phases: a lower bound on how many phase "waves" any execution needs); pass
measured durations or estimates (e.g. sequential agent calls per phase) to weigh phases differently.
"""

from __future__ import annotations

import graphlib
import heapq
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from quorum.definition.model import Task
from quorum.errors import DefinitionError, Problem
from quorum.ids import PhaseName

__all__ = ("PhaseGraph", "find_cycles", "format_cycle")


def find_cycles(names: Sequence[str], deps: Mapping[Any, Sequence[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one, as ``[A, B, C, A]`` (in file order).

    Iterative Tarjan, so a long chain of phases cannot exhaust the recursion limit.
    """
    position = {name: i for i, name in enumerate(names)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in names:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = [d for d in deps.get(node, ()) if d in position]
            if child < len(children):
                work.append((node, child + 1))
                nxt = children[child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    cycles = []
    for component in components:
        members = set(component)
        start = min(component, key=position.__getitem__)
        if len(component) == 1 and start not in deps.get(start, ()):
            continue
        cycles.append(_cycle_from(start, members, deps, position))
    cycles.sort(key=lambda c: position[c[0]])
    return cycles


def _cycle_from(
    start: str, members: set[str], deps: Mapping[str, Sequence[str]], position: Mapping[str, int]
) -> list[str]:
    """A shortest cycle through ``start`` inside its component (BFS), following "depends on" edges."""
    parents: dict[str, str] = {}
    frontier = [start]
    seen = {start}
    while frontier:
        nxt: list[str] = []
        for node in frontier:
            for dep in sorted((d for d in deps.get(node, ()) if d in members), key=position.__getitem__):
                if dep == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    path.reverse()
                    return [*path, start]
                if dep not in seen:
                    seen.add(dep)
                    parents[dep] = node
                    nxt.append(dep)
        frontier = nxt
    return [start, start]  # pragma: no cover - a component with a cycle always closes


def format_cycle(cycle: Sequence[str]) -> str:
    return " -> ".join(cycle)


@dataclass(frozen=True, slots=True)
class PhaseGraph:
    order: tuple[PhaseName, ...]
    _deps: Mapping[PhaseName, tuple[PhaseName, ...]]
    _dependents: Mapping[PhaseName, tuple[PhaseName, ...]]

    @classmethod
    def from_task(cls, task: Task) -> PhaseGraph:
        return cls.from_edges(
            task.phase_names, {p.name: p.depends_on for p in task.phases}, source=task.source
        )

    @classmethod
    def from_edges(
        cls, names: Iterable[str], deps: Mapping[str, Iterable[str]], *, source: str | None = None
    ) -> PhaseGraph:
        ordered = [PhaseName(n) for n in names]
        known = set(ordered)
        edges = {n: tuple(PhaseName(d) for d in deps.get(n, ())) for n in ordered}
        unknown = [(n, d) for n in ordered for d in edges[n] if d not in known]
        if unknown:
            raise DefinitionError(
                [
                    Problem(message=f"phase {n!r} depends on unknown phase {d!r}", source=source)
                    for n, d in unknown
                ],
                source=source,
            )
        cycles = find_cycles(ordered, edges)
        if cycles:
            raise DefinitionError(
                [
                    Problem(
                        message=f"circular dependency: {format_cycle(c)}",
                        source=source,
                        hint="remove one of these dependsOn entries",
                    )
                    for c in cycles
                ],
                source=source,
            )
        position = {n: i for i, n in enumerate(ordered)}
        dependents: dict[PhaseName, list[PhaseName]] = {n: [] for n in ordered}
        for n in ordered:
            for d in edges[n]:
                dependents[d].append(n)
        waiting = {n: len(set(edges[n])) for n in ordered}
        heap = [position[n] for n in ordered if waiting[n] == 0]
        heapq.heapify(heap)
        order: list[PhaseName] = []
        while heap:
            node = ordered[heapq.heappop(heap)]
            order.append(node)
            for child in dict.fromkeys(dependents[node]):
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(heap, position[child])
        return cls(
            order=tuple(order),
            _deps=MappingProxyType(edges),
            _dependents=MappingProxyType({n: tuple(dict.fromkeys(v)) for n, v in dependents.items()}),
        )

    def dependencies(self, name: str) -> tuple[PhaseName, ...]:
        return self._deps[PhaseName(name)]

    def dependents(self, name: str) -> tuple[PhaseName, ...]:
        return self._dependents[PhaseName(name)]

    def roots(self) -> tuple[PhaseName, ...]:
        return tuple(n for n in self.order if not self._deps[n])

    def sinks(self) -> tuple[PhaseName, ...]:
        return tuple(n for n in self.order if not self._dependents[n])

    def upstream(self, name: str) -> frozenset[PhaseName]:
        """Every phase that ``name`` depends on, directly or not."""
        seen: set[PhaseName] = set()
        todo = list(self.dependencies(name))
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(self._deps[node])
        return frozenset(seen)

    def sorter(self) -> graphlib.TopologicalSorter[PhaseName]:
        """A prepared ``graphlib.TopologicalSorter`` for schedulers (``get_ready`` / ``done``)."""
        sorter: graphlib.TopologicalSorter[PhaseName] = graphlib.TopologicalSorter()
        for node in self.order:
            sorter.add(node, *self._deps[node])
        sorter.prepare()
        return sorter

    def critical_path(self, weights: Mapping[str, float] | None = None) -> tuple[PhaseName, ...]:
        """The heaviest dependency chain; ties go to the chain that ends (then starts) first in file order."""
        if not self.order:
            return ()
        best: dict[PhaseName, float] = {}
        via: dict[PhaseName, PhaseName | None] = {}
        for node in self.order:
            weight = 1.0 if weights is None else float(weights.get(node, 0.0))
            previous: PhaseName | None = None
            for dep in self._deps[node]:
                if previous is None or best[dep] > best[previous]:
                    previous = dep
            best[node] = weight + (best[previous] if previous is not None else 0.0)
            via[node] = previous
        end = max(self.order, key=lambda n: best[n])  # max keeps the first of equals
        path = [end]
        while (step := via[path[-1]]) is not None:
            path.append(step)
        return tuple(reversed(path))

    def to_mermaid(self, *, mark_critical: bool = True, weights: Mapping[str, float] | None = None) -> str:
        """A Mermaid flowchart (top to bottom); the critical path's nodes and edges are highlighted."""
        ids = {name: f"p{i}" for i, name in enumerate(self.order)}
        lines = ["flowchart TD"]
        lines.extend(f'    {ids[name]}["{_label(name)}"]' for name in self.order)
        critical = self.critical_path(weights) if mark_critical else ()
        critical_edges = set(itertools.pairwise(critical))
        hot: list[int] = []
        edge = 0
        for name in self.order:
            for dep in dict.fromkeys(self._deps[name]):
                lines.append(f"    {ids[dep]} --> {ids[name]}")
                if (dep, name) in critical_edges:
                    hot.append(edge)
                edge += 1
        if critical:
            lines.append("    classDef critical fill:#fde2e1,stroke:#d9534f,stroke-width:3px")
            lines.append(f"    class {','.join(ids[n] for n in critical)} critical")
            if hot:
                lines.append(f"    linkStyle {','.join(map(str, hot))} stroke:#d9534f,stroke-width:3px")
        return "\n".join(lines) + "\n"


def _label(name: str) -> str:
    # Mermaid labels are quoted; quotes and markup characters become entity codes.
    return "".join(f"#{ord(ch)};" if ch in '"<>&#' else ch for ch in name)
