"""PlanState bookkeeping: deferred restarts, restart histories, failed slots, rollout times."""

from __future__ import annotations

import asyncio

from orchestrator.clock import FakeClock
from orchestrator.compose.model import Project
from orchestrator.reconciler.actions import (CreateContainer, MarkFailed, RemoveContainer, RestartContainer,
                                             StartContainer, WaitFor)
from orchestrator.reconciler.executor import ActionResult, Executor
from orchestrator.reconciler.observed import from_engine
from orchestrator.reconciler.plan import Desired, PlanState, plan
from orchestrator.reconciler.plan_state import advance, defer, next_wakeup
from orchestrator.reconciler.restart import RestartHistory
from orchestrator.testing import FakeEngine, FakeResources
from orchestrator.to_spec import container_spec


def test_deferred_restarts_never_make_a_worker_sleep():
    proj = Project.from_dict({"name": "p", "services": {"web": {"image": "x", "restart": "always"}}})
    clock = FakeClock()
    engine = FakeEngine(now=clock.time)
    executor = Executor(engine, lambda a: container_spec(proj, proj.services[a.service], a.number),
                        resources=FakeResources(), clock=clock)

    def observed():
        return [from_engine(i) for i in engine.list()]

    async def main():
        state = PlanState(networks=frozenset({"p_default"}))
        state = advance(state, await executor.run(plan(Desired(proj), observed(), clock.time(), state)), clock.time())
        delays = []
        for _ in range(3):
            engine.exit("p-web-1", 1)
            crash = clock.time()
            state, now_actions = defer(state, plan(Desired(proj), observed(), crash, state), crash)
            assert now_actions == []
            wake = next_wakeup(state)
            delays.append(round(wake - crash, 3))
            (wait,) = plan(Desired(proj), observed(), crash, state)
            assert isinstance(wait, WaitFor) and wait.condition == "restart_backoff" and wait.until == wake
            clock.advance(wake - crash)
            actions = plan(Desired(proj), observed(), clock.time(), state)
            assert [type(a).__name__ for a in actions] == ["RestartContainer"] and actions[0].history is None
            results = await executor.run(actions)  # due now: no sleeping inside
            state = advance(state, results, clock.time())
            assert state.restart_at == {} and engine.by_name("p-web-1").state == "running"
            clock.advance(1)
        assert delays == [0.1, 0.2, 0.4]
        assert state.restarts["p-web-1"].restart_count == 3

    asyncio.run(main())


def ok(action):
    return ActionResult(action, True)


def test_advance_bookkeeping():
    h = RestartHistory(restart_count=2, backoff=0.4)
    state = PlanState(restart_at={"p-a-1": 5.0}, manually_stopped=frozenset({"p-c-1"}))
    state = advance(state, [
        ok(RestartContainer("a", 1, "p-a-1", history=h)),
        ActionResult(MarkFailed("b", 1, "p-b-1"), True),
        ok(CreateContainer("w", 2, "p-w-2", rollout=True)),
        ActionResult(CreateContainer("w", 3, "p-w-3", rollout=True), False, "boom"),
    ], now=42.0)
    assert state.restarts == {"p-a-1": h} and state.restart_at == {}
    assert state.failed == {"p-b-1"} and state.last_rollout == {"w": 42.0}
    state = advance(state, [ok(StartContainer("b", 1, "p-b-1")), ok(StartContainer("c", 1, "p-c-1"))], 43.0)
    assert state.failed == frozenset() and state.manually_stopped == frozenset()
    state = advance(state, [ok(CreateContainer("a", 1, "p-a-1", replace="p-a-1"))], 44.0)
    assert state.restarts == {}  # a recreated slot's history starts over
    state = advance(PlanState(restarts={"p-x-1": h}), [ok(RemoveContainer("x", 1, "p-x-1"))], 45.0)
    assert state.restarts == {}


def test_next_wakeup_takes_the_earliest_known_time():
    state = PlanState(restart_at={"a": 30.0, "b": 20.0})
    assert next_wakeup(state) == 20.0
    assert next_wakeup(state, [WaitFor("s", "s", "update_delay", until=10.0), WaitFor("t", "d", "x")]) == 10.0
    assert next_wakeup(PlanState()) is None
