"""Replica state folded from events: what the retained ``.../<n>/state`` topics carry.

Pure: ``ReplicaStates.apply(event)`` returns the slots whose state changed
(``None`` for a slot that no longer exists), so the MQTT bridge publishes or
clears exactly those and can republish everything after a reconnect.
"""

from __future__ import annotations

from typing import Any, Callable

from orchestrator.events.model import Event, iso_time

__all__ = ["ReplicaStates", "Slot", "STATES"]

Slot = tuple[str, str, int]
STATES = ("created", "running", "paused", "restarting", "exited", "stopped")

_TRANSITIONS = {"create": "created", "start": "running", "pause": "paused", "unpause": "running",
                "restart": "restarting", "stop": "stopped"}


class ReplicaStates:
    """The current state of every replica the events have mentioned, keyed by ``(project, service, n)``."""

    def __init__(self) -> None:
        self.states: dict[Slot, dict[str, Any]] = {}

    def projects(self) -> set[str]:
        """Projects with at least one replica."""
        return {slot[0] for slot in self.states}

    def apply(self, ev: Event) -> dict[Slot, dict[str, Any] | None]:
        """Fold ``ev`` in; return the changed slots with their new state (None = removed)."""
        if ev.type in ("project", "service") and ev.action == "scale":
            return self._scale_down(ev)
        if ev.type == "project" and ev.action == "down":
            return self._drop(lambda slot: slot[0] == ev.project)
        if ev.type != "container" or not ev.project or not ev.service or ev.number < 1:
            return {}
        slot = (ev.project, ev.service, ev.number)
        if ev.action == "destroy":
            return {slot: None} if self.states.pop(slot, None) is not None else {}
        if ev.action in ("exec_create", "exec_die", "kill"):
            return {}
        state = self.states.get(slot) or _fresh(ev)
        state = _next(state, ev)
        self.states[slot] = state
        return {slot: state}

    def _scale_down(self, ev: Event) -> dict[Slot, dict[str, Any] | None]:
        """Replicas numbered above the new count are gone even if their destroy event was lost.

        Takes shoal's ``project/scale`` (``to``) and the daemon's ``service/scale`` (``replicas``).
        """
        target = ev.attributes.get("to", ev.attributes.get("replicas"))
        service = ev.service or ev.id
        if not isinstance(target, int) or isinstance(target, bool):
            return {}
        return self._drop(lambda slot: slot[0] == ev.project and slot[1] == service and slot[2] > target)

    def _drop(self, gone: Callable[[Slot], bool]) -> dict[Slot, dict[str, Any] | None]:
        """Forget the replicas ``gone`` selects; they are reported as removed."""
        slots = [slot for slot in self.states if gone(slot)]
        for slot in slots:
            del self.states[slot]
        return {slot: None for slot in slots}


def _fresh(ev: Event) -> dict[str, Any]:
    """A replica's first state, before any transition."""
    return {"project": ev.project, "service": ev.service, "number": ev.number, "id": ev.id,
            "name": ev.attributes.get("name", f"{ev.project}-{ev.service}-{ev.number}"),
            "image": "", "state": "created", "health": "none", "exit_code": None, "signal": None,
            "oom_killed": False, "restart_count": 0, "since": iso_time(ev.time), "updated": iso_time(ev.time)}


def _next(old: dict[str, Any], ev: Event) -> dict[str, Any]:
    """The state after ``ev`` (a new dict; the old one is never mutated)."""
    new = dict(old, updated=iso_time(ev.time))
    attrs = ev.attributes
    if ev.id and ev.id != old["id"]:
        new.update(id=ev.id, health="none", since=iso_time(ev.time))
    if ev.action == "create":
        new.update(image=attrs.get("image", old["image"]), exit_code=None, signal=None, oom_killed=False)
    if ev.action == "die":
        new.update(state="exited", exit_code=attrs.get("exitCode"), signal=attrs.get("signal"),
                   oom_killed=bool(attrs.get("oomKilled", False)), health="none")
    elif ev.action in _TRANSITIONS:
        new["state"] = _TRANSITIONS[ev.action]
    if ev.action == "start":
        new.update(exit_code=None, signal=None, oom_killed=False)
    if ev.action == "restart":
        new.update(restart_count=old["restart_count"] + 1)
    if ev.action == "health_status":
        new["health"] = attrs.get("health_status", old["health"])
    if ev.action == "recreate":
        new.update(restart_count=0, health="none")
    if new["state"] != old["state"]:
        new["since"] = iso_time(ev.time)
    return new
