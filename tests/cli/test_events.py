"""`shoal events`: JSON lines, compose's text form, filters."""

from __future__ import annotations

import json

from orchestrator.cli.events_cmd import format_event


def test_events_json_and_text(cli, fake):
    fake.events = [{"time": "2026-11-21T15:04:05.123456Z", "type": "container", "action": "start",
                    "id": "abc", "project": "demo", "service": "web", "attributes": {"name": "demo-web-1"}},
                   {"time": "2026-11-21T15:04:06.000000Z", "type": "container", "action": "die",
                    "id": "def", "project": "demo", "service": "db", "attributes": {"exitCode": 1}}]
    lines = cli("events", "--json").stdout.splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["start", "die"]
    q = fake.calls("GET", "/events")[-1].query
    assert q["project"] == "demo" and q["follow"] == "1"
    assert cli("events", "web").stdout == \
        "2026-11-21 15:04:05.123456 container start abc (name=demo-web-1, service=web)\n"
    cli("events", "--since", "1h", "--until", "2026-11-22T00:00:00Z")
    q = fake.calls("GET", "/events")[-1].query
    assert q["since"] == "1h" and q["until"] == "2026-11-22T00:00:00Z" and "follow" not in q


def test_format_event_without_attributes():
    assert format_event({"time": "2026-11-21T15:04:05Z", "type": "network", "action": "create",
                         "id": "demo_default"}) == "2026-11-21 15:04:05 network create demo_default"

