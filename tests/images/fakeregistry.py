"""An in-process fake OCI registry on 127.0.0.1 for pull tests.

It serves manifests and blobs, optionally behind Basic or Bearer auth (with its
own token endpoint), can redirect blob GETs to a second "blob host" (reached as
``localhost`` so it is another host name) that rejects any Authorization header,
and can inject faults: status codes, tampered blobs, cut-off downloads.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from engine.images.testing import BuiltImage

__all__ = ["FakeRegistry"]


class FakeRegistry:
    """Registry state plus two HTTP servers (registry and blob host)."""

    def __init__(self, auth: str | None = None, users: dict[str, str] | None = None,
                 redirect_blobs: bool = False, anonymous: bool = True) -> None:
        self.auth, self.users = auth, users or {"alice": "s3cret"}
        self.redirect_blobs, self.anonymous = redirect_blobs, anonymous
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.blobs: dict[str, bytes] = {}
        self.faults: list[tuple[str, str, Any]] = []  # (method, path substring, status|"reset"|"cut")
        self.tampered: set[str] = set()
        self.log: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.servers: list[ThreadingHTTPServer] = []

    # -- content -----------------------------------------------------------------------
    def push(self, repo: str, tag: str, image: BuiltImage) -> None:
        self.blobs.update(image.blobs)
        self.manifests[(repo, tag)] = (image.manifest, image.media_type)
        self.manifests[(repo, image.digest)] = (image.manifest, image.media_type)

    def push_index(self, repo: str, tag: str, index: tuple[bytes, str], images: list[BuiltImage],
                   media: str) -> None:
        for image in images:
            self.push(repo, image.digest, image)
        self.manifests[(repo, tag)] = (index[0], media)
        self.manifests[(repo, index[1])] = (index[0], media)

    def fail(self, method: str, path_part: str, what: Any, times: int = 1) -> None:
        """Make the next ``times`` matching requests answer ``what`` (status, 'reset' or 'cut')."""
        for _ in range(times):
            self.faults.append((method, path_part, what))

    def _fault(self, method: str, path: str) -> Any:
        with self.lock:
            for i, (m, part, what) in enumerate(self.faults):
                if m == method and part in path:
                    del self.faults[i]
                    return what
        return None

    def requests(self, method: str = "", part: str = "", host: str = "") -> list[dict[str, Any]]:
        return [r for r in self.log if (not method or r["method"] == method) and part in r["path"]
                and (not host or r["host"] == host)]

    # -- servers -----------------------------------------------------------------------
    def start(self) -> "FakeRegistry":
        main = ThreadingHTTPServer(("127.0.0.1", 0), self._handler("registry"))
        blob = ThreadingHTTPServer(("127.0.0.1", 0), self._handler("blobhost"))
        self.servers = [main, blob]
        for srv in self.servers:
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.host = f"127.0.0.1:{main.server_address[1]}"
        self.blob_host = f"localhost:{blob.server_address[1]}"
        return self

    def stop(self) -> None:
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()

    def __enter__(self) -> "FakeRegistry":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authorized(self, header: str) -> bool:
        if self.auth is None:
            return True
        if self.auth == "basic":
            return header.startswith("Basic ") and self._check_basic(header)
        return header == "Bearer good-token"

    def _check_basic(self, header: str) -> bool:
        try:
            user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return self.users.get(user) == pw

    def _handler(self, role: str) -> type[BaseHTTPRequestHandler]:
        reg = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def error(self, status: int, code: str) -> None:
                self.send(status, json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode(),
                          {"Content-Type": "application/json"})

            def do_HEAD(self) -> None:
                self.handle_any()

            def do_GET(self) -> None:
                self.handle_any()

            def handle_any(self) -> None:
                auth = self.headers.get("Authorization", "")
                reg.log.append({"method": self.command, "path": self.path, "auth": auth, "host": role,
                                "range": self.headers.get("Range", "")})
                if role == "blobhost":
                    return self.blobhost(auth)
                if self.path.startswith("/token"):
                    return self.token(auth)
                fault = reg._fault(self.command, self.path)
                if isinstance(fault, int):
                    headers = {"Retry-After": "0"} if fault == 429 else {}
                    return self.send(fault, b"", headers)
                if fault == "reset":
                    return self.drop()
                if not reg._authorized(auth):
                    return self.challenge()
                self.route(fault)

            def drop(self) -> None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def challenge(self) -> None:
                if reg.auth == "basic":
                    value = 'Basic realm="fake"'
                else:
                    value = f'Bearer realm="http://{reg.host}/token",service="fake-registry"'
                self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": value})

            def token(self, auth: str) -> None:
                if auth and not reg._check_basic(auth):
                    return self.error(401, "UNAUTHORIZED")
                if not auth and not reg.anonymous:
                    return self.error(401, "UNAUTHORIZED")
                self.send(200, json.dumps({"token": "good-token", "expires_in": 300}).encode(),
                          {"Content-Type": "application/json"})

            def route(self, fault: Any) -> None:
                parts = self.path.split("/")
                if self.path == "/v2/":
                    return self.send(200, b"{}")
                if len(parts) < 5 or parts[1] != "v2":
                    return self.error(404, "NOT_FOUND")
                repo, kind, ref = "/".join(parts[2:-2]), parts[-2], parts[-1]
                if kind == "manifests":
                    if (repo, ref) not in reg.manifests:
                        return self.error(404, "MANIFEST_UNKNOWN")
                    body, media = reg.manifests[(repo, ref)]
                    import hashlib
                    return self.send(200, body, {"Content-Type": media,
                                                 "Docker-Content-Digest": "sha256:" + hashlib.sha256(body).hexdigest()})
                if kind == "blobs":
                    if ref not in reg.blobs:
                        return self.error(404, "BLOB_UNKNOWN")
                    if reg.redirect_blobs:
                        return self.send(307, b"", {"Location": f"http://{reg.blob_host}/cdn/{ref}"})
                    return self.blob(ref, fault)
                self.error(404, "NOT_FOUND")

            def blobhost(self, auth: str) -> None:
                if auth:
                    return self.error(400, "AUTHORIZATION_NOT_ALLOWED")
                self.blob(self.path.rsplit("/", 1)[-1], reg._fault(self.command, self.path))

            def blob(self, digest: str, fault: Any) -> None:
                data = reg.blobs[digest]
                if digest in reg.tampered:
                    data = data[:-1] + bytes([data[-1] ^ 0xFF])
                start = 0
                rng = self.headers.get("Range", "")
                if rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                status = 206 if start else 200
                if fault == "cut":  # promise everything, send half, drop the connection
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data) - start))
                    self.end_headers()
                    self.wfile.write(data[start:start + (len(data) - start) // 2])
                    self.wfile.flush()
                    return self.drop()
                headers = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"} if start else {}
                self.send(status, data[start:], headers)

        return Handler
