"""An asyncio fan-out bus: the publisher never waits, each subscriber has its own bounded queue.

A subscriber that cannot keep up loses the events that do not fit in its queue
(counted on the subscription and on the bus, logged once per burst); the
reconciler that publishes is never slowed by a slow reader, a dead HTTP client
or an MQTT broker that is down.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import AsyncIterator, Callable, Iterable

from orchestrator.events.model import Event

__all__ = ["EventBus", "EventFilter", "Subscription"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class EventFilter:
    """Which events a subscriber wants; an empty field matches everything."""

    projects: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()

    @classmethod
    def of(cls, project: str | Iterable[str] = (), service: str | Iterable[str] = (),
           type: str | Iterable[str] = (), action: str | Iterable[str] = ()) -> "EventFilter":
        """Build a filter from single names or collections of names."""
        def norm(v: str | Iterable[str]) -> frozenset[str]:
            return frozenset([v] if isinstance(v, str) else v) - {""}
        return cls(norm(project), norm(service), norm(type), norm(action))

    def matches(self, ev: Event) -> bool:
        """True when every non-empty field contains the event's value."""
        return all(not want or got in want for want, got in (
            (self.projects, ev.project), (self.services, ev.service),
            (self.types, ev.type), (self.actions, ev.action)))


class Subscription:
    """One subscriber's bounded queue; iterate it with ``async for``, end it with ``close()``."""

    def __init__(self, bus: "EventBus", match: Callable[[Event], bool], maxsize: int) -> None:
        self._bus = bus
        self._match = match
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.closed = False

    def offer(self, ev: Event) -> bool:
        """Queue ``ev`` if it matches and fits; never blocks. False when it was dropped."""
        if self.closed or not self._match(ev):
            return True
        try:
            self._queue.put_nowait(ev)
            return True
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("event subscriber too slow: %d events dropped", self.dropped)
            return False

    def pending(self) -> int:
        """How many events wait in the queue."""
        return self._queue.qsize()

    async def get(self) -> Event | None:
        """The next event, or None once closed and drained."""
        if self.closed and self._queue.empty():
            return None
        return await self._queue.get()

    def close(self) -> None:
        """Stop receiving; a reader waiting in ``get`` or ``async for`` wakes up and ends."""
        if self.closed:
            return
        self.closed = True
        self._bus._remove(self)
        try:
            self._queue.put_nowait(None)  # wakes a reader waiting on an empty queue
        except asyncio.QueueFull:
            pass  # a full queue has no waiting reader; it ends once drained

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            ev = await self.get()
            if ev is None:
                return
            yield ev


class EventBus:
    """Fan-out of events to subscribers; ``publish`` is synchronous and O(subscribers)."""

    def __init__(self, default_queue: int = 1000) -> None:
        self.default_queue = default_queue
        self._subs: list[Subscription] = []
        self.published = 0
        self.dropped = 0

    def publish(self, ev: Event) -> None:
        """Hand ``ev`` to every matching subscriber without waiting; full queues drop it."""
        self.published += 1
        for sub in list(self._subs):
            if not sub.offer(ev):
                self.dropped += 1

    def subscribe(self, filter: EventFilter | Callable[[Event], bool] | None = None,
                  maxsize: int | None = None) -> Subscription:
        """A new subscription receiving events published from now on that match ``filter``."""
        if filter is None:
            match: Callable[[Event], bool] = lambda ev: True
        elif isinstance(filter, EventFilter):
            match = filter.matches
        else:
            match = filter
        sub = Subscription(self, match, maxsize or self.default_queue)
        self._subs.append(sub)
        return sub

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open."""
        return len(self._subs)

    def close(self) -> None:
        """End every subscription (daemon shutdown)."""
        for sub in list(self._subs):
            sub.close()

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
