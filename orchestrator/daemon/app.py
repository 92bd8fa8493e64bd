"""The daemon process: wire engine, state, reconciler and API, then serve until SIGTERM/SIGINT.

Stopping the daemon never stops a container: monitors own them, and the next
daemon re-adopts them from the engine's state directories.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any

from engine.api import Engine
from orchestrator.clock import Clock, SystemClock
from orchestrator.daemon.events import EventBus
from orchestrator.daemon.loop import Reconciler
from orchestrator.daemon.mqtt_link import MqttLink
from orchestrator.daemon.netwire import NetworkedEngine, Networking
from orchestrator.daemon.ops import Operations
from orchestrator.daemon.queries import Queries
from orchestrator.daemon.resources import Resources
from orchestrator.daemon.server import ApiServer
from orchestrator.daemon.specs import SpecMaker
from orchestrator.daemon.state import StateDB

__all__ = ["DaemonConfig", "Daemon", "run"]

log = logging.getLogger("shoald")


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """Where the daemon keeps state and its socket; defaults from SHOAL_ROOT / SHOAL_RUN."""

    root: str = ""
    run_dir: str = ""
    limit: int = 8
    networking: str = "bridge"  # bridge | none

    def resolved(self) -> "DaemonConfig":
        root = os.path.abspath(self.root or os.environ.get("SHOAL_ROOT") or "/var/lib/shoal")
        run_dir = os.path.abspath(self.run_dir or os.environ.get("SHOAL_RUN") or "/run/shoal")
        return DaemonConfig(root, run_dir, self.limit, self.networking)

    @property
    def socket(self) -> str:
        return os.path.join(self.run_dir, "shoald.sock")


class DaemonEngine(Engine):
    """The engine with two races worked around: the first starts (seccomp cache file) and lookups
    that read every container's config while another is being removed."""

    def __init__(self, root: str, run_dir: str) -> None:
        super().__init__(root, run_dir)
        self._first = threading.Lock()
        self._warm = False

    def resolve(self, ref: str) -> str:
        """Engine.resolve reads every config.json: retry when a concurrent remove deleted one meanwhile."""
        for _ in range(5):
            try:
                return super().resolve(ref)
            except FileNotFoundError:
                continue
        return super().resolve(ref)

    def create(self, spec: Any) -> str:
        for _ in range(5):
            try:
                return super().create(spec)
            except FileNotFoundError as exc:  # another container vanished while names were read
                if "config.json" not in str(exc):
                    raise
        return super().create(spec)

    def start(self, ref: str) -> None:
        if self._warm:
            return super().start(ref)
        with self._first:
            super().start(ref)
            self._warm = True


class Daemon:
    """One shoald: ``start()`` adopts and serves, ``stop()`` leaves every container running."""

    def __init__(self, config: DaemonConfig, clock: Clock | None = None) -> None:
        self.config = config.resolved()
        self.clock = clock or SystemClock()
        os.makedirs(self.config.root, mode=0o711, exist_ok=True)
        os.makedirs(self.config.run_dir, mode=0o711, exist_ok=True)
        self.engine = DaemonEngine(self.config.root, self.config.run_dir)
        self.db = StateDB(os.path.join(self.config.root, "shoald.db"))
        self.bus = EventBus(self.db, self.clock.time)
        self.resources = Resources(self.config.root)
        self.reconciler = Reconciler(self.engine, self.db, self.bus, self.clock, SpecMaker(self.config.root),
                                     self.resources, self.config.limit)
        self.net: Networking | None = None
        self.mqtt: MqttLink | None = None
        self.ops = Operations(self.reconciler)
        self.api = ApiServer(self.ops, Queries(self.reconciler))

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(64, thread_name_prefix="shoald"))
        if self.config.networking == "bridge":
            self.net = Networking(self.config.root, self.config.run_dir, loop)
            self.resources.net = self.net
            self.reconciler.engine = NetworkedEngine(self.engine, self.net)
            self.reconciler.net = self.net
            live = {i.id: i.name for i in await asyncio.to_thread(self.engine.list)}
            await self.net.adopt(live)
        self.reconciler.start()
        self.mqtt = MqttLink.from_environment(self.ops, self.config.root)
        if self.mqtt is not None:
            self.bus.forward = self.mqtt.forward
            await self.mqtt.start()
        await self.api.listen(self.config.socket)
        log.info("shoald listening on %s (root %s)", self.config.socket, self.config.root)

    async def stop(self) -> None:
        await self.api.close()
        if self.mqtt is not None:
            await self.mqtt.stop()
        await self.reconciler.stop()
        if self.net is not None:
            await self.net.close()
        try:
            os.unlink(self.config.socket)
        except OSError:
            pass
        self.db.close()


async def _serve(config: DaemonConfig) -> None:
    daemon = Daemon(config)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await daemon.start()
    try:
        await done.wait()
    finally:
        await daemon.stop()


def run(config: DaemonConfig, log_level: str = "info") -> int:
    """Run the daemon in the foreground until SIGTERM or SIGINT; returns the exit status."""
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("pyroute2", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    asyncio.run(_serve(config))
    return 0
