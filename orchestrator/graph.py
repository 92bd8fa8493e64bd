"""The service dependency graph: start order, stop order and cycles.

Edges come from each service's ``depends_on`` (which after normalisation also
holds the implicit dependencies from links, shared namespaces and
``volumes_from``). Services in one generation do not depend on each other and
can be started in parallel; stop order is the reverse.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import networkx as nx

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.model import Project

__all__ = ["ServiceGraph"]


class ServiceGraph:
    """A directed graph with an edge ``service -> dependency`` per ``depends_on`` entry."""

    def __init__(self, edges: Mapping[str, Iterable[str]]):
        graph = nx.DiGraph()
        for service, deps in edges.items():
            graph.add_node(service)
            for dep in deps:
                graph.add_edge(service, dep)
        self._graph = graph
        self._check_cycles()

    @classmethod
    def from_project(cls, project: Project) -> "ServiceGraph":
        """Build the graph of ``project``; dependencies on unknown services are ignored."""
        names = set(project.services)
        return cls(
            {
                name: [d for d in service.depends_on if d in names]
                for name, service in project.services.items()
            }
        )

    def _check_cycles(self) -> None:
        try:
            cycle = nx.find_cycle(self._graph)
        except nx.NetworkXNoCycle:
            return
        members = [edge[0] for edge in cycle]
        # Start the report at the alphabetically first member so it is stable.
        first = members.index(min(members))
        members = members[first:] + members[:first]
        path = " -> ".join(members + [members[0]])
        raise ComposeError(f"dependency cycle detected: {path}")

    @property
    def services(self) -> list[str]:
        return sorted(self._graph.nodes)

    def generations(self) -> list[list[str]]:
        """Start order: lists of services whose dependencies are all in earlier lists."""
        reverse = self._graph.reverse(copy=False)
        return [sorted(gen) for gen in nx.topological_generations(reverse)]

    def stop_order(self) -> list[list[str]]:
        """Stop order: dependents before their dependencies."""
        return list(reversed(self.generations()))

    def dependencies(self, name: str) -> set[str]:
        """Every service ``name`` needs, directly or not."""
        self._require(name)
        return set(nx.descendants(self._graph, name))

    def dependents(self, name: str) -> set[str]:
        """Every service that needs ``name``, directly or not."""
        self._require(name)
        return set(nx.ancestors(self._graph, name))

    def subset(self, names: Iterable[str], *, with_dependencies: bool = True) -> list[list[str]]:
        """Start generations restricted to ``names`` (plus what they need, unless told not to)."""
        wanted = set(names)
        for name in list(wanted):
            self._require(name)
            if with_dependencies:
                wanted |= self.dependencies(name)
        return [g for g in ([s for s in gen if s in wanted] for gen in self.generations()) if g]

    def _require(self, name: str) -> None:
        if name not in self._graph:
            raise ComposeError(f"no such service: {name}")
