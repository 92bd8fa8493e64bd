"""The fan-out bus: every subscriber gets what matches; a slow one drops and counts, never slows others."""

from __future__ import annotations

import asyncio
import time

from orchestrator.events import model as m
from orchestrator.events.bus import EventBus, EventFilter


def ev(i: int, project: str = "shop", service: str = "web") -> m.Event:
    return m.started(float(i), m.Replica(project, service, 1, id=f"c{i}"))


def test_fan_out_with_filters():
    async def main():
        bus = EventBus()
        everything = bus.subscribe()
        shop_db = bus.subscribe(EventFilter.of(project="shop", service="db"))
        starts = bus.subscribe(EventFilter.of(action=["start"], type="container"))
        for e in (ev(1), ev(2, service="db"), ev(3, project="lab", service="db"),
                  m.network_event(4.0, "shop", "shop_default", "create")):
            bus.publish(e)
        bus.close()
        return ([e.time async for e in everything], [e.time async for e in shop_db], [e.time async for e in starts])

    assert asyncio.run(main()) == ([1.0, 2.0, 3.0, 4.0], [2.0], [1.0, 2.0, 3.0])


def test_slow_subscriber_drops_and_counts_without_slowing_publisher_or_fast_subscriber():
    async def main():
        bus = EventBus()
        slow = bus.subscribe(maxsize=10)
        fast = bus.subscribe(maxsize=10)
        got_fast: list[float] = []

        async def read_fast():
            async for e in fast:
                got_fast.append(e.time)

        async def read_slow():
            got = []
            async for e in slow:
                got.append(e.time)
                await asyncio.sleep(0.05)       # a stuck HTTP client, say
            return got

        tf, ts = asyncio.create_task(read_fast()), asyncio.create_task(read_slow())
        await asyncio.sleep(0)
        t = time.perf_counter()
        for i in range(1000):
            bus.publish(ev(i))
            await asyncio.sleep(0)
        publish_time = time.perf_counter() - t
        bus.close()
        await tf
        ts.cancel()
        return publish_time, got_fast, slow.dropped, bus.dropped

    publish_time, got_fast, slow_dropped, bus_dropped = asyncio.run(main())
    assert publish_time < 0.5                       # 1000 events never waited 0.05 s for the slow reader
    assert got_fast == [float(i) for i in range(1000)]
    assert slow_dropped >= 980 and bus_dropped == slow_dropped


def test_closed_subscription_stops_receiving_and_wakes_reader():
    async def main():
        bus = EventBus()
        sub = bus.subscribe()

        async def reader():
            return [e async for e in sub]

        task = asyncio.create_task(reader())
        await asyncio.sleep(0)
        bus.publish(ev(1))
        await asyncio.sleep(0)
        sub.close()
        bus.publish(ev(2))
        return await asyncio.wait_for(task, 1), bus.subscribers, await sub.get()

    got, subscribers, after = asyncio.run(main())
    assert [e.time for e in got] == [1.0]
    assert subscribers == 0 and after is None


def test_close_on_a_full_queue_still_ends_the_reader():
    async def main():
        bus = EventBus()
        sub = bus.subscribe(maxsize=2)
        for i in range(5):
            bus.publish(ev(i))
        sub.close()
        return [e.time async for e in sub], sub.dropped

    got, dropped = asyncio.run(main())
    assert got == [0.0, 1.0] and dropped == 3
