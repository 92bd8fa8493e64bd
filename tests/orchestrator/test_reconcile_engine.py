"""plan + executor against the real engine (root, busybox): up, crash restart, unhealthy replace, scale, down."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.clock import SystemClock
from orchestrator.compose.model import Project
from orchestrator.reconciler.actions import RestartContainer
from orchestrator.reconciler.executor import Executor
from orchestrator.reconciler.observed import from_engine
from orchestrator.reconciler.plan import Desired, PlanState, plan
from orchestrator.reconciler.plan_down import plan_down
from orchestrator.testing import FakeResources
from orchestrator.to_spec import container_spec

pytestmark = pytest.mark.root


def project(rootfs, replicas=2):
    return Project.from_dict({"name": "rt", "services": {"web": {
        "image": rootfs, "command": ["sleep", "1000"], "restart": "always",
        "stop_grace_period": 1.0, "deploy": {"replicas": replicas}}}})


async def converge(eng, proj, state=None, passes=5, **flags):
    executor = Executor(eng, lambda a: container_spec(proj, proj.services[a.service], a.number),
                        resources=FakeResources())
    done = []
    for _ in range(passes):
        observed = [from_engine(i) for i in eng.list()]
        actions = plan(Desired(proj, **flags), observed, SystemClock().time(),
                       state or PlanState(networks=frozenset({"rt_default"})))
        if not actions:
            return done
        results = await executor.run(actions)
        assert all(r.ok for r in results), [r.error for r in results if not r.ok]
        done += actions
    return done


def running(eng):
    return sorted(i.name for i in eng.list() if i.state == "running")


def test_up_crash_scale_and_down_on_real_containers(eng, busybox_rootfs):
    proj = project(busybox_rootfs)
    asyncio.run(converge(eng, proj))
    assert running(eng) == ["rt-web-1", "rt-web-2"]
    labels = eng.inspect("rt-web-2").labels
    assert labels["com.docker.compose.container-number"] == "2"

    eng.kill("rt-web-1", "SIGKILL")
    eng.wait("rt-web-1", timeout=10)
    actions = asyncio.run(converge(eng, proj))
    assert any(isinstance(a, RestartContainer) and a.name == "rt-web-1" for a in actions)
    assert running(eng) == ["rt-web-1", "rt-web-2"]

    asyncio.run(converge(eng, project(busybox_rootfs, replicas=1)))
    assert running(eng) == ["rt-web-1"] and [i.name for i in eng.list()] == ["rt-web-1"]

    executor = Executor(eng, lambda a: None, resources=FakeResources(networks={"rt_default"}))
    results = asyncio.run(executor.run(plan_down(proj, [from_engine(i) for i in eng.list()])))
    assert all(r.ok for r in results) and eng.list() == []
