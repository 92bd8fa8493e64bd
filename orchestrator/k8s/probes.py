"""Healthcheck to exec probes: liveness and readiness with the same timings, startup for start_period."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from orchestrator.compose.units import duration_seconds

from .context import Context

__all__ = ["probe_command", "container_probes", "DEFAULTS"]

# Docker's defaults when a healthcheck leaves a timing out.
DEFAULTS = {"interval": 30.0, "timeout": 30.0, "retries": 3, "start_interval": 5.0}


def probe_command(test: Any) -> list[str] | None:
    """The command a healthcheck test runs (None: no check). Strings run through the shell."""
    if isinstance(test, str):
        return ["/bin/sh", "-c", test] if test else None
    test = [str(t) for t in (test or [])]
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return test[1:] or None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])] if len(test) > 1 else None
    return ["/bin/sh", "-c", " ".join(test)]


def _seconds(raw: Mapping[str, Any], key: str) -> float:
    """A duration field, defaulted like Docker (a zero value means the default too)."""
    value = raw.get(key)
    seconds = duration_seconds(value) if value not in (None, "") else 0.0
    return seconds or DEFAULTS[key]


def _whole(seconds: float) -> int:
    """Seconds rounded up to the whole second probes count in (at least 1)."""
    return max(1, math.ceil(seconds - 1e-9))


def container_probes(svc: Mapping[str, Any], service: str, ctx: Context) -> dict[str, Any]:
    """livenessProbe, readinessProbe and (with start_period) startupProbe for a container."""
    hc = svc.get("healthcheck") or {}
    if not hc or hc.get("disable"):
        return {}
    command = probe_command(hc.get("test"))
    if command is None:
        if hc.get("test") is None:
            ctx.warn(service, "healthcheck", "no test given; the image's HEALTHCHECK is not "
                     "visible to Kubernetes, so no probe is generated")
        return {}
    interval = _seconds(hc, "interval")
    timeout = _seconds(hc, "timeout")
    retries = int(hc.get("retries") or DEFAULTS["retries"])
    for key, value in (("interval", interval), ("timeout", timeout)):
        if value != _whole(value):
            ctx.warn(service, f"healthcheck.{key}",
                     f"{value:g}s rounded up to {_whole(value)}s (probes count whole seconds)")
    probe = {
        "exec": {"command": command},
        "periodSeconds": _whole(interval),
        "timeoutSeconds": _whole(timeout),
        "failureThreshold": retries,
        "successThreshold": 1,
    }
    out: dict[str, Any] = {"livenessProbe": copy.deepcopy(probe), "readinessProbe": copy.deepcopy(probe)}
    start_period = duration_seconds(hc["start_period"]) if hc.get("start_period") else 0.0
    if start_period > 0:
        every = _whole(_seconds(hc, "start_interval"))
        # Failures during start_period don't count; after it, `retries` more are allowed.
        out["startupProbe"] = dict(
            copy.deepcopy(probe), periodSeconds=every,
            failureThreshold=math.ceil(start_period / every) + retries,
        )
    return out
