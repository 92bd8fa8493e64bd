"""A streaming ``exec`` inside the monitor: live stdin/stdout/stderr, resize and exit code over one connection.

After the request line the monitor answers one JSON line (``{"ok": true, "pid": N}``), then both sides
exchange frames: one type byte, a 4-byte big-endian length, the payload (see ``engine.monitor.protocol``).
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import signal
import struct
import termios
from typing import TYPE_CHECKING

from engine.monitor.execs import kill_and_reap
from engine.monitor.prepare import make_pipes
from engine.monitor.protocol import (F_CLOSE_STDIN, F_EXIT, F_RESIZE, F_STDERR, F_STDIN, F_STDOUT, encode,
                                     frame, split_frames)
from engine.runtime.process import Stdio, exec_child

if TYPE_CHECKING:  # pragma: no cover
    import socket

    from engine.monitor.main import Monitor

__all__ = ["StreamExecJob", "AttachInput", "set_winsize"]

_HIGH_WATER = 1 << 20  # stop reading the process's output while this much waits for the client
_EOF_GRACE = 1.0  # after the process exits, how long background holders of its output may keep it open


def set_winsize(fd: int, height: int, width: int) -> None:
    """TIOCSWINSZ on a pty master: the kernel sends SIGWINCH to the foreground process group."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


class StreamExecJob:
    """Runs argv in PID 1's namespaces and relays its stdio live over the client connection."""

    def __init__(self, mon: "Monitor", conn: "socket.socket", req: dict) -> None:
        if mon.exited or not mon.pid1:
            raise RuntimeError("container is not running")
        if mon.state.get("state") == "paused":
            raise RuntimeError("container is paused, unpause the container before exec")
        self.mon, self.conn, self.status = mon, conn, None
        self.timed_out, self.finished = False, False
        self.tty = bool(req.get("tty"))
        pipes = make_pipes(self.tty, True)
        if self.tty and req.get("height") and req.get("width"):
            set_winsize(pipes.out, int(req["height"]), int(req["width"]))
        self.pid = self._spawn(req, pipes)
        self.master = pipes.out if self.tty else -1
        self.outs: dict[int, int] = {pipes.out: F_STDOUT}
        if pipes.err >= 0:
            self.outs[pipes.err] = F_STDERR
        self.paused: set[int] = set()
        self.stdin_fd, self.pending_in, self.stdin_eof = pipes.stdin_w, b"", False
        self.inbuf, self.outbuf, self.client_gone = b"", encode({"ok": True, "pid": self.pid}), False
        for fd in {*self.outs, self.stdin_fd}:
            os.set_blocking(fd, False)
        for fd in self.outs:
            mon.sel.register(fd, selectors.EVENT_READ, ("exec", self))
        mon.sel.register(conn, selectors.EVENT_READ | selectors.EVENT_WRITE, ("exec", self))

    def _spawn(self, req: dict, pipes) -> int:
        errr, errw = os.pipe2(os.O_CLOEXEC)
        gor, gow = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            exec_child(self.mon.pid1, req, self.mon.plan,
                       Stdio(pipes.child_in, pipes.child_out, pipes.child_err, errw, pipes.tty),
                       gor, self.mon.sec)
        pipes.close_child_ends()
        os.close(errw)
        os.close(gor)
        if self.mon.cgroup is not None:
            self.mon.cgroup.add_process(pid)
        os.write(gow, b"1")
        os.close(gow)
        data = b""
        while chunk := os.read(errr, 65536):
            data += chunk
        os.close(errr)
        self.error = json.loads(data)["message"] if data else ""
        return pid

    # -- events ------------------------------------------------------------------------------
    def on_event(self, fd: int, sel: selectors.BaseSelector) -> None:
        """Dispatch one ready fd: the client connection, the process's stdin, or one of its outputs."""
        if fd == self.conn.fileno():
            self._on_conn()
        elif fd in self.outs:
            self._on_output(fd)
        elif fd == self.stdin_fd:
            self._write_stdin()

    def _on_conn(self) -> None:
        if self.outbuf:
            try:
                n = self.conn.send(self.outbuf)
            except BlockingIOError:
                n = 0
            except OSError:
                n, self.outbuf = 0, b""
                self._lost_client()
            self.outbuf = self.outbuf[n:]
            if len(self.outbuf) < _HIGH_WATER:
                self._resume_outputs()
        if not self.client_gone:
            try:
                data = self.conn.recv(65536)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data == b"":
                self._lost_client()
            elif data:
                self.inbuf += data
                self._on_frames()
        self._update_conn()

    def _on_frames(self) -> None:
        frames, self.inbuf = split_frames(self.inbuf)
        for kind, payload in frames:
            if kind == F_STDIN and not self.stdin_eof:
                self.pending_in += payload
            elif kind == F_CLOSE_STDIN:
                self.stdin_eof = True
            elif kind == F_RESIZE and self.master >= 0:
                height, width = struct.unpack(">HH", payload[:4])
                set_winsize(self.master, height, width)
        self._write_stdin()

    def _write_stdin(self) -> None:
        """Push pending input; at end of input close the pipe (a tty gets its EOF character instead)."""
        if self.stdin_fd < 0:
            self.pending_in = b""
            return
        try:
            while self.pending_in:
                n = os.write(self.stdin_fd, self.pending_in[:65536])
                self.pending_in = self.pending_in[n:]
        except BlockingIOError:
            pass
        except OSError:
            self.pending_in, self.stdin_eof = b"", True
        if not self.pending_in and self.stdin_eof:
            if self.tty:
                try:
                    eof = termios.tcgetattr(self.stdin_fd)[6][termios.VEOF]
                except termios.error:
                    eof = b"\x04"
                try:
                    os.write(self.stdin_fd, eof if isinstance(eof, bytes) else bytes([eof]))
                except OSError:
                    pass
                self.stdin_fd = -1  # the master stays open: it is also the output
            else:
                self._unwatch(self.stdin_fd)
                os.close(self.stdin_fd)
                self.stdin_fd = -1
            return
        if not self.tty:
            want = bool(self.pending_in)
            if want != (self.stdin_fd in self.mon.sel.get_map()):
                if want:
                    self.mon.sel.register(self.stdin_fd, selectors.EVENT_WRITE, ("exec", self))
                else:
                    self.mon.sel.unregister(self.stdin_fd)

    def _on_output(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: every holder of the pty's slave side is gone
            data = b""
        if data:
            if not self.client_gone:
                self.outbuf += frame(self.outs[fd], data)
                if len(self.outbuf) >= _HIGH_WATER:
                    self.paused.add(fd)
                    self.mon.sel.unregister(fd)
                self._update_conn()
            return
        self._close_output(fd)
        self._maybe_finish()

    def _close_output(self, fd: int) -> None:
        self._unwatch(fd)
        self.paused.discard(fd)
        del self.outs[fd]
        if fd == self.stdin_fd:
            self.stdin_fd = -1
        os.close(fd)

    def _resume_outputs(self) -> None:
        for fd in self.paused:
            self.mon.sel.register(fd, selectors.EVENT_READ, ("exec", self))
        self.paused.clear()

    def _unwatch(self, fd: int) -> None:
        if fd in self.mon.sel.get_map():
            self.mon.sel.unregister(fd)

    def _update_conn(self) -> None:
        if self.client_gone:
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.outbuf else 0)
        self.mon.sel.modify(self.conn, events, ("exec", self))

    def _lost_client(self) -> None:
        """The client went away: end the process's input (hang up a tty) and drop its output."""
        self.client_gone, self.outbuf = True, b""
        self._unwatch(self.conn.fileno())
        self.stdin_eof = True
        self._resume_outputs()
        if self.tty:
            self.kill(signal.SIGHUP)
        self._write_stdin()
        if self.status is not None:
            self._maybe_finish()

    # -- exit --------------------------------------------------------------------------------
    def on_exit(self, status: int) -> None:
        """The exec'd process was reaped: answer once its outputs end (or after a short grace)."""
        self.status = status
        if self.outs:
            self.mon.add_timer(_EOF_GRACE, self._force_finish)
        self._maybe_finish()

    def _force_finish(self) -> None:
        for fd in list(self.outs):
            self._close_output(fd)
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self.status is None or self.outs or self.finished:
            return
        self.finished = True
        self.mon.execs.pop(self.pid, None)
        if self.stdin_fd >= 0:
            self._unwatch(self.stdin_fd)
            os.close(self.stdin_fd)
            self.stdin_fd = -1
        code = os.waitstatus_to_exitcode(self.status)
        exit_code = 128 - code if code < 0 else code
        if self.client_gone:
            self.conn.close()
            return
        self._unwatch(self.conn.fileno())
        tail = json.dumps({"exit_code": exit_code, "setup_error": self.error}).encode()
        try:
            self.conn.setblocking(True)
            self.conn.settimeout(5)
            self.conn.sendall(self.outbuf + frame(F_EXIT, tail))
        except OSError:
            pass
        finally:
            self.conn.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the exec'd process."""
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def abort(self) -> None:
        """The container ended: kill this exec, drop its output, and send the exit frame."""
        self.status = kill_and_reap(self.pid, self.status)
        for fd in list(self.outs):
            self._close_output(fd)
        self._maybe_finish()


class AttachInput:
    """Input to PID 1 from one client: stdin frames to its stdin (``stdin_open``), resize of its tty."""

    def __init__(self, mon: "Monitor", conn: "socket.socket") -> None:
        if mon.exited or not mon.pid1:
            raise RuntimeError("container is not running")
        self.mon, self.conn, self.inbuf, self.pending = mon, conn, b"", b""
        self.tty = bool(mon.pipes.tty)
        conn.setblocking(False)
        try:
            conn.sendall(encode({"ok": True, "pid": mon.pid1}))
        except OSError:
            pass
        mon.sel.register(conn, selectors.EVENT_READ, ("exec", self))

    def on_event(self, fd: int, sel: selectors.BaseSelector) -> None:
        """Frames from the client; at its EOF this input ends (PID 1's stdin stays as it is)."""
        try:
            data = self.conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop()
            return
        frames, self.inbuf = split_frames(self.inbuf + data)
        for kind, payload in frames:
            if kind == F_STDIN:
                self.pending += payload
            elif kind == F_CLOSE_STDIN:
                self._close_stdin()
            elif kind == F_RESIZE and self.tty:
                height, width = struct.unpack(">HH", payload[:4])
                set_winsize(self.mon.pipes.out, height, width)
        self._flush()

    def _flush(self) -> None:
        """Write pending input without blocking the monitor; retry from a timer while the pipe is full."""
        fd = self.mon.pipes.stdin_w
        if fd < 0 or self.mon.exited:
            self.pending = b""
            return
        os.set_blocking(fd, False)
        try:
            while self.pending:
                self.pending = self.pending[os.write(fd, self.pending[:65536]):]
        except BlockingIOError:
            self.mon.add_timer(0.05, self._flush)
        except OSError:
            self.pending = b""

    def _close_stdin(self) -> None:
        fd = self.mon.pipes.stdin_w
        if fd < 0:
            return
        if self.tty:
            self.pending += b"\x04"
            return
        self._flush()
        os.close(fd)
        self.mon.pipes.stdin_w = -1

    def _drop(self) -> None:
        if self.conn.fileno() in self.mon.sel.get_map():
            self.mon.sel.unregister(self.conn)
        self.conn.close()

    def abort(self) -> None:
        """The container ended."""
        self._drop()
