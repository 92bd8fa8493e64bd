"""Health state transitions and probe timing follow Docker's health monitor."""

from __future__ import annotations

import pytest

from engine.spec import HealthcheckSpec
from orchestrator.compose.model import Healthcheck
from orchestrator.reconciler.health import HealthConfig, HealthState, ProbeResult

OK, FAIL = 0, 1


def run(config, outcomes, start_times=None):
    """Feed probe results (exit codes at the given start times) and list the statuses."""
    state = HealthState(config, started_at=0.0)
    statuses = []
    times = start_times or [10.0 * (i + 1) for i in range(len(outcomes))]
    for t, code in zip(times, outcomes):
        state = state.step(ProbeResult(t, t + 0.1, code, "out"), t + 0.1)
        statuses.append(state.status)
    return state, statuses


@pytest.mark.parametrize("retries,outcomes,expected", [
    (3, [OK], ["healthy"]),
    (3, [FAIL, FAIL], ["starting", "starting"]),
    (3, [FAIL, FAIL, FAIL], ["starting", "starting", "unhealthy"]),
    (3, [FAIL, FAIL, OK, FAIL, FAIL], ["starting", "starting", "healthy", "healthy", "healthy"]),
    (3, [OK, FAIL, FAIL, FAIL], ["healthy", "healthy", "healthy", "unhealthy"]),
    (3, [FAIL, FAIL, FAIL, OK], ["starting", "starting", "unhealthy", "healthy"]),
    (1, [FAIL], ["unhealthy"]),
    (2, [-1, -1], ["starting", "unhealthy"]),  # timeouts and exec errors are failures
    (3, [2, 2, 2], ["starting", "starting", "unhealthy"]),
])
def test_status_transitions(retries, outcomes, expected):
    state, statuses = run(HealthConfig(retries=retries), outcomes)
    assert statuses == expected


def test_failures_inside_start_period_do_not_count_until_first_success():
    cfg = HealthConfig(retries=2, start_period=30.0)
    state, statuses = run(cfg, [FAIL, FAIL, FAIL, FAIL, FAIL], [5, 10, 29.9, 30, 35])
    assert statuses == ["starting", "starting", "starting", "starting", "unhealthy"]
    assert state.failing_streak == 2
    # After one success failures count even inside the period.
    _, statuses = run(cfg, [OK, FAIL, FAIL], [5, 10, 15])
    assert statuses == ["healthy", "healthy", "unhealthy"]


def test_restart_resets_status_and_streak_keeps_log():
    state, _ = run(HealthConfig(retries=1), [FAIL])
    again = state.restarted(100.0)
    assert (again.status, again.failing_streak, again.started_at) == ("starting", 0, 100.0)
    assert len(again.log) == 1


def test_log_keeps_last_five_and_output_is_cut_at_4k():
    state = HealthState(HealthConfig(), 0.0)
    for i in range(7):
        state = state.step(ProbeResult(i, i, OK, f"run {i}"), i)
    assert [r.output for r in state.log] == [f"run {i}" for i in range(2, 7)]
    big = ProbeResult(0, 1, 1, "x" * 10000)
    assert len(big.output) == 4096 + 3 and big.output.endswith("...")
    assert ProbeResult(0, 1, 1, "é" * 3000).output.endswith("...")
    assert ProbeResult(0, 1, 0, "x" * 4096).output == "x" * 4096


def test_timeout_result_is_docker_worded():
    r = ProbeResult.timed_out(0, 2, 2.0)
    assert r.exit_code == -1 and r.output == "Health check exceeded timeout (2s)" and not r.ok


@pytest.mark.parametrize("cfg,status,started,now,expected", [
    (HealthConfig(interval=30), "starting", 0, 0, 30),  # first probe one interval after start
    (HealthConfig(interval=30, start_period=60, start_interval=5), "starting", 0, 0, 5),
    (HealthConfig(interval=30, start_period=60, start_interval=5), "starting", 0, 57, 60),
    (HealthConfig(interval=30, start_period=60, start_interval=5), "starting", 0, 60, 90),
    (HealthConfig(interval=30, start_period=60, start_interval=5), "healthy", 0, 10, 40),
    (HealthConfig(interval=30, start_period=60, start_interval=5), "unhealthy", 0, 10, 40),
    (HealthConfig(interval=2), "healthy", 100, 103, 105),
])
def test_next_probe_time(cfg, status, started, now, expected):
    state = HealthState(cfg, started_at=started, status=status)
    assert state.next_probe_at(now) == expected


def test_config_from_compose_and_engine_with_defaults():
    assert HealthConfig.of(Healthcheck(test=("CMD", "true"), interval=2.0)) == HealthConfig(
        test=("CMD", "true"), interval=2.0)
    spec = HealthcheckSpec(test=("CMD-SHELL", "x"), interval=1, timeout=2, retries=5,
                           start_period=3, start_interval=0.5)
    assert HealthConfig.of(spec) == HealthConfig(("CMD-SHELL", "x"), 1, 2, 5, 3, 0.5)


def test_docker_shape_and_change_detection():
    before = HealthState(HealthConfig(), 0.0)
    after = before.step(ProbeResult(1, 2, 0, "ok\n"), 2)
    assert after.changed_from(before) and not after.step(ProbeResult(3, 4, 0), 4).changed_from(after)
    assert after.to_docker() == {"Status": "healthy", "FailingStreak": 0,
                                 "Log": [{"Start": 1, "End": 2, "ExitCode": 0, "Output": "ok\n"}]}
