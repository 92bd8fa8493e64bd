"""A small OCI distribution client: auth challenges, manual redirects, retries, resumable blobs.

The HTTP layer is an injectable ``Transport`` (tests wrap it to inject faults).
Redirects are followed by hand so that the Authorization header is never sent
to another host (Docker Hub redirects blobs to a CDN that rejects it).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import json
import os
import re
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Protocol

from . import oci
from .errors import DigestMismatch, RegistryError
from .reference import registry_endpoint

__all__ = ["Response", "Transport", "HTTPTransport", "RegistryClient", "parse_challenge",
           "is_loopback", "ProgressFn"]

ProgressFn = Callable[[str, str, int, int], None]  # (status, digest, current, total)
_TRANSIENT = {429, 500, 502, 503, 504}
_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 1 << 20


@dataclass
class Response:
    """A streamed HTTP response; header names are lower case."""

    status: int
    headers: dict[str, str]
    body: BinaryIO
    url: str
    closer: Callable[[], None] = field(default=lambda: None)

    def read(self) -> bytes:
        try:
            return self.body.read()
        finally:
            self.close()

    def close(self) -> None:
        self.closer()


class Transport(Protocol):
    """Sends one request; must not follow redirects."""

    def request(self, method: str, url: str, headers: dict[str, str]) -> Response: ...


class HTTPTransport:
    """Standard-library HTTP(S) transport, one connection per request."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.context = ssl.create_default_context()

    def request(self, method: str, url: str, headers: dict[str, str]) -> Response:
        u = urllib.parse.urlsplit(url)
        if u.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                u.netloc, timeout=self.timeout, context=self.context)
        else:
            conn = http.client.HTTPConnection(u.netloc, timeout=self.timeout)
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        try:
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp, url, conn.close)


def is_loopback(host: str) -> bool:
    """True for localhost and 127.0.0.0/8 / ::1 hosts (with or without a port)."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Parse 'Bearer realm="...",service="..."' into ('bearer', {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)\s*=\s*"([^"]*)"', rest)}
    return scheme.lower(), params


def _error_text(resp: Response) -> str:
    """The registry's own error message, if the body is the usual JSON errors document."""
    try:
        doc = json.loads(resp.read()[:65536] or b"{}")
        return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ")
                         for e in doc.get("errors", []))
    except (ValueError, AttributeError, OSError, http.client.HTTPException):
        return ""


_REASONS = {401: "authentication required (log in with 'shoal login')", 403: "access denied",
            404: "not found", 429: "too many requests: rate limited by the registry "
                 "(wait, or log in with 'shoal login')"}


class RegistryClient:
    """Talks to one registry host with optional (user, password) credentials."""

    def __init__(self, domain: str, creds: tuple[str, str] | None = None,
                 transport: Transport | None = None, insecure: bool = False,
                 retries: int = 4, backoff: float = 0.25) -> None:
        self.host = registry_endpoint(domain)
        self.plain = insecure or is_loopback(self.host)
        self.base = f"{'http' if self.plain else 'https'}://{self.host}"
        self.creds = creds
        self.transport = transport or HTTPTransport()
        self.retries, self.backoff = retries, backoff
        self.tokens: dict[str, str] = {}
        self.basic = False
        self.requests = 0

    # -- authentication ----------------------------------------------------------------
    def _auth_header(self, scope: str) -> str | None:
        if scope in self.tokens:
            return f"Bearer {self.tokens[scope]}"
        if self.basic and self.creds:
            raw = f"{self.creds[0]}:{self.creds[1]}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        return None

    def _challenge(self, header: str, scope: str) -> bool:
        """Answer a 401 challenge; False when there is nothing more to try."""
        scheme, params = parse_challenge(header)
        if scheme == "basic":
            if not self.creds or self.basic:
                return False
            self.basic = True
            return True
        if scheme == "bearer" and params.get("realm"):
            self.tokens[scope] = self._fetch_token(params, scope)
            return True
        return False

    def _fetch_token(self, params: dict[str, str], scope: str) -> str:
        realm = params["realm"]
        u = urllib.parse.urlsplit(realm)
        if u.scheme != "https" and not (self.plain or is_loopback(u.netloc)):
            raise RegistryError(f"refusing to send credentials to a plain-http token service {realm}")
        query = {k: v for k, v in (("service", params.get("service", "")), ("scope", scope)) if v}
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"User-Agent": "shoal"}
        if self.creds:
            raw = f"{self.creds[0]}:{self.creds[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        resp = self._retrying(lambda: self.transport.request("GET", url, headers))
        if resp.status != 200:
            detail = _error_text(resp)
            raise RegistryError(f"token service {u.netloc} refused: HTTP {resp.status}"
                                + (f" ({detail})" if detail else ""), resp.status)
        try:
            doc = json.loads(resp.read())
            return str(doc.get("token") or doc["access_token"])
        except (ValueError, KeyError, TypeError):
            raise RegistryError(f"token service {u.netloc} returned no token") from None

    # -- requests ----------------------------------------------------------------------
    def _retrying(self, send: Callable[[], Response]) -> Response:
        """Run ``send`` with backoff on connection errors, 5xx and 429 (Retry-After honoured)."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                self.requests += 1
                resp = send()
            except (OSError, http.client.HTTPException) as exc:
                if last:
                    raise RegistryError(f"connection to {self.host} failed: {exc}") from None
                time.sleep(min(self.backoff * 2 ** attempt, 5.0))
                continue
            if resp.status in _TRANSIENT and not last:
                delay = self.backoff * 2 ** attempt
                retry_after = resp.headers.get("retry-after", "")
                if retry_after.isdigit():
                    delay = float(retry_after)
                resp.close()
                time.sleep(min(delay, 30.0))
                continue
            return resp
        raise AssertionError("unreachable")

    def _once(self, method: str, url: str, headers: dict[str, str], scope: str) -> Response:
        """One logical request: authenticate on 401 once, follow redirects without leaking auth."""
        own = urllib.parse.urlsplit(self.base).netloc
        answered = False
        for _ in range(10):
            h = dict(headers, **{"User-Agent": "shoal"})
            same = urllib.parse.urlsplit(url).netloc == own
            auth = self._auth_header(scope) if same else None
            if auth:
                h["Authorization"] = auth
            resp = self.transport.request(method, url, h)
            if resp.status == 401 and same and not answered:
                answered = True
                self.tokens.pop(scope, None)
                if not self._challenge(resp.headers.get("www-authenticate", ""), scope):
                    return resp
                resp.close()
                continue
            if resp.status in _REDIRECTS and "location" in resp.headers:
                url = urllib.parse.urljoin(url, resp.headers["location"])
                resp.close()
                if urllib.parse.urlsplit(url).scheme == "http" and not (
                        self.plain or is_loopback(urllib.parse.urlsplit(url).netloc)):
                    raise RegistryError(f"refusing redirect to plain http: {url}")
                continue
            return resp
        raise RegistryError(f"too many redirects from {self.host}")

    def request(self, method: str, path: str, scope: str, headers: dict[str, str] | None = None,
                what: str = "") -> Response:
        """Send a request to the registry; raises RegistryError on 4xx/5xx with a clear reason."""
        url = self.base + path
        resp = self._retrying(lambda: self._once(method, url, headers or {}, scope))
        if resp.status >= 400:
            detail = _error_text(resp) if method != "HEAD" else ""
            reason = _REASONS.get(resp.status, f"HTTP {resp.status}")
            raise RegistryError(f"{what or path}: {reason}" + (f" ({detail})" if detail else ""),
                                resp.status)
        return resp

    def ping(self) -> None:
        """GET /v2/ with authentication: checks that the registry and credentials work."""
        self.request("GET", "/v2/", "", what=f"registry {self.host}").read()

    @staticmethod
    def scope(repo: str) -> str:
        return f"repository:{repo}:pull"

    def head_manifest(self, repo: str, ref: str) -> str | None:
        """The manifest digest the registry has for ``ref`` (a HEAD, which is not a pull)."""
        resp = self.request("HEAD", f"/v2/{repo}/manifests/{ref}", self.scope(repo),
                            {"Accept": oci.MANIFEST_ACCEPT}, what=f"{repo}:{ref}")
        resp.close()
        return resp.headers.get("docker-content-digest")

    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str]:
        """Fetch a manifest or index; returns (body, content type, verified digest)."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{ref}", self.scope(repo),
                            {"Accept": oci.MANIFEST_ACCEPT}, what=f"manifest {repo}:{ref}")
        body = resp.read()
        digest = oci.sha256_digest(body)
        claimed = resp.headers.get("docker-content-digest", "")
        if ref.startswith("sha256:") and digest != ref:
            raise DigestMismatch(f"manifest {ref}: digest mismatch (got {digest})")
        if claimed.startswith("sha256:") and claimed != digest:
            raise DigestMismatch(f"manifest {repo}:{ref}: digest mismatch (registry said {claimed}, "
                                 f"content is {digest})")
        return body, resp.headers.get("content-type", ""), digest

    def fetch_blob(self, repo: str, digest: str, size: int, partial: str,
                   progress: ProgressFn | None = None) -> None:
        """Download a blob into ``partial`` (resuming it), verifying size and digest."""
        for attempt in range(self.retries + 1):
            try:
                self._fetch_blob_once(repo, digest, size, partial, progress)
                return
            except (OSError, http.client.HTTPException) as exc:
                if attempt == self.retries:
                    if isinstance(exc, http.client.IncompleteRead):
                        raise DigestMismatch(f"blob {digest[:19]}: truncated: the connection closed "
                                             f"early; the partial download is kept for the next pull") from None
                    raise RegistryError(f"blob {digest[:19]}: download failed: {exc}") from None
                time.sleep(min(self.backoff * 2 ** attempt, 5.0))

    def _fetch_blob_once(self, repo: str, digest: str, size: int, partial: str,
                         progress: ProgressFn | None) -> None:
        h = hashlib.sha256()
        have = os.path.getsize(partial) if os.path.exists(partial) else 0
        if have > size >= 0:
            os.unlink(partial)
            have = 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", self.scope(repo), headers,
                            what=f"blob {digest[:19]}") if not (have and have == size) else None
        mode = "ab" if resp is None or resp.status == 206 else "wb"
        with open(partial, mode) as out:
            if mode == "ab":
                with open(partial, "rb") as old:
                    while chunk := old.read(_CHUNK):
                        h.update(chunk)
            done = have if mode == "ab" else 0
            got = 0
            try:
                while resp is not None and (chunk := resp.body.read(_CHUNK)):
                    out.write(chunk)
                    h.update(chunk)
                    done += len(chunk)
                    got += len(chunk)
                    if progress:
                        progress("Downloading", digest, done, size)
                    if done > size >= 0:
                        break
            finally:
                if resp is not None:
                    resp.close()
            expected = resp.headers.get("content-length", "") if resp is not None else ""
            if expected.isdigit() and got < int(expected):  # connection closed early: resume later
                raise http.client.IncompleteRead(b"", int(expected) - got)
        self._verify(digest, size, partial, done, "sha256:" + h.hexdigest())

    @staticmethod
    def _verify(digest: str, size: int, partial: str, done: int, actual: str) -> None:
        if size >= 0 and done < size:
            os.unlink(partial)  # the server's copy is short: resuming it would not help
            raise DigestMismatch(f"blob {digest[:19]}: truncated ({done} of {size} bytes)")
        if (size >= 0 and done > size) or actual != digest:
            os.unlink(partial)
            raise DigestMismatch(f"blob {digest[:19]}: digest mismatch (expected {digest}, "
                                 f"got {actual}, {done} bytes)")
