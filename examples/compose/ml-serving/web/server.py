"""web: serve the static page and pass /api/* through to the model API (same origin, no CORS).

Each proxied request opens a new connection to ``MODEL_API_URL`` so requests spread over
the API's replicas; the page shows which replica answered each one.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Handler", "main"]

API = os.environ.get("MODEL_API_URL", "http://model-api:8000").rstrip("/")


class Handler(SimpleHTTPRequestHandler):
    """Static files from the document root; ``/api/<path>`` forwarded to the model API."""

    def _proxy(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        request = urllib.request.Request(API + self.path[len("/api"):], data=body, method=method,
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
