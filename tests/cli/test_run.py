"""`shoal run`: the one-off request, -d output, attaching, and the logs fallback."""

from __future__ import annotations


def test_run_detached_prints_the_container_name_and_sends_flags(shoal, fake):
    r = shoal("run", "-d", "--rm", "-e", "X=1", "--entrypoint", "/bin/sh", "-u", "app", "-w", "/srv",
              "-v", "/tmp:/host", "-p", "8089:80", "--name", "job", "--no-deps", "web", "-c", "echo hi")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "demo-web-run-abc\n"
    body = fake.calls("POST", "/projects/demo/run")[-1].body
    assert body["service"] == "web" and body["command"] == ["-c", "echo hi"]
    assert body["entrypoint"] == ["/bin/sh"] and body["env"] == ["X=1"] and body["rm"] is True
    assert body["user"] == "app" and body["workdir"] == "/srv" and body["volumes"] == ["/tmp:/host"]
    assert body["publish"] == ["8089:80"] and body["name"] == "job" and body["no_deps"] is True
    assert body["detach"] is True and body["tty"] is False
    assert set(body["project"]["services"]) == {"db", "web"}  # the daemon needs the model too


def test_run_without_command_keeps_the_services_command(shoal, fake):
    shoal("run", "-d", "db")
    body = fake.calls("POST", "/projects/demo/run")[-1].body
    assert body["command"] is None and body["entrypoint"] is None


def test_run_attached_streams_stdin_and_returns_the_exit_code(shoal, fake):
    fake.exec_exit = 9
    r = shoal("run", "-T", "db", "cat", stdin="ping\n")
    assert r.returncode == 9 and r.stdout == "ready\nPING\n"
    assert fake.calls("POST", "/containers/run1/attach")


def test_run_falls_back_to_logs_when_there_is_no_attach(shoal, fake):
    fake.failures[r"/containers/run1/attach"] = (404, "no attach")
    fake.logs = [{"line": "out line", "stream": "stdout"}, {"line": "err line", "stream": "stderr"}]
    fake.inspect["run1"] = {"id": "run1", "state": "exited", "exit_code": 4}
    r = shoal("run", "db", "sh", "-c", "exit 4")
    assert r.returncode == 4
    assert r.stdout == "out line\n" and r.stderr == "err line\n"


def test_run_of_unknown_service_is_an_error(shoal, fake):
    r = shoal("run", "-d", "nosuch")
    assert r.returncode == 1 and "no such service: nosuch" in r.stderr
    assert not fake.calls("POST", "/projects/demo/run")


def test_run_rm_takes_the_exit_code_from_the_die_event(shoal, fake):
    fake.failures[r"/containers/run1/attach"] = (404, "no attach")
    fake.failures[r"/containers/run1"] = (404, "no such container: run1")
    fake.logs = [{"line": "bye", "stream": "stdout"}]
    fake.events = [{"time": "9999-01-01T00:00:00.000000Z", "type": "container", "action": "die",
                    "id": "run1", "project": "demo", "service": "db", "attributes": {"exitCode": 6}}]
    r = shoal("run", "--rm", "db", "sh", "-c", "echo bye; exit 6")
    assert r.returncode == 6 and r.stdout == "bye\n"
