"""Event shapes: Compose's field names, one builder per lifecycle transition, schema-valid JSON."""

from __future__ import annotations

import jsonschema
import pytest

from orchestrator.events import model as m
from orchestrator.events.steering import load_schema

R = m.Replica("shop", "web", 2, id="abc123")
T = 1_763_737_445.123456
SCHEMA = jsonschema.Draft202012Validator(load_schema("event"))


def all_kinds() -> list[m.Event]:
    return [
        m.created(T, R, image="nginx:1.27"), m.started(T, R), m.died(T, R, 137, signal="SIGKILL", oom=True),
        m.killed(T, R, "SIGTERM"), m.stopped(T, R), m.paused(T, R), m.unpaused(T, R),
        m.restarting(T, R, attempt=3, backoff=0.4), m.health_status(T, R, "unhealthy", "curl: (7) refused"),
        m.exec_create(T, R, "e1", ["sh", "-c", "ls"]), m.exec_die(T, R, "e1", 2), m.destroyed(T, R),
        m.scaled(T, "shop", "web", 2, 5), m.recreated(T, R, "old1", "config changed"),
        m.network_event(T, "shop", "shop_default", "create"), m.volume_event(T, "shop", "shop_data", "remove"),
        m.pull_progress(T, "shop", "web", "nginx:1.27", "Downloading", 10, 100),
        m.build_progress(T, "shop", "api", "shop-api", "Building", "RUN make"),
    ]


def test_to_json_uses_compose_field_names_and_utc_microseconds():
    ev = m.started(T, R).to_json()
    assert list(ev) == ["time", "type", "action", "id", "project", "service", "number", "attributes"]
    assert ev["time"] == "2025-11-21T15:04:05.123456Z"
    assert (ev["type"], ev["action"], ev["id"], ev["service"], ev["number"]) == ("container", "start", "abc123",
                                                                                  "web", 2)
    assert ev["attributes"] == {"name": "shop-web-2"}


@pytest.mark.parametrize("ev", all_kinds(), ids=lambda e: f"{e.type}-{e.action}")
def test_every_kind_is_schema_valid_and_round_trips(ev):
    body = ev.to_json()
    SCHEMA.validate(body)
    back = m.Event.from_json(body)
    assert back.to_json() == body
    assert abs(back.time - ev.time) < 1e-6


def test_die_carries_exit_code_signal_and_oom():
    attrs = m.died(T, R, 137, signal="SIGKILL", oom=True).attributes
    assert (attrs["exitCode"], attrs["signal"], attrs["oomKilled"]) == (137, "SIGKILL", True)
    assert "signal" not in m.died(T, R, 0).attributes


def test_restart_attempt_and_backoff_and_health_probe_output():
    assert dict(m.restarting(T, R, 2, 0.80001).attributes) == {"name": "shop-web-2", "attempt": 2, "backoff": 0.8}
    h = m.health_status(T, R, "unhealthy", "x" * 5000).attributes
    assert h["health_status"] == "unhealthy" and len(h["output"]) == 4096
    with pytest.raises(ValueError):
        m.health_status(T, R, "sick")


def test_bad_types_and_actions_refused():
    with pytest.raises(ValueError):
        m.Event(T, "plugin", "start")
    with pytest.raises(ValueError):
        m.network_event(T, "p", "n", "connect")


@pytest.mark.parametrize("text,expected", [
    ("1763737445.5", 1763737445.5), ("10m", 1000.0 - 600), ("90s", 910.0),
    ("2025-11-21T15:04:05Z", 1763737445.0), ("2025-11-21T15:04:05", 1763737445.0), ("", None),
])
def test_parse_time(text, expected):
    assert m.parse_time(text, now=1000.0) == expected


def test_parse_time_refuses_garbage():
    with pytest.raises(ValueError, match="invalid time"):
        m.parse_time("yesterday", 0.0)
