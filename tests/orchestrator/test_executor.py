"""The executor runs plans against the in-memory FakeEngine: order, concurrency, errors, backoff."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace as dc_replace

from engine.errors import StartFailed
from orchestrator.clock import FakeClock
from orchestrator.compose.model import Project
from orchestrator.reconciler.actions import (CreateContainer, RemoveContainer, RestartContainer,
                                             StartContainer, WaitFor)
from orchestrator.reconciler.executor import Executor
from orchestrator.reconciler.observed import from_engine
from orchestrator.reconciler.plan import Desired, PlanState, plan
from orchestrator.reconciler.plan_down import plan_down
from orchestrator.testing import FakeEngine, FakeResources
from orchestrator.to_spec import container_spec

HC = {"test": ["CMD", "true"]}


def project(services, **top):
    return Project.from_dict({"name": "p", "services": services, **top})


class Rig:
    """A project, a fake engine and resources, an executor, and a health map set by the test."""

    def __init__(self, proj, limit=8, clock=None):
        self.project = proj
        self.clock = clock or FakeClock()
        self.engine = FakeEngine(now=self.clock.time)
        self.resources = FakeResources()
        self.health: dict[str, str] = {}
        self.events: list[tuple[str, str]] = []
        self.executor = Executor(self.engine, self.spec_for, resources=self.resources, clock=self.clock,
                                 limit=limit, on_event=lambda e: self.events.append((e.kind, e.action.key)))

    def spec_for(self, action):
        return container_spec(self.project, self.project.services[action.service], action.number)

    def observed(self):
        return [from_engine(i, health=self.health.get(i.name, "none")) for i in self.engine.list()]

    async def step(self, **flags):
        actions = plan(Desired(self.project, **flags), self.observed(), self.clock.time(),
                       PlanState(networks=frozenset(self.resources.networks),
                                 volumes=frozenset(self.resources.volumes)))
        return actions, await self.executor.run(actions)


def test_up_converges_in_dependency_order():
    services = {"db": {"image": "pg", "healthcheck": HC},
                "web": {"image": "nginx", "deploy": {"replicas": 3},
                        "depends_on": {"db": {"condition": "service_healthy", "required": True}}}}

    async def main():
        rig = Rig(project(services))
        actions, results = await rig.step()
        assert all(r.ok for r in results)
        assert rig.engine.names("running") == ["p-db-1"]
        assert any(isinstance(a, WaitFor) and a.service == "web" for a in actions)
        rig.health["p-db-1"] = "starting"
        await rig.step()
        assert rig.engine.names() == ["p-db-1"]  # still waiting
        rig.health["p-db-1"] = "healthy"
        await rig.step()
        assert rig.engine.names("running") == ["p-db-1", "p-web-1", "p-web-2", "p-web-3"]
        actions, _ = await rig.step()
        assert actions == []  # converged
        assert rig.resources.networks == {"p_default"}
        creates = [name for verb, name in rig.engine.calls if verb == "create"]
        assert creates[0] == "p-db-1"
        labels = dict(rig.engine.by_name("p-web-2").spec.labels)
        assert labels["com.docker.compose.container-number"] == "2"

    asyncio.run(main())


def test_crash_is_restarted_after_backoff_on_the_clock():
    async def main():
        rig = Rig(project({"web": {"image": "nginx", "restart": "always"}}))
        await rig.step()
        rig.engine.exit("p-web-1", 1)
        task = asyncio.create_task(rig.step())
        await rig.clock.run_for(0.05)
        assert not task.done() and rig.engine.by_name("p-web-1").state == "exited"
        await rig.clock.run_for(0.1)
        actions, results = await task
        assert isinstance(actions[0], RestartContainer) and results[0].ok
        assert rig.engine.by_name("p-web-1").state == "running" and rig.engine.by_name("p-web-1").starts == 2

    asyncio.run(main())


def test_unhealthy_replica_is_replaced_in_its_slot():
    async def main():
        rig = Rig(project({"web": {"image": "nginx", "restart": "always", "healthcheck": HC}}))
        await rig.step()
        old = rig.engine.by_name("p-web-1").id
        rig.health["p-web-1"] = "unhealthy"
        task = asyncio.create_task(rig.step())
        await rig.clock.run_for(1)
        _, results = await task
        new = rig.engine.by_name("p-web-1")
        assert results[0].ok and new.id != old and new.state == "running"
        assert ("stop", "p-web-1") in rig.engine.calls and ("remove", "p-web-1") in rig.engine.calls

    asyncio.run(main())


def test_config_change_recreates_only_that_service():
    async def main():
        rig = Rig(project({"web": {"image": "nginx:1"}, "db": {"image": "pg"}}))
        await rig.step()
        ids = {n: rig.engine.by_name(n).id for n in rig.engine.names()}
        rig.project = project({"web": {"image": "nginx:2"}, "db": {"image": "pg"}})
        actions, results = await rig.step()
        assert [type(a).__name__ for a in actions] == ["CreateContainer"] and all(r.ok for r in results)
        assert rig.engine.by_name("p-db-1").id == ids["p-db-1"]
        assert rig.engine.by_name("p-web-1").id != ids["p-web-1"]
        assert rig.engine.by_name("p-web-1").spec.rootfs == "nginx:2"

    asyncio.run(main())


def test_concurrency_is_bounded():
    lock, state = threading.Lock(), {"now": 0, "max": 0}

    def hook(verb, name):
        if verb != "create":
            return
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.02)  # a slow engine call, outside the fake's own lock
        with lock:
            state["now"] -= 1

    async def main():
        rig = Rig(project({"web": {"image": "x", "deploy": {"replicas": 8}}}), limit=3)
        rig.engine.hook = hook
        rig.engine._lock = _NoLock()  # let the hook's calls overlap
        _, results = await rig.step()
        assert all(r.ok for r in results) and len(rig.engine.names()) == 8
        assert 2 <= state["max"] <= 3

    asyncio.run(main())


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_errors_are_reported_per_action_and_others_still_run():
    async def main():
        rig = Rig(project({"web": {"image": "x", "deploy": {"replicas": 3}}}))
        rig.engine.fail[("start", "p-web-2")] = StartFailed("container p-web-2: exec format error")
        actions, results = await rig.step()
        bad = [r for r in results if not r.ok]
        assert [r.action.name for r in bad] == ["p-web-2"]
        assert bad[0].error == "container p-web-2: exec format error"
        assert ("error", "p-web-2") in rig.events and ("done", "p-web-1") in rig.events
        assert rig.engine.names("running") == ["p-web-1", "p-web-3"]

    asyncio.run(main())


def test_phases_run_in_order_networks_then_removals_then_creates():
    async def main():
        rig = Rig(project({"web": {"image": "x", "deploy": {"replicas": 2}}}))
        await rig.step()
        rig.engine.exit("p-web-2", 0)
        rig.resources.networks.clear()
        rig.engine.calls.clear()
        rig.project = project({"web": {"image": "y", "deploy": {"replicas": 1}}})
        await rig.step()
        verbs = [v for v, _ in rig.resources.calls]
        assert verbs[-1] == "create_network"
        assert rig.engine.calls[0] == ("remove", "p-web-2")
        assert rig.engine.names() == ["p-web-1"] and rig.engine.by_name("p-web-1").spec.rootfs == "y"

    asyncio.run(main())


def test_down_removes_everything_and_anonymous_volumes_with_v():
    services = {"db": {"image": "pg", "volumes": [{"type": "volume", "target": "/anon"}]},
                "web": {"image": "x", "depends_on": {"db": {"condition": "service_started", "required": True}}}}

    async def main():
        rig = Rig(project(services, networks={"default": {"name": "p_default"}}))
        await rig.step()
        await rig.step()
        anon = rig.engine.by_name("p-db-1").spec.mounts[0].source
        rig.resources.volumes.add(anon)
        rig.engine.calls.clear()
        results = await rig.executor.run(plan_down(rig.project, rig.observed(), volumes=True))
        assert all(r.ok for r in results)
        assert rig.engine.names() == [] and rig.resources.networks == set() and rig.resources.volumes == set()
        stops = [n for v, n in rig.engine.calls if v == "stop"]
        assert stops == ["p-web-1", "p-db-1"]  # dependents first

    asyncio.run(main())


def test_info_actions_only_emit_events():
    async def main():
        rig = Rig(project({"web": {"image": "x"}}))
        results = await rig.executor.run([WaitFor("web", "db", "service_healthy")])
        assert results[0].ok and rig.events == [("info", "web")] and rig.engine.calls == []

    asyncio.run(main())


def test_remove_of_a_gone_container_is_done_and_name_clashes_are_errors():
    async def main():
        rig = Rig(project({"web": {"image": "x"}}))
        (result,) = await rig.executor.run([RemoveContainer("web", 1, "p-web-1")])
        assert result.ok and rig.engine.names() == []
        (result,) = await rig.executor.run([CreateContainer("web", 1, "p-web-1")])
        assert result.ok and len(result.container_id) == 64
        (result,) = await rig.executor.run([CreateContainer("web", 1, "p-web-1")])
        assert not result.ok and result.error == "container name p-web-1 is already in use"
        (result,) = await rig.executor.run([StartContainer("web", 2, "p-web-2")])
        assert not result.ok and "no such container" in result.error

    asyncio.run(main())


def test_crash_loop_backs_off_exponentially_when_history_is_kept():
    """The reconciler stores each RestartContainer's history; restarts then come 0.1, 0.2, 0.4 ... s apart."""

    async def main():
        rig = Rig(project({"web": {"image": "x", "restart": "on-failure:5"}}))
        await rig.step()
        state = PlanState(networks=frozenset({"p_default"}))
        waited: list[float] = []
        for _ in range(7):
            rig.engine.exit("p-web-1", 2)  # crashes at once
            crashed_at = rig.clock.time()
            actions = plan(Desired(rig.project), rig.observed(), crashed_at, state)
            restarts = [a for a in actions if isinstance(a, RestartContainer)]
            if not restarts:
                break
            delay = restarts[0].at - crashed_at
            task = asyncio.create_task(rig.executor.run(actions))
            await rig.clock.run_for(delay * 0.9)
            assert rig.engine.by_name("p-web-1").state == "exited"  # still backing off
            await rig.clock.run_for(2)  # it crashes again 2 s later at most: no 10 s reset
            assert (await task)[0].ok and rig.engine.by_name("p-web-1").state == "running"
            waited.append(round(delay, 3))
            state = dc_replace(state, restarts={**state.restarts, "p-web-1": restarts[0].history})
        assert waited == [0.1, 0.2, 0.4, 0.8, 1.6]  # on-failure:5, then it gives up
        final = plan(Desired(rig.project), rig.observed(), rig.clock.time(), state)
        assert [type(a).__name__ for a in final] == ["MarkFailed"]
        assert rig.engine.by_name("p-web-1").state == "exited"

    asyncio.run(main())


def test_new_replicas_start_in_doubling_batches_and_stop_after_a_failed_batch():
    async def main():
        rig = Rig(project({"web": {"image": "x", "deploy": {"replicas": 10}}}))
        batches: list[int] = []
        current: list[str] = []

        def hook(verb, name):
            if verb == "create":
                current.append(name)

        rig.engine.hook = hook
        original = rig.executor._indexed

        async def spy(items):
            current.clear()
            out = await original(items)
            if current:
                batches.append(len(current))
            return out

        rig.executor._indexed = spy
        _, results = await rig.step()
        assert all(r.ok for r in results) and batches == [1, 2, 4, 3]

        broken = Rig(project({"web": {"image": "x", "deploy": {"replicas": 10}}}))
        for n in range(1, 11):
            broken.engine.fail[("start", f"p-web-{n}")] = StartFailed("exec: no such file")
        _, results = await broken.step()
        creates = [r for r in results if isinstance(r.action, CreateContainer)]
        assert [r.ok for r in creates] == [False] * 10
        assert len([c for c in broken.engine.calls if c[0] == "create"]) == 1  # one try, not ten
        assert creates[1].error == "skipped: an earlier replica failed: exec: no such file"

    asyncio.run(main())
