"""What the daemon calls: publish its event dicts on the bus, and start the MQTT bridge when configured."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Iterable, Mapping

from orchestrator.events.bus import EventBus
from orchestrator.events.config import load_config
from orchestrator.events.model import Event

__all__ = ["publish_dict", "start_mqtt"]

log = logging.getLogger(__name__)


def publish_dict(bus: EventBus, event: Mapping[str, Any]) -> None:
    """Publish one event given as its JSON dict (what the daemon's ``EventBus.emit`` builds); bad ones are logged."""
    try:
        bus.publish(Event.from_json(event))
    except (KeyError, TypeError, ValueError) as exc:
        log.error("event not published (%s): %r", exc, event)


async def start_mqtt(bus: EventBus, cli_url: str | None, env: Mapping[str, str] | None = None,
                     executor: Any = None, known_projects: Callable[[], Iterable[str]] | None = None,
                     seed: Iterable[Event] = ()) -> Any:
    """Start the bridge if ``--mqtt``, ``SHOAL_MQTT_URL`` or ``daemon.json`` configure one; else None.

    ``seed`` is the replicas' current state as events (what the daemon re-adopted), so retained states
    are right from the first connection and stale ones are cleared. A config error is raised, so
    ``shoal daemon`` refuses to start with a broken ``--mqtt`` rather than silently running without it.
    """
    cfg = load_config(cli_url, env)
    if cfg is None:
        return None
    from orchestrator.events.mqtt import MqttBridge   # aiomqtt only when MQTT is configured
    if cfg.steering is not None and executor is None:
        log.warning("mqtt: steering configured but this daemon has no executor for it; steering off")
        cfg = dataclasses.replace(cfg, steering=None)
    bridge = MqttBridge.from_config(bus, cfg, executor=executor, known_projects=known_projects)
    bridge.seed(seed)
    await bridge.start()
    log.info("mqtt: publishing to %s:%d under %s", cfg.host, cfg.port, cfg.prefix)
    return bridge
