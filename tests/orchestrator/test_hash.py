"""The config hash changes exactly when a container would have to be recreated."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.state import ContainerInfo
from orchestrator.compose.model import Service
from orchestrator.reconciler.hash import config_hash
from orchestrator.reconciler.observed import from_engine

BASE = {"image": "busybox", "command": ["sleep", "1d"], "environment": {"A": "1", "B": "2"},
        "deploy": {"replicas": 2, "resources": {"limits": {"memory": "64m"}}}}


def h(**changes):
    return config_hash(Service.from_dict({"name": "web", **BASE, **changes}))


@pytest.mark.parametrize("changes", [
    {"scale": 5},
    {"deploy": {"replicas": 9, "resources": {"limits": {"memory": "64m"}}}},
    {"depends_on": {"db": {"condition": "service_healthy"}}},
    {"profiles": ["debug"]},
    {"build": {"context": "/src"}},
    {"pull_policy": "always"},
    {"environment": {"B": "2", "A": "1"}},  # dict order
])
def test_changes_that_do_not_recreate(changes):
    assert h(**changes) == h()


@pytest.mark.parametrize("changes", [
    {"image": "busybox:1.36"},
    {"command": ["sleep", "2d"]},
    {"environment": {"A": "1", "B": "3"}},
    {"deploy": {"replicas": 2, "resources": {"limits": {"memory": "128m"}}}},
    {"labels": {"x": "y"}},
    {"healthcheck": {"test": ["CMD", "true"]}},
    {"restart": "always"},
])
def test_changes_that_recreate(changes):
    assert h(**changes) != h()


def test_hash_is_hex_sha256_and_stable_across_processes():
    value = h()
    assert len(value) == 64 and int(value, 16) >= 0
    code = ("from orchestrator.compose.model import Service;"
            "from orchestrator.reconciler.hash import config_hash;"
            f"print(config_hash(Service.from_dict({{'name': 'web', **{BASE!r}}})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123"}, cwd=str(__import__("pathlib").Path(__file__)
                                                                  .resolve().parents[2]))
    assert out.stdout.strip() == value


def test_observed_from_engine_reads_compose_labels():
    labels = {"com.docker.compose.project": "p", "com.docker.compose.service": "web",
              "com.docker.compose.container-number": "3", "com.docker.compose.config-hash": "abc",
              "com.docker.compose.oneoff": "False"}
    info = ContainerInfo(id="c1", name="p-web-3", state="running",
                         started_at="2024-01-01T00:00:10.500000000Z", labels=labels)
    obs = from_engine(info, health="healthy", restart_count=2)
    assert (obs.project, obs.service, obs.number, obs.config_hash) == ("p", "web", 3, "abc")
    assert obs.state == "running" and obs.health == "healthy" and obs.ready
    assert obs.started_at == 1704067210.5 and obs.finished_at == 0.0 and obs.restart_count == 2
    assert not obs.oneoff


@pytest.mark.parametrize("state,exit_code,restarting,health,expect_state,expect_health", [
    ("exited", 137, False, "healthy", "exited", "none"),
    ("exited", 1, True, "none", "restarting", "none"),
    ("paused", 0, False, "unhealthy", "paused", "unhealthy"),
    ("weird", 0, False, "none", "dead", "none"),
    ("created", 0, False, "starting", "created", "none"),
])
def test_observed_states(state, exit_code, restarting, health, expect_state, expect_health):
    obs = from_engine(ContainerInfo(id="x", name="x", state=state, exit_code=exit_code),
                      health=health, restarting=restarting)
    assert (obs.state, obs.health, obs.exit_code) == (expect_state, expect_health, exit_code)
    assert obs.number == 0 and obs.service == ""
