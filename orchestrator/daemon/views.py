"""What the API shows of containers: Compose's ``ps --format json`` rows and the inspect object."""

from __future__ import annotations

import shlex
import time
from typing import Any, Mapping

from engine.state import ContainerInfo
from orchestrator.reconciler.observed import ObservedContainer

__all__ = ["summary", "inspect_view", "status_text", "human_duration"]


def human_duration(seconds: float) -> str:
    """Docker's ``About a minute``-style durations, simplified."""
    s = int(max(0, seconds))
    if s < 1:
        return "Less than a second"
    if s < 60:
        return f"{s} second{'s' if s != 1 else ''}"
    if s < 3600:
        m = s // 60
        return "About a minute" if m == 1 else f"{m} minutes"
    h = s // 3600
    return "About an hour" if h == 1 else (f"{h} hours" if h < 48 else f"{h // 24} days")


def status_text(c: ObservedContainer, now: float) -> str:
    """``Up 3 seconds (healthy)``, ``Exited (1) 2 minutes ago``, ``Restarting (1) ...``, ``Created``."""
    if c.state in ("running", "paused"):
        text = f"Up {human_duration(now - c.started_at)}"
        if c.state == "paused":
            text += " (Paused)"
        elif c.health not in ("none", ""):
            text += f" ({'health: starting' if c.health == 'starting' else c.health})"
        return text
    if c.state == "restarting":
        return f"Restarting ({c.exit_code}) {human_duration(now - c.finished_at)} ago"
    if c.state in ("exited", "dead"):
        return f"Exited ({c.exit_code}) {human_duration(now - c.finished_at)} ago"
    return "Created"


def _command(info: ContainerInfo) -> str:
    spec = info.spec
    if spec is None:
        return ""
    argv = [*(spec.entrypoint or ()), *spec.command]
    return shlex.join(argv)


def summary(info: ContainerInfo, c: ObservedContainer, failed: str = "") -> dict[str, Any]:
    """One ``ps --format json`` row (Compose's field names)."""
    now = time.time()
    labels: Mapping[str, str] = info.labels
    state = "failed" if failed and c.state in ("exited", "dead") else c.state
    return {
        "ID": info.id, "Name": info.name, "Names": info.name, "Command": _command(info),
        "Project": c.project, "Service": c.service, "Number": c.number,
        "Image": labels.get("com.docker.compose.image", getattr(info.spec, "rootfs", "")),
        "CreatedAt": info.created_at, "RunningFor": f"{human_duration(now - c.created_at)} ago",
        "State": state, "Status": status_text(c, now), "Health": "" if c.health == "none" else c.health,
        "ExitCode": c.exit_code, "RestartCount": c.restart_count,
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "LocalVolumes": str(sum(1 for m in getattr(info.spec, "mounts", ()) if m.type == "volume")),
        "Mounts": ",".join(m.source for m in getattr(info.spec, "mounts", ()) if m.type == "volume"),
        "Networks": ",".join(n.network for n in getattr(info.spec, "networks", ())),
        "Ports": "", "Publishers": [], "Size": "0B", "StartedAt": c.started_at,
    }


def inspect_view(info: ContainerInfo, c: ObservedContainer, health: Mapping[str, Any] | None,
                 restart_count: int) -> dict[str, Any]:
    """``GET /containers/{id}``: the fields docs/api.md lists."""
    spec = info.spec
    return {
        "id": info.id, "name": info.name, "state": c.state, "exit_code": info.exit_code,
        "oom_killed": info.oom_killed, "error": info.error, "pid": info.pid,
        "health": {"status": c.health if c.health != "none" else "",
                   "failing_streak": (health or {}).get("failing_streak", 0),
                   "log": list((health or {}).get("log", []))},
        "restart_count": restart_count, "created_at": info.created_at, "started_at": info.started_at,
        "finished_at": info.finished_at,
        "networks": [n.network for n in getattr(spec, "networks", ())], "ports": [],
        "labels": dict(info.labels), "image": getattr(spec, "rootfs", ""),
    }
