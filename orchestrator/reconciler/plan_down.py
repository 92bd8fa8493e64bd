"""``down`` as a pure plan: stop and remove in reverse dependency order, then networks and volumes.

Each stop generation is its own phase (dependents before their dependencies,
services of one generation in parallel); orphans go first with
``remove_orphans`` and are warned about otherwise; networks go once every
container is gone; volumes only with ``volumes`` (``down -v``).
"""

from __future__ import annotations

from typing import Sequence

from orchestrator.compose.model import Project
from orchestrator.graph import ServiceGraph
from orchestrator.reconciler.actions import (Action, RemoveContainer, RemoveNetwork, RemoveVolume,
                                             StopContainer, Warn)
from orchestrator.reconciler.observed import ObservedContainer
from orchestrator.reconciler.plan import orphan_warning

__all__ = ["plan_down", "plan_stop", "DOWN_PHASE_BASE"]

DOWN_PHASE_BASE = 100


def _stop_phases(project: Project, services: Sequence[str]) -> dict[str, int]:
    """Phase per service: one more than the latest of its dependents, so each stops as soon as it can."""
    graph = ServiceGraph.from_project(project)  # also rejects cycles
    names = graph.services
    direct = {s: [t for t in names if s in project.services[t].depends_on] for s in names}
    level: dict[str, int] = {}

    def depth(s: str) -> int:
        if s not in level:
            level[s] = 1 + max((depth(t) for t in direct[s]), default=-1)
        return level[s]

    wanted = set(names)
    if services:
        wanted = set(services).union(*(graph.dependents(s) for s in services))
    return {s: DOWN_PHASE_BASE + 1 + depth(s) for s in names if s in wanted}


def plan_stop(project: Project, observed: Sequence[ObservedContainer], *,
              services: Sequence[str] = (), timeout: float | None = None) -> list[Action]:
    """``stop``: running containers of ``services`` (all if empty) and their dependents, in reverse order."""
    phases = _stop_phases(project, services)
    out = [StopContainer(c.service, c.number, c.name, timeout=timeout, order=phases[c.service])
           for c in observed
           if c.project == project.name and c.service in phases and c.running]
    return sorted(out, key=lambda a: (a.phase, a.name))


def plan_down(project: Project, observed: Sequence[ObservedContainer], *, remove_orphans: bool = False,
              volumes: bool = False, timeout: float | None = None) -> list[Action]:
    """``down``: every project container, then the project's networks (and volumes with ``-v``)."""
    phases = _stop_phases(project, ())
    mine = [c for c in observed if c.project == project.name]
    orphans = [c for c in mine if c.service not in phases and not c.oneoff]
    out: list[Action] = []
    if orphans and not remove_orphans:
        out.append(Warn(orphan_warning(project.name, [c.name for c in orphans])))
    for c in mine:
        if c.service in phases:
            order = phases[c.service]
        elif remove_orphans or c.oneoff:
            order = DOWN_PHASE_BASE  # orphans and one-offs depend on nothing we stop
        else:
            continue
        out.append(RemoveContainer(c.service, c.number, c.name, timeout=timeout, order=order,
                                   reason="down", volumes=volumes))
    last = max(phases.values(), default=DOWN_PHASE_BASE) + 1
    for key, net in sorted(project.networks.items()):
        if not net.external:
            out.append(RemoveNetwork(net.name or f"{project.name}_{key}", order=last))
    if volumes:
        for key, vol in sorted(project.volumes.items()):
            if not vol.external:
                out.append(RemoveVolume(vol.name or f"{project.name}_{key}", order=last))
    return sorted(out, key=lambda a: (a.phase, a.key))
