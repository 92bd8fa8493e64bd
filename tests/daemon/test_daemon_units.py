"""shoald's pure and file-level parts without root: state DB, HTTP framing, progress, helpers."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from orchestrator.daemon.adopt import half_created
from orchestrator.daemon.events import EventBus, parse_time
from orchestrator.daemon.http import HttpError, NdjsonStream, read_request
from orchestrator.daemon.probes import probe_argv
from orchestrator.daemon.progress import Progress, line_of
from orchestrator.daemon.state import MAX_EVENTS, ProjectRecord, SlotRecord, StateDB
from orchestrator.daemon.views import human_duration, status_text
from orchestrator.reconciler.actions import CreateContainer, DependencyFailed, StopContainer, WaitFor, Warn
from orchestrator.reconciler.executor import ExecEvent
from orchestrator.reconciler.observed import ObservedContainer
from orchestrator.reconciler.restart import RestartHistory


@pytest.fixture
def db(tmp_path):
    d = StateDB(str(tmp_path / "shoald.db"))
    yield d
    d.close()


def test_projects_round_trip_and_survive_reopen(tmp_path, db):
    rec = ProjectRecord("p", {"name": "p", "services": {"a": {"image": "x"}}}, "/w", ["/w/c.yaml"], {"a": 3},
                        "up", ["b"])
    db.put_project(rec)
    db.close()
    again = StateDB(str(tmp_path / "shoald.db"))
    assert again.get_project("p") == rec
    again.set_status("p", "stopped")
    again.set_scale("p", {"a": 1})
    got = again.get_project("p")
    assert (got.status, got.scale) == ("stopped", {"a": 1})
    again.delete_project("p")
    assert again.projects() == []
    again.close()


def test_slots_keep_restart_history_and_flags(db):
    hist = RestartHistory(exit_code=3, restart_count=2, backoff=0.2, restart_times=(1.0, 2.0))
    db.put_slot(SlotRecord("p-a-1", "p", "a", hist, True, "gave up", {"status": "unhealthy"}))
    got = db.slots("p")["p-a-1"]
    assert got.restart == hist and got.manually_stopped and got.failed == "gave up"
    assert got.health == {"status": "unhealthy"}
    db.delete_slots(["p-a-1"])
    assert db.slots("p") == {}


def test_newer_schema_is_refused(tmp_path):
    path = str(tmp_path / "s.db")
    d = StateDB(path)
    d.db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    d.close()
    with pytest.raises(RuntimeError, match="newer"):
        StateDB(path)


def test_events_filter_by_time_project_and_are_bounded(db):
    for i in range(5):
        db.add_event({"project": "p" if i % 2 else "q", "service": "s", "action": str(i)}, 100.0 + i)
    assert [e["action"] for e in db.events(since=101, until=103)] == ["1", "2", "3"]
    assert [e["action"] for e in db.events(project="p")] == ["1", "3"]
    for i in range(MAX_EVENTS + 10):
        db.db.execute("INSERT INTO events (time, project, service, body) VALUES (?,?,?,?)",
                      (200.0, "", "", json.dumps({"n": i})))
    db.prune_events(200.0)
    assert len(db.events()) == MAX_EVENTS
    db.prune_events(200.0 + 8 * 86400)
    assert db.events() == []


def test_event_bus_fans_out_and_records(db):
    async def main():
        bus = EventBus(db, lambda: 1_700_000_000.5)
        q = bus.subscribe()
        bus.emit("container", "die", "abc", "p", "s", 1, exitCode=3)
        ev = q.get_nowait()
        bus.unsubscribe(q)
        bus.emit("container", "start", "abc", "p", "s", 1)
        return ev, q.qsize()
    ev, left = asyncio.run(main())
    assert ev["time"] == "2023-11-14T22:13:20.500000Z" and ev["attributes"] == {"exitCode": 3}
    assert left == 0
    assert [e["action"] for e in db.events(project="p")] == ["die", "start"]


def test_parse_time_forms():
    assert parse_time("", 1000.0) is None
    assert parse_time("12.5", 1000.0) == 12.5
    assert parse_time("10m", 1000.0) == 400.0
    assert parse_time("2023-11-14T22:13:20Z", 0) == 1_700_000_000.0
    with pytest.raises(ValueError):
        parse_time("yesterday", 0)


def _parse(raw: bytes):
    async def main():
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await read_request(reader)
    return asyncio.run(main())


def test_request_parsing():
    req = _parse(b"POST /projects/p%20x/up?all=1&services=a,b HTTP/1.1\r\nContent-Length: 7\r\n"
                 b"Content-Type: application/json\r\n\r\n{\"a\":1}")
    assert (req.method, req.path) == ("POST", "/projects/p x/up")
    assert req.flag("all") and req.csv("services") == ["a", "b"] and req.json() == {"a": 1}
    assert _parse(b"") is None
    with pytest.raises(HttpError):
        _parse(b"garbage\r\n\r\n")
    bad = _parse(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n[1]")
    with pytest.raises(HttpError, match="object"):
        bad.json()


def test_ndjson_stream_is_chunked():
    class W:
        def __init__(self):
            self.data = b""

        def write(self, b):
            self.data += b

        async def drain(self):
            pass

    w = W()

    async def main():
        s = NdjsonStream(w)
        await s.send({"a": 1})
        await s.end()
    asyncio.run(main())
    head, body = w.data.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding: chunked" in head and b"application/x-ndjson" in head
    assert body == b'9\r\n{"a": 1}\n\r\n0\r\n\r\n'


def test_progress_lines_and_errors():
    create = CreateContainer("web", 1, "p-web-1")
    assert line_of(ExecEvent("start", create))["status"] == "Creating"
    assert line_of(ExecEvent("done", create))["status"] == "Started"
    assert line_of(ExecEvent("done", StopContainer("web", 1, "p-web-1")))["status"] == "Stopped"
    p = Progress()
    p.event(ExecEvent("info", WaitFor("web", "db", "service_healthy")))
    p.event(ExecEvent("info", WaitFor("web", "db", "service_healthy")))
    p.event(ExecEvent("info", DependencyFailed("web", "db", "dependency failed to start")))
    p.event(ExecEvent("info", DependencyFailed("web", "db", "dependency failed to start")))
    p.event(ExecEvent("info", Warn("orphans")))
    assert p.queue.qsize() == 3
    assert p.errors == ["web: dependency failed to start"] and p.warnings == ["orphans"]


def test_probe_argv():
    assert probe_argv(("CMD", "pg_isready", "-q")) == ["pg_isready", "-q"]
    assert probe_argv(("CMD-SHELL", "curl -f x || exit 1")) == ["/bin/sh", "-c", "curl -f x || exit 1"]


def test_status_text():
    c = ObservedContainer("i", "n", state="running", started_at=100.0, health="starting")
    assert status_text(c, 105.0) == "Up 5 seconds (health: starting)"
    assert status_text(c.with_(state="exited", exit_code=2, finished_at=40.0), 100.0) == \
        "Exited (2) About a minute ago"
    assert human_duration(7200) == "2 hours"


def test_half_created_finds_dirs_without_state(tmp_path):
    for name, files in (("a", ["config.json", "state.json"]), ("b", ["config.json"]), ("c", [])):
        os.makedirs(tmp_path / name)
        for f in files:
            (tmp_path / name / f).write_text("{}")
    assert half_created(str(tmp_path)) == ["b", "c"]


def test_unhealthy_replicas_leave_port_backends_until_none_is_left():
    from types import SimpleNamespace

    from orchestrator.daemon.netwire import Networking

    class FakeNM:
        def __init__(self):
            self.pub = SimpleNamespace(key="*:80/tcp", backends=(("a", "ip1"), ("b", "ip2")), active=("a", "b"))

        def publications(self, cid=None):
            return [self.pub] if cid in (None, "a", "b") else []

        def set_backends(self, key, active):
            self.pub = SimpleNamespace(key=key, backends=self.pub.backends, active=tuple(active))

    class FakeRegistry:
        def __init__(self):
            self.healthy = {}

        def set_healthy(self, cid, healthy):
            self.healthy[cid] = healthy

    net = object.__new__(Networking)
    net.nm, net.registry, net._unhealthy = FakeNM(), FakeRegistry(), set()
    net.set_healthy("a", False)
    assert net.nm.pub.active == ("b",) and net.registry.healthy == {"a": False}
    net.set_healthy("b", False)
    assert net.nm.pub.active == ("a", "b")  # nobody healthy: keep serving rather than refuse
    net.set_healthy("a", True)
    assert net.nm.pub.active == ("a",)


def test_network_config_from_compose():
    from orchestrator.compose.model import Network, Port
    from orchestrator.daemon.netwire import network_config, port_bindings
    cfg = network_config("p_back", Network.from_dict({
        "internal": True, "ipam": {"config": [{"subnet": "10.123.0.0/24", "gateway": "10.123.0.1"}]},
        "labels": {"a": "b"}}))
    assert cfg.internal and cfg.ipam[0].subnet == "10.123.0.0/24" and cfg.ipam[0].gateway == "10.123.0.1"
    assert cfg.labels == (("a", "b"),)
    binds = port_bindings([Port(target=80, published="8080-8082", host_ip="127.0.0.1"), Port(target=9)])
    assert [(b.container_port, b.host_ip, b.host_port, b.host_port_end) for b in binds] == \
        [(80, "127.0.0.1", 8080, 8082)]


def test_events_convert_for_the_mqtt_bridge():
    from orchestrator.daemon.mqtt_link import to_event
    ev = to_event({"time": "2023-11-14T22:13:20.500000Z", "type": "container", "action": "die", "id": "c",
                   "project": "p", "service": "s", "number": 2, "attributes": {"exitCode": 1}})
    assert (ev.time, ev.action, ev.number, dict(ev.attributes)) == (1_700_000_000.5, "die", 2, {"exitCode": 1})
    assert to_event({"time": "0", "type": "nonsense", "action": "x"}) is None


def test_state_watcher_reports_changes_with_names(tmp_path):
    from orchestrator.daemon.watch import StateWatcher
    calls = []
    w = StateWatcher(str(tmp_path), lambda cid, before, after: calls.append(
        (cid, before and before.state, after and (after.state, after.name, after.project, after.number))))
    d = tmp_path / "abc"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"name": "p-web-2", "spec": {"labels": [
        ["com.docker.compose.project", "p"], ["com.docker.compose.container-number", "2"]]}}))
    (d / "state.json").write_text('{"state": "running"}')
    w.scan()
    w.scan()  # nothing changed: nothing reported
    (d / "state.json").write_text('{"state": "exited"}')
    os.utime(d / "state.json", ns=(1, 1))
    w.scan()
    (d / "state.json").unlink()
    w.scan()
    assert calls == [("abc", None, ("running", "p-web-2", "p", 2)), ("abc", "running", ("exited", "p-web-2", "p", 2)),
                     ("abc", "exited", None)]


def test_shoal_daemon_command_parses_the_daemon_flags():
    import argparse

    from orchestrator.cli import daemon_cmd
    parser = argparse.ArgumentParser()
    daemon_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["daemon", "--root", "/r", "--run-dir", "/x", "--networking", "none"])
    assert (args.root, args.run_dir, args.networking, args.log_level) == ("/r", "/x", "none", "info")
    assert args.func is daemon_cmd.run


def test_daemon_config_defaults_from_environment(monkeypatch):
    from orchestrator.daemon.app import DaemonConfig
    monkeypatch.setenv("SHOAL_ROOT", "/tmp/r")
    monkeypatch.setenv("SHOAL_RUN", "/tmp/x")
    cfg = DaemonConfig().resolved()
    assert (cfg.root, cfg.run_dir, cfg.socket) == ("/tmp/r", "/tmp/x", "/tmp/x/shoald.sock")
    assert DaemonConfig(root="/a", run_dir="/b").resolved().socket == "/b/shoald.sock"
