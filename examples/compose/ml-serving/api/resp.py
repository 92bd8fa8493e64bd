"""A minimal Redis client speaking RESP over a plain socket (no pip in offline images).

Only what the API needs: send a command as an array of bulk strings, read one reply.
A new connection per call keeps it thread-safe under ThreadingHTTPServer.
"""

from __future__ import annotations

import socket
from typing import Union

__all__ = ["RedisError", "Reply", "encode_command", "read_reply", "Redis"]

Reply = Union[None, int, bytes, str, list]


class RedisError(Exception):
    """The server answered with an error, or could not be reached or understood."""


def encode_command(*args: Union[str, bytes, int]) -> bytes:
    """``SET k v`` as RESP: ``*3\\r\\n$3\\r\\nSET\\r\\n...``."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _line(stream) -> bytes:
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise RedisError("connection closed in the middle of a reply")
    return line[:-2]


def read_reply(stream) -> Reply:
    """One reply from a buffered binary stream: simple string, error, integer, bulk or array."""
    line = _line(stream)
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = stream.read(size + 2)
        if len(data) != size + 2:
            raise RedisError("connection closed in the middle of a bulk string")
        return data[:-2]
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [read_reply(stream) for _ in range(count)]
    raise RedisError(f"unexpected reply type {kind!r}")


class Redis:
    """``Redis("cache", 6379).call("GET", "key")``."""

    def __init__(self, host: str, port: int = 6379, timeout: float = 1.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    def call(self, *args: Union[str, bytes, int]) -> Reply:
        """Send one command and return its reply; RedisError on any failure."""
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
                sock.sendall(encode_command(*args))
                with sock.makefile("rb") as stream:
                    return read_reply(stream)
        except (OSError, ValueError) as exc:
            raise RedisError(f"redis at {self.host}:{self.port}: {exc}") from None
