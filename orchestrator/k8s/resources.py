"""Compute resources: deploy.resources, mem_limit and cpus to container requests/limits."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from orchestrator.compose.units import parse_bytes

from .context import Context

__all__ = ["cpu_quantity", "memory_quantity", "container_resources"]


def cpu_quantity(cpus: Any) -> str:
    """CPUs (0.5, "1.5") as a Kubernetes quantity ("500m", "1500m", "2"); at least 1m."""
    milli = max(1, math.ceil(float(cpus) * 1000 - 1e-9))
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def memory_quantity(size: Any) -> str:
    """A byte size ("52428800", "64m") as the shortest exact quantity ("50Mi")."""
    value = parse_bytes(size)
    for suffix, mult in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if value and value % mult == 0:
            return f"{value // mult}{suffix}"
    return str(value)


def _side(raw: Mapping[str, Any] | None, service: str, ctx: Context, what: str) -> dict[str, str]:
    """One of limits/reservations to a Kubernetes resource list."""
    out: dict[str, str] = {}
    raw = raw or {}
    if raw.get("cpus") not in (None, "", 0, "0"):
        out["cpu"] = cpu_quantity(raw["cpus"])
    if raw.get("memory") not in (None, "", 0, "0"):
        out["memory"] = memory_quantity(raw["memory"])
    for key in ("pids", "devices", "generic_resources"):
        if raw.get(key):
            ctx.warn(service, f"deploy.resources.{what}.{key}",
                     "has no Kubernetes container resource equivalent; ignored")
    return out


def container_resources(svc: Mapping[str, Any], service: str, ctx: Context) -> dict[str, Any]:
    """requests/limits from deploy.resources, then mem_limit/mem_reservation/cpus if unset."""
    res = (svc.get("deploy") or {}).get("resources") or {}
    limits = _side(res.get("limits"), service, ctx, "limits")
    requests = _side(res.get("reservations"), service, ctx, "reservations")
    if "memory" not in limits and svc.get("mem_limit") not in (None, "", 0, "0"):
        limits["memory"] = memory_quantity(svc["mem_limit"])
    if "memory" not in requests and svc.get("mem_reservation") not in (None, "", 0, "0"):
        requests["memory"] = memory_quantity(svc["mem_reservation"])
    if "cpu" not in limits and svc.get("cpus") not in (None, "", 0, "0"):
        limits["cpu"] = cpu_quantity(svc["cpus"])
    for kind in ("cpu", "memory"):  # a request above the limit is rejected by the API server
        if kind in limits and kind in requests and _amount(requests[kind]) > _amount(limits[kind]):
            ctx.warn(service, "deploy.resources", f"{kind} reservation above the limit; lowered to it")
            requests[kind] = limits[kind]
    out: dict[str, Any] = {}
    if limits:
        out["limits"] = limits
    if requests:
        out["requests"] = requests
    return out


def _amount(quantity: str) -> float:
    """A quantity this module printed, as a number for comparison."""
    mults = {"m": 0.001, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
    for suffix, mult in mults.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * mult
    return float(quantity)
