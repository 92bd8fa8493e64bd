"""A tiny blocking client of the shoald API (tests, benchmarks, scripts); the CLI may use it too."""

from __future__ import annotations

import json
import socket
from typing import Any, Iterator
from urllib.parse import urlencode

__all__ = ["Client", "ApiError"]


class ApiError(Exception):
    """A non-2xx answer; ``status`` and the daemon's one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Client:
    """One connection per request to ``socket_path``."""

    def __init__(self, socket_path: str, timeout: float | None = 300.0) -> None:
        self.path = socket_path
        self.timeout = timeout

    def _open(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        data = b"" if body is None else json.dumps(body).encode()
        target = path + ("?" + urlencode({k: v for k, v in query.items() if v not in (None, "")}) if query else "")
        head = (f"{method} {target} HTTP/1.1\r\nHost: shoal\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n")
        sock.sendall(head.encode() + data)
        f = sock.makefile("rb")
        status_line = f.readline().decode()
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = f.readline().decode().strip()
            if not line:
                break
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return sock, f, status, headers

    def request(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """A JSON (or text) answer; raises ApiError on an error status."""
        sock, f, status, headers = self._open(method, path, body, query)
        try:
            if headers.get("transfer-encoding") == "chunked":
                payload = b"".join(_chunks(f))
                items = [json.loads(x) for x in payload.splitlines() if x.strip()]
                if status >= 400:
                    raise ApiError(status, str(items))
                return items
            n = int(headers.get("content-length", "0"))
            payload = f.read(n) if n else f.read()
        finally:
            f.close()
            sock.close()
        text = payload.decode()
        if status >= 400:
            try:
                message = json.loads(text).get("message", text)
            except ValueError:
                message = text
            raise ApiError(status, message)
        if headers.get("content-type", "").startswith("application/json"):
            return json.loads(text)
        return text

    def stream(self, method: str, path: str, body: Any = None, **query: Any) -> Iterator[dict[str, Any]]:
        """NDJSON lines as they come (events, logs with follow, progress)."""
        sock, f, status, headers = self._open(method, path, body, query)
        try:
            if status >= 400:
                n = int(headers.get("content-length", "0"))
                raise ApiError(status, json.loads(f.read(n) or b"{}").get("message", ""))
            buf = b""
            for chunk in _chunks(f):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            f.close()
            sock.close()

    def op(self, project: str, verb: str, body: Any = None) -> dict[str, Any]:
        """A streamed project operation; returns its result line (progress in ``["progress"]``)."""
        lines = self.request("POST", f"/projects/{project}/{verb}", body or {})
        result = dict(lines[-1]) if lines else {"ok": False, "message": "no result"}
        result["progress"] = lines[:-1]
        return result


def _chunks(f) -> Iterator[bytes]:
    while True:
        size_line = f.readline()
        if not size_line:
            return
        size = int(size_line.strip() or b"0", 16)
        if size == 0:
            f.readline()
            return
        data = f.read(size)
        f.readline()
        yield data
