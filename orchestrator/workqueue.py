"""An asyncio work queue with Kubernetes workqueue semantics.

Watchers (engine events, file changes, CLI requests) only compute a key such as
``"project/service"`` and call :meth:`WorkQueue.add`; workers run
``get -> await sync(key) -> forget | add_rate_limited -> done``. Invariants:

* a key is queued at most once however many times it is added (the *dirty* set);
* a key is never handed to two workers at once (the *processing* set): a key
  added while it is being processed is queued again when ``done`` is called;
* ``add_after`` delays an add (the earliest pending delay per key wins);
* ``add_rate_limited`` delays by a per-key exponential backoff that ``forget``
  resets.

Everything runs on one event loop; a thread calls ``loop.call_soon_threadsafe(q.add, key)``.
This module imports neither the engine nor the compose model.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Awaitable, Callable, Hashable

from orchestrator.clock import Clock, SystemClock

__all__ = ["WorkQueue", "ExponentialBackoff", "worker", "run_workers"]

Key = Hashable


class ExponentialBackoff:
    """Per-key delays ``base * 2**failures`` capped at ``cap`` (k8s: 5 ms to 1000 s)."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[Key, int] = {}

    def when(self, key: Key) -> float:
        """The delay for this failure of ``key``; each call counts one more failure."""
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        # 2**n overflows a float long after the cap is reached; stop exponentiating there.
        return self.cap if n > 60 else min(self.cap, self.base * (2 ** n))

    def failures(self, key: Key) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: Key) -> None:
        self._failures.pop(key, None)


class WorkQueue:
    """Deduplicating, non-concurrent-per-key, delaying, rate-limited queue of keys."""

    def __init__(self, clock: Clock | None = None, backoff: ExponentialBackoff | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.backoff = backoff or ExponentialBackoff()
        self._queue: deque[Key] = deque()
        self._dirty: set[Key] = set()
        self._processing: set[Key] = set()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._waiting: dict[Key, float] = {}  # key -> monotonic deadline of its pending add_after
        self._timers: set[asyncio.Task[None]] = set()
        self._shutting_down = False

    # -- basic queue ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def is_processing(self, key: Key) -> bool:
        return key in self._processing

    def add(self, key: Key) -> None:
        """Mark ``key`` dirty; queue it unless it is already queued or being processed."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # done() re-queues it: never two workers on one key
        self._queue.append(key)
        self._wake_getter()

    async def get(self) -> Key | None:
        """The next key to process (now in the processing set), or None once shut down."""
        while not self._queue:
            if self._shutting_down:
                return None
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut in self._getters:
                    self._getters.remove(fut)
                raise
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: Key) -> None:
        """Processing of ``key`` finished; re-queue it if it was added meanwhile."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_getter()

    def shutdown(self) -> None:
        """Stop accepting keys, drop pending delays and release every waiting ``get``."""
        self._shutting_down = True
        for task in list(self._timers):
            task.cancel()
        self._waiting.clear()
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)

    def _wake_getter(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    # -- delaying ------------------------------------------------------------------------
    def add_after(self, key: Key, delay: float) -> None:
        """Add ``key`` after ``delay`` seconds of the queue's clock; an earlier pending add wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        deadline = self.clock.monotonic() + delay
        current = self._waiting.get(key)
        if current is not None and current <= deadline:
            return
        self._waiting[key] = deadline
        task = asyncio.get_running_loop().create_task(self._fire(key, deadline, delay))
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _fire(self, key: Key, deadline: float, delay: float) -> None:
        await self.clock.sleep(delay)
        if self._waiting.get(key) != deadline:
            return  # superseded by an earlier add_after, which already fired or will
        del self._waiting[key]
        self.add(key)

    def pending_delays(self) -> dict[Key, float]:
        """Keys waiting on ``add_after`` with their monotonic deadlines."""
        return dict(self._waiting)

    # -- rate limiting -------------------------------------------------------------------
    def add_rate_limited(self, key: Key) -> float:
        """Re-add ``key`` after its next backoff delay; returns that delay."""
        delay = self.backoff.when(key)
        self.add_after(key, delay)
        return delay

    def forget(self, key: Key) -> None:
        """``key`` succeeded: reset its backoff."""
        self.backoff.forget(key)

    def num_requeues(self, key: Key) -> int:
        return self.backoff.failures(key)


SyncFn = Callable[[Key], Awaitable[None]]
ErrorFn = Callable[[Key, BaseException], None]


async def worker(queue: WorkQueue, sync: SyncFn, on_error: ErrorFn | None = None) -> None:
    """Process keys until the queue shuts down: success forgets, failure backs off."""
    while True:
        key = await queue.get()
        if key is None:
            return
        try:
            await sync(key)
        except asyncio.CancelledError:
            queue.done(key)
            raise
        except Exception as exc:  # a failed sync is retried later, never fatal to the worker
            if on_error is not None:
                on_error(key, exc)
            queue.add_rate_limited(key)
        else:
            queue.forget(key)
        queue.done(key)


def run_workers(queue: WorkQueue, sync: SyncFn, count: int = 4,
                on_error: ErrorFn | None = None) -> list[asyncio.Task[None]]:
    """Start ``count`` worker tasks on the running loop; they end when the queue shuts down."""
    loop = asyncio.get_running_loop()
    return [loop.create_task(worker(queue, sync, on_error), name=f"workqueue-worker-{i}")
            for i in range(count)]
