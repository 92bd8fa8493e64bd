"""The on-disk history: since/until/project/service queries, bounded by count and age, fed from the bus."""

from __future__ import annotations

import asyncio

from orchestrator.events import model as m
from orchestrator.events.bus import EventBus
from orchestrator.events.history import EventHistory, record


def ev(t: float, project: str = "shop", service: str = "web", n: int = 1) -> m.Event:
    return m.started(t, m.Replica(project, service, n, id=f"{project}-{service}-{t}"))


def test_since_until_project_service(tmp_path):
    h = EventHistory(str(tmp_path / "events.db"))
    h.append([ev(100.0), ev(200.0, service="db"), ev(300.0, project="lab"), ev(400.0), ev(500.0, service="db")])
    times = lambda evs: [e.time for e in evs]
    assert times(h.query()) == [100.0, 200.0, 300.0, 400.0, 500.0]
    assert times(h.query(since=200.0, until=400.0)) == [200.0, 300.0, 400.0]
    assert times(h.query(project="shop")) == [100.0, 200.0, 400.0, 500.0]
    assert times(h.query(project="shop", service="db", since=250.0)) == [500.0]
    assert times(h.query(service=["db", "web"], project="shop", until=200.0)) == [100.0, 200.0]
    assert times(h.query(limit=2)) == [400.0, 500.0]
    got = h.query(project="lab")[0]
    assert got.to_json() == ev(300.0, project="lab").to_json()
    h.close()


def test_history_survives_reopen(tmp_path):
    path = str(tmp_path / "events.db")
    h = EventHistory(path)
    h.append([ev(1.0), ev(2.0)])
    h.close()
    again = EventHistory(path)
    assert [e.time for e in again.query(since=1.5)] == [2.0]
    again.close()


def test_bounded_by_count_and_age(tmp_path):
    h = EventHistory(str(tmp_path / "events.db"), max_events=100, max_age=1000.0)
    for start in range(0, 1000, 50):
        h.append([ev(float(t)) for t in range(start, start + 50)])
    assert h.count() <= 110                      # pruned as it grows, never far past the cap
    h.prune(now=999.0)
    assert [e.time for e in h.query()][:1] == [900.0] and h.count() == 100
    h.prune(now=1950.0)                          # only events newer than now - max_age stay
    assert [e.time for e in h.query()] == [float(t) for t in range(950, 1000)]
    h.close()


def test_record_writes_what_the_bus_publishes(tmp_path):
    async def main():
        bus = EventBus()
        h = EventHistory(str(tmp_path / "events.db"))
        task = asyncio.create_task(record(bus, h))
        await asyncio.sleep(0)
        for i in range(1200):
            bus.publish(ev(float(i), service="web" if i % 2 else "db"))
        await asyncio.sleep(0)
        bus.close()
        await asyncio.wait_for(task, 5)
        return h

    h = asyncio.run(main())
    assert h.count() == 1200
    assert len(h.query(service="db", since=1000.0)) == 100
    h.close()
