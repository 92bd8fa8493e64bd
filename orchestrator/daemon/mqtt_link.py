"""Optional MQTT link: daemon events go to ``orchestrator.events``' bus and bridge; steering runs ops.

Configured by ``SHOAL_MQTT_URL`` or ``<root>/daemon.json`` (see ``orchestrator.events.config``);
without a config nothing is imported or started. Steering commands reach the same
operations as the API (``up`` re-applies the stored project, ``down`` removes it).
"""

from __future__ import annotations

import logging
from typing import Any

from orchestrator.daemon.events import parse_time
from orchestrator.daemon.ops import Operations
from orchestrator.daemon.progress import Progress

__all__ = ["MqttLink", "to_event"]

log = logging.getLogger("shoald.mqtt")


def to_event(ev: dict[str, Any]) -> Any:
    """The daemon's event dict as an ``orchestrator.events.Event`` (None when it has no such type)."""
    from orchestrator.events.model import Event
    try:
        return Event(time=parse_time(ev["time"], 0) or 0.0, type=ev["type"], action=ev["action"],
                     id=ev.get("id", ""), project=ev.get("project", ""), service=ev.get("service", ""),
                     number=int(ev.get("number") or 0), attributes=dict(ev.get("attributes") or {}))
    except (ValueError, KeyError):
        return None


class MqttLink:
    """Owns the events bus and the MQTT bridge for one daemon."""

    def __init__(self, ops: Operations, cfg: Any) -> None:
        from orchestrator.events.bus import EventBus
        from orchestrator.events.mqtt import MqttBridge
        self.ops = ops
        self.bus = EventBus()
        self.bridge = MqttBridge.from_config(self.bus, cfg, executor=self.steer)

    @classmethod
    def from_environment(cls, ops: Operations, root: str) -> "MqttLink | None":
        from orchestrator.events.config import load_config
        cfg = load_config(root=root)
        return None if cfg is None else cls(ops, cfg)

    def forward(self, ev: dict[str, Any]) -> None:
        event = to_event(ev)
        if event is not None:
            self.bus.publish(event)

    async def steer(self, cmd: Any) -> dict[str, Any]:
        """Run one allowed steering command; the result line of the operation is the answer."""
        services = [cmd.service] if cmd.service else []
        progress = Progress()
        if cmd.action == "scale":
            return await self.ops.scale(cmd.project, {"scale": {cmd.service: cmd.replicas}}, progress)
        if cmd.action == "up":
            rec = self.ops.record(cmd.project)
            body = {"project": rec.project, "working_dir": rec.working_dir, "config_files": rec.config_files,
                    "options": {"services": services, "scale": rec.scale}}
            return await self.ops.up(cmd.project, body, progress)
        if cmd.action in ("restart", "stop", "start"):
            return await getattr(self.ops, cmd.action)(cmd.project, {"services": services}, progress)
        if cmd.action == "down":
            return await self.ops.down(cmd.project, {}, progress)
        return {"ok": False, "message": f"unsupported action {cmd.action}"}

    async def start(self) -> None:
        """Start the bridge, its replica states seeded from the event history (adopted replicas)."""
        await self.bridge.start()
        history = (to_event(e) for e in self.ops.db.events())
        self.bridge.seed(e for e in history if e is not None)

    async def stop(self) -> None:
        await self.bridge.stop()
        self.bus.close()
