"""Restart decisions match Docker's restart manager, plus deploy.restart_policy as Swarm reads it."""

from __future__ import annotations

import pytest

from orchestrator.compose.model import Service
from orchestrator.reconciler.restart import (RestartDecision, RestartHistory, RestartPolicy, decide,
                                             policy_of, start_at_boot)

P = RestartPolicy.parse
H = RestartHistory


@pytest.mark.parametrize("policy,history,restart,failed", [
    ("no", H(exit_code=1), False, False),
    ("", H(exit_code=1), False, False),
    ("always", H(exit_code=0), True, False),
    ("always", H(exit_code=137), True, False),
    ("always", H(exit_code=1, manually_stopped=True), False, False),
    ("unless-stopped", H(exit_code=0), True, False),
    ("unless-stopped", H(exit_code=0, manually_stopped=True), False, False),
    ("on-failure", H(exit_code=0), False, False),
    ("on-failure", H(exit_code=2), True, False),
    ("on-failure", H(exit_code=2, restart_count=1000), True, False),
    ("on-failure:3", H(exit_code=2, restart_count=2), True, False),
    ("on-failure:3", H(exit_code=2, restart_count=3), False, True),
    ("on-failure:3", H(exit_code=0, restart_count=3), False, False),
    ("on-failure:3", H(exit_code=1, manually_stopped=True), False, False),
])
def test_policy_table(policy, history, restart, failed):
    d = decide(P(policy), history, now=100.0)
    assert (d.restart, d.failed) == (restart, failed), d.reason


def test_backoff_doubles_from_100ms_to_one_minute():
    policy, history, delays = P("always"), H(exit_code=1), []
    now = 0.0
    for _ in range(13):
        history = RestartHistory(exit_code=1, started_at=now, finished_at=now + 0.5,
                                 restart_count=history.restart_count, backoff=history.backoff,
                                 restart_times=history.restart_times)
        d = decide(policy, history, now + 0.5)
        delays.append(round(d.delay, 3))
        history = history.after(d)
        now = d.at
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 60.0, 60.0, 60.0]
    assert history.restart_count == 13


@pytest.mark.parametrize("ran,expected", [(9.99, 0.8), (10.0, 0.1), (3600, 0.1)])
def test_ten_seconds_of_running_resets_the_backoff(ran, expected):
    history = H(exit_code=1, started_at=50.0, finished_at=50.0 + ran, backoff=0.4, restart_count=3)
    assert decide(P("always"), history, 50.0 + ran).delay == pytest.approx(expected)


def test_decision_time_and_history_after():
    d = decide(P("on-failure"), H(exit_code=1), now=7.0)
    assert d == RestartDecision(True, 0.1, 7.1, False, "exit code 1, restart #1")
    after = H(exit_code=1).after(d)
    assert after.restart_count == 1 and after.backoff == 0.1 and after.restart_times == (7.0,)
    assert H().after(RestartDecision(False)) == H()


def test_deploy_delay_is_the_first_step_and_window_limits_counted_attempts():
    policy = RestartPolicy("always", max_retries=2, delay=5.0, window=60.0)
    assert decide(policy, H(exit_code=1), 0).delay == 5.0
    assert decide(policy, H(exit_code=1, backoff=5.0), 0).delay == 10.0
    recent = H(exit_code=1, restart_count=2, restart_times=(10.0, 20.0))
    assert decide(policy, recent, now=30.0).failed
    # Both restarts left the window: attempts start over even though 2 restarts happened.
    assert decide(policy, recent, now=90.0).restart


@pytest.mark.parametrize("text,expected", [
    ("no", RestartPolicy("no")),
    ("always", RestartPolicy("always")),
    ("unless-stopped", RestartPolicy("unless-stopped")),
    ("on-failure", RestartPolicy("on-failure", 0)),
    ("on-failure:5", RestartPolicy("on-failure", 5)),
])
def test_parse(text, expected):
    assert P(text) == expected


@pytest.mark.parametrize("text", ["sometimes", "always:3", "on-failure:x", "on-failure:-1"])
def test_parse_rejects(text):
    with pytest.raises(ValueError):
        P(text)


@pytest.mark.parametrize("data,expected", [
    ({}, RestartPolicy("no")),
    ({"restart": "on-failure:2"}, RestartPolicy("on-failure", 2)),
    ({"restart": "always", "deploy": {"restart_policy": {"condition": "none"}}}, RestartPolicy("no")),
    ({"deploy": {"restart_policy": {}}}, RestartPolicy("always")),
    ({"deploy": {"restart_policy": {"condition": "any", "max_attempts": 3, "delay": "5s",
                                    "window": "2m"}}}, RestartPolicy("always", 3, 5.0, 120.0)),
    ({"deploy": {"restart_policy": {"condition": "on-failure"}}}, RestartPolicy("on-failure")),
])
def test_policy_of_service(data, expected):
    assert policy_of(Service.from_dict({"name": "s", **data})) == expected


@pytest.mark.parametrize("policy,history,running_before,expected", [
    ("always", H(manually_stopped=True), False, True),
    ("unless-stopped", H(manually_stopped=True), False, False),
    ("unless-stopped", H(), False, True),
    ("on-failure", H(exit_code=0), False, False),
    ("on-failure", H(exit_code=0), True, True),
    ("on-failure:2", H(exit_code=1, restart_count=1), False, True),
    ("on-failure:2", H(exit_code=1, restart_count=2), False, False),
    ("no", H(exit_code=1), True, False),
])
def test_start_at_daemon_boot(policy, history, running_before, expected):
    assert start_at_boot(P(policy), history, running_before) is expected
