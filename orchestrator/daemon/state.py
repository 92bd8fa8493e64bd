"""The daemon's durable state in SQLite (WAL, one writer): projects, slots and events.

Only the daemon writes. Projects hold the normalised compose dict the CLI sent
and what the user last asked for (scale overrides, desired status); slots hold
per-replica bookkeeping that must survive a daemon restart (restart history,
manual stop, failed, last health); events are a bounded history for
``GET /events?since=``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from orchestrator.reconciler.restart import RestartHistory

__all__ = ["StateDB", "ProjectRecord", "SlotRecord", "SCHEMA_VERSION", "MAX_EVENTS", "MAX_EVENT_AGE"]

SCHEMA_VERSION = 1
MAX_EVENTS = 10_000
MAX_EVENT_AGE = 7 * 86400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY, project TEXT NOT NULL, working_dir TEXT NOT NULL DEFAULT '',
    config_files TEXT NOT NULL DEFAULT '[]', scale TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'up', stopped TEXT NOT NULL DEFAULT '[]', updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS slots (
    name TEXT PRIMARY KEY, project TEXT NOT NULL, service TEXT NOT NULL DEFAULT '',
    restart TEXT NOT NULL DEFAULT '{}', manually_stopped INTEGER NOT NULL DEFAULT 0,
    failed TEXT NOT NULL DEFAULT '', health TEXT NOT NULL DEFAULT '{}', updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS slots_project ON slots(project);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, project TEXT NOT NULL DEFAULT '',
    service TEXT NOT NULL DEFAULT '', body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_time ON events(time);
"""


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    """A project as stored: its dict, where it came from, scale overrides and desired status."""

    name: str
    project: dict[str, Any]
    working_dir: str = ""
    config_files: list[str] = field(default_factory=list)
    scale: dict[str, int] = field(default_factory=dict)
    status: str = "up"  # up | stopped
    stopped: list[str] = field(default_factory=list)  # services stopped by the user (stop svc)


@dataclass(frozen=True, slots=True)
class SlotRecord:
    """Per-container bookkeeping, by container name."""

    name: str
    project: str
    service: str = ""
    restart: RestartHistory = field(default_factory=RestartHistory)
    manually_stopped: bool = False
    failed: str = ""  # why the restart policy gave up; "" = not failed
    health: dict[str, Any] = field(default_factory=dict)  # {"status", "failing_streak", "log"}


def _history_in(text: str) -> RestartHistory:
    data = json.loads(text or "{}")
    data["restart_times"] = tuple(data.get("restart_times", ()))
    known = {f.name for f in dataclasses.fields(RestartHistory)}
    return RestartHistory(**{k: v for k, v in data.items() if k in known})


class StateDB:
    """The SQLite file ``<root>/shoald.db``; every method is one short transaction."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self._migrate()
        self._inserts = 0

    def _migrate(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path}: schema version {version} is newer than this shoald "
                               f"({SCHEMA_VERSION})")
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    # -- projects ----------------------------------------------------------------------------
    def put_project(self, rec: ProjectRecord) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO projects VALUES (?,?,?,?,?,?,?,?)",
            (rec.name, json.dumps(rec.project), rec.working_dir, json.dumps(rec.config_files),
             json.dumps(rec.scale), rec.status, json.dumps(sorted(set(rec.stopped))), time.time()))

    def set_status(self, name: str, status: str) -> None:
        self.db.execute("UPDATE projects SET status=?, updated_at=? WHERE name=?", (status, time.time(), name))

    def set_scale(self, name: str, scale: dict[str, int]) -> None:
        self.db.execute("UPDATE projects SET scale=?, updated_at=? WHERE name=?",
                        (json.dumps(scale), time.time(), name))

    def get_project(self, name: str) -> ProjectRecord | None:
        row = self.db.execute("SELECT * FROM projects WHERE name=?", (name,)).fetchone()
        return _project(row) if row else None

    def projects(self) -> list[ProjectRecord]:
        return [_project(r) for r in self.db.execute("SELECT * FROM projects ORDER BY name")]

    def delete_project(self, name: str) -> None:
        self.db.execute("DELETE FROM projects WHERE name=?", (name,))
        self.db.execute("DELETE FROM slots WHERE project=?", (name,))

    # -- slots -------------------------------------------------------------------------------
    def put_slot(self, rec: SlotRecord) -> None:
        hist = dataclasses.asdict(rec.restart)
        self.db.execute(
            "INSERT OR REPLACE INTO slots VALUES (?,?,?,?,?,?,?,?)",
            (rec.name, rec.project, rec.service, json.dumps(hist), int(rec.manually_stopped), rec.failed,
             json.dumps(rec.health), time.time()))

    def slots(self, project: str) -> dict[str, SlotRecord]:
        rows = self.db.execute("SELECT * FROM slots WHERE project=?", (project,))
        return {r[0]: SlotRecord(r[0], r[1], r[2], _history_in(r[3]), bool(r[4]), r[5], json.loads(r[6]))
                for r in rows}

    def delete_slots(self, names: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM slots WHERE name=?", [(n,) for n in names])

    # -- events ------------------------------------------------------------------------------
    def add_event(self, event: dict[str, Any], when: float) -> None:
        self.db.execute("INSERT INTO events (time, project, service, body) VALUES (?,?,?,?)",
                        (when, event.get("project", ""), event.get("service", ""), json.dumps(event)))
        self._inserts += 1
        if self._inserts % 500 == 0:
            self.prune_events(when)

    def prune_events(self, now: float) -> None:
        """Keep the last MAX_EVENTS events and none older than MAX_EVENT_AGE."""
        self.db.execute("DELETE FROM events WHERE time < ? OR id <= (SELECT MAX(id) FROM events) - ?",
                        (now - MAX_EVENT_AGE, MAX_EVENTS))

    def events(self, since: float | None = None, until: float | None = None, project: str = "",
               service: str = "") -> list[dict[str, Any]]:
        sql, args = "SELECT body FROM events WHERE 1=1", []
        for cond, value in (("time >= ?", since), ("time <= ?", until)):
            if value is not None:
                sql += f" AND {cond}"
                args.append(value)
        for col, value in (("project", project), ("service", service)):
            if value:
                sql += f" AND {col} = ?"
                args.append(value)
        return [json.loads(r[0]) for r in self.db.execute(sql + " ORDER BY id", args)]


def _project(row: tuple) -> ProjectRecord:
    return ProjectRecord(row[0], json.loads(row[1]), row[2], json.loads(row[3]), json.loads(row[4]), row[5],
                         json.loads(row[6]))
