"""A scripted stack life (up, kill, restart, scale, down) as the events the daemon would publish."""

from __future__ import annotations

import itertools

from orchestrator.events import model as m
from orchestrator.events.model import Event, Replica

_clock = itertools.count(1_763_737_200)


def now() -> float:
    """Strictly increasing fake timestamps (one second apart)."""
    return float(next(_clock))


def replica(service: str, n: int, project: str = "shop", gen: int = 1) -> Replica:
    return Replica(project, service, n, id=f"{project}{service}{n}g{gen}".ljust(12, "0"))


def up(project: str = "shop") -> list[Event]:
    """A network, web x2 and db x1 created and started; db turns healthy."""
    evs = [m.network_event(now(), project, f"{project}_default", "create")]
    for svc, n in (("db", 1), ("web", 1), ("web", 2)):
        r = replica(svc, n, project)
        evs += [m.created(now(), r, image=f"{svc}:1"), m.started(now(), r)]
    evs.append(m.health_status(now(), replica("db", 1, project), "healthy"))
    return evs


def kill_web1(project: str = "shop") -> list[Event]:
    r = replica("web", 1, project)
    return [m.killed(now(), r, "SIGKILL"), m.died(now(), r, 137, signal="SIGKILL")]


def restart_web1(project: str = "shop") -> list[Event]:
    r = replica("web", 1, project)
    return [m.restarting(now(), r, attempt=1, backoff=0.5), m.started(now(), r)]


def scale_web(before: int, after: int, project: str = "shop") -> list[Event]:
    evs = [m.scaled(now(), project, "web", before, after)]
    for n in range(before + 1, after + 1):
        r = replica("web", n, project)
        evs += [m.created(now(), r, image="web:1"), m.started(now(), r)]
    for n in range(after + 1, before + 1):
        r = replica("web", n, project)
        evs += [m.stopped(now(), r), m.destroyed(now(), r)]
    return evs


def down(services: dict[str, int], project: str = "shop") -> list[Event]:
    evs: list[Event] = []
    for svc, count in services.items():
        for n in range(1, count + 1):
            r = replica(svc, n, project)
            evs += [m.killed(now(), r, "SIGTERM"), m.died(now(), r, 0), m.stopped(now(), r),
                    m.destroyed(now(), r)]
    evs.append(m.network_event(now(), project, f"{project}_default", "remove"))
    return evs
