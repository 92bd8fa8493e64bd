"""Replica state folded from events: what late MQTT subscribers see for each replica."""

from __future__ import annotations

import jsonschema

import events_stack as stack
from orchestrator.events import model as m
from orchestrator.events.state import ReplicaStates
from orchestrator.events.steering import load_schema

SCHEMA = jsonschema.Draft202012Validator(load_schema("state"))


def fold(states: ReplicaStates, events) -> dict:
    changed: dict = {}
    for e in events:
        changed.update(states.apply(e))
    for body in states.states.values():
        SCHEMA.validate(body)
    return changed


def test_stack_life():
    s = ReplicaStates()
    fold(s, stack.up())
    assert {k: v["state"] for k, v in s.states.items()} == {
        ("shop", "db", 1): "running", ("shop", "web", 1): "running", ("shop", "web", 2): "running"}
    assert s.states[("shop", "db", 1)]["health"] == "healthy"
    fold(s, stack.kill_web1())
    w1 = s.states[("shop", "web", 1)]
    assert (w1["state"], w1["exit_code"], w1["signal"], w1["oom_killed"]) == ("exited", 137, "SIGKILL", False)
    fold(s, stack.restart_web1())
    assert (s.states[("shop", "web", 1)]["state"], s.states[("shop", "web", 1)]["restart_count"]) == ("running", 1)
    changed = fold(s, stack.scale_web(2, 4))
    assert ("shop", "web", 4) in changed and len(s.states) == 5
    changed = fold(s, stack.scale_web(4, 1))
    assert changed[("shop", "web", 3)] is None and changed[("shop", "web", 2)] is None
    assert s.projects() == {"shop"}
    changed = fold(s, stack.down({"db": 1, "web": 1}))
    assert s.states == {} and set(changed) == {("shop", "db", 1), ("shop", "web", 1)}


def test_scale_down_clears_replicas_whose_destroy_was_lost():
    s = ReplicaStates()
    fold(s, stack.up())
    changed = s.apply(m.scaled(1.0, "shop", "web", 2, 0))
    assert changed == {("shop", "web", 1): None, ("shop", "web", 2): None}
    assert set(s.states) == {("shop", "db", 1)}


def test_new_container_in_same_slot_resets_health_and_exit():
    s = ReplicaStates()
    old = m.Replica("p", "api", 1, id="old")
    new = m.Replica("p", "api", 1, id="new")
    fold(s, [m.created(1.0, old), m.started(2.0, old), m.health_status(3.0, old, "unhealthy", "boom"),
             m.died(4.0, old, 1, oom=True), m.recreated(5.0, new, "old", "unhealthy"), m.created(5.0, new),
             m.started(6.0, new)])
    st = s.states[("p", "api", 1)]
    assert (st["id"], st["state"], st["health"], st["exit_code"], st["oom_killed"]) == \
           ("new", "running", "none", None, False)
    assert st["since"] == m.iso_time(6.0)


def test_pause_stop_and_ignored_events():
    s = ReplicaStates()
    r = m.Replica("p", "api", 1, id="c")
    fold(s, [m.created(1.0, r), m.started(2.0, r), m.paused(3.0, r)])
    assert s.states[("p", "api", 1)]["state"] == "paused"
    assert s.apply(m.exec_create(4.0, r, "e", ["ls"])) == {}
    assert s.apply(m.network_event(4.0, "p", "p_default", "create")) == {}
    fold(s, [m.unpaused(5.0, r), m.killed(6.0, r, "SIGTERM"), m.died(7.0, r, 0), m.stopped(8.0, r)])
    assert (s.states[("p", "api", 1)]["state"], s.states[("p", "api", 1)]["exit_code"]) == ("stopped", 0)


def test_daemon_shaped_events_scale_and_down():
    """The daemon's own dicts (``service/scale`` with ``replicas``, ``project/down``) fold the same way."""
    s = ReplicaStates()
    fold(s, stack.up() + stack.up("lab"))
    scale = m.Event.from_json({"time": "2026-11-21T15:04:05.000000Z", "type": "service", "action": "scale",
                               "id": "web", "project": "shop", "service": "web", "number": 0,
                               "attributes": {"replicas": 1}})
    assert s.apply(scale) == {("shop", "web", 2): None}
    down = m.Event.from_json({"time": "2026-11-21T15:04:06.000000Z", "type": "project", "action": "down",
                              "id": "shop", "project": "shop", "service": "", "number": 0, "attributes": {}})
    assert set(s.apply(down)) == {("shop", "db", 1), ("shop", "web", 1)}
    assert s.projects() == {"lab"}
