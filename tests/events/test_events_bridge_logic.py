"""The bridge's queues without a broker: states coalesce and are never dropped, events are bounded."""

from __future__ import annotations

import asyncio
import json

import pytest

import events_stack as stack
from orchestrator.events import model as m
from orchestrator.events.bus import EventBus
from orchestrator.events.config import parse_url
from orchestrator.events.mqtt import MqttBridge
from orchestrator.events.steering import SteeringPolicy


def bridge(**kw) -> MqttBridge:
    return MqttBridge(EventBus(), "mqtt://127.0.0.1:1", prefix="shoal/d", **kw)


def test_states_coalesce_events_bounded_and_counted():
    b = bridge(queue_size=5)
    r = m.Replica("shop", "web", 1, id="c1")
    for i in range(50):
        b.accept(m.restarting(float(i), r, attempt=i + 1, backoff=0.1))
    assert len(b._dirty) == 1 and b.states.states[("shop", "web", 1)]["restart_count"] == 50
    assert len(b._events) == 5 and b.dropped == 45
    assert [e.attributes["attempt"] for e in b._events] == [46, 47, 48, 49, 50]   # the newest are kept
    assert b.stats()["pending"] == 6


def test_topics():
    b = bridge()
    assert (b.status_topic, b.state_topic(("shop", "web", 2)), b.events_topic("shop"), b.events_topic(""),
            b.result_topic("shop")) == ("shoal/d/status", "shoal/d/shop/web/2/state", "shoal/d/shop/events",
                                        "shoal/d/_/events", "shoal/d/shop/cmd/result")


def test_steering_needs_an_executor_and_a_valid_url():
    with pytest.raises(ValueError, match="executor"):
        bridge(steering=SteeringPolicy.of(["shop"], ["restart"]))
    with pytest.raises(ValueError, match="mqtt://"):
        MqttBridge(EventBus(), "tcp://127.0.0.1")


def test_command_queue_overflow_and_duplicates_are_refused():
    async def executor(cmd):
        return None

    b = bridge(steering=SteeringPolicy.of(["shop"], ["restart"]), executor=executor)
    for ev in stack.up():
        b.accept(ev)
    for i in range(20):
        b.handle_command("shop", json.dumps({"id": f"c{i}", "action": "restart"}).encode())
    b.handle_command("shop", b'{"id": "c0", "action": "restart"}')
    b.handle_command("shop", b"")
    answers = [json.loads(p) for _, p in b._results]
    assert b._commands.qsize() == 16
    assert [a["id"] for a in answers] == ["c16", "c17", "c18", "c19", "c0"]
    assert answers[0]["message"] == "too many commands pending"
    assert answers[-1]["message"] == "duplicate command id 'c0'"


def test_stale_retained_state_detection():
    b = bridge()
    for ev in stack.up():
        b.accept(ev)
    b._dirty.clear()
    b._maybe_stale("shoal/d/shop/web/1/state", True)     # ours: kept
    b._maybe_stale("shoal/d/shop/web/9/state", True)     # gone: cleared
    b._maybe_stale("shoal/d/shop/web/x/state", True)     # not a replica number: ignored
    b._maybe_stale("shoal/d/shop/web/8/state", False)    # already cleared
    assert list(b._dirty) == [("shop", "web", 9)]


def test_from_config_keeps_everything():
    cfg = parse_url("mqtt://u:p@127.0.0.1:1884", prefix="fleet/x", qos=0, queue_size=7, keepalive=9)
    b = MqttBridge.from_config(EventBus(), cfg)
    assert (b.cfg.host, b.cfg.port, b.cfg.username, b.cfg.password, b.prefix, b.qos, b.queue_size,
            b.keepalive) == ("127.0.0.1", 1884, "u", "p", "fleet/x", 0, 7, 9)


def test_executor_failure_and_unserialisable_result_answered():
    async def main():
        async def executor(cmd):
            if cmd.service == "bad":
                raise LookupError("no such service 'bad'")
            return object()

        b = bridge(steering=SteeringPolicy.of(["shop"], ["restart"]), executor=executor)
        for ev in stack.up():
            b.accept(ev)
        task = asyncio.create_task(b._steer())
        b.handle_command("shop", b'{"id": "a", "action": "restart", "service": "bad"}')
        b.handle_command("shop", b'{"id": "b", "action": "restart", "service": "web"}')
        for _ in range(10):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return [json.loads(p) for _, p in b._results]

    a, b_ = asyncio.run(main())
    assert a == {"id": "a", "ok": False, "action": "restart", "service": "bad", "message": "no such service 'bad'"}
    assert b_ == {"id": "b", "ok": True, "action": "restart", "service": "web", "message": "done"}
