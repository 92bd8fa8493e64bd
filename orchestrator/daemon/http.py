"""Just enough HTTP/1.1 over asyncio streams: requests in, JSON, NDJSON (chunked) and upgrades out.

One request per connection (``Connection: close``), which is what the CLI and
``curl --unix-socket`` do; no new dependency.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["Request", "HttpError", "read_request", "send_json", "send_text", "NdjsonStream",
           "send_upgrade", "REASONS", "MAX_BODY"]

MAX_BODY = 64 * 1024 * 1024
REASONS = {101: "Switching Protocols", 200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
           404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}


class HttpError(Exception):
    """An error answered as ``{"message": ...}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    """A parsed request; ``query`` keeps the last value of each parameter."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> dict[str, Any]:
        """The body as a JSON object ({} when empty)."""
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except ValueError as exc:
            raise HttpError(400, f"invalid JSON body: {exc}") from None
        if not isinstance(data, dict):
            raise HttpError(400, "the JSON body must be an object")
        return data

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true", "yes")

    def csv(self, name: str) -> list[str]:
        return [s for s in self.query.get(name, "").split(",") if s]


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request, or None when the peer closed before sending one."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise HttpError(400, "request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        raise HttpError(400, "malformed request line") from None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY:
        raise HttpError(413, "request body too large")
    body = await reader.readexactly(length) if length else b""
    url = urlsplit(target)
    query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    return Request(method.upper(), unquote(url.path), query, headers, body)


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def send_text(writer: asyncio.StreamWriter, status: int, text: str,
                    content_type: str = "text/plain; charset=utf-8") -> None:
    data = text.encode()
    writer.write(_head(status, {"Content-Type": content_type, "Content-Length": str(len(data)),
                                "Connection": "close"}) + data)
    await writer.drain()


async def send_json(writer: asyncio.StreamWriter, status: int, obj: Any) -> None:
    await send_text(writer, status, json.dumps(obj), "application/json")


class NdjsonStream:
    """A chunked ``application/x-ndjson`` response: one JSON object per line, flushed at once."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.started = False
        self.closed = False

    async def start(self, status: int = 200) -> None:
        if not self.started:
            self.started = True
            self.writer.write(_head(status, {"Content-Type": "application/x-ndjson",
                                             "Transfer-Encoding": "chunked", "Connection": "close"}))
            await self.writer.drain()

    async def send(self, obj: Any) -> None:
        """Write one line; raises ConnectionError when the client went away."""
        await self.start()
        data = (json.dumps(obj) + "\n").encode()
        self.writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await self.writer.drain()

    async def end(self) -> None:
        if self.started and not self.closed:
            self.closed = True
            self.writer.write(b"0\r\n\r\n")
            await self.writer.drain()


async def send_upgrade(writer: asyncio.StreamWriter, extra: dict[str, str] | None = None) -> None:
    """``101 Switching Protocols`` to a raw bidirectional stream (exec with stdin or a tty, attach)."""
    writer.write(_head(101, {"Connection": "Upgrade", "Upgrade": "tcp", **(extra or {})}))
    await writer.drain()
