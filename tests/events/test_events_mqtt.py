"""The MQTT bridge against a real Mosquitto on 127.0.0.1: retained states, events, auth, restarts, last will."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import aiomqtt
import jsonschema
import pytest

import events_stack as stack
from conftest import Watcher, free_port, retained_snapshot
from orchestrator.events import model as m
from orchestrator.events.bus import EventBus
from orchestrator.events.mqtt import MqttBridge
from orchestrator.events.steering import load_schema

REPO = pathlib.Path(__file__).resolve().parents[2]
PREFIX = "shoal/dev1"
STATE_SCHEMA = jsonschema.Draft202012Validator(load_schema("state"))
EVENT_SCHEMA = jsonschema.Draft202012Validator(load_schema("event"))
FAST = {"backoff": (0.05, 0.3), "timeout": 2.0}


def run(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def state_topic(service: str, n: int, project: str = "shop") -> str:
    return f"{PREFIX}/{project}/{service}/{n}/state"


async def feed(bus: EventBus, bridge: MqttBridge, events) -> None:
    for ev in events:
        bus.publish(ev)
    assert await bridge.flush(5), bridge.stats()


async def states_seen_by_late_joiner(port: int, **auth) -> dict[str, dict]:
    snap = await retained_snapshot(port, f"{PREFIX}/#", **auth)
    states = {t: json.loads(p) for t, p in snap.items() if t.endswith("/state")}
    for body in states.values():
        STATE_SCHEMA.validate(body)
    assert snap.get(f"{PREFIX}/status") == b"online"
    return states


def test_retained_states_follow_up_kill_restart_scale_down(broker):
    async def main():
        bus = EventBus()
        bridge = MqttBridge(bus, broker.url, prefix=PREFIX, **FAST)
        await bridge.start()
        await asyncio.wait_for(bridge.connected.wait(), 5)

        await feed(bus, bridge, stack.up())
        states = await states_seen_by_late_joiner(broker.port)
        assert set(states) == {state_topic("db", 1), state_topic("web", 1), state_topic("web", 2)}
        assert states[state_topic("web", 1)]["state"] == "running"
        assert states[state_topic("db", 1)]["health"] == "healthy"
        assert states[state_topic("db", 1)]["image"] == "db:1"

        await feed(bus, bridge, stack.kill_web1())
        web1 = (await states_seen_by_late_joiner(broker.port))[state_topic("web", 1)]
        assert (web1["state"], web1["exit_code"], web1["signal"]) == ("exited", 137, "SIGKILL")

        await feed(bus, bridge, stack.restart_web1())
        web1 = (await states_seen_by_late_joiner(broker.port))[state_topic("web", 1)]
        assert (web1["state"], web1["restart_count"], web1["exit_code"]) == ("running", 1, None)

        await feed(bus, bridge, stack.scale_web(2, 3))
        states = await states_seen_by_late_joiner(broker.port)
        assert states[state_topic("web", 3)]["state"] == "running"

        await feed(bus, bridge, stack.scale_web(3, 1))
        states = await states_seen_by_late_joiner(broker.port)
        assert set(states) == {state_topic("db", 1), state_topic("web", 1)}

        await feed(bus, bridge, stack.down({"db": 1, "web": 1}))
        assert await states_seen_by_late_joiner(broker.port) == {}

        await bridge.stop()
        snap = await retained_snapshot(broker.port, f"{PREFIX}/#")
        assert snap == {f"{PREFIX}/status": b"offline"}
        assert bridge.stats()["dropped"] == 0
    run(main())


def test_events_stream_in_order_and_not_retained(broker):
    async def main():
        bus = EventBus()
        bridge = MqttBridge(bus, broker.url, prefix=PREFIX, **FAST)
        await bridge.start()
        await asyncio.wait_for(bridge.connected.wait(), 5)
        sent = stack.up() + stack.kill_web1()
        async with Watcher(broker.port, f"{PREFIX}/shop/events") as w:
            await feed(bus, bridge, sent)
            await w.wait_for(lambda: len(w.messages) == len(sent))
        got = [json.loads(p) for p in w.on(f"{PREFIX}/shop/events")]
        for body in got:
            EVENT_SCHEMA.validate(body)
        assert [(e["action"], e["service"], e["number"]) for e in got] == \
               [(e.action, e.service, e.number) for e in sent]
        die = got[-1]
        assert die["attributes"]["exitCode"] == 137 and die["attributes"]["signal"] == "SIGKILL"
        snap = await retained_snapshot(broker.port, f"{PREFIX}/shop/events")
        assert snap == {}
        await bridge.stop()
    run(main())


def test_password_broker_accepts_the_right_user_only(auth_broker):
    async def main():
        auth = {"username": "shoal", "password": "s3cret pass"}
        bus = EventBus()
        good = MqttBridge(bus, f"mqtt://shoal:s3cret%20pass@127.0.0.1:{auth_broker.port}", prefix=PREFIX, **FAST)
        bad = MqttBridge(bus, f"mqtt://127.0.0.1:{auth_broker.port}", prefix="shoal/intruder",
                         username="shoal", password="wrong", **FAST)
        await good.start()
        await bad.start()
        await asyncio.wait_for(good.connected.wait(), 5)
        await feed(bus, good, stack.up())
        states = await states_seen_by_late_joiner(auth_broker.port, **auth)
        assert len(states) == 3
        await asyncio.sleep(0.5)
        assert not bad.connected.is_set() and bad.connects == 0
        snap = await retained_snapshot(auth_broker.port, "shoal/#", **auth)
        assert not any(t.startswith("shoal/intruder") for t in snap)
        await good.stop()
        await bad.stop()
    run(main())


def test_broker_restart_loses_no_retained_state(broker):
    async def main():
        bus = EventBus()
        bridge = MqttBridge(bus, broker.url, prefix=PREFIX, **FAST)
        await bridge.start()
        await asyncio.wait_for(bridge.connected.wait(), 5)
        await feed(bus, bridge, stack.up())

        await asyncio.to_thread(broker.stop)      # no persistence: the broker forgets every retained message
        for _ in range(100):
            if not bridge.connected.is_set():
                break
            await asyncio.sleep(0.02)
        for ev in stack.kill_web1() + stack.scale_web(2, 1):   # the stack lives on while the broker is away
            bus.publish(ev)
        await asyncio.sleep(0.3)
        await asyncio.to_thread(broker.start)

        for _ in range(250):
            if bridge.connects >= 2 and bridge.connected.is_set():
                break
            await asyncio.sleep(0.02)
        assert bridge.connects >= 2
        assert await bridge.flush(5)
        states = await states_seen_by_late_joiner(broker.port)
        assert set(states) == {state_topic("db", 1), state_topic("web", 1)}
        assert states[state_topic("web", 1)]["state"] == "exited"
        assert states[state_topic("db", 1)]["health"] == "healthy"
        await bridge.stop()
    run(main())


def _silent_listener() -> tuple[socket.socket, int]:
    """A port that accepts TCP but never answers MQTT (a hung broker)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s, s.getsockname()[1]


async def _publish_timed(bus: EventBus, events) -> tuple[float, float]:
    """(seconds spent inside publish, seconds overall including letting subscribers run)."""
    inside = 0.0
    start = time.perf_counter()
    for ev in events:
        t = time.perf_counter()
        bus.publish(ev)
        inside += time.perf_counter() - t
        await asyncio.sleep(0)
    return inside, time.perf_counter() - start


@pytest.mark.parametrize("kind", ["refused", "hung"])
def test_unreachable_broker_does_not_slow_publishing(kind):
    events = [m.started(float(i), m.Replica("shop", "web", 1 + i % 50, id=f"c{i}")) for i in range(1000)]

    async def main():
        baseline_bus = EventBus()
        base_inside, base_total = await _publish_timed(baseline_bus, events)

        listener = None
        if kind == "hung":
            listener, port = _silent_listener()
        else:
            port = free_port()
        bus = EventBus()
        bridge = MqttBridge(bus, f"mqtt://127.0.0.1:{port}", prefix=PREFIX, queue_size=100, **FAST)
        await bridge.start()
        await asyncio.sleep(0.1)            # let it try (and fail, or hang) to connect first
        inside, total = await _publish_timed(bus, events)
        await asyncio.sleep(0)
        stats = bridge.stats()
        t = time.perf_counter()
        await bridge.stop(timeout=0.5)
        stop_time = time.perf_counter() - t
        if listener:
            listener.close()
        return base_inside, base_total, inside, total, stats, stop_time

    base_inside, base_total, inside, total, stats, stop_time = run(main())
    assert not stats["connected"]
    assert inside / len(events) < 20e-6, inside            # each publish call stays a few microseconds
    assert total < base_total + 0.1, (total, base_total)    # 1000 events: at most 0.1 s more than no bridge
    assert stats["dropped"] == 900            # the event queue holds 100; the rest counted as dropped
    assert stop_time < 1.5


LAST_WILL_CHILD = """
import asyncio, sys
import events_stack as stack
from orchestrator.events.bus import EventBus
from orchestrator.events.mqtt import MqttBridge

async def main():
    bus = EventBus()
    bridge = MqttBridge(bus, sys.argv[1], prefix=sys.argv[2], keepalive=5)
    await bridge.start()
    await asyncio.wait_for(bridge.connected.wait(), 10)
    for ev in stack.up():
        bus.publish(ev)
    assert await bridge.flush(5)
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def test_last_will_offline_when_daemon_is_sigkilled(broker):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests" / "events")]))

    async def main():
        async with Watcher(broker.port, f"{PREFIX}/#") as w:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-c", LAST_WILL_CHILD, broker.url, PREFIX, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                line = await asyncio.wait_for(child.stdout.readline(), 15)
                assert line == b"ready\n", (line, await child.stderr.read())
                await w.wait_for(lambda: w.retained.get(f"{PREFIX}/status") == b"online" and len(w.states()) == 3)
                t = time.monotonic()
                child.send_signal(signal.SIGKILL)
                await child.wait()
                await w.wait_for(lambda: w.retained.get(f"{PREFIX}/status") == b"offline", timeout=5)
                seen_after = time.monotonic() - t
            finally:
                if child.returncode is None:
                    child.kill()
                    await child.wait()
        snap = await retained_snapshot(broker.port, f"{PREFIX}/#")
        assert snap[f"{PREFIX}/status"] == b"offline"
        assert len([t for t in snap if t.endswith("/state")]) == 3   # last known states stay for the operator
        return seen_after

    assert run(main()) < 3.0


def test_daemon_restart_clears_replicas_removed_while_it_was_away(broker):
    async def main():
        async with aiomqtt.Client("127.0.0.1", broker.port) as c:   # left by the previous daemon run
            for topic in (state_topic("web", 5), state_topic("old", 1, project="gone"), state_topic("web", 1)):
                await c.publish(topic, b'{"state": "running"}', qos=1, retain=True)
        bus = EventBus()
        bridge = MqttBridge(bus, broker.url, prefix=PREFIX, **FAST)
        bridge.seed(stack.up())                   # what the daemon re-adopted on start
        await bridge.start()
        await asyncio.wait_for(bridge.connected.wait(), 5)
        for _ in range(50):
            await asyncio.sleep(0.02)
            assert await bridge.flush(5)
        states = await states_seen_by_late_joiner(broker.port)
        await bridge.stop()
        return states, bridge.stats()

    states, stats = run(main())
    assert set(states) == {state_topic("db", 1), state_topic("web", 1), state_topic("web", 2)}
    assert states[state_topic("web", 1)]["state"] == "running" and states[state_topic("web", 1)]["id"]
    assert stats["published"] == 5          # 3 states + 2 clears; seeded history is not re-sent as events


def test_mqtts_with_client_certificate(tls_broker):
    from orchestrator.events.config import TlsFiles
    certs = tls_broker.certs
    watcher_tls = {"tls_params": aiomqtt.TLSParameters(ca_certs=certs["ca"], certfile=certs["client_cert"],
                                                       keyfile=certs["client_key"])}

    async def main():
        bus = EventBus()
        url = f"mqtts://127.0.0.1:{tls_broker.port}"
        good = MqttBridge(bus, url, prefix=PREFIX, tls=TlsFiles(certs["ca"], certs["client_cert"],
                                                                certs["client_key"]), **FAST)
        no_cert = MqttBridge(bus, url, prefix="shoal/nocert", tls=TlsFiles(certs["ca"]), **FAST)
        await good.start()
        await no_cert.start()
        await asyncio.wait_for(good.connected.wait(), 10)
        await feed(bus, good, stack.up())
        states = await states_seen_by_late_joiner(tls_broker.port, **watcher_tls)
        await asyncio.sleep(0.3)
        refused = not no_cert.connected.is_set() and no_cert.connects == 0
        await good.stop()
        await no_cert.stop()
        return states, refused

    states, refused = run(main())
    assert len(states) == 3 and states[state_topic("db", 1)]["health"] == "healthy"
    assert refused


def test_frozen_broker_does_not_block_and_catches_up_when_it_thaws(broker):
    async def main():
        bus = EventBus()
        bridge = MqttBridge(bus, broker.url, prefix=PREFIX, **FAST)
        await bridge.start()
        await asyncio.wait_for(bridge.connected.wait(), 5)
        await feed(bus, bridge, stack.up())
        os.kill(broker.proc.pid, signal.SIGSTOP)              # a broker that stops answering mid-stream
        try:
            t = time.perf_counter()
            for ev in stack.kill_web1() * 200 + stack.restart_web1():
                bus.publish(ev)
                await asyncio.sleep(0)
            publishing = time.perf_counter() - t
            await asyncio.sleep(0.5)
        finally:
            os.kill(broker.proc.pid, signal.SIGCONT)
        assert await bridge.flush(15), bridge.stats()
        states = await states_seen_by_late_joiner(broker.port)
        await bridge.stop()
        return publishing, states

    publishing, states = run(main(), timeout=40)
    assert publishing < 0.5
    web1 = states[state_topic("web", 1)]
    assert (web1["state"], web1["restart_count"]) == ("running", 1)


def test_daemon_wiring_from_environment(broker, tmp_path):
    from orchestrator.events.wiring import publish_dict, start_mqtt

    async def main():
        bus = EventBus()
        env = {"SHOAL_ROOT": str(tmp_path), "SHOAL_MQTT_URL": broker.url}
        (tmp_path / "daemon.json").write_text(json.dumps({"mqtt": {"url": "mqtt://ignored:1", "prefix": PREFIX}}))
        assert await start_mqtt(bus, None, {"SHOAL_ROOT": str(tmp_path / "none")}) is None
        bridge = await start_mqtt(bus, None, env, seed=stack.up())
        await asyncio.wait_for(bridge.connected.wait(), 5)
        publish_dict(bus, {"time": "2026-11-21T15:04:05.000000Z", "type": "container", "action": "die",
                           "id": "x", "project": "shop", "service": "web", "number": 2,
                           "attributes": {"name": "shop-web-2", "exitCode": 3, "oomKilled": True}})
        publish_dict(bus, {"type": "container"})          # malformed: logged, not published
        assert await bridge.flush(5)
        states = await states_seen_by_late_joiner(broker.port)
        await bridge.stop()
        return states

    states = run(main())
    web2 = states[state_topic("web", 2)]
    assert (web2["state"], web2["exit_code"], web2["oom_killed"], web2["id"]) == ("exited", 3, True, "x")
    assert len(states) == 3


def test_operator_watches_two_devices_with_mosquitto_sub(broker):
    mosquitto_sub = shutil.which("mosquitto_sub")
    if mosquitto_sub is None:
        pytest.skip("needs mosquitto_sub (apt-get install mosquitto-clients)")

    async def main():
        bridges = []
        for device, project in (("shoal/kiosk-1", "shop"), ("shoal/kiosk-2", "lab")):
            bus = EventBus()
            b = MqttBridge(bus, broker.url, prefix=device, **FAST)
            await b.start()
            await asyncio.wait_for(b.connected.wait(), 5)
            await feed(bus, b, stack.up(project))
            bridges.append(b)
        await bridges[1].stop()                  # kiosk-2 shuts down cleanly
        sub = await asyncio.create_subprocess_exec(
            mosquitto_sub, "-h", "127.0.0.1", "-p", str(broker.port), "-v", "-t", "shoal/#", "-W", "1",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, _ = await sub.communicate()
        await bridges[0].stop()
        assert [b.connects for b in bridges] == [1, 1]      # distinct client ids: nobody kicked off
        return out.decode()

    lines = dict(line.split(" ", 1) for line in run(main()).splitlines())
    assert lines["shoal/kiosk-1/status"] == "online" and lines["shoal/kiosk-2/status"] == "offline"
    assert json.loads(lines["shoal/kiosk-1/shop/db/1/state"])["health"] == "healthy"
    assert json.loads(lines["shoal/kiosk-2/lab/web/2/state"])["state"] == "running"
    assert len([t for t in lines if t.endswith("/state")]) == 6
