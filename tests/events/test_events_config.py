"""MQTT settings from --mqtt, SHOAL_MQTT_URL or daemon.json, in that order."""

from __future__ import annotations

import json
import socket

import pytest

from orchestrator.events.config import MqttConfig, TlsFiles, load_config, parse_url


def test_parse_url_forms():
    c = parse_url("mqtt://broker.lan")
    assert (c.host, c.port, c.tls, c.username, c.qos) == ("broker.lan", 1883, None, None, 1)
    assert c.prefix == f"shoal/{socket.gethostname()}"
    s = parse_url("mqtts://dev%40shop:p%3Ass@10.0.0.2:9883", prefix="fleet/shop-12")
    assert (s.host, s.port, s.username, s.password, s.prefix) == ("10.0.0.2", 9883, "dev@shop", "p:ss", "fleet/shop-12")
    assert s.tls == TlsFiles()
    assert parse_url("mqtts://h").port == 8883


@pytest.mark.parametrize("url,prefix,msg", [
    ("http://h", None, "must start with mqtt"), ("mqtt://", None, "no host"), ("mqtt://h/topic", None, "no path"),
    ("mqtt://h", "shoal/#", "invalid MQTT topic prefix"), ("mqtt://h", "shoal/", "invalid MQTT topic prefix"),
])
def test_bad_urls_and_prefixes(url, prefix, msg):
    with pytest.raises(ValueError, match=msg):
        parse_url(url, prefix)


def test_precedence_cli_env_file(tmp_path):
    (tmp_path / "daemon.json").write_text(json.dumps({"mqtt": {
        "url": "mqtts://file-host:8884", "prefix": "fleet/a", "username": "u", "password": "p", "qos": 0,
        "tls": {"ca": "/etc/shoal/ca.pem", "cert": "/etc/shoal/dev.pem", "key": "/etc/shoal/dev.key"},
        "steering": {"projects": ["shop"], "actions": ["restart"]}}}))
    env = {"SHOAL_ROOT": str(tmp_path)}
    f = load_config(None, env)
    assert (f.host, f.port, f.prefix, f.qos, f.username) == ("file-host", 8884, "fleet/a", 0, "u")
    assert f.tls == TlsFiles("/etc/shoal/ca.pem", "/etc/shoal/dev.pem", "/etc/shoal/dev.key")
    assert f.steering is not None and f.steering.allows_project("shop") and f.steering.actions == {"restart"}
    e = load_config(None, dict(env, SHOAL_MQTT_URL="mqtt://env-host"))
    assert (e.host, e.port, e.prefix, e.tls, e.steering) == ("env-host", 1883, "fleet/a", None, f.steering)
    c = load_config("mqtts://cli-host", dict(env, SHOAL_MQTT_URL="mqtt://env-host"))
    assert (c.host, c.port, c.tls) == ("cli-host", 8883, f.tls)


def test_unset_string_form_and_errors(tmp_path):
    assert load_config(None, {"SHOAL_ROOT": str(tmp_path)}) is None
    (tmp_path / "daemon.json").write_text('{"mqtt": "mqtt://127.0.0.1:1999"}')
    assert load_config(None, {"SHOAL_ROOT": str(tmp_path)}).port == 1999
    (tmp_path / "daemon.json").write_text('{"mqtt": {"url": "mqtt://h", "topic": "x"}}')
    with pytest.raises(ValueError, match="unknown keys topic"):
        load_config(None, {"SHOAL_ROOT": str(tmp_path)})
    (tmp_path / "daemon.json").write_text('{"mqtt": ')
    with pytest.raises(ValueError, match="not valid JSON"):
        load_config(None, {"SHOAL_ROOT": str(tmp_path)})
    assert isinstance(load_config("mqtt://x", {"SHOAL_ROOT": str(tmp_path / "none")}), MqttConfig)
