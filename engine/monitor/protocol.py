"""The monitor's socket protocol: one JSON object per line, one reply per request.

Socket paths can exceed the 108-byte sun_path limit under deep temp dirs, so the
directory is opened and the socket addressed through ``/proc/self/fd/N``.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from typing import Any, Iterator

__all__ = ["encode", "bind_unix", "send", "request", "ProtocolError", "frame", "split_frames", "ExecSession",
           "open_exec_stream", "F_STDIN", "F_STDOUT", "F_STDERR", "F_EXIT", "F_RESIZE", "F_CLOSE_STDIN"]


class ProtocolError(OSError):
    """The monitor closed the connection or answered something unreadable."""


def encode(obj: Any) -> bytes:
    """One protocol line."""
    return (json.dumps(obj) + "\n").encode()


def _short(path: str) -> tuple[str, int]:
    dfd = os.open(os.path.dirname(path), os.O_PATH | os.O_CLOEXEC)
    return f"/proc/self/fd/{dfd}/{os.path.basename(path)}", dfd


def bind_unix(path: str) -> socket.socket:
    """A listening, non-blocking unix socket at ``path`` (replacing a stale one)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    short, dfd = _short(path)
    try:
        sock.bind(short)
    finally:
        os.close(dfd)
    os.chmod(path, 0o600)
    sock.listen(16)
    sock.setblocking(False)
    return sock


def send(path: str, msg: dict, timeout: float | None = 10.0) -> socket.socket:
    """Connect to the socket at ``path`` and send ``msg``; the caller reads the reply and closes."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        short, dfd = _short(path)
        try:
            sock.connect(short)
        finally:
            os.close(dfd)
        sock.sendall(encode(msg))
    except BaseException:
        sock.close()
        raise
    return sock


def request(path: str, msg: dict, timeout: float | None = 10.0) -> dict:
    """Send one request to the monitor at ``path`` and return its reply."""
    sock = send(path, msg, timeout)
    try:
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ProtocolError(f"monitor closed the connection ({path})")
            buf += chunk
        return json.loads(buf)
    finally:
        sock.close()


# -- streaming exec framing: type byte, 4-byte big-endian length, payload ---------------------
F_STDIN, F_STDOUT, F_STDERR, F_EXIT, F_RESIZE, F_CLOSE_STDIN = 0, 1, 2, 3, 4, 5
_HEAD = struct.Struct(">BI")
STREAM_NAMES = {F_STDOUT: "stdout", F_STDERR: "stderr"}


def frame(kind: int, payload: bytes = b"") -> bytes:
    """One frame of the exec stream."""
    return _HEAD.pack(kind, len(payload)) + payload


def split_frames(buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The complete frames at the start of ``buf`` and the incomplete rest."""
    frames, pos = [], 0
    while len(buf) - pos >= _HEAD.size:
        kind, size = _HEAD.unpack_from(buf, pos)
        if len(buf) - pos - _HEAD.size < size:
            break
        frames.append((kind, buf[pos + _HEAD.size:pos + _HEAD.size + size]))
        pos += _HEAD.size + size
    return frames, buf[pos:]


class ExecSession:
    """The caller's end of a streaming exec: send input, resize, read output, wait for the exit code."""

    def __init__(self, sock: socket.socket, pid: int, tty: bool) -> None:
        self.sock, self.pid, self.tty = sock, pid, tty
        self.exit_code: int | None = None
        self.setup_error = ""
        self._buf, self._queue = b"", []  # type: bytes, list
        self._lock = threading.Lock()

    def _send(self, data: bytes) -> None:
        with self._lock:
            try:
                self.sock.sendall(data)
            except OSError:
                pass  # the process ended and the monitor closed the stream: input goes nowhere

    def send(self, data: bytes) -> None:
        """Write to the process's stdin."""
        if data:
            self._send(frame(F_STDIN, data))

    def close_stdin(self) -> None:
        """End of input (a tty gets its EOF character)."""
        self._send(frame(F_CLOSE_STDIN))

    def resize(self, height: int, width: int) -> None:
        """Set the tty's window size (the process gets SIGWINCH); ignored without a tty."""
        self._send(frame(F_RESIZE, struct.pack(">HH", height, width)))

    def read(self) -> tuple[str, bytes] | None:
        """The next ``(stream, bytes)`` of output; None once the process ended (see ``exit_code``)."""
        while not self._queue:
            if self.exit_code is not None:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                self.exit_code = 255 if self.exit_code is None else self.exit_code
                self.setup_error = self.setup_error or "the monitor closed the exec stream"
                self.sock.close()
                return None
            frames, self._buf = split_frames(self._buf + chunk)
            for kind, payload in frames:
                if kind == F_EXIT:
                    tail = json.loads(payload)
                    self.exit_code, self.setup_error = int(tail["exit_code"]), tail.get("setup_error", "")
                    self.sock.close()
                elif kind in STREAM_NAMES:
                    self._queue.append((STREAM_NAMES[kind], payload))
        return self._queue.pop(0)

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        while (item := self.read()) is not None:
            yield item

    def wait(self) -> int:
        """Read (and drop) the rest of the output; the exit code."""
        for _ in self:
            pass
        assert self.exit_code is not None
        return self.exit_code

    def close(self) -> None:
        """Hang up: the monitor ends the process's input (a tty gets SIGHUP)."""
        self.sock.close()


def open_exec_stream(path: str, msg: dict, timeout: float | None = 10.0) -> ExecSession:
    """Ask the monitor at ``path`` for a streaming exec; the session once the process runs."""
    sock = send(path, msg, timeout)
    try:
        buf = b""
        while b"\n" not in buf:
            chunk = sock.recv(1)  # byte by byte: frames follow the line at once
            if not chunk:
                raise ProtocolError(f"monitor closed the connection ({path})")
            buf += chunk
        head = json.loads(buf)
        if head.get("error"):
            raise RuntimeError(head["error"])
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return ExecSession(sock, int(head["pid"]), bool(msg.get("tty")))
