"""depends_on kept: init containers that wait for healthy pods or a completed Job, and their RBAC."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .context import Context
from .names import dns_label

__all__ = ["WAIT_IMAGE", "waiter_account", "wait_containers", "rbac_objects"]

# kubectl, published by the Kubernetes project; its entrypoint is kubectl itself.
WAIT_IMAGE = "registry.k8s.io/kubectl:v1.33.0"
_WAITED = ("service_healthy", "service_completed_successfully")


def waiter_account(ctx: Context) -> str:
    """The ServiceAccount the waiting init containers run as."""
    return dns_label(f"{ctx.project_name}-wait", limit=63)


def _wait_for(ctx: Context, dep: str, condition: str, jobs: set[str]) -> list[str]:
    """The kubectl command that blocks until a dependency meets its condition."""
    if condition == "service_completed_successfully" and dep in jobs:
        return ["kubectl", "wait", "--for=condition=Complete", f"job/{ctx.name(dep)}", "--timeout=-1s"]
    selector = ",".join(f"{k}={v}" for k, v in ctx.selector(dep).items())
    return ["kubectl", "wait", "--for=condition=Ready", "pod", f"--selector={selector}", "--timeout=-1s"]


def wait_containers(svc: Mapping[str, Any], service: str, ctx: Context,
                    jobs: set[str]) -> list[dict[str, Any]]:
    """Init containers for service_healthy / service_completed_successfully dependencies."""
    out, started = [], []
    for dep, spec in (svc.get("depends_on") or {}).items():
        spec = spec or {}
        condition = spec.get("condition") or "service_started"
        if dep not in ctx.services:
            continue
        if condition not in _WAITED:
            started.append(dep)
            continue
        if condition == "service_completed_successfully" and dep not in jobs:
            ctx.warn(service, "depends_on", f"{dep!r} is not converted to a Job; waiting for its "
                     "pods to be ready instead of for completion")
        if spec.get("restart"):
            ctx.warn(service, "depends_on", f"restart: true on {dep!r} cannot be expressed; "
                     "pods are not restarted when it restarts")
        out.append({
            "name": dns_label(f"wait-for-{ctx.name(dep)}"),
            "image": WAIT_IMAGE,
            "command": _wait_for(ctx, dep, condition, jobs),
        })
    if started:
        ctx.warn(service, "depends_on", f"start order after {', '.join(started)} "
                 "(service_started) is not kept: Kubernetes starts all pods at once")
    return out


def rbac_objects(ctx: Context) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding letting the init containers watch pods and Jobs."""
    name = waiter_account(ctx)
    namespace = ctx.options.namespace
    if not namespace:
        namespace = "default"
        ctx.warn("", "depends_on", "the RoleBinding for waiting init containers names the "
                 "namespace 'default'; pass --namespace to apply elsewhere")
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]},
    ]
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": ctx.meta(name)},
        {"apiVersion": rbac, "kind": "Role", "metadata": ctx.meta(name), "rules": rules},
        {"apiVersion": rbac, "kind": "RoleBinding", "metadata": ctx.meta(name),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]},
    ]
