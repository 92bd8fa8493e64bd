"""One ``exec`` request inside the monitor: a forked child in the container, its output, its reply."""

from __future__ import annotations

import binascii
import json
import os
import selectors
import signal
from typing import TYPE_CHECKING, Callable

from engine.monitor.prepare import make_pipes
from engine.runtime.process import Stdio, exec_child

if TYPE_CHECKING:  # pragma: no cover
    import socket

    from engine.monitor.main import Monitor

__all__ = ["ExecJob", "kill_and_reap"]


def kill_and_reap(pid: int, status: int | None) -> int:
    """SIGKILL an exec'd process and collect it; its wait status (137 << 8 if already gone unseen)."""
    try:
        os.kill(pid, signal.SIGKILL)
        return os.waitpid(pid, 0)[1]
    except (ProcessLookupError, ChildProcessError):
        return status if status is not None else 137 << 8


class ExecJob:
    """Runs argv in PID 1's namespaces and cgroup; replies with exit code and output when done."""

    def __init__(self, mon: "Monitor", conn: "socket.socket | None", req: dict,
                 on_done: "Callable[[int, bytes], None] | None" = None) -> None:
        if mon.exited or not mon.pid1:
            raise RuntimeError("container is not running")
        if mon.state.get("state") == "paused":
            raise RuntimeError("container is paused, unpause the container before exec")
        self.mon, self.conn, self.status, self.on_done = mon, conn, None, on_done
        self.timed_out = False
        self.collected: list[list] = []  # [stream name, bytes] of outputs that reached EOF
        stdin = binascii.a2b_base64(req["stdin"]) if req.get("stdin") is not None else None
        pipes = make_pipes(bool(req.get("tty")), stdin is not None)
        errr, errw = os.pipe2(os.O_CLOEXEC)
        gor, gow = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            exec_child(mon.pid1, req, mon.plan,
                       Stdio(pipes.child_in, pipes.child_out, pipes.child_err, errw, pipes.tty),
                       gor, mon.sec)
        self.pid = pid
        pipes.close_child_ends()
        os.close(errw)
        os.close(gor)
        if mon.cgroup is not None:
            mon.cgroup.add_process(pid)
        os.write(gow, b"1")
        os.close(gow)
        self.error = self._read_report(errr)
        self.out: dict[int, list] = {}
        for fd, name in ((pipes.out, "stdout"), (pipes.err, "stderr")):
            if fd >= 0:
                os.set_blocking(fd, False)
                self.out[fd] = [name, b""]
                mon.sel.register(fd, selectors.EVENT_READ, ("exec", self))
        self.stdin_fd, self.stdin = pipes.stdin_w, stdin or b""
        if pipes.stdin_w >= 0 and not pipes.tty:
            os.set_blocking(pipes.stdin_w, False)
            mon.sel.register(pipes.stdin_w, selectors.EVENT_WRITE, ("exec", self))
        elif pipes.tty and stdin:
            os.write(pipes.stdin_w, stdin)

    @staticmethod
    def _read_report(fd: int) -> str:
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
        os.close(fd)
        return json.loads(data)["message"] if data else ""

    def on_event(self, fd: int, sel: selectors.BaseSelector) -> None:
        """Write pending stdin or read output; close at EOF."""
        if fd == self.stdin_fd:
            try:
                n = os.write(fd, self.stdin[:65536]) if self.stdin else 0
            except (BlockingIOError, BrokenPipeError):
                n = 0 if self.stdin else -1
            self.stdin = self.stdin[max(n, 0):]
            if not self.stdin or n < 0:
                sel.unregister(fd)
                os.close(fd)
                self.stdin_fd = -1
            return
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.out[fd][1] += data
            return
        sel.unregister(fd)
        os.close(fd)
        self.collected.append(self.out.pop(fd))
        self._maybe_reply()

    def on_exit(self, status: int) -> None:
        """PID of the exec child was reaped."""
        self.status = status
        self._maybe_reply()

    def _maybe_reply(self) -> None:
        if self.status is None or (self.out and not self.timed_out):
            return
        for fd in list(self.out):  # timed out: children may still hold the pipes; stop reading
            self.collected.append(self.out.pop(fd))
            self.mon.sel.unregister(fd)
            os.close(fd)
        streams = dict(self.collected)
        code = os.waitstatus_to_exitcode(self.status)
        self.mon.execs.pop(self.pid, None)
        if self.stdin_fd >= 0:
            self.mon.sel.unregister(self.stdin_fd)
            os.close(self.stdin_fd)
        exit_code = 128 - code if code < 0 else code
        if self.on_done is not None:
            self.on_done(exit_code, streams.get("stdout", b"") + streams.get("stderr", b""))
            return
        self.mon.reply(self.conn, {
            "exit_code": exit_code,
            "stdout": binascii.b2a_base64(streams.get("stdout", b""), newline=False).decode(),
            "stderr": binascii.b2a_base64(streams.get("stderr", b""), newline=False).decode(),
            "setup_error": self.error, "timed_out": self.timed_out})

    def kill(self) -> None:
        """SIGKILL the exec'd process (a probe past its timeout)."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def abort(self) -> None:
        """The container ended: kill this exec, drop its pipes, and answer with what we have."""
        self.status = kill_and_reap(self.pid, self.status)
        for fd in list(self.out):
            self.collected.append(self.out.pop(fd))
            self.mon.sel.unregister(fd)
            os.close(fd)
        self._maybe_reply()
