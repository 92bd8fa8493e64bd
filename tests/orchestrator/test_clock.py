"""FakeClock wakes sleepers in deadline order and only when advanced; SystemClock really sleeps."""

from __future__ import annotations

import asyncio
import pathlib

from orchestrator.clock import Clock, FakeClock, SystemClock


def test_fake_clock_wakes_in_deadline_order_then_fifo():
    async def main():
        clock = FakeClock()
        woke: list[str] = []

        async def sleeper(name, secs):
            await clock.sleep(secs)
            woke.append(f"{name}@{clock.monotonic():g}")

        tasks = [asyncio.create_task(sleeper(n, s)) for n, s in
                 [("c", 3), ("a", 1), ("b", 2), ("a2", 1)]]
        await asyncio.sleep(0)
        assert clock.sleepers == 4 and clock.next_deadline() == 1
        await clock.run_for(1.5)
        assert woke == ["a@1", "a2@1"]
        await clock.run_for(10)
        assert woke == ["a@1", "a2@1", "b@2", "c@3"]
        assert clock.monotonic() == 11.5
        await asyncio.gather(*tasks)

    asyncio.run(main())


def test_fake_clock_does_not_move_by_itself():
    async def main():
        clock = FakeClock(start=5.0)
        task = asyncio.create_task(clock.sleep(1))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not task.done() and clock.monotonic() == 5.0
        clock.advance(0.999)
        await asyncio.sleep(0)
        assert not task.done()
        clock.advance(0.001)
        await task

    asyncio.run(main())


def test_run_for_lets_woken_tasks_sleep_again():
    async def main():
        clock = FakeClock()
        ticks: list[float] = []

        async def ticker():
            while len(ticks) < 4:
                await clock.sleep(2)
                ticks.append(clock.monotonic())

        task = asyncio.create_task(ticker())
        await clock.run_for(7)
        assert ticks == [2, 4, 6]
        await clock.run_for(1)
        assert ticks == [2, 4, 6, 8]
        await task

    asyncio.run(main())


def test_time_is_wall_clock_offset_and_backwards_is_refused():
    clock = FakeClock(epoch=1000.0)
    clock.advance(2.5)
    assert clock.time() == 1002.5
    try:
        clock.advance(-1)
    except ValueError:
        pass
    else:
        raise AssertionError("advance(-1) accepted")


def test_cancelled_sleeper_is_not_counted():
    async def main():
        clock = FakeClock()
        task = asyncio.create_task(clock.sleep(1))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.sleep(0)
        assert clock.sleepers == 0 and clock.next_deadline() is None
        clock.advance(2)  # waking a cancelled future must not raise

    asyncio.run(main())


def test_system_clock_sleeps_and_both_satisfy_the_protocol():
    async def main():
        clock = SystemClock()
        t0 = clock.monotonic()
        await clock.sleep(0.02)
        assert clock.monotonic() - t0 >= 0.015

    asyncio.run(main())
    assert isinstance(SystemClock(), Clock) and isinstance(FakeClock(), Clock)


def test_only_clock_module_reads_time_or_sleeps():
    root = pathlib.Path(__file__).resolve().parents[2] / "orchestrator"
    mine = [root / "workqueue.py", root / "to_spec.py", root / "testing.py",
            *sorted((root / "reconciler").glob("*.py"))]
    offenders = [p.name for p in mine if p.exists()
                 and ("time.monotonic" in p.read_text() or "asyncio.sleep" in p.read_text())]
    assert offenders == []
