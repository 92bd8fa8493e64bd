"""HTTP/1.1 client of shoald over its unix socket: JSON calls, NDJSON streams, raw upgrades.

The CLI is a thin client (docs/api.md): every verb is one or two calls here. The
daemon is started on first use unless ``SHOAL_NO_AUTOSTART=1``. Failures become
one-line ``ShoalError``s that ``orchestrator.cli.main`` prints without a traceback.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from typing import Any, Iterator

__all__ = ["Client", "error", "run_dir", "root_dir", "socket_path", "query_string",
           "load_project_body", "project_name", "ApiError"]

API_TIMEOUT = 600.0
AUTOSTART_WAIT = 8.0


def error(message: str) -> Exception:
    """A one-line user error (the ShoalError that main() catches)."""
    from orchestrator.cli.errors import ShoalError
    return ShoalError(message)


class ApiError(Exception):
    """The daemon answered a non-2xx status (kept apart so callers can look at the status)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def root_dir() -> str:
    """$SHOAL_ROOT (default /var/lib/shoal): state, images, the daemon log."""
    return os.environ.get("SHOAL_ROOT", "/var/lib/shoal")


def run_dir() -> str:
    """$SHOAL_RUN (default /run/shoal): where the daemon's socket lives."""
    return os.environ.get("SHOAL_RUN", "/run/shoal")


def socket_path() -> str:
    """The daemon socket, $SHOAL_RUN/shoald.sock."""
    return os.path.join(run_dir(), "shoald.sock")


def query_string(params: dict[str, Any] | None) -> str:
    """Encode query params, dropping None/False/empty values and turning True into 1."""
    if not params:
        return ""
    items = []
    for key, value in params.items():
        if value is None or value is False or value == "" or value == []:
            continue
        if value is True:
            value = 1
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        items.append((key, str(value)))
    return ("?" + urllib.parse.urlencode(items)) if items else ""


class _UnixConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX socket."""

    def __init__(self, path: str, timeout: float | None):
        super().__init__("shoal", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def _error_message(status: int, body: bytes) -> str:
    """The daemon's one-line `message`, or the raw body when it is not JSON."""
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        text = body.decode("utf-8", "replace").strip()
        return text.splitlines()[0] if text else f"daemon answered HTTP {status}"


class Client:
    """One daemon endpoint; each call opens its own connection (streams may run side by side)."""

    def __init__(self, path: str | None = None, autostart: bool | None = None,
                 timeout: float | None = API_TIMEOUT):
        self.path = path or socket_path()
        if autostart is None:
            autostart = os.environ.get("SHOAL_NO_AUTOSTART", "") not in ("1", "true", "yes")
        self.autostart = autostart
        self.timeout = timeout
        self._checked = False

    # -- connection management -------------------------------------------------------------
    def ping(self) -> bool:
        """True when the daemon answers /_ping."""
        try:
            conn = _UnixConnection(self.path, 2.0)
            conn.request("GET", "/_ping")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except PermissionError:
            raise error(f"permission denied on {self.path}: the shoal daemon's socket is root-only") from None
        except OSError:
            return False

    def ensure(self) -> None:
        """Make sure a daemon answers; start one (detached, logging to $SHOAL_ROOT) if allowed."""
        if self._checked:
            return
        if self.ping():
            self._checked = True
            return
        if not self.autostart:
            raise error(f"cannot connect to the shoal daemon at {self.path} "
                        "(is shoald running? SHOAL_NO_AUTOSTART is set)")
        self._start_daemon()
        deadline = time.monotonic() + AUTOSTART_WAIT
        while time.monotonic() < deadline:
            if self.ping():
                self._checked = True
                return
            time.sleep(0.05)
        raise error(f"the shoal daemon did not answer on {self.path} within {AUTOSTART_WAIT:.0f}s "
                    f"(see {os.path.join(root_dir(), 'shoald.log')})")

    def _start_daemon(self) -> None:
        os.makedirs(root_dir(), exist_ok=True)
        log = open(os.path.join(root_dir(), "shoald.log"), "ab")
        # cwd "/" so the daemon keeps no user directory busy; PYTHONPATH so it still finds shoal.
        import orchestrator
        source = os.path.dirname(os.path.dirname(os.path.abspath(orchestrator.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH", "")) if p)
        try:
            subprocess.Popen([sys.executable, "-m", "orchestrator.daemon"], start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True,
                             cwd="/", env=env)
        except OSError as exc:
            raise error(f"cannot start the shoal daemon: {exc}") from exc
        finally:
            log.close()

    def _send(self, method: str, path: str, body: Any = None) -> tuple[_UnixConnection, Any]:
        self.ensure()
        conn = _UnixConnection(self.path, self.timeout)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
        except OSError as exc:
            conn.close()
            raise error(f"cannot talk to the shoal daemon at {self.path}: {exc}") from exc
        if not 200 <= resp.status < 300:
            message = _error_message(resp.status, resp.read())
            conn.close()
            raise ApiError(resp.status, message)
        return conn, resp

    # -- calls ---------------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, query: dict | None = None) -> Any:
        """One JSON request; returns the decoded answer (text when it is not JSON)."""
        conn, resp = self._checked_send(method, path + query_string(query), body)
        try:
            raw = resp.read()
        finally:
            conn.close()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def stream(self, method: str, path: str, body: Any = None,
               query: dict | None = None) -> Iterator[dict]:
        """Yield the JSON objects of an NDJSON answer as they arrive."""
        conn, resp = self._checked_send(method, path + query_string(query), body)
        if conn.sock is not None:
            conn.sock.settimeout(None)  # follow streams may stay quiet for hours
        try:
            while True:
                try:
                    line = resp.readline()
                except (OSError, http.client.HTTPException, ValueError):
                    return
                if not line:
                    return
                line = line.strip()
                if line:
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue
        finally:
            conn.close()

    def _checked_send(self, method: str, path: str, body: Any) -> tuple[_UnixConnection, Any]:
        try:
            return self._send(method, path, body)
        except ApiError as exc:
            raise error(exc.message) from exc

    def upgrade(self, path: str, body: Any) -> tuple[socket.socket, bytes]:
        """POST with ``Upgrade: tcp``: (raw socket, bytes read past the headers); ApiError if refused.

        The response's headers (lower-case names) are kept in ``upgrade_headers``.
        """
        self.ensure()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
            data = json.dumps(body).encode()
            head = (f"POST {path} HTTP/1.1\r\nHost: shoal\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
            sock.sendall(head.encode() + data)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise error("the shoal daemon closed the connection during the upgrade")
                buf += chunk
        except OSError as exc:
            sock.close()
            raise error(f"cannot talk to the shoal daemon at {self.path}: {exc}") from exc
        header, rest = buf.split(b"\r\n\r\n", 1)
        status = int(header.split(b" ", 2)[1])
        self.upgrade_headers = {k.strip().lower(): v.strip() for k, _, v in
                                (ln.decode("latin-1").partition(":") for ln in header.split(b"\r\n")[1:])}
        if status != 101:
            sock.close()
            raise ApiError(status, _error_message(status, rest[rest.find(b"{"):rest.rfind(b"}") + 1] or rest))
        return sock, rest


def load_project_body(args: Any, services: tuple[str, ...] = ()) -> tuple[str, dict]:
    """Load the compose project from the global flags: (name, the body fields `up` sends)."""
    from orchestrator.compose.loader import ProjectOptions, load_project
    loaded = load_project(ProjectOptions.from_args(args, services=tuple(services)))
    known = set((loaded.data.get("services") or {}))
    for name in services:
        if name not in known:
            raise error(f"no such service: {name}")
    return loaded.name, {"project": loaded.data, "working_dir": loaded.working_dir,
                         "config_files": list(loaded.config_files)}


def project_name(args: Any) -> str:
    """-p when given, else the name of the project the compose files describe."""
    if getattr(args, "project_name", None):
        return str(args.project_name).lower()
    env_name = os.environ.get("COMPOSE_PROJECT_NAME")
    if env_name and not getattr(args, "files", None):
        return env_name.lower()
    return load_project_body(args)[0]
