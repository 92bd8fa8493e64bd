"""ls, version, top, port, wait, stats, events: output formats as compose prints them."""

from __future__ import annotations

import json
import re

from orchestrator.cli.info_cmd import format_ls, human_size

PROJECTS = [{"name": "zeta", "status": "exited(2)", "config_files": ["/z/compose.yaml"], "working_dir": "/z"},
            {"name": "demo", "status": "running(3)", "config_files": ["/d/a.yaml", "/d/b.yaml"],
             "working_dir": "/d"}]


def test_ls_table_json_quiet(cli, fake):
    fake.projects = PROJECTS
    lines = cli("ls").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "CONFIG", "FILES"]
    assert lines[1].split() == ["demo", "running(3)", "/d/a.yaml,/d/b.yaml"]
    assert lines[2].split() == ["zeta", "exited(2)", "/z/compose.yaml"]
    assert json.loads(cli("ls", "--format", "json").stdout) == [
        {"Name": "demo", "Status": "running(3)", "ConfigFiles": "/d/a.yaml,/d/b.yaml"},
        {"Name": "zeta", "Status": "exited(2)", "ConfigFiles": "/z/compose.yaml"}]
    assert cli("ls", "-q").stdout == "demo\nzeta\n"
    cli("ls", "-a")
    assert fake.calls("GET", "/projects")[-1].query == {"all": "1"}
    assert format_ls([], "table", False) == "NAME   STATUS   CONFIG FILES\n"


def test_version_formats(cli):
    assert cli("version").stdout == "shoal version v0.1.0\n"
    assert cli("version", "--short").stdout == "0.1.0\n"
    assert json.loads(cli("version", "--format", "json").stdout) == {"version": "v0.1.0"}


def test_top_lists_each_container_with_its_processes(cli):
    out = cli("top", "web").stdout.split("\n\n")
    assert [block.splitlines()[0] for block in out] == ["demo-web-1", "demo-web-2"]
    assert out[0].splitlines()[1].split() == ["UID", "PID", "CMD"]
    assert out[0].splitlines()[2].split() == ["root", "101", "httpd", "-f"]


def test_port_prints_host_binding_and_sends_protocol(cli, fake):
    r = cli("port", "--protocol", "udp", "--index", "2", "web", "80")
    assert r.stdout == "127.0.0.1:8088\n"
    assert fake.calls("GET", "/projects/demo/port")[-1].query == {
        "service": "web", "port": "80", "protocol": "udp", "index": "2"}
    cli("port", "web", "53/udp")
    assert fake.calls("GET", "/projects/demo/port")[-1].query["protocol"] == "udp"


def test_wait_returns_the_first_exit_code(cli, fake):
    assert cli("wait", "web", "--down-project").returncode == 3
    assert fake.calls("POST", "/projects/demo/wait")[-1].body == {"services": ["web"], "down_project": True}


def test_stats_no_stream_table(cli):
    lines = cli("stats", "--no-stream", "db").stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT",
                                             "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]
    assert "demo-db-1" in lines[1] and "1.50%" in lines[1] and "2MB / 64MB" in lines[1]
    assert "3.12%" in lines[1] and len(lines) == 2


def test_human_size_uses_decimal_units():
    assert [human_size(n) for n in (999, 1000, 1_500_000, 64 * 2**20)] == ["999B", "1kB", "1.5MB", "67.1MB"]
