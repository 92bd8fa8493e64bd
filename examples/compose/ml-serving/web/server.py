"""web: serve the static page and pass /api/* through to the model API (same origin, no CORS).

The API's service name resolves to every healthy replica; each proxied request goes to
the next address in turn (client-side round robin, since resolvers sort the answers),
so the page shows requests spreading over the replicas.
"""

from __future__ import annotations

import itertools
import os
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["RoundRobin", "Handler", "main"]

API = os.environ.get("MODEL_API_URL", "http://model-api:8000").rstrip("/")


class RoundRobin:
    """``http://name:port`` -> ``http://<next address of name>:port``, resolving on every call."""

    def __init__(self, base_url: str) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.scheme, self.host, self.port = parts.scheme, parts.hostname or "", parts.port or 80
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def next_base(self) -> str:
        """The base URL of the replica whose turn it is (the name itself if it does not resolve)."""
        try:
            infos = socket.getaddrinfo(self.host, self.port, socket.AF_INET, socket.SOCK_STREAM)
        except OSError:
            return f"{self.scheme}://{self.host}:{self.port}"
        addresses = sorted({info[4][0] for info in infos})
        with self._lock:
            turn = next(self._turn)
        return f"{self.scheme}://{addresses[turn % len(addresses)]}:{self.port}"


BACKENDS = RoundRobin(API)


class Handler(SimpleHTTPRequestHandler):
    """Static files from the document root; ``/api/<path>`` forwarded to the model API."""

    def _proxy(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        request = urllib.request.Request(BACKENDS.next_base() + self.path[len("/api"):], data=body, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                status, data = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read()
        except OSError as exc:
            status, data = 502, f'{{"error": "model API unreachable: {exc}"}}'.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/api/"):
            self._proxy("GET")
        else:
            super().do_GET()

    def do_POST(self) -> None:  # noqa: N802
        if self.path.startswith("/api/"):
            self._proxy("POST")
        else:
            self.send_error(405)


def main() -> int:
    port = int(os.environ.get("PORT", "8080"))
    root = os.environ.get("DOCUMENT_ROOT", "/srv/www")
    server = ThreadingHTTPServer(("0.0.0.0", port), partial(Handler, directory=root))
    print(f"web: serving {root} on :{port}, API at {API}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
