"""The daemon client: query encoding, JSON calls, streams, errors, daemon autostart."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from fakedaemon import FakeDaemon
from orchestrator.cli import client as client_mod
from orchestrator.cli.client import ApiError, Client, query_string
from orchestrator.cli.main import ShoalError


def test_query_string_drops_unset_values_and_encodes_lists():
    q = query_string({"all": True, "follow": False, "services": ["a", "b"], "tail": None, "since": "",
                      "n": 5})
    assert q == "?all=1&services=a%2Cb&n=5"
    assert query_string({}) == ""
    assert query_string({"x": None}) == ""


def test_call_returns_decoded_json(fake):
    c = Client(fake.socket, autostart=False)
    assert c.call("GET", "/version")["api_version"] == "1"
    assert c.call("GET", "/_ping") == "OK"
    assert fake.requests[-1].path == "/_ping"


def test_error_status_becomes_one_line_error_with_daemon_message(fake):
    fake.failures[r"/projects/demo/containers"] = (500, "service web: cgroup creation failed")
    with pytest.raises(ShoalError) as info:
        Client(fake.socket, autostart=False).call("GET", "/projects/demo/containers")
    assert str(info.value) == "service web: cgroup creation failed"


def test_stream_yields_ndjson_objects_in_order(fake):
    fake.progress = [{"type": "progress", "id": f"c{i}", "status": "Started"} for i in range(50)]
    items = list(Client(fake.socket, autostart=False).stream("POST", "/projects/demo/start", {}))
    assert [i["id"] for i in items[:-1]] == [f"c{i}" for i in range(50)]
    assert items[-1]["type"] == "result"


def test_upgrade_refused_raises_api_error_with_status(fake):
    fake.failures[r"/containers/nope/exec"] = (404, "no such container: nope")
    with pytest.raises(ApiError) as info:
        Client(fake.socket, autostart=False).upgrade("/containers/nope/exec", {"cmd": ["sh"]})
    assert info.value.status == 404 and info.value.message == "no such container: nope"


def test_no_daemon_and_no_autostart_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOAL_NO_AUTOSTART", "1")
    monkeypatch.setenv("SHOAL_RUN", str(tmp_path))
    c = Client()
    assert c.path == str(tmp_path / "shoald.sock") and not c.autostart
    with pytest.raises(ShoalError, match=r"cannot connect to the shoal daemon at .*shoald.sock"):
        c.call("GET", "/version")


def test_autostart_spawns_the_daemon_detached_and_waits_for_ping(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOAL_NO_AUTOSTART", raising=False)
    monkeypatch.setenv("SHOAL_RUN", str(tmp_path / "run"))
    monkeypatch.setenv("SHOAL_ROOT", str(tmp_path / "root"))
    (tmp_path / "run").mkdir()
    spawned = []
    started: list[FakeDaemon] = []

    def fake_popen(argv, **kw):
        spawned.append((argv, kw))
        started.append(FakeDaemon(str(tmp_path / "run")).start())
    monkeypatch.setattr(client_mod.subprocess, "Popen", fake_popen)
    try:
        assert Client().call("GET", "/version")["version"] == "0.1.0"
    finally:
        for d in started:
            d.stop()
    (argv, kw), = spawned
    assert argv == [sys.executable, "-m", "orchestrator.daemon"]
    assert kw["start_new_session"] is True and kw["cwd"] == "/"
    assert kw["env"]["PYTHONPATH"].split(os.pathsep)[0] == str(__import__("pathlib").Path(
        client_mod.__file__).resolve().parents[2])
    assert os.path.exists(tmp_path / "root" / "shoald.log")


def test_autostart_that_never_answers_names_the_log(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOAL_NO_AUTOSTART", raising=False)
    monkeypatch.setenv("SHOAL_RUN", str(tmp_path))
    monkeypatch.setenv("SHOAL_ROOT", str(tmp_path / "root"))
    monkeypatch.setattr(client_mod.subprocess, "Popen", lambda argv, **kw: None)
    monkeypatch.setattr(client_mod, "AUTOSTART_WAIT", 0.3)
    with pytest.raises(ShoalError, match=r"did not answer .*shoald.log"):
        Client().call("GET", "/version")


def test_cli_prints_daemon_errors_on_one_line_and_exits_1(cli, fake):
    fake.failures[r"/projects/demo/containers"] = (500, "service web: something broke")
    r = cli("ps")
    assert r.returncode == 1
    assert r.stderr == "service web: something broke\n"


def test_cli_without_daemon_exits_1_with_one_line(shoal, fake):
    fake.stop()
    fake.__post_init__()  # fixture teardown stops it again harmlessly
    fake.start()
    fake.failures[r"/_ping"] = (503, "starting")
    r = shoal("ps")
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "cannot connect" in r.stderr


def test_errors_are_the_class_main_catches_when_main_runs_as_dunder_main(tmp_path):
    """`python -m orchestrator.cli.main` loads main twice; errors from commands must still be one line."""
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n")
    r = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "config", "nosuchservice"],
                       cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).resolve().parents[2])})
    assert r.returncode == 1
    assert r.stderr.strip() == "no such service: nosuchservice"


def test_permission_denied_on_the_socket_is_reported_not_autostarted(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOAL_NO_AUTOSTART", raising=False)
    monkeypatch.setattr(client_mod.subprocess, "Popen", lambda *a, **k: pytest.fail("must not start"))

    def refuse(self):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(client_mod._UnixConnection, "connect", refuse)
    with pytest.raises(ShoalError, match="permission denied on .*root-only"):
        Client(str(tmp_path / "shoald.sock")).call("GET", "/version")
