"""plan(desired, observed) -> actions, one table row per rule.

Each row is a compose project (services as normalised dicts), the containers
observed, flags, and the expected actions written compactly:
``create web-2``, ``recreate web-1`` (create in place of the old one),
``remove web-3``, ``start web-1``, ``restart web-1 @0.1`` (after 0.1 s),
``replace web-1`` (unhealthy), ``wait web<-db service_healthy``,
``fail web: <message>``, ``warn <message>``, ``failed web-1``.
"""

from __future__ import annotations

import pathlib
from dataclasses import replace as dc_replace

import pytest

from orchestrator.compose.model import Project
from orchestrator.reconciler.actions import (CreateContainer, CreateNetwork, CreateVolume,
                                             DependencyFailed, MarkFailed, RemoveContainer,
                                             RemoveNetwork, RemoveVolume, ReplaceUnhealthy,
                                             RestartContainer, StartContainer, StopContainer,
                                             WaitFor, Warn)
from orchestrator.reconciler.hash import config_hash
from orchestrator.reconciler.observed import ObservedContainer
from orchestrator.reconciler.plan import Desired, PlanState, plan
from orchestrator.reconciler.plan_down import plan_down, plan_stop
from orchestrator.reconciler.restart import RestartHistory

NOW = 1000.0
HC = {"test": ["CMD", "true"]}
OLD = "0" * 64


def project(services, **top):
    return Project.from_dict({"name": "p", "services": services, **top})


def short(name):
    return name[2:] if name.startswith("p-") else name


def render(action):
    match action:
        case CreateNetwork(name=n):
            return f"network {n}"
        case CreateVolume(name=n):
            return f"volume {n}"
        case CreateContainer(name=n, replace=r, rollout=roll):
            verb = "recreate" if r else "create"
            return f"{verb} {short(n)}" + (f" (was {short(r)})" if r and r != n else "") + (" [roll]" if roll else "")
        case StartContainer(name=n):
            return f"start {short(n)}"
        case RemoveContainer(name=n):
            return f"remove {short(n)}"
        case StopContainer(name=n):
            return f"stop {short(n)}"
        case RestartContainer(name=n, backoff=b, history=h):
            return f"restart {short(n)} @{b:g}" if h else f"restart-dependent {short(n)}"
        case ReplaceUnhealthy(name=n, backoff=b):
            return f"replace {short(n)} @{b:g}"
        case WaitFor(service=s, dependency=d, condition=c):
            return f"wait {s}<-{d} {c}"
        case DependencyFailed(service=s, message=m):
            return f"fail {s}: {m}"
        case Warn(message=m):
            return f"warn {m}"
        case MarkFailed(name=n):
            return f"failed {short(n)}"
        case RemoveNetwork(name=n):
            return f"rm-network {n}"
        case RemoveVolume(name=n):
            return f"rm-volume {n}"
    raise AssertionError(action)


def c(service, number, state="running", health="none", *, hash=None, exit=0, started=500.0,
      finished=0.0, created=400.0, proj=None, services=None, oneoff=False, name=None, restarts=0):
    """An observed container; ``hash=None`` = the current hash of the service in ``services``."""
    if hash is None:
        svc = project(services).services[service]
        hash = config_hash(svc)
    return ObservedContainer(
        id=f"id-{service}-{number}", name=name or f"p-{service}-{number}", project=proj or "p",
        service=service, number=number, state=state, exit_code=exit, health=health,
        config_hash=hash, started_at=started, finished_at=finished, created_at=created,
        oneoff=oneoff, restart_count=restarts)


def run(svcs, observed=(), state=None, top=None, **flags):
    proj = project(svcs, **(top or {}))
    state = state or PlanState()
    if state.networks is None:
        state = dc_replace(state, networks=frozenset({"p_default"}))
    actions = plan(Desired(proj, **flags), list(observed), NOW, state)
    return [render(a) for a in actions]


WEB = {"image": "nginx"}
WEB3 = {"image": "nginx", "deploy": {"replicas": 3}}
S1 = {"web": WEB}
S3 = {"web": WEB3}


def w(n, state="running", health="none", services=S3, **kw):
    return c("web", n, state, health, services=services, **kw)


# -- slots, scale up and down ---------------------------------------------------------------------
SCALE_ROWS = [
    ("fresh project: one replica", S1, [], {}, ["create web-1"]),
    ("fresh: three replicas", S3, [], {}, ["create web-1", "create web-2", "create web-3"]),
    ("converged: nothing to do", S3, [w(1), w(2), w(3)], {}, []),
    ("scale override up reuses no numbers in use", S3, [w(1), w(2), w(3)], {"scale": {"web": 5}},
     ["create web-4", "create web-5"]),
    ("scale up fills gaps first", S3, [w(1), w(4)], {}, ["create web-2"]),
    ("scale down removes the highest numbers", S3, [w(1), w(2), w(3)], {"scale": {"web": 1}},
     ["remove web-3", "remove web-2"]),
    ("scale down prefers not-running", S3, [w(1), w(2, "exited", exit=1), w(3)], {"scale": {"web": 2}},
     ["remove web-2"]),
    ("scale down prefers unhealthy over healthy",
     {"web": {**WEB3, "healthcheck": HC}},
     [c("web", 1, health="healthy", services={"web": {**WEB3, "healthcheck": HC}}),
      c("web", 2, health="unhealthy", services={"web": {**WEB3, "healthcheck": HC}}),
      c("web", 3, health="healthy", services={"web": {**WEB3, "healthcheck": HC}})],
     {"scale": {"web": 2}}, ["remove web-2"]),
    ("scale down prefers out-of-date, then highest", S3, [w(1, hash=OLD), w(2), w(3)],
     {"scale": {"web": 2}, "no_recreate": False}, ["remove web-1"]),
    ("scale to zero removes all", S3, [w(1), w(2)], {"scale": {"web": 0}}, ["remove web-2", "remove web-1"]),
    ("deploy.mode global is one replica on one host",
     {"web": {"image": "nginx", "deploy": {"mode": "global", "replicas": 4}}}, [], {}, ["create web-1"]),
    ("scale key in compose", {"web": {"image": "nginx", "scale": 2}}, [], {}, ["create web-1", "create web-2"]),
    ("duplicate slot number: keep the running one",
     S1, [c("web", 1, "exited", services=S1, name="p-web-1-old"), c("web", 1, services=S1)], {},
     ["remove web-1-old"]),
    ("container_name is one replica",
     {"web": {"image": "nginx", "container_name": "front", "deploy": {"replicas": 2}}}, [], {},
     ["create front", 'warn service "web" uses container_name "front": it runs one replica, not 2']),
    ("other projects' containers are ignored", S1, [c("web", 1, proj="other", services=S1)], {},
     ["create web-1"]),
    ("one-off run containers are not replicas", S1, [c("web", 1, services=S1, oneoff=True,
                                                       name="p-web-run-abc")], {}, ["create web-1"]),
]


@pytest.mark.parametrize("services,observed,flags,expected",
                         [r[1:] for r in SCALE_ROWS], ids=[r[0] for r in SCALE_ROWS])
def test_scale(services, observed, flags, expected):
    assert run(services, observed, **flags) == expected


# -- recreate on change -----------------------------------------------------------------------------
RECREATE_ROWS = [
    ("hash change recreates in place", S1, [c("web", 1, services=S1, hash=OLD)], {},
     ["recreate web-1"]),
    ("no change, no recreate", S1, [c("web", 1, services=S1)], {}, []),
    ("--no-recreate keeps out-of-date", S1, [c("web", 1, services=S1, hash=OLD)], {"no_recreate": True}, []),
    ("--force-recreate recreates up-to-date", S1, [c("web", 1, services=S1)], {"force_recreate": True},
     ["recreate web-1"]),
    ("--force-recreate once: containers created after the request stay", S1,
     [c("web", 1, services=S1, created=NOW + 1)], {"force_recreate": True, "requested_at": NOW},
     []),
    ("without update_config every replica at once (Compose)", S3,
     [w(1, hash=OLD), w(2, hash=OLD), w(3, hash=OLD)], {},
     ["recreate web-3", "recreate web-2", "recreate web-1"]),
    ("only the changed service is recreated", {"web": WEB, "db": {"image": "pg"}},
     [c("web", 1, services=S1, hash=OLD), c("db", 1, services={"db": {"image": "pg"}})], {},
     ["recreate web-1"]),
    ("scale change alone never recreates", {"web": {**WEB3, "deploy": {"replicas": 4}}},
     [w(1), w(2), w(3)], {}, ["create web-4"]),
]


@pytest.mark.parametrize("services,observed,flags,expected",
                         [r[1:] for r in RECREATE_ROWS], ids=[r[0] for r in RECREATE_ROWS])
def test_recreate(services, observed, flags, expected):
    assert run(services, observed, **flags) == expected


# -- rolling update (deploy.update_config) -----------------------------------------------------------
def rolling(order="stop-first", parallelism=1, delay=None, **more):
    cfg = {"parallelism": parallelism, "order": order, **more}
    if delay:
        cfg["delay"] = delay
    return {"web": {"image": "nginx", "healthcheck": HC,
                    "deploy": {"replicas": 3, "update_config": cfg}}}


R = rolling()
RS = rolling("start-first")
R2 = rolling(parallelism=2)
RD = rolling(delay="10s")
RM = rolling(monitor="5s")
RC = rolling(failure_action="continue")


def r(n, health="healthy", services=R, **kw):
    return c("web", n, "running", health, services=services, **kw)


ROLLING_ROWS = [
    ("stop-first: one batch, the unhealthy/out-of-date order then highest",
     R, [r(1, hash=OLD), r(2, hash=OLD), r(3, hash=OLD)], {}, PlanState(),
     ["recreate web-3 [roll]"]),
    ("stop-first: next batch waits for the new replica to be healthy",
     R, [r(1, hash=OLD), r(2, hash=OLD), r(3, "starting")], {}, PlanState(),
     ["wait web<-web rollout"]),
    ("stop-first: new replica healthy -> next batch",
     R, [r(1, hash=OLD), r(2, hash=OLD), r(3)], {}, PlanState(), ["recreate web-2 [roll]"]),
    ("parallelism 2", R2, [r(1, hash=OLD, services=R2), r(2, hash=OLD, services=R2),
                           r(3, hash=OLD, services=R2)], {}, PlanState(),
     ["recreate web-3 [roll]", "recreate web-2 [roll]"]),
    ("update delay holds the next batch",
     RD, [r(1, hash=OLD, services=RD), r(2, services=RD), r(3, services=RD)], {},
     PlanState(last_rollout={"web": NOW - 5}), ["wait web<-web update_delay"]),
    ("update delay elapsed",
     RD, [r(1, hash=OLD, services=RD), r(2, services=RD), r(3, services=RD)], {},
     PlanState(last_rollout={"web": NOW - 10}), ["recreate web-1 [roll]"]),
    ("start-first: the new replica goes to a free slot first",
     RS, [r(1, hash=OLD, services=RS), r(2, hash=OLD, services=RS), r(3, hash=OLD, services=RS)], {},
     PlanState(), ["create web-4 [roll]"]),
    ("start-first: old replicas stay while the new one starts",
     RS, [r(1, hash=OLD, services=RS), r(2, hash=OLD, services=RS), r(3, hash=OLD, services=RS),
          r(4, "starting", services=RS)], {}, PlanState(), ["wait web<-web rollout"]),
    ("start-first: new one healthy -> an old one goes, the next new one starts",
     RS, [r(1, hash=OLD, services=RS), r(2, hash=OLD, services=RS), r(3, hash=OLD, services=RS),
          r(4, services=RS)], {}, PlanState(), ["remove web-3", "create web-3 [roll]"]),
    ("a failed new replica pauses the rollout",
     R, [r(1, hash=OLD), r(2, hash=OLD), c("web", 3, "exited", exit=1, services=R, created=NOW - 1)], {},
     PlanState(last_rollout={"web": NOW - 1}),
     ["wait web<-web update_paused", 'warn service "web": update paused: container p-web-3 exited (1)']),
    ("a crashed replica older than the last batch does not pause it",
     R, [r(1, hash=OLD), r(2, hash=OLD), c("web", 3, "exited", exit=1, services=R, created=NOW - 9)], {},
     PlanState(last_rollout={"web": NOW - 1}), ["recreate web-2 [roll]"]),
    ("an unhealthy new replica pauses too",
     R, [r(1, hash=OLD), r(2, hash=OLD), r(3, "unhealthy", created=NOW - 1)], {},
     PlanState(last_rollout={"web": NOW - 1}),
     ["wait web<-web update_paused", 'warn service "web": update paused: container p-web-3 is unhealthy']),
    ("failure_action continue goes on",
     RC, [r(1, hash=OLD, services=RC), r(2, hash=OLD, services=RC),
          c("web", 3, "exited", exit=1, services=RC, created=NOW - 1)],
     {}, PlanState(last_rollout={"web": NOW - 1}), ["recreate web-2 [roll]"]),
    ("monitor: a new replica is watched before the next batch",
     RM, [r(1, hash=OLD, services=RM), r(2, hash=OLD, services=RM), r(3, services=RM, started=NOW - 2)], {},
     PlanState(), ["wait web<-web rollout"]),
    ("monitor elapsed",
     RM, [r(1, hash=OLD, services=RM), r(2, hash=OLD, services=RM), r(3, services=RM, started=NOW - 5)], {},
     PlanState(), ["recreate web-2 [roll]"]),
    ("busy slots are left alone",
     R, [r(1, hash=OLD), r(2, hash=OLD), r(3, hash=OLD)], {}, PlanState(busy=frozenset({"p-web-3"})),
     ["recreate web-2 [roll]"]),
]


@pytest.mark.parametrize("services,observed,flags,state,expected",
                         [r_[1:] for r_ in ROLLING_ROWS], ids=[r_[0] for r_ in ROLLING_ROWS])
def test_rolling_update(services, observed, flags, state, expected):
    assert run(services, observed, state=state, **flags) == expected


def test_wait_until_times_are_given_for_requeue():
    (wait,) = plan(Desired(project(RM)), [r(1, hash=OLD, services=RM), r(2, services=RM, started=NOW - 2),
                                          r(3, services=RM)], NOW, PlanState(networks=frozenset({"p_default"})))
    assert isinstance(wait, WaitFor) and wait.until == NOW + 3
    (wait,) = plan(Desired(project(RD)), [r(1, hash=OLD, services=RD), r(2, services=RD), r(3, services=RD)],
                   NOW, PlanState(networks=frozenset({"p_default"}), last_rollout={"web": NOW - 4}))
    assert wait.until == NOW + 6


def test_rolling_update_keeps_n_minus_1_ready_at_every_step():
    """Simulate passes: execute each plan, let new replicas become healthy next pass."""
    for services in (R, RS, RD):
        containers = {n: r(n, hash=OLD, services=services) for n in (1, 2, 3)}
        state, now = PlanState(), NOW
        for _ in range(30):
            proj = project(services)
            actions = plan(Desired(proj), list(containers.values()), now, state)
            ready = sum(1 for x in containers.values() if x.ready)
            assert ready >= 2, (services, containers)
            for a in actions:
                if isinstance(a, RemoveContainer):
                    del containers[a.number]
                elif isinstance(a, CreateContainer):
                    containers[a.number] = r(a.number, "starting", services=services, created=now)
                    state = dc_replace(state, last_rollout={"web": now})
            if not actions:
                break
            now += 6
            # Replicas that were starting at the start of this pass are healthy by the next.
            containers = {n: (x.with_(health="healthy") if x.health == "starting" and x.created_at < now else x)
                          for n, x in containers.items()}
        assert len(containers) == 3  # start-first moves replicas to other free slots
        if services is not RS:
            assert sorted(containers) == [1, 2, 3]
        assert all(x.config_hash != OLD and x.ready for x in containers.values())


# -- depends_on -----------------------------------------------------------------------------------------
def dep(condition, required=True, restart=False, extra=None):
    return {"db": {"image": "pg", **(extra or {})},
            "web": {"image": "nginx", "depends_on": {"db": {"condition": condition, "required": required,
                                                            "restart": restart}}}}


STARTED, HEALTHY, DONE = "service_started", "service_healthy", "service_completed_successfully"
DH = dep(HEALTHY, extra={"healthcheck": HC})


def d(state="running", health="none", services=None, **kw):
    return c("db", 1, state, health, services=services or dep(STARTED), **kw)


DEPS_ROWS = [
    ("dependency first, dependent waits", dep(STARTED), [], {},
     ["create db-1", "wait web<-db service_started"]),
    ("started dependency releases", dep(STARTED), [d()], {}, ["create web-1"]),
    ("created-not-started is not started", dep(STARTED), [d("created")], {},
     ["start db-1", "wait web<-db service_started"]),
    ("healthy: waits while starting", DH, [d(health="starting", services=DH)], {},
     ["wait web<-db service_healthy"]),
    ("healthy: releases when healthy", DH, [d(health="healthy", services=DH)], {}, ["create web-1"]),
    ("healthy: unhealthy dependency fails as Compose says", DH, [d(health="unhealthy", services=DH)], {},
     ["fail web: dependency failed to start: container p-db-1 is unhealthy"]),
    ("healthy: exited dependency fails", DH, [d("exited", exit=3, services=DH)], {},
     ["fail web: dependency failed to start: container p-db-1 exited (3)"]),
    ("healthy: no healthcheck fails", dep(HEALTHY), [d()], {},
     ["fail web: dependency failed to start: container p-db-1 has no healthcheck configured"]),
    ("healthy: unhealthy dependency with restart policy is waited for (shoal replaces it)",
     dep(HEALTHY, extra={"healthcheck": HC, "restart": "always"}),
     [d(health="unhealthy", services=dep(HEALTHY, extra={"healthcheck": HC, "restart": "always"}))], {},
     ["replace db-1 @0.1", "wait web<-db service_healthy"]),
    ("completed: waits while running", dep(DONE), [d()], {}, ["wait web<-db service_completed_successfully"]),
    ("completed: exit 0 releases", dep(DONE), [d("exited", exit=0)], {}, ["create web-1"]),
    ("completed: non-zero exit fails", dep(DONE), [d("exited", exit=2)], {},
     ['fail web: service "db" didn\'t complete successfully: exit 2']),
    ("required: false failure only warns", dep(DONE, required=False), [d("exited", exit=2)], {},
     ["create web-1",
      "warn optional dependency 'db' of 'web' failed: service \"db\" didn't complete successfully: exit 2"]),
    ("--no-deps ignores dependencies outside the selection", dep(HEALTHY), [],
     {"services": ("web",), "no_deps": True}, ["create web-1"]),
    ("selection pulls dependencies in", dep(STARTED), [], {"services": ("web",)},
     ["create db-1", "wait web<-db service_started"]),
    ("dependency scaled to zero releases", {**dep(STARTED), "db": {"image": "pg", "scale": 0}}, [], {},
     ["create web-1"]),
]


@pytest.mark.parametrize("services,observed,flags,expected",
                         [r_[1:] for r_ in DEPS_ROWS], ids=[r_[0] for r_ in DEPS_ROWS])
def test_depends_on(services, observed, flags, expected):
    assert run(services, observed, **flags) == expected


def test_restart_true_dependents_restart_when_dependency_recreated():
    services = dep(STARTED, restart=True)
    observed = [d(services=services, hash=OLD), c("web", 1, services=services)]
    assert run(services, observed) == ["recreate db-1", "restart-dependent web-1"]
    plain = dep(STARTED)
    assert run(plain, [d(services=plain, hash=OLD), c("web", 1, services=plain)]) == ["recreate db-1"]


# -- restart policy and health --------------------------------------------------------------------------
def svc(restart=None, **extra):
    data = {"image": "x", **extra}
    if restart:
        data["restart"] = restart
    return {"web": data}


LIFECYCLE_ROWS = [
    ("restart no: exited stays", svc(), [c("web", 1, "exited", exit=1, services=svc())], {}, PlanState(), []),
    ("always: exited restarts after 100 ms", svc("always"),
     [c("web", 1, "exited", exit=0, services=svc("always"))], {}, PlanState(), ["restart web-1 @0.1"]),
    ("backoff doubles from the stored history", svc("always"),
     [c("web", 1, "exited", exit=1, services=svc("always"), started=NOW - 1, finished=NOW)], {},
     PlanState(restarts={"p-web-1": RestartHistory(backoff=0.4, restart_count=3)}), ["restart web-1 @0.8"]),
    ("on-failure: exit 0 stays", svc("on-failure"), [c("web", 1, "exited", exit=0, services=svc("on-failure"))],
     {}, PlanState(), []),
    ("on-failure:2 gives up -> failed", svc("on-failure:2"),
     [c("web", 1, "exited", exit=1, services=svc("on-failure:2"))], {},
     PlanState(restarts={"p-web-1": RestartHistory(restart_count=2)}), ["failed web-1"]),
    ("failed slot is left alone", svc("always"), [c("web", 1, "exited", exit=1, services=svc("always"))], {},
     PlanState(failed=frozenset({"p-web-1"})), []),
    ("manual stop is not restarted", svc("always"), [c("web", 1, "exited", exit=0, services=svc("always"))], {},
     PlanState(manually_stopped=frozenset({"p-web-1"})), []),
    ("explicit up starts stopped containers", svc(), [c("web", 1, "exited", services=svc())],
     {"start_existing": True}, PlanState(), ["start web-1"]),
    ("restarting containers wait for their timer", svc("always"),
     [c("web", 1, "restarting", services=svc("always"))], {}, PlanState(), []),
    ("unhealthy with restart policy is replaced", svc("always", healthcheck=HC),
     [c("web", 1, health="unhealthy", services=svc("always", healthcheck=HC))], {}, PlanState(),
     ["replace web-1 @0.1"]),
    ("unhealthy without restart policy stays (Docker)", svc(healthcheck=HC),
     [c("web", 1, health="unhealthy", services=svc(healthcheck=HC))], {}, PlanState(), []),
    ("replace_unhealthy off", svc("always", healthcheck=HC),
     [c("web", 1, health="unhealthy", services=svc("always", healthcheck=HC))], {"replace_unhealthy": False},
     PlanState(), []),
    ("deploy.restart_policy max_attempts applies to unhealthy replacement",
     svc(healthcheck=HC, deploy={"restart_policy": {"condition": "any", "max_attempts": 1}}),
     [c("web", 1, health="unhealthy",
        services=svc(healthcheck=HC, deploy={"restart_policy": {"condition": "any", "max_attempts": 1}}))],
     {}, PlanState(restarts={"p-web-1": RestartHistory(restart_count=1)}), ["failed web-1"]),
    ("paused is left alone", svc("always"), [c("web", 1, "paused", services=svc("always"))], {}, PlanState(), []),
]


@pytest.mark.parametrize("services,observed,flags,state,expected",
                         [r_[1:] for r_ in LIFECYCLE_ROWS], ids=[r_[0] for r_ in LIFECYCLE_ROWS])
def test_lifecycle(services, observed, flags, state, expected):
    assert run(services, observed, state=state, **flags) == expected


def test_restart_action_carries_the_next_history():
    proj = project(svc("always"))
    obs = [c("web", 1, "exited", exit=1, services=svc("always"), started=NOW - 2, finished=NOW - 1)]
    (action,) = plan(Desired(proj), obs, NOW, PlanState(networks=frozenset({"p_default"})))
    assert isinstance(action, RestartContainer)
    assert action.at == pytest.approx(NOW + 0.1)
    assert action.history == RestartHistory(exit_code=1, started_at=NOW - 2, finished_at=NOW - 1,
                                            restart_count=1, backoff=0.1, restart_times=(NOW,))


# -- resources and orphans ---------------------------------------------------------------------------------
def test_networks_and_volumes_come_first_and_only_when_missing():
    services = {"web": {"image": "x", "networks": {"front": None, "back": None},
                        "volumes": [{"type": "volume", "source": "data", "target": "/d"},
                                    {"type": "volume", "source": "ext", "target": "/e"},
                                    {"type": "volume", "target": "/anon"}]}}
    top = {"networks": {"front": {"name": "p_front"}, "back": {"name": "shared", "external": True}},
           "volumes": {"data": {"name": "p_data"}, "ext": {"name": "ext", "external": True}}}
    assert run(services, top=top, state=PlanState()) == ["network p_front", "volume p_data", "create web-1"]
    assert run(services, top=top, state=PlanState(networks=frozenset({"p_front"}),
                                                  volumes=frozenset({"p_data"}))) == ["create web-1"]


def test_network_mode_uses_no_project_network():
    assert run({"web": {"image": "x", "network_mode": "host"}}, state=PlanState()) == ["create web-1"]


def test_orphans_are_warned_about_or_removed():
    orphan = c("old", 1, services={"old": {"image": "x"}})
    warned = run(S1, [c("web", 1, services=S1), orphan])
    assert warned == ["warn Found orphan containers ([p-old-1]) for this project. If you removed or renamed "
                      "this service in your compose file, you can run this command with the "
                      "--remove-orphans flag to clean it up."]
    assert run(S1, [c("web", 1, services=S1), orphan], remove_orphans=True) == ["remove old-1"]
    # A service switched off by a profile is not an orphan.
    assert run(S1, [c("web", 1, services=S1), orphan], remove_orphans=True,
               disabled_services=frozenset({"old"})) == []


def test_removals_come_before_creations():
    actions = plan(Desired(project(S3), scale={"web": 2}, remove_orphans=True),
                   [w(1), w(2, hash=OLD), w(3, "exited"), c("old", 1, services={"old": {"image": "x"}})],
                   NOW, PlanState())
    phases = [a.phase for a in actions]
    assert phases == sorted(phases)
    # The exited replica goes on scale down; the out-of-date one is then recreated.
    assert [render(a) for a in actions] == ["network p_default", "remove old-1", "remove web-3",
                                            "recreate web-2"]


# -- down / stop ---------------------------------------------------------------------------------------------
CHAIN = {"db": {"image": "pg"},
         "api": {"image": "a", "depends_on": {"db": {"condition": "service_started", "required": True}}},
         "web": {"image": "w", "depends_on": {"api": {"condition": "service_started", "required": True}}},
         "cache": {"image": "c"}}


def test_down_stops_in_reverse_dependency_order_then_networks():
    obs = [c(s, 1, services=CHAIN) for s in ("db", "api", "web", "cache")]
    actions = plan_down(project(CHAIN, networks={"default": {"name": "p_default"}}), obs)
    by_phase: dict[int, list[str]] = {}
    for a in actions:
        by_phase.setdefault(a.phase, []).append(render(a))
    assert list(by_phase.values()) == [["remove cache-1", "remove web-1"], ["remove api-1"], ["remove db-1"],
                                       ["rm-network p_default"]]


def test_down_volumes_orphans_and_externals():
    top = {"networks": {"default": {"name": "p_default"}, "ext": {"name": "ext", "external": True}},
           "volumes": {"data": {"name": "p_data"}, "keep": {"name": "keep", "external": True}}}
    orphan = c("old", 1, services={"old": {"image": "x"}})
    plain = [render(a) for a in plan_down(project(S1, **top), [orphan])]
    assert plain[0].startswith("warn Found orphan containers ([p-old-1])") and plain[1:] == ["rm-network p_default"]
    full = plan_down(project(S1, **top), [orphan, c("web", 1, services=S1)], remove_orphans=True, volumes=True)
    assert [render(a) for a in full] == ["remove old-1", "remove web-1", "rm-network p_default", "rm-volume p_data"]
    assert all(a.volumes for a in full if isinstance(a, RemoveContainer))


def test_stop_selected_service_stops_its_dependents_first():
    obs = [c(s, 1, services=CHAIN) for s in ("db", "api", "web", "cache")] + \
          [c("db", 2, "exited", services=CHAIN)]
    assert [render(a) for a in plan_stop(project(CHAIN), obs, services=("api",))] == ["stop web-1", "stop api-1"]
    assert len(plan_stop(project(CHAIN), obs)) == 4


# -- purity -----------------------------------------------------------------------------------------------------
def test_plan_is_pure_and_deterministic():
    root = pathlib.Path(__file__).resolve().parents[2] / "orchestrator" / "reconciler"
    for name in ("plan.py", "plan_scale.py", "plan_deps.py", "plan_down.py", "plan_state.py", "actions.py",
                 "restart.py", "health.py", "hash.py"):
        text = (root / name).read_text()
        imports = [line for line in text.splitlines() if line.startswith(("import ", "from "))]
        assert not [i for i in imports if "asyncio" in i or "engine" in i or " time" in i], name
    obs = [w(1, hash=OLD), w(3)]
    assert plan(Desired(project(S3)), obs, NOW) == plan(Desired(project(S3)), list(obs), NOW)
