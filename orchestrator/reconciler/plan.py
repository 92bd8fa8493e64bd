"""``plan(desired, observed, now, state) -> actions``: the reconciler's pure decision.

No I/O, no asyncio, no engine: the same inputs always give the same actions, so
every rule is a row in ``tests/orchestrator/test_plan.py``. The plan is
level-triggered: it only emits what can be done *now* (a dependent whose
dependency is not yet healthy gets a ``WaitFor``; the next pass, triggered by
the health event, creates it). All times are epoch seconds (``Clock.time``),
the same base as the engine's start and finish times.

Per-service rules live in :mod:`plan_scale` (slots, scale, recreate, rolling
update, restarts) and :mod:`plan_deps` (``depends_on`` conditions); ``down``
is :mod:`plan_down`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Sequence

from orchestrator.compose.model import Project, Service
from orchestrator.graph import ServiceGraph
from orchestrator.reconciler.actions import (Action, CreateContainer, CreateNetwork, CreateVolume,
                                             DependencyFailed, RemoveContainer, ReplaceUnhealthy,
                                             RestartContainer, WaitFor, Warn)
from orchestrator.reconciler.hash import config_hash
from orchestrator.reconciler.observed import ObservedContainer
from orchestrator.reconciler.plan_deps import check_dependency
from orchestrator.reconciler.plan_scale import ServiceContext, plan_service
from orchestrator.reconciler.restart import RestartHistory

__all__ = ["Desired", "PlanState", "plan", "project_containers", "orphan_warning"]

_NO_MAP: Mapping = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Desired:
    """What the user asked for: the project plus ``up``'s flags.

    ``start_existing`` is set on the pass that serves an explicit ``up``/``start``:
    stopped containers are started then, as Compose does; background passes
    only apply restart policies. ``force_recreate`` recreates containers created
    before ``requested_at`` (0 = all of them, for a single pass).
    """

    project: Project
    scale: Mapping[str, int] = field(default_factory=lambda: _NO_MAP)
    services: tuple[str, ...] = ()  # empty = every service
    no_deps: bool = False
    force_recreate: bool = False
    requested_at: float = 0.0
    no_recreate: bool = False
    remove_orphans: bool = False
    start_existing: bool = False
    replace_unhealthy: bool = True
    timeout: float | None = None
    disabled_services: frozenset[str] = frozenset()  # in the file but not active (profiles): not orphans
    image_ids: Mapping[str, str] = field(default_factory=lambda: _NO_MAP)  # service -> id its image resolves to

    def replicas(self, service: Service) -> int:
        """``--scale`` override, else the service's count (``deploy.mode: global`` = 1 on one host)."""
        if service.name in self.scale:
            return self.scale[service.name]
        if service.deploy is not None and service.deploy.mode == "global":
            return 1
        return service.replicas


@dataclass(frozen=True, slots=True)
class PlanState:
    """What the reconciler remembers between passes (by container name unless noted).

    ``busy`` holds containers and slot names (``<project>-<service>-<n>``) with an
    action in flight: the plan leaves them alone, so no slot is acted on twice
    ("expectations"). ``restart_at`` holds restarts deferred to a time (see
    :func:`plan_state.defer`). ``networks``/``volumes`` are the existing engine objects,
    None when unknown (then creates are emitted and must be idempotent).
    """

    restarts: Mapping[str, RestartHistory] = field(default_factory=lambda: _NO_MAP)
    manually_stopped: frozenset[str] = frozenset()
    failed: frozenset[str] = frozenset()
    busy: frozenset[str] = frozenset()
    last_rollout: Mapping[str, float] = field(default_factory=lambda: _NO_MAP)  # service -> batch time
    restart_at: Mapping[str, float] = field(default_factory=lambda: _NO_MAP)  # deferred restarts
    networks: frozenset[str] | None = None
    volumes: frozenset[str] | None = None


def project_containers(project: str, observed: Sequence[ObservedContainer]) -> list[ObservedContainer]:
    """The non-one-off containers labelled with ``project``."""
    return [c for c in observed if c.project == project and not c.oneoff]


def orphan_warning(project: str, names: Sequence[str]) -> str:
    """Compose's orphan warning."""
    return (f"Found orphan containers ([{' '.join(sorted(names))}]) for this project. If you removed "
            f"or renamed this service in your compose file, you can run this command with the "
            f"--remove-orphans flag to clean it up.")


def _targets(desired: Desired, graph: ServiceGraph) -> list[list[str]]:
    if not desired.services:
        return graph.generations()
    return graph.subset(desired.services, with_dependencies=not desired.no_deps)


def _resources(desired: Desired, services: Sequence[Service], state: PlanState) -> list[Action]:
    project, out, seen = desired.project, [], set()
    for svc in services:
        nets = [] if svc.network_mode else (list(svc.networks) or ["default"])
        for key in nets:
            net = project.networks.get(key)
            name = (net.name if net and net.name else f"{project.name}_{key}")
            if (net and net.external) or name in seen or (state.networks is not None and name in state.networks):
                continue
            seen.add(name)
            out.append(CreateNetwork(name, key))
        for mount in svc.volumes:
            if mount.type != "volume" or not mount.source:
                continue
            vol = project.volumes.get(mount.source)
            name = vol.name if vol and vol.name else f"{project.name}_{mount.source}"
            if (vol and vol.external) or name in seen or (state.volumes is not None and name in state.volumes):
                continue
            seen.add(name)
            out.append(CreateVolume(name, mount.source))
    return out


def _orphans(desired: Desired, mine: Sequence[ObservedContainer]) -> list[Action]:
    known = set(desired.project.services) | desired.disabled_services
    orphans = [c for c in mine if c.service not in known]
    if not orphans:
        return []
    if not desired.remove_orphans:
        return [Warn(orphan_warning(desired.project.name, [c.name for c in orphans]))]
    return [RemoveContainer(c.service, c.number, c.name, timeout=desired.timeout, reason="orphan")
            for c in orphans]


def _gate(desired: Desired, svc: Service, by_service: Mapping[str, list[ObservedContainer]],
          targets: set[str]) -> list[Action] | None:
    """None when every dependency holds, else the WaitFor/DependencyFailed actions."""
    project, blocked, warnings = desired.project, [], []
    for dep_name, edge in svc.depends_on.items():
        dep = project.services.get(dep_name)
        if dep is None or (desired.no_deps and dep_name not in targets):
            continue
        gate = check_dependency(dep_name, edge, dep, by_service.get(dep_name, []), desired.replicas(dep))
        if gate.status == "ok":
            continue
        if gate.status == "failed" and not edge.required:
            warnings.append(Warn(f"optional dependency {dep_name!r} of {svc.name!r} failed: {gate.message}"))
        elif gate.status == "failed":
            blocked.append(DependencyFailed(svc.name, dep_name, gate.message))
        else:
            blocked.append(WaitFor(svc.name, dep_name, edge.condition))
    return (blocked + warnings) if blocked else (warnings or None)


def _restart_dependents(desired: Desired, order: Sequence[str], actions: Sequence[Action],
                        by_service: Mapping[str, list[ObservedContainer]], state: PlanState) -> list[Action]:
    """``depends_on: {restart: true}``: restart running dependents of a recreated service."""
    recreated = {a.service for a in actions
                 if (isinstance(a, CreateContainer) and a.replace) or isinstance(a, ReplaceUnhealthy)}
    touched = {a.name for a in actions if hasattr(a, "name") and hasattr(a, "service")}
    out: list[Action] = []
    for name in order:
        svc = desired.project.services[name]
        causes = [d for d, edge in svc.depends_on.items() if edge.restart and d in recreated]
        if not causes:
            continue
        for c in by_service.get(name, []):
            if c.running and c.name not in touched and c.name not in state.busy:
                out.append(RestartContainer(name, c.number, c.name, dependent=True,
                                            reason=f"dependency {causes[0]} was recreated"))
    return out


def plan(desired: Desired, observed: Sequence[ObservedContainer], now: float,
         state: PlanState | None = None) -> list[Action]:
    """The actions that move ``observed`` toward ``desired`` now, phase-ordered."""
    state = state or PlanState()
    project = desired.project
    graph = ServiceGraph.from_project(project)
    order = [s for gen in _targets(desired, graph) for s in gen]
    targets = set(order)
    mine = project_containers(project.name, observed)
    by_service: dict[str, list[ObservedContainer]] = {}
    for c in mine:
        by_service.setdefault(c.service, []).append(c)

    actions: list[Action] = _resources(desired, [project.services[s] for s in order], state)
    actions += _orphans(desired, mine)
    for name in order:
        svc = project.services[name]
        gated = _gate(desired, svc, by_service, targets)
        if gated and any(isinstance(a, (WaitFor, DependencyFailed)) for a in gated):
            actions += gated
            continue
        actions += gated or []
        ctx = ServiceContext(project=project.name, service=svc, containers=by_service.get(name, []),
                             replicas=desired.replicas(svc), config_hash=config_hash(svc, desired.image_ids.get(name, "")), now=now,
                             desired=desired, state=state)
        actions += plan_service(ctx)
    actions += _restart_dependents(desired, order, actions, by_service, state)
    return sorted(actions, key=lambda a: a.phase)  # stable: keeps service order inside a phase
