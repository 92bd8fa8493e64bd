"""Noticing container exits cheaply: poll the mtime of each container's ``state.json``.

The monitor rewrites that file on every transition (start, exit, pause), so a
stat per container per tick is enough to see a crash or a ``kill -9`` within
one tick, with no thread per container; the periodic resync covers the rest
(a monitor that died without writing).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Callable

from engine.state import read_json

__all__ = ["StateWatcher", "Seen"]


@dataclass
class Seen:
    """What the watcher last saw of one container."""

    mtime: int
    state: str
    project: str
    service: str
    name: str
    number: int


class StateWatcher:
    """Calls ``on_change(cid, before, after)`` when a container's state file changes."""

    def __init__(self, containers_dir: str, on_change: Callable[[str, Seen | None, Seen | None], None],
                 interval: float = 0.2) -> None:
        self.dir = containers_dir
        self.on_change = on_change
        self.interval = interval
        self.seen: dict[str, Seen] = {}

    def _read(self, cid: str, mtime: int, old: Seen | None) -> Seen | None:
        base = os.path.join(self.dir, cid)
        try:
            state = read_json(os.path.join(base, "state.json")).get("state", "")
            if old is None:
                config = read_json(os.path.join(base, "config.json"))
                labels, name = dict(config["spec"].get("labels") or []), str(config.get("name", cid))
            else:
                labels, name = {}, old.name
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if old is not None:
            return Seen(mtime, state, old.project, old.service, old.name, old.number)
        number = labels.get("com.docker.compose.container-number", "0")
        return Seen(mtime, state, labels.get("com.docker.compose.project", ""),
                    labels.get("com.docker.compose.service", ""), name,
                    int(number) if str(number).isdigit() else 0)

    def scan(self) -> None:
        """One tick: stat every state file, report what changed, appeared or vanished."""
        try:
            ids = os.listdir(self.dir)
        except OSError:
            ids = []
        live = set()
        for cid in ids:
            try:
                mtime = os.stat(os.path.join(self.dir, cid, "state.json")).st_mtime_ns
            except OSError:
                continue
            live.add(cid)
            old = self.seen.get(cid)
            if old is not None and old.mtime == mtime:
                continue
            new = self._read(cid, mtime, old)
            if new is None:
                continue
            self.seen[cid] = new
            self.on_change(cid, old, new)
        for cid in [c for c in self.seen if c not in live]:
            self.on_change(cid, self.seen.pop(cid), None)

    async def run(self) -> None:
        while True:
            await asyncio.to_thread(self.scan)
            await asyncio.sleep(self.interval)

