"""The API on ``$SHOAL_RUN/shoald.sock``: routes of docs/api.md onto operations and queries."""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import re
import sys
from typing import Any, Awaitable, Callable

from orchestrator.daemon.events import parse_time
from orchestrator.daemon.http import HttpError, NdjsonStream, Request, read_request, send_json, send_text, \
    send_upgrade
from orchestrator.daemon.ops import OpError, Operations
from orchestrator.daemon.progress import Progress
from orchestrator.daemon.queries import Queries
from orchestrator.to_spec import SHOAL_VERSION

__all__ = ["ApiServer", "API_VERSION"]

log = logging.getLogger("shoald.api")
API_VERSION = "1.0"
_STREAMED = {"up", "down", "scale", "start", "stop", "restart", "pause", "unpause", "kill", "rm"}


def _cgroup_version() -> int:
    return 2 if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else 1


class ApiServer:
    """Routes one request per connection; streamed operations send NDJSON progress then a result."""

    def __init__(self, ops: Operations, queries: Queries) -> None:
        self.ops = ops
        self.q = queries
        self.bus = ops.r.bus
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.Task[Any]] = set()

    async def listen(self, path: str) -> None:
        if os.path.exists(path):
            os.unlink(path)
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._handle, path=path, limit=1 << 20)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self._conns):
            t.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        try:
            req = await read_request(reader)
            if req is not None:
                await self._dispatch(req, reader, writer)
        except HttpError as exc:
            await _safe(send_json(writer, exc.status, {"message": str(exc)}))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # one line to the client, the traceback to the log
            log.exception("request failed")
            await _safe(send_json(writer, 500, {"message": str(exc) or type(exc).__name__}))
        finally:
            if task is not None:
                self._conns.discard(task)
            writer.close()

    async def _dispatch(self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._route(req, reader, writer)
        except OpError as exc:
            await send_json(writer, exc.status, {"message": str(exc)})
        except ValueError as exc:
            await send_json(writer, 400, {"message": str(exc)})

    async def _route(self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        m, p = req.method, req.path.rstrip("/") or "/"
        if m == "GET" and p == "/_ping":
            return await send_text(writer, 200, "OK")
        if m == "GET" and p == "/version":
            return await send_json(writer, 200, {"version": SHOAL_VERSION, "api_version": API_VERSION,
                                                 "python": sys.version.split()[0],
                                                 "cgroup_version": _cgroup_version(), "kernel": platform.release()})
        if m == "GET" and p == "/events":
            return await self._events(req, writer)
        if m == "GET" and p == "/projects":
            return await send_json(writer, 200, await self.q.projects(req.flag("all")))
        match = re.fullmatch(r"/projects/([^/]+)/([a-z]+)", p)
        if match:
            return await self._project(req, match.group(1), match.group(2), writer)
        match = re.fullmatch(r"/containers/([^/]+)(?:/([a-z]+))?", p)
        if match:
            return await self._container(req, match.group(1), match.group(2) or "", reader, writer)
        raise HttpError(404, f"no route for {m} {req.path}")

    async def _project(self, req: Request, name: str, verb: str, writer: asyncio.StreamWriter) -> None:
        if req.method == "POST" and verb in _STREAMED:
            return await self._streamed(name, verb, req.json(), writer)
        if req.method == "POST" and verb == "run":
            return await send_json(writer, 201, await self.ops.run(name, req.json()))
        if req.method == "POST" and verb == "wait":
            body = req.json()
            result = await self.q.wait(name, list(body.get("services") or []))
            if body.get("down_project"):
                await self.ops.down(name, {}, Progress())
            return await send_json(writer, 200, result)
        if req.method == "GET" and verb == "containers":
            rows = await self.q.containers(name, req.flag("all"), req.csv("services"), req.query.get("status", ""))
            return await send_json(writer, 200, rows)
        if req.method == "GET" and verb == "logs":
            targets = await self.q.log_targets(name, req.csv("services"))
            tail = req.query.get("tail", "")
            lines = self.q.logs(targets, req.flag("follow"), req.query.get("since", ""), req.query.get("until", ""),
                                int(tail) if tail.isdigit() else None, req.flag("timestamps"))
            return await _stream_iter(writer, lines)
        if req.method == "GET" and verb == "port":
            try:
                port, index = int(req.query.get("port", "")), int(req.query.get("index") or 1)
            except ValueError:
                raise OpError("port and index must be numbers") from None
            return await send_json(writer, 200, await self.q.port(name, req.query.get("service", ""), port,
                                                                  req.query.get("protocol") or "tcp", index))
        raise HttpError(405 if verb in _STREAMED else 404, f"no route for {req.method} {req.path}")

    async def _streamed(self, name: str, verb: str, body: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        progress = Progress()
        fn: Callable[[], Awaitable[dict[str, Any]]]
        if verb in ("pause", "unpause", "kill"):
            fn = lambda: self.ops.signal(name, verb, body, progress)  # noqa: E731
        else:
            fn = lambda: getattr(self.ops, verb)(name, body, progress)  # noqa: E731
        task = asyncio.create_task(fn())
        stream = NdjsonStream(writer)
        getter: asyncio.Task[Any] | None = None
        try:
            while True:
                getter = asyncio.create_task(progress.queue.get())
                done, _ = await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    await stream.send(getter.result())
                    continue
                getter.cancel()
                break
            while not progress.queue.empty():
                await stream.send(progress.queue.get_nowait())
            try:
                result = task.result()
            except OpError as exc:
                if not stream.started:
                    return await send_json(writer, exc.status, {"message": str(exc)})
                result = {"type": "result", "ok": False, "message": str(exc), "exit_code": 1}
            await stream.send(result)
            await stream.end()
        except (ConnectionError, asyncio.CancelledError):
            if getter is not None:
                getter.cancel()
            # the operation keeps running: the daemon owns it, not the client's connection

    async def _container(self, req: Request, ref: str, verb: str, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        if req.method == "GET" and not verb:
            return await send_json(writer, 200, await self.q.inspect(ref))
        if req.method == "GET" and verb == "logs":
            cid = await self.q.resolve(ref)
            info = await asyncio.to_thread(self.q.engine.inspect, cid)
            tail = req.query.get("tail", "")
            target = (cid, info.name, info.labels.get("com.docker.compose.service", ""), 0)
            lines = self.q.logs([target], req.flag("follow"), req.query.get("since", ""), req.query.get("until", ""),
                                int(tail) if tail.isdigit() else None, req.flag("timestamps"))
            return await _stream_iter(writer, lines)
        if req.method == "GET" and verb == "top":
            return await send_json(writer, 200, await self.q.top(ref))
        if req.method == "GET" and verb == "stats":
            return await send_json(writer, 200, await self.q.stats(ref))
        if req.method == "POST" and verb == "resize":
            return await send_json(writer, 200, await self.q.resize(ref, req.json()))
        if req.method == "POST" and verb == "exec":
            body = req.json()
            if not (body.get("stdin") or body.get("tty")):
                return await send_json(writer, 200, await self.q.exec(ref, body))
            return await self._exec_upgraded(ref, body, reader, writer)
        if req.method == "POST" and verb == "attach":
            return await self._attach(ref, req.json(), reader, writer)
        raise HttpError(404, f"no route for {req.method} {req.path}")

    async def _exec_upgraded(self, ref: str, body: dict[str, Any], reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        """Upgraded exec: input and output relayed live, then a last line with the exit code."""
        exec_id, sess, ctx = await self.q.exec_stream(ref, body)
        code = 255
        try:
            await send_upgrade(writer, {"X-Shoal-Exec-Id": exec_id})
            feeder = asyncio.create_task(_feed_stdin(reader, sess, bool(body.get("stdin")), bool(body.get("tty"))))
            try:
                while (item := await asyncio.to_thread(sess.read)) is not None:
                    writer.write(item[1])
                    await writer.drain()
            finally:
                feeder.cancel()
            code = sess.exit_code if sess.exit_code is not None else 255
            writer.write(b"\n" + (f'{{"exit_code": {code}}}' + "\n").encode())
            await writer.drain()
        finally:
            sess.close()  # a client that went away hangs the session up
            self.q.exec_done(exec_id, ctx, code)

    async def _attach(self, ref: str, body: dict[str, Any], reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        """Attach: the container's output (its log, from the start) until it exits, then its exit code;
        with ``"stdin"`` (a ``stdin_open`` container) the client's bytes go to its stdin."""
        cid = await self.q.resolve(ref)
        done = self.ops.attached.get(cid)
        feeder, key, sess = None, "", None
        try:
            key, sess = await self.q.attach_input(cid) if body.get("stdin") or body.get("tty") else ("", None)
            await send_upgrade(writer, {"X-Shoal-Exec-Id": key} if key else None)
            if sess is not None:
                feeder = asyncio.create_task(_feed_stdin(reader, sess, bool(body.get("stdin")), False))
            lines = self.q.logs([(cid, "", "", 0)], True, "", "", None, False)
            async for item in lines:
                writer.write(str(item["line"]).encode())
                await writer.drain()
            exits = self.ops.oneoff_exits.get(cid)
            if exits is not None:
                code = await exits
            else:
                code = (await asyncio.to_thread(self.q.engine.wait, cid)).exit_code
            writer.write(b"\n" + (f'{{"exit_code": {code}}}' + "\n").encode())
            await writer.drain()
        finally:
            if feeder is not None:
                feeder.cancel()
            if sess is not None:
                self.q.sessions.pop(key, None)
                sess.close()
            if done is not None:
                done.set()

    async def _events(self, req: Request, writer: asyncio.StreamWriter) -> None:
        now = self.ops.r.clock.time()
        since = parse_time(req.query.get("since", ""), now)
        until = parse_time(req.query.get("until", ""), now)
        project, service = req.query.get("project", ""), req.query.get("service", "")
        follow = req.flag("follow") or ("since" not in req.query and "until" not in req.query)
        stream = NdjsonStream(writer)
        queue = self.bus.subscribe() if follow and until is None else None
        try:
            await stream.start()
            if since is not None or until is not None:
                for ev in self.ops.db.events(since, until, project, service):
                    await stream.send(ev)
            while queue is not None:
                ev = await queue.get()
                if (not project or ev["project"] == project) and (not service or ev["service"] == service):
                    await stream.send(ev)
            await stream.end()
        finally:
            if queue is not None:
                self.bus.unsubscribe(queue)


async def _stream_iter(writer: asyncio.StreamWriter, items: Any) -> None:
    stream = NdjsonStream(writer)
    await stream.start()
    async for item in items:
        await stream.send(item)
    await stream.end()


async def _safe(aw: Awaitable[None]) -> None:
    try:
        await aw
    except Exception:
        pass


async def _feed_stdin(reader: asyncio.StreamReader, sess: Any, stdin: bool, tty: bool) -> None:
    """Client bytes to the exec's stdin as they come; the client's half-close ends the input."""
    try:
        while data := await reader.read(65536):
            if stdin:
                await asyncio.to_thread(sess.send, data)
    except (ConnectionError, OSError):
        pass
    if stdin or tty:
        await asyncio.to_thread(sess.close_stdin)
