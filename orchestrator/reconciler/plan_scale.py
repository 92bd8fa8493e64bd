"""One service's replicas: stable slots, scale up/down, recreate, rolling update, restarts.

Slots are ``<project>-<service>-<n>`` (or ``container_name``, then one replica).
Scale down removes the least valuable replicas first: not running, unhealthy,
out of date, still starting, then the highest numbers. Scale up fills the
lowest free numbers. A config-hash change recreates; with
``deploy.update_config`` the recreate rolls ``parallelism`` replicas at a time,
waits for each batch to be ready (running and healthy) and for ``delay``, so a
3-replica service keeps at least 2 ready. ``start-first`` starts the new
replica in a free slot and the surplus old one is removed once it is ready.
``monitor`` keeps a new replica under watch that long before the next batch;
a new replica that fails (non-zero exit, unhealthy) pauses the rollout unless
``failure_action: continue`` (rollback is not supported and pauses too).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

from orchestrator.compose.model import Service
from orchestrator.reconciler.actions import (Action, CreateContainer, MarkFailed, RemoveContainer,
                                             ReplaceUnhealthy, RestartContainer, StartContainer,
                                             WaitFor, Warn)
from orchestrator.reconciler.observed import ObservedContainer
from orchestrator.reconciler.restart import RestartHistory, decide, policy_of

if TYPE_CHECKING:
    from orchestrator.reconciler.plan import Desired, PlanState

__all__ = ["ServiceContext", "plan_service", "slot_name", "removal_rank"]


def slot_name(project: str, service: Service, number: int) -> str:
    """The container name of a slot, as Compose names it."""
    return service.container_name or f"{project}-{service.name}-{number}"


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """Everything :func:`plan_service` needs about one service."""

    project: str
    service: Service
    containers: Sequence[ObservedContainer]
    replicas: int
    config_hash: str
    now: float
    desired: "Desired"
    state: "PlanState"

    def outdated(self, c: ObservedContainer) -> bool:
        d = self.desired
        if d.no_recreate:
            return False
        if d.force_recreate and (not d.requested_at or c.created_at < d.requested_at):
            return True
        return c.config_hash != self.config_hash

    def busy(self, c: ObservedContainer) -> bool:
        return c.name in self.state.busy or slot_name(self.project, self.service, c.number) in self.state.busy

    def name(self, number: int) -> str:
        return slot_name(self.project, self.service, number)


def removal_rank(c: ObservedContainer, outdated: bool) -> tuple:
    """Sort key: the first containers are the first to remove on scale down."""
    return (c.running, c.health != "unhealthy", not outdated, c.health != "starting", -c.number)


def _split_duplicates(ctx: ServiceContext) -> tuple[list[ObservedContainer], list[ObservedContainer]]:
    """Keep one container per slot number (the running, newest one); the rest are extra."""
    keep: dict[int, ObservedContainer] = {}
    extra: list[ObservedContainer] = []
    for c in sorted(ctx.containers, key=lambda c: (c.number, not c.running, -c.created_at, c.id)):
        if c.number < 1 or c.number in keep:
            extra.append(c)
        else:
            keep[c.number] = c
    return list(keep.values()), extra


def _free_numbers(used: set[int], count: int) -> list[int]:
    out, n = [], 1
    while len(out) < count:
        if n not in used:
            out.append(n)
        n += 1
    return out


def _rolling_in_progress(ctx: ServiceContext, current: Sequence[ObservedContainer]) -> bool:
    """A batch is still coming up: an up-to-date replica starting, or inside its monitor window."""
    return _rollout_wait(ctx, current) is not None


def _rollout_wait(ctx: ServiceContext, current: Sequence[ObservedContainer]) -> float | None:
    """None when no new replica is pending, else when the wait ends (0 = unknown: on an event)."""
    update = ctx.service.deploy.update_config if ctx.service.deploy else None
    monitor = (update.monitor if update else None) or 0.0
    until: float | None = None
    for c in current:
        if ctx.outdated(c):
            continue
        if c.state in ("created", "restarting") or (c.state == "running" and c.health == "starting"):
            return 0.0  # still coming up (an unhealthy one is a failure, not progress)
        if c.state == "running" and monitor and ctx.now < c.started_at + monitor:
            until = max(until or 0.0, c.started_at + monitor)
    return until


def _rollout_failure(ctx: ServiceContext, current: Sequence[ObservedContainer]) -> str:
    """Why the rollout should stop: a replica of its last batch exited with an error or is unhealthy."""
    batch_at = ctx.state.last_rollout.get(ctx.service.name)
    if batch_at is None:
        return ""  # no batch rolled yet: older failures are the restart policy's business
    for c in current:
        if ctx.outdated(c) or c.created_at < batch_at:
            continue
        if c.state in ("exited", "dead") and c.exit_code != 0:
            return f"container {c.name} exited ({c.exit_code})"
        if c.health == "unhealthy":
            return f"container {c.name} is unhealthy"
    return ""


def _remove(ctx: ServiceContext, c: ObservedContainer, reason: str) -> RemoveContainer:
    return RemoveContainer(ctx.service.name, c.number, c.name, timeout=ctx.desired.timeout, reason=reason)


def _create(ctx: ServiceContext, number: int, **kw: object) -> CreateContainer:
    return CreateContainer(ctx.service.name, number, ctx.name(number), config_hash=ctx.config_hash,
                           **kw)  # type: ignore[arg-type]


def _scale(ctx: ServiceContext, current: list[ObservedContainer], rolling: bool,
           out: list[Action]) -> list[ObservedContainer]:
    """Scale down or up; returns the containers that remain."""
    want = ctx.replicas
    if ctx.service.container_name and want > 1:
        out.append(Warn(f'service "{ctx.service.name}" uses container_name "{ctx.service.container_name}":'
                        f" it runs one replica, not {want}"))
        want = 1
    surplus = len(current) - want
    # During a start-first rollout the surplus is the old replicas: they go once the new ones are ready.
    update = ctx.service.deploy.update_config if ctx.service.deploy else None
    holding = (rolling and update is not None and update.order == "start-first"
               and any(ctx.outdated(c) for c in current) and _rolling_in_progress(ctx, current))
    if surplus > 0 and not holding:
        candidates = sorted((c for c in current if not ctx.busy(c)),
                            key=lambda c: removal_rank(c, ctx.outdated(c)))
        victims = candidates[:surplus]
        out += [_remove(ctx, c, "scale down") for c in victims]
        current = [c for c in current if c not in victims]
    missing = want - len(current)
    if missing > 0:
        used = {c.number for c in current}
        out += [_create(ctx, n, reason="scale up") for n in _free_numbers(used, missing)]
    return current


def _recreate(ctx: ServiceContext, current: list[ObservedContainer], out: list[Action]) -> set[str]:
    """Recreate out-of-date replicas (rolling with update_config); returns names handled."""
    stale = sorted((c for c in current if ctx.outdated(c) and not ctx.busy(c)),
                   key=lambda c: removal_rank(c, True))
    if not stale:
        return set()
    update = ctx.service.deploy.update_config if ctx.service.deploy else None
    if update is None:  # Compose: every replica at once
        out += [_create(ctx, c.number, replace=c.name, reason="config changed") for c in stale]
        return {c.name for c in stale}
    name = ctx.service.name
    failure = _rollout_failure(ctx, current)
    if failure and (update.failure_action or "pause") != "continue":
        note = "" if (update.failure_action or "pause") == "pause" else " (rollback is not supported: paused)"
        out += [WaitFor(name, name, "update_paused"),
                Warn(f'service "{name}": update paused: {failure}{note}')]
        return {c.name for c in stale}
    wait = _rollout_wait(ctx, current)
    if wait is not None:
        out.append(WaitFor(name, name, "rollout", until=wait or None))
        return {c.name for c in stale}
    last = ctx.state.last_rollout.get(name)
    if last is not None and update.delay and ctx.now < last + update.delay:
        out.append(WaitFor(name, name, "update_delay", until=last + update.delay))
        return {c.name for c in stale}
    batch = stale if update.parallelism == 0 else stale[: update.parallelism or 1]
    if update.order == "start-first" and not ctx.service.container_name:
        surplus = len(current) - ctx.replicas
        if surplus >= len(batch):
            return {c.name for c in stale}  # new replicas are up; scale down removes old ones
        used = {c.number for c in current}  # a slot freed by this pass's scale down is reused
        out += [_create(ctx, n, rollout=True, reason="rolling update (start-first)")
                for n in _free_numbers(used, len(batch) - max(surplus, 0))]
    else:
        out += [_create(ctx, c.number, replace=c.name, rollout=True, reason="rolling update")
                for c in batch]
    return {c.name for c in stale}


def _history(ctx: ServiceContext, c: ObservedContainer, exit_code: int) -> RestartHistory:
    base = ctx.state.restarts.get(c.name) or RestartHistory(restart_count=c.restart_count)
    return replace(base, exit_code=exit_code, started_at=c.started_at, finished_at=c.finished_at or ctx.now,
                   manually_stopped=c.name in ctx.state.manually_stopped)


def _deferred(ctx: ServiceContext, c: ObservedContainer, at: float) -> list[Action]:
    """A restart already decided and recorded: wait for its time, then do it."""
    svc = ctx.service
    if ctx.now < at:
        return [WaitFor(svc.name, c.name, "restart_backoff", until=at)]
    if c.running:
        return [ReplaceUnhealthy(svc.name, c.number, c.name, config_hash=ctx.config_hash, at=at)]
    return [RestartContainer(svc.name, c.number, c.name, at=at, reason="backoff elapsed")]


def _lifecycle(ctx: ServiceContext, c: ObservedContainer) -> list[Action]:
    """Start created containers, apply the restart policy, replace unhealthy ones."""
    svc, d = ctx.service, ctx.desired
    pending = ctx.state.restart_at.get(c.name)
    if pending is not None and not d.start_existing and (c.state in ("exited", "dead") or c.health == "unhealthy"):
        return _deferred(ctx, c, pending)
    if c.state == "created":
        return [StartContainer(svc.name, c.number, c.name)]
    if c.state in ("exited", "dead"):
        if d.start_existing:
            return [StartContainer(svc.name, c.number, c.name)]
        if c.name in ctx.state.failed:
            return []
        history = _history(ctx, c, c.exit_code)
        decision = decide(policy_of(svc), history, ctx.now)
        if decision.failed:
            return [MarkFailed(svc.name, c.number, c.name, reason=decision.reason)]
        if not decision.restart:
            return []
        return [RestartContainer(svc.name, c.number, c.name, backoff=decision.delay, at=decision.at,
                                 history=history.after(decision), reason=decision.reason)]
    if c.state == "running" and c.health == "unhealthy" and d.replace_unhealthy:
        policy = policy_of(svc)
        if not policy.enabled or c.name in ctx.state.manually_stopped or c.name in ctx.state.failed:
            return []
        history = replace(_history(ctx, c, 1), finished_at=ctx.now)
        decision = decide(policy, history, ctx.now)
        if decision.failed:
            return [MarkFailed(svc.name, c.number, c.name, reason=f"unhealthy; {decision.reason}")]
        return [ReplaceUnhealthy(svc.name, c.number, c.name, config_hash=ctx.config_hash,
                                 backoff=decision.delay, at=decision.at, history=history.after(decision))]
    return []


def plan_service(ctx: ServiceContext) -> list[Action]:
    """The actions for one ungated service."""
    out: list[Action] = []
    current, extra = _split_duplicates(ctx)
    out += [_remove(ctx, c, "duplicate slot") for c in extra if not ctx.busy(c)]
    update = ctx.service.deploy.update_config if ctx.service.deploy else None
    current = _scale(ctx, current, update is not None, out)
    scaling_up = any(isinstance(a, CreateContainer) for a in out)
    if update is not None and scaling_up and any(ctx.outdated(c) for c in current):
        # New replicas are coming up: the rollout resumes once they are ready.
        out.append(WaitFor(ctx.service.name, ctx.service.name, "rollout"))
        handled = {c.name for c in current if ctx.outdated(c)}
    else:
        handled = _recreate(ctx, current, out)
    for c in current:
        if c.name not in handled and not ctx.busy(c):
            out += _lifecycle(ctx, c)
    return out
