"""A bounded on-disk event history answering ``since/until/project/service``.

SQLite rather than a JSON-lines ring: ``--since`` is an indexed range query
instead of a scan of the whole file, pruning to the cap is one DELETE instead
of rewriting a file, a crash mid-write leaves a consistent file (WAL), and the
daemon's other state is SQLite already (stdlib, no new dependency). Bounded
by count and by age, pruned as it grows.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from typing import Iterable

from orchestrator.events.bus import EventBus, Subscription
from orchestrator.events.model import Event

__all__ = ["EventHistory", "record"]

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    project TEXT NOT NULL,
    service TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_time ON events(time);
CREATE INDEX IF NOT EXISTS events_project ON events(project, time);
"""


class EventHistory:
    """Events on disk, at most ``max_events`` of them and none older than ``max_age`` seconds."""

    def __init__(self, path: str, max_events: int = 10_000, max_age: float = 7 * 86400.0) -> None:
        self.path = path
        self.max_events = max_events
        self.max_age = max_age
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._since_prune = 0

    def append(self, events: Iterable[Event]) -> int:
        """Store ``events`` in one transaction; prune when a tenth of the cap was added. Returns the count."""
        rows = [(ev.time, ev.project, ev.service, json.dumps(ev.to_json(), separators=(",", ":")))
                for ev in events]
        if not rows:
            return 0
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO events (time, project, service, body) VALUES (?,?,?,?)", rows)
            self._db.execute("COMMIT")
            self._since_prune += len(rows)
            if self._since_prune >= max(1, self.max_events // 10):
                self._prune_locked(max(r[0] for r in rows))
        return len(rows)

    def prune(self, now: float) -> None:
        """Drop events beyond the count cap or older than ``now - max_age``."""
        with self._lock:
            self._prune_locked(now)

    def _prune_locked(self, now: float) -> None:
        self._db.execute("DELETE FROM events WHERE time < ? OR seq <= (SELECT MAX(seq) FROM events) - ?",
                         (now - self.max_age, self.max_events))
        self._since_prune = 0

    def query(self, since: float | None = None, until: float | None = None, project: str = "",
              service: str | Iterable[str] = "", limit: int | None = None) -> list[Event]:
        """Events in time order with ``since <= time <= until``, optionally one project and some services."""
        sql, args = "SELECT body FROM events WHERE 1=1", []
        if since is not None:
            sql += " AND time >= ?"
            args.append(since)
        if until is not None:
            sql += " AND time <= ?"
            args.append(until)
        if project:
            sql += " AND project = ?"
            args.append(project)
        services = [service] if isinstance(service, str) else list(service)
        services = [s for s in services if s]
        if services:
            sql += f" AND service IN ({','.join('?' * len(services))})"
            args.extend(services)
        if limit is None:
            sql += " ORDER BY time, seq"
        else:
            sql += f" ORDER BY time DESC, seq DESC LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        if limit is not None:
            rows.reverse()
        return [Event.from_json(json.loads(r[0])) for r in rows]

    def count(self) -> int:
        """How many events are stored."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()


async def record(bus: EventBus, history: EventHistory, queue: int = 10_000, batch: int = 500) -> None:
    """Write every event published on ``bus`` to ``history`` in batches, until cancelled or the bus closes."""
    sub: Subscription = bus.subscribe(maxsize=queue)
    try:
        while True:
            ev = await sub.get()
            if ev is None:
                return
            chunk = [ev]
            while len(chunk) < batch and sub.pending():
                nxt = await sub.get()
                if nxt is None:
                    history.append(chunk)
                    return
                chunk.append(nxt)
            try:
                history.append(chunk)
            except sqlite3.Error as exc:
                log.error("event history: %d events not written: %s", len(chunk), exc)
    finally:
        sub.close()
