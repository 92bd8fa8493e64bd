"""Live exec and attach through shoald's socket: bytes relayed both ways as they come, resize, exit codes."""

from __future__ import annotations

import json
import socket
import time

import pytest

from daemon_helpers import load

pytestmark = pytest.mark.root

STACK = """
services:
  box:
    image: busybox:latest
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"""


def upgrade(d, path: str, body: dict) -> tuple[socket.socket, dict[str, str], bytes]:
    """POST with Upgrade: tcp; (socket, response headers, bytes past the headers)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(20)
    sock.connect(d.socket)
    data = json.dumps(body).encode()
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: shoal\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(data)}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n").encode() + data)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, buf
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0].split()[1] == "101", head
    headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    return sock, headers, rest


def read_until(sock: socket.socket, got: bytes, needle: bytes) -> bytes:
    while needle not in got:
        chunk = sock.recv(65536)
        assert chunk, f"closed before {needle!r}: {got!r}"
        got += chunk
    return got


def read_all(sock: socket.socket, got: bytes) -> bytes:
    while chunk := sock.recv(65536):
        got += chunk
    sock.close()
    return got


@pytest.fixture
def box(daemon, tmp_path):
    body = load(str(tmp_path), "ex", STACK)
    body["options"] = {}
    assert daemon.client.op("ex", "up", body)["ok"]
    rows = daemon.client.request("GET", "/projects/ex/containers")
    return rows[0]["ID"]


def test_exec_stdin_is_relayed_live_and_exit_code_ends_the_stream(daemon, box):
    sock, headers, rest = upgrade(daemon, f"/containers/{box}/exec", {"cmd": ["sh"], "stdin": True})
    assert headers.get("x-shoal-exec-id")
    sock.sendall(b"echo one\n")
    got = read_until(sock, rest, b"one\n")  # answered before the client half-closes
    sock.sendall(b"echo two; exit 5\n")
    got = read_all(sock, got)
    assert got == b'one\ntwo\n\n{"exit_code": 5}\n'


def test_exec_tty_resize_reaches_the_session(daemon, box):
    sock, headers, rest = upgrade(daemon, f"/containers/{box}/exec",
                                  {"cmd": ["sh"], "tty": True, "stdin": True, "height": 30, "width": 90})
    sock.sendall(b"stty size\n")
    got = read_until(sock, rest, b"30 90")
    assert daemon.client.request("POST", f"/containers/{box}/resize",
                                 {"height": 50, "width": 160, "exec_id": headers["x-shoal-exec-id"]}) == {}
    sock.sendall(b"stty size; exit 4\n")
    got = read_all(sock, read_until(sock, got, b"50 160"))
    assert got.endswith(b'\n{"exit_code": 4}\n')


def test_exec_events_and_unknown_exec_id(daemon, box):
    sock, _, rest = upgrade(daemon, f"/containers/{box}/exec", {"cmd": ["sh", "-c", "exit 9"], "stdin": True})
    sock.shutdown(socket.SHUT_WR)
    assert read_all(sock, rest).endswith(b'{"exit_code": 9}\n')
    from orchestrator.daemon.client import ApiError
    with pytest.raises(ApiError) as info:
        daemon.client.request("POST", f"/containers/{box}/resize", {"height": 5, "width": 5, "exec_id": "nope"})
    assert info.value.status == 404
    evs = list(daemon.client.stream("GET", "/events", project="ex", since="0", until=str(time.time() + 1)))
    dies = [e for e in evs if e.get("action") == "exec_die"]
    assert [(e.get("attributes") or {}).get("exitCode") for e in dies] == [9]
    assert len([e for e in evs if e.get("action") == "exec_create"]) == 1

def test_run_rm_attach_gets_output_and_exit_code_then_container_is_gone(daemon, box, tmp_path):
    body = load(str(tmp_path), "ex", STACK)
    body.update(service="box", command=["sh", "-c", "echo bye; echo oops >&2; exit 7"], rm=True)
    created = daemon.client.request("POST", "/projects/ex/run", body)
    sock, _, rest = upgrade(daemon, f"/containers/{created['id']}/attach", {"stdin": False, "tty": False})
    got = read_all(sock, rest)
    assert sorted(got.split(b"\n")[:2]) == [b"bye", b"oops"]
    assert got.endswith(b'\n{"exit_code": 7}\n')
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        names = [r["Name"] for r in daemon.client.request("GET", "/projects/ex/containers", all=1)]
        if created["name"] not in names:
            break
        time.sleep(0.1)
    assert created["name"] not in names
    evs = list(daemon.client.stream("GET", "/events", project="ex", since="0", until=str(time.time() + 1)))
    dies = [e for e in evs if e.get("action") == "die" and e.get("id") == created["id"]]
    assert [(e.get("attributes") or {}).get("exitCode") for e in dies] == [7]


def test_run_interactive_attach_feeds_stdin_until_half_close(daemon, box, tmp_path):
    body = load(str(tmp_path), "ex", STACK)
    body.update(service="box", command=["sh", "-c", "cat; exit 3"], rm=True, interactive=True)
    created = daemon.client.request("POST", "/projects/ex/run", body)
    sock, _, rest = upgrade(daemon, f"/containers/{created['id']}/attach", {"stdin": True, "tty": False})
    sock.sendall(b"typed line\n")
    got = read_until(sock, rest, b"typed line\n")  # echoed by cat while its input is still open
    sock.shutdown(socket.SHUT_WR)
    assert read_all(sock, got) == b'typed line\n\n{"exit_code": 3}\n'
