"""Steering over a real broker: allowed commands run once and are answered; everything else is refused."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import jsonschema

import events_stack as stack
from conftest import Watcher
from orchestrator.events.bus import EventBus
from orchestrator.events.mqtt import MqttBridge
from orchestrator.events.steering import SteeringCommand, SteeringPolicy, load_schema

PREFIX = "shoal/dev1"
RESULT_SCHEMA = jsonschema.Draft202012Validator(load_schema("cmd-result"))
FAST = {"backoff": (0.05, 0.3), "timeout": 2.0}


def run(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Recorder:
    """The injected executor: records what it was asked and answers like a service layer would."""

    def __init__(self) -> None:
        self.calls: list[SteeringCommand] = []

    async def __call__(self, cmd: SteeringCommand):
        self.calls.append(cmd)
        if cmd.action == "restart" and cmd.service == "broken":
            raise RuntimeError("service 'broken' not found in project shop")
        return {"service": cmd.service, "replicas": cmd.replicas}


async def _send(port: int, topic: str, payload: bytes, retain: bool = False) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as c:
        await c.publish(topic, payload, qos=1, retain=retain)


async def _steered_bridge(port: int, policy: SteeringPolicy | None, executor) -> tuple[EventBus, MqttBridge]:
    bus = EventBus()
    bridge = MqttBridge(bus, f"mqtt://127.0.0.1:{port}", prefix=PREFIX, steering=policy, executor=executor,
                        **FAST)
    await bridge.start()
    await asyncio.wait_for(bridge.connected.wait(), 5)
    for ev in stack.up("shop") + stack.up("lab"):          # the daemon knows shop and lab
        bus.publish(ev)
    assert await bridge.flush(5)
    return bus, bridge


def test_allowed_and_refused_commands(broker):
    policy = SteeringPolicy.of(["shop"], ["scale", "restart"])
    ex = Recorder()
    cases = {
        "ok": (b'{"id": "c1", "action": "scale", "service": "web", "replicas": 3}', "shop"),
        "fails": (b'{"id": "c2", "action": "restart", "service": "broken"}', "shop"),
        "bad json": (b'{"id": "c3", "action": ', "shop"),
        "unknown project": (b'{"id": "c4", "action": "restart"}', "ghost"),
        "project not allowed": (b'{"id": "c5", "action": "restart"}', "lab"),
        "action not allowed": (b'{"id": "c6", "action": "stop"}', "shop"),
        "extra field": (b'{"id": "c7", "action": "up", "file": "/etc/passwd"}', "shop"),
        "path service": (b'{"id": "c8", "action": "restart", "service": "../../etc/shadow"}', "shop"),
        "command line": (b'{"id": "c9", "action": "restart", "service": "web; rm -rf /"}', "shop"),
        "oversized": (json.dumps({"id": "c10", "action": "restart", "service": "w" * 2000}).encode(), "shop"),
        "duplicate": (b'{"id": "c1", "action": "scale", "service": "web", "replicas": 3}', "shop"),
    }

    async def main():
        # left retained on the broker before the daemon connects: it must not run now or on any reconnect
        await _send(broker.port, f"{PREFIX}/shop/cmd", b'{"id": "c11", "action": "restart"}', retain=True)
        async with Watcher(broker.port, f"{PREFIX}/+/cmd/result") as w:
            _, bridge = await _steered_bridge(broker.port, policy, ex)
            await _send(broker.port, f"{PREFIX}/shop/cmd", b"", retain=True)   # cleared: not a command
            for payload, project in cases.values():
                await _send(broker.port, f"{PREFIX}/{project}/cmd", payload)
            await w.wait_for(lambda: len(w.messages) == len(cases) + 1)
            await asyncio.sleep(0.2)
        await bridge.stop()
        return w

    w = run(main())
    answers = []
    for msg in w.messages:
        body = json.loads(msg.payload)
        RESULT_SCHEMA.validate(body)
        answers.append((str(msg.topic).split("/")[2], body))
    oks = [b for _, b in answers if b["ok"]]
    assert oks == [{"id": "c1", "ok": True, "action": "scale", "service": "web", "message": "done",
                    "result": {"service": "web", "replicas": 3}}]
    refused = {b["id"]: b["message"] for _, b in answers if not b["ok"] and b["id"]}
    assert "not found" in refused["c2"]                  # the executor's own failure comes back too
    assert "duplicate" in refused["c1"]                  # a redelivered id does not run twice
    assert refused["c4"] == "steering not allowed for project 'ghost'"
    assert refused["c5"] == "steering not allowed for project 'lab'"
    assert refused["c6"] == "action 'stop' not allowed"
    assert "unexpected field" in refused["c7"] and "file" in refused["c7"]
    assert "not allowed" in refused["c8"] and "not allowed" in refused["c9"]
    assert "retained" in refused["c11"]
    assert sorted(b["message"] for _, b in answers if b["id"] is None) == \
           ["command is not valid UTF-8 JSON", "command larger than 1024 bytes"]
    assert [(c.project, c.action, c.service, c.replicas) for c in ex.calls] == \
           [("shop", "scale", "web", 3), ("shop", "restart", "broken", None)]
    assert {p for p, b in answers if b["id"] == "c4"} == {"ghost"}    # answered on the project's own topic


def test_known_but_unlisted_project_with_wildcard_policy(broker):
    ex = Recorder()

    async def main():
        _, bridge = await _steered_bridge(broker.port, SteeringPolicy.of(["*"], ["restart"]), ex)
        async with Watcher(broker.port, f"{PREFIX}/+/cmd/result") as w:
            await _send(broker.port, f"{PREFIX}/lab/cmd", b'{"id": "a", "action": "restart", "service": "db"}')
            await _send(broker.port, f"{PREFIX}/ghost/cmd", b'{"id": "b", "action": "restart"}')
            await w.wait_for(lambda: len(w.messages) == 2)
        await bridge.stop()
        return {json.loads(m.payload)["id"]: json.loads(m.payload) for m in w.messages}

    got = run(main())
    assert got["a"]["ok"] is True
    assert got["b"] == {"id": "b", "ok": False, "message": "unknown project 'ghost'"}
    assert [(c.project, c.service) for c in ex.calls] == [("lab", "db")]


def test_steering_off_by_default_nothing_answered_nothing_run(broker):
    async def main():
        _, bridge = await _steered_bridge(broker.port, None, None)
        async with Watcher(broker.port, f"{PREFIX}/#") as w:
            await _send(broker.port, f"{PREFIX}/shop/cmd", b'{"id": "x", "action": "down"}')
            await asyncio.sleep(0.5)
        await bridge.stop()
        return [str(m.topic) for m in w.messages]

    topics = run(main())
    assert f"{PREFIX}/shop/cmd" in topics                  # the command did reach the broker...
    assert not any(t.endswith("/cmd/result") for t in topics)   # ...and nobody acted on it
