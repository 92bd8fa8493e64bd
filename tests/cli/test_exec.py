"""`shoal exec`: container choice, request fields, output and exit code, the upgraded stream."""

from __future__ import annotations

import base64

import pytest

from conftest import cli_env, launcher_argv  # at collection, while this directory's conftest is current
from orchestrator.cli.exec_cmd import ExitTail


def test_exec_T_runs_in_the_first_replica_and_prints_output(shoal, fake):
    fake.exec_answer = {"exit_code": 0, "stdout": "hello\n", "stderr": "warn\n"}
    r = shoal("exec", "-T", "web", "ls", "-l", "/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n" and r.stderr == "warn\n"
    req = fake.calls("POST", "/containers/")[-1]
    web1 = next(c for c in fake.containers["demo"] if c["Name"] == "demo-web-1")
    assert req.path == f"/containers/{web1['ID']}/exec"
    assert req.body["cmd"] == ["ls", "-l", "/"] and req.body["tty"] is False and req.body["stdin"] is False


def test_exec_flags_reach_the_request_and_exit_code_passes_through(shoal, fake):
    fake.exec_answer = {"exit_code": 7, "stdout": {"base64": base64.b64encode(b"\xff\n").decode()},
                        "stderr": ""}
    r = shoal("exec", "-T", "-u", "app", "-w", "/tmp", "-e", "A=1", "-e", "B=2", "--index", "2",
              "web", "sh", "-c", "exit 7")
    assert r.returncode == 7 and r.stdout == "\ufffd\n"
    req = fake.calls("POST", "/containers/")[-1]
    web2 = next(c for c in fake.containers["demo"] if c["Name"] == "demo-web-2")
    assert req.path == f"/containers/{web2['ID']}/exec"
    assert req.body["user"] == "app" and req.body["workdir"] == "/tmp"
    assert req.body["env"] == ["A=1", "B=2"] and req.body["cmd"] == ["sh", "-c", "exit 7"]


def test_exec_in_a_service_without_containers_names_it(shoal):
    r = shoal("exec", "-T", "cache", "true")
    assert r.returncode == 1 and r.stderr.strip() == "service 'cache' is not running"
    r = shoal("exec", "-T", "--index", "9", "web", "true")
    assert r.returncode == 1 and "no container with index 9" in r.stderr


def test_piped_stdin_uses_the_raw_stream_and_its_exit_code(shoal, fake):
    fake.exec_exit = 5
    r = shoal("exec", "-T", "db", "cat", stdin="abc\nlast line without newline")
    assert r.returncode == 5
    assert r.stdout == "ready\nABC\nLAST LINE WITHOUT NEWLINE"
    assert fake.calls("POST", "/containers/")[-1].body["stdin"] is True


def test_exit_tail_holds_only_a_possible_exit_line():
    t = ExitTail()
    assert t.feed(b"out") == b"out"
    assert t.feed(b"put\n\n{\"exit") == b"put\n"
    assert t.feed(b"_code\": 3}") == b""
    assert t.close() == (b"", 3)


def test_exit_tail_drops_only_the_daemons_newline():
    t = ExitTail()
    assert t.feed(b"no newline at end") == b"no newline at end"
    assert t.feed(b'\n{"exit_code": 0}\n') == b""
    assert t.close() == (b"", 0)
    t = ExitTail()
    assert t.feed(b"line\n") == b"line"  # the newline waits: it may be the daemon's
    assert t.feed(b"more\n") == b"\nmore"
    assert t.close() == (b"\n", None)


def test_exit_tail_releases_look_alikes_and_reports_missing_code():
    t = ExitTail()
    assert t.feed(b"x = {\"exi") == b"x = "
    assert t.feed(b"sting\": 1}\n") == b"{\"existing\": 1}"
    assert t.close() == (b"\n", None)
    t = ExitTail()
    t.feed(b'{"exit_code": nope}')
    assert t.close() == (b'{"exit_code": nope}', None)


@pytest.mark.parametrize("split", range(1, 18))
def test_exit_tail_finds_the_code_at_any_chunk_boundary(split):
    data = b'hi\n\n{"exit_code": 42}\n'
    t = ExitTail()
    shown = t.feed(data[:split]) + t.feed(data[split:])
    held, code = t.close()
    assert shown + held == b"hi\n" and code == 42 and held == b""


def test_exec_on_a_terminal_uses_a_tty_and_sends_the_window_size(fake, project, tmp_path):
    import os
    import pty
    import subprocess
    import time

    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    proc = subprocess.Popen(launcher_argv("-f", str(project), "exec", "web", "sh"), stdin=slave,
                            stdout=slave, stderr=subprocess.PIPE,
                            env=cli_env(fake.run_dir, str(tmp_path / "root"), SHOAL_NO_AUTOSTART="1"))
    os.close(slave)
    deadline = time.monotonic() + 15
    while not fake.calls("POST", "/containers/") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    proc.send_signal(__import__("signal").SIGWINCH)
    while len(fake.calls("POST", "/containers/")) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.write(master, b"hi\x04")
    out = b""
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if proc.poll() is not None and b"HI" in out:
            break
    proc.wait(10)
    os.close(master)
    assert proc.returncode == 0, proc.stderr.read()
    assert b"ready" in out and b"HI" in out
    body = next(r.body for r in fake.requests if r.path.endswith("/exec"))
    assert body["tty"] is True and body["stdin"] is True
    resizes = [r.body for r in fake.calls("POST", "/containers/") if r.path.endswith("/resize")]
    assert resizes == [{"height": 33, "width": 101}, {"height": 50, "width": 160}]
