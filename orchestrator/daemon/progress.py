"""Progress lines for streamed operations, from executor events and plan information."""

from __future__ import annotations

import asyncio
from typing import Any

from dataclasses import dataclass

from orchestrator.reconciler.actions import (Action, CreateContainer, CreateNetwork, CreateVolume, DependencyFailed,
                                             MarkFailed, RemoveContainer, RemoveNetwork, RemoveVolume,
                                             ReplaceUnhealthy, RestartContainer, StartContainer,
                                             StopContainer, WaitFor, Warn)
from orchestrator.reconciler.executor import ExecEvent

__all__ = ["Progress", "line_of", "BecameHealthy"]

_WORDS = {
    CreateContainer: ("Creating", "Started"), StartContainer: ("Starting", "Started"),
    StopContainer: ("Stopping", "Stopped"), RemoveContainer: ("Removing", "Removed"),
    RestartContainer: ("Restarting", "Started"), ReplaceUnhealthy: ("Recreating", "Started"),
    CreateNetwork: ("Creating", "Created"), CreateVolume: ("Creating", "Created"),
    RemoveNetwork: ("Removing", "Removed"), RemoveVolume: ("Removing", "Removed"),
}


@dataclass(frozen=True, slots=True)
class BecameHealthy(Action):
    """Not a plan action: a replica's health check passed (shown as ``Healthy`` to open operations)."""

    service: str = ""
    name: str = ""

    @property
    def key(self) -> str:
        return self.name


def line_of(ev: ExecEvent) -> dict[str, Any] | None:
    """The progress line for one executor event (None: nothing to show)."""
    a = ev.action
    service = getattr(a, "service", "")
    if ev.kind == "info":
        if isinstance(a, WaitFor):
            return {"type": "progress", "id": a.service, "service": a.service, "status": "Waiting",
                    "message": f"waiting for {a.dependency} ({a.condition})"}
        if isinstance(a, (DependencyFailed, MarkFailed)):
            return {"type": "progress", "id": a.key, "service": service, "status": "Error",
                    "message": getattr(a, "message", "") or getattr(a, "reason", "")}
        if isinstance(a, Warn):
            return {"type": "warning", "message": a.message}
        if isinstance(a, BecameHealthy):
            return {"type": "progress", "id": a.name, "service": a.service, "status": "Healthy", "message": ""}
        return None
    words = _WORDS.get(type(a))
    if words is None:
        return None
    if ev.kind == "error":
        return {"type": "progress", "id": a.key, "service": service, "status": "Error", "message": ev.message}
    status = words[0] if ev.kind == "start" else words[1]
    if isinstance(a, CreateContainer) and ev.kind == "done" and not a.start:
        status = "Created"
    return {"type": "progress", "id": a.key, "service": service, "status": status, "message": ""}


class Progress:
    """Collects lines for a streamed response; errors are kept for the final result."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self._waiting: set[str] = set()

    def send(self, line: dict[str, Any]) -> None:
        self.queue.put_nowait(line)

    def event(self, ev: ExecEvent) -> None:
        """The executor/reconciler callback."""
        line = line_of(ev)
        if line is None:
            return
        if line.get("status") == "Error":
            text = f"{line['id']}: {line['message']}"
            if text in self.errors:
                return
            self.errors.append(text)
        if line.get("type") == "warning":
            if line["message"] in self.warnings:
                return
            self.warnings.append(line["message"])
        if line.get("status") == "Waiting":
            key = line["message"] + line["id"]
            if key in self._waiting:
                return
            self._waiting.add(key)
        self.send(line)
