"""The work queue keeps Kubernetes' promises: dedup, one worker per key, delays, backoff."""

from __future__ import annotations

import asyncio
import pathlib

import pytest

from orchestrator.clock import FakeClock, yield_now
from orchestrator.workqueue import ExponentialBackoff, WorkQueue, run_workers


def run(coro):
    return asyncio.run(coro)


def test_adds_of_a_queued_key_collapse_into_one():
    async def main():
        q = WorkQueue(FakeClock())
        for key in ["a", "b", "a", "a", "c", "b"]:
            q.add(key)
        assert len(q) == 3
        assert [await q.get() for _ in range(3)] == ["a", "b", "c"]

    run(main())


def test_key_added_while_processing_is_requeued_only_after_done():
    async def main():
        q = WorkQueue(FakeClock())
        q.add("a")
        assert await q.get() == "a"
        q.add("a")
        q.add("a")
        assert len(q) == 0 and q.is_processing("a")
        q.done("a")
        assert len(q) == 1
        assert await q.get() == "a"
        q.done("a")
        assert len(q) == 0

    run(main())


def test_get_waits_for_an_add_and_shutdown_releases_waiters():
    async def main():
        q = WorkQueue(FakeClock())
        getter = asyncio.create_task(q.get())
        await yield_now(3)
        assert not getter.done()
        q.add("x")
        assert await getter == "x"
        waiters = [asyncio.create_task(q.get()) for _ in range(3)]
        await yield_now(3)
        q.shutdown()
        assert await asyncio.gather(*waiters) == [None, None, None]
        q.add("late")
        assert len(q) == 0 and await q.get() is None

    run(main())


def test_add_after_fires_on_the_clock_and_earliest_delay_wins():
    async def main():
        clock = FakeClock()
        q = WorkQueue(clock)
        q.add_after("a", 10)
        q.add_after("a", 3)   # earlier: replaces
        q.add_after("a", 20)  # later: ignored
        await clock.run_for(2.9)
        assert len(q) == 0
        await clock.run_for(0.2)
        assert len(q) == 1 and await q.get() == "a"
        q.done("a")
        await clock.run_for(30)
        assert len(q) == 0  # the superseded timers never add again
        q.add_after("b", 0)
        assert len(q) == 1

    run(main())


def test_shutdown_cancels_pending_delays():
    async def main():
        clock = FakeClock()
        q = WorkQueue(clock)
        q.add_after("a", 1)
        q.shutdown()
        await clock.run_for(5)
        assert len(q) == 0 and q.pending_delays() == {}

    run(main())


@pytest.mark.parametrize("failures,expected", [
    (1, [0.005]),
    (4, [0.005, 0.01, 0.02, 0.04]),
    (3, [0.005, 0.01, 0.02]),
])
def test_backoff_doubles_per_key(failures, expected):
    b = ExponentialBackoff()
    assert [round(b.when("k"), 6) for _ in range(failures)] == expected
    assert b.when("other") == 0.005


def test_backoff_caps_and_forget_resets():
    b = ExponentialBackoff(base=1, cap=30)
    delays = [b.when("k") for _ in range(100)]
    assert delays[:6] == [1, 2, 4, 8, 16, 30] and delays[-1] == 30
    assert b.failures("k") == 100
    b.forget("k")
    assert b.when("k") == 1


def test_workers_never_run_one_key_concurrently_and_retry_failures():
    async def main():
        clock = FakeClock()
        q = WorkQueue(clock, ExponentialBackoff(base=1, cap=8))
        running: set[str] = set()
        calls: list[str] = []
        overlap: list[str] = []
        fail_left = {"bad": 2}

        async def sync(key):
            if key in running:
                overlap.append(key)
            running.add(key)
            calls.append(key)
            await clock.sleep(0.5)
            running.discard(key)
            if fail_left.get(key, 0) > 0:
                fail_left[key] -= 1
                raise RuntimeError("boom")

        errors: list[str] = []
        tasks = run_workers(q, sync, count=4, on_error=lambda k, e: errors.append(f"{k}:{e}"))
        for _ in range(3):
            q.add("good")
            q.add("bad")
            await clock.run_for(0.1)
        await clock.run_for(10)
        assert overlap == []
        assert errors == ["bad:boom", "bad:boom"]
        assert calls.count("bad") == 3  # two failures retried with backoff, then success
        assert q.num_requeues("bad") == 0  # forgotten after success
        assert calls.count("good") == 2  # first run, then once more for the adds during it
        q.shutdown()
        await asyncio.gather(*tasks)

    run(main())


def test_failed_key_is_retried_after_its_backoff_delay():
    async def main():
        clock = FakeClock()
        q = WorkQueue(clock, ExponentialBackoff(base=2, cap=60))
        times: list[float] = []

        async def sync(key):
            times.append(clock.monotonic())
            raise ValueError("always")

        tasks = run_workers(q, sync, count=1)
        q.add("k")
        await clock.run_for(15)
        assert times == [0, 2, 6, 14]  # delays 2, 4, 8
        q.shutdown()
        await asyncio.gather(*tasks)

    run(main())


def test_workqueue_imports_neither_engine_nor_compose():
    text = (pathlib.Path(__file__).resolve().parents[2] / "orchestrator" / "workqueue.py").read_text()
    imports = [line for line in text.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in imports if "engine" in line or "compose" in line]
