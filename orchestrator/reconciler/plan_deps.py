"""``depends_on`` gating: may a service's containers be created and started yet?

Conditions as Compose checks them (``convergence.go: waitDependencies``):
``service_started`` (the dependency's containers have started), ``service_healthy``
(all running and healthy), ``service_completed_successfully`` (all exited 0).
Failures are worded as Compose words them. One difference: a dependency that is
unhealthy or exited but has a restart policy is waited for instead of failing,
because the reconciler is about to restart or replace it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from orchestrator.compose.model import DependsOn, Service
from orchestrator.reconciler.observed import ObservedContainer
from orchestrator.reconciler.restart import policy_of

__all__ = ["Gate", "check_dependency", "SERVICE_STARTED", "SERVICE_HEALTHY", "SERVICE_COMPLETED"]

SERVICE_STARTED = "service_started"
SERVICE_HEALTHY = "service_healthy"
SERVICE_COMPLETED = "service_completed_successfully"


@dataclass(frozen=True, slots=True)
class Gate:
    """The state of one edge: ``ok``, ``wait`` or ``failed`` (with Compose's message)."""

    status: Literal["ok", "wait", "failed"]
    message: str = ""


OK = Gate("ok")
WAIT = Gate("wait")


def _started(c: ObservedContainer) -> bool:
    return c.running or c.state == "restarting" or (c.state == "exited" and c.started_at > 0)


def _will_retry(dep: Service | None) -> bool:
    try:
        return dep is not None and policy_of(dep).enabled
    except ValueError:
        return False


def _healthy(dep: Service | None, containers: Sequence[ObservedContainer]) -> Gate:
    for c in containers:
        if c.state == "exited" or c.state == "dead":
            if _will_retry(dep):
                return WAIT
            return Gate("failed", f"dependency failed to start: container {c.name} exited ({c.exit_code})")
        if c.health == "unhealthy":
            if _will_retry(dep):
                return WAIT
            return Gate("failed", f"dependency failed to start: container {c.name} is unhealthy")
        if c.running and c.health == "none":
            if _declares_healthcheck(dep):
                return WAIT  # its probe has not reported yet
            return Gate("failed", f"dependency failed to start: container {c.name} has no healthcheck configured")
    return OK if all(c.state == "running" and c.health == "healthy" for c in containers) else WAIT


def _declares_healthcheck(dep: Service | None) -> bool:
    """An enabled compose healthcheck (an image HEALTHCHECK shows up as observed health)."""
    check = dep.healthcheck if dep is not None else None
    return check is not None and not check.disabled and bool(check.test)


def _completed(name: str, containers: Sequence[ObservedContainer]) -> Gate:
    for c in containers:
        if c.state == "exited" and c.exit_code != 0:
            return Gate("failed", f'service "{name}" didn\'t complete successfully: exit {c.exit_code}')
    return OK if all(c.state == "exited" for c in containers) else WAIT


def check_dependency(name: str, edge: DependsOn, dep: Service | None,
                     containers: Sequence[ObservedContainer], replicas: int) -> Gate:
    """Whether the edge to dependency ``name`` (with ``containers``, ``replicas`` wanted) is met."""
    live = [c for c in containers if not c.oneoff]
    if replicas == 0 and not live:
        return OK  # scaled to zero: nothing to wait for
    if len(live) < replicas:
        return WAIT
    if edge.condition == SERVICE_HEALTHY:
        return _healthy(dep, live)
    if edge.condition == SERVICE_COMPLETED:
        return _completed(name, live)
    return OK if all(_started(c) for c in live) else WAIT
