"""The level-triggered reconcile loop: observe, ``plan``, execute, remember.

Triggers (a container's state file changed, a probe changed status, an API
call, the periodic resync) only put the project name on the work queue. A pass
re-reads everything: the project record, ``engine.list()``, the slot records;
calls the pure ``plan`` and runs its actions with the shared ``Executor``.
Restarts with a backoff do not hold the pass: they wait in their own task with
the slot marked busy (the plan's "expectations"), so a crash-looping replica
shows ``restarting`` and costs nothing while it waits.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any, Callable, Sequence

from engine.state import ContainerInfo
from orchestrator.clock import Clock
from orchestrator.compose.model import Project
from orchestrator.daemon.adopt import discard_half_created, interrupted_start
from orchestrator.daemon.events import EventBus
from orchestrator.daemon.probes import ProbeManager
from orchestrator.daemon.progress import BecameHealthy
from orchestrator.daemon.specs import SpecMaker
from orchestrator.daemon.state import ProjectRecord, SlotRecord, StateDB
from orchestrator.daemon.watch import Seen, StateWatcher
from orchestrator.reconciler.actions import (ENGINE_ACTIONS, Action, CreateContainer, MarkFailed,
                                             RemoveContainer, ReplaceUnhealthy, RestartContainer,
                                             StartContainer, StopContainer, WaitFor)
from orchestrator.reconciler.executor import ActionResult, ExecEvent, Executor
from orchestrator.reconciler.health import HealthState
from orchestrator.reconciler.observed import LABEL_PROJECT, ObservedContainer, from_engine
from orchestrator.reconciler.plan import Desired, PlanState, plan
from orchestrator.workqueue import WorkQueue, run_workers

__all__ = ["Reconciler", "Report", "RESYNC_INTERVAL"]

log = logging.getLogger("shoald.loop")
RESYNC_INTERVAL = 2.0
Report = Callable[[ExecEvent], None]
_EVENT_OF = {CreateContainer: "create", StartContainer: "start", StopContainer: "stop",
             RemoveContainer: "destroy", RestartContainer: "restart", ReplaceUnhealthy: "recreate"}


class Reconciler:
    """Owns the work queue, the probes, the exit watcher and every engine call for projects."""

    def __init__(self, engine: Any, db: StateDB, bus: EventBus, clock: Clock, specs: SpecMaker,
                 resources: Any, limit: int = 8) -> None:
        self.engine, self.db, self.bus, self.clock = engine, db, bus, clock
        self.specs, self.resources, self.limit = specs, resources, limit
        self.queue = WorkQueue(clock)
        self.probes = ProbeManager(engine, clock, self._health_changed)
        self.watcher = StateWatcher(engine.containers_dir, self._state_changed)
        self.busy: set[str] = set()
        self.pending: dict[str, asyncio.Task[None]] = {}  # container name -> delayed restart
        self._locks: dict[str, asyncio.Lock] = {}
        self.net: Any = None  # netwire.Networking when containers get compose networks
        self.listeners: dict[str, set[Report]] = {}  # project -> progress callbacks of open operations
        self._changed = asyncio.Event()
        self._died: dict[str, str] = {}  # container id -> finished_at of the last die reported
        self.started_at = 0.0
        self._tasks: list[asyncio.Task[Any]] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Adopt what exists (every 'up' project is synced at once) and start the background tasks."""
        loop = asyncio.get_running_loop()
        self.started_at = self.clock.time()
        discard_half_created(self.engine)
        self.watcher.scan()  # prime: what exists now is not a change
        self._tasks += run_workers(self.queue, self.sync_key, 4, self._sync_failed)
        self._tasks.append(loop.create_task(self.watcher.run(), name="state-watcher"))
        self._tasks.append(loop.create_task(self._resync(), name="resync"))
        for rec in self.db.projects():
            self.queue.add(rec.name)

    async def stop(self) -> None:
        self.queue.shutdown()
        self.probes.close()
        for t in [*self._tasks, *self.pending.values()]:
            t.cancel()
        await asyncio.gather(*self._tasks, *self.pending.values(), return_exceptions=True)

    async def _resync(self) -> None:
        while True:
            await self.clock.sleep(RESYNC_INTERVAL)
            for rec in self.db.projects():
                if rec.status == "up":
                    self.queue.add(rec.name)

    def _sync_failed(self, key: Any, exc: BaseException) -> None:
        log.warning("sync of project %s failed: %s", key, exc, exc_info=exc)

    # -- change notification -----------------------------------------------------------------
    def notify(self) -> None:
        """Wake everyone waiting for the world to change (up's passes, waits)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, timeout: float) -> None:
        ev = self._changed
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def lock(self, project: str) -> asyncio.Lock:
        return self._locks.setdefault(project, asyncio.Lock())

    def _state_changed(self, cid: str, before: Seen | None, after: Seen | None) -> None:
        seen = after or before
        if seen is None or not seen.project:
            return
        if before and after and before.state in ("running", "paused") and after.state == "exited":
            try:
                self.report_die(self.engine.inspect(cid))
            except Exception:  # removed meanwhile
                pass
        self.queue.add(seen.project)
        self.notify()

    def report_die(self, info: ContainerInfo) -> None:
        """One ``die`` event per exit (the watcher or a pass, whichever sees it first)."""
        if info.state != "exited" or not info.finished_at or self._died.get(info.id) == info.finished_at:
            return
        self._died[info.id] = info.finished_at
        labels = info.labels
        number = labels.get("com.docker.compose.container-number", "0")
        self.bus.emit("container", "die", info.id, labels.get(LABEL_PROJECT, ""),
                      labels.get("com.docker.compose.service", ""), int(number) if number.isdigit() else 0,
                      name=info.name, exitCode=info.exit_code, oomKilled=info.oom_killed)

    def _health_changed(self, cid: str, before: HealthState, after: HealthState) -> None:
        seen = self.watcher.seen.get(cid)
        if seen is None:
            return
        if after.status != before.status:
            if self.net is not None:
                task = asyncio.get_running_loop().run_in_executor(None, self.net.set_healthy, cid,
                                                                   after.status != "unhealthy")
                task.add_done_callback(_log_failure)
            self.bus.emit("container", "health_status", cid, seen.project, seen.service, seen.number,
                          name=seen.name, health_status=after.status)
            if after.status == "healthy" and self.listeners.get(seen.project):
                self._fanout(seen.project)(ExecEvent("info", BecameHealthy(seen.service, seen.name)))
        slot = self.db.slots(seen.project).get(seen.name) or SlotRecord(seen.name, seen.project, seen.service)
        self.db.put_slot(replace(slot, health=health_record(after)))
        self.queue.add(seen.project)
        self.notify()

    # -- observing ---------------------------------------------------------------------------
    async def observe(self, project: str, infos: Sequence[ContainerInfo] | None = None,
                      oneoff: bool = False, repair: bool = False) -> list[ObservedContainer]:
        """The project's containers as the planner sees them; starts/stops probes on the way.

        ``repair`` (only under the project's lock) removes containers whose start was cut short;
        otherwise they are left out, as the next pass will replace them.
        """
        if infos is None:
            infos = await asyncio.to_thread(self.engine.list)
        slots = self.db.slots(project)
        out = []
        for info in infos:
            if info.labels.get(LABEL_PROJECT) != project:
                continue
            slot = slots.get(info.name)
            count = slot.restart.restart_count if slot else 0
            if interrupted_start(info):  # removed, so the plan creates the slot again
                if repair:
                    log.warning("removing %s: its monitor died before recording an exit", info.name)
                    await asyncio.to_thread(self.engine.remove, info.id, True)
                continue
            c = from_engine(info, restart_count=count, restarting=info.name in self.pending)
            if repair and c.finished_at > self.started_at:
                self.report_die(info)
            check = info.spec.healthcheck if info.spec is not None else None
            self.probes.ensure(info.id, check, c.started_at, c.state in ("running", "paused"),
                               slot.health if slot else None)
            health = self.probes.status(info.id)
            out.append(c.with_(health=health) if health != "none" and c.running else c)
        if oneoff:
            return out
        return [c for c in out if not c.oneoff]

    def plan_state(self, project: str) -> PlanState:
        slots = self.db.slots(project)
        return PlanState(restarts={n: s.restart for n, s in slots.items()},
                         manually_stopped=frozenset(n for n, s in slots.items() if s.manually_stopped),
                         failed=frozenset(n for n, s in slots.items() if s.failed),
                         busy=frozenset(self.busy), networks=frozenset(self.resources.networks),
                         volumes=frozenset(v.name for v in self.resources.volumes.list()))

    # -- a pass ------------------------------------------------------------------------------
    async def sync_key(self, key: Any) -> None:
        await self.sync(str(key))

    async def sync(self, name: str, desired: Desired | None = None, report: Report | None = None,
                   keep: Callable[[Action, dict[str, ObservedContainer]], bool] | None = None) -> list[Action]:
        """One pass for project ``name``; returns the planned actions (engine ones are done)."""
        if report is None and self.listeners.get(name):
            report = self._fanout(name)
        async with self.lock(name):
            rec = self.db.get_project(name)
            if rec is None or (desired is None and rec.status != "up"):
                return []
            if desired is None:
                desired = Desired(Project.from_dict(rec.project), scale=rec.scale)
                if rec.stopped:
                    keep = _not_stopped(set(rec.stopped))
            observed = await self.observe(name, repair=True)
            desired = replace(desired, image_ids=self.specs.image_ids(desired.project))
            actions = plan(desired, observed, self.clock.time(), self.plan_state(name))
            # expectations: a slot with an action in flight (a delayed restart) is not acted on twice,
            # not even by a create after its old container was removed
            actions = [a for a in actions if getattr(a, "name", None) not in self.busy
                       or not isinstance(a, ENGINE_ACTIONS)]
            if keep is not None:
                by_name = {c.name: c for c in observed}
                actions = [a for a in actions if keep(a, by_name)]
            now = self.clock.time()
            delayed = [a for a in actions if isinstance(a, (RestartContainer, ReplaceUnhealthy)) and a.at > now]
            for a in actions:
                self._remember_info(name, a, report)
            for a in delayed:
                self._schedule(rec, a, report)
            todo = [a for a in actions if isinstance(a, ENGINE_ACTIONS) and a not in delayed]
            if todo:
                await self.execute(rec, todo, report)
            return actions

    def _fanout(self, project: str) -> Report:
        def report(ev: ExecEvent) -> None:
            for fn in list(self.listeners.get(project, ())):
                fn(ev)
        return report

    def _remember_info(self, project: str, a: Action, report: Report | None) -> None:
        if isinstance(a, MarkFailed):
            slot = self.db.slots(project).get(a.name) or SlotRecord(a.name, project, a.service)
            if not slot.failed:
                self.db.put_slot(replace(slot, failed=a.reason or "failed"))
                self.bus.emit("container", "failed", a.name, project, a.service, a.number, reason=a.reason)
        elif isinstance(a, WaitFor) and a.until is not None:
            self.queue.add_after(project, max(0.0, a.until - self.clock.time()))
        if report is not None and not isinstance(a, ENGINE_ACTIONS):
            report(ExecEvent("info", a))

    def _schedule(self, rec: ProjectRecord, a: Action, report: Report | None) -> None:
        name = a.name  # type: ignore[attr-defined]
        if name in self.pending:
            return
        self.busy.add(name)

        async def later() -> None:
            try:
                await self.execute(rec, [a], report)
            finally:
                self.busy.discard(name)
                self.pending.pop(name, None)
                self.queue.add(rec.name)

        self.pending[name] = asyncio.get_running_loop().create_task(later(), name=f"restart-{name}")

    def cancel_pending(self, project: str) -> None:
        """Drop delayed restarts of a project (stop, down, rm)."""
        for name, task in list(self.pending.items()):
            if name.startswith(project + "-") or self._project_of_name(name) == project:
                task.cancel()
                self.pending.pop(name, None)
                self.busy.discard(name)

    def _project_of_name(self, name: str) -> str:
        for seen in self.watcher.seen.values():
            if seen.name == name:
                return seen.project
        return ""

    async def execute(self, rec: ProjectRecord, actions: Sequence[Action],
                      report: Report | None = None) -> list[ActionResult]:
        """Run engine actions for a project and record their outcome (slots, events)."""
        project = Project.from_dict(rec.project)
        if self.net is not None:
            from orchestrator.daemon.netwire import network_config, port_bindings
            for svc in project.services.values():
                self.net.ports[(rec.name, svc.name)] = port_bindings(svc.ports)
            for key, net in project.networks.items():
                name = net.name or f"{rec.name}_{key}"
                self.net.configs[name] = network_config(name, net)

        def on_event(ev: ExecEvent) -> None:
            if report is not None:
                report(ev)

        ex = Executor(self.engine, self.specs.factory(project, rec), resources=self.resources,
                      clock=self.clock, limit=self.limit, on_event=on_event)
        results = await ex.run(actions)
        for r in results:
            if r.ok:
                self._record(rec.name, r)
            else:
                log.warning("%s: %s failed: %s", rec.name, r.action.key, r.error)
        self.notify()
        return results

    def _record(self, project: str, r: ActionResult) -> None:
        a = r.action
        verb = _EVENT_OF.get(type(a))
        if verb is None:
            return
        slots = self.db.slots(project)
        name, service, number = a.name, a.service, a.number  # type: ignore[attr-defined]
        slot = slots.get(name) or SlotRecord(name, project, service)
        if isinstance(a, (RestartContainer, ReplaceUnhealthy)) and a.history is not None:
            self.db.put_slot(replace(slot, restart=a.history, health={}))
        elif isinstance(a, CreateContainer):
            self.db.put_slot(SlotRecord(name, project, service))
        elif isinstance(a, StartContainer):
            self.db.put_slot(replace(slot, manually_stopped=False, failed=""))
        elif isinstance(a, RemoveContainer):
            self.db.delete_slots([name])
        cid = r.container_id or next((i for i, s in self.watcher.seen.items() if s.name == name), name)
        self.bus.emit("container", verb, cid, project, service, number, name=name)
        if isinstance(a, CreateContainer) and a.start:
            self.bus.emit("container", "start", cid, project, service, number, name=name)


def _log_failure(fut: "asyncio.Future[Any]") -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.warning("updating network backends failed: %s", fut.exception())


def health_record(st: HealthState) -> dict[str, Any]:
    """The health state as stored in a slot (and shown by inspect)."""
    return {"status": st.status, "failing_streak": st.failing_streak, "started_at": st.started_at,
            "log": [{"start": r.start, "end": r.end, "exit_code": r.exit_code, "output": r.output}
                    for r in st.log]}


def _not_stopped(stopped: set[str]) -> Callable[[Action, dict[str, ObservedContainer]], bool]:
    """Background passes leave services the user stopped alone (no create, start or restart)."""
    def keep(a: Action, _: dict[str, ObservedContainer]) -> bool:
        live = (CreateContainer, StartContainer, RestartContainer, ReplaceUnhealthy)
        return not (isinstance(a, live) and a.service in stopped)
    return keep
