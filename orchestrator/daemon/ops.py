"""Project operations behind the API: up, down, scale, start, stop, restart, kill, pause, rm, run.

Each operation updates the project record (what the user wants), then drives
the reconciler: ``up`` and ``scale`` run passes until the plan has nothing left
to do now (dependencies met, replicas started), streaming progress; the
background loop keeps the result. ``down`` and ``stop`` act directly with the
pure ``plan_down``/``plan_stop`` under the project's lock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from typing import Any, Sequence

from orchestrator.compose.model import Project
from orchestrator.daemon.loop import Reconciler
from orchestrator.daemon.progress import Progress
from orchestrator.daemon.state import ProjectRecord, SlotRecord
from orchestrator.graph import ServiceGraph
from orchestrator.reconciler.actions import (ENGINE_ACTIONS, Action, DependencyFailed, RestartContainer,
                                             StartContainer, WaitFor)
from orchestrator.reconciler.observed import ObservedContainer
from orchestrator.reconciler.plan import Desired
from orchestrator.reconciler.plan_down import plan_down, plan_stop

__all__ = ["Operations", "OpError", "DEFAULT_UP_TIMEOUT"]

DEFAULT_UP_TIMEOUT = 600.0


class OpError(Exception):
    """An operation refused or failed; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _result(progress: Progress, ok_message: str = "") -> dict[str, Any]:
    if progress.errors:
        return {"type": "result", "ok": False, "message": progress.errors[0], "exit_code": 1}
    return {"type": "result", "ok": True, "message": ok_message, "exit_code": 0}


class Operations:
    """The verbs; each takes the request body and a Progress, returns the result line."""

    def __init__(self, rec: Reconciler) -> None:
        self.r = rec
        self.db = rec.db
        self.oneoff_exits: dict[str, asyncio.Future[int]] = {}  # one-off container id -> its exit code
        self.attached: dict[str, asyncio.Event] = {}  # set when the attach of a one-off is done relaying

    # -- helpers ---------------------------------------------------------------------------------
    def record(self, name: str) -> ProjectRecord:
        rec = self.db.get_project(name)
        if rec is None:
            raise OpError(f"no such project: {name}", 404)
        return rec

    @staticmethod
    def project(rec: ProjectRecord) -> Project:
        return Project.from_dict(rec.project)

    def _check_services(self, project: Project, services: Sequence[str]) -> None:
        for s in services:
            if s not in project.services:
                raise OpError(f"no such service: {s}", 404)

    async def _converge(self, name: str, desired: Desired, progress: Progress, timeout: float,
                        to_start: set[str], wait_ready: bool) -> None:
        """Passes until nothing is left to do now; ``to_start`` = stopped containers up may start once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def keep(a: Action, observed: dict[str, ObservedContainer]) -> bool:
            if isinstance(a, StartContainer):
                c = observed.get(a.name)
                if c is not None and c.state != "created":
                    if a.name not in to_start:
                        return False
                    to_start.discard(a.name)
            return True

        listeners = self.r.listeners.setdefault(name, set())
        listeners.add(progress.event)
        try:
            await self._passes(name, desired, progress, deadline, timeout, keep, wait_ready)
        finally:
            listeners.discard(progress.event)

    async def _passes(self, name: str, desired: Desired, progress: Progress, deadline: float, timeout: float,
                      keep: Any, wait_ready: bool) -> None:
        loop = asyncio.get_running_loop()
        while True:
            actions = await self.r.sync(name, desired, progress.event, keep)
            if any(isinstance(a, DependencyFailed) for a in actions) or progress.errors:
                return
            busy = [a for a in actions if isinstance(a, WaitFor) or
                    (isinstance(a, ENGINE_ACTIONS) and not isinstance(a, RestartContainer))]
            if not busy and (not wait_ready or await self._ready(name, desired)):
                return
            if loop.time() > deadline:
                progress.errors.append(f"timed out after {timeout:g}s waiting for the project to converge")
                return
            if not any(isinstance(a, ENGINE_ACTIONS) for a in busy):
                await self.r.wait_change(0.5)  # only waiting: for a health change or an exit

    async def _ready(self, name: str, desired: Desired) -> bool:
        observed = await self.r.observe(name)
        want = set(desired.services) or set(desired.project.services)
        for c in observed:
            if c.service in want and not (c.ready or c.completed):
                return False
        return True

    def _clear_manual_stop(self, name: str, services: Sequence[str]) -> None:
        for slot in self.db.slots(name).values():
            if (not services or slot.service in services) and (slot.manually_stopped or slot.failed):
                self.db.put_slot(dataclasses.replace(slot, manually_stopped=False, failed=""))

    # -- up / scale ------------------------------------------------------------------------------
    async def up(self, name: str, body: dict[str, Any], progress: Progress) -> dict[str, Any]:
        try:
            project = Project.from_dict(body.get("project") or {})
        except Exception as exc:
            raise OpError(f"invalid project: {exc}") from None
        if project.name and project.name != name:
            raise OpError(f"project name {project.name!r} does not match {name!r}")
        project = dataclasses.replace(project, name=name)
        opts = body.get("options") or {}
        services = tuple(opts.get("services") or ())
        self._check_services(project, services)
        graph = ServiceGraph.from_project(project)  # cycles are refused before anything happens
        old = self.db.get_project(name)
        stopped: list[str] = []
        if services:  # `up svc`: the others stay as they are; those never started are not wanted yet
            targets = {s for gen in graph.subset(services, with_dependencies=not opts.get("no_deps"))
                       for s in gen}
            present = {c.service for c in await self.r.observe(name)}
            stopped = sorted((set(old.stopped if old else []) | (set(project.services) - present)) - targets)
        rec = ProjectRecord(name, project.to_dict(), body.get("working_dir", ""),
                            list(body.get("config_files") or []), dict(opts.get("scale") or {}), "up", stopped)
        rec.project["name"] = name
        self.db.put_project(rec)
        self._clear_manual_stop(name, services)
        self.r.bus.emit("project", "up", name, name)
        observed = await self.r.observe(name)
        to_start = {c.name for c in observed if c.state in ("exited", "dead") and
                    (not services or c.service in services)}
        desired = Desired(project, scale=rec.scale, services=services, no_deps=bool(opts.get("no_deps")),
                          force_recreate=bool(opts.get("force_recreate")), requested_at=self.r.clock.time(),
                          no_recreate=bool(opts.get("no_recreate")),
                          remove_orphans=bool(opts.get("remove_orphans")), start_existing=True,
                          timeout=opts.get("timeout"))
        timeout = float(opts.get("wait_timeout") or DEFAULT_UP_TIMEOUT)
        await self._converge(name, desired, progress, timeout, to_start, bool(opts.get("wait")))
        return _result(progress)

    async def scale(self, name: str, body: dict[str, Any], progress: Progress) -> dict[str, Any]:
        rec = self.record(name)
        project = self.project(rec)
        scale = {str(k): int(v) for k, v in (body.get("scale") or {}).items()}
        self._check_services(project, list(scale))
        if any(v < 0 for v in scale.values()):
            raise OpError("scale must be zero or more")
        merged = {**rec.scale, **scale}
        rec = dataclasses.replace(rec, scale=merged, status="up",
                                  stopped=[s for s in rec.stopped if s not in scale])
        self.db.put_project(rec)
        for svc, n in scale.items():
            self.r.bus.emit("service", "scale", svc, name, svc, replicas=n)
        desired = Desired(project, scale=merged, services=tuple(scale), no_deps=True,
                          timeout=body.get("timeout"))
        await self._converge(name, desired, progress, float(body.get("wait_timeout") or DEFAULT_UP_TIMEOUT),
                             set(), False)
        return _result(progress)

    # -- down / stop -----------------------------------------------------------------------------
    async def down(self, name: str, body: dict[str, Any], progress: Progress) -> dict[str, Any]:
        rec = self.db.get_project(name)
        project = self.project(rec) if rec else Project(name=name)
        async with self.r.lock(name):
            if rec:
                self.db.set_status(name, "down")
            self.r.cancel_pending(name)
            observed = await self.r.observe(name, oneoff=True)
            actions = plan_down(project, observed, remove_orphans=bool(body.get("remove_orphans")) or rec is None,
                                volumes=bool(body.get("remove_volumes")), timeout=body.get("timeout"))
            for a in actions:
                if not isinstance(a, ENGINE_ACTIONS):
                    progress.event(_info(a))
            if rec is None:
                rec = ProjectRecord(name, {"name": name})
            await self.r.execute(rec, [a for a in actions if isinstance(a, ENGINE_ACTIONS)], progress.event)
            self.db.delete_project(name)
            if body.get("rmi") in ("local", "all"):
                await asyncio.to_thread(self._remove_images, project, body["rmi"], progress)
        self.r.bus.emit("project", "down", name, name)
        return _result(progress)

    def _remove_images(self, project: Project, mode: str, progress: Progress) -> None:
        """``down --rmi``: ``all`` removes every service image, ``local`` only those without ``image:``."""
        from engine.images.store import ImageStore
        store = ImageStore(self.r.specs.images_root)
        refs = {svc.image or f"{project.name}-{svc.name}" for svc in project.services.values()
                if mode == "all" or not svc.image}
        for ref in sorted(refs):
            try:
                store.remove(ref)
            except Exception as exc:  # not there (never built), or used by another name
                progress.send({"type": "warning", "message": f"image {ref}: {exc}"})
                continue
            self.r.bus.emit("image", "delete", ref, project.name)
            progress.send({"type": "progress", "id": f"image {ref}", "service": "", "status": "Removed",
                           "message": ""})

    async def stop(self, name: str, body: dict[str, Any], progress: Progress) -> dict[str, Any]:
        rec = self.record(name)
        project = self.project(rec)
        services = list(body.get("services") or [])
        self._check_services(project, services)
        async with self.r.lock(name):
            graph = ServiceGraph.from_project(project)
            affected = set(services).union(*(graph.dependents(s) for s in services)) if services else set()
            if services:
                self.db.put_project(dataclasses.replace(rec, stopped=sorted(set(rec.stopped) | affected)))
            else:
                self.db.set_status(name, "stopped")
            self.r.cancel_pending(name)
            observed = await self.r.observe(name)
            actions = plan_stop(project, observed, services=services, timeout=body.get("timeout"))
            self._mark_manual(name, [(a.name, a.service) for a in actions])  # type: ignore[attr-defined]
            await self.r.execute(rec, actions, progress.event)
        return _result(progress)

    def _mark_manual(self, project: str, names: Sequence[tuple[str, str]]) -> None:
        slots = self.db.slots(project)
        for name, service in names:
            slot = slots.get(name) or SlotRecord(name, project, service)
            self.db.put_slot(dataclasses.replace(slot, manually_stopped=True))

    async def start(self, name: str, body: dict[str, Any], progress: Progress) -> dict[str, Any]:
        rec = self.record(name)
        services = tuple(body.get("services") or ())
        self._check_services(self.project(rec), services)
        rec = dataclasses.replace(rec, status="up",
                                  stopped=[s for s in rec.stopped if services and s not in services])
        self.db.put_project(rec)
        self._clear_manual_stop(name, services)
        observed = await self.r.observe(name)
        to_start = {c.name for c in observed if not services or c.service in services}
        desired = Desired(self.project(rec), scale=rec.scale, services=services, start_existing=True,
                          no_recreate=True)
        await self._converge(name, desired, progress, float(body.get("timeout") or DEFAULT_UP_TIMEOUT),
                             to_start, False)
        return _result(progress)

    async def restart(self, name: str, body: dict[str, Any], progress: Progress) -> dict[str, Any]:
        rec = self.record(name)
        services = list(body.get("services") or [])
        self._check_services(self.project(rec), services)
        async with self.r.lock(name):
            observed = await self.r.observe(name)
            actions = [RestartContainer(c.service, c.number, c.name, reason="restart")
                       for c in observed if (not services or c.service in services)]
            self._clear_manual_stop(name, services)
            await self.r.execute(rec, actions, progress.event)
        return _result(progress)

    async def signal(self, name: str, verb: str, body: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """kill, pause and unpause: one engine call per running container of the services."""
        rec = self.record(name)
        services = list(body.get("services") or [])
        self._check_services(self.project(rec), services)
        observed = [c for c in await self.r.observe(name)
                    if (not services or c.service in services) and c.running]
        if verb == "kill":
            self._mark_manual(name, [(c.name, c.service) for c in observed])
        for c in observed:
            progress.send({"type": "progress", "id": c.name, "service": c.service,
                           "status": {"kill": "Killing", "pause": "Pausing", "unpause": "Unpausing"}[verb],
                           "message": ""})
            try:
                if verb == "kill":
                    await asyncio.to_thread(self.r.engine.kill, c.id, body.get("signal") or "SIGKILL")
                else:
                    await asyncio.to_thread(getattr(self.r.engine, verb), c.id)
            except Exception as exc:
                progress.errors.append(f"{c.name}: {exc}")
                continue
            self.r.bus.emit("container", verb, c.id, name, c.service, c.number, name=c.name)
            progress.send({"type": "progress", "id": c.name, "service": c.service,
                           "status": {"kill": "Killed", "pause": "Paused", "unpause": "Unpaused"}[verb],
                           "message": ""})
        return _result(progress)

    async def rm(self, name: str, body: dict[str, Any], progress: Progress) -> dict[str, Any]:
        from orchestrator.reconciler.actions import RemoveContainer
        rec = self.record(name)
        services = list(body.get("services") or [])
        self._check_services(self.project(rec), services)
        force, stop = bool(body.get("force")), bool(body.get("stop"))
        async with self.r.lock(name):
            observed = await self.r.observe(name, oneoff=True)
            chosen = [c for c in observed if (not services or c.service in services) and
                      (force or stop or not c.running)]
            stopped = {c.service for c in chosen} | set(rec.stopped)
            self.db.put_project(dataclasses.replace(rec, stopped=sorted(stopped)))
            actions = [RemoveContainer(c.service, c.number, c.name, timeout=body.get("timeout"), reason="rm",
                                       volumes=bool(body.get("volumes"))) for c in chosen]
            await self.r.execute(rec, actions, progress.event)
        return _result(progress)

    # -- run ---------------------------------------------------------------------------------------
    async def run(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        rec = self.record(name)
        project = self.project(rec)
        service = project.services.get(body.get("service", ""))
        if service is None:
            raise OpError(f"no such service: {body.get('service')}", 404)
        if service.depends_on and not body.get("no_deps"):
            progress = Progress()
            desired = Desired(project, scale=rec.scale, services=tuple(service.depends_on))
            await self._converge(name, desired, progress, DEFAULT_UP_TIMEOUT, set(), False)
            if progress.errors:
                raise OpError(progress.errors[0], 409)
        cname = body.get("name") or f"{name}-{service.name}-run-{secrets.token_hex(6)}"
        spec = self.r.specs.oneoff(project, rec, service, cname, body)
        engine = self.r.engine
        try:
            cid = await asyncio.to_thread(engine.create, spec)
            self.r.bus.emit("container", "create", cid, name, service.name, 1, name=cname)
            await asyncio.to_thread(engine.start, cid)
        except Exception as exc:
            raise OpError(f"service {service.name}: {exc}", 500) from None
        self.r.bus.emit("container", "start", cid, name, service.name, 1, name=cname)
        loop = asyncio.get_running_loop()
        self.oneoff_exits[cid] = loop.create_future()
        if not body.get("detach"):
            self.attached[cid] = asyncio.Event()
        loop.create_task(self._watch_oneoff(cid, bool(body.get("rm"))))
        return {"id": cid, "name": cname}

    async def _watch_oneoff(self, cid: str, rm: bool) -> None:
        """Wait for a one-off container: emit ``die``, keep its exit code for attach, then ``--rm`` it."""
        code = 255
        try:
            status = await asyncio.to_thread(self.r.engine.wait, cid)
            code = status.exit_code
            self.r.report_die(await asyncio.to_thread(self.r.engine.inspect, cid))
        except Exception:  # removed meanwhile: no exit code to report
            pass
        self.oneoff_exits[cid].set_result(code)
        done = self.attached.get(cid)
        if done is not None:
            try:  # the attached client has until then to read the output of the log
                await asyncio.wait_for(done.wait(), 60)
            except asyncio.TimeoutError:
                pass
        if rm:
            try:
                await asyncio.to_thread(self.r.engine.remove, cid, True)
            except Exception:
                pass
        asyncio.get_running_loop().call_later(300, self._forget_oneoff, cid)

    def _forget_oneoff(self, cid: str) -> None:
        self.oneoff_exits.pop(cid, None)
        self.attached.pop(cid, None)


def _info(a: Action) -> Any:
    from orchestrator.reconciler.executor import ExecEvent
    return ExecEvent("info", a)
