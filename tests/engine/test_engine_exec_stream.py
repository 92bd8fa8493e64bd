"""Streaming exec: live stdin/stdout round trips, a pty that resizes, exit codes."""

from __future__ import annotations

import time

import pytest

from engine import Engine
from engine.monitor.protocol import ExecSession, frame, split_frames
from engine.spec import ContainerSpec


@pytest.fixture
def eng(tmp_path):
    """An Engine on private roots; every container is force-removed afterwards."""
    e = Engine(str(tmp_path / "root"), str(tmp_path / "run"))
    yield e
    for info in e.list():
        e.remove(info.id, force=True)
    e.close()


@pytest.fixture
def running(eng, busybox_rootfs):
    cid = eng.create(ContainerSpec(rootfs=busybox_rootfs, command=("sleep", "300"), name=f"s{time.monotonic_ns()}"))
    eng.start(cid)
    return cid


def read_until(sess: ExecSession, needle: bytes, limit: float = 10.0) -> bytes:
    """Output (any stream) until ``needle`` shows up; fails after ``limit`` seconds."""
    sess.sock.settimeout(limit)
    got = b""
    while needle not in got:
        item = sess.read()
        assert item is not None, f"stream ended before {needle!r}; got {got!r}"
        got += item[1]
    return got


def test_frames_split_at_any_boundary():
    data = frame(1, b"hello") + frame(2, b"") + frame(3, b'{"exit_code": 3}')
    for cut in range(len(data) + 1):
        first, rest = split_frames(data[:cut])
        second, rest = split_frames(rest + data[cut:])
        assert first + second == [(1, b"hello"), (2, b""), (3, b'{"exit_code": 3}')]
        assert rest == b""


@pytest.mark.root
def test_cat_echoes_each_line_live_and_exits_at_eof(eng, running):
    sess = eng.exec_stream(running, ["cat"])
    sess.sock.settimeout(20)  # a hang fails the test instead of the run
    sess.send(b"first\n")
    assert read_until(sess, b"first\n") == b"first\n"  # before stdin is closed: live, not batched
    sess.send(b"second\n")
    assert read_until(sess, b"second\n") == b"second\n"
    sess.close_stdin()
    assert sess.wait() == 0


@pytest.mark.root
def test_stdout_and_stderr_stay_apart_and_exit_code_passes(eng, running):
    sess = eng.exec_stream(running, ["sh", "-c", "echo out; echo err >&2; exit 7"])
    sess.sock.settimeout(20)  # a hang fails the test instead of the run
    got: dict[str, bytes] = {}
    for stream, data in sess:
        got[stream] = got.get(stream, b"") + data
    assert got == {"stdout": b"out\n", "stderr": b"err\n"}
    assert sess.exit_code == 7 and sess.wait() == 7


@pytest.mark.root
def test_tty_is_a_terminal_and_resize_changes_stty_size(eng, running):
    sess = eng.exec_stream(running, ["sh"], tty=True, size=(24, 80))
    sess.sock.settimeout(20)  # a hang fails the test instead of the run
    sess.send(b"[ -t 0 ] && [ -t 1 ] && echo IS''TTY; stty size\n")
    out = read_until(sess, b"24 80")
    assert b"ISTTY" in out
    sess.resize(40, 132)
    sess.send(b"stty size\n")
    read_until(sess, b"40 132")
    sess.send(b"exit 3\n")
    assert sess.wait() == 3


@pytest.mark.root
def test_tty_close_stdin_ends_a_reading_shell(eng, running):
    sess = eng.exec_stream(running, ["sh"], tty=True)
    sess.sock.settimeout(20)  # a hang fails the test instead of the run
    sess.send(b"echo rea''dy\n")
    read_until(sess, b"ready")
    time.sleep(0.2)  # ash asks the terminal for the cursor position before reading: ^D must not answer that
    sess.close_stdin()
    sess.sock.settimeout(10)
    assert sess.wait() == 0


@pytest.mark.root
def test_missing_command_and_killed_process_codes(eng, running):
    missing = eng.exec_stream(running, ["/no/such/thing"])
    missing.sock.settimeout(20)
    assert missing.wait() == 127
    sess = eng.exec_stream(running, ["sh", "-c", "kill -9 $$"])
    sess.sock.settimeout(20)  # a hang fails the test instead of the run
    assert sess.wait() == 137


@pytest.mark.root
def test_hanging_up_ends_a_tty_session_and_exec_still_works(eng, running):
    sess = eng.exec_stream(running, ["sh"], tty=True)
    sess.sock.settimeout(20)  # a hang fails the test instead of the run
    sess.send(b"echo ready\n")
    read_until(sess, b"ready")
    sess.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = eng.exec(running, ["ps"]).stdout
        if out.count(b" sh\n") + out.count(b" sh \n") == 0:
            break
        time.sleep(0.1)
    assert b"{sh}" not in out and not [ln for ln in out.splitlines() if ln.rstrip().endswith(b" sh")]
    assert eng.exec(running, ["echo", "still"]).stdout == b"still\n"


@pytest.mark.root
def test_container_exit_ends_the_session(eng, running):
    sess = eng.exec_stream(running, ["sleep", "100"])
    sess.sock.settimeout(20)  # a hang fails the test instead of the run
    eng.kill(running)
    sess.sock.settimeout(20)
    assert sess.wait() == 137


def _log_text(eng: Engine, cid: str) -> str:
    return "".join(x.message for x in eng.logs(cid))


def _wait_log(eng: Engine, cid: str, needle: str, limit: float = 10.0) -> str:
    deadline = time.monotonic() + limit
    while needle not in (text := _log_text(eng, cid)):
        assert time.monotonic() < deadline, f"no {needle!r} in the log: {text!r}"
        time.sleep(0.05)
    return text


@pytest.mark.root
def test_attach_input_feeds_pid1_stdin_and_its_eof(eng, busybox_rootfs):
    cid = eng.create(ContainerSpec(rootfs=busybox_rootfs, command=("sh", "-c", "cat; echo done; exit 4"),
                                   stdin_open=True, name=f"a{time.monotonic_ns()}"))
    eng.start(cid)
    sess = eng.attach_input(cid)
    sess.sock.settimeout(20)  # a hang fails the test instead of the run
    sess.send(b"hello\n")
    _wait_log(eng, cid, "hello\n")
    sess.close_stdin()
    assert eng.wait(cid, 10).exit_code == 4
    assert _log_text(eng, cid) == "hello\ndone\n"
    sess.close()


@pytest.mark.root
def test_attach_input_resizes_pid1_tty(eng, busybox_rootfs):
    cid = eng.create(ContainerSpec(rootfs=busybox_rootfs, command=("sh", "-c", "read x; stty size; read y"),
                                   stdin_open=True, tty=True, name=f"a{time.monotonic_ns()}"))
    eng.start(cid)
    sess = eng.attach_input(cid)
    sess.sock.settimeout(20)  # a hang fails the test instead of the run
    sess.resize(33, 99)
    sess.send(b"go\n")
    _wait_log(eng, cid, "33 99")
    sess.send(b"end\n")
    assert eng.wait(cid, 10).exit_code == 0
    sess.close()
