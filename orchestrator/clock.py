"""Injected time: every backoff, probe timer and delayed requeue asks a Clock.

``SystemClock`` is the real one; ``FakeClock`` only moves when a test advances
it, so restart backoff and health timing are tested in microseconds and without
flakiness. This module is the only place that calls ``time.monotonic`` or
``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "FakeClock", "yield_now"]


@runtime_checkable
class Clock(Protocol):
    """A source of time and of sleeping.

    ``monotonic()`` is for intervals and deadlines (never goes backwards),
    ``time()`` is wall-clock seconds since the epoch (for timestamps users see),
    and ``sleep(s)`` suspends the calling task for ``s`` seconds of this clock.
    """

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: ``time.monotonic``, ``time.time`` and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


async def yield_now(times: int = 1) -> None:
    """Let other ready tasks run ``times`` rounds without any time passing."""
    for _ in range(times):
        await asyncio.sleep(0)


class FakeClock:
    """A clock that moves only when told; sleepers wake in deadline order (ties: FIFO)."""

    def __init__(self, start: float = 0.0, epoch: float = 1_700_000_000.0) -> None:
        self._now = start
        self._epoch = epoch - start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._epoch + self._now

    @property
    def sleepers(self) -> int:
        """How many tasks are asleep on this clock (cancelled ones excluded)."""
        return sum(1 for _, _, fut in self._sleepers if not fut.done())

    def next_deadline(self) -> float | None:
        """When the earliest sleeper wakes, or None when nobody sleeps."""
        live = [d for d, _, fut in self._sleepers if not fut.done()]
        return min(live) if live else None

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await yield_now()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    def advance(self, seconds: float) -> None:
        """Jump ahead ``seconds``, waking (in order) every sleeper now due."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds
        self._wake_due()

    async def run_for(self, seconds: float, rounds: int = 5) -> None:
        """Advance step by step to each deadline, letting woken tasks run and sleep again."""
        target = self._now + seconds
        await yield_now(rounds)
        while True:
            nxt = self.next_deadline()
            if nxt is None or nxt > target:
                break
            self._now = max(self._now, nxt)
            self._wake_due()
            await yield_now(rounds)
        self._now = target
        await yield_now(rounds)

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)
