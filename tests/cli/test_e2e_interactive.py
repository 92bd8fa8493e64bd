"""End to end under a real pty: `shoal exec` is interactive with a tty, resizes, and passes the exit code."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time

import pytest

from conftest import launcher_argv
from test_e2e import Env, _jobs_project

pytestmark = pytest.mark.root


@pytest.fixture
def env(busybox_rootfs):
    e = Env(busybox_rootfs)
    e.projects = []
    try:
        yield e
    finally:
        e.close()


def _take_tty() -> None:
    """In the child, after setsid: the pty becomes its controlling terminal (so SIGWINCH reaches it)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyShoal:
    """`shoal ARGS` with stdin/stdout on a fresh pty of the given size; we hold the master."""

    def __init__(self, env: Env, cwd: str, *args: str, size: tuple[int, int] = (24, 80)) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        self.proc = subprocess.Popen(launcher_argv(*args), cwd=cwd, stdin=slave, stdout=slave,
                                     stderr=subprocess.PIPE, env=dict(env.env, SHOAL_NO_AUTOSTART="1"),
                                     start_new_session=True, preexec_fn=_take_tty)
        os.close(slave)
        self.out = b""

    def expect(self, needle: bytes, timeout: float = 30) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.out:
            left = deadline - time.monotonic()
            assert left > 0, f"no {needle!r} in {self.out!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                assert chunk, f"pty closed before {needle!r}: {self.out!r}"
                self.out += chunk
        return self.out

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def finish(self, timeout: float = 30) -> int:
        try:
            code = self.proc.wait(timeout)
        finally:
            os.close(self.master)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
        return code


def test_exec_under_a_pty_is_interactive_and_passes_the_exit_code(env, tmp_path):
    cwd = _jobs_project(env, tmp_path)
    sh = PtyShoal(env, cwd, "exec", "tool", "sh", size=(30, 100))
    sh.expect(b"# ")  # the container's shell prompt came through, so it runs on a tty
    os.write(sh.master, b"[ -t 0 ] && echo TTY''OK; stty size\r")
    sh.expect(b"30 100")
    assert b"TTYOK" in sh.out
    sh.resize(45, 120)  # the CLI gets SIGWINCH from the kernel and resizes the exec's pty
    time.sleep(0.5)
    os.write(sh.master, b"stty size\r")
    sh.expect(b"45 120")
    os.write(sh.master, b"echo hi; exit 3\r")
    sh.expect(b"hi\r\n")
    assert sh.finish() == 3, sh.proc.stderr.read()


def test_exec_dash_t_under_a_pty_has_no_tty(env, tmp_path):
    cwd = _jobs_project(env, tmp_path)
    r = PtyShoal(env, cwd, "exec", "-T", "tool", "sh", "-c", "[ -t 1 ] && echo TTY || echo NOTTY; exit 4")
    r.expect(b"NOTTY")
    assert r.finish() == 4


def test_run_rm_under_a_pty_passes_exit_code_and_removes_the_container(env, tmp_path):
    cwd = _jobs_project(env, tmp_path)
    r = PtyShoal(env, cwd, "run", "--rm", "tool", "sh", "-c", "echo from-run; exit 6")
    r.expect(b"from-run")
    assert r.finish() == 6, r.proc.stderr.read()
    assert "tool-run-" not in env.shoal("ps", "-a", cwd=cwd).stdout


def test_run_with_a_tty_is_interactive_sized_and_passes_the_exit_code(env, tmp_path):
    cwd = _jobs_project(env, tmp_path)
    sh = PtyShoal(env, cwd, "run", "--rm", "tool", "sh", size=(28, 90))
    sh.expect(b"built-in commands")  # attach relays the log: a prompt without newline shows up later
    os.write(sh.master, b"[ -t 0 ] && echo TTY''OK; stty size\r")
    sh.expect(b"28 90")
    assert b"TTYOK" in sh.out
    os.write(sh.master, b"echo hi; exit 3\r")
    sh.expect(b"hi\r\n")
    assert sh.finish() == 3, sh.proc.stderr.read()
    assert "tool-run-" not in env.shoal("ps", "-a", cwd=cwd).stdout
