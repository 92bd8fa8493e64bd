"""Events: one immutable record per lifecycle transition, in Compose's field names.

Every builder here is pure (the caller passes the time), so the daemon, the
tests and the MQTT bridge all agree on one shape: ``time, type, action, id,
project, service, number, attributes``.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Mapping

__all__ = [
    "Event", "Replica", "iso_time", "parse_time",
    "created", "started", "died", "killed", "stopped", "paused", "unpaused", "restarting",
    "health_status", "exec_create", "exec_die", "destroyed", "scaled", "recreated",
    "network_event", "volume_event", "pull_progress", "build_progress",
]

TYPES = ("container", "network", "volume", "image", "project", "service")


def iso_time(t: float) -> str:
    """Epoch seconds as ``2026-11-21T15:04:05.123456Z`` (what ``--json`` prints)."""
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | float | None, now: float) -> float | None:
    """Epoch seconds from a ``--since``/``--until`` value: epoch, RFC 3339, or a duration ago (``10m``)."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return float(text)
    try:
        return float(text)
    except ValueError:
        pass
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return now - float(text[:-1]) * units[text[-1]]
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid time {text!r}: use epoch seconds, RFC 3339 or a duration like 10m") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


@dataclasses.dataclass(frozen=True)
class Event:
    """One lifecycle transition; ``time`` is epoch seconds, ``to_json`` renders it for users."""

    time: float
    type: str
    action: str
    id: str = ""
    project: str = ""
    service: str = ""
    number: int = 0
    attributes: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown event type {self.type!r}")
        if not self.action:
            raise ValueError("an event needs an action")

    def to_json(self) -> dict[str, Any]:
        """The dict ``shoal events --json`` prints and MQTT carries (Compose's field names)."""
        return {"time": iso_time(self.time), "type": self.type, "action": self.action, "id": self.id,
                "project": self.project, "service": self.service, "number": self.number,
                "attributes": dict(self.attributes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Event":
        """Inverse of ``to_json`` (used when reading the history back)."""
        when = parse_time(data["time"], 0.0)
        return cls(time=when or 0.0, type=data["type"], action=data["action"], id=data.get("id", ""),
                   project=data.get("project", ""), service=data.get("service", ""),
                   number=int(data.get("number", 0)), attributes=dict(data.get("attributes") or {}))


@dataclasses.dataclass(frozen=True)
class Replica:
    """Which container an event is about: the stable slot plus the current container id and name."""

    project: str
    service: str
    number: int
    id: str = ""
    name: str = ""

    @property
    def container_name(self) -> str:
        """``<project>-<service>-<n>`` unless the service set its own name."""
        return self.name or f"{self.project}-{self.service}-{self.number}"


def _container(now: float, action: str, r: Replica, **attrs: Any) -> Event:
    """A container event with the name attribute Compose users expect."""
    attributes = {"name": r.container_name}
    attributes.update({k: v for k, v in attrs.items() if v is not None})
    return Event(now, "container", action, r.id, r.project, r.service, r.number, attributes)


def created(now: float, r: Replica, image: str = "") -> Event:
    """The container exists but has not started."""
    return _container(now, "create", r, image=image or None)


def started(now: float, r: Replica) -> Event:
    """PID 1 is running."""
    return _container(now, "start", r)


def died(now: float, r: Replica, exit_code: int, signal: str | None = None, oom: bool = False) -> Event:
    """PID 1 exited: with its code, the signal that killed it, and whether the OOM killer did."""
    return _container(now, "die", r, exitCode=exit_code, signal=signal, oomKilled=oom)


def killed(now: float, r: Replica, signal: str) -> Event:
    """A signal was sent to the container (``shoal kill``, or a stop's SIGKILL)."""
    return _container(now, "kill", r, signal=signal)


def stopped(now: float, r: Replica) -> Event:
    """The container was stopped on purpose."""
    return _container(now, "stop", r)


def paused(now: float, r: Replica) -> Event:
    """The container's cgroup was frozen."""
    return _container(now, "pause", r)


def unpaused(now: float, r: Replica) -> Event:
    """The container's cgroup was thawed."""
    return _container(now, "unpause", r)


def restarting(now: float, r: Replica, attempt: int, backoff: float) -> Event:
    """A restart policy fired: which attempt and how long the backoff chosen was."""
    return _container(now, "restart", r, attempt=attempt, backoff=round(backoff, 3))


def health_status(now: float, r: Replica, status: str, output: str = "") -> Event:
    """Health changed to healthy/unhealthy/starting; ``output`` is the failing probe's output."""
    if status not in ("healthy", "unhealthy", "starting"):
        raise ValueError(f"unknown health status {status!r}")
    return _container(now, "health_status", r, health_status=status, output=output[-4096:] or None)


def exec_create(now: float, r: Replica, exec_id: str, cmd: list[str]) -> Event:
    """An exec session started in the container."""
    return _container(now, "exec_create", r, execID=exec_id, command=" ".join(cmd))


def exec_die(now: float, r: Replica, exec_id: str, exit_code: int) -> Event:
    """An exec session ended."""
    return _container(now, "exec_die", r, execID=exec_id, exitCode=exit_code)


def destroyed(now: float, r: Replica) -> Event:
    """The container was removed; its replica slot is gone."""
    return _container(now, "destroy", r)


def scaled(now: float, project: str, service: str, before: int, after: int) -> Event:
    """The service's replica count changed."""
    return Event(now, "project", "scale", "", project, service, 0, {"from": before, "to": after})


def recreated(now: float, r: Replica, old_id: str, reason: str) -> Event:
    """The replica got a new container (config hash changed, ``--force-recreate``, unhealthy)."""
    return _container(now, "recreate", r, oldID=old_id, reason=reason)


def network_event(now: float, project: str, name: str, action: str, net_id: str = "") -> Event:
    """A network was created or removed."""
    if action not in ("create", "remove"):
        raise ValueError(f"unknown network action {action!r}")
    return Event(now, "network", action, net_id or name, project, "", 0, {"name": name})


def volume_event(now: float, project: str, name: str, action: str) -> Event:
    """A volume was created or removed."""
    if action not in ("create", "remove"):
        raise ValueError(f"unknown volume action {action!r}")
    return Event(now, "volume", action, name, project, "", 0, {"name": name})


def pull_progress(now: float, project: str, service: str, image: str, status: str,
                  current: int = 0, total: int = 0) -> Event:
    """Progress of an image pull (``status``: Pulling, Downloading, Pulled, Error)."""
    return Event(now, "image", "pull", image, project, service, 0,
                 {"name": image, "status": status, "current": current, "total": total})


def build_progress(now: float, project: str, service: str, image: str, status: str, step: str = "") -> Event:
    """Progress of an image build (``status``: Building, Built, Error; ``step`` the current one)."""
    return Event(now, "image", "build", image, project, service, 0,
                 {"name": image, "status": status, "step": step})
