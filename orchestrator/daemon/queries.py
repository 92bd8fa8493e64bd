"""Read-only API operations: projects, containers, inspect, logs, top, stats, exec (live too), resize, wait."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from typing import Any, AsyncIterator

from engine.errors import ContainerNotFound
from engine.state import parse_rfc3339
from orchestrator.daemon.loop import Reconciler
from orchestrator.daemon.ops import OpError
from orchestrator.daemon.views import inspect_view, summary
from orchestrator.reconciler.observed import LABEL_PROJECT, from_engine

__all__ = ["Queries"]


def _text(data: bytes) -> tuple[str, bool]:
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(data).decode(), True


class Queries:
    """Answers for the GET endpoints and exec."""

    def __init__(self, rec: Reconciler) -> None:
        self.r = rec
        self.engine = rec.engine
        self.sessions: dict[str, tuple[str, Any]] = {}  # exec id -> (container id, engine ExecSession)

    async def projects(self, all_: bool) -> list[dict[str, Any]]:
        infos = await asyncio.to_thread(self.engine.list)
        out = []
        for rec in self.r.db.projects():
            mine = [i for i in infos if i.labels.get(LABEL_PROJECT) == rec.name]
            running = sum(1 for i in mine if i.state in ("running", "paused"))
            if not running and not all_:
                continue
            status = f"running({running})" if running else f"exited({len(mine)})"
            out.append({"name": rec.name, "status": status, "config_files": ",".join(rec.config_files),
                        "working_dir": rec.working_dir, "desired": rec.status})
        return out

    async def containers(self, project: str, all_: bool, services: list[str], status: str) -> list[dict[str, Any]]:
        infos = await asyncio.to_thread(self.engine.list)
        observed = {c.id: c for c in await self.r.observe(project, infos, oneoff=True)}
        slots = self.r.db.slots(project)
        rows = []
        for info in infos:
            c = observed.get(info.id)
            if c is None or (services and c.service not in services):
                continue
            if not all_ and not c.running and c.state != "restarting":
                continue
            slot = slots.get(info.name)
            row = summary(info, c, slot.failed if slot else "")
            row["Publishers"] = await asyncio.to_thread(self.publishers, info.id)
            row["Ports"] = ", ".join(f"{p['URL']}:{p['PublishedPort']}->{p['TargetPort']}/{p['Protocol']}"
                                     for p in row["Publishers"])
            if status and row["State"] != status:
                continue
            rows.append(row)
        return sorted(rows, key=lambda r: r["Name"])

    def publishers(self, cid: str) -> list[dict[str, Any]]:
        """Compose's ``Publishers`` of one container (empty without networking)."""
        if self.r.net is None:
            return []
        return [{"URL": p.host_ip or "0.0.0.0", "TargetPort": p.container_port, "PublishedPort": p.host_port,
                 "Protocol": p.protocol} for p in self.r.net.nm.publications(cid)]

    async def port(self, project: str, service: str, port: int, protocol: str, index: int) -> dict[str, Any]:
        """``shoal port``: the host address a replica's container port is published on."""
        observed = [c for c in await self.r.observe(project) if c.service == service and c.number == index]
        if not observed:
            raise OpError(f"service {service!r} has no replica {index}", 404)
        pubs = await asyncio.to_thread(self.publishers, observed[0].id)
        for p in pubs:
            if p["TargetPort"] == port and p["Protocol"] == protocol:
                return {"host_ip": p["URL"], "host_port": p["PublishedPort"]}
        raise OpError(f"no port {port}/{protocol} published for service {service}", 404)

    async def resolve(self, ref: str) -> str:
        try:
            return await asyncio.to_thread(self.engine.resolve, ref)
        except ContainerNotFound as exc:
            raise OpError(str(exc), 404) from None

    async def inspect(self, ref: str) -> dict[str, Any]:
        cid = await self.resolve(ref)
        info = await asyncio.to_thread(self.engine.inspect, cid)
        project = info.labels.get(LABEL_PROJECT, "")
        obs = [c for c in await self.r.observe(project, [info], oneoff=True)] if project else []
        c = obs[0] if obs else from_engine(info)
        slot = self.r.db.slots(project).get(info.name) if project else None
        health = slot.health if slot else None
        live = self.r.probes.states.get(cid)
        if live is not None:
            from orchestrator.daemon.loop import health_record
            health = health_record(live)
        return inspect_view(info, c, health, slot.restart.restart_count if slot else 0)

    async def logs(self, refs: list[tuple[str, str, str, int]], follow: bool, since: str, until: str,
                   tail: int | None, timestamps: bool) -> AsyncIterator[dict[str, Any]]:
        """Lines of several containers; without follow merged in time order, with follow as they come."""
        until_t = parse_time_opt(until)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def pump(cid: str, name: str, service: str, number: int) -> None:
            try:
                for line in self.engine.logs(cid, follow=follow, since=since or None, tail=tail):
                    if until_t is not None and parse_rfc3339(line.time) > until_t:
                        continue
                    item = {"container": name, "service": service, "number": number, "stream": line.stream,
                            "time": line.time, "line": line.message}
                    loop.call_soon_threadsafe(queue.put_nowait, item)
            except Exception:
                pass
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        tasks = [asyncio.create_task(asyncio.to_thread(pump, *ref)) for ref in refs]
        if not follow:
            await asyncio.gather(*tasks)
            items = []
            while not queue.empty():
                item = queue.get_nowait()
                if item is not None:
                    items.append(item)
            for item in sorted(items, key=lambda i: i["time"]):
                yield item
            return
        left = len(tasks)
        while left:
            item = await queue.get()
            if item is None:
                left -= 1
                continue
            yield item

    async def log_targets(self, project: str, services: list[str]) -> list[tuple[str, str, str, int]]:
        observed = await self.r.observe(project, oneoff=True)
        return [(c.id, c.name, c.service, c.number) for c in sorted(observed, key=lambda c: c.name)
                if not services or c.service in services]

    async def top(self, ref: str) -> dict[str, Any]:
        cid = await self.resolve(ref)
        info = await asyncio.to_thread(self.engine.inspect, cid)
        if info.state not in ("running", "paused") or not info.pid:
            raise OpError(f"container {info.name} is not running", 409)
        return {"titles": ["UID", "PID", "PPID", "CMD"], "processes": await asyncio.to_thread(_procs, info.pid)}

    async def stats(self, ref: str) -> dict[str, Any]:
        cid = await self.resolve(ref)
        try:
            st = await asyncio.to_thread(self.engine.stats, cid)
        except Exception as exc:
            raise OpError(str(exc), 409) from None
        get = lambda *names: next((getattr(st, n) for n in names if hasattr(st, n)), 0)  # noqa: E731
        return {"cpu_percent": 0.0, "cpu_usage_ns": get("cpu_usage_ns", "cpu_ns", "cpu_usage"),
                "memory_usage": get("memory_usage", "memory_current", "memory"),
                "memory_limit": get("memory_limit", "memory_max"), "pids": get("pids", "pids_current"),
                "net_rx": 0, "net_tx": 0, "block_read": get("block_read", "io_read"),
                "block_write": get("block_write", "io_write")}

    async def exec(self, ref: str, body: dict[str, Any], stdin: bytes | None = None) -> dict[str, Any]:
        cid = await self.resolve(ref)
        cmd = body.get("cmd") or []
        if not cmd:
            raise OpError("exec needs a command")
        info = await asyncio.to_thread(self.engine.inspect, cid)
        project, service = info.labels.get(LABEL_PROJECT, ""), info.labels.get("com.docker.compose.service", "")
        self.r.bus.emit("container", "exec_create", cid, project, service, name=info.name, cmd=" ".join(cmd))
        try:
            res = await asyncio.to_thread(self.engine.exec, cid, cmd, env=list(body.get("env") or []),
                                          user=body.get("user") or "", workdir=body.get("workdir") or "",
                                          tty=bool(body.get("tty")), stdin=stdin)
        except Exception as exc:
            raise OpError(f"exec in {info.name}: {exc}", 409) from None
        self.r.bus.emit("container", "exec_die", cid, project, service, name=info.name, exitCode=res.exit_code)
        out, b1 = _text(res.stdout)
        err, b2 = _text(res.stderr)
        return {"exit_code": res.exit_code, "stdout": out, "stderr": err, "base64": b1 or b2}

    async def exec_stream(self, ref: str, body: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
        """Start a live exec: (exec id, engine ExecSession, event context); ``exec_done`` when it ends."""
        cid = await self.resolve(ref)
        cmd = body.get("cmd") or []
        if not cmd:
            raise OpError("exec needs a command")
        info = await asyncio.to_thread(self.engine.inspect, cid)
        ctx = {"cid": cid, "project": info.labels.get(LABEL_PROJECT, ""), "name": info.name,
               "service": info.labels.get("com.docker.compose.service", "")}
        size = (int(body["height"]), int(body["width"])) if body.get("height") and body.get("width") else None
        try:
            sess = await asyncio.to_thread(self.engine.exec_stream, cid, cmd, env=list(body.get("env") or []),
                                           user=body.get("user") or "", workdir=body.get("workdir") or "",
                                           tty=bool(body.get("tty")), size=size)
        except Exception as exc:
            raise OpError(f"exec in {info.name}: {exc}", 409) from None
        self.r.bus.emit("container", "exec_create", cid, ctx["project"], ctx["service"], name=info.name,
                        cmd=" ".join(cmd))
        exec_id = os.urandom(16).hex()
        self.sessions[exec_id] = (cid, sess)
        return exec_id, sess, ctx

    async def attach_input(self, cid: str) -> tuple[str, Any]:
        """Input to a running container's PID 1 (stdin when ``stdin_open``, tty resize): (id, session);
        ("", None) when the container already exited."""
        try:
            sess = await asyncio.to_thread(self.engine.attach_input, cid)
        except Exception:  # noqa: BLE001 - exited meanwhile: output and exit code still come
            return "", None
        key = os.urandom(16).hex()
        self.sessions[key] = (cid, sess)
        return key, sess

    def exec_done(self, exec_id: str, ctx: dict[str, Any], exit_code: int) -> None:
        """Forget a live exec and emit ``exec_die``."""
        self.sessions.pop(exec_id, None)
        self.r.bus.emit("container", "exec_die", ctx["cid"], ctx["project"], ctx["service"], name=ctx["name"],
                        exitCode=exit_code)

    async def resize(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        """Resize the tty of one live exec (``exec_id``), or of every live tty exec of the container."""
        cid = await self.resolve(ref)
        height, width = int(body.get("height") or 0), int(body.get("width") or 0)
        if height <= 0 or width <= 0:
            raise OpError("resize needs a positive height and width")
        exec_id = body.get("exec_id") or ""
        if exec_id and exec_id not in self.sessions:
            raise OpError(f"no such exec: {exec_id}", 404)
        for key, (owner, sess) in list(self.sessions.items()):
            if owner == cid and sess.tty and (not exec_id or key == exec_id):
                await asyncio.to_thread(sess.resize, height, width)
        return {}

    async def wait(self, project: str, services: list[str]) -> dict[str, Any]:
        """The exit code of the first of the project's containers to exit."""
        observed = [c for c in await self.r.observe(project) if not services or c.service in services]
        running = [c for c in observed if c.running]
        if not running:
            done = [c for c in observed if c.state == "exited"]
            return {"exit_code": done[0].exit_code if done else 0, "container": done[0].name if done else ""}
        waiters = {asyncio.create_task(asyncio.to_thread(self.engine.wait, c.id)): c for c in running}
        finished, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()  # the threads end when their containers do
        task = next(iter(finished))
        try:
            return {"exit_code": task.result().exit_code, "container": waiters[task].name}
        except Exception as exc:
            raise OpError(str(exc), 500) from None


def parse_time_opt(text: str) -> float | None:
    from orchestrator.daemon.events import parse_time
    try:
        return parse_time(text, time.time())
    except ValueError:
        raise OpError(f"invalid time {text!r}") from None


def _procs(pid1: int) -> list[list[str]]:
    """Processes sharing PID 1's pid namespace, as ``ps`` would list them."""
    try:
        ns = os.readlink(f"/proc/{pid1}/ns/pid")
    except OSError:
        return []
    out = []
    for entry in sorted((d for d in os.listdir("/proc") if d.isdigit()), key=int):
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != ns:
                continue
            with open(f"/proc/{entry}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError):
            continue
        out.append([status.get("Uid", "0").split()[0], entry, status.get("PPid", "0").strip(),
                    cmd or f"[{status.get('Name', '').strip()}]"])
    return out
