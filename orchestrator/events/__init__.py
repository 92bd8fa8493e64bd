"""Events: the lifecycle event model, the fan-out bus, the on-disk history and the MQTT bridge.

The daemon publishes every transition on an ``EventBus``; ``history.record``
keeps a bounded SQLite history for ``shoal events --since``; ``MqttBridge``
mirrors replica states and events to a broker and runs allowed steering
commands through an injected executor. Nothing here imports the daemon.
"""

from __future__ import annotations

from orchestrator.events.bus import EventBus, EventFilter, Subscription
from orchestrator.events.config import MqttConfig, TlsFiles, load_config, parse_url
from orchestrator.events.history import EventHistory, record
from orchestrator.events.model import Event, Replica, iso_time, parse_time
from orchestrator.events.state import ReplicaStates
from orchestrator.events.steering import SteeringCommand, SteeringPolicy
from orchestrator.events.wiring import publish_dict, start_mqtt

__all__ = ["Event", "Replica", "iso_time", "parse_time", "EventBus", "EventFilter", "Subscription",
           "EventHistory", "record", "ReplicaStates", "MqttConfig", "TlsFiles", "load_config", "parse_url",
           "SteeringCommand", "SteeringPolicy", "MqttBridge", "publish_dict", "start_mqtt"]


def __getattr__(name: str):  # aiomqtt is imported only by those who use the bridge
    if name == "MqttBridge":
        from orchestrator.events.mqtt import MqttBridge
        return MqttBridge
    raise AttributeError(name)
