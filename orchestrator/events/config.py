"""Where the MQTT settings come from: ``--mqtt URL``, ``SHOAL_MQTT_URL``, or ``$SHOAL_ROOT/daemon.json``.

The first one set wins, in that order. The URL carries scheme (``mqtt://`` or
``mqtts://``), optional ``user:password@``, host and port; ``daemon.json``'s
``mqtt`` key is either that URL or an object adding the topic prefix, QoS, TLS
files and the steering allow-list. Pure except ``load_config`` reading the file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import urllib.parse
from typing import Any, Mapping

from orchestrator.events.steering import SteeringPolicy

__all__ = ["MqttConfig", "TlsFiles", "parse_url", "load_config", "default_prefix"]

_KEYS = {"url", "prefix", "username", "password", "tls", "qos", "steering", "queue_size", "keepalive"}


@dataclasses.dataclass(frozen=True)
class TlsFiles:
    """CA bundle to trust (None = system store) and an optional client certificate and key."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None


@dataclasses.dataclass(frozen=True)
class MqttConfig:
    """Everything the bridge needs to connect and publish."""

    host: str
    port: int
    prefix: str
    username: str | None = None
    password: str | None = None
    tls: TlsFiles | None = None
    qos: int = 1
    steering: SteeringPolicy | None = None
    queue_size: int = 1000
    keepalive: int = 30


def default_prefix() -> str:
    """``shoal/<hostname>``: one subtree per device."""
    return f"shoal/{socket.gethostname()}"


def _check_prefix(prefix: str) -> str:
    """A topic prefix may not be empty, end in '/' or hold MQTT wildcards."""
    if not prefix or prefix.endswith("/") or prefix.startswith("/") or any(c in prefix for c in "+#\0"):
        raise ValueError(f"invalid MQTT topic prefix {prefix!r}")
    return prefix


def parse_url(url: str, prefix: str | None = None, tls: TlsFiles | None = None,
              **extra: Any) -> MqttConfig:
    """``mqtt[s]://[user[:password]@]host[:port]`` into a config (mqtts implies TLS)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"MQTT URL has no host: {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"MQTT URL takes no path or query (use the prefix setting): {url!r}")
    secure = parts.scheme == "mqtts"
    port = parts.port or (8883 if secure else 1883)
    username = urllib.parse.unquote(parts.username) if parts.username else extra.pop("username", None)
    password = urllib.parse.unquote(parts.password) if parts.password else extra.pop("password", None)
    extra.pop("username", None)
    extra.pop("password", None)
    if secure and tls is None:
        tls = TlsFiles()
    return MqttConfig(parts.hostname, port, _check_prefix(prefix or default_prefix()), username, password,
                      tls, **extra)


def _from_object(obj: Mapping[str, Any]) -> MqttConfig:
    """``daemon.json``'s ``mqtt`` object into a config."""
    unknown = set(obj) - _KEYS
    if unknown:
        raise ValueError(f"daemon.json mqtt: unknown keys {', '.join(sorted(unknown))}")
    if not isinstance(obj.get("url"), str):
        raise ValueError("daemon.json mqtt: 'url' (mqtt://host:port) is required")
    tls = obj.get("tls")
    tls_files = TlsFiles(tls.get("ca"), tls.get("cert"), tls.get("key")) if isinstance(tls, dict) else None
    steer = obj.get("steering")
    policy = None
    if isinstance(steer, dict) and steer.get("enabled", True):
        policy = SteeringPolicy.of(steer.get("projects", []), steer.get("actions", []))
    qos = int(obj.get("qos", 1))
    if qos not in (0, 1, 2):
        raise ValueError(f"daemon.json mqtt: qos must be 0, 1 or 2, got {qos}")
    extra = {k: obj[k] for k in ("username", "password", "queue_size", "keepalive") if k in obj}
    return parse_url(obj["url"], obj.get("prefix"), tls_files, qos=qos, steering=policy, **extra)


def _daemon_json(root: str) -> Any:
    """The ``mqtt`` value of ``<root>/daemon.json``, or None when absent."""
    path = os.path.join(root, "daemon.json")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    return data.get("mqtt") if isinstance(data, dict) else None


def load_config(cli_url: str | None = None, env: Mapping[str, str] | None = None,
                root: str | None = None) -> MqttConfig | None:
    """The daemon's MQTT config: ``--mqtt``, else ``SHOAL_MQTT_URL``, else ``daemon.json``; None if unset.

    A URL given on the command line or in the environment still takes the
    prefix, TLS files and steering policy from ``daemon.json`` when it has them.
    """
    env = os.environ if env is None else env
    root = root or env.get("SHOAL_ROOT", "/var/lib/shoal")
    file_value = _daemon_json(root)
    base = _from_object(file_value) if isinstance(file_value, dict) else None
    if isinstance(file_value, str):
        base = parse_url(file_value)
    url = cli_url or env.get("SHOAL_MQTT_URL")
    if not url:
        return base
    tls = base.tls if base is not None and url.startswith("mqtts:") else None
    cfg = parse_url(url, base.prefix if base else None, tls)
    if base is None:
        return cfg
    return dataclasses.replace(cfg, qos=base.qos, steering=base.steering, queue_size=base.queue_size,
                               keepalive=base.keepalive, username=cfg.username or base.username,
                               password=cfg.password or base.password)
