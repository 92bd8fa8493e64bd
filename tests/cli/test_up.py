"""`shoal up`: the request it sends, progress, flag checks, attached logs, exit codes, Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from conftest import cli_env, launcher_argv
from fakedaemon import container

LATER = "9999-01-01T00:00:00.000000Z"


def die(service, number, code, when=LATER):
    return {"time": when, "type": "container", "action": "die", "id": f"demo-{service}-{number}",
            "project": "demo", "service": service, "number": number, "attributes": {"exitCode": code}}


def log(service, number, line):
    return {"container": f"demo-{service}-{number}", "service": service, "number": number,
            "stream": "stdout", "time": LATER, "line": line}


def test_up_detached_sends_the_loaded_project_and_options(cli, fake, project):
    fake.progress = [{"type": "progress", "id": "demo-db-1", "service": "db", "status": s}
                     for s in ("Creating", "Started")]
    r = cli("--progress", "plain", "up", "-d", "--scale", "web=3", "--pull", "always", "-t", "5",
            "--remove-orphans")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [" Container demo-db-1  Creating", " Container demo-db-1  Started"]
    req = fake.calls("POST", "/projects/demo/up")[-1]
    body = req.body
    assert set(body["project"]["services"]) == {"db", "web"}
    assert body["working_dir"] == str(project.parent)
    assert body["config_files"] == [str(project)]
    opts = body["options"]
    assert opts["scale"] == {"web": 3} and opts["pull"] == "always" and opts["timeout"] == 5
    assert opts["detach"] is True and opts["remove_orphans"] is True and opts["force_recreate"] is False
    assert not fake.calls("GET", "/events")  # detached: no attach


def test_up_failure_prints_the_daemon_message_and_its_exit_code(cli, fake):
    fake.result = {"type": "result", "ok": False, "message": "service db: image busybox:nope not found",
                   "exit_code": 1}
    r = cli("--progress", "quiet", "up", "-d")
    assert r.returncode == 1
    assert r.stderr == "service db: image busybox:nope not found\n"


@pytest.mark.parametrize("args, message", [
    (["-d", "--abort-on-container-exit"], "--abort-on-container-exit and --detach are incompatible"),
    (["--scale", "nosuch=2"], "no such service: nosuch"),
    (["--scale", "web=x"], "invalid scale 'web=x'"),
    (["--exit-code-from", "cache"], "no such service: cache"),
    (["--build", "--no-build"], "--build and --no-build are incompatible"),
    (["nosuch"], "no such service: nosuch"),
])
def test_flag_errors_are_one_line(cli, fake, args, message):
    r = cli("up", *args)
    assert r.returncode == 1 and message in r.stderr and len(r.stderr.splitlines()) == 1
    assert not fake.calls("POST", "/projects/demo/up")


def test_wait_implies_detach(cli, fake):
    assert cli("up", "--wait", "--wait-timeout", "30").returncode == 0
    opts = fake.calls("POST", "/projects/demo/up")[-1].body["options"]
    assert opts["wait"] is True and opts["detach"] is True and opts["wait_timeout"] == 30


def test_attached_up_prints_prefixed_logs_and_exits_when_all_stopped(cli, fake):
    fake.containers["demo"] = [container("demo", "db", 1, state="exited"),
                               container("demo", "web", 1, state="exited")]
    fake.logs = [log("db", 1, "db ready"), log("web", 1, "serving")]
    fake.events = [die("db", 1, 9, when="2000-01-01T00:00:00.000000Z"), die("web", 1, 0)]
    r = cli("up", "--no-color")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "Attaching to db-1, web-1"
    assert "db-1   | db ready" in out and "web-1  | serving" in out
    assert out[-2:] == ["web-1 exited with code 0", "db-1 exited with code 0"]
    assert "code 9" not in r.stdout  # history before this `up` is not replayed
    q = fake.calls("GET", "/events")[-1].query
    assert q["project"] == "demo" and q["follow"] == "1" and q["since"]


def test_containers_started_later_are_followed_too(cli, fake):
    fake.containers["demo"] = [container("demo", "web", 1, state="exited")]
    fake.logs = [log("web", 1, "first"), log("web", 3, "new replica")]
    start = {"time": LATER, "type": "container", "action": "start", "id": "demo-web-3", "project": "demo",
             "service": "web", "number": 3, "attributes": {"name": "demo-web-3"}}
    fake.events = [start, die("web", 3, 0)]
    r = cli("up", "--no-color", "web")
    out = r.stdout.splitlines()
    assert "web-1  | first" in out and "web-3  | new replica" in out
    assert out.count("web-3  | new replica") == 1
    assert fake.calls("GET", "/containers/demo-web-3/logs")[-1].query["since"] == LATER


def test_exit_code_from_aborts_and_returns_that_services_code(cli, fake):
    fake.events = [die("web", 1, 3)]
    r = cli("up", "--exit-code-from", "web")
    assert r.returncode == 3
    assert "Aborting on container exit..." in r.stdout
    assert fake.calls("POST", "/projects/demo/stop")


def test_exit_code_from_other_service_reads_its_container(cli, fake):
    fake.containers["demo"] = [container("demo", "db", 1, state="exited", exit_code=4),
                               container("demo", "web", 1)]
    fake.events = [die("web", 1, 0)]
    assert cli("up", "--exit-code-from", "db").returncode == 4


def test_abort_on_container_failure_ignores_clean_exits(cli, fake):
    fake.events = [die("db", 1, 0), die("web", 2, 2)]
    r = cli("up", "--abort-on-container-failure", "--no-color")
    assert r.returncode == 2
    assert "db-1 exited with code 0" in r.stdout and "web-2 exited with code 2" in r.stdout


def test_exits_without_events_are_found_by_polling(cli, fake):
    fake.containers["demo"] = [container("demo", "db", 1, state="exited", exit_code=2),
                               container("demo", "web", 1, state="exited")]
    fake.events = []
    fake.hold_streams = True
    r = cli("up", "--abort-on-container-failure", "--no-color")
    assert r.returncode == 2
    assert "db-1 exited with code 2" in r.stdout.splitlines()


def test_attach_limits_the_logs_shown(cli, fake):
    fake.containers["demo"] = [container("demo", "web", 1, state="exited")]
    fake.logs = [log("db", 1, "hidden"), log("web", 1, "shown")]
    fake.events = [die("web", 1, 0)]
    r = cli("up", "--attach", "web", "--no-log-prefix")
    assert "shown" in r.stdout.splitlines() and "hidden" not in r.stdout


def _start_attached(fake, project, tmp_path):
    fake.hold_streams = True
    fake.logs = [log("web", 1, "serving")]
    proc = subprocess.Popen(launcher_argv("-f", str(project), "--progress", "plain", "up"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(fake.run_dir, str(tmp_path / "root"), SHOAL_NO_AUTOSTART="1"))
    assert proc.stdout.readline().strip() == "Attaching to db-1, web-1, web-2"
    assert proc.stdout.readline().strip() == "web-1  | serving"
    return proc


def test_ctrl_c_stops_gracefully_and_exits_130(fake, project, tmp_path):
    proc = _start_attached(fake, project, tmp_path)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "Gracefully stopping... (press Ctrl+C again to force)" in out
    assert fake.calls("POST", "/projects/demo/stop") and not fake.calls("POST", "/projects/demo/kill")


def test_second_ctrl_c_kills(fake, project, tmp_path):
    fake.slow["stop"] = 30
    proc = _start_attached(fake, project, tmp_path)
    proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 10
    while not fake.calls("POST", "/projects/demo/stop") and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert fake.calls("POST", "/projects/demo/kill")[-1].body["signal"] == "SIGKILL"


@pytest.mark.parametrize("service, code, restarts, expected", [
    ({}, 1, 0, False),
    ({"restart": "no"}, 1, 0, False),
    ({"restart": "always"}, 0, 5, True),
    ({"restart": "unless-stopped"}, 0, 0, True),
    ({"restart": "on-failure"}, 0, 0, False),
    ({"restart": "on-failure"}, 2, 9, True),
    ({"restart": "on-failure:2"}, 1, 1, True),
    ({"restart": "on-failure:2"}, 1, 2, False),
    ({"deploy": {"restart_policy": {"condition": "any"}}}, 0, 0, True),
    ({"deploy": {"restart_policy": {"condition": "on-failure", "max_attempts": 3}}}, 1, 3, False),
    ({"deploy": {"restart_policy": {"condition": "none"}}, "restart": "always"}, 1, 0, False),
])
def test_will_restart_follows_docker_policies(service, code, restarts, expected):
    from orchestrator.cli.up_cmd import will_restart
    assert will_restart(service, code, restarts) is expected


def test_exit_line_says_restarting_from_the_policy(cli, fake, project):
    project.write_text(project.read_text().replace("    command: [\"httpd\", \"-f\"]",
                                                   "    command: [\"httpd\", \"-f\"]\n    restart: always"))
    fake.containers["demo"] = [container("demo", "web", 1, state="exited")]
    fake.inspect["demo-web-1"] = {"id": "demo-web-1", "state": "exited", "exit_code": 1, "restart_count": 0}
    fake.events = [die("web", 1, 1), die("web", 1, 1, when="9999-01-01T00:00:01.000000Z")]
    fake.hold_streams = True
    r = cli("up", "--no-color", "--abort-on-container-exit")
    assert r.stdout.splitlines()[1] == "web-1 exited with code 1 (restarting)"


def test_a_failure_that_names_no_service_gets_the_containers_not_ready(cli, fake):
    fake.containers["demo"] = [container("demo", "db", 1, Health="unhealthy"),
                               container("demo", "job", 1, state="exited", exit_code=0),
                               container("demo", "web", 1, state="created")]
    fake.result = {"type": "result", "ok": False, "message": "timed out after 15s", "exit_code": 1}
    r = cli("--progress", "quiet", "up", "--wait")
    assert r.returncode == 1
    assert r.stderr == "timed out after 15s (demo-db-1 is unhealthy, demo-web-1 is created)\n"
    fake.result["message"] = "service web: image not found"
    assert cli("--progress", "quiet", "up", "-d").stderr == "service web: image not found\n"
