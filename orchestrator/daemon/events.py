"""The event bus: every lifecycle transition goes to the on-disk history and to live subscribers.

Events use Compose's field names (``time, type, action, id, project, service,
number, attributes``); ``GET /events`` replays the history then follows live.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any, Callable

from orchestrator.daemon.state import StateDB

__all__ = ["EventBus", "iso_time", "parse_time"]


def iso_time(t: float) -> str:
    """``2026-11-21T15:04:05.123456Z``."""
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str, now: float) -> float | None:
    """Epoch seconds from ``since``/``until``: epoch number, RFC 3339, or a duration ago (``10m``)."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return now - float(text[:-1]) * units[text[-1]]
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ValueError(f"invalid time {text!r}") from None


class EventBus:
    """Records events in ``db`` and fans them out to subscriber queues."""

    def __init__(self, db: StateDB, now: Callable[[], float]) -> None:
        self.db = db
        self.now = now
        self._subs: set[asyncio.Queue[dict[str, Any]]] = set()
        self.forward: Callable[[dict[str, Any]], None] | None = None  # e.g. the MQTT link

    def emit(self, type_: str, action: str, id_: str = "", project: str = "", service: str = "",
             number: int = 0, **attributes: Any) -> dict[str, Any]:
        when = self.now()
        event = {"time": iso_time(when), "type": type_, "action": action, "id": id_, "project": project,
                 "service": service, "number": number, "attributes": attributes}
        self.db.add_event(event, when)
        for q in list(self._subs):
            q.put_nowait(event)
        if self.forward is not None:
            self.forward(event)
        return event

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subs.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self._subs.discard(q)
