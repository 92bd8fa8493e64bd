"""A small notes web app on PostgreSQL: an HTML page, a JSON API and a health endpoint.

GET  /            the notes and a form to add one
POST /notes       the form's target (redirects back to /)
GET  /api/notes   the notes as JSON
POST /api/notes   {"body": "...", "author": "..."} -> 201 and the new note
GET  /healthz     200 when the database answers (the container's health check)
"""

from __future__ import annotations

import html
import json
import os
import signal
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["render_page", "validate_note", "Notes", "Handler", "main"]

TITLE = os.environ.get("APP_TITLE", "Notes")


def validate_note(data: Any) -> tuple[str, str]:
    """(body, author) from a request; ValueError saying what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("send a JSON object with a 'body'")
    body, author = str(data.get("body") or "").strip(), str(data.get("author") or "anonymous").strip()
    if not 1 <= len(body) <= 500:
        raise ValueError("'body' must be 1 to 500 characters")
    return body, author[:80] or "anonymous"


def render_page(title: str, notes: list[dict[str, Any]], replica: str) -> str:
    """The HTML page: every note (escaped) and the form."""
    items = "\n".join(
        f"<li><b>{html.escape(n['author'])}</b>: {html.escape(n['body'])} <small>{n['created_at']}</small></li>"
        for n in notes) or "<li>no notes yet</li>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto">
<h1>{html.escape(title)}</h1>
<form method="post" action="/notes">
  <input name="author" placeholder="your name"> <input name="body" placeholder="a note" size="40" required>
  <button>Add</button>
</form>
<ul>
{items}
</ul>
<p><small>served by {html.escape(replica)}</small></p>
</body></html>
"""


class Notes:
    """The notes table, through a small thread-safe connection pool made on first use."""

    def __init__(self) -> None:
        self._pool = None
        self._lock = threading.Lock()

    def _get_pool(self):
        with self._lock:
            if self._pool is None:
                from psycopg2.pool import ThreadedConnectionPool
                from db import connect_args
                self._pool = ThreadedConnectionPool(1, 8, **connect_args())
            return self._pool

    def run(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        """Execute one statement in its own transaction; its rows as dicts.

        A pooled connection the server or network dropped while idle is found closed
        before anything is sent; it is thrown away and the statement tried once more.
        """
        from psycopg2 import InterfaceError
        try:
            return self._run_once(sql, args)
        except InterfaceError:
            return self._run_once(sql, args)

    def _run_once(self, sql: str, args: tuple) -> list[dict[str, Any]]:
        pool = self._get_pool()
        conn = pool.getconn()
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql, args)
                if cur.description is None:
                    return []
                names = [d[0] for d in cur.description]
                return [dict(zip(names, row)) for row in cur.fetchall()]
        finally:
            pool.putconn(conn, close=bool(conn.closed))

    def list(self) -> list[dict[str, Any]]:
        """The latest 100 notes, newest first."""
        return self.run("SELECT id, author, body, created_at::text AS created_at FROM notes "
                        "ORDER BY created_at DESC, id DESC LIMIT 100")

    def add(self, body: str, author: str) -> dict[str, Any]:
        """Insert one note and return it."""
        return self.run("INSERT INTO notes (body, author) VALUES (%s, %s) "
                        "RETURNING id, author, body, created_at::text AS created_at", (body, author))[0]


NOTES = Notes()
REPLICA = socket.gethostname()


class Handler(BaseHTTPRequestHandler):
    """Routes of the notes app; database errors become 503 with the reason."""

    server_version = "notes/1"

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode() + b"\n", "application/json")

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:  # noqa: N802
        try:
            if self.path == "/healthz":
                NOTES.run("SELECT 1")
                self._json(200, {"status": "ok", "replica": REPLICA})
            elif self.path == "/api/notes":
                self._json(200, NOTES.list())
            elif self.path == "/":
                page = render_page(TITLE, NOTES.list(), REPLICA).encode()
                self._send(200, page, "text/html; charset=utf-8")
            else:
                self._json(404, {"error": f"no route {self.path}"})
        except Exception as exc:  # the database is down or the schema is missing
            self._json(503, {"error": f"{type(exc).__name__}: {str(exc).strip()}"})

    def do_POST(self) -> None:  # noqa: N802
        try:
            if self.path == "/api/notes":
                note = NOTES.add(*validate_note(json.loads(self._body() or b"null")))
                self._json(201, note)
            elif self.path == "/notes":
                form = urllib.parse.parse_qs(self._body().decode())
                NOTES.add(*validate_note({k: v[0] for k, v in form.items()}))
                self._send(303, b"", "text/plain", {"Location": "/"})
            else:
                self._json(404, {"error": f"no route {self.path}"})
        except ValueError as exc:
            self._json(400, {"error": str(exc)})
        except Exception as exc:
            self._json(503, {"error": f"{type(exc).__name__}: {str(exc).strip()}"})

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.path != "/healthz":
            sys.stdout.write(f"{self.address_string()} {fmt % args}\n")
            sys.stdout.flush()


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"notes app on :{port} (database {os.environ.get('DB_HOST', 'db')})", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
