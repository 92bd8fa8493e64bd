"""Run a plan's actions against the engine: phase by phase, bounded concurrency inside a phase.

The engine API is blocking, so each call goes through ``asyncio.to_thread``;
a semaphore caps how many run at once (Compose's ``COMPOSE_PARALLEL_LIMIT``).
New replicas of one service are created in slow-start batches (1, 2, 4 ...).
Every action reports ``start`` then ``done`` or ``error`` through the event
callback (the progress view, ``events`` and the reconciler's state listen
there); one failing action does not stop the others, and the failures are in
the returned results.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Callable, Literal, Protocol, Sequence

from engine.errors import ContainerNotFound
from engine.spec import ContainerSpec
from engine.state import ContainerInfo
from orchestrator.clock import Clock, SystemClock
from orchestrator.reconciler.actions import (ENGINE_ACTIONS, Action, CreateContainer, CreateNetwork,
                                             CreateVolume, RemoveContainer, RemoveNetwork,
                                             RemoveVolume, ReplaceUnhealthy, RestartContainer,
                                             StartContainer, StopContainer)

__all__ = ["EngineLike", "ResourcesLike", "Executor", "ActionResult", "ExecEvent", "SpecFactory"]


class EngineLike(Protocol):
    """The part of ``engine.Engine`` the executor uses (blocking calls).

    ``create`` returns the new container's id and fails on a name in use;
    ``start`` works on created and exited containers; ``stop`` is a no-op on a
    stopped one; ``remove(force=True)`` kills a running container first;
    ``inspect`` raises ``ContainerNotFound`` for an unknown reference. Names and
    ids are both accepted as references. ``list`` returns every container.
    Implementations: ``engine.Engine`` and ``orchestrator.testing.FakeEngine``.
    """

    def create(self, spec: ContainerSpec) -> str: ...

    def start(self, ref: str) -> None: ...

    def stop(self, ref: str, timeout: float | None = None) -> None: ...

    def remove(self, ref: str, force: bool = False) -> None: ...

    def inspect(self, ref: str) -> ContainerInfo: ...

    def list(self) -> list[ContainerInfo]: ...


class ResourcesLike(Protocol):
    """Networks and volumes: creates are idempotent, removes of a missing object raise."""

    def create_network(self, name: str) -> None: ...

    def remove_network(self, name: str) -> None: ...

    def create_volume(self, name: str) -> None: ...

    def remove_volume(self, name: str) -> None: ...


SpecFactory = Callable[[CreateContainer | ReplaceUnhealthy], ContainerSpec]


@dataclass(frozen=True, slots=True)
class ExecEvent:
    """A progress event: ``start``/``done``/``error`` of an engine action, or ``info`` for the rest."""

    kind: Literal["start", "done", "error", "info"]
    action: Action
    message: str = ""


@dataclass(frozen=True, slots=True)
class ActionResult:
    """How one action ended; ``container_id`` is set for creates."""

    action: Action
    ok: bool
    error: str = ""
    container_id: str = ""


class Executor:
    """Executes actions with ``limit`` engine calls at once; time comes from ``clock``."""

    def __init__(self, engine: EngineLike, spec_for: SpecFactory, *, resources: ResourcesLike | None = None,
                 clock: Clock | None = None, limit: int = 8,
                 on_event: Callable[[ExecEvent], None] | None = None, slow_start: bool = True) -> None:
        self.engine = engine
        self.slow_start = slow_start
        self.spec_for = spec_for
        self.resources = resources
        self.clock: Clock = clock or SystemClock()
        self._sem = asyncio.Semaphore(limit)
        self._on_event = on_event

    def _emit(self, kind: Any, action: Action, message: str = "") -> None:
        if self._on_event is not None:
            self._on_event(ExecEvent(kind, action, message))

    async def run(self, actions: Sequence[Action]) -> list[ActionResult]:
        """Run every action, phases in order; results in the order of ``actions``."""
        results: dict[int, ActionResult] = {}
        indexed = sorted(enumerate(actions), key=lambda ia: ia[1].phase)
        for _, group in groupby(indexed, key=lambda ia: ia[1].phase):
            results.update(await self._phase(list(group)))
        return [results[i] for i in range(len(actions))]

    async def _phase(self, batch: list[tuple[int, Action]]) -> dict[int, ActionResult]:
        """One phase: new replicas of a service in slow-start batches, everything else at once."""
        fresh: dict[str, list[tuple[int, Action]]] = {}
        others: list[tuple[int, Action]] = []
        for item in batch:
            a = item[1]
            if isinstance(a, CreateContainer) and not a.replace and self.slow_start:
                fresh.setdefault(a.service, []).append(item)
            else:
                others.append(item)
        jobs = [self._indexed(others)] + [self._slow_start(items) for items in fresh.values()]
        out: dict[int, ActionResult] = {}
        for part in await asyncio.gather(*jobs):
            out.update(part)
        return out

    async def _indexed(self, items: list[tuple[int, Action]]) -> dict[int, ActionResult]:
        done = await asyncio.gather(*(self._one(a) for _, a in items))
        return {i: r for (i, _), r in zip(items, done)}

    async def _slow_start(self, items: list[tuple[int, Action]]) -> dict[int, ActionResult]:
        """Create 1, 2, 4 ... replicas at a time; after a failed batch the rest are skipped.

        A broken image or command then fails once instead of N times (Kubernetes'
        slowStartBatch).
        """
        out: dict[int, ActionResult] = {}
        size, pos = 1, 0
        while pos < len(items):
            chunk = items[pos:pos + size]
            out.update(await self._indexed(chunk))
            pos += len(chunk)
            failed = [out[i] for i, _ in chunk if not out[i].ok]
            if failed:
                reason = f"skipped: an earlier replica failed: {failed[0].error}"
                for i, a in items[pos:]:
                    self._emit("error", a, reason)
                    out[i] = ActionResult(a, False, reason)
                break
            size *= 2
        return out

    async def _one(self, action: Action) -> ActionResult:
        if not isinstance(action, ENGINE_ACTIONS):
            self._emit("info", action)
            return ActionResult(action, True)
        await self._wait_until(action)
        async with self._sem:
            self._emit("start", action)
            try:
                cid = await self._do(action)
            except Exception as exc:  # reported per action; the plan's other actions still run
                message = str(exc) or type(exc).__name__
                self._emit("error", action, message)
                return ActionResult(action, False, message)
        self._emit("done", action)
        return ActionResult(action, True, container_id=cid or "")

    async def _wait_until(self, action: Action) -> None:
        """Restarts and replacements wait out their backoff before taking a slot."""
        at = getattr(action, "at", 0.0)
        if isinstance(action, (RestartContainer, ReplaceUnhealthy)) and at:
            delay = at - self.clock.time()
            if delay > 0:
                await self.clock.sleep(delay)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kw)

    async def _do(self, action: Action) -> str | None:
        e = self.engine
        if isinstance(action, (CreateNetwork, RemoveNetwork, CreateVolume, RemoveVolume)):
            await self._resource(action)
        elif isinstance(action, CreateContainer):
            if action.replace:
                await self._discard(action.replace, None)
            return await self._create(action, action.start)
        elif isinstance(action, ReplaceUnhealthy):
            await self._discard(action.name, None)
            return await self._create(action, True)
        elif isinstance(action, StartContainer):
            await self._call(e.start, action.name)
        elif isinstance(action, StopContainer):
            await self._call(e.stop, action.name, action.timeout)
        elif isinstance(action, RemoveContainer):
            await self._discard(action.name, action.timeout, volumes=action.volumes)
        elif isinstance(action, RestartContainer):
            info = await self._call(e.inspect, action.name)
            if info.state in ("running", "paused"):
                await self._call(e.stop, action.name, None)
            await self._call(e.start, action.name)
        return None

    async def _create(self, action: CreateContainer | ReplaceUnhealthy, start: bool) -> str:
        spec = self.spec_for(action)
        cid: str = await self._call(self.engine.create, spec)
        if start:
            await self._call(self.engine.start, cid)
        return cid

    async def _discard(self, name: str, timeout: float | None, volumes: bool = False) -> None:
        """Stop (with the grace period) and remove a container; optionally its anonymous volumes.

        A container already gone counts as removed: a level-triggered plan may race an engine event.
        """
        try:
            info = await self._call(self.engine.inspect, name)
        except ContainerNotFound:
            return
        if info.state in ("running", "paused"):
            await self._call(self.engine.stop, name, timeout)
        await self._call(self.engine.remove, name, True)
        if volumes and self.resources is not None and info.spec is not None:
            for mount in info.spec.mounts:
                if mount.type == "volume" and "_anon_" in mount.source:
                    await self._call(self.resources.remove_volume, mount.source)

    async def _resource(self, action: Action) -> None:
        if self.resources is None:
            raise RuntimeError(f"{action.key}: no network/volume manager configured")
        r = self.resources
        fn = {CreateNetwork: r.create_network, RemoveNetwork: r.remove_network,
              CreateVolume: r.create_volume, RemoveVolume: r.remove_volume}[type(action)]
        await self._call(fn, action.name)  # type: ignore[attr-defined]
