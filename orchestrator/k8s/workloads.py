"""Workloads: a Deployment, StatefulSet, DaemonSet or Job per service, with its pod template."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .containers import main_container
from .context import Context
from .deps import waiter_account, wait_containers
from .pods import compose_labels, pod_metadata, pod_settings
from .security import pod_security
from .storage import pod_storage

__all__ = ["KINDS", "Plan", "plan", "replicas_of", "completion_targets", "workload"]

KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


@dataclass(frozen=True)
class Plan:
    """Decisions made for the whole project before any object is built."""

    kinds: Mapping[str, str]
    replicas: Mapping[str, int]
    templated: Mapping[str, list[str]]  # service -> named volumes given per replica (StatefulSet)


def completion_targets(ctx: Context) -> set[str]:
    """Services others wait on with service_completed_successfully."""
    return {dep for svc in ctx.services.values()
            for dep, spec in (svc.get("depends_on") or {}).items()
            if (spec or {}).get("condition") == "service_completed_successfully"}


def _one_shot(svc: Mapping[str, Any]) -> bool:
    """Whether a service is not restarted forever (restart unset, no or on-failure)."""
    restart = str(svc.get("restart") or "no")
    return restart == "no" or restart.startswith("on-failure")


def _kind(svc: Mapping[str, Any], service: str, ctx: Context, exclusive: bool, waited: bool) -> str:
    """The controller kind for one service (x-kubernetes.controller overrides the choice)."""
    ext = svc.get("x-kubernetes") or {}
    wanted = str(ext.get("controller") or "") if isinstance(ext, Mapping) else ""
    for kind in KINDS:
        if wanted.lower() == kind.lower():
            return kind
    if wanted:
        ctx.warn(service, "x-kubernetes.controller", f"unknown controller {wanted!r}; choosing one")
    mode = (svc.get("deploy") or {}).get("mode")
    if mode in ("global", "global-job"):
        return "DaemonSet"
    if mode == "replicated-job" or (waited and _one_shot(svc)):
        return "Job"
    return "StatefulSet" if exclusive else "Deployment"


def replicas_of(svc: Mapping[str, Any], ctx: Context) -> int:
    """Replica count: `scale`, else deploy.replicas, else 1."""
    if svc.get("scale") is not None:
        return int(svc["scale"])
    return int((svc.get("deploy") or {}).get("replicas", 1) or 0)


def plan(ctx: Context, exclusive: Mapping[str, list[str]]) -> Plan:
    """Choose each service's kind and replicas, and which volumes become claim templates."""
    waited = completion_targets(ctx)
    kinds, replicas, templated = {}, {}, {}
    for service, svc in ctx.services.items():
        kind = _kind(svc, service, ctx, bool(exclusive.get(service)), service in waited)
        kinds[service] = kind
        replicas[service] = replicas_of(svc, ctx)
        if kind == "StatefulSet":
            templated[service] = list(exclusive.get(service, ()))
    return Plan(kinds, replicas, templated)


def _restart_policy(svc: Mapping[str, Any], service: str, ctx: Context, kind: str) -> str:
    """restartPolicy: Always for long-running controllers (warning if Compose said otherwise)."""
    restart = str(svc.get("restart") or "no")
    if kind == "Job":
        return "OnFailure" if restart.startswith("on-failure") else "Never"
    if svc.get("restart") and restart not in ("always", "unless-stopped"):
        ctx.warn(service, "restart", f"{restart!r} cannot be expressed by a {kind}: its pods "
                 "are always restarted")
    return "Always"


def pod_template(ctx: Context, service: str, kind: str, jobs: set[str], templated: list[str]) -> dict:
    """The pod template of a service (containers, init containers, volumes, settings)."""
    svc = ctx.services[service]
    container = main_container(svc, service, ctx)
    storage = pod_storage(svc, service, ctx, templated)
    if storage.mounts:
        container["volumeMounts"] = storage.mounts
    spec: dict[str, Any] = {"restartPolicy": _restart_policy(svc, service, ctx, kind)}
    waits = wait_containers(svc, service, ctx, jobs)
    if waits:
        spec["serviceAccountName"] = waiter_account(ctx)
        spec["initContainers"] = waits
    spec["containers"] = [container]
    if storage.volumes:
        spec["volumes"] = storage.volumes
    security = pod_security(svc, service, ctx)
    if security:
        spec["securityContext"] = security
    spec.update(pod_settings(svc, service, ctx))
    return {"template": {"metadata": pod_metadata(svc, service, ctx), "spec": spec},
            "claims": storage.claim_templates}


def _strategy(deploy: Mapping[str, Any], service: str, ctx: Context) -> dict[str, Any] | None:
    """deploy.update_config as a RollingUpdate (start-first surges, stop-first takes down first)."""
    update = deploy.get("update_config") or {}
    if not update:
        return None
    step = update.get("parallelism", 1)
    amount: int | str = "100%" if step == 0 else int(step)
    if update.get("order") == "start-first":
        rolling = {"maxSurge": amount, "maxUnavailable": 0}
    else:
        rolling = {"maxSurge": 0, "maxUnavailable": amount}
    for key in ("delay", "failure_action", "monitor", "max_failure_ratio"):
        if key in update:
            ctx.warn(service, f"deploy.update_config.{key}", "has no RollingUpdate equivalent; ignored")
    return {"type": "RollingUpdate", "rollingUpdate": rolling}


def _job_spec(svc: Mapping[str, Any], service: str, ctx: Context) -> dict[str, Any]:
    """backoffLimit from restart: on-failure:N or deploy.restart_policy.max_attempts."""
    restart = str(svc.get("restart") or "no")
    attempts = (svc.get("deploy") or {}).get("restart_policy", {}).get("max_attempts")
    if restart.startswith("on-failure:"):
        return {"backoffLimit": int(restart.split(":", 1)[1])}
    if attempts is not None:
        return {"backoffLimit": int(attempts)}
    return {"backoffLimit": 0 if restart == "no" else 6}


def workload(ctx: Context, service: str, the_plan: Plan) -> dict[str, Any]:
    """The controller object of one service."""
    svc, kind = ctx.services[service], the_plan.kinds[service]
    jobs = {s for s, k in the_plan.kinds.items() if k == "Job"}
    built = pod_template(ctx, service, kind, jobs, the_plan.templated.get(service, []))
    deploy = svc.get("deploy") or {}
    labels, notes = compose_labels(deploy.get("labels"), service, ctx, "deploy.labels")
    meta = ctx.meta(ctx.name(service), service)
    meta["labels"] = {**labels, **meta["labels"]}
    if notes:
        meta["annotations"] = notes
    spec: dict[str, Any] = {}
    if kind == "Job":
        spec.update(_job_spec(svc, service, ctx))
        if the_plan.replicas[service] != 1 and ctx.options.replicas_from_scale:
            # Compose runs every replica of a one-shot to its end: so must the Job.
            spec["completions"] = spec["parallelism"] = the_plan.replicas[service]
    else:
        spec["selector"] = {"matchLabels": ctx.selector(service)}
    if kind in ("Deployment", "StatefulSet") and ctx.options.replicas_from_scale:
        spec["replicas"] = the_plan.replicas[service]
    if kind == "StatefulSet":
        spec["serviceName"] = f"{ctx.name(service)}-headless"
        if built["claims"]:
            spec["volumeClaimTemplates"] = built["claims"]
    strategy = _strategy(deploy, service, ctx)
    if strategy and kind == "Deployment":
        spec["strategy"] = strategy
    elif strategy:
        ctx.warn(service, "deploy.update_config", f"only applied to Deployments, not a {kind}")
    if deploy.get("rollback_config"):
        ctx.warn(service, "deploy.rollback_config", "Kubernetes rolls back with `kubectl rollout undo`; ignored")
    spec["template"] = built["template"]
    api = "batch/v1" if kind == "Job" else "apps/v1"
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec}
