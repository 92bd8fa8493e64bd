"""In-memory fakes of what the reconciler drives: an engine and a network/volume manager.

They keep the real engine's contract (names unique, ``start`` only from
created/exited, ``remove`` of a running container needs ``force``, the same
error classes) and record every call, so executor and reconciler tests run
without root, processes or time passing.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Callable

from engine.errors import ContainerNotFound, EngineError, InvalidState, NameInUse
from engine.spec import ContainerSpec
from engine.state import ContainerInfo, rfc3339_nano

__all__ = ["FakeEngine", "FakeResources", "FakeContainer"]


@dataclass
class FakeContainer:
    """One fake container's record."""

    id: str
    spec: ContainerSpec
    state: str = "created"
    exit_code: int = 0
    oom_killed: bool = False
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    starts: int = 0


def _ts(t: float) -> str:
    return rfc3339_nano(int(t * 1e9)) if t else ""


@dataclass
class FakeEngine:
    """An engine that keeps containers in a dict; ``now`` gives timestamps (epoch seconds)."""

    now: Callable[[], float] = lambda: 1_700_000_000.0
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[tuple[str, str], Exception] = field(default_factory=dict)  # (verb, name) -> error to raise
    hook: Callable[[str, str], None] | None = None  # called as (verb, name) before each call runs
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- helpers ----------------------------------------------------------------------------
    def _find(self, ref: str) -> FakeContainer:
        for c in self.containers.values():
            if ref in (c.id, c.spec.name) or (len(ref) >= 4 and c.id.startswith(ref)):
                return c
        raise ContainerNotFound(f"no such container: {ref}")

    def _enter(self, verb: str, ref: str) -> None:
        """Record (and maybe fail) a call; references are recorded as container names."""
        try:
            ref = self._find(ref).spec.name if verb != "create" else ref
        except ContainerNotFound:
            pass
        if self.hook is not None:
            self.hook(verb, ref)
        self.calls.append((verb, ref))
        err = self.fail.get((verb, ref))
        if err is not None:
            raise err

    def by_name(self, name: str) -> FakeContainer:
        return self._find(name)

    def names(self, state: str | None = None) -> list[str]:
        """Container names (in a state), sorted."""
        return sorted(c.spec.name for c in self.containers.values() if state in (None, c.state))

    def exit(self, ref: str, code: int = 0, oom: bool = False) -> None:
        """Make a running container's process end (a crash, a kill -9, or a one-shot finishing)."""
        with self._lock:
            c = self._find(ref)
            c.state, c.exit_code, c.oom_killed, c.finished_at = "exited", code, oom, self.now()

    # -- the EngineLike surface ---------------------------------------------------------------
    def create(self, spec: ContainerSpec) -> str:
        with self._lock:
            self._enter("create", spec.name)
            if any(c.spec.name == spec.name for c in self.containers.values()):
                raise NameInUse(f"container name {spec.name} is already in use")
            cid = f"{next(self._ids):064x}"
            self.containers[cid] = FakeContainer(cid, spec, created_at=self.now())
            return cid

    def start(self, ref: str) -> None:
        with self._lock:
            self._enter("start", ref)
            c = self._find(ref)
            if c.state in ("running", "paused"):
                raise InvalidState(f"container {ref} is already {c.state}")
            c.state, c.exit_code, c.started_at, c.finished_at = "running", 0, self.now(), 0.0
            c.starts += 1

    def stop(self, ref: str, timeout: float | None = None) -> None:
        with self._lock:
            self._enter("stop", ref)
            c = self._find(ref)
            if c.state in ("running", "paused"):
                c.state, c.exit_code, c.finished_at = "exited", 143, self.now()

    def kill(self, ref: str, signal: str | int = "SIGKILL") -> None:
        with self._lock:
            self._enter("kill", ref)
            c = self._find(ref)
            if c.state not in ("running", "paused"):
                raise InvalidState(f"container {ref} is not running (state: {c.state})")
            c.state, c.exit_code, c.finished_at = "exited", 137, self.now()

    def remove(self, ref: str, force: bool = False) -> None:
        with self._lock:
            self._enter("remove", ref)
            c = self._find(ref)
            if c.state in ("running", "paused") and not force:
                raise InvalidState(f"cannot remove running container {ref}: stop it first or force")
            del self.containers[c.id]

    def inspect(self, ref: str) -> ContainerInfo:
        with self._lock:
            return self._info(self._find(ref))

    def list(self) -> list[ContainerInfo]:
        with self._lock:
            return [self._info(c) for c in self.containers.values()]

    def _info(self, c: FakeContainer) -> ContainerInfo:
        return ContainerInfo(id=c.id, name=c.spec.name, state=c.state, exit_code=c.exit_code,
                             oom_killed=c.oom_killed, created_at=_ts(c.created_at),
                             started_at=_ts(c.started_at), finished_at=_ts(c.finished_at),
                             spec=c.spec, labels=dict(c.spec.labels))


@dataclass
class FakeResources:
    """Networks and volumes as sets; create is idempotent like the real managers must be."""

    networks: set[str] = field(default_factory=set)
    volumes: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[tuple[str, str], Exception] = field(default_factory=dict)

    def _enter(self, verb: str, name: str) -> None:
        self.calls.append((verb, name))
        if (verb, name) in self.fail:
            raise self.fail[(verb, name)]

    def create_network(self, name: str) -> None:
        self._enter("create_network", name)
        self.networks.add(name)

    def remove_network(self, name: str) -> None:
        self._enter("remove_network", name)
        self.networks.discard(name)

    def create_volume(self, name: str) -> None:
        self._enter("create_volume", name)
        self.volumes.add(name)

    def remove_volume(self, name: str) -> None:
        self._enter("remove_volume", name)
        if name not in self.volumes:
            raise EngineError(f"no such volume: {name}")
        self.volumes.discard(name)
