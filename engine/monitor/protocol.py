"""The monitor's socket protocol: one JSON object per line, one reply per request.

Socket paths can exceed the 108-byte sun_path limit under deep temp dirs, so the
directory is opened and the socket addressed through ``/proc/self/fd/N``.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

__all__ = ["encode", "bind_unix", "send", "request", "ProtocolError"]


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
