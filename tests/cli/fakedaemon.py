"""A fake shoald for CLI tests: an asyncio HTTP/1.1 server on a unix socket with canned answers.

It speaks the API of docs/api.md closely enough for the CLI: JSON answers,
chunked NDJSON streams, and the `Upgrade: tcp` exec stream (it echoes stdin
upper-cased, then sends the `{"exit_code": N}` line). Every request is recorded.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeDaemon", "Request", "container"]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any


def container(project: str, service: str, number: int, state: str = "running",
              image: str = "busybox:latest", **extra: Any) -> dict:
    """A container summary with compose's `ps --format json` fields."""
    name = f"{project}-{service}-{number}"
    row = {"Command": "sh -c 'exec httpd -f -p 80'", "CreatedAt": "2026-11-21 15:04:05 +0000 UTC",
           "ExitCode": 0 if state == "running" else extra.pop("exit_code", 0), "Health": "",
           "ID": f"{abs(hash(name)) % 16**12:012x}" + "0" * 52, "Image": image,
           "Labels": f"com.docker.compose.container-number={number},com.docker.compose.project={project},"
                     f"com.docker.compose.service={service}",
           "LocalVolumes": "0", "Mounts": "", "Name": name, "Names": name, "Networks": f"{project}_default",
           "Ports": "", "Project": project, "Publishers": [], "RunningFor": "2 minutes ago",
           "Service": service, "Size": "0B", "State": state,
           "Status": "Up 2 minutes" if state == "running" else "Exited (0) 1 minute ago"}
    row.update(extra)
    return row


@dataclass
class FakeDaemon:
    """Canned state; tests fill these fields, then read `requests`."""

    run_dir: str
    containers: dict[str, list[dict]] = field(default_factory=dict)
    projects: list[dict] = field(default_factory=list)
    logs: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    progress: list[dict] = field(default_factory=list)
    result: dict = field(default_factory=lambda: {"type": "result", "ok": True, "message": "", "exit_code": 0})
    exec_answer: dict = field(default_factory=lambda: {"exit_code": 0, "stdout": "hello\n", "stderr": ""})
    exec_exit: int = 0
    failures: dict[str, tuple[int, str]] = field(default_factory=dict)
    inspect: dict[str, dict] = field(default_factory=dict)
    hold_streams: bool = False
    slow: dict[str, float] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.AbstractServer | None = None

    @property
    def socket(self) -> str:
        return os.path.join(self.run_dir, "shoald.sock")

    def start(self) -> "FakeDaemon":
        self.thread.start()
        fut = asyncio.run_coroutine_threadsafe(
            asyncio.start_unix_server(self._serve, path=self.socket), self.loop)
        self.server = fut.result(5)
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self.server is not None
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if os.path.exists(self.socket):
            os.unlink(self.socket)

    def calls(self, method: str, prefix: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    # -- HTTP ----------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            url = urllib.parse.urlsplit(target)
            query = dict(urllib.parse.parse_qsl(url.query))
            req = Request(method, url.path, query, json.loads(raw) if raw else None)
            self.requests.append(req)
            await self._route(req, headers, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _json(self, writer: asyncio.StreamWriter, obj: Any, status: int = 200) -> None:
        data = obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()
        ctype = "text/plain" if isinstance(obj, str) else "application/json"
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                     f"Connection: close\r\n\r\n".encode() + data)
        await writer.drain()

    async def _ndjson(self, writer: asyncio.StreamWriter, items: list[dict], hold: bool = False) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for item in items:
            data = json.dumps(item).encode() + b"\n"
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0.005)
        if hold:
            await asyncio.sleep(3600)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _route(self, req: Request, headers: dict, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        for pattern, (status, message) in self.failures.items():
            if re.fullmatch(pattern, req.path):
                return await self._json(writer, {"message": message}, status)
        p = req.path
        if p == "/_ping":
            return await self._json(writer, "OK")
        if p == "/version":
            return await self._json(writer, {"version": "0.1.0", "api_version": "1", "python": "3.11.7",
                                             "cgroup_version": 2, "kernel": "6.1"})
        if p == "/projects":
            return await self._json(writer, self.projects)
        if p == "/events":
            return await self._ndjson(writer, self.events, hold=req.query.get("follow") == "1"
                                      and self.hold_streams)
        m = re.fullmatch(r"/projects/([^/]+)/(\w+)", p)
        if m:
            return await self._project(req, m.group(1), m.group(2), reader, writer)
        m = re.fullmatch(r"/containers/([^/]+)(?:/(\w+))?", p)
        if m:
            return await self._container(req, m.group(1), m.group(2) or "", headers, reader, writer)
        await self._json(writer, {"message": f"no route {p}"}, 404)

    async def _project(self, req: Request, name: str, verb: str, reader: Any, writer: Any) -> None:
        rows = self.containers.get(name, [])
        if verb == "containers":
            services = [s for s in req.query.get("services", "").split(",") if s]
            out = [r for r in rows if (not services or r["Service"] in services)
                   and (req.query.get("all") == "1" or r["State"] == "running")]
            return await self._json(writer, out)
        if verb == "logs":
            return await self._ndjson(writer, self.logs, hold=req.query.get("follow") == "1"
                                      and self.hold_streams)
        if verb == "port":
            return await self._json(writer, {"host_ip": "127.0.0.1", "host_port": 8088})
        if verb == "run":
            return await self._json(writer, {"id": "run1", "name": f"{name}-{req.body['service']}-run-abc"})
        if verb == "wait":
            return await self._json(writer, {"exit_code": 3})
        await asyncio.sleep(self.slow.get(verb, 0))
        await self._ndjson(writer, self.progress + [self.result])

    async def _container(self, req: Request, cid: str, verb: str, headers: dict,
                         reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if verb == "":
            return await self._json(writer, self.inspect.get(cid, {"id": cid, "state": "exited",
                                                                   "exit_code": 0}))
        if verb == "top":
            return await self._json(writer, {"titles": ["UID", "PID", "CMD"],
                                             "processes": [["root", "101", "httpd -f"]]})
        if verb == "stats":
            return await self._json(writer, {"cpu_percent": 1.5, "memory_usage": 2_000_000,
                                             "memory_limit": 64_000_000, "pids": 2, "net_rx": 1000,
                                             "net_tx": 2000, "block_read": 0, "block_write": 0})
        if verb == "resize":
            return await self._json(writer, {})
        if verb in ("exec", "attach") and headers.get("upgrade") == "tcp":
            return await self._echo(reader, writer)
        if verb == "exec":
            return await self._json(writer, self.exec_answer)
        if verb == "logs":
            names = {r["Name"] for rows in self.containers.values() for r in rows if r["ID"] == cid} or {cid}
            lines = [e for e in self.logs if e.get("container") in names or "container" not in e]
            return await self._ndjson(writer, lines, hold=req.query.get("follow") == "1" and self.hold_streams)
        await self._json(writer, {"message": f"no route {req.path}"}, 404)

    async def _echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The upgraded stream: echo stdin upper-cased until EOF, then the exit code line."""
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        writer.write(b"ready\n")
        await writer.drain()
        while True:
            data = await reader.read(65536)
            if not data:
                break
            end = b"\x04" in data  # Ctrl-D on a tty stream ends it, as a shell would
            writer.write(data.split(b"\x04")[0].upper())
            await writer.drain()
            if end:
                break
        writer.write(b"\n" + json.dumps({"exit_code": self.exec_exit}).encode() + b"\n")
        await writer.drain()
