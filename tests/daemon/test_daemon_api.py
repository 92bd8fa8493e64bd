"""shoald end to end through its unix socket: real containers from busybox:latest."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from engine.state import parse_rfc3339
from daemon_helpers import load

pytestmark = pytest.mark.root

SLEEP = '["sleep", "1000"]'


def wait_for(fn, timeout=20.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def ps(d, project, **query):
    return d.client.request("GET", f"/projects/{project}/containers", all=1, **query)


def by_name(rows):
    return {r["Name"]: r for r in rows}


def up(d, tmp_path, name, yaml_text, **options):
    body = load(str(tmp_path), name, yaml_text)
    body["options"] = options
    result = d.client.op(name, "up", body)
    assert result["ok"], result
    return result


STACK = f"""
services:
  db:
    image: busybox:latest
    command: {SLEEP}
    stop_grace_period: 1s
    healthcheck: {{test: ["CMD-SHELL", "test -f /tmp/ready"], interval: 0.2s, retries: 3, start_period: 5s, start_interval: 0.2s}}
    entrypoint: ["sh", "-c", "sleep 1; touch /tmp/ready; exec \\"$$@\\"", "--"]
  migrate:
    image: busybox:latest
    command: ["sh", "-c", "sleep 0.5"]
  web:
    image: busybox:latest
    command: {SLEEP}
    stop_grace_period: 1s
    depends_on:
      db: {{condition: service_healthy}}
      migrate: {{condition: service_completed_successfully}}
"""


def test_up_honours_dependency_conditions_and_down_leaves_nothing(daemon, tmp_path):
    result = up(daemon, tmp_path, "st", STACK)
    statuses = [(p.get("id"), p.get("status")) for p in result["progress"]]
    assert ("web", "Waiting") in statuses and ("st-db-1", "Healthy") in statuses
    assert statuses.index(("st-db-1", "Healthy")) < statuses.index(("st-web-1", "Started"))
    rows = by_name(ps(daemon, "st"))
    assert set(rows) == {"st-db-1", "st-migrate-1", "st-web-1"}
    assert rows["st-web-1"]["State"] == "running" and rows["st-db-1"]["Health"] == "healthy"
    assert rows["st-migrate-1"]["State"] == "exited" and rows["st-migrate-1"]["ExitCode"] == 0
    events = daemon.client.request("GET", "/events", since=0, project="st")
    healthy = [e for e in events if e["action"] == "health_status" and e["service"] == "db"
               and e["attributes"]["health_status"] == "healthy"]
    web_start = [e for e in events if e["action"] == "start" and e["service"] == "web"]
    migrate = daemon.client.request("GET", f"/containers/{rows['st-migrate-1']['ID']}")
    web = daemon.client.request("GET", f"/containers/{rows['st-web-1']['ID']}")
    assert healthy and web_start
    assert parse_rfc3339(healthy[0]["time"]) <= parse_rfc3339(web["started_at"])
    assert parse_rfc3339(migrate["finished_at"]) <= parse_rfc3339(web["started_at"])

    down = daemon.client.op("st", "down", {"timeout": 1})
    assert down["ok"], down
    assert ps(daemon, "st") == []
    assert daemon.client.request("GET", "/projects", all=1) == []
    assert os.listdir(os.path.join(daemon.root, "containers")) == []


def test_kill_9_of_a_replica_process_is_restored(daemon, tmp_path):
    up(daemon, tmp_path, "kr", f"""
    services:
      app: {{image: "busybox:latest", command: {SLEEP}, restart: always, stop_grace_period: 1s}}
    """)
    cid = ps(daemon, "kr")[0]["ID"]
    before = daemon.client.request("GET", f"/containers/{cid}")
    os.kill(before["pid"], signal.SIGKILL)

    def restarted():
        info = daemon.client.request("GET", f"/containers/{cid}")
        return info if info["state"] == "running" and info["pid"] != before["pid"] else None
    info = wait_for(restarted, 10, what="restart after kill -9")
    assert info["restart_count"] == 1
    actions = [e["action"] for e in daemon.client.request("GET", "/events", since=0, project="kr")]
    assert "die" in actions and "restart" in actions


def test_crash_loop_backs_off_instead_of_spinning(daemon, tmp_path):
    up(daemon, tmp_path, "cl", """
    services:
      bad: {image: "busybox:latest", command: ["sh", "-c", "exit 3"], restart: always}
    """)
    time.sleep(3.0)
    row = ps(daemon, "cl")[0]
    # 100 ms doubling: about 5 restarts fit in 3 s; without backoff there would be dozens
    assert 2 <= row["RestartCount"] <= 7, row
    assert row["State"] in ("restarting", "exited", "running")
    dies = [e for e in daemon.client.request("GET", "/events", since=0, project="cl") if e["action"] == "die"]
    assert dies and all(e["attributes"]["exitCode"] == 3 for e in dies), dies


def test_unhealthy_replica_is_replaced(daemon, tmp_path):
    up(daemon, tmp_path, "uh", f"""
    services:
      app:
        image: busybox:latest
        command: ["sh", "-c", "touch /tmp/ok; exec sleep 1000"]
        restart: always
        stop_grace_period: 1s
        healthcheck: {{test: ["CMD", "test", "-f", "/tmp/ok"], interval: 0.2s, retries: 2}}
    """)
    first = wait_for(lambda: [r for r in ps(daemon, "uh") if r["Health"] == "healthy"], what="healthy")[0]
    out = daemon.client.request("POST", f"/containers/{first['ID']}/exec", {"cmd": ["rm", "/tmp/ok"]})
    assert out["exit_code"] == 0

    def replaced():
        rows = [r for r in ps(daemon, "uh") if r["ID"] != first["ID"] and r["Health"] == "healthy"]
        return rows
    new = wait_for(replaced, 15, what="replacement of the unhealthy replica")[0]
    assert new["Name"] == "uh-app-1"
    actions = [e["action"] for e in daemon.client.request("GET", "/events", since=0, project="uh")]
    assert "recreate" in actions
    assert len(ps(daemon, "uh")) == 1


def test_scale_up_and_down(daemon, tmp_path):
    up(daemon, tmp_path, "sc", f"""
    services:
      w: {{image: "busybox:latest", command: {SLEEP}, stop_grace_period: 1s}}
    """)
    assert daemon.client.op("sc", "scale", {"scale": {"w": 3}})["ok"]
    rows = ps(daemon, "sc")
    assert sorted(r["Name"] for r in rows) == ["sc-w-1", "sc-w-2", "sc-w-3"]
    assert all(r["State"] == "running" for r in rows)
    assert daemon.client.op("sc", "scale", {"scale": {"w": 1}})["ok"]
    assert [r["Name"] for r in ps(daemon, "sc")] == ["sc-w-1"]
    time.sleep(2.5)  # a resync later the scale sticks
    assert [r["Name"] for r in ps(daemon, "sc")] == ["sc-w-1"]


def test_config_change_recreates_only_that_service(daemon, tmp_path):
    text = f"""
    services:
      a: {{image: "busybox:latest", command: {SLEEP}, stop_grace_period: 1s, environment: {{V: "1"}}}}
      b: {{image: "busybox:latest", command: {SLEEP}, stop_grace_period: 1s}}
    """
    up(daemon, tmp_path, "cc", text)
    before = {r["Service"]: r["ID"] for r in ps(daemon, "cc")}
    up(daemon, tmp_path, "cc", text.replace('V: "1"', 'V: "2"'))
    after = {r["Service"]: r["ID"] for r in ps(daemon, "cc")}
    assert after["b"] == before["b"]
    assert after["a"] != before["a"]
    out = daemon.client.request("POST", f"/containers/{after['a']}/exec", {"cmd": ["sh", "-c", "echo $V"]})
    assert out["stdout"].strip() == "2"


def test_daemon_sigkill_during_up_converges_without_duplicates(daemon, tmp_path):
    services = "\n".join(f"  s{i}: {{image: \"busybox:latest\", command: {SLEEP}, stop_grace_period: 1s}}"
                         for i in range(20))
    body = load(str(tmp_path), "many", "services:\n" + services + "\n")
    seen = []

    def run_up():
        try:
            for line in daemon.client.stream("POST", "/projects/many/up", body):
                seen.append(line)
        except Exception:
            pass
    t = threading.Thread(target=run_up)
    t.start()
    wait_for(lambda: any(p.get("status") == "Started" for p in seen), 20, 0.01, "first started replica")
    daemon.kill(signal.SIGKILL)
    t.join(10)
    containers_dir = os.path.join(daemon.root, "containers")
    assert 0 < len(os.listdir(containers_dir)) < 40
    daemon.start()

    def converged():
        rows = ps(daemon, "many")
        return rows if len(rows) == 20 and all(r["State"] == "running" for r in rows) else None
    rows = wait_for(converged, 60, 0.2, "20 running replicas after restart")
    assert sorted(r["Name"] for r in rows) == sorted(f"many-s{i}-1" for i in range(20))
    time.sleep(2.5)
    assert len(os.listdir(containers_dir)) == 20


def test_stop_start_and_restart_policy_respects_manual_stop(daemon, tmp_path):
    up(daemon, tmp_path, "ss", f"""
    services:
      app: {{image: "busybox:latest", command: {SLEEP}, restart: always, stop_grace_period: 1s}}
    """)
    assert daemon.client.op("ss", "stop", {"timeout": 1})["ok"]
    time.sleep(2.5)
    assert ps(daemon, "ss")[0]["State"] == "exited"
    assert daemon.client.op("ss", "start", {})["ok"]
    assert ps(daemon, "ss")[0]["State"] == "running"


def _http_get(port: int) -> str:
    """The body served on the published port, "" when the attempt failed (retried by wait_for)."""
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return ""
    return data.decode(errors="replace").split("\r\n\r\n", 1)[-1].strip()


def _our_rules(port: int) -> bool:
    import subprocess
    out = subprocess.run(["nft", "list", "table", "inet", "shoal"], capture_output=True, text=True).stdout
    return f"dport {port}" in out


def _other_daemons(ours: int) -> list[int]:
    """Other shoald processes on this host (their nft table and sysctls are shared with ours)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"orchestrator.daemon" in cmd and int(pid) != ours:
            out.append(int(pid))
    return out


def _skip_if_shared(daemon, port: int, what: str) -> None:
    """A network failure while another root's daemon shares the host's kernel state is not ours."""
    others = _other_daemons(daemon.proc.pid)
    if not _our_rules(port) or others:
        pytest.skip(f"{what} failed while other shoal daemons ({others}) share the host's nft table "
                    "'inet shoal' and sysctls")


def _fetch_or_skip(daemon, port: int) -> str:
    """A body from the published port (retried while replicas come up)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = _http_get(port)
        if body:
            return body
        time.sleep(0.2)
    _skip_if_shared(daemon, port, "the published port")
    raise AssertionError("published port never answered")


def test_services_reach_each_other_by_name_and_published_port_serves_replicas(daemon, tmp_path):
    port = 28000 + os.getpid() % 1000
    up(daemon, tmp_path, "nw", f"""
    services:
      web:
        image: busybox:latest
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]
        stop_grace_period: 1s
        ports: ["127.0.0.1:{port}:80"]
        deploy: {{replicas: 2}}
      client:
        image: busybox:latest
        command: {SLEEP}
        stop_grace_period: 1s
        depends_on: [web]
    """)
    client = [r for r in ps(daemon, "nw") if r["Service"] == "client"][0]

    def fetched():
        out = daemon.client.request("POST", f"/containers/{client['ID']}/exec",
                                    {"cmd": ["wget", "-q", "-O", "-", "http://web/index.html"]})
        return out if out["exit_code"] == 0 else None
    try:
        out = wait_for(fetched, 10, 0.2, "the client reaching web by name")
    except AssertionError:
        _skip_if_shared(daemon, port, "reaching web by name")
        raise
    assert out["stdout"].strip()
    from engine.network import NetworkManager
    nm = NetworkManager(daemon.root, daemon.run_dir)
    pubs = nm.publications()
    assert [p.host_port for p in pubs] == [port] and len(pubs[0].backends) == 2
    assert daemon.client.request("GET", "/projects/nw/port", service="web", port=80, index=2) == \
        {"host_ip": "127.0.0.1", "host_port": port}
    web1 = [r for r in ps(daemon, "nw") if r["Name"] == "nw-web-1"][0]
    assert web1["Ports"] == f"127.0.0.1:{port}->80/tcp"
    hosts = {_fetch_or_skip(daemon, port) for _ in range(12)}
    assert 1 <= len(hosts) <= 2
    assert daemon.client.op("nw", "down", {"timeout": 1})["ok"]
    assert nm.networks() == [] and nm.endpoints() == [] and nm.publications() == []
    nm.close()


def test_sigterm_leaves_containers_running_and_restart_adopts_them(daemon, tmp_path):
    up(daemon, tmp_path, "ad", f"""
    services:
      a: {{image: "busybox:latest", command: {SLEEP}, restart: always, stop_grace_period: 1s,
           healthcheck: {{test: ["CMD", "true"], interval: 0.2s}}}}
    """)
    before = wait_for(lambda: [r for r in ps(daemon, "ad") if r["Health"] == "healthy"], what="healthy")[0]
    pid = daemon.client.request("GET", f"/containers/{before['ID']}")["pid"]
    daemon.kill(signal.SIGTERM)
    assert not os.path.exists(daemon.socket)
    os.kill(pid, 0)  # still alive without its daemon
    daemon.start()
    after = wait_for(lambda: [r for r in ps(daemon, "ad") if r["Health"] == "healthy"], what="re-probed")[0]
    assert after["ID"] == before["ID"]
    assert daemon.client.request("GET", f"/containers/{after['ID']}")["pid"] == pid
    os.kill(pid, signal.SIGKILL)  # the adopted replica is still looked after
    wait_for(lambda: daemon.client.request("GET", f"/containers/{after['ID']}")["pid"] not in (0, pid),
             10, what="restart of the adopted replica")


def test_rolling_update_keeps_replicas_available(daemon, tmp_path):
    text = f"""
    services:
      web:
        image: busybox:latest
        command: {SLEEP}
        stop_grace_period: 1s
        environment: {{V: "1"}}
        healthcheck: {{test: ["CMD", "true"], interval: 0.2s, start_period: 5s, start_interval: 0.1s}}
        deploy:
          replicas: 3
          update_config: {{parallelism: 1, order: start-first}}
    """
    up(daemon, tmp_path, "ru", text)
    wait_for(lambda: len([r for r in ps(daemon, "ru") if r["Health"] == "healthy"]) == 3, what="3 healthy")
    old = {r["ID"] for r in ps(daemon, "ru")}
    healthy_counts = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            healthy_counts.append(len([r for r in ps(daemon, "ru") if r["Health"] == "healthy"]))
            time.sleep(0.05)
    t = threading.Thread(target=sample)
    t.start()
    try:
        up(daemon, tmp_path, "ru", text.replace('V: "1"', 'V: "2"'))
        wait_for(lambda: not ({r["ID"] for r in ps(daemon, "ru")} & old) and
                 len([r for r in ps(daemon, "ru") if r["Health"] == "healthy"]) == 3, 30, what="rolled")
    finally:
        stop.set()
        t.join()
    assert min(healthy_counts) >= 2, healthy_counts
    rows = ps(daemon, "ru")
    assert len(rows) == 3 and len({r["Name"] for r in rows}) == 3
    out = daemon.client.request("POST", f"/containers/{rows[0]['ID']}/exec", {"cmd": ["sh", "-c", "echo $V"]})
    assert out["stdout"].strip() == "2"
