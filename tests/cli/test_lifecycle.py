"""start/stop/restart/kill/pause/unpause/rm/down/scale: requests, progress, errors, confirmation."""

from __future__ import annotations

import pytest

from fakedaemon import container


@pytest.mark.parametrize("verb", ["start", "stop", "restart", "pause", "unpause", "kill"])
def test_verbs_post_to_the_project_with_services(cli, fake, verb):
    r = cli(verb, "web")
    assert r.returncode == 0, r.stderr
    assert fake.calls("POST", f"/projects/demo/{verb}")[-1].body["services"] == ["web"]


def test_stop_timeout_and_kill_signal(cli, fake):
    cli("stop", "-t", "3")
    assert fake.calls("POST", "/projects/demo/stop")[-1].body == {"services": [], "timeout": 3}
    cli("kill", "-s", "SIGTERM", "db")
    body = fake.calls("POST", "/projects/demo/kill")[-1].body
    assert body["signal"] == "SIGTERM" and body["services"] == ["db"]
    cli("kill")
    assert fake.calls("POST", "/projects/demo/kill")[-1].body["signal"] == "SIGKILL"


def test_failed_action_shows_message_and_nonzero_exit(cli, fake):
    fake.progress = [{"type": "progress", "id": "demo-web-1", "service": "web", "status": "Error",
                      "message": "container is paused"}]
    fake.result = {"type": "result", "ok": False, "message": "service web: container is paused",
                   "exit_code": 1}
    r = cli("--progress", "plain", "stop")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [" Container demo-web-1  Error container is paused",
                                     "service web: container is paused"]


def test_rm_force_removes_without_asking(cli, fake):
    assert cli("rm", "-f", "-s", "-v", "web").returncode == 0
    assert fake.calls("POST", "/projects/demo/rm")[-1].body == {
        "services": ["web"], "force": True, "stop": True, "volumes": True}


def test_rm_asks_and_no_means_nothing_removed(shoal, fake):
    fake.containers["demo"].append(container("demo", "job", 1, state="exited"))
    r = shoal("rm", stdin="n\n")
    assert "Going to remove demo-job-1" in r.stderr and r.returncode == 0
    assert not fake.calls("POST", "/projects/demo/rm")
    r = shoal("rm", stdin="y\n")
    assert fake.calls("POST", "/projects/demo/rm")


def test_rm_with_nothing_stopped_says_so(shoal, fake):
    r = shoal("rm")
    assert r.stderr.strip() == "No stopped containers" and not fake.calls("POST", "/projects/demo/rm")
