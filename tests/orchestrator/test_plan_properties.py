"""Properties of plan() over generated projects and observed states (hypothesis).

Whatever the starting point, repeated passes (executing each plan in a small
simulator where new replicas become healthy one pass later) converge: every
service ends with exactly its replica count, all up to date, no duplicate
names, and busy containers are never touched.
"""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from orchestrator.compose.model import Project
from orchestrator.reconciler.actions import (CreateContainer, MarkFailed, RemoveContainer, ReplaceUnhealthy,
                                             RestartContainer, StartContainer, WaitFor)
from orchestrator.reconciler.hash import config_hash
from orchestrator.reconciler.observed import ObservedContainer
from orchestrator.reconciler.plan import Desired, PlanState, plan
from orchestrator.reconciler.plan_state import advance

HC = {"test": ["CMD", "true"]}
OLD = "0" * 64

service_st = st.fixed_dictionaries({
    "replicas": st.integers(0, 4),
    "restart": st.sampled_from([None, "always", "on-failure", "no"]),
    "health": st.booleans(),
    "update": st.sampled_from([None, "stop-first", "start-first"]),
    "parallelism": st.integers(0, 2),
})
container_st = st.fixed_dictionaries({
    "number": st.integers(0, 6),
    "state": st.sampled_from(["created", "running", "exited", "paused", "dead"]),
    "health": st.sampled_from(["none", "starting", "healthy", "unhealthy"]),
    "stale": st.booleans(),
    "exit": st.sampled_from([0, 1, 137]),
})


def build(specs):
    services = {}
    for i, spec in enumerate(specs):
        data = {"image": f"img{i}", "deploy": {"replicas": spec["replicas"]}}
        if spec["restart"]:
            data["restart"] = spec["restart"]
        if spec["health"]:
            data["healthcheck"] = HC
        if spec["update"]:
            data["deploy"]["update_config"] = {"order": spec["update"], "parallelism": spec["parallelism"]}
        services[f"s{i}"] = data
    return Project.from_dict({"name": "p", "services": services})


def observed_from(project, raw):
    out = []
    for i, (svc_name, c) in enumerate(raw):
        svc = project.services[svc_name]
        running = c["state"] in ("running", "paused")
        out.append(ObservedContainer(
            id=f"id{i}", name=f"p-{svc_name}-{c['number']}" + (f"-dup{i}" if c["number"] == 0 else ""),
            project="p", service=svc_name, number=c["number"], state=c["state"],
            exit_code=0 if running else c["exit"], health=c["health"] if running else "none",
            config_hash=OLD if c["stale"] else config_hash(svc), started_at=100.0, created_at=50.0 + i))
    # Engine names are unique: keep the first container of each name.
    seen, unique = set(), []
    for c in out:
        if c.name not in seen:
            seen.add(c.name)
            unique.append(c)
    return unique


def execute(project, containers, actions, now):
    """Apply a plan to the simulated engine: creates start 'starting' (healthy next pass)."""
    by_name = {c.name: c for c in containers}
    for a in actions:
        if isinstance(a, RemoveContainer):
            by_name.pop(a.name, None)
        elif isinstance(a, (CreateContainer, ReplaceUnhealthy)):
            svc = project.services[a.service]
            if isinstance(a, CreateContainer) and a.replace:
                by_name.pop(a.replace, None)
            else:
                by_name.pop(a.name, None) if isinstance(a, ReplaceUnhealthy) else None
            assert a.name not in by_name, f"create over an existing container {a.name}"
            health = "starting" if svc.healthcheck else "none"
            by_name[a.name] = ObservedContainer(
                id=f"new-{a.name}-{now}", name=a.name, project="p", service=a.service, number=a.number,
                state="running", health=health, config_hash=a.config_hash, started_at=now, created_at=now)
        elif isinstance(a, (StartContainer, RestartContainer)):
            c = by_name[a.name]
            by_name[a.name] = c.with_(state="running", health="starting" if c.health != "none" or
                                      project.services[c.service].healthcheck else "none", started_at=now)
    return list(by_name.values())


def mature(containers):
    """One pass later: starting replicas are healthy, crashed-and-unhealthy stay as they are."""
    return [c.with_(health="healthy") if c.running and c.health == "starting" else c for c in containers]


@settings(max_examples=100, deadline=None)
@given(st.lists(service_st, min_size=1, max_size=3), st.data())
def test_passes_converge_to_the_declared_replicas(specs, data):
    project = build(specs)
    names = sorted(project.services)
    raw = data.draw(st.lists(st.tuples(st.sampled_from(names), container_st), max_size=8))
    containers = observed_from(project, raw)
    state, now = PlanState(networks=frozenset({"p_default"})), 1000.0
    for _ in range(40):
        actions = plan(Desired(project), containers, now, state)
        engine = [a for a in actions if hasattr(a, "name") and not isinstance(a, MarkFailed)]
        touched = [a.name for a in engine if not isinstance(a, RemoveContainer)]
        assert len(touched) == len(set(touched)), actions
        waiting = [a for a in actions if isinstance(a, WaitFor) and a.condition != "update_paused"]
        if not engine and not waiting:
            break
        containers = mature(execute(project, containers, actions, now))
        state = advance(state, [type("R", (), {"action": a, "ok": True})() for a in actions], now)
        now += 100.0  # long enough for any backoff or update delay
    else:
        raise AssertionError(f"no convergence: {actions}")
    if any(isinstance(a, WaitFor) for a in actions):
        return  # a rollout paused on a failed new replica stays paused, by design
    for name in names:
        mine = [c for c in containers if c.service == name]
        assert len(mine) == project.services[name].replicas, (name, mine)
        assert all(c.config_hash == config_hash(project.services[name]) for c in mine)
        assert len({c.number for c in mine}) == len(mine)


@settings(max_examples=100, deadline=None)
@given(st.lists(service_st, min_size=1, max_size=2), st.data())
def test_busy_containers_are_never_touched(specs, data):
    project = build(specs)
    raw = data.draw(st.lists(st.tuples(st.sampled_from(sorted(project.services)), container_st), max_size=8))
    containers = observed_from(project, raw)
    busy = frozenset(c.name for c in containers if data.draw(st.booleans()))
    actions = plan(Desired(project), containers, 1000.0, PlanState(busy=busy))
    for a in actions:
        if isinstance(a, (RemoveContainer, StartContainer, RestartContainer, ReplaceUnhealthy)):
            assert a.name not in busy, a
        if isinstance(a, CreateContainer):
            assert a.replace not in busy and a.name not in busy, a
