"""The other verbs through the socket: run, logs, exec (plain and upgraded), top, stats, pause, kill, rm, wait, events."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest

from daemon_helpers import load

pytestmark = pytest.mark.root

STACK = """
services:
  app:
    image: busybox:latest
    command: ["sh", "-c", "echo hello from app; echo oops >&2; exec sleep 1000"]
    stop_grace_period: 1s
  one:
    image: busybox:latest
    command: ["sh", "-c", "sleep 0.3; exit 7"]
"""


def _up(daemon, tmp_path):
    body = load(str(tmp_path), "vb", STACK)
    body["options"] = {"services": ["app"]}
    assert daemon.client.op("vb", "up", body)["ok"]
    return daemon.client.request("GET", "/projects/vb/containers")[0]


def test_logs_exec_top_stats(daemon, tmp_path):
    app = _up(daemon, tmp_path)
    time.sleep(0.3)
    lines = daemon.client.request("GET", "/projects/vb/logs", services="app")
    assert [(ln["stream"], ln["line"].strip()) for ln in lines] == [("stdout", "hello from app"), ("stderr", "oops")]
    assert lines[0]["container"] == "vb-app-1" and lines[0]["service"] == "app"
    assert daemon.client.request("GET", f"/containers/{app['ID']}/logs", tail=1)[0]["line"].strip() == "oops"
    out = daemon.client.request("POST", f"/containers/{app['ID']}/exec",
                                {"cmd": ["sh", "-c", "echo $X; id -u; exit 4"], "env": ["X=42"], "user": "1000"})
    assert (out["exit_code"], out["stdout"].split()) == (4, ["42", "1000"])
    top = daemon.client.request("GET", f"/containers/{app['ID']}/top")
    assert any("sleep 1000" in p[-1] for p in top["processes"])
    stats = daemon.client.request("GET", f"/containers/{app['ID']}/stats", stream=0)
    assert stats["memory_usage"] > 0 and stats["pids"] >= 1
    version = daemon.client.request("GET", "/version")
    assert version["api_version"] and version["cgroup_version"] in (1, 2)
    projects = daemon.client.request("GET", "/projects")
    assert projects == [{"name": "vb", "status": "running(1)", "config_files": projects[0]["config_files"],
                         "working_dir": str(tmp_path), "desired": "up"}]


def test_exec_upgrade_passes_stdin(daemon, tmp_path):
    app = _up(daemon, tmp_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(20)
    sock.connect(daemon.socket)
    body = json.dumps({"cmd": ["sh", "-c", "tr a-z A-Z; exit 3"], "stdin": True}).encode()
    sock.sendall(b"POST /containers/%s/exec HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" %
                 (app["ID"].encode(), len(body), body))
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    sock.sendall(b"shout\n")
    sock.shutdown(socket.SHUT_WR)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    sock.close()
    text = data.decode()
    assert "SHOUT" in text
    assert json.loads(text.strip().splitlines()[-1]) == {"exit_code": 3}


def test_pause_kill_rm_and_events_follow(daemon, tmp_path):
    seen: list[dict] = []

    def follow():
        try:
            for ev in daemon.client.stream("GET", "/events", project="vb"):
                seen.append(ev)
                if ev["action"] == "destroy":
                    return
        except Exception:
            pass
    t = threading.Thread(target=follow, daemon=True)
    t.start()
    time.sleep(0.2)
    app = _up(daemon, tmp_path)
    assert daemon.client.op("vb", "pause", {})["ok"]
    assert daemon.client.request("GET", f"/containers/{app['ID']}")["state"] == "paused"
    assert daemon.client.op("vb", "unpause", {})["ok"]
    assert daemon.client.op("vb", "kill", {"signal": "SIGKILL"})["ok"]
    deadline = time.monotonic() + 10
    while daemon.client.request("GET", f"/containers/{app['ID']}")["state"] != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(2.5)  # killed by the user: no restart policy, nothing recreates it
    assert daemon.client.request("GET", f"/containers/{app['ID']}")["state"] == "exited"
    assert daemon.client.op("vb", "rm", {"services": ["app"]})["ok"]
    assert daemon.client.request("GET", "/projects/vb/containers", all=1) == []
    t.join(10)
    actions = [e["action"] for e in seen]
    for a in ("create", "start", "pause", "unpause", "kill", "die", "destroy"):
        assert a in actions, (a, actions)


def test_run_one_off_and_wait(daemon, tmp_path):
    _up(daemon, tmp_path)
    made = daemon.client.request("POST", "/projects/vb/run",
                                 {"service": "one", "command": ["sh", "-c", "echo ran; exit 5"], "rm": False})
    assert made["name"].startswith("vb-one-run-") and len(made["name"]) == len("vb-one-run-") + 12
    deadline = time.monotonic() + 10
    while daemon.client.request("GET", f"/containers/{made['id']}")["state"] != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    info = daemon.client.request("GET", f"/containers/{made['id']}")
    assert info["exit_code"] == 5 and info["labels"]["com.docker.compose.oneoff"] == "True"
    logs = daemon.client.request("GET", f"/containers/{made['id']}/logs")
    assert logs[0]["line"].strip() == "ran"
    # the one-off is no replica: ps without -a shows only the service's own containers
    assert [r["Name"] for r in daemon.client.request("GET", "/projects/vb/containers")] == ["vb-app-1"]
    body = load(str(tmp_path), "vb", STACK)
    body["options"] = {"services": ["one"]}
    assert daemon.client.op("vb", "up", body)["ok"]
    assert daemon.client.request("POST", "/projects/vb/wait", {"services": ["one"]})["exit_code"] == 7


def test_down_rmi_all_removes_the_service_images(daemon, tmp_path):
    _up(daemon, tmp_path)
    down = daemon.client.op("vb", "down", {"timeout": 1, "rmi": "all"})
    assert down["ok"], down
    assert ("image busybox:latest", "Removed") in [(p.get("id"), p.get("status")) for p in down["progress"]]
    from engine.images.store import ImageStore
    assert ImageStore(os.path.join(daemon.root, "images")).list() == []
